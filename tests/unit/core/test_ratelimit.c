/* Token buckets (GCRA form): bursts, refill, Retry-After, bounded table. */

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tg_test.h"
#include "ratelimit.h"

#define SEC	1000000ULL

static int
take(struct tg_ratelimit *rl, const char *key, uint64_t now,
    unsigned int *retry)
{
	return (tg_ratelimit_take(rl, key, strlen(key), now, retry));
}

START_TEST(burst_then_refill)
{
	struct tg_ratelimit	rl;
	unsigned int		retry;
	uint64_t		now = 1000 * SEC;
	int			i;

	ck_assert_int_ge(sodium_init(), 0);
	ck_assert(tg_ratelimit_init(&rl, 64, 10, 60));

	/* A full bucket: 10 at once, the 11th refused. */
	for (i = 0; i < 10; i++)
		ck_assert(take(&rl, "1.2.3.4", now, &retry));
	ck_assert(!take(&rl, "1.2.3.4", now, &retry));
	ck_assert_uint_eq(retry, 6);		/* one token per 6 s */

	/* Refusals do not push recovery further out. */
	for (i = 0; i < 100; i++)
		ck_assert(!take(&rl, "1.2.3.4", now + 5 * SEC, &retry));
	ck_assert_uint_eq(retry, 1);
	ck_assert(take(&rl, "1.2.3.4", now + 6 * SEC, &retry));
	ck_assert(!take(&rl, "1.2.3.4", now + 6 * SEC, &retry));

	/* Another key has its own bucket. */
	ck_assert(take(&rl, "5.6.7.8", now, &retry));

	/* After a whole period the bucket is full again. */
	now += 66 * SEC;
	for (i = 0; i < 10; i++)
		ck_assert(take(&rl, "1.2.3.4", now, &retry));
	ck_assert(!take(&rl, "1.2.3.4", now, &retry));

	tg_ratelimit_free(&rl);
}
END_TEST

/* Peeking: the verdict of a take, without taking (failure limits). */
START_TEST(peek_takes_nothing)
{
	struct tg_ratelimit	rl;
	unsigned int		retry;
	uint64_t		now = 1000 * SEC;
	int			i;

	ck_assert_int_ge(sodium_init(), 0);
	ck_assert(tg_ratelimit_init(&rl, 64, 3, 60));

	/* An unknown key passes and is not added. */
	for (i = 0; i < 100; i++)
		ck_assert(tg_ratelimit_peek(&rl, "9.9.9.9", 7, now, &retry));
	ck_assert_uint_eq(retry, 0);
	for (i = 0; i < (int)(rl.nsets * TG_RATELIMIT_WAYS); i++)
		ck_assert(rl.slots[i].hash == 0);

	/* Three failures taken: the fourth attempt is refused on peek. */
	for (i = 0; i < 3; i++) {
		ck_assert(tg_ratelimit_peek(&rl, "9.9.9.9", 7, now, &retry));
		ck_assert(take(&rl, "9.9.9.9", now, &retry));
	}
	ck_assert(!tg_ratelimit_peek(&rl, "9.9.9.9", 7, now, &retry));
	ck_assert_uint_eq(retry, 20);
	ck_assert(!tg_ratelimit_peek(&rl, "9.9.9.9", 7, now + 19 * SEC,
	    &retry));
	ck_assert_uint_eq(retry, 1);
	/* One interval later, one more attempt. */
	ck_assert(tg_ratelimit_peek(&rl, "9.9.9.9", 7, now + 20 * SEC,
	    &retry));
	ck_assert(take(&rl, "9.9.9.9", now + 20 * SEC, &retry));
	ck_assert(!tg_ratelimit_peek(&rl, "9.9.9.9", 7, now + 20 * SEC,
	    &retry));
	/* Others are not affected. */
	ck_assert(tg_ratelimit_peek(&rl, "8.8.8.8", 7, now, &retry));
	tg_ratelimit_free(&rl);

	/* Off: everything passes. */
	ck_assert(tg_ratelimit_init(&rl, 64, 0, 60));
	ck_assert(tg_ratelimit_peek(&rl, "9.9.9.9", 7, now, &retry));
}
END_TEST

START_TEST(steady_rate)
{
	struct tg_ratelimit	rl;
	unsigned int		retry;
	uint64_t		now = 5 * SEC;
	int			i, allowed;

	ck_assert(tg_ratelimit_init(&rl, 64, 60, 60));
	/* One request every 100 ms for 10 minutes: 60 + 600 pass. */
	allowed = 0;
	for (i = 0; i < 6000; i++) {
		allowed += take(&rl, "user", now, &retry);
		now += SEC / 10;
	}
	ck_assert_int_ge(allowed, 659);
	ck_assert_int_le(allowed, 661);
	tg_ratelimit_free(&rl);
}
END_TEST

START_TEST(off_and_bad_arguments)
{
	struct tg_ratelimit	rl;
	unsigned int		retry;
	int			i;

	ck_assert(tg_ratelimit_init(&rl, 64, 0, 60));
	for (i = 0; i < 1000; i++)
		ck_assert(take(&rl, "x", 0, &retry));
	tg_ratelimit_free(&rl);

	ck_assert(!tg_ratelimit_init(&rl, 64, 5, 0));
	ck_assert(!tg_ratelimit_init(&rl, 2, 5, 60));
}
END_TEST

START_TEST(table_is_bounded_and_keeps_busy_keys)
{
	struct tg_ratelimit	rl;
	unsigned int		retry;
	uint64_t		now = 10 * SEC;
	char			key[32];
	int			i;

	/* 10 a minute, 64 slots; the victim uses up its bucket. */
	ck_assert(tg_ratelimit_init(&rl, 64, 10, 60));
	for (i = 0; i < 10; i++)
		ck_assert(take(&rl, "victim", now, &retry));
	ck_assert(!take(&rl, "victim", now, &retry));

	/*
	 * A spray of one-off keys (10,000 > 64 slots) never displaces a
	 * limited key: when a set is busy the fullest bucket goes first.
	 */
	for (i = 0; i < 10000; i++) {
		(void)snprintf(key, sizeof(key), "k%d", i);
		ck_assert(take(&rl, key, now + SEC, &retry));
	}
	ck_assert(!take(&rl, "victim", now + SEC, &retry));
	ck_assert_uint_eq(retry, 5);
	tg_ratelimit_free(&rl);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite	*s = suite_create("ratelimit");
	TCase	*tc = tcase_create("ratelimit");

	tcase_add_test(tc, burst_then_refill);
	tcase_add_test(tc, steady_rate);
	tcase_add_test(tc, peek_takes_nothing);
	tcase_add_test(tc, off_and_bad_arguments);
	tcase_add_test(tc, table_is_bounded_and_keeps_busy_keys);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(ratelimit_suite)
