/*
 * A balance lease's decisions (lease_plan.h). No Kore, no database.
 */

#include "credits/lease_plan.h"

static int64_t	plan_target(const struct credits_lease_state *, int64_t);
static int64_t	plan_add(int64_t, int64_t);

/* What new calls may still reserve on the lease. */
int64_t
credits_lease_free(const struct credits_lease_state *s)
{
	int64_t	used;

	used = plan_add(plan_add(s->inflight, s->queued), s->batch);
	if (s->parked <= used)
		return (0);
	return (s->parked - used);
}

/* A call reserving amount fits: the lease is not retiring, has room. */
int
credits_lease_fits(const struct credits_lease_state *s, int64_t amount)
{
	if (s->retiring || amount < 0)
		return (0);
	return (amount <= credits_lease_free(s));
}

/*
 * Whether the lease is low enough to ask for a top-up now: less than
 * half of its target is free.
 */
int
credits_lease_grow_wanted(const struct credits_lease_state *s)
{
	if (s->retiring || s->idle_ms >= CREDITS_LEASE_IDLE_MS)
		return (0);
	return (credits_lease_free(s) < plan_target(s, 0) / 2);
}

/*
 * What the lease should park once the next flush's charges are out of
 * it (the flush's answer), with need the reservation of a call waiting
 * for room (0: none). Never less than what running and queued calls
 * need; just that when the lease retires or sits idle (give the rest
 * back); topped up to the target when low; else unchanged.
 */
int64_t
credits_lease_want(const struct credits_lease_state *s, int64_t need)
{
	int64_t	committed, after, target;

	committed = plan_add(s->inflight, s->queued);
	if (s->retiring || s->giveback ||
	    (s->idle_ms >= CREDITS_LEASE_IDLE_MS && need == 0))
		return (committed);

	after = s->parked - s->batch;
	if (after < committed)
		after = committed;

	target = plan_target(s, need);
	if (after - committed < target / 2 || after - committed < need)
		return (plan_add(committed, target));
	return (after);
}

/* The free amount a lease aims at: calls' worth, or time's worth. */
static int64_t
plan_target(const struct credits_lease_state *s, int64_t need)
{
	int64_t	by_calls, by_time, biggest;

	biggest = s->biggest > need ? s->biggest : need;
	if (biggest < 1)
		biggest = 1;	/* free calls: a lease of 1 micro */
	if (biggest > INT64_MAX / CREDITS_LEASE_CALLS)
		by_calls = INT64_MAX;
	else
		by_calls = biggest * CREDITS_LEASE_CALLS;

	by_time = 0;
	if (s->window_ms > 0 && s->spend > 0) {
		if (s->spend > INT64_MAX / CREDITS_LEASE_HORIZON_MS)
			by_time = INT64_MAX;
		else
			by_time = s->spend * CREDITS_LEASE_HORIZON_MS /
			    s->window_ms;
	}

	return (by_calls > by_time ? by_calls : by_time);
}

/* a + b for amounts >= 0, saturating. */
static int64_t
plan_add(int64_t a, int64_t b)
{
	if (a < 0)
		a = 0;
	if (b < 0)
		b = 0;
	if (a > INT64_MAX - b)
		return (INT64_MAX);
	return (a + b);
}
