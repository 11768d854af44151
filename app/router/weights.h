/*
 * The tiers of an alias and the attempt order of one call through them.
 *
 * An alias is a list of tiers tried in order; a tier is one target, or
 * several with weights. A call takes each tier's targets in turn: for a
 * weighted tier, first the one smooth weighted round-robin picks (the
 * algorithm of nginx's upstream round-robin), then the tier's other
 * eligible targets in the order the round-robin would pick them next,
 * then its ineligible ones in the configured order (the relay skips or
 * fails those as it always does), before the next tier.
 *
 * Smooth weighted round-robin: each eligible target's current weight
 * grows by its weight, the largest (the first on a tie) is picked and
 * loses the sum of the eligible weights. Over a run of calls with the
 * same eligible targets each is picked in proportion to its weight,
 * interleaved (3:1 picks a a b a, not a a a b), and a current weight
 * stays within minus and plus that sum. A target that is not eligible
 * (cooling down, no key, not of the call's kind) neither gains nor
 * loses: the others share its calls until it is back.
 *
 * Pure: the caller owns the current weights (one per target, per
 * worker) and says which targets are eligible now.
 */

#ifndef ROUTER_WEIGHTS_H
#define ROUTER_WEIGHTS_H

#include <stdint.h>

#define ROUTER_WEIGHTS_MAX	8	/* targets of an alias, all tiers */
#define ROUTER_WEIGHT_MAX	10000	/* one target's weight */

struct router_tiers {
	int	ntiers;
	int	end[ROUTER_WEIGHTS_MAX];	/* tier t: [end[t-1], end[t]) */
	int	weight[ROUTER_WEIGHTS_MAX];	/* 1..ROUTER_WEIGHT_MAX */
};

int	router_swrr_pick(int, const int *, int64_t *, const int *);
int	router_tiers_order(const struct router_tiers *, int64_t *,
	    const int *, int *);

#endif
