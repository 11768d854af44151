/*
 * Asynchronous PostgreSQL statements for handlers (see db.h).
 *
 * Phases of a struct tg_db:
 *   SETUP  ask Kore's per-worker pool for a connection; when the pool is
 *          full the request is queued and sleeps until one is released,
 *   SENT   the statement is on the wire, the request sleeps until Kore
 *          wakes it with a result, an error or completion,
 *   DONE / FAILED.
 *
 * A connection that PostgreSQL dropped (restart, failover) fails exactly
 * one statement and is then discarded by Kore; statements started with
 * TG_DB_RETRY are sent once more on a fresh connection, which is what
 * makes a PostgreSQL restart invisible to idempotent requests.
 *
 * On an SQL error the rest of the result is drained here so that Kore
 * releases the connection without its blocking PQcancel().
 */

#include <string.h>

#include "db.h"
#include "metrics.h"

#define PHASE_IDLE	0
#define PHASE_SETUP	1
#define PHASE_SENT	2
#define PHASE_DONE	3
#define PHASE_FAILED	4
#define PHASE_QUEUED	5

static int	db_setup(struct tg_db *);
static int	db_failed(struct tg_db *, const char *);
static void	db_release(struct tg_db *);
static void	db_free_params(struct tg_db *);

void
tg_db_register(void)
{
	if (!kore_pgsql_register(TG_DB_NAME, tg_conf.database_url))
		fatal("cannot register the database");
}

/*
 * Start one statement. params[i] may be NULL for SQL NULL; everything is
 * copied. The request sleeps until tg_db_poll() has news.
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

	db->phase = PHASE_SETUP;
	(void)db_setup(db);
}

int
tg_db_poll(struct tg_db *db)
{
	for (;;) {
		switch (db->phase) {
		case PHASE_SETUP:
		case PHASE_QUEUED:
			if (!db_setup(db))
				continue;
			return (TG_DB_WAIT);
		case PHASE_DONE:
			return (TG_DB_DONE);
		case PHASE_FAILED:
			return (TG_DB_FAILED);
		case PHASE_SENT:
			break;
		default:
			fatal("tg_db_poll: no statement started");
		}

		switch (db->sql.state) {
		case KORE_PGSQL_STATE_WAIT:
			return (TG_DB_WAIT);
		case KORE_PGSQL_STATE_RESULT:
			if (db->res == NULL) {
				db->res = db->sql.result;
				db->sql.result = NULL;
			}
			kore_pgsql_continue(&db->sql);
			break;
		case KORE_PGSQL_STATE_DONE:
			/* A command's result (COMMAND_OK) carries its tag. */
			if (db->res == NULL && db->sql.result != NULL) {
				db->res = db->sql.result;
				db->sql.result = NULL;
			}
			kore_pgsql_continue(&db->sql);
			break;
		case KORE_PGSQL_STATE_COMPLETE:
			db_release(db);
			db->phase = PHASE_DONE;
			break;
		case KORE_PGSQL_STATE_ERROR:
			if (db_failed(db, db->sql.error))
				continue;
			return (TG_DB_FAILED);
		case KORE_PGSQL_STATE_NOTIFY:
			kore_pgsql_continue(&db->sql);
			break;
		default:
			return (TG_DB_WAIT);
		}
	}
}

/* Forget the statement: result, parameters, connection. */
void
tg_db_clear(struct tg_db *db)
{
	db_release(db);

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

long long
tg_db_int(struct tg_db *db, int row, int col)
{
	return (tg_pg_int(db->res, row, col));
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

long long
tg_pg_int(PGresult *res, int row, int col)
{
	const char	*v;

	if ((v = tg_pg_value(res, row, col)) == NULL)
		return (0);

	return (strtoll(v, NULL, 10));
}

/*
 * Record why the statement on sql failed: msg on one line in *errmsg,
 * its SQLSTATE, and *conn_lost set when the connection is gone. What is
 * left of the statement is drained so that Kore needs no blocking
 * cancel to release the connection.
 */
void
tg_pg_failure(struct kore_pgsql *sql, const char *msg, char **errmsg,
    char sqlstate[TG_DB_SQLSTATE_LEN], int *conn_lost)
{
	PGresult	*r;
	PGconn		*c;
	const char	*state;
	char		*p;

	tg_metrics_add(tg_metric_db_errors, 1);

	kore_free(*errmsg);
	*errmsg = kore_strdup(msg != NULL ? msg : "unknown error");
	for (p = *errmsg; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	}
	sqlstate[0] = '\0';

	if (sql->result != NULL) {
		state = PQresultErrorField(sql->result, PG_DIAG_SQLSTATE);
		if (state != NULL)
			(void)kore_strlcpy(sqlstate, state,
			    TG_DB_SQLSTATE_LEN);
	}

	if (sql->conn == NULL || PQstatus(sql->conn->db) != CONNECTION_OK)
		*conn_lost = 1;
	if (!strncmp(sqlstate, "08", 2) || !strncmp(sqlstate, "57P", 3))
		*conn_lost = 1;

	/* Drain what is left of this statement so no cancel is needed. */
	if (sql->conn != NULL && !*conn_lost) {
		c = sql->conn->db;
		if (PQconsumeInput(c)) {
			while (!PQisBusy(c) && (r = PQgetResult(c)) != NULL)
				PQclear(r);
			if (!PQisBusy(c))
				sql->state = KORE_PGSQL_STATE_DONE;
		}
	}
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

/* Returns 0 when the phase moved on (poll again), 1 when asleep. */
static int
db_setup(struct tg_db *db)
{
	/*
	 * Queued by Kore (pool full): Kore takes us off its wait queue when
	 * it wakes the request, so set up again only once awake. Asking
	 * again while still queued would queue the same kore_pgsql twice:
	 * a later release would then wake us instead of another waiter
	 * (which sleeps forever), and the stale entry would outlive us.
	 * Woken by anything else, the release drops the stale entry.
	 */
	if (db->phase == PHASE_QUEUED) {
		if (db->req->flags & HTTP_REQUEST_SLEEPING)
			return (1);
		db_release(db);
		db->phase = PHASE_SETUP;
	}

	if (!db->bound) {
		kore_pgsql_init(&db->sql);
		kore_pgsql_bind_request(&db->sql, db->req);
		db->bound = 1;
	}

	if (!kore_pgsql_setup(&db->sql, TG_DB_NAME, KORE_PGSQL_ASYNC)) {
		if (db->sql.state == KORE_PGSQL_STATE_INIT) {
			/*
			 * Pool full: Kore queued us and wakes the request
			 * when a connection is released; setup runs again.
			 */
			tg_metrics_add(tg_metric_db_pool_waits, 1);
			db->phase = PHASE_QUEUED;
			return (1);
		}
		db->conn_lost = 1;
		(void)db_failed(db, db->sql.error);
		return (0);
	}

	if (!kore_pgsql_query_param_fields(&db->sql, db->query, 0,
	    db->nparams, (const char **)db->params, db->lengths, NULL)) {
		(void)db_failed(db, db->sql.error);
		return (0);
	}

	db->phase = PHASE_SENT;
	return (1);
}

/*
 * Record the failure; returns 1 when the statement was restarted on a
 * fresh connection instead (TG_DB_RETRY after a lost connection).
 */
static int
db_failed(struct tg_db *db, const char *msg)
{
	tg_pg_failure(&db->sql, msg, &db->errmsg, db->sqlstate,
	    &db->conn_lost);
	db_release(db);

	if (db->conn_lost && (db->flags & TG_DB_RETRY) && !db->retried) {
		db->retried = 1;
		db->conn_lost = 0;
		db->phase = PHASE_SETUP;
		return (1);
	}

	db->phase = PHASE_FAILED;
	return (0);
}

static void
db_release(struct tg_db *db)
{
	if (db->bound)
		kore_pgsql_cleanup(&db->sql);
	kore_pgsql_init(&db->sql);
	db->bound = 0;
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
