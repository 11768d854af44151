/*
 * The graceful drain's decisions (drain_plan.h). Pure C: the clock and
 * whether anything still runs are arguments.
 */

#include "drain_plan.h"

/*
 * A stop signal at now (ms) with a wait of window_ms. Returns
 * TG_DRAIN_SIG_*.
 */
int
tg_drain_signal(struct tg_drain *d, uint64_t now, uint64_t window_ms)
{
	if (d->phase == TG_DRAIN_SERVING) {
		d->phase = TG_DRAIN_WAITING;
		d->started = now;
		d->deadline = now + window_ms;
		return (TG_DRAIN_SIG_START);
	}

	/* The same stop, delivered twice (process group and parent). */
	if (now - d->started < TG_DRAIN_DUP_MS)
		return (TG_DRAIN_SIG_SAME);

	if (d->phase != TG_DRAIN_WAITING || d->deadline <= now)
		return (TG_DRAIN_SIG_SAME);
	d->deadline = now;
	return (TG_DRAIN_SIG_CUT);
}

/*
 * One look at the drain at now (ms); busy: a request still runs or a
 * settlement is still being written. Returns TG_DRAIN_*.
 */
int
tg_drain_step(struct tg_drain *d, uint64_t now, int busy)
{
	switch (d->phase) {
	case TG_DRAIN_WAITING:
		if (!busy) {
			d->phase = TG_DRAIN_EXITING;
			return (TG_DRAIN_EXIT);
		}
		if (now < d->deadline)
			return (TG_DRAIN_NOTHING);
		d->phase = TG_DRAIN_ENDING;
		d->ending = now;
		return (TG_DRAIN_END_CALLS);
	case TG_DRAIN_ENDING:
		if (busy && now - d->ending < TG_DRAIN_END_MS)
			return (TG_DRAIN_NOTHING);
		d->phase = TG_DRAIN_EXITING;
		return (TG_DRAIN_EXIT);
	default:
		return (TG_DRAIN_NOTHING);
	}
}

/*
 * A call open at the deadline. answering: its answer is complete and
 * being settled or sent (it ends on its own, within moments);
 * bytes_out: its stream already sent bytes, so it can only end the way
 * a failed stream ends. Returns TG_DRAIN_CALL_*.
 */
int
tg_drain_call_end(int answering, int bytes_out)
{
	if (answering)
		return (TG_DRAIN_CALL_FINISH);
	if (bytes_out)
		return (TG_DRAIN_CALL_EVENT);
	return (TG_DRAIN_CALL_503);
}
