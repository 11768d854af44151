/* Credit arithmetic: the cost formula, holds, clamping and estimates. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "credits/cost.h"

static int64_t
cost_of(int64_t in, int64_t cin, int64_t out, int64_t fee, int64_t p,
    int64_t c, int64_t o)
{
	struct credits_price	pr = { in, cin, out, fee, in };
	struct credits_tokens	t = { p, c, o, 0 };
	int64_t			v;

	ck_assert_int_eq(credits_cost(&pr, &t, &v), CREDITS_OK);
	return (v);
}

START_TEST(rounds_up_once_per_call)
{
	/* 0.4 micro per token in each class: 1.2 micros -> 2, not 3. */
	ck_assert_int_eq(cost_of(400000, 400000, 400000, 0, 2, 1, 1), 2);
	/* Exactly one micro stays one. */
	ck_assert_int_eq(cost_of(1000000, 0, 0, 0, 1, 0, 0), 1);
	/* The smallest charge rounds up to a whole micro. */
	ck_assert_int_eq(cost_of(1, 1, 1, 0, 1, 0, 0), 1);
	ck_assert_int_eq(cost_of(1, 1, 1, 0, 1000000, 0, 0), 1);
	ck_assert_int_eq(cost_of(1, 1, 1, 0, 1000001, 0, 0), 2);
	/* Cached tokens at their own rate, within the prompt. */
	ck_assert_int_eq(cost_of(3000000, 1000000, 7000000, 0, 10, 4, 2),
	    18 + 4 + 14);
	/* The fee is added after rounding. */
	ck_assert_int_eq(cost_of(1, 1, 1, 25, 1, 0, 0), 26);
	/* gpt-4o-mini list price: 150000 / 75000 / 600000 per Mtok. */
	ck_assert_int_eq(cost_of(150000, 75000, 600000, 0, 1234, 1000, 567),
	    (234 * 150000 + 1000 * 75000 + 567 * 600000 + 999999) / 1000000);
}
END_TEST

START_TEST(zero_prices_and_zero_tokens)
{
	ck_assert_int_eq(cost_of(0, 0, 0, 0, 1000000000, 5, 1000000000), 0);
	ck_assert_int_eq(cost_of(0, 0, 0, 7, 1000000000, 5, 1000000000), 7);
	ck_assert_int_eq(cost_of(5000000, 5000000, 5000000, 0, 0, 0, 0), 0);
	ck_assert_int_eq(cost_of(5000000, 5000000, 5000000, 3, 0, 0, 0), 3);
}
END_TEST

START_TEST(huge_counts_never_wrap)
{
	struct credits_price	p = { 1, 1, 1, 0, 1 };
	struct credits_tokens	t = { INT64_MAX, 0, 0, 0 };
	int64_t			v;

	/* ceil((2^63 - 1) / 1e6), exactly. */
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_OK);
	ck_assert_int_eq(v, 9223372036855LL);

	/* The documented maxima: 1e12 tokens at 1e12 per Mtok. */
	p.input = p.cached_input = p.output = CREDITS_PRICE_MAX;
	p.fee = CREDITS_PRICE_MAX;
	t.prompt = t.completion = CREDITS_TOKENS_MAX;
	t.cached = CREDITS_TOKENS_MAX / 2;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_OK);
	ck_assert_int_eq(v, 2000000000000000000LL + CREDITS_PRICE_MAX);

	/* Beyond an int64: reported, never wrapped or truncated. */
	p.input = p.cached_input = p.output = p.fee = INT64_MAX;
	t.prompt = t.completion = INT64_MAX;
	t.cached = INT64_MAX / 2;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EOVERFLOW);
	t.prompt = 0;
	t.cached = 0;
	t.completion = 10000000;	/* 1e7 * (2^63 - 1) / 1e6 > 2^63 */
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EOVERFLOW);
	t.completion = 1000000;
	p.fee = 0;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_OK);
	ck_assert_int_eq(v, INT64_MAX);
	p.fee = 1;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EOVERFLOW);
}
END_TEST

START_TEST(bad_usage_is_refused)
{
	struct credits_price	p = { 1, 1, 1, 0, 1 };
	struct credits_tokens	t = { 5, 6, 0, 0 };
	int64_t			v;

	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EINVAL);
	t.cached = -1;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EINVAL);
	t.cached = 0;
	t.completion = -1;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EINVAL);
	t.completion = 0;
	p.output = -1;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EINVAL);
}
END_TEST

START_TEST(price_validity)
{
	struct credits_price	p = { 10, 5, 20, 0, 10 };

	ck_assert(credits_price_valid(&p));
	p.cached_input = 11;
	ck_assert(!credits_price_valid(&p));
	p.cached_input = 5;
	p.fee = CREDITS_PRICE_MAX + 1;
	ck_assert(!credits_price_valid(&p));
	p.fee = -1;
	ck_assert(!credits_price_valid(&p));
}
END_TEST

START_TEST(hold_is_the_worst_case)
{
	struct credits_price	p = { 1000000, 500000, 2000000, 10, 1000000 };
	int64_t			v;

	ck_assert_int_eq(credits_hold(&p, 100, 200, 1, &v), CREDITS_OK);
	ck_assert_int_eq(v, 100 + 400 + 10);
	ck_assert_int_eq(credits_hold(&p, 100, 50, 3, &v), CREDITS_OK);
	ck_assert_int_eq(v, 100 + 300 + 10);
	/* Never below the cost of any usage within its bounds. */
	ck_assert_int_ge(v, cost_of(1000000, 500000, 2000000, 10, 100, 0,
	    150));
	ck_assert_int_eq(credits_hold(&p, INT64_MAX, INT64_MAX, 128, &v),
	    CREDITS_EOVERFLOW);
	ck_assert_int_eq(credits_hold(&p, -1, 1, 1, &v), CREDITS_EINVAL);
	ck_assert_int_eq(credits_hold(&p, 1, 1, 0, &v), CREDITS_EINVAL);
}
END_TEST

/* affordable(A) is the largest m with hold(m) <= A. */
START_TEST(affordable_is_exact)
{
	struct credits_price	p;
	int64_t			a, bound, m, h;
	int			i, n;

	srandom(12345);
	for (i = 0; i < 20000; i++) {
		p.input = random() % 5000000;
		p.output = 1 + random() % 5000000;
		p.cached_input = 0;
		p.cache_write_input = random() % 2 ? 0 : random() % 6000000;
		p.fee = random() % 50;
		bound = random() % 3000;
		n = 1 + random() % 4;
		a = random() % 100000;
		m = credits_affordable(&p, bound, n, a);
		if (m < 0) {
			ck_assert_int_eq(credits_hold(&p, bound, 0, n, &h),
			    CREDITS_OK);
			ck_assert_int_gt(h, a);
			continue;
		}
		ck_assert_int_eq(credits_hold(&p, bound, m, n, &h), CREDITS_OK);
		ck_assert_int_le(h, a);
		ck_assert_int_eq(credits_hold(&p, bound, m + 1, n, &h),
		    CREDITS_OK);
		ck_assert_int_gt(h, a);
	}

	/* Free output: unbounded once the prompt is paid. */
	p.input = 1000000;
	p.output = 0;
	p.fee = 0;
	ck_assert_int_eq(credits_affordable(&p, 10, 1, 10), INT64_MAX);
	ck_assert_int_eq(credits_affordable(&p, 10, 1, 9), -1);
	ck_assert_int_eq(credits_affordable(&p, 10, 1, INT64_MIN), -1);
}
END_TEST

/* The numbers of the SQL tests (test_credits_sql.py): same rule. */
START_TEST(plan_matches_the_sql_reserve)
{
	struct credits_price	p = { 1000000, 1000000, 2000000, 10, 1000000 };
	struct credits_plan	pl;

	credits_plan(&p, 100, 200, 4096, 1, 1, 1000, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_OK);
	ck_assert_int_eq(pl.max_tokens, 200);
	ck_assert_int_eq(pl.amount, 510);

	credits_plan(&p, 100, -1, 4096, 1, 1, 300, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_OK);
	ck_assert_int_eq(pl.max_tokens, 95);
	ck_assert_int_eq(pl.amount, 300);

	credits_plan(&p, 100, 50, 4096, 1, 1, 111, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_INSUFFICIENT);
	ck_assert_int_eq(pl.max_tokens, 0);

	credits_plan(&p, 200, 50, 4096, 1, 1, 111, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_INSUFFICIENT);
	ck_assert_int_eq(pl.max_tokens, -1);

	credits_plan(&p, 10, 1000000000000LL, 4096, 1, 1, 1000000000, &pl);
	ck_assert_int_eq(pl.max_tokens, 4096);
	credits_plan(&p, 10, -1, 777, 1, 1, 1000000000, &pl);
	ck_assert_int_eq(pl.max_tokens, 777);
	credits_plan(&p, 10, 5, -1, 1, 1, 1000000000, &pl);
	ck_assert_int_eq(pl.max_tokens, 5);
	credits_plan(&p, 10, -1, -1, 1, 1, 1000000000, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_INSUFFICIENT);

	credits_plan(&p, 100, 50, -1, 1, 3, 400, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_OK);
	ck_assert_int_eq(pl.max_tokens, 48);
	ck_assert_int_eq(pl.amount, 398);

	/* Free: allowed with nothing available (even below zero). */
	memset(&p, 0, sizeof(p));
	credits_plan(&p, 1000000, 1000000, -1, 1, 1, -5, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_OK);
	ck_assert_int_eq(pl.amount, 0);

	/* Embeddings: no output at all. */
	p.input = 1000;
	credits_plan(&p, 1000, 0, 0, 0, 1, 1, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_OK);
	ck_assert_int_eq(pl.amount, 1);
	credits_plan(&p, 1000, 0, 0, 0, 1, 0, &pl);
	ck_assert_int_eq(pl.result, CREDITS_PLAN_INSUFFICIENT);
}
END_TEST

static struct credits_observed
observed(void)
{
	struct credits_observed	o;

	memset(&o, 0, sizeof(o));
	o.prompt_bound = 500;
	o.max_tokens = 10000;
	o.choices = 1;
	return (o);
}

START_TEST(estimate_is_conservative_and_bounded)
{
	struct credits_observed	o = observed();
	struct credits_tokens	t;

	/* A complete answer without usage: the prompt bound still counts. */
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_ESTIMATE);
	ck_assert_int_eq(t.prompt, 500);
	ck_assert_int_eq(t.completion, 0);

	/* Output counted by its bytes, at least one token, at most max. */
	o.streamed_bytes = 1;
	credits_settle_usage(&o, &t);
	ck_assert_int_eq(t.completion, 1);
	o.streamed_bytes = 42;
	credits_settle_usage(&o, &t);
	ck_assert_int_eq(t.completion, 42);
	o.max_tokens = 100;
	o.streamed_bytes = 100000;
	credits_settle_usage(&o, &t);
	ck_assert_int_eq(t.completion, 100);
	o.choices = 2;
	credits_settle_usage(&o, &t);
	ck_assert_int_eq(t.completion, 200);
}
END_TEST

/* Usage reported before a stream ended is a lower bound. */
START_TEST(cut_stream_placeholder_usage_is_a_lower_bound)
{
	struct credits_observed	o = observed();
	struct credits_tokens	t;

	/* Anthropic's message_start: the prompt, and 1 output token. */
	o.reported = 1;
	o.prompt = 321;
	o.cached = 300;
	o.cache_write = 20;
	o.completion = 1;
	o.streamed_bytes = 4000;
	o.ended_early = 1;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_ESTIMATE);
	ck_assert_int_eq(t.prompt, 321);
	ck_assert_int_eq(t.cached, 300);
	ck_assert_int_eq(t.cache_write, 20);
	ck_assert_int_eq(t.completion, 4000);

	/* The same usage on a complete answer is the provider's word. */
	o.ended_early = 0;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_PROVIDER);
	ck_assert_int_eq(t.completion, 1);
}
END_TEST

START_TEST(cut_stream_with_the_prompt_reported_only)
{
	struct credits_observed	o = observed();
	struct credits_tokens	t;

	/* Gemini's interim chunk: promptTokenCount alone. */
	o.reported = 1;
	o.prompt = 77;
	o.streamed_bytes = 250;
	o.ended_early = 1;
	o.failed = 1;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_ESTIMATE);
	ck_assert_int_eq(t.prompt, 77);
	ck_assert_int_eq(t.completion, 250);
}
END_TEST

START_TEST(cut_stream_with_nothing_reported)
{
	struct credits_observed	o = observed();
	struct credits_tokens	t;

	o.streamed_bytes = 9;
	o.ended_early = 1;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_ESTIMATE);
	ck_assert_int_eq(t.prompt, 500);
	ck_assert_int_eq(t.cached, 0);
	ck_assert_int_eq(t.completion, 9);

	/* An upstream failure before any output costs nothing. */
	o.streamed_bytes = 0;
	o.failed = 1;
	o.reported = 1;
	o.prompt = 40;
	o.completion = 1;
	ck_assert_int_eq(credits_settle_usage(&o, &t), CREDITS_SETTLE_VOID);
	ck_assert_int_eq(t.prompt, 0);
	ck_assert_int_eq(t.completion, 0);
}
END_TEST

START_TEST(cut_stream_reported_above_the_estimate)
{
	struct credits_observed	o = observed();
	struct credits_tokens	t;

	/* Reasoning the client never saw: the provider's count stands. */
	o.reported = 1;
	o.prompt = 60;
	o.completion = 900;
	o.streamed_bytes = 30;
	o.ended_early = 1;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_PROVIDER);
	ck_assert_int_eq(t.prompt, 60);
	ck_assert_int_eq(t.completion, 900);
}
END_TEST

START_TEST(meaningless_usage_counts_as_missing)
{
	struct credits_observed	o = observed();
	struct credits_tokens	t;

	/* An empty usage object on an answer that produced text. */
	o.reported = 1;
	o.streamed_bytes = 12;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_ESTIMATE);
	ck_assert_int_eq(t.prompt, 500);
	ck_assert_int_eq(t.completion, 12);

	/* Negative counts. */
	o.prompt = 10;
	o.completion = -3;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_ESTIMATE);
	ck_assert_int_eq(t.completion, 12);

	/* Cache reads and writes beyond the prompt are cut to it. */
	o.completion = 5;
	o.cached = 8;
	o.cache_write = 8;
	ck_assert_int_eq(credits_settle_usage(&o, &t),
	    CREDITS_SETTLE_PROVIDER);
	ck_assert_int_eq(t.cached, 8);
	ck_assert_int_eq(t.cache_write, 2);
	o.prompt = INT64_MAX;
	credits_settle_usage(&o, &t);
	ck_assert_int_eq(t.prompt, CREDITS_TOKENS_MAX);
}
END_TEST

START_TEST(cache_writes_at_their_own_rate)
{
	struct credits_price	p = { 3000000, 300000, 15000000, 0, 3750000 };
	struct credits_tokens	t = { 1000, 200, 50, 600 };
	int64_t			v;

	/* 200 fresh, 200 read, 600 written, 50 out: Claude Sonnet rates. */
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_OK);
	ck_assert_int_eq(v, (200 * 3000000LL + 200 * 300000LL +
	    600 * 3750000LL + 50 * 15000000LL + 999999) / 1000000);
	t.cache_write = 801;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EINVAL);
	t.cache_write = -1;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_EINVAL);

	/* A write may cost more than input; the hold assumes all are. */
	ck_assert(credits_price_valid(&p));
	ck_assert_int_eq(credits_hold(&p, 1000, 100, 1, &v), CREDITS_OK);
	ck_assert_int_eq(v, 3750 + 1500);
	t.cache_write = 1000;
	t.cached = 0;
	t.completion = 100;
	ck_assert_int_eq(credits_cost(&p, &t, &v), CREDITS_OK);
	ck_assert_int_eq(v, 3750 + 1500);
	ck_assert_int_eq(credits_affordable(&p, 1000, 1, 5250), 100);
	ck_assert_int_eq(credits_affordable(&p, 1000, 1, 3749), -1);
	p.cache_write_input = CREDITS_PRICE_MAX + 1;
	ck_assert(!credits_price_valid(&p));
}
END_TEST

START_TEST(messages_say_what_is_affordable)
{
	struct credits_price	p = { 1000000, 1000000, 2000000, 10, 1000000 };
	char			buf[512], small[16];
	int64_t			key;

	ck_assert(credits_refusal_message(buf, sizeof(buf), "x:m", &p, 100,
	    1, 1, 111, NULL));
	ck_assert_ptr_nonnull(strstr(buf, "0.000112 credits"));
	ck_assert_ptr_nonnull(strstr(buf, "x:m"));
	ck_assert_ptr_nonnull(strstr(buf, "available balance is 0.000111"));
	ck_assert_ptr_nonnull(strstr(buf, "pays for 0 output tokens"));

	key = 50;
	ck_assert(credits_refusal_message(buf, sizeof(buf), "x:m", &p, 100,
	    1, 1, 1000, &key));
	ck_assert_ptr_nonnull(strstr(buf, "spend limit is 0.000050"));
	ck_assert_ptr_nonnull(strstr(buf, "alone may cost"));

	ck_assert(!credits_refusal_message(small, sizeof(small), "x:m", &p,
	    100, 1, 1, 111, NULL));

	ck_assert(credits_debt_message(buf, sizeof(buf), -4000));
	ck_assert_ptr_nonnull(strstr(buf, "owes 0.004000 credits"));
}
END_TEST

START_TEST(format_micros)
{
	char	buf[32];

	ck_assert(credits_format_micros(0, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "0.000000");
	ck_assert(credits_format_micros(-1, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "-0.000001");
	ck_assert(credits_format_micros(12345678, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "12.345678");
	ck_assert(credits_format_micros(INT64_MIN, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "-9223372036854.775808");
	ck_assert(!credits_format_micros(INT64_MAX, buf, 8));
}
END_TEST

static Suite *
cost_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("credits_cost");
	tc = tcase_create("cost");
	tcase_add_test(tc, rounds_up_once_per_call);
	tcase_add_test(tc, zero_prices_and_zero_tokens);
	tcase_add_test(tc, huge_counts_never_wrap);
	tcase_add_test(tc, bad_usage_is_refused);
	tcase_add_test(tc, price_validity);
	tcase_add_test(tc, hold_is_the_worst_case);
	tcase_add_test(tc, affordable_is_exact);
	tcase_add_test(tc, plan_matches_the_sql_reserve);
	tcase_add_test(tc, estimate_is_conservative_and_bounded);
	tcase_add_test(tc, cut_stream_placeholder_usage_is_a_lower_bound);
	tcase_add_test(tc, cut_stream_with_the_prompt_reported_only);
	tcase_add_test(tc, cut_stream_with_nothing_reported);
	tcase_add_test(tc, cut_stream_reported_above_the_estimate);
	tcase_add_test(tc, meaningless_usage_counts_as_missing);
	tcase_add_test(tc, cache_writes_at_their_own_rate);
	tcase_add_test(tc, messages_say_what_is_affordable);
	tcase_add_test(tc, format_micros);
	suite_add_tcase(s, tc);

	return (s);
}

TG_TEST_MAIN(cost_suite)
