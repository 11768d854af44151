/*
 * Weighted tiers (see weights.h): the smooth weighted round-robin pick
 * and the attempt order of one call. Pure.
 */

#include <stdint.h>
#include <string.h>

#include "router/weights.h"

static int	tier_order(const struct router_tiers *, int, int, int64_t *,
		    const int *, int *);

/*
 * Picks among the n targets whose eligible[i] is set, updating current;
 * returns the index picked, or -1 when none is eligible (nothing moves).
 */
int
router_swrr_pick(int n, const int *weight, int64_t *current,
    const int *eligible)
{
	int64_t	total;
	int	i, best;

	total = 0;
	best = -1;
	for (i = 0; i < n; i++) {
		if (!eligible[i])
			continue;
		current[i] += weight[i];
		total += weight[i];
		if (best == -1 || current[i] > current[best])
			best = i;
	}
	if (best != -1)
		current[best] -= total;

	return (best);
}

/*
 * Fills order with the indices of every target, tier by tier, in the
 * order this call tries them; returns how many (all of them). A tier of
 * several targets makes its round-robin pick, which moves current.
 */
int
router_tiers_order(const struct router_tiers *tiers, int64_t *current,
    const int *eligible, int *order)
{
	int	t, start, n;

	n = 0;
	start = 0;
	for (t = 0; t < tiers->ntiers; t++) {
		n += tier_order(tiers, start, tiers->end[t], current, eligible,
		    order + n);
		start = tiers->end[t];
	}

	return (n);
}

/*
 * Targets [start, end) into out: the pick, then the other eligible ones
 * as the round-robin would go on without those already placed (on a
 * copy: only the pick moves current), then the ineligible ones.
 */
static int
tier_order(const struct router_tiers *tiers, int start, int end,
    int64_t *current, const int *eligible, int *out)
{
	int64_t	shadow[ROUTER_WEIGHTS_MAX];
	int	left[ROUTER_WEIGHTS_MAX];
	int	i, k, n, len;

	len = end - start;
	if (len == 1) {
		out[0] = start;
		return (1);
	}

	n = 0;
	memcpy(left, eligible + start, len * sizeof(left[0]));
	if ((k = router_swrr_pick(len, tiers->weight + start, current + start,
	    left)) >= 0) {
		out[n++] = start + k;
		left[k] = 0;
		memcpy(shadow, current + start, len * sizeof(shadow[0]));
		while ((k = router_swrr_pick(len, tiers->weight + start, shadow,
		    left)) >= 0) {
			out[n++] = start + k;
			left[k] = 0;
		}
	}

	for (i = start; i < end; i++) {
		if (!eligible[i])
			out[n++] = i;
	}

	return (n);
}
