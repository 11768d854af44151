/*
 * Per-target circuit breaker decisions (see cooldown.h for the states).
 * Pure: the caller owns the state, the clock and the metrics.
 */

#include <stddef.h>
#include <stdint.h>

#include "router/cooldown.h"

/*
 * May a call use the target now? On SKIP, *wait_ms (when not NULL) says
 * how long until the target may be probed again (at least 1).
 */
int
router_cooldown_admit(struct router_cooldown *c, uint64_t now,
    long cooldown_ms, uint64_t *wait_ms)
{
	if (!c->cooling)
		return (ROUTER_COOL_GO);

	if (now < c->until) {
		if (wait_ms != NULL)
			*wait_ms = c->until - now;
		return (ROUTER_COOL_SKIP);
	}

	/* Half-open: this call alone, until it reports. */
	c->until = now + (uint64_t)cooldown_ms;
	return (ROUTER_COOL_PROBE);
}

/*
 * Whether admit would skip the target now, without admitting it (so
 * without taking a half-open target's probe): a weighted pick asks.
 */
int
router_cooldown_skips(const struct router_cooldown *c, uint64_t now)
{
	return (c->cooling && now < c->until);
}

/* An attempt failed; returns whether that (re)opened the breaker. */
int
router_cooldown_failure(struct router_cooldown *c, uint64_t now, int after,
    long cooldown_ms)
{
	if (after <= 0)
		return (ROUTER_COOL_COUNTED);

	if (c->failures < after)
		c->failures++;
	if (c->failures < after)
		return (ROUTER_COOL_COUNTED);

	c->until = now + (uint64_t)cooldown_ms;
	if (c->cooling)
		return (ROUTER_COOL_REOPENED);
	c->cooling = 1;
	return (ROUTER_COOL_OPENED);
}

/* The target answered; returns 1 when that ended its cooldown. */
int
router_cooldown_success(struct router_cooldown *c)
{
	int	was;

	was = c->cooling;
	c->failures = 0;
	c->cooling = 0;
	c->until = 0;
	return (was);
}

/*
 * Whether an attempt's upstream status (0: no answer at all, e.g. a
 * connect error or our own timeout) is a failure of the target rather
 * than an answer: the statuses the router falls back on.
 */
int
router_cooldown_failure_status(long status)
{
	return (status == 0 || status == 408 || status == 429 ||
	    status >= 500);
}
