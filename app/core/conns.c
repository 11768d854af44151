/*
 * What a worker does when it holds as many connections as it may
 * (TOLLGATE_MAX_CONNECTIONS, Kore's worker_max_connections).
 *
 * Kore then stops accepting (kore.c: kore_listener_accept) and gives
 * the accept lock back; new clients wait in the kernel's listen backlog
 * until a connection of this worker ends. Connections that hold nothing
 * end only by Kore's header timeout (http_header_timeout, 10 s, which
 * also bounds an idle keep-alive connection), so a client that opens
 * the maximum and sends nothing stalls every new client for that long,
 * again and again.
 *
 * Like nginx (ngx_drain_connections), a worker at its limit closes idle
 * connections to make room: every CONNS_TICK_MS it looks, and when it
 * is full it closes up to CONNS_DRAIN of them, those accepted first
 * first. Idle means an HTTP connection with no request, nothing
 * received of the next one and nothing left to send: a fresh connection
 * that sent nothing yet, or a keep-alive connection between requests.
 * A client sees its idle connection closed, which HTTP clients expect
 * of keep-alive. Connections with a request in flight (a stream, a slow
 * body, a statement) are never closed here; while all of them are busy
 * new clients wait in the backlog, each busy one bounded by its own
 * timeouts (header, body, the router's).
 */

#include "tollgate.h"

#define CONNS_TICK_MS	100

/* At most this many a tick: 1/16 of the limit, at least 1. */
#define CONNS_DRAIN(max)	((max) / 16 > 0 ? (max) / 16 : 1)

static void	conns_tick(void *, u_int64_t);
static int	conns_idle(struct connection *);

void
tg_conns_init(void)
{
	(void)kore_timer_add(conns_tick, CONNS_TICK_MS, NULL, 0);
}

static void
conns_tick(void *arg, u_int64_t now)
{
	struct connection	*c, *next;
	u_int32_t		 n, closed;

	(void)arg;
	(void)now;

	if (worker_active_connections < worker_max_connections)
		return;

	n = CONNS_DRAIN(worker_max_connections);
	closed = 0;
	for (c = TAILQ_FIRST(&connections); c != NULL && closed < n;
	    c = next) {
		next = TAILQ_NEXT(c, list);
		if (!conns_idle(c))
			continue;
		kore_connection_disconnect(c);
		closed++;
	}
	if (closed > 0)
		kore_log(LOG_NOTICE, "at %u connections: closed %u idle",
		    worker_max_connections, closed);
}

static int
conns_idle(struct connection *c)
{
	if (c->proto != CONN_PROTO_HTTP || c->state != CONN_STATE_ESTABLISHED)
		return (0);
	if (!TAILQ_EMPTY(&c->http_requests) || !TAILQ_EMPTY(&c->send_queue) ||
	    c->snb != NULL)
		return (0);
	return (c->rnb != NULL && c->rnb->cb == http_header_recv &&
	    c->rnb->s_off == 0);
}
