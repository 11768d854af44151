/* Checks of client input: model ids, bodies, times, cursors, limits. */

#include <string.h>

#include "tg_test.h"
#include "credits/validate.h"
#include "lex.h"

static json_t *
doc(const char *s)
{
	json_t	*v;

	v = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(v);
	return (v);
}

START_TEST(model_ids)
{
	ck_assert(credits_model_id_valid("openai:gpt-4o-mini"));
	ck_assert(credits_model_id_valid("openrouter:openai/gpt-4o"));
	ck_assert(credits_model_id_valid("ollama:llama3.1:8b"));
	ck_assert(credits_model_id_valid("echo:echo-1"));
	ck_assert(!credits_model_id_valid("gpt-4o"));
	ck_assert(!credits_model_id_valid(":gpt"));
	ck_assert(!credits_model_id_valid("openai:"));
	ck_assert(!credits_model_id_valid("OpenAI:gpt"));
	ck_assert(!credits_model_id_valid("open ai:gpt"));
	ck_assert(!credits_model_id_valid("openai:gpt 4"));
	ck_assert(!credits_model_id_valid("openai:gpt\x01"));
	ck_assert(!credits_model_id_valid("openai:gpt\xc3\xa9"));
	ck_assert(!credits_model_id_valid("-x:y"));
}
END_TEST

START_TEST(uuids)
{
	ck_assert(tg_uuid_valid("0b6f3c1e-5a7d-4f2a-9c8e-0b1d3f5a7c9e"));
	ck_assert(!tg_uuid_valid("0b6f3c1e5a7d4f2a9c8e0b1d3f5a7c9e"));
	ck_assert(!tg_uuid_valid("0b6f3c1e-5a7d-4f2a-9c8e-0b1d3f5a7c9g"));
	ck_assert(!tg_uuid_valid("0b6f3c1e-5a7d-4f2a-9c8e-0b1d3f5a7c9e0"));
	ck_assert(!tg_uuid_valid("' OR 1=1 --"));
}
END_TEST

START_TEST(prices)
{
	struct credits_price	p;
	struct credits_invalid	why;
	json_t			*v;

	v = doc("{\"input_micros_per_mtok\":150000,"
	    "\"output_micros_per_mtok\":600000}");
	ck_assert(credits_price_parse(v, &p, &why));
	ck_assert_int_eq(p.input, 150000);
	ck_assert_int_eq(p.cached_input, 150000);	/* defaults to input */
	ck_assert_int_eq(p.cache_write_input, 150000);	/* so does this */
	ck_assert_int_eq(p.output, 600000);
	ck_assert_int_eq(p.fee, 0);
	json_decref(v);

	v = doc("{\"input_micros_per_mtok\":10,\"output_micros_per_mtok\":0,"
	    "\"cached_input_micros_per_mtok\":5,\"request_fee_micros\":7}");
	ck_assert(credits_price_parse(v, &p, &why));
	ck_assert_int_eq(p.cached_input, 5);
	ck_assert_int_eq(p.fee, 7);
	json_decref(v);

	/* A cache write may cost more than input (Anthropic: 1.25x). */
	v = doc("{\"input_micros_per_mtok\":3000000,"
	    "\"output_micros_per_mtok\":15000000,"
	    "\"cache_write_input_micros_per_mtok\":3750000}");
	ck_assert(credits_price_parse(v, &p, &why));
	ck_assert_int_eq(p.cache_write_input, 3750000);
	json_decref(v);

	v = doc("{\"output_micros_per_mtok\":1}");
	ck_assert(!credits_price_parse(v, &p, &why));
	ck_assert_str_eq(why.code, "missing_field");
	ck_assert_str_eq(why.param, "input_micros_per_mtok");
	json_decref(v);

	static const char *bad[] = {
		"{\"input_micros_per_mtok\":1.5,\"output_micros_per_mtok\":1}",
		"{\"input_micros_per_mtok\":1e3,\"output_micros_per_mtok\":1}",
		"{\"input_micros_per_mtok\":\"1\",\"output_micros_per_mtok\":1}",
		"{\"input_micros_per_mtok\":-1,\"output_micros_per_mtok\":1}",
		"{\"input_micros_per_mtok\":1000000000001,"
		    "\"output_micros_per_mtok\":1}",
		"{\"input_micros_per_mtok\":1,\"output_micros_per_mtok\":1,"
		    "\"cached_input_micros_per_mtok\":2}",
		"{\"input_micros_per_mtok\":1,\"output_micros_per_mtok\":1,"
		    "\"input_micros_per_token\":2}",
		"{\"input_micros_per_mtok\":1,\"output_micros_per_mtok\":null}",
		"{\"input_micros_per_mtok\":1,\"output_micros_per_mtok\":1,"
		    "\"cache_write_input_micros_per_mtok\":-1}",
		"{\"input_micros_per_mtok\":1,\"output_micros_per_mtok\":1,"
		    "\"cache_write_input_micros_per_mtok\":1.25}",
		"{\"input_micros_per_mtok\":1,\"output_micros_per_mtok\":1,"
		    "\"cache_write_input_micros_per_mtok\":1000000000001}",
		"[1]",
	};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = doc(bad[i]);
		ck_assert_msg(!credits_price_parse(v, &p, &why), "%s", bad[i]);
		ck_assert_ptr_nonnull(why.code);
		json_decref(v);
	}
}
END_TEST

START_TEST(grants)
{
	struct credits_grant_req	g;
	struct credits_invalid		why;
	json_t				*v;
	size_t				 i;

	v = doc("{\"amount_micros\":-5000,\"reason\":\"goodwill\","
	    "\"idempotency_key\":\"adj-2024-01\"}");
	ck_assert(credits_grant_parse(v, &g, &why));
	ck_assert_int_eq(g.amount, -5000);
	ck_assert_str_eq(g.reason, "goodwill");
	ck_assert_str_eq(g.idempotency_key, "adj-2024-01");
	json_decref(v);

	static const char *bad[] = {
		"{\"amount_micros\":0,\"reason\":\"r\",\"idempotency_key\":\"k\"}",
		"{\"amount_micros\":1.5,\"reason\":\"r\",\"idempotency_key\":\"k\"}",
		"{\"amount_micros\":1e3,\"reason\":\"r\",\"idempotency_key\":\"k\"}",
		"{\"amount_micros\":\"100\",\"reason\":\"r\","
		    "\"idempotency_key\":\"k\"}",
		"{\"amount_micros\":9223372036854775807,\"reason\":\"r\","
		    "\"idempotency_key\":\"k\"}",
		"{\"reason\":\"r\",\"idempotency_key\":\"k\"}",
		"{\"amount_micros\":5,\"idempotency_key\":\"k\"}",
		"{\"amount_micros\":5,\"reason\":\"\",\"idempotency_key\":\"k\"}",
		"{\"amount_micros\":5,\"reason\":\"r\"}",
		"{\"amount_micros\":5,\"reason\":\"r\",\"idempotency_key\":\"a b\"}",
		"{\"amount_micros\":5,\"reason\":\"r\",\"idempotency_key\":\"\"}",
		"{\"amount_micros\":5,\"reason\":\"r\",\"idempotency_key\":7}",
		"{\"amount_micros\":5,\"reason\":\"r\",\"idempotency_key\":\"k\","
		    "\"user_id\":\"x\"}",
		"{\"amount_micros\":5,\"reason\":\"a\\u0000b\","
		    "\"idempotency_key\":\"k\"}",
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
		ck_assert_ptr_nonnull(v);
		ck_assert_msg(!credits_grant_parse(v, &g, &why), "%s", bad[i]);
		json_decref(v);
	}
}
END_TEST

START_TEST(times)
{
	int64_t	t;

	ck_assert(credits_time_parse("1970-01-01", &t));
	ck_assert_int_eq(t, 0);
	ck_assert(credits_time_parse("2024-02-29", &t));
	ck_assert_int_eq(t, 1709164800LL * 1000000);
	ck_assert(credits_time_parse("2024-02-29T12:30:15Z", &t));
	ck_assert_int_eq(t, (1709164800LL + 45015) * 1000000);
	ck_assert(credits_time_parse("2024-02-29T12:30:15.5+09:00", &t));
	ck_assert_int_eq(t, (1709164800LL + 45015 - 32400) * 1000000 + 500000);
	ck_assert(credits_time_parse("2024-02-29t12:30:15.123456789-01:30", &t));
	ck_assert_int_eq(t, (1709164800LL + 45015 + 5400) * 1000000 + 123456);

	static const char *bad[] = {
		"", "2024", "2023-02-29", "2024-13-01", "2024-00-10",
		"2024-04-31", "24-01-01", "2024-01-01T25:00:00Z",
		"2024-01-01T10:00:00", "2024-01-01T10:00:00+0900",
		"2024-01-01T10:00Z", "2024-01-01T10:00:00.Z",
		"2024-01-01T10:00:00.1234567890Z", "2024-01-01Z",
		"2024-01-01T10:00:00Zjunk", "1969-12-31", "2024/01/01",
		"2024-01-01T10:00:60Z", "+2024-01-01",
	};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!credits_time_parse(bad[i], &t), "%s", bad[i]);
}
END_TEST

START_TEST(groups)
{
	/* What GET /api/usage allows: day, model, key; two at most. */
	const unsigned int	user_set = CREDITS_GROUPS_OWN;
	int			k[CREDITS_GROUPS_MAX];
	size_t			i;

	ck_assert_int_eq(credits_group_parse("day", user_set, 2, k), 1);
	ck_assert_int_eq(k[0], CREDITS_GROUP_DAY);
	ck_assert_int_eq(credits_group_parse("key", user_set, 2, k), 1);
	ck_assert_int_eq(k[0], CREDITS_GROUP_KEY);
	ck_assert_int_eq(credits_group_parse("day,model", user_set, 2, k), 2);
	ck_assert_int_eq(k[0], CREDITS_GROUP_DAY);
	ck_assert_int_eq(k[1], CREDITS_GROUP_MODEL);
	/* The order given is the order of the rows' sort. */
	ck_assert_int_eq(credits_group_parse("key,model", user_set, 2, k), 2);
	ck_assert_int_eq(k[0], CREDITS_GROUP_KEY);
	ck_assert_int_eq(k[1], CREDITS_GROUP_MODEL);
	ck_assert_int_eq(credits_group_parse("model,day", user_set, 2, k), 2);
	ck_assert_int_eq(k[0], CREDITS_GROUP_MODEL);
	ck_assert_int_eq(k[1], CREDITS_GROUP_DAY);

	static const char *bad[] = {
		"", ",", "day,", ",day", "day,,model", "day,day",
		"day, model", " day", "Day", "week", "days", "da",
		"day,model,key", "user", "day,user", "model;day",
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!credits_group_parse(bad[i], user_set, 2, k),
		    "%s", bad[i]);
	ck_assert(!credits_group_parse(NULL, user_set, 2, k));

	/* The admin's set adds user; one key at most there. */
	ck_assert_int_eq(credits_group_parse("user", CREDITS_GROUPS_ALL, 1,
	    k), 1);
	ck_assert_int_eq(k[0], CREDITS_GROUP_USER);
	ck_assert(!credits_group_parse("day,model", user_set, 1, k));

	ck_assert_str_eq(credits_group_name(CREDITS_GROUP_MODEL), "model");
	ck_assert_ptr_null(credits_group_name(4));
	ck_assert_ptr_null(credits_group_name(-1));
}
END_TEST

START_TEST(limits_and_cursors)
{
	struct credits_usage_cursor	c, d;
	char				buf[CREDITS_CURSOR_MAX];
	int64_t				id;
	int				n;

	ck_assert(tg_limit_parse("1", CREDITS_LIMIT_MAX, &n) && n == 1);
	ck_assert(tg_limit_parse("100", CREDITS_LIMIT_MAX, &n) && n == 100);
	ck_assert(!tg_limit_parse("0", CREDITS_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("101", CREDITS_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("-1", CREDITS_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("1e2", CREDITS_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("", CREDITS_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("0010", CREDITS_LIMIT_MAX, &n));

	ck_assert(credits_ledger_cursor_parse("12345", &id) && id == 12345);
	credits_ledger_cursor_format(987, buf, sizeof(buf));
	ck_assert(credits_ledger_cursor_parse(buf, &id) && id == 987);
	ck_assert(!credits_ledger_cursor_parse("0", &id));
	ck_assert(!credits_ledger_cursor_parse("-5", &id));
	ck_assert(!credits_ledger_cursor_parse("12a", &id));
	ck_assert(!credits_ledger_cursor_parse("9999999999999999999", &id));

	c.started_us = 1709164800123456LL;
	memcpy(c.id, "0b6f3c1e-5a7d-4f2a-9c8e-0b1d3f5a7c9e", 37);
	credits_usage_cursor_format(&c, buf, sizeof(buf));
	ck_assert(credits_usage_cursor_parse(buf, &d));
	ck_assert_int_eq(d.started_us, c.started_us);
	ck_assert_str_eq(d.id, c.id);
	ck_assert(!credits_usage_cursor_parse("123", &d));
	ck_assert(!credits_usage_cursor_parse("_0b6f3c1e-5a7d-4f2a-9c8e-"
	    "0b1d3f5a7c9e", &d));
	ck_assert(!credits_usage_cursor_parse("12_nope", &d));
	ck_assert(!credits_usage_cursor_parse("x1_0b6f3c1e-5a7d-4f2a-9c8e-"
	    "0b1d3f5a7c9e", &d));
}
END_TEST

static Suite *
validate_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("credits_validate");
	tc = tcase_create("validate");
	tcase_add_test(tc, model_ids);
	tcase_add_test(tc, uuids);
	tcase_add_test(tc, prices);
	tcase_add_test(tc, grants);
	tcase_add_test(tc, times);
	tcase_add_test(tc, groups);
	tcase_add_test(tc, limits_and_cursors);
	suite_add_tcase(s, tc);

	return (s);
}

TG_TEST_MAIN(validate_suite)
