/*
 * Weighted tiers: the smooth weighted round-robin pick (nginx's
 * sequences), ineligible targets passed over without moving, and the
 * attempt order of a call through tiers.
 */

#include <stdint.h>
#include <string.h>

#include "tg_test.h"
#include "router/weights.h"

/* n picks as letters ("aaba"), from zeroed current weights. */
static void
picks(int n, const int *weight, const int *eligible, int count, char *out)
{
	int64_t	current[ROUTER_WEIGHTS_MAX];
	int	i, k;

	memset(current, 0, sizeof(current));
	for (i = 0; i < count; i++) {
		k = router_swrr_pick(n, weight, current, eligible);
		out[i] = k < 0 ? '-' : 'a' + k;
	}
	out[count] = '\0';
}

START_TEST(smooth_sequences)
{
	static const int	w31[] = { 3, 1 }, w511[] = { 5, 1, 1 };
	static const int	w11[] = { 1, 1 }, all[] = { 1, 1, 1 };
	char			s[32];

	picks(2, w31, all, 8, s);
	ck_assert_str_eq(s, "aabaaaba");
	picks(3, w511, all, 7, s);
	ck_assert_str_eq(s, "aabacaa");
	picks(2, w11, all, 4, s);
	ck_assert_str_eq(s, "abab");
}
END_TEST

START_TEST(shares_are_exact_per_cycle)
{
	static const int	w[] = { 3, 1 }, all[] = { 1, 1 };
	int64_t			current[2] = { 0, 0 };
	int			i, count[2] = { 0, 0 };

	for (i = 0; i < 400; i++)
		count[router_swrr_pick(2, w, current, all)]++;
	ck_assert_int_eq(count[0], 300);
	ck_assert_int_eq(count[1], 100);
	ck_assert_int_eq(current[0], 0);
	ck_assert_int_eq(current[1], 0);
}
END_TEST

START_TEST(ineligible_targets_do_not_move)
{
	static const int	w[] = { 3, 1 };
	int64_t			current[2] = { 0, 0 };
	int			eligible[2] = { 0, 1 };
	int			i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(router_swrr_pick(2, w, current, eligible), 1);
	ck_assert_int_eq(current[0], 0);
	ck_assert_int_eq(current[1], 0);

	/* Back: the cycle resumes as if never left. */
	eligible[0] = 1;
	ck_assert_int_eq(router_swrr_pick(2, w, current, eligible), 0);

	eligible[0] = eligible[1] = 0;
	current[0] = 7;
	ck_assert_int_eq(router_swrr_pick(2, w, current, eligible), -1);
	ck_assert_int_eq(current[0], 7);
}
END_TEST

/* tier 0: a(3) b(1); tier 1: c. */
static const struct router_tiers two_tiers = {
	2, { 2, 3 }, { 3, 1, 1 }
};

static void
order_str(const struct router_tiers *t, int64_t *current,
    const int *eligible, char *out)
{
	int	order[ROUTER_WEIGHTS_MAX];
	int	i, n;

	n = router_tiers_order(t, current, eligible, order);
	for (i = 0; i < n; i++)
		out[i] = 'a' + order[i];
	out[n] = '\0';
}

START_TEST(a_call_takes_the_pick_then_its_tier_then_the_next)
{
	static const int	all[] = { 1, 1, 1 };
	int64_t			current[3] = { 0, 0, 0 };
	char			s[8];

	order_str(&two_tiers, current, all, s);
	ck_assert_str_eq(s, "abc");
	order_str(&two_tiers, current, all, s);
	ck_assert_str_eq(s, "abc");
	order_str(&two_tiers, current, all, s);
	ck_assert_str_eq(s, "bac");
	order_str(&two_tiers, current, all, s);
	ck_assert_str_eq(s, "abc");
	/* Only the pick moved the state: a whole cycle is back at zero. */
	ck_assert_int_eq(current[0], 0);
	ck_assert_int_eq(current[1], 0);
	ck_assert_int_eq(current[2], 0);
}
END_TEST

START_TEST(ineligible_targets_go_last_in_their_tier)
{
	static const int	no_a[] = { 0, 1, 1 }, none[] = { 0, 0, 0 };
	int64_t			current[3] = { 0, 0, 0 };
	char			s[8];
	int			i;

	for (i = 0; i < 4; i++) {
		order_str(&two_tiers, current, no_a, s);
		ck_assert_str_eq(s, "bac");
	}
	/* A lone target keeps its place whatever its state. */
	order_str(&two_tiers, current, none, s);
	ck_assert_str_eq(s, "abc");
}
END_TEST

START_TEST(the_rest_of_a_tier_follows_the_round_robin)
{
	/* a(5) b(1) c(1), one tier: after a, the next of b and c. */
	static const struct router_tiers one = { 1, { 3 }, { 5, 1, 1 } };
	static const int	all[] = { 1, 1, 1 };
	int64_t			current[3] = { 0, 0, 0 };
	char			s[8];

	order_str(&one, current, all, s);	/* a: -2 1 1 */
	ck_assert_str_eq(s, "abc");
	order_str(&one, current, all, s);	/* a: -4 2 2 */
	ck_assert_str_eq(s, "abc");
	order_str(&one, current, all, s);	/* b: 1 -4 3 */
	ck_assert_str_eq(s, "bac");
	order_str(&one, current, all, s);	/* a: -1 -3 4 */
	ck_assert_str_eq(s, "acb");
	order_str(&one, current, all, s);	/* c: 4 -2 -2 */
	ck_assert_str_eq(s, "cab");
}
END_TEST

static Suite *
weights_suite(void)
{
	Suite	*s = suite_create("weights");
	TCase	*tc = tcase_create("weights");

	tcase_add_test(tc, smooth_sequences);
	tcase_add_test(tc, shares_are_exact_per_cycle);
	tcase_add_test(tc, ineligible_targets_do_not_move);
	tcase_add_test(tc, a_call_takes_the_pick_then_its_tier_then_the_next);
	tcase_add_test(tc, ineligible_targets_go_last_in_their_tier);
	tcase_add_test(tc, the_rest_of_a_tier_follows_the_round_robin);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(weights_suite)
