/*
 * The graceful drain on SIGTERM, in each worker (docs/operations.md,
 * "Deploys and SIGTERM"; the phases are drain_plan.h's).
 *
 * Kore's parent forwards SIGTERM (and, in the foreground, SIGINT) to
 * every worker and waits for them to exit; Kore's own handler in a
 * worker would end its event loop at the next pass and cut every call.
 * tg_drain_init() replaces that handler, in the worker only, with one
 * that just counts the signal; a timer then drives the drain:
 *
 *  - at once: tg_draining() is 1 (/readyz answers 503), every answer
 *    from now on says Connection: close, and the listener is shut down
 *    (new connections are refused; the socket is shared by the whole
 *    process, so the first worker to drain closes it for all);
 *  - while calls run, until the deadline: nothing (they finish);
 *  - at the deadline: each watcher's end() ends its open calls (the
 *    router: the surface's error event, or 503 with Retry-After; each
 *    settled by estimate); then the worker waits, TG_DRAIN_END_MS at
 *    most, for those ends and their settlements;
 *  - then it asks Kore's loop to stop (sig_recv = SIGQUIT, as Kore's
 *    own handler would), which runs kore_worker_teardown(): the credits
 *    module flushes its settlements and gives its leases back there.
 *    The worker exits 0, and the parent, once every worker has, too.
 *
 * SIGQUIT keeps Kore's meaning: stop now. Nothing of Kore is patched.
 */

#include <sys/socket.h>

#include <signal.h>
#include <string.h>

#include "tollgate.h"
#include "drain.h"
#include "drain_plan.h"

#define DRAIN_TICK_MS		100
#define DRAIN_WATCH_MAX		8

struct drain_watch {
	int	(*busy)(void);
	void	(*end)(void);
};

static void	drain_signal(int);
static void	drain_tick(void *, u_int64_t);
static void	drain_start(void);
static void	drain_close_listeners(int);
static void	drain_listener_event(void *, int);
static void	drain_free_listeners(void);
static int	drain_busy(void);

static volatile sig_atomic_t	drain_signals;
static int			drain_seen;
static struct tg_drain		drain;
static struct drain_watch	watches[DRAIN_WATCH_MAX];
static int			nwatches;

/* Listeners taken from Kore, freed on the next tick (see below). */
static LIST_HEAD(, listener)	closed = LIST_HEAD_INITIALIZER(closed);
static int			listeners_closed;

void
tg_drain_init(void)
{
	struct sigaction	 sa;
	struct kore_server	*srv;
	struct listener		*l;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = drain_signal;
	if (sigfillset(&sa.sa_mask) == -1)
		fatal("sigfillset: %s", errno_s);
	if (sigaction(SIGTERM, &sa, NULL) == -1)
		fatal("sigaction: %s", errno_s);
	/* Kore ignores SIGINT in a daemon; so do we. */
	if (kore_foreground && sigaction(SIGINT, &sa, NULL) == -1)
		fatal("sigaction: %s", errno_s);

	/* A stop that came before this point went to Kore's handler. */
	if (sig_recv == SIGTERM || (kore_foreground && sig_recv == SIGINT)) {
		sig_recv = 0;
		drain_signals++;
	}

	/*
	 * Another worker's drain shuts the shared listener down; where it
	 * is still watched, that is an error event Kore would die of.
	 */
	LIST_FOREACH(srv, &kore_servers, list) {
		LIST_FOREACH(l, &srv->listeners, list)
			l->evt.handle = drain_listener_event;
	}

	(void)kore_timer_add(drain_tick, DRAIN_TICK_MS, NULL, 0);
}

int
tg_draining(void)
{
	return (drain_signals != 0 || drain.phase != TG_DRAIN_SERVING);
}

void
tg_drain_watch(int (*busy)(void), void (*end)(void))
{
	if (nwatches == DRAIN_WATCH_MAX)
		fatal("tg_drain_watch: too many watchers");
	watches[nwatches].busy = busy;
	watches[nwatches].end = end;
	nwatches++;
}

static void
drain_signal(int sig)
{
	(void)sig;
	drain_signals++;
}

static void
drain_tick(void *arg, u_int64_t now)
{
	u_int64_t	window;
	int		i, seen;

	(void)arg;
	drain_free_listeners();
	seen = drain_signals;
	if (seen != drain_seen) {
		drain_seen = seen;
		window = (u_int64_t)tg_conf.drain_seconds * 1000;
		switch (tg_drain_signal(&drain, now, window)) {
		case TG_DRAIN_SIG_START:
			drain_start();
			break;
		case TG_DRAIN_SIG_CUT:
			kore_log(LOG_NOTICE, "drain: another stop signal; the "
			    "calls still open end now");
			break;
		}
	}

	switch (tg_drain_step(&drain, now, drain_busy())) {
	case TG_DRAIN_END_CALLS:
		kore_log(LOG_NOTICE, "drain: deadline; ending %u open "
		    "request%s", http_request_count,
		    http_request_count == 1 ? "" : "s");
		for (i = 0; i < nwatches; i++) {
			if (watches[i].end != NULL)
				watches[i].end();
		}
		break;
	case TG_DRAIN_EXIT:
		if (drain_busy())
			kore_log(LOG_WARNING, "drain: exiting with work still "
			    "open after %d ms", TG_DRAIN_END_MS);
		else
			kore_log(LOG_NOTICE, "drain: nothing open; exiting");
		/* What Kore's handler sets: the loop ends, teardown runs. */
		sig_recv = SIGQUIT;
		break;
	}
}

static void
drain_start(void)
{
	kore_log(LOG_NOTICE, "drain: stop signal; not ready, the listener is "
	    "closed, calls in flight have %d s", tg_conf.drain_seconds);

	/* Every answer from now on closes its connection. */
	http_keepalive_time = 0;
	/* Watched exactly while this worker holds the accept lock. */
	drain_close_listeners(worker != NULL && worker->has_lock);
}

/*
 * Stops accepting for good: the listeners leave the event loop (when
 * watched) and the lists Kore would watch them from again, and the
 * shared socket is shut down, so the kernel refuses new connections and
 * resets those not yet accepted. They are freed on the next tick, not
 * here: this may run inside the event loop's pass, whose later events
 * may still name them.
 */
static void
drain_close_listeners(int watched)
{
	struct kore_server	*srv;
	struct listener		*l;

	if (listeners_closed)
		return;
	listeners_closed = 1;

	if (watched)
		kore_platform_disable_accept();

	LIST_FOREACH(srv, &kore_servers, list) {
		while ((l = LIST_FIRST(&srv->listeners)) != NULL) {
			if (l->fd != -1)
				(void)shutdown(l->fd, SHUT_RDWR);
			LIST_REMOVE(l, list);
			LIST_INSERT_HEAD(&closed, l, list);
		}
	}
}

static void
drain_free_listeners(void)
{
	struct listener	*l;

	while ((l = LIST_FIRST(&closed)) != NULL)
		kore_listener_free(l);
}

/*
 * A listener's event. An error on a listening socket means another
 * worker's drain shut it down: this worker stops too.
 */
static void
drain_listener_event(void *arg, int error)
{
	if (listeners_closed)
		return;		/* an event of this pass, before the close */
	if (!error) {
		kore_listener_accept(arg, 0);
		return;
	}

	kore_log(LOG_NOTICE, "drain: the listener was shut down");
	/* An event came, so the listeners are watched (all or none). */
	drain_close_listeners(1);
	drain_signals++;
}

static int
drain_busy(void)
{
	int	i;

	if (http_request_count > 0)
		return (1);
	for (i = 0; i < nwatches; i++) {
		if (watches[i].busy != NULL && watches[i].busy())
			return (1);
	}

	return (0);
}
