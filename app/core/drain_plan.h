/*
 * The graceful drain's decisions, pure C (docs/operations.md, "Deploys
 * and SIGTERM"): the phases of one worker from the first SIGTERM to its
 * exit, and what becomes of a call still open at the deadline.
 *
 * Phases:
 *   SERVING  no signal yet
 *   WAITING  a signal came: /readyz answers 503, the listener is closed,
 *            calls in flight go on until the deadline (the signal plus
 *            TOLLGATE_DRAIN_SECONDS)
 *   ENDING   the deadline passed (or a later signal cut the wait short):
 *            the calls still open were told to end; their ends and
 *            settlements get TG_DRAIN_END_MS at most
 *   EXITING  nothing runs any more (or that time is over): the worker
 *            leaves its loop, flushes its settlements and gives its
 *            leases back
 *
 *   SERVING -> WAITING -> (ENDING) -> EXITING; never back.
 *
 * A signal within TG_DRAIN_DUP_MS of the first is the same stop (the
 * parent forwards the signal a worker may also have had from the
 * process group). A later one moves the deadline to now.
 */

#ifndef TG_DRAIN_PLAN_H
#define TG_DRAIN_PLAN_H

#include <stdint.h>

#define TG_DRAIN_SERVING	0
#define TG_DRAIN_WAITING	1
#define TG_DRAIN_ENDING		2
#define TG_DRAIN_EXITING	3

#define TG_DRAIN_DUP_MS		1000
#define TG_DRAIN_END_MS		5000

/* What a signal did (tg_drain_signal). */
#define TG_DRAIN_SIG_SAME	0	/* nothing: a repeat, or too late */
#define TG_DRAIN_SIG_START	1	/* it started the drain */
#define TG_DRAIN_SIG_CUT	2	/* it moved the deadline to now */

/* What tg_drain_step() asks of the worker. */
#define TG_DRAIN_NOTHING	0
#define TG_DRAIN_END_CALLS	1	/* end every call still open */
#define TG_DRAIN_EXIT		2	/* leave the loop */

/* What becomes of a call at the deadline (tg_drain_call_end). */
#define TG_DRAIN_CALL_FINISH	0	/* it is answering: let it */
#define TG_DRAIN_CALL_EVENT	1	/* bytes went out: its error event */
#define TG_DRAIN_CALL_503	2	/* nothing went out: 503, Retry-After */

struct tg_drain {
	int		phase;
	uint64_t	started;	/* ms, the first signal */
	uint64_t	deadline;	/* ms */
	uint64_t	ending;		/* ms, ENDING began */
};

int	tg_drain_signal(struct tg_drain *, uint64_t, uint64_t);
int	tg_drain_step(struct tg_drain *, uint64_t, int);
int	tg_drain_call_end(int, int);

#endif
