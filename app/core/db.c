/*
 * Asynchronous PostgreSQL statements for handlers (see db.h), over the
 * worker's own pool (pgpool.c).
 *
 * Phases of a struct tg_db:
 *   IDLE    nothing started, or cleared,
 *   SENT    the statement is with the pool: queued for a connection or
 *           on one; tg_db_poll() puts the request to sleep and the pool
 *           wakes it (db_wake) once the statement is over,
 *   DONE    res holds the result,
 *   FAILED  errmsg, sqlstate, conn_lost tell why.
 *
 * A connection that PostgreSQL dropped (restart, failover) fails its
 * statement with conn_lost, and the pool closes it; statements started
 * with TG_DB_RETRY are sent once more, on another connection or a fresh
 * one, which is what makes a PostgreSQL restart invisible to idempotent
 * requests. While the database is down the pool fails statements at
 * once, and tg_db_error() answers 503 with Retry-After.
 *
 * tg_db_clear() while SENT (the request is being freed: its client left)
 * abandons the statement; the pool drains its connection without
 * waiting for it here.
 */

#include <errno.h>
#include <string.h>

#include "db.h"
#include "metrics.h"

#define PHASE_IDLE	0
#define PHASE_SENT	1
#define PHASE_DONE	2
#define PHASE_FAILED	3

static void	db_send(struct tg_db *);
static void	db_wake(struct tg_pgstmt *, void *);
static void	db_free_params(struct tg_db *);

/* The worker's pool (kore_worker_configure). */
void
tg_db_register(void)
{
	tg_pgpool_init();
}

/* The worker exits; after every module's teardown. */
void
tg_db_teardown(void)
{
	tg_pgpool_teardown();
}

/*
 * Start one statement. params[i] may be NULL for SQL NULL; everything is
 * copied. The request sleeps in tg_db_poll() until there is news.
 */
void
tg_db_start(struct tg_db *db, struct http_request *req, int flags,
    const char *query, int n, const char *const *params)
{
	int	i;

	if (n > TG_DB_PARAMS_MAX)
		fatal("tg_db_start: too many parameters");

	tg_db_clear(db);
	db->req = req;
	db->query = query;
	db->flags = flags;
	db->retried = 0;
	db->nparams = n;
	for (i = 0; i < n; i++) {
		if (params[i] == NULL) {
			db->params[i] = NULL;
			db->lengths[i] = 0;
		} else {
			db->params[i] = kore_strdup(params[i]);
			db->lengths[i] = strlen(params[i]);
		}
	}

	db_send(db);
}

int
tg_db_poll(struct tg_db *db)
{
	for (;;) {
		switch (db->phase) {
		case PHASE_DONE:
			return (TG_DB_DONE);
		case PHASE_FAILED:
			return (TG_DB_FAILED);
		case PHASE_SENT:
			break;
		default:
			fatal("tg_db_poll: no statement started");
		}

		switch (db->stmt.phase) {
		case TG_PGSTMT_QUEUED:
		case TG_PGSTMT_SENT:
			/* db_wake() wakes it; nothing else will. */
			if (db->req != NULL)
				http_request_sleep(db->req);
			return (TG_DB_WAIT);
		case TG_PGSTMT_DONE:
			db->res = db->stmt.res;
			db->stmt.res = NULL;
			db->stmt.phase = TG_PGSTMT_IDLE;
			db->phase = PHASE_DONE;
			break;
		case TG_PGSTMT_FAILED:
			kore_free(db->errmsg);
			db->errmsg = db->stmt.errmsg;
			db->stmt.errmsg = NULL;
			(void)kore_strlcpy(db->sqlstate, db->stmt.sqlstate,
			    sizeof(db->sqlstate));
			db->conn_lost = db->stmt.conn_lost;
			db->stmt.phase = TG_PGSTMT_IDLE;

			if (db->conn_lost && (db->flags & TG_DB_RETRY) &&
			    !db->retried) {
				db->retried = 1;
				db_send(db);
				break;
			}
			db->phase = PHASE_FAILED;
			break;
		default:
			fatal("tg_db_poll: statement in phase %d",
			    db->stmt.phase);
		}
	}
}

void
tg_db_clear(struct tg_db *db)
{
	tg_pgstmt_abandon(&db->stmt);

	if (db->res != NULL) {
		PQclear(db->res);
		db->res = NULL;
	}

	kore_free(db->errmsg);
	db->errmsg = NULL;
	db->sqlstate[0] = '\0';
	db->conn_lost = 0;
	db_free_params(db);
	db->phase = PHASE_IDLE;
}

/*
 * The next state of a handler after tg_db_start(): HTTP_STATE_RETRY while
 * the statement runs, HTTP_STATE_COMPLETE once a failure was answered
 * (tg_db_error), HTTP_STATE_CONTINUE when the result is there to read.
 */
int
tg_db_wait(struct http_request *req, struct tg_db *db)
{
	switch (tg_db_poll(db)) {
	case TG_DB_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_DB_FAILED:
		tg_db_error(req, db);
		return (HTTP_STATE_COMPLETE);
	}

	return (HTTP_STATE_CONTINUE);
}

/* Answer a failed statement: 503 while the database is away, else 500. */
void
tg_db_error(struct http_request *req, struct tg_db *db)
{
	kore_log(LOG_ERR, "rid=%s database error%s%s: %s", tg_request_id(req),
	    db->sqlstate[0] ? " " : "", db->sqlstate,
	    db->errmsg != NULL ? db->errmsg : "unknown");

	if (db->conn_lost) {
		tg_error_retry(req, 503, "unavailable", 1,
		    "the database is unavailable, retry shortly");
		return;
	}

	tg_error(req, 500, "internal", NULL, "internal error (request id %s)",
	    tg_request_id(req));
}

int
tg_db_ntuples(struct tg_db *db)
{
	return (tg_pg_ntuples(db->res));
}

const char *
tg_db_value(struct tg_db *db, int row, int col)
{
	return (tg_pg_value(db->res, row, col));
}

int
tg_db_isnull(struct tg_db *db, int row, int col)
{
	return (tg_db_value(db, row, col) == NULL);
}

/* The rows of a result; 0 for none or for anything but rows. */
int
tg_pg_ntuples(PGresult *res)
{
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		return (0);

	return (PQntuples(res));
}

/* A value as text; NULL for SQL NULL or a cell that is not there. */
const char *
tg_pg_value(PGresult *res, int row, int col)
{
	if (row >= tg_pg_ntuples(res) || col < 0 || col >= PQnfields(res))
		return (NULL);
	if (PQgetisnull(res, row, col))
		return (NULL);

	return (PQgetvalue(res, row, col));
}

/*
 * A number read from a result, checked (strtonum-like): 1 with *out set
 * when the cell is a base-10 integer within [min, max]; otherwise 0 and
 * a log line naming the column, so a SQL NULL or a garbled value fails
 * the caller instead of reading as 0 (a free call, no limit).
 */
int
tg_pg_num(PGresult *res, int row, int col, long long min, long long max,
    long long *out)
{
	const char	*v, *why;
	char		*end;
	long long	 n;

	*out = 0;
	why = NULL;
	if ((v = tg_pg_value(res, row, col)) == NULL) {
		why = "NULL or missing";
	} else {
		errno = 0;
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno == ERANGE)
			why = "not an integer";
		else if (n < min || n > max)
			why = "out of range";
		else
			*out = n;
	}
	if (why == NULL)
		return (1);

	kore_log(LOG_ERR, "database: column %d (%s) of row %d: %s", col,
	    res != NULL && col >= 0 && col < PQnfields(res) ?
	    PQfname(res, col) : "?", row, why);
	return (0);
}

int
tg_db_num(struct tg_db *db, int row, int col, long long min, long long max,
    long long *out)
{
	return (tg_pg_num(db->res, row, col, min, max, out));
}

/* items as a PostgreSQL text[] literal: every element quoted and escaped. */
void
tg_db_text_array(struct kore_buf *buf, const char *const *items, int n)
{
	const char	*p;
	int		 i;

	kore_buf_append(buf, "{", 1);
	for (i = 0; i < n; i++) {
		kore_buf_append(buf, i ? ",\"" : "\"", i ? 2 : 1);
		for (p = items[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				kore_buf_append(buf, "\\", 1);
			kore_buf_append(buf, p, 1);
		}
		kore_buf_append(buf, "\"", 1);
	}
	kore_buf_append(buf, "}", 1);
}

static void
db_send(struct tg_db *db)
{
	kore_free(db->errmsg);
	db->errmsg = NULL;
	db->sqlstate[0] = '\0';
	db->conn_lost = 0;
	db->phase = PHASE_SENT;
	tg_pgstmt_send(&db->stmt, db->query, db->nparams,
	    (const char *const *)db->params, db->lengths, db_wake, db);
}

/* The pool's news: only wake the request, tg_db_poll() reads it. */
static void
db_wake(struct tg_pgstmt *stmt, void *arg)
{
	struct tg_db	*db = arg;

	(void)stmt;
	if (db->req != NULL)
		http_request_wakeup(db->req);
}

static void
db_free_params(struct tg_db *db)
{
	int	i;

	for (i = 0; i < db->nparams; i++) {
		kore_free(db->params[i]);
		db->params[i] = NULL;
	}
	db->nparams = 0;
}
