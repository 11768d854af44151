/*
 * The decisions of a worker's balance lease (lease.c carries them out):
 * whether a call fits in what the lease has free, how much the lease
 * should park after the next flush, and a call's settlement (what it is
 * charged and what is a loss). Plain C, unit-tested.
 *
 * A lease's amounts, all in micro-credits:
 *
 *   parked     what the database parks for the lease, as far as the
 *              worker knows (a lower bound: a shrink counts from the
 *              moment it is sent, a top-up from its answer)
 *   inflight   what running calls reserved on it
 *   queued     charges of settled calls not yet sent
 *   batch      charges of settled calls in the flush on its way
 *
 *   free = parked - inflight - queued - batch  (never below 0)
 *
 * The database takes a flush's charges out of the lease before it sets
 * the lease to what the worker wants, so the wanted amount must cover
 * what is still running and queued: want >= inflight + queued.
 */

#ifndef CREDITS_LEASE_PLAN_H
#define CREDITS_LEASE_PLAN_H

#include <stdint.h>

/* A lease's top-up aims at this many of its largest recent calls. */
#define CREDITS_LEASE_CALLS		32
/* ...or at this many milliseconds of its recent spend, if more. */
#define CREDITS_LEASE_HORIZON_MS	2000
/* A lease nobody used for this long is given back. */
#define CREDITS_LEASE_IDLE_MS		10000

struct credits_lease_state {
	int64_t		parked;
	int64_t		inflight;
	int64_t		queued;
	int64_t		batch;
	int64_t		biggest;	/* largest reservation seen */
	int64_t		spend;		/* charged in the last window */
	int64_t		window_ms;	/* ... of this many milliseconds */
	int64_t		idle_ms;	/* since the last call started */
	int		retiring;	/* no new calls (new price, recall) */
	int		giveback;	/* give back what is free, once */
};

int64_t	credits_lease_free(const struct credits_lease_state *);
int	credits_lease_fits(const struct credits_lease_state *, int64_t);
int64_t	credits_lease_want(const struct credits_lease_state *, int64_t);
int	credits_lease_grow_wanted(const struct credits_lease_state *);

#endif
