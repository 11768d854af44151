/* The graceful drain's decisions (app/core/drain_plan.c). */

#include "tg_test.h"
#include "drain_plan.h"

START_TEST(first_signal_starts_the_wait)
{
	struct tg_drain	d = { 0 };

	ck_assert_int_eq(tg_drain_step(&d, 1000, 1), TG_DRAIN_NOTHING);
	ck_assert_int_eq(tg_drain_signal(&d, 1000, 30000), TG_DRAIN_SIG_START);
	ck_assert_int_eq(d.phase, TG_DRAIN_WAITING);
	ck_assert_uint_eq(d.deadline, 31000);
	/* Calls run: nothing to do until the deadline. */
	ck_assert_int_eq(tg_drain_step(&d, 1100, 1), TG_DRAIN_NOTHING);
	ck_assert_int_eq(tg_drain_step(&d, 30999, 1), TG_DRAIN_NOTHING);
	ck_assert_int_eq(d.phase, TG_DRAIN_WAITING);
}
END_TEST

START_TEST(idle_worker_exits_at_once)
{
	struct tg_drain	d = { 0 };

	(void)tg_drain_signal(&d, 1000, 30000);
	ck_assert_int_eq(tg_drain_step(&d, 1000, 0), TG_DRAIN_EXIT);
	ck_assert_int_eq(d.phase, TG_DRAIN_EXITING);
	/* Exiting is final: nothing more is asked. */
	ck_assert_int_eq(tg_drain_step(&d, 99000, 1), TG_DRAIN_NOTHING);
	ck_assert_int_eq(tg_drain_signal(&d, 99000, 30000), TG_DRAIN_SIG_SAME);
	ck_assert_int_eq(d.phase, TG_DRAIN_EXITING);
}
END_TEST

START_TEST(calls_that_finish_in_time_exit_before_the_deadline)
{
	struct tg_drain	d = { 0 };

	(void)tg_drain_signal(&d, 1000, 30000);
	ck_assert_int_eq(tg_drain_step(&d, 5000, 1), TG_DRAIN_NOTHING);
	ck_assert_int_eq(tg_drain_step(&d, 7000, 0), TG_DRAIN_EXIT);
}
END_TEST

START_TEST(deadline_ends_calls_then_exits_when_idle)
{
	struct tg_drain	d = { 0 };

	(void)tg_drain_signal(&d, 1000, 2000);
	ck_assert_int_eq(tg_drain_step(&d, 3000, 1), TG_DRAIN_END_CALLS);
	ck_assert_int_eq(d.phase, TG_DRAIN_ENDING);
	/* Asked once; then the ends and settlements are waited for. */
	ck_assert_int_eq(tg_drain_step(&d, 3100, 1), TG_DRAIN_NOTHING);
	ck_assert_int_eq(tg_drain_step(&d, 3200, 0), TG_DRAIN_EXIT);
}
END_TEST

START_TEST(ending_is_bounded)
{
	struct tg_drain	d = { 0 };

	(void)tg_drain_signal(&d, 1000, 2000);
	ck_assert_int_eq(tg_drain_step(&d, 3500, 1), TG_DRAIN_END_CALLS);
	ck_assert_int_eq(tg_drain_step(&d, 3500 + TG_DRAIN_END_MS - 1, 1),
	    TG_DRAIN_NOTHING);
	ck_assert_int_eq(tg_drain_step(&d, 3500 + TG_DRAIN_END_MS, 1),
	    TG_DRAIN_EXIT);
}
END_TEST

START_TEST(zero_seconds_ends_calls_at_once)
{
	struct tg_drain	d = { 0 };

	(void)tg_drain_signal(&d, 1000, 0);
	ck_assert_int_eq(tg_drain_step(&d, 1000, 1), TG_DRAIN_END_CALLS);
}
END_TEST

START_TEST(a_repeat_is_the_same_stop)
{
	struct tg_drain	d = { 0 };

	(void)tg_drain_signal(&d, 1000, 30000);
	ck_assert_int_eq(tg_drain_signal(&d, 1000 + TG_DRAIN_DUP_MS - 1,
	    30000), TG_DRAIN_SIG_SAME);
	ck_assert_uint_eq(d.deadline, 31000);
	ck_assert_uint_eq(d.started, 1000);
	ck_assert_int_eq(tg_drain_step(&d, 2500, 1), TG_DRAIN_NOTHING);
}
END_TEST

START_TEST(a_later_signal_cuts_the_wait_short)
{
	struct tg_drain	d = { 0 };

	(void)tg_drain_signal(&d, 1000, 30000);
	ck_assert_int_eq(tg_drain_signal(&d, 1000 + TG_DRAIN_DUP_MS, 30000),
	    TG_DRAIN_SIG_CUT);
	ck_assert_uint_eq(d.deadline, 1000 + TG_DRAIN_DUP_MS);
	ck_assert_int_eq(tg_drain_step(&d, 1000 + TG_DRAIN_DUP_MS, 1),
	    TG_DRAIN_END_CALLS);
	/* Once ending, a further signal changes nothing. */
	ck_assert_int_eq(tg_drain_signal(&d, 9000, 30000), TG_DRAIN_SIG_SAME);
	ck_assert_int_eq(d.phase, TG_DRAIN_ENDING);
	ck_assert_uint_eq(d.ending, 1000 + TG_DRAIN_DUP_MS);
}
END_TEST

START_TEST(a_call_at_the_deadline)
{
	/* Answering (settling, replying): it ends on its own. */
	ck_assert_int_eq(tg_drain_call_end(1, 0), TG_DRAIN_CALL_FINISH);
	ck_assert_int_eq(tg_drain_call_end(1, 1), TG_DRAIN_CALL_FINISH);
	/* A stream that sent bytes: its surface's error event. */
	ck_assert_int_eq(tg_drain_call_end(0, 1), TG_DRAIN_CALL_EVENT);
	/* Nothing sent yet (a whole answer, a stream before content). */
	ck_assert_int_eq(tg_drain_call_end(0, 0), TG_DRAIN_CALL_503);
}
END_TEST

static Suite *
drain_suite(void)
{
	Suite	*s = suite_create("drain");
	TCase	*tc = tcase_create("drain");

	tcase_add_test(tc, first_signal_starts_the_wait);
	tcase_add_test(tc, idle_worker_exits_at_once);
	tcase_add_test(tc, calls_that_finish_in_time_exit_before_the_deadline);
	tcase_add_test(tc, deadline_ends_calls_then_exits_when_idle);
	tcase_add_test(tc, ending_is_bounded);
	tcase_add_test(tc, zero_seconds_ends_calls_at_once);
	tcase_add_test(tc, a_repeat_is_the_same_stop);
	tcase_add_test(tc, a_later_signal_cuts_the_wait_short);
	tcase_add_test(tc, a_call_at_the_deadline);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(drain_suite)
