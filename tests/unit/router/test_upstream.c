/*
 * OpenAI usage objects (upstream.h): what counts as a reported usage
 * (issue 12 item 1: empty, negative or non-integer usage is missing, so
 * the meter estimates), and the chat usage clients see for cache writes.
 */

#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "router/upstream.h"
#include "router/xlate.h"

static int
parse(const char *s, struct router_usage *u)
{
	json_t		*o;
	json_error_t	 e;
	int		 r;

	o = json_loads(s, 0, &e);
	ck_assert_ptr_nonnull(o);
	memset(u, 0x55, sizeof(*u));
	r = router_usage_parse(o, u);
	json_decref(o);
	return (r);
}

START_TEST(usage_garbage_is_missing)
{
	static const char	*bad[] = { "{}", "{\"prompt_tokens\":null}",
	    "{\"prompt_tokens\":-3,\"completion_tokens\":5}",
	    "{\"prompt_tokens\":\"12\",\"completion_tokens\":5}",
	    "{\"prompt_tokens\":12,\"completion_tokens\":5.0}",
	    "{\"prompt_tokens\":12,\"completion_tokens\":5,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":-1}}",
	    "{\"prompt_tokens\":12,\"completion_tokens\":5,"
	    "\"completion_tokens_details\":{\"reasoning_tokens\":\"x\"}}",
	    "{\"prompt_tokens\":12,\"completion_tokens\":5,"
	    "\"prompt_tokens_details\":7}",
	    "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":5}",
	    "{\"prompt_tokens\":12,\"completion_tokens\":1000000000001}" };
	struct router_usage	 u;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &u) == 0, "%s parsed", bad[i]);
		ck_assert_int_eq(u.reported, 0);
		ck_assert_int_eq(u.prompt_tokens, 0);
		ck_assert_int_eq(u.completion_tokens, 0);
	}
}
END_TEST

START_TEST(usage_cache_writes)
{
	struct router_usage	 u;
	json_t			*o;

	ck_assert(parse("{\"prompt_tokens\":2572,\"completion_tokens\":89,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":2000,"
	    "\"cache_write_tokens\":100},\"completion_tokens_details\":null}",
	    &u));
	ck_assert_int_eq(u.reported, 1);
	ck_assert_int_eq(u.cached_tokens, 2000);
	ck_assert_int_eq(u.cache_creation_tokens, 100);
	o = router_usage_json(&u);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o,
	    "prompt_tokens_details"), "cache_write_tokens")), 100);
	ck_assert_ptr_null(json_object_get(json_object_get(o,
	    "prompt_tokens_details"), "cache_creation_tokens"));
	json_decref(o);

	/* a zero count is a report; an absent one stays 0 */
	ck_assert(parse("{\"prompt_tokens\":0,\"completion_tokens\":0}", &u));
	ck_assert_int_eq(u.reported, 1);
	ck_assert(parse("{\"completion_tokens\":4}", &u));
	ck_assert_int_eq(u.completion_tokens, 4);
	ck_assert_int_eq(u.prompt_tokens, 0);
}
END_TEST

/* Families that cache on their own get no cache markers. */
START_TEST(drop_cache_control)
{
	json_t		*req, *body;
	json_error_t	 e;
	char		*s;

	req = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}}]},{\"role\":\"user\",\"content\":\"b\"}],"
	    "\"tools\":[{\"type\":\"function\",\"cache_control\":{},"
	    "\"function\":{\"name\":\"f\",\"cache_control\":{}}}]}", 0, &e);
	ck_assert_ptr_nonnull(req);

	/* An upstream body sharing the request's arrays, as openai.c builds. */
	body = json_object();
	json_object_set(body, "messages", json_object_get(req, "messages"));
	json_object_set(body, "tools", json_object_get(req, "tools"));
	ck_assert_int_eq(router_xlate_drop_cache_control(body), 1);
	s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_ptr_null(strstr(s, "cache_control"));
	ck_assert_ptr_nonnull(strstr(s, "\"text\":\"a\""));
	free(s);

	/* The request keeps its markers for the chain's next target. */
	s = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_ptr_nonnull(strstr(s, "\"cache_control\":{\"type\""));
	free(s);
	json_decref(body);
	json_decref(req);
}
END_TEST

static Suite *
upstream_suite(void)
{
	Suite	*s = suite_create("upstream");
	TCase	*tc = tcase_create("usage");

	tcase_add_test(tc, usage_garbage_is_missing);
	tcase_add_test(tc, usage_cache_writes);
	tcase_add_test(tc, drop_cache_control);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(upstream_suite)
