/*
 * The worker's pool of PostgreSQL connections (see pgpool.h).
 *
 * Why our own: Kore's pgsql pool connects with the blocking PQconnectdb,
 * cancels an abandoned statement with the blocking PQcancel, and hands a
 * released connection out again without looking at its status, so after
 * a PostgreSQL restart under load every request kept failing on dead
 * connections until tollgate was restarted. Here every libpq call on a
 * worker is non-blocking, the sockets sit in the worker's epoll like
 * keys_notify.c's, and a broken connection is closed, never reused.
 *
 * Phases of a connection (TG_PGPOOL_CONNS slots, allocated once):
 *
 *   CLOSED      no socket; opened when a statement waits for one, or as
 *               the probe while the database is down,
 *   CONNECTING  PQconnectStart, then PQconnectPoll whenever epoll says
 *               the socket is ready, until CONNECT_MS have passed,
 *   IDLE        connected, nothing in flight: the only phase handed out,
 *   BUSY        one statement in flight for its owner (stmt),
 *   DRAINING    the owner left mid-statement (a client went away): the
 *               results are read and dropped until PQgetResult() says
 *               the statement is over, then the connection is IDLE
 *               again; after DRAIN_MS it is closed instead, which ends
 *               the backend's query the next time it writes or checks.
 *
 *   CLOSED -> CONNECTING -> IDLE <-> BUSY -> DRAINING -> IDLE
 *   any phase -> CLOSED on an error, a lost connection or a deadline.
 *
 * Invariants:
 *   - a connection is handed out only when IDLE, with PQstatus() OK
 *     after reading whatever arrived (an EOF or a FATAL from a server
 *     going down shows up there), and no open transaction;
 *   - a connection that failed (PQstatus() bad, SQLSTATE class 08 or
 *     57P, a deadline, an unexpected result) is PQfinish()ed at once and
 *     its slot connects afresh later;
 *   - no libpq call here blocks: connect is PQconnectStartParams/
 *     PQconnectPoll, sockets are PQsetnonblocking, output goes out with
 *     PQflush() (again on EPOLLOUT while it returns 1), and PQgetResult()
 *     is called only once PQisBusy() says it will not wait. PQfinish()
 *     only writes a Terminate message to a non-blocking socket and
 *     closes it; closing takes the socket out of epoll;
 *   - a statement is QUEUED, or SENT on exactly one BUSY connection, or
 *     over; its owner's wake() runs once per tg_pgstmt_send();
 *   - the slots are never freed while the worker runs: an event already
 *     fetched by epoll for a closed socket finds its slot CLOSED (or
 *     reopened, and then waiting for a readiness it checks) and does
 *     nothing.
 *
 * During an outage: the connections in use fail (their statements with
 * conn_lost, which handlers answer with 503 and Retry-After), and a
 * connect that fails marks the pool down. While down, statements fail at
 * once unless a connection is up, and one probe connects every
 * BACKOFF_MIN_MS .. BACKOFF_MAX_MS (doubling); the probe that connects
 * ends the outage and serves the queue.
 */

#include <sys/epoll.h>

#include <string.h>

#include "pgpool.h"
#include "metrics.h"

#define CONN_CLOSED		0
#define CONN_CONNECTING		1
#define CONN_IDLE		2
#define CONN_BUSY		3
#define CONN_DRAINING		4

#define POOL_TICK_MS		100
#define CONNECT_MS		5000	/* a connect must be over by then */
#define STATEMENT_MS		120000	/* a statement never takes this */
#define DRAIN_MS		5000	/* an abandoned one gets that long */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		2000

struct tg_pgconn {
	struct kore_event	 evt;		/* first: epoll hands us &evt */
	int			 phase;
	PGconn			*pg;
	struct tg_pgstmt	*stmt;		/* BUSY */
	int			 want;		/* EPOLLIN/EPOLLOUT asked for */
	int			 broken;	/* close once the statement ends */
	u_int64_t		 deadline;
};

static const char *const	conn_phases[] = {
	"closed", "connecting", "idle", "busy", "draining"
};

static void		 pool_tick(void *, u_int64_t);
static struct tg_pgconn	*pool_idle(void);
static void		 pool_need(void);
static void		 pool_serve(struct tg_pgconn *);
static void		 pool_down(const char *);
static void		 pool_fail_queue(const char *);
static int		 pool_count(int);
static void		 conn_event(void *, int);
static void		 conn_open(struct tg_pgconn *);
static void		 conn_connect_step(struct tg_pgconn *);
static void		 conn_connect_failed(struct tg_pgconn *, const char *);
static void		 conn_send(struct tg_pgconn *, struct tg_pgstmt *);
static void		 conn_flush(struct tg_pgconn *);
static void		 conn_read(struct tg_pgconn *, int);
static void		 conn_result(struct tg_pgconn *, PGresult *);
static void		 conn_over(struct tg_pgconn *);
static void		 conn_lost(struct tg_pgconn *, const char *);
static int		 conn_check(struct tg_pgconn *);
static void		 conn_watch(struct tg_pgconn *, int);
static void		 conn_close(struct tg_pgconn *);
static void		 stmt_fail(struct tg_pgstmt *, int, const char *,
			    const char *);
static void		 stmt_error(struct tg_pgstmt *, const char *);
static int		 sqlstate_lost(const char *);

static struct tg_pgconn			*conns;
static TAILQ_HEAD(, tg_pgstmt)		 queue = TAILQ_HEAD_INITIALIZER(queue);
static int				 queued;
static int				 down;		/* a connect failed */
static u_int64_t			 retry_at;
static u_int64_t			 backoff = BACKOFF_MIN_MS;
static struct kore_timer		*tick;

void
tg_pgpool_init(void)
{
	int	i;

	conns = kore_calloc(TG_PGPOOL_CONNS, sizeof(*conns));
	for (i = 0; i < TG_PGPOOL_CONNS; i++) {
		conns[i].evt.type = KORE_TYPE_PGSQL_CONN;
		conns[i].evt.handle = conn_event;
		conns[i].phase = CONN_CLOSED;
	}
	tick = kore_timer_add(pool_tick, POOL_TICK_MS, NULL, 0);

	/* One connection from the start: the first request finds it up. */
	conn_open(&conns[0]);
}

/* The worker exits: the owners are gone (credits_job_teardown first). */
void
tg_pgpool_teardown(void)
{
	struct tg_pgstmt	*stmt;
	int			 i;

	if (conns == NULL)
		return;
	if (tick != NULL) {
		kore_timer_remove(tick);
		tick = NULL;
	}
	while ((stmt = TAILQ_FIRST(&queue)) != NULL)
		tg_pgstmt_abandon(stmt);
	for (i = 0; i < TG_PGPOOL_CONNS; i++) {
		if (conns[i].stmt != NULL)
			tg_pgstmt_abandon(conns[i].stmt);
		conn_close(&conns[i]);
	}
	kore_free(conns);
	conns = NULL;
}

/*
 * Send query with n text parameters (params[i] NULL for SQL NULL; the
 * arrays must live until the statement is over or abandoned) on an idle
 * connection, or queue it for the next one.
 */
void
tg_pgstmt_send(struct tg_pgstmt *stmt, const char *query, int n,
    const char *const *params, const int *lengths,
    void (*wake)(struct tg_pgstmt *, void *), void *arg)
{
	struct tg_pgconn	*c;

	if (stmt->phase == TG_PGSTMT_QUEUED || stmt->phase == TG_PGSTMT_SENT)
		fatal("tg_pgstmt_send: statement still in flight");
	if (conns == NULL)
		fatal("tg_pgstmt_send: no pool in this process");

	stmt->conn = NULL;
	stmt->query = query;
	stmt->nparams = n;
	stmt->params = params;
	stmt->lengths = lengths;
	stmt->wake = wake;
	stmt->arg = arg;
	stmt->res = NULL;
	stmt->errmsg = NULL;
	stmt->sqlstate[0] = '\0';
	stmt->conn_lost = 0;
	stmt->since = kore_time_ms();
	stmt->phase = TG_PGSTMT_QUEUED;

	if ((c = pool_idle()) != NULL) {
		conn_send(c, stmt);
		return;
	}

	if (down && pool_count(CONN_CONNECTING) == 0 &&
	    pool_count(CONN_BUSY) == 0) {
		stmt_fail(stmt, 1, "the database is unavailable", NULL);
		return;
	}
	if (queued >= TG_PGPOOL_QUEUE_MAX) {
		stmt_fail(stmt, 1, "too many statements wait for a "
		    "database connection", NULL);
		return;
	}

	TAILQ_INSERT_TAIL(&queue, stmt, list);
	queued++;
	tg_metrics_add(tg_metric_db_pool_waits, 1);
	pool_need();
}

/*
 * Forget a statement in any phase: off the queue, or its connection is
 * left DRAINING. Its result and message are freed; wake() is not called.
 */
void
tg_pgstmt_abandon(struct tg_pgstmt *stmt)
{
	struct tg_pgconn	*c;

	switch (stmt->phase) {
	case TG_PGSTMT_QUEUED:
		TAILQ_REMOVE(&queue, stmt, list);
		queued--;
		break;
	case TG_PGSTMT_SENT:
		c = stmt->conn;
		c->stmt = NULL;
		c->phase = CONN_DRAINING;
		c->deadline = kore_time_ms() + DRAIN_MS;
		break;
	}

	stmt->conn = NULL;
	if (stmt->res != NULL) {
		PQclear(stmt->res);
		stmt->res = NULL;
	}
	kore_free(stmt->errmsg);
	stmt->errmsg = NULL;
	stmt->phase = TG_PGSTMT_IDLE;
}

/* Deadlines, the outage probe and statements that waited too long. */
static void
pool_tick(void *arg, u_int64_t now)
{
	struct tg_pgstmt	*stmt;
	struct tg_pgconn	*c;
	int			 i;

	(void)arg;

	for (i = 0; i < TG_PGPOOL_CONNS; i++) {
		c = &conns[i];
		if (c->phase == CONN_CLOSED || c->phase == CONN_IDLE ||
		    now < c->deadline)
			continue;
		switch (c->phase) {
		case CONN_CONNECTING:
			conn_connect_failed(c, "connect timed out");
			break;
		case CONN_BUSY:
			/* Closing ends the backend's query too. */
			stmt_fail(c->stmt, 0, "statement timed out", NULL);
			c->stmt = NULL;
			conn_close(c);
			break;
		case CONN_DRAINING:
			conn_close(c);
			break;
		}
	}

	/* (since may be later than now: queued by an earlier timer.) */
	while ((stmt = TAILQ_FIRST(&queue)) != NULL &&
	    stmt->since + STATEMENT_MS < now) {
		TAILQ_REMOVE(&queue, stmt, list);
		queued--;
		stmt_fail(stmt, 1, "no database connection came free", NULL);
	}

	if (down && now >= retry_at && pool_count(CONN_CONNECTING) == 0) {
		for (i = 0; i < TG_PGPOOL_CONNS; i++) {
			if (conns[i].phase == CONN_CLOSED) {
				conn_open(&conns[i]);
				break;
			}
		}
	}

	pool_need();
}

/* An idle connection that is still good, or NULL. */
static struct tg_pgconn *
pool_idle(void)
{
	int	i;

	for (i = 0; i < TG_PGPOOL_CONNS; i++) {
		if (conns[i].phase == CONN_IDLE && conn_check(&conns[i]))
			return (&conns[i]);
	}

	return (NULL);
}

/*
 * Open as many closed slots as there are queued statements beyond the
 * connects under way. While down, the tick's probe is the only connect.
 */
static void
pool_need(void)
{
	int	i, want;

	if (down)
		return;

	want = queued - pool_count(CONN_CONNECTING);
	for (i = 0; i < TG_PGPOOL_CONNS && want > 0 && !down; i++) {
		if (conns[i].phase == CONN_CLOSED) {
			conn_open(&conns[i]);
			want--;
		}
	}
}

/* c is IDLE: give it the oldest waiting statement. */
static void
pool_serve(struct tg_pgconn *c)
{
	struct tg_pgstmt	*stmt;

	while (c->phase == CONN_IDLE && (stmt = TAILQ_FIRST(&queue)) != NULL) {
		if (!conn_check(c))
			break;
		TAILQ_REMOVE(&queue, stmt, list);
		queued--;
		conn_send(c, stmt);
	}
}

/*
 * A connect failed. Unless another connection works, the database is
 * down: waiting statements fail now, new ones fail at once, and the tick
 * probes with a growing back-off.
 */
static void
pool_down(const char *why)
{
	if (pool_count(CONN_IDLE) > 0 || pool_count(CONN_BUSY) > 0)
		return;

	if (!down) {
		kore_log(LOG_NOTICE, "db: cannot connect (%s); statements "
		    "fail until a connection works again", why);
		down = 1;
		backoff = BACKOFF_MIN_MS;
		retry_at = kore_time_ms() + backoff;
	} else if (kore_time_ms() >= retry_at) {
		/* A probe failed (not one of the connects before it). */
		backoff *= 2;
		if (backoff > BACKOFF_MAX_MS)
			backoff = BACKOFF_MAX_MS;
		retry_at = kore_time_ms() + backoff;
	}

	if (pool_count(CONN_CONNECTING) == 0)
		pool_fail_queue(why);
}

static void
pool_fail_queue(const char *why)
{
	struct tg_pgstmt	*stmt;

	while ((stmt = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, stmt, list);
		queued--;
		stmt_fail(stmt, 1, "the database is unavailable", why);
	}
}

static int
pool_count(int phase)
{
	int	i, n;

	n = 0;
	for (i = 0; i < TG_PGPOOL_CONNS; i++) {
		if (conns[i].phase == phase)
			n++;
	}

	return (n);
}

/* Kore's event loop: a socket of ours is readable, writable or broken. */
static void
conn_event(void *arg, int err)
{
	struct tg_pgconn	*c = arg;
	int			 ready;

	ready = 0;
	if (c->evt.flags & KORE_EVENT_READ)
		ready |= EPOLLIN;
	if (c->evt.flags & KORE_EVENT_WRITE)
		ready |= EPOLLOUT;
	c->evt.flags &= ~(KORE_EVENT_READ | KORE_EVENT_WRITE);

	switch (c->phase) {
	case CONN_CONNECTING:
		/*
		 * Not what we wait for: an event of the slot's previous
		 * socket, fetched in the same epoll batch. (A refused or
		 * broken connect is readable or writable too; anything
		 * else ends at the deadline.)
		 */
		if ((ready & c->want) == 0)
			break;
		conn_connect_step(c);
		break;
	case CONN_IDLE:
		/* Read first: a FATAL before the EOF says why. */
		if (conn_check(c) && err)
			conn_lost(c, "connection closed");
		break;
	case CONN_BUSY:
	case CONN_DRAINING:
		conn_read(c, err);
		break;
	default:
		/* CLOSED: an event fetched before the socket was closed. */
		break;
	}
}

static void
conn_open(struct tg_pgconn *c)
{
	static const char *const	keys[] = { "dbname", "application_name",
					    NULL };
	const char			*values[3];

	values[0] = tg_conf.database_url;
	values[1] = "tollgate";
	values[2] = NULL;

	/* expand_dbname: the first "dbname" is the whole connection string. */
	if ((c->pg = PQconnectStartParams(keys, values, 1)) == NULL) {
		conn_connect_failed(c, "out of memory");
		return;
	}
	c->phase = CONN_CONNECTING;
	c->deadline = kore_time_ms() + CONNECT_MS;
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}

	conn_watch(c, EPOLLOUT);
}

static void
conn_connect_step(struct tg_pgconn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_watch(c, EPOLLIN);
		return;
	case PGRES_POLLING_WRITING:
		conn_watch(c, EPOLLOUT);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}

	if (PQsetnonblocking(c->pg, 1) == -1) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}

	if (down) {
		kore_log(LOG_NOTICE, "db: connected again");
		down = 0;
	}
	backoff = BACKOFF_MIN_MS;

	c->phase = CONN_IDLE;
	c->broken = 0;
	conn_watch(c, EPOLLIN);
	pool_serve(c);
	pool_need();
}

static void
conn_connect_failed(struct tg_pgconn *c, const char *why)
{
	char	msg[256];

	(void)kore_strlcpy(msg, why != NULL ? why : "?", sizeof(msg));
	conn_close(c);
	tg_metrics_add(tg_metric_db_errors, 1);
	pool_down(msg);
}

static void
conn_send(struct tg_pgconn *c, struct tg_pgstmt *stmt)
{
	if (!PQsendQueryParams(c->pg, stmt->query, stmt->nparams, NULL,
	    stmt->params, stmt->lengths, NULL, 0)) {
		stmt_fail(stmt, 1, PQerrorMessage(c->pg), NULL);
		conn_lost(c, "could not send a statement");
		return;
	}

	c->phase = CONN_BUSY;
	c->stmt = stmt;
	c->deadline = kore_time_ms() + STATEMENT_MS;
	stmt->conn = c;
	stmt->phase = TG_PGSTMT_SENT;
	stmt->since = kore_time_ms();
	conn_flush(c);
}

/* Send what libpq still holds; wait for writability while it does. */
static void
conn_flush(struct tg_pgconn *c)
{
	switch (PQflush(c->pg)) {
	case 0:
		conn_watch(c, EPOLLIN);
		break;
	case 1:
		conn_watch(c, EPOLLIN | EPOLLOUT);
		break;
	default:
		conn_lost(c, PQerrorMessage(c->pg));
		break;
	}
}

/* BUSY or DRAINING: send, read, and take every result that is ready. */
static void
conn_read(struct tg_pgconn *c, int err)
{
	PGresult	*res;

	if (PQflush(c->pg) == -1 || !PQconsumeInput(c->pg)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}

	while (c->phase == CONN_BUSY || c->phase == CONN_DRAINING) {
		if (PQisBusy(c->pg)) {
			if (err) {
				conn_lost(c, "connection closed");
				return;
			}
			conn_flush(c);
			return;
		}
		if ((res = PQgetResult(c->pg)) == NULL) {
			conn_over(c);
			return;
		}
		conn_result(c, res);
	}
}

/* One result of the statement: keep the first good one, or the error. */
static void
conn_result(struct tg_pgconn *c, PGresult *res)
{
	struct tg_pgstmt	*stmt = c->stmt;
	const char		*state;

	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		if (stmt != NULL && stmt->res == NULL &&
		    stmt->errmsg == NULL) {
			stmt->res = res;
			return;
		}
		break;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		/* Nothing of ours copies; such a connection is useless. */
		c->broken = 1;
		if (stmt != NULL && stmt->errmsg == NULL)
			stmt_error(stmt, "unexpected COPY");
		break;
	default:
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (sqlstate_lost(state) || PQstatus(c->pg) != CONNECTION_OK)
			c->broken = 1;
		if (stmt != NULL && stmt->errmsg == NULL) {
			stmt_error(stmt, PQresultErrorMessage(res));
			if (state != NULL)
				(void)kore_strlcpy(stmt->sqlstate, state,
				    sizeof(stmt->sqlstate));
		}
		break;
	}

	PQclear(res);
}

/*
 * PQgetResult() said the statement is over: its owner gets the answer,
 * the connection goes back to IDLE, or is closed when it cannot be
 * trusted any more.
 */
static void
conn_over(struct tg_pgconn *c)
{
	struct tg_pgstmt	*stmt = c->stmt;

	c->stmt = NULL;
	if (c->broken || PQstatus(c->pg) != CONNECTION_OK ||
	    PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		if (stmt != NULL && stmt->errmsg == NULL)
			stmt_error(stmt, "the connection ended mid-statement");
		if (stmt != NULL)
			stmt->conn_lost = 1;
		conn_close(c);
	} else {
		c->phase = CONN_IDLE;
		conn_watch(c, EPOLLIN);
	}

	if (stmt != NULL) {
		stmt->conn = NULL;
		if (stmt->errmsg != NULL) {
			if (stmt->res != NULL) {
				PQclear(stmt->res);
				stmt->res = NULL;
			}
			tg_metrics_add(tg_metric_db_errors, 1);
			stmt->phase = TG_PGSTMT_FAILED;
		} else {
			stmt->phase = TG_PGSTMT_DONE;
		}
		stmt->wake(stmt, stmt->arg);
	}

	if (c->phase == CONN_IDLE)
		pool_serve(c);
	else
		pool_need();
}

/*
 * The connection broke (or may have): its statement fails as lost,
 * the slot is closed and will connect again when needed.
 */
static void
conn_lost(struct tg_pgconn *c, const char *why)
{
	struct tg_pgstmt	*stmt = c->stmt;

	c->stmt = NULL;
	if (stmt != NULL) {
		stmt->conn = NULL;
		if (stmt->res != NULL) {
			PQclear(stmt->res);
			stmt->res = NULL;
		}
		/* A FATAL that came first says more than the EOF. */
		stmt_fail(stmt, 1, stmt->errmsg != NULL ? stmt->errmsg : why,
		    NULL);
	}
	if (c->phase != CONN_CLOSED)
		kore_log(LOG_NOTICE, "db: connection lost while %s: %s",
		    conn_phases[c->phase], why != NULL ? why : "?");
	conn_close(c);
	pool_need();
}

/*
 * Read what arrived on an IDLE connection without waiting; 1 when it is
 * fit to be handed out. A bad one is closed here.
 */
static int
conn_check(struct tg_pgconn *c)
{
	PGresult	*res;

	if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK ||
	    PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		conn_lost(c, PQerrorMessage(c->pg));
		return (0);
	}

	/* Nothing is in flight: a result now would be a stray one. */
	if (!PQisBusy(c->pg) && (res = PQgetResult(c->pg)) != NULL) {
		PQclear(res);
		conn_lost(c, "a result arrived while idle");
		return (0);
	}

	return (1);
}

/* (Re)register the socket for the events we wait for (level-triggered). */
static void
conn_watch(struct tg_pgconn *c, int events)
{
	int	fd;

	if (c->pg == NULL)
		return;
	if ((fd = PQsocket(c->pg)) < 0) {
		if (c->phase == CONN_CONNECTING)
			conn_connect_failed(c, "no socket");
		else
			conn_lost(c, "no socket");
		return;
	}

	c->want = events;
	kore_platform_event_schedule(fd, events | EPOLLRDHUP, 0, &c->evt);
}

/* PQfinish closes the socket, which takes it out of epoll. */
static void
conn_close(struct tg_pgconn *c)
{
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->phase = CONN_CLOSED;
	c->stmt = NULL;
	c->want = 0;
	c->broken = 0;
	c->evt.flags &= ~(KORE_EVENT_READ | KORE_EVENT_WRITE);
}

/* The statement is over, failed: tell its owner. */
static void
stmt_fail(struct tg_pgstmt *stmt, int lost, const char *msg,
    const char *detail)
{
	struct kore_buf	 buf;

	if (detail != NULL || msg != stmt->errmsg) {
		kore_buf_init(&buf, 128);
		kore_buf_appendf(&buf, "%s", msg != NULL ? msg :
		    "unknown error");
		if (detail != NULL)
			kore_buf_appendf(&buf, ": %s", detail);
		stmt_error(stmt, kore_buf_stringify(&buf, NULL));
		kore_buf_cleanup(&buf);
	}

	if (stmt->res != NULL) {
		PQclear(stmt->res);
		stmt->res = NULL;
	}
	stmt->conn = NULL;
	stmt->conn_lost = lost;
	stmt->phase = TG_PGSTMT_FAILED;
	tg_metrics_add(tg_metric_db_errors, 1);
	stmt->wake(stmt, stmt->arg);
}

/* msg as the statement's error, on one line. */
static void
stmt_error(struct tg_pgstmt *stmt, const char *msg)
{
	char	*copy, *p;

	copy = kore_strdup(msg != NULL && *msg != '\0' ? msg : "unknown error");
	for (p = copy; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	}
	for (p = copy + strlen(copy); p > copy && p[-1] == ' '; p--)
		p[-1] = '\0';

	kore_free(stmt->errmsg);
	stmt->errmsg = copy;
}

/* Connection exceptions (08) and operator intervention (57P01..03). */
static int
sqlstate_lost(const char *state)
{
	if (state == NULL)
		return (0);

	return (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3));
}
