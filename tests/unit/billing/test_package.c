/* Billing input validation: package bodies, ids, refund requests. */

#include <string.h>

#include "tg_test.h"
#include "billing/package.h"
#include "lex.h"

#define ID	"0b9f3c2e-8d1a-4c5b-9e7f-123456789abc"

static int
parse(const char *json, struct billing_package_in *in)
{
	json_t	*doc;
	int	 r;

	doc = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_ptr_nonnull(doc);
	r = billing_package_parse(doc, ID, in);
	json_decref(doc);
	return (r);
}

START_TEST(uuid)
{
	ck_assert_int_eq(tg_uuid_valid(ID), 1);
	ck_assert_int_eq(tg_uuid_valid("0B9F3C2E-8D1A-4C5B-9E7F-"
	    "123456789ABC"), 1);
	ck_assert_int_eq(tg_uuid_valid(NULL), 0);
	ck_assert_int_eq(tg_uuid_valid(""), 0);
	ck_assert_int_eq(tg_uuid_valid(ID "0"), 0);
	ck_assert_int_eq(tg_uuid_valid("0b9f3c2e-8d1a-4c5b-9e7f-"
	    "123456789abg"), 0);
	ck_assert_int_eq(tg_uuid_valid("0b9f3c2e08d1a-4c5b-9e7f-"
	    "123456789abc"), 0);
	ck_assert_int_eq(tg_uuid_valid("' OR 1=1 --"), 0);
}
END_TEST

START_TEST(valid_package)
{
	struct billing_package_in	in;

	ck_assert_int_eq(parse("{\"name\":\"Große Packung 10\","
	    "\"price_minor\":1000,\"currency\":\"EUR\","
	    "\"credits_micros\":10000000}", &in), 1);
	ck_assert_str_eq(in.name, "Große Packung 10");
	ck_assert_int_eq(in.price_minor, 1000);
	ck_assert_str_eq(in.currency, "eur");
	ck_assert_int_eq(in.credits_micros, 10000000);
	ck_assert_int_eq(in.active, 1);

	/* What GET shows may be sent back as it is. */
	ck_assert_int_eq(parse("{\"id\":\"" ID "\",\"name\":\"x\","
	    "\"price_minor\":99999999,\"currency\":\"usd\",\"credits_micros\":"
	    "1000000000000000,\"active\":false,\"created_at\":\"2026-01-01T00:"
	    "00:00Z\",\"updated_at\":null}", &in), 1);
	ck_assert_int_eq(in.active, 0);
}
END_TEST

START_TEST(invalid_package)
{
	static const struct {
		const char	*json;
		const char	*code;
		const char	*param;
	} cases[] = {
		{ "{\"price_minor\":1,\"currency\":\"usd\",\"credits_micros\":1}",
		    "missing_field", "name" },
		{ "{\"name\":\"x\",\"currency\":\"usd\",\"credits_micros\":1}",
		    "missing_field", "price_minor" },
		{ "{\"name\":\"x\",\"price_minor\":1,\"credits_micros\":1}",
		    "missing_field", "currency" },
		{ "{\"name\":\"x\",\"price_minor\":1,\"currency\":\"usd\"}",
		    "missing_field", "credits_micros" },
		{ "{\"name\":\"\",\"price_minor\":1,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "name" },
		{ "{\"name\":\"a\\nb\",\"price_minor\":1,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "name" },
		{ "{\"name\":7,\"price_minor\":1,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "name" },
		{ "{\"name\":\"x\",\"price_minor\":0,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "price_minor" },
		{ "{\"name\":\"x\",\"price_minor\":-5,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "price_minor" },
		{ "{\"name\":\"x\",\"price_minor\":1.5,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "price_minor" },
		{ "{\"name\":\"x\",\"price_minor\":1e3,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "price_minor" },
		{ "{\"name\":\"x\",\"price_minor\":\"100\",\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "price_minor" },
		{ "{\"name\":\"x\",\"price_minor\":100000000,\"currency\":"
		    "\"usd\",\"credits_micros\":1}", "invalid_value",
		    "price_minor" },
		{ "{\"name\":\"x\",\"price_minor\":1,\"currency\":\"usd\","
		    "\"credits_micros\":9223372036854775807}", "invalid_value",
		    "credits_micros" },
		{ "{\"name\":\"x\",\"price_minor\":1,\"currency\":\"usdx\","
		    "\"credits_micros\":1}", "invalid_value", "currency" },
		{ "{\"name\":\"x\",\"price_minor\":1,\"currency\":\"u$d\","
		    "\"credits_micros\":1}", "invalid_value", "currency" },
		{ "{\"name\":\"x\",\"price_minor\":1,\"currency\":\"usd\","
		    "\"credits_micros\":1,\"active\":1}", "invalid_value",
		    "active" },
		{ "{\"name\":\"x\",\"price_minor\":1,\"currency\":\"usd\","
		    "\"credits_micros\":1,\"credit_micros\":5}", "invalid_value",
		    "credit_micros" },
		{ "{\"id\":\"0b9f3c2e-8d1a-4c5b-9e7f-000000000000\",\"name\":"
		    "\"x\",\"price_minor\":1,\"currency\":\"usd\","
		    "\"credits_micros\":1}", "invalid_value", "id" },
	};
	struct billing_package_in	in;
	size_t				i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(parse(cases[i].json, &in) == 0, "accepted %s",
		    cases[i].json);
		ck_assert_str_eq(in.code, cases[i].code);
		ck_assert_str_eq(in.param, cases[i].param);
		ck_assert_ptr_nonnull(strstr(in.message, cases[i].param));
	}
}
END_TEST

START_TEST(name_length_in_characters)
{
	struct billing_package_in	in;
	char				json[1024];
	int				i, off;

	/* 100 three-byte characters are fine, 101 are not. */
	off = snprintf(json, sizeof(json), "{\"name\":\"");
	for (i = 0; i < 100; i++)
		off += snprintf(json + off, sizeof(json) - off, "한");
	(void)snprintf(json + off, sizeof(json) - off, "\",\"price_minor\":1,"
	    "\"currency\":\"krw\",\"credits_micros\":1}");
	ck_assert_int_eq(parse(json, &in), 1);

	off = snprintf(json, sizeof(json), "{\"name\":\"");
	for (i = 0; i < 101; i++)
		off += snprintf(json + off, sizeof(json) - off, "a");
	(void)snprintf(json + off, sizeof(json) - off, "\",\"price_minor\":1,"
	    "\"currency\":\"krw\",\"credits_micros\":1}");
	ck_assert_int_eq(parse(json, &in), 0);
	ck_assert_str_eq(in.param, "name");
}
END_TEST

static int
refund_body(const char *json, struct billing_refund_in *in)
{
	json_t	*doc;
	int	 ok;

	doc = json != NULL ? json_loads(json, 0, NULL) : NULL;
	ck_assert(json == NULL || doc != NULL);
	ok = billing_refund_parse(doc, in);
	json_decref(doc);
	return (ok);
}

START_TEST(refund_request)
{
	static const char *const	bad[] = { "{\"amount_minor\":0}",
					    "{\"amount_minor\":-1}",
					    "{\"amount_minor\":\"5\"}",
					    "{\"amount_minor\":1.5}",
					    "{\"amount_minor\":true}",
					    "{\"amount_minor\":100000000}", NULL };
	struct billing_refund_in	in;
	char				key[300];
	int				i;

	/* All that is left: no body, {}, null. */
	ck_assert_int_eq(refund_body(NULL, &in), 1);
	ck_assert_int_eq(in.amount_minor, -1);
	ck_assert_int_eq(refund_body("{}", &in), 1);
	ck_assert_int_eq(in.amount_minor, -1);
	ck_assert_int_eq(refund_body("{\"amount_minor\":null}", &in), 1);
	ck_assert_int_eq(in.amount_minor, -1);
	ck_assert_int_eq(refund_body("{\"amount_minor\":1}", &in), 1);
	ck_assert_int_eq(in.amount_minor, 1);
	ck_assert_int_eq(refund_body("{\"amount_minor\":99999999}", &in), 1);
	ck_assert_int_eq(in.amount_minor, 99999999);

	for (i = 0; bad[i] != NULL; i++) {
		ck_assert_int_eq(refund_body(bad[i], &in), 0);
		ck_assert_str_eq(in.param, "amount_minor");
	}
	ck_assert_int_eq(refund_body("{\"amount\":5}", &in), 0);
	ck_assert_str_eq(in.param, "amount");

	ck_assert_int_eq(billing_refund_key_valid("click-1"), 1);
	ck_assert_int_eq(billing_refund_key_valid(""), 0);
	ck_assert_int_eq(billing_refund_key_valid("a b"), 0);
	ck_assert_int_eq(billing_refund_key_valid("a\x7f"), 0);
	ck_assert_int_eq(billing_refund_key_valid("\xc3\xa9"), 0);
	memset(key, 'k', sizeof(key));
	key[255] = '\0';
	ck_assert_int_eq(billing_refund_key_valid(key), 1);
	key[255] = 'k';
	key[256] = '\0';
	ck_assert_int_eq(billing_refund_key_valid(key), 0);
}
END_TEST

static Suite *
package_suite(void)
{
	Suite	*s = suite_create("package");
	TCase	*tc = tcase_create("package");

	tcase_add_test(tc, uuid);
	tcase_add_test(tc, valid_package);
	tcase_add_test(tc, invalid_package);
	tcase_add_test(tc, name_length_in_characters);
	tcase_add_test(tc, refund_request);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(package_suite)
