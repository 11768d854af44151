/*
 * The API keys' change feed, one per worker: a dedicated PostgreSQL
 * connection that LISTENs on channel tg_api_keys, where the triggers of
 * migration 0201 announce every key whose authentication-relevant fields
 * changed (revoked, disabled, limits, models, expiry, its user closed),
 * and those of migration 0495 every new key. A notice drops that public
 * id from this worker's key cache and its negative cache of unknown ids
 * (keys_auth.c), so a change reaches every worker of every tollgate
 * process sharing the database as fast as PostgreSQL delivers a NOTIFY:
 * milliseconds. The same connection LISTENs on tg_credits
 * (tg_notify_credits) and tg_sessions (tg_notify_sessions: sign-outs and
 * suspensions, for the admin module's session guard).
 *
 * The connection is not one of Kore's pool (those are bound to one
 * request at a time); it is registered with the worker's event loop
 * directly and never blocks it: PQconnectStart/PQconnectPoll, a
 * non-blocking socket, our own connect deadline, reads only when epoll
 * says the socket is readable.
 *
 * States: IDLE (retry at retry_at, with exponential back-off) ->
 * CONNECTING -> LISTENING (LISTEN sent) -> READY. Whatever goes wrong
 * (connection refused or lost, a deadline passed) returns to IDLE after
 * PQfinish(), which closes the socket and so removes it from epoll.
 *
 * Invariant: the key cache is used only while READY. Entering READY and
 * leaving it both flush the cache, because notices sent while we were
 * not listening are lost; in between, every request reads the database.
 * The cache's TTL stays as the safety net for a silently dead link,
 * which the heartbeat (a query every few seconds, answered in time or
 * the connection is dropped) bounds as well.
 *
 * The same connection writes last_used_at (keys_notify_touch): batched,
 * at most one UPDATE in flight, with SKIP LOCKED so that it never waits
 * on a row lock (which would hold back notices), and guarded in SQL so a
 * key's row is written at most once a minute across all workers.
 */

#include <sys/epoll.h>

#include <string.h>

#include <libpq-fe.h>

#include "tollgate.h"
#include "metrics.h"
#include "auth/keys.h"

#define NOTIFY_CHANNEL		"tg_api_keys"
#define CREDITS_CHANNEL		"tg_credits"
#define SESSIONS_CHANNEL	"tg_sessions"
#define NOTIFY_TICK_MS		100
#define NOTIFY_CONNECT_MS	5000	/* connect + LISTEN deadline */
#define NOTIFY_QUERY_MS		5000	/* a query must answer in time */
#define NOTIFY_HEARTBEAT_MS	5000
#define NOTIFY_BACKOFF_MIN_MS	100
#define NOTIFY_BACKOFF_MAX_MS	5000
#define NOTIFY_TOUCH_MAX	256

#define STATE_IDLE		0
#define STATE_CONNECTING	1
#define STATE_LISTENING		2
#define STATE_READY		3

#define QUERY_NONE		0
#define QUERY_LISTEN		1
#define QUERY_TOUCH		2
#define QUERY_HEARTBEAT		3

struct keys_listener {
	struct kore_event	 evt;		/* first: epoll hands us &evt */
	PGconn			*conn;
	int			 state;
	int			 query;		/* in flight, QUERY_* */
	int			 query_failed;
	int			 failing;	/* logged already */
	u_int64_t		 deadline;
	u_int64_t		 retry_at;
	u_int64_t		 backoff;
	u_int64_t		 last_query;
	int			 ntouch;
	char			 touch[NOTIFY_TOUCH_MAX][TG_ID_MAX];
};

/* The credits module's ear on channel tg_credits (see tollgate.h). */
void	(*tg_notify_credits)(const char *);
/* The admin module's on channel tg_sessions (see tollgate.h). */
void	(*tg_notify_sessions)(const char *);

static void	notify_tick(void *, u_int64_t);
static void	notify_event(void *, int);
static void	notify_connect(struct keys_listener *);
static void	notify_connect_step(struct keys_listener *);
static void	notify_read(struct keys_listener *);
static void	notify_results(struct keys_listener *);
static void	notify_query_done(struct keys_listener *);
static void	notify_send(struct keys_listener *, int, const char *, int,
		    const char *const *);
static void	notify_touch_flush(struct keys_listener *);
static void	notify_watch(struct keys_listener *, int);
static void	notify_drop(struct keys_listener *, const char *);
static void	notify_sessions(const char *);

static const char	sql_touch[] =
	"UPDATE api_keys SET last_used_at = now() WHERE id IN ("
	"SELECT id FROM api_keys WHERE id = ANY($1::uuid[]) AND "
	"(last_used_at IS NULL OR last_used_at < now() - interval "
	"'60 seconds') FOR UPDATE SKIP LOCKED)";

static struct keys_listener	listener;
static struct kore_timer	*listener_timer;

void
keys_notify_init(void)
{
	memset(&listener, 0, sizeof(listener));
	listener.evt.type = KORE_TYPE_PGSQL_CONN;
	listener.evt.handle = notify_event;
	listener.backoff = NOTIFY_BACKOFF_MIN_MS;

	notify_connect(&listener);
	listener_timer = kore_timer_add(notify_tick, NOTIFY_TICK_MS, NULL, 0);
}

void
keys_notify_teardown(void)
{
	if (listener_timer != NULL) {
		kore_timer_remove(listener_timer);
		listener_timer = NULL;
	}
	if (listener.conn != NULL) {
		PQfinish(listener.conn);
		listener.conn = NULL;
	}
	listener.state = STATE_IDLE;
}

/* The cache may be trusted only while notices are being received. */
int
keys_notify_ready(void)
{
	return (listener.state == STATE_READY);
}

/*
 * Ask for key_id's last_used_at to be set to now. Called from the auth
 * path at most once a minute per key and worker; never waits. When the
 * batch is full or the feed is down the touch is dropped (last_used_at
 * is "roughly current", not an audit log).
 */
void
keys_notify_touch(const char *key_id)
{
	struct keys_listener	*l = &listener;
	int			 i;

	if (l->state != STATE_READY || l->ntouch >= NOTIFY_TOUCH_MAX)
		return;
	for (i = 0; i < l->ntouch; i++) {
		if (!strcmp(l->touch[i], key_id))
			return;
	}
	if (kore_strlcpy(l->touch[l->ntouch], key_id, TG_ID_MAX) >= TG_ID_MAX)
		return;
	l->ntouch++;

	if (l->query == QUERY_NONE)
		notify_touch_flush(l);
}

/* Deadlines, reconnection, heartbeat, batched touches. */
static void
notify_tick(void *arg, u_int64_t now)
{
	struct keys_listener	*l = &listener;

	(void)arg;

	switch (l->state) {
	case STATE_IDLE:
		if (now >= l->retry_at)
			notify_connect(l);
		break;
	case STATE_CONNECTING:
	case STATE_LISTENING:
		if (now >= l->deadline)
			notify_drop(l, "timed out");
		break;
	case STATE_READY:
		if (l->query != QUERY_NONE) {
			if (now - l->last_query > NOTIFY_QUERY_MS)
				notify_drop(l, "no answer to a query");
		} else if (l->ntouch > 0) {
			notify_touch_flush(l);
		} else if (now - l->last_query > NOTIFY_HEARTBEAT_MS) {
			notify_send(l, QUERY_HEARTBEAT, "SELECT 1", 0, NULL);
		}
		break;
	}
}

/* Kore's event loop: our socket is readable, writable or broken. */
static void
notify_event(void *arg, int err)
{
	struct keys_listener	*l = arg;

	l->evt.flags &= ~(KORE_EVENT_READ | KORE_EVENT_WRITE);

	switch (l->state) {
	case STATE_CONNECTING:
		notify_connect_step(l);
		break;
	case STATE_LISTENING:
	case STATE_READY:
		if (err) {
			notify_drop(l, "connection closed");
			break;
		}
		notify_read(l);
		break;
	default:
		/* A stale event for a socket we already closed. */
		break;
	}
}

static void
notify_connect(struct keys_listener *l)
{
	static const char *const	keys[] = { "dbname", "application_name",
					    NULL };
	const char			*values[3];

	values[0] = tg_conf.database_url;
	values[1] = "tollgate-keys-listener";
	values[2] = NULL;

	/* expand_dbname: the first "dbname" is the whole connection string. */
	l->conn = PQconnectStartParams(keys, values, 1);
	if (l->conn == NULL) {
		notify_drop(l, "out of memory");
		return;
	}
	if (PQstatus(l->conn) == CONNECTION_BAD) {
		notify_drop(l, PQerrorMessage(l->conn));
		return;
	}

	l->state = STATE_CONNECTING;
	l->deadline = kore_time_ms() + NOTIFY_CONNECT_MS;
	notify_watch(l, EPOLLOUT);
}

static void
notify_connect_step(struct keys_listener *l)
{
	switch (PQconnectPoll(l->conn)) {
	case PGRES_POLLING_READING:
		notify_watch(l, EPOLLIN);
		return;
	case PGRES_POLLING_WRITING:
		notify_watch(l, EPOLLOUT);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		notify_drop(l, PQerrorMessage(l->conn));
		return;
	}

	if (PQsetnonblocking(l->conn, 1) == -1) {
		notify_drop(l, PQerrorMessage(l->conn));
		return;
	}

	l->state = STATE_LISTENING;
	notify_send(l, QUERY_LISTEN, "LISTEN " NOTIFY_CHANNEL "; LISTEN "
	    CREDITS_CHANNEL "; LISTEN " SESSIONS_CHANNEL, 0, NULL);
}

/* Readable: take in what arrived, then results and notices. */
static void
notify_read(struct keys_listener *l)
{
	PGnotify	*n;

	if (!PQconsumeInput(l->conn)) {
		notify_drop(l, PQerrorMessage(l->conn));
		return;
	}

	while ((n = PQnotifies(l->conn)) != NULL) {
		if (!strcmp(n->relname, NOTIFY_CHANNEL)) {
			keys_cache_invalidate(n->extra);
			tg_metrics_add(keys_metric_notices, 1);
		} else if (!strcmp(n->relname, CREDITS_CHANNEL) &&
		    tg_notify_credits != NULL) {
			tg_notify_credits(n->extra);
		} else if (!strcmp(n->relname, SESSIONS_CHANNEL)) {
			notify_sessions(n->extra);
		}
		PQfreemem(n);
	}

	notify_results(l);
}

/* Results of LISTEN, a touch or a heartbeat; the end of each moves on. */
static void
notify_results(struct keys_listener *l)
{
	PGresult	*res;

	if (l->conn == NULL)
		return;
	if (PQflush(l->conn) == 1) {
		notify_watch(l, EPOLLIN | EPOLLOUT);
		return;
	}
	notify_watch(l, EPOLLIN);

	while (l->conn != NULL && l->query != QUERY_NONE &&
	    !PQisBusy(l->conn)) {
		if ((res = PQgetResult(l->conn)) != NULL) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK &&
			    PQresultStatus(res) != PGRES_TUPLES_OK) {
				kore_log(LOG_NOTICE, "keys listener: query "
				    "failed: %s", PQresultErrorMessage(res));
				l->query_failed = 1;
			}
			PQclear(res);
			continue;
		}
		notify_query_done(l);
	}
}

/* A statement is over (PQgetResult gave NULL). */
static void
notify_query_done(struct keys_listener *l)
{
	int	kind = l->query;

	l->query = QUERY_NONE;
	if (kind == QUERY_LISTEN) {
		if (l->query_failed) {
			notify_drop(l, "LISTEN failed");
			return;
		}
		l->state = STATE_READY;
		l->backoff = NOTIFY_BACKOFF_MIN_MS;
		if (l->failing)
			kore_log(LOG_NOTICE, "keys listener: listening again");
		l->failing = 0;
		keys_cache_invalidate(NULL);
		if (tg_notify_credits != NULL)
			tg_notify_credits("");
		notify_sessions("");
	}
	l->query_failed = 0;

	if (l->ntouch > 0)
		notify_touch_flush(l);
}

static void
notify_send(struct keys_listener *l, int kind, const char *sql, int n,
    const char *const *params)
{
	int	ok;

	/* Without parameters: the simple protocol (LISTEN a; LISTEN b). */
	if (n == 0)
		ok = PQsendQuery(l->conn, sql);
	else
		ok = PQsendQueryParams(l->conn, sql, n, NULL, params, NULL,
		    NULL, 0);
	if (!ok) {
		notify_drop(l, PQerrorMessage(l->conn));
		return;
	}

	l->query = kind;
	l->last_query = kore_time_ms();
	if (l->state == STATE_LISTENING)
		l->deadline = kore_time_ms() + NOTIFY_CONNECT_MS;

	if (PQflush(l->conn) == 1)
		notify_watch(l, EPOLLIN | EPOLLOUT);
	else
		notify_watch(l, EPOLLIN);
}

/* One UPDATE for the whole batch: {id,id,...} (ids are uuids). */
static void
notify_touch_flush(struct keys_listener *l)
{
	struct kore_buf	 buf;
	const char	*params[1];
	int		 i;

	if (l->state != STATE_READY || l->query != QUERY_NONE ||
	    l->ntouch == 0)
		return;

	kore_buf_init(&buf, 64 * l->ntouch);
	kore_buf_append(&buf, "{", 1);
	for (i = 0; i < l->ntouch; i++)
		kore_buf_appendf(&buf, "%s%s", i > 0 ? "," : "", l->touch[i]);
	kore_buf_append(&buf, "}", 1);
	l->ntouch = 0;

	params[0] = kore_buf_stringify(&buf, NULL);
	notify_send(l, QUERY_TOUCH, sql_touch, 1, params);
	kore_buf_cleanup(&buf);
}

/* (Re)register the socket for the events we wait for (level-triggered). */
static void
notify_watch(struct keys_listener *l, int events)
{
	int	fd;

	if (l->conn == NULL)
		return;
	if ((fd = PQsocket(l->conn)) < 0) {
		notify_drop(l, "no socket");
		return;
	}

	kore_platform_event_schedule(fd, events | EPOLLRDHUP, 0, &l->evt);
}

/*
 * Close and retry later. The socket leaves epoll as PQfinish() closes it
 * (nobody else holds it). Notices may have been missed: flush the cache.
 */
static void
notify_drop(struct keys_listener *l, const char *why)
{
	char	msg[256];
	size_t	i;

	if (!l->failing) {
		(void)kore_strlcpy(msg, why != NULL ? why : "?", sizeof(msg));
		for (i = 0; msg[i] != '\0'; i++) {
			if (msg[i] == '\n' || msg[i] == '\r')
				msg[i] = ' ';
		}
		kore_log(LOG_NOTICE, "keys listener: %s; the key cache is off "
		    "until it listens again", msg);
		l->failing = 1;
	}

	if (l->conn != NULL) {
		PQfinish(l->conn);
		l->conn = NULL;
	}

	if (l->state == STATE_READY) {
		keys_cache_invalidate(NULL);
		tg_metrics_add(keys_metric_feed_lost, 1);
		if (tg_notify_credits != NULL)
			tg_notify_credits(NULL);
		notify_sessions(NULL);
	}
	l->state = STATE_IDLE;
	l->query = QUERY_NONE;
	l->query_failed = 0;
	l->ntouch = 0;
	l->retry_at = kore_time_ms() + l->backoff;
	l->backoff *= 2;
	if (l->backoff > NOTIFY_BACKOFF_MAX_MS)
		l->backoff = NOTIFY_BACKOFF_MAX_MS;
}

/* Channel tg_sessions: "" listening (again), NULL lost, else a notice. */
static void
notify_sessions(const char *payload)
{
	if (tg_notify_sessions != NULL)
		tg_notify_sessions(payload);
}
