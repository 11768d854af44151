/*
 * Stored /v1/responses, the pure part: response ids, the prior context
 * built from the store's answer (garbage refused, never read as an
 * empty conversation), the conversation kept and the items indexed.
 */

#include <string.h>

#include "tg_test.h"
#include "router/respitems.h"

#define HEX48	"0123456789abcdef0123456789abcdef0123456789abcdef"

static json_t *
j(const char *text)
{
	json_t	*v;

	v = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(v);
	return (v);
}

static void
same(json_t *got, const char *want)
{
	json_t	*w = j(want);

	ck_assert_ptr_nonnull(got);
	ck_assert_msg(json_equal(got, w), "got %s", json_dumps(got, 0));
	json_decref(w);
	json_decref(got);
}

START_TEST(ids)
{
	ck_assert(router_respitems_id_ok("resp_" HEX48));
	ck_assert(!router_respitems_id_ok(NULL));
	ck_assert(!router_respitems_id_ok(""));
	ck_assert(!router_respitems_id_ok("resp_"));
	ck_assert(!router_respitems_id_ok("resp_" HEX48 "0"));
	ck_assert(!router_respitems_id_ok("resp_" HEX48 "/"));
	ck_assert(!router_respitems_id_ok("resp_0123456789ABCDEF"
	    "0123456789abcdef0123456789abcdef"));
	ck_assert(!router_respitems_id_ok("msg_" HEX48 "0"));
	ck_assert(!router_respitems_id_ok("resp_'; DROP TABLE x; --"));
}
END_TEST

START_TEST(prior_from_the_store)
{
	char	err[128];

	/* No previous response asked for, no items found. */
	same(router_respitems_prior(NULL, NULL, err, sizeof(err)),
	    "{\"previous\":[],\"items\":{}}");
	same(router_respitems_prior(NULL, "", err, sizeof(err)),
	    "{\"previous\":[],\"items\":{}}");
	same(router_respitems_prior("[{\"role\":\"user\",\"content\":\"a\"}]",
	    "{\"msg_1\":{\"type\":\"message\",\"id\":\"msg_1\"}}", err,
	    sizeof(err)), "{\"previous\":[{\"role\":\"user\",\"content\":"
	    "\"a\"}],\"items\":{\"msg_1\":{\"type\":\"message\",\"id\":"
	    "\"msg_1\"}}}");

	/* A garbled row is an error, not an empty conversation. */
	ck_assert_ptr_null(router_respitems_prior("{}", NULL, err,
	    sizeof(err)));
	ck_assert(strstr(err, "conversation") != NULL);
	ck_assert_ptr_null(router_respitems_prior("[1]", NULL, err,
	    sizeof(err)));
	ck_assert_ptr_null(router_respitems_prior("not json", NULL, err,
	    sizeof(err)));
	ck_assert_ptr_null(router_respitems_prior(NULL, "[]", err,
	    sizeof(err)));
	ck_assert(strstr(err, "items") != NULL);
	ck_assert_ptr_null(router_respitems_prior(NULL, "{\"a\":\"b\"}", err,
	    sizeof(err)));
}
END_TEST

START_TEST(conversation)
{
	json_t	*prior, *input;

	prior = j("{\"previous\":[{\"role\":\"user\",\"content\":\"1\"},"
	    "{\"type\":\"message\",\"id\":\"msg_a\"}],\"items\":{}}");
	input = j("[{\"type\":\"function_call_output\",\"call_id\":\"c\"}]");
	same(router_respitems_conversation(prior, input),
	    "[{\"role\":\"user\",\"content\":\"1\"},{\"type\":\"message\","
	    "\"id\":\"msg_a\"},{\"type\":\"function_call_output\","
	    "\"call_id\":\"c\"}]");
	same(router_respitems_conversation(NULL, input),
	    "[{\"type\":\"function_call_output\",\"call_id\":\"c\"}]");
	ck_assert_ptr_null(router_respitems_conversation(prior, prior));
	json_decref(prior);
	json_decref(input);
}
END_TEST

START_TEST(indexed)
{
	json_t	*input, *resp;

	input = j("[{\"role\":\"user\",\"content\":\"x\"},"
	    "{\"type\":\"item_reference\",\"id\":\"msg_old\"},"
	    "{\"type\":\"function_call\",\"id\":\"fc_in\",\"call_id\":\"c\"},"
	    "{\"type\":\"message\",\"id\":\"\"},"
	    "{\"type\":\"message\",\"id\":7},"
	    "{\"type\":\"message\",\"id\":\"" HEX48 HEX48 "\"}]");
	resp = j("{\"id\":\"resp_" HEX48 "\",\"output\":["
	    "{\"type\":\"message\",\"id\":\"msg_new\"},"
	    "{\"type\":\"function_call\",\"id\":\"fc_new\"}]}");
	same(router_respitems_index(input, resp),
	    "[{\"type\":\"message\",\"id\":\"msg_new\"},"
	    "{\"type\":\"function_call\",\"id\":\"fc_new\"},"
	    "{\"type\":\"function_call\",\"id\":\"fc_in\",\"call_id\":\"c\"}]");
	/* Nothing to index. */
	same(router_respitems_index(NULL, NULL), "[]");
	json_decref(input);
	json_decref(resp);
}
END_TEST

START_TEST(deleted)
{
	same(router_respitems_deleted("resp_" HEX48), "{\"id\":\"resp_" HEX48
	    "\",\"object\":\"response\",\"deleted\":true}");
}
END_TEST

static Suite *
respitems_suite(void)
{
	Suite	*s = suite_create("respitems");
	TCase	*tc = tcase_create("respitems");

	tcase_add_test(tc, ids);
	tcase_add_test(tc, prior_from_the_store);
	tcase_add_test(tc, conversation);
	tcase_add_test(tc, indexed);
	tcase_add_test(tc, deleted);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(respitems_suite)
