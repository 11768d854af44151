/*
 * The per-target circuit breaker: closed until `after` consecutive
 * failures, skipped for cooldown_ms, then one probe whose verdict closes
 * or reopens it; a success anywhere resets the count.
 */

#include <stdint.h>
#include <string.h>

#include "tg_test.h"
#include "router/cooldown.h"

START_TEST(opens_after_consecutive_failures)
{
	struct router_cooldown	c;
	uint64_t		wait;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(router_cooldown_admit(&c, 1000, 30000, &wait),
	    ROUTER_COOL_GO);
	ck_assert_int_eq(router_cooldown_failure(&c, 1000, 3, 30000),
	    ROUTER_COOL_COUNTED);
	ck_assert_int_eq(router_cooldown_failure(&c, 1001, 3, 30000),
	    ROUTER_COOL_COUNTED);
	ck_assert_int_eq(router_cooldown_admit(&c, 1002, 30000, &wait),
	    ROUTER_COOL_GO);
	ck_assert_int_eq(router_cooldown_failure(&c, 1002, 3, 30000),
	    ROUTER_COOL_OPENED);

	wait = 0;
	ck_assert_int_eq(router_cooldown_admit(&c, 1003, 30000, &wait),
	    ROUTER_COOL_SKIP);
	ck_assert_uint_eq(wait, 29999);
	ck_assert_int_eq(router_cooldown_admit(&c, 31001, 30000, &wait),
	    ROUTER_COOL_SKIP);
	ck_assert_uint_eq(wait, 1);
}
END_TEST

START_TEST(success_resets_the_count)
{
	struct router_cooldown	c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(router_cooldown_failure(&c, 0, 2, 100),
	    ROUTER_COOL_COUNTED);
	ck_assert_int_eq(router_cooldown_success(&c), 0);
	ck_assert_int_eq(router_cooldown_failure(&c, 0, 2, 100),
	    ROUTER_COOL_COUNTED);
	ck_assert_int_eq(router_cooldown_admit(&c, 0, 100, NULL),
	    ROUTER_COOL_GO);
}
END_TEST

START_TEST(one_probe_after_the_cooldown)
{
	struct router_cooldown	c;
	uint64_t		wait;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(router_cooldown_failure(&c, 0, 1, 100),
	    ROUTER_COOL_OPENED);
	ck_assert_int_eq(router_cooldown_admit(&c, 99, 100, &wait),
	    ROUTER_COOL_SKIP);

	/* At the end of the cooldown one call probes; others still skip. */
	ck_assert_int_eq(router_cooldown_admit(&c, 100, 100, &wait),
	    ROUTER_COOL_PROBE);
	ck_assert_int_eq(router_cooldown_admit(&c, 150, 100, &wait),
	    ROUTER_COOL_SKIP);
	ck_assert_uint_eq(wait, 50);

	/* The probe failed: cooling again for a whole cooldown. */
	ck_assert_int_eq(router_cooldown_failure(&c, 160, 1, 100),
	    ROUTER_COOL_REOPENED);
	ck_assert_int_eq(router_cooldown_admit(&c, 259, 100, &wait),
	    ROUTER_COOL_SKIP);
	ck_assert_int_eq(router_cooldown_admit(&c, 260, 100, &wait),
	    ROUTER_COOL_PROBE);

	/* The probe answered: closed, every call goes. */
	ck_assert_int_eq(router_cooldown_success(&c), 1);
	ck_assert_int_eq(router_cooldown_admit(&c, 261, 100, &wait),
	    ROUTER_COOL_GO);
	ck_assert_int_eq(router_cooldown_admit(&c, 262, 100, &wait),
	    ROUTER_COOL_GO);
}
END_TEST

START_TEST(a_silent_probe_frees_the_target_later)
{
	struct router_cooldown	c;

	memset(&c, 0, sizeof(c));
	(void)router_cooldown_failure(&c, 0, 1, 100);
	ck_assert_int_eq(router_cooldown_admit(&c, 100, 100, NULL),
	    ROUTER_COOL_PROBE);
	/* That probe's client left: no verdict. Another probe later. */
	ck_assert_int_eq(router_cooldown_admit(&c, 199, 100, NULL),
	    ROUTER_COOL_SKIP);
	ck_assert_int_eq(router_cooldown_admit(&c, 200, 100, NULL),
	    ROUTER_COOL_PROBE);
}
END_TEST

START_TEST(after_zero_never_cools)
{
	struct router_cooldown	c;
	int			i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(router_cooldown_failure(&c, 0, 0, 100),
		    ROUTER_COOL_COUNTED);
	ck_assert_int_eq(router_cooldown_admit(&c, 0, 100, NULL),
	    ROUTER_COOL_GO);
}
END_TEST

START_TEST(skips_asks_without_taking_the_probe)
{
	struct router_cooldown	c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(router_cooldown_skips(&c, 1000), 0);
	(void)router_cooldown_failure(&c, 1000, 1, 500);
	ck_assert_int_eq(router_cooldown_skips(&c, 1499), 1);
	ck_assert_int_eq(router_cooldown_skips(&c, 1500), 0);
	ck_assert_int_eq(router_cooldown_skips(&c, 1500), 0);
	/* The probe is still there for the relay to take. */
	ck_assert_int_eq(router_cooldown_admit(&c, 1500, 500, NULL),
	    ROUTER_COOL_PROBE);
	ck_assert_int_eq(router_cooldown_skips(&c, 1501), 1);
}
END_TEST

START_TEST(what_counts_as_a_failure)
{
	ck_assert(router_cooldown_failure_status(0));
	ck_assert(router_cooldown_failure_status(408));
	ck_assert(router_cooldown_failure_status(429));
	ck_assert(router_cooldown_failure_status(500));
	ck_assert(router_cooldown_failure_status(503));
	ck_assert(router_cooldown_failure_status(504));
	ck_assert(!router_cooldown_failure_status(200));
	ck_assert(!router_cooldown_failure_status(400));
	ck_assert(!router_cooldown_failure_status(401));
	ck_assert(!router_cooldown_failure_status(404));
	ck_assert(!router_cooldown_failure_status(422));
}
END_TEST

static Suite *
cooldown_suite(void)
{
	Suite	*s = suite_create("cooldown");
	TCase	*tc = tcase_create("cooldown");

	tcase_add_test(tc, opens_after_consecutive_failures);
	tcase_add_test(tc, success_resets_the_count);
	tcase_add_test(tc, one_probe_after_the_cooldown);
	tcase_add_test(tc, a_silent_probe_frees_the_target_later);
	tcase_add_test(tc, after_zero_never_cools);
	tcase_add_test(tc, what_counts_as_a_failure);
	tcase_add_test(tc, skips_asks_without_taking_the_probe);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(cooldown_suite)
