/* Balance leases: what is free, what fits, what to ask the database for. */

#include <stdint.h>
#include <string.h>

#include "tg_test.h"
#include "credits/lease_plan.h"

static struct credits_lease_state
state(int64_t parked, int64_t inflight, int64_t queued, int64_t batch)
{
	struct credits_lease_state	s;

	memset(&s, 0, sizeof(s));
	s.parked = parked;
	s.inflight = inflight;
	s.queued = queued;
	s.batch = batch;
	s.biggest = 10;
	return (s);
}

START_TEST(free_is_what_nothing_uses)
{
	struct credits_lease_state	s = state(1000, 300, 200, 100);

	ck_assert_int_eq(credits_lease_free(&s), 400);
	ck_assert(credits_lease_fits(&s, 400));
	ck_assert(!credits_lease_fits(&s, 401));
	/* Never negative, even when a shrink left parked below the use. */
	s = state(100, 300, 0, 0);
	ck_assert_int_eq(credits_lease_free(&s), 0);
	ck_assert(!credits_lease_fits(&s, 1));
	/* A call of 0 fits anywhere open, nothing fits a retiring lease. */
	ck_assert(credits_lease_fits(&s, 0));
	s.retiring = 1;
	ck_assert(!credits_lease_fits(&s, 0));
	/* Saturates instead of wrapping. */
	s = state(INT64_MAX, INT64_MAX, INT64_MAX, 0);
	ck_assert_int_eq(credits_lease_free(&s), 0);
}
END_TEST

START_TEST(want_always_covers_what_runs_and_waits)
{
	struct credits_lease_state	s;

	/* Retiring or idle: exactly what is committed, the rest goes back. */
	s = state(1000, 300, 200, 100);
	s.retiring = 1;
	ck_assert_int_eq(credits_lease_want(&s, 0), 500);
	s = state(1000, 0, 0, 100);
	s.idle_ms = CREDITS_LEASE_IDLE_MS;
	ck_assert_int_eq(credits_lease_want(&s, 0), 0);
	/* ... unless a call waits for room. */
	ck_assert(credits_lease_want(&s, 50) >= 50);

	/* Plenty free: unchanged (after the batch's charges come out). */
	s = state(10000, 100, 0, 500);
	ck_assert_int_eq(credits_lease_want(&s, 0), 9500);

	/* Low: topped up to its target, 32 of its biggest calls. */
	s = state(400, 300, 50, 40);
	ck_assert_int_eq(credits_lease_want(&s, 0),
	    350 + CREDITS_LEASE_CALLS * 10);
	ck_assert(credits_lease_grow_wanted(&s));

	/* A waiting call bigger than any before sizes the target. */
	s = state(0, 0, 0, 0);
	ck_assert_int_eq(credits_lease_want(&s, 1000),
	    CREDITS_LEASE_CALLS * 1000);
}
END_TEST

START_TEST(want_follows_the_spend_rate)
{
	struct credits_lease_state	s = state(0, 0, 0, 0);

	/* 1000 micros in 100 ms: 2 s of that is 20000. */
	s.spend = 1000;
	s.window_ms = 100;
	ck_assert_int_eq(credits_lease_want(&s, 0),
	    1000 * CREDITS_LEASE_HORIZON_MS / 100);
	/* Free calls still ask for a lease (of 32 micros). */
	s = state(0, 0, 0, 0);
	s.biggest = 0;
	ck_assert_int_eq(credits_lease_want(&s, 0), CREDITS_LEASE_CALLS);
	/* Huge amounts saturate. */
	s = state(0, 0, 0, 0);
	s.biggest = INT64_MAX / 2;
	ck_assert_int_eq(credits_lease_want(&s, 0), INT64_MAX);
}
END_TEST

static Suite *
lease_plan_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("credits_lease_plan");
	tc = tcase_create("plan");
	tcase_add_test(tc, free_is_what_nothing_uses);
	tcase_add_test(tc, want_always_covers_what_runs_and_waits);
	tcase_add_test(tc, want_follows_the_spend_rate);
	suite_add_tcase(s, tc);

	return (s);
}

TG_TEST_MAIN(lease_plan_suite)
