/*
 * Operations routes (docs/contract.md §9): liveness, readiness (PostgreSQL
 * answers, the process is not stopping and the schema is not behind this
 * binary) and the Prometheus metrics of this process. With
 * TOLLGATE_METRICS_TOKEN set, /metrics answers only "Authorization:
 * Bearer <token>" (401 otherwise); the token is compared by its hash, in
 * constant time, so neither its bytes nor its length leak through timing.
 *
 * The schema check: the database is behind this binary when a migration
 * embedded in it (migrations.h) has no row in schema_migrations, as after
 * an upgrade rolled out before `tollgate migrate`; /readyz then answers
 * 503 naming the first one missing. A database ahead of the binary is
 * fine: while an upgrade rolls, the old processes run on the new schema.
 * Each worker checks once when it starts, then again from a /readyz call
 * that finds its last answer older than SCHEMA_TTL_MS; the calls in
 * between send SELECT 1 and answer from it. So the check costs a worker
 * at most one statement every few seconds, and other routes nothing.
 *
 * States of the answer: UNKNOWN (not learned yet, or the check failed)
 * -> CURRENT or BEHIND, each learned at `checked`, and asked again once
 * stale. A database without schema_migrations at all is BEHIND by every
 * migration.
 */

#include <string.h>

#include <sodium.h>

#include "tollgate.h"
#include "db.h"
#include "drain.h"
#include "metrics.h"
#include "migrations.h"

int	health_live(struct http_request *);
int	health_ready(struct http_request *);
int	health_metrics(struct http_request *);

static int	metrics_token_ok(struct http_request *);
static int	ready_query(struct http_request *);
static int	ready_wait(struct http_request *);
static void	ready_free(struct http_request *, void *);
static int	ready_schema_behind(struct http_request *);

static void	schema_worker_init(void);
static void	schema_worker_teardown(void);
static void	schema_wake(struct tg_pgstmt *, void *);
static void	schema_tick(void *, u_int64_t);
static void	schema_start(struct tg_db *, struct http_request *);
static int	schema_note(PGresult *);
static void	schema_learn(int, int, const char *);
static int	schema_failed_absent(const char *);

#define SCHEMA_TTL_MS		5000
#define SCHEMA_UNKNOWN		0
#define SCHEMA_CURRENT		1
#define SCHEMA_BEHIND		2

static struct {
	int			 state;
	u_int64_t		 checked;	/* when state was learned */
	int			 missing;	/* BEHIND: how many not applied */
	const char		*first;		/* BEHIND: the first of them */
	char			*names;		/* {name,...}: the embedded ones */
	const char		*params[1];	/* names, for the pool */
	struct tg_pgstmt	 stmt;		/* the check at worker start */
	struct kore_timer	*timer;		/* reads that check's answer */
} schema;

static const char	sql_schema[] =
	"SELECT v, count(*) OVER () FROM unnest($1::text[]) AS v "
	"WHERE NOT EXISTS (SELECT 1 FROM schema_migrations s "
	"WHERE s.version = v) ORDER BY v LIMIT 1";

static struct http_state	ready_states[] = {
	KORE_HTTP_STATE(ready_query),
	KORE_HTTP_STATE(ready_wait),
};

#define READY_QUERY	0
#define READY_WAIT	1

static const struct tg_route	health_routes[] = {
	{ HTTP_METHOD_GET, "/healthz", health_live, TG_AUTH_NONE, 0, 0 },
	{ HTTP_METHOD_GET, "/readyz", health_ready, TG_AUTH_NONE, 0, 0 },
	{ HTTP_METHOD_GET, "/metrics", health_metrics, TG_AUTH_NONE, 0, 0 },
	{ HTTP_METHOD_GET, "/openapi.json", tg_openapi, TG_AUTH_NONE, 0, 0 },
	/* The console's pages (console/app.js) and files (console.c). */
	{ HTTP_METHOD_GET, "/", tg_console_page_handler, TG_AUTH_NONE, 0, 0 },
	{ HTTP_METHOD_GET, "/signin", tg_console_page_handler, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/keys", tg_console_page_handler, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/credits", tg_console_page_handler, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/usage", tg_console_page_handler, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/buy", tg_console_page_handler, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/billing/success", tg_console_page_handler,
	    TG_AUTH_NONE, 0, 0 },
	{ HTTP_METHOD_GET, "/billing/cancel", tg_console_page_handler,
	    TG_AUTH_NONE, 0, 0 },
	{ HTTP_METHOD_GET, "/profile", tg_console_page_handler, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/admin", tg_console_page_handler, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/admin/{*}", tg_console_page_handler,
	    TG_AUTH_NONE, 0, 0 },
	{ HTTP_METHOD_GET, "/console/{}", tg_console_asset_handler,
	    TG_AUTH_NONE, 0, 0 },
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_core_module = {
	"core", NULL, schema_worker_init, schema_worker_teardown, health_routes
};

int
health_live(struct http_request *req)
{
	json_t	*doc;

	doc = json_pack("{s:s}", "status", "ok");
	tg_http_json_steal(req, 200, doc);
	return (KORE_RESULT_OK);
}

int
health_ready(struct http_request *req)
{
	/* Stopping (drain.c): the load balancer should move on now. */
	if (tg_draining()) {
		tg_error_retry(req, 503, "unavailable", 1, "the server is "
		    "shutting down");
		return (KORE_RESULT_OK);
	}

	return (http_state_run(ready_states,
	    sizeof(ready_states) / sizeof(ready_states[0]), req));
}

int
health_metrics(struct http_request *req)
{
	struct kore_buf	*buf;

	if (!metrics_token_ok(req)) {
		http_response_header(req, "www-authenticate",
		    "Bearer realm=\"metrics\"");
		tg_error(req, 401, "invalid_token", NULL,
		    "/metrics needs its bearer token");
		return (KORE_RESULT_OK);
	}

	buf = kore_buf_alloc(8192);
	tg_metrics_render(buf);
	http_response_header(req, "content-type",
	    "text/plain; version=0.0.4; charset=utf-8");
	http_response(req, 200, buf->data, buf->offset);
	kore_buf_free(buf);

	return (KORE_RESULT_OK);
}

static int
metrics_token_ok(struct http_request *req)
{
	unsigned char	 want[crypto_generichash_BYTES];
	unsigned char	 got[crypto_generichash_BYTES];
	const char	*bearer;

	if (tg_conf.metrics_token == NULL)
		return (1);
	if ((bearer = tg_http_bearer(req)) == NULL)
		return (0);

	crypto_generichash(want, sizeof(want),
	    (const unsigned char *)tg_conf.metrics_token,
	    strlen(tg_conf.metrics_token), NULL, 0);
	crypto_generichash(got, sizeof(got), (const unsigned char *)bearer,
	    strlen(bearer), NULL, 0);

	return (sodium_memcmp(want, got, sizeof(want)) == 0);
}

static int
ready_query(struct http_request *req)
{
	struct tg_db	*db;

	db = tg_state_alloc(req, sizeof(*db), ready_free);
	schema_start(db, req);
	req->fsm_state = READY_WAIT;

	return (HTTP_STATE_CONTINUE);
}

static int
ready_wait(struct http_request *req)
{
	struct tg_db	*db = tg_state(req);
	json_t		*doc;

	switch (tg_db_poll(db)) {
	case TG_DB_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_DB_FAILED:
		if (db->query == sql_schema &&
		    schema_failed_absent(db->sqlstate))
			break;
		kore_log(LOG_NOTICE, "rid=%s not ready: %s",
		    tg_request_id(req), db->errmsg ? db->errmsg : "?");
		tg_error_retry(req, 503, "unavailable", 1,
		    "the database is unavailable");
		return (HTTP_STATE_COMPLETE);
	case TG_DB_DONE:
		if (db->query == sql_schema && !schema_note(db->res)) {
			tg_error_retry(req, 503, "unavailable", 1,
			    "the schema check got an unexpected answer");
			return (HTTP_STATE_COMPLETE);
		}
		break;
	}

	if (ready_schema_behind(req))
		return (HTTP_STATE_COMPLETE);

	doc = json_pack("{s:s}", "status", "ready");
	tg_http_json_steal(req, 200, doc);
	return (HTTP_STATE_COMPLETE);
}

static void
ready_free(struct http_request *req, void *state)
{
	(void)req;
	tg_db_clear(state);
}

/* 503 when the schema is known to be behind this binary. */
static int
ready_schema_behind(struct http_request *req)
{
	if (schema.state != SCHEMA_BEHIND)
		return (0);

	tg_error_retry(req, 503, "unavailable", 5, "the database schema is "
	    "behind this binary: migration %s is not applied (%d missing); "
	    "run tollgate migrate", schema.first, schema.missing);
	return (1);
}

/*
 * The worker's check at start: the embedded names as one text[] literal
 * (names are [0-9a-z_] only, migrations.h: nothing to quote), sent over
 * the pool on no request; schema_tick() reads the answer.
 */
static void
schema_worker_init(void)
{
	struct kore_buf		 buf;
	int			 i;

	kore_buf_init(&buf, 1024);
	kore_buf_append(&buf, "{", 1);
	for (i = 0; i < tg_migrations_count; i++) {
		if (i > 0)
			kore_buf_append(&buf, ",", 1);
		kore_buf_appendf(&buf, "%s", tg_migrations[i].name);
	}
	kore_buf_append(&buf, "}", 1);
	schema.names = kore_strdup(kore_buf_stringify(&buf, NULL));
	kore_buf_cleanup(&buf);

	schema.params[0] = schema.names;
	tg_pgstmt_send(&schema.stmt, sql_schema, 1, schema.params, NULL,
	    schema_wake, NULL);
}

static void
schema_worker_teardown(void)
{
	if (schema.timer != NULL) {
		kore_timer_remove(schema.timer);
		schema.timer = NULL;
	}
	tg_pgstmt_abandon(&schema.stmt);
	kore_free(schema.names);
	schema.names = NULL;
}

/* The pool's news, from inside the pool: read it from a timer. */
static void
schema_wake(struct tg_pgstmt *stmt, void *arg)
{
	(void)stmt;
	(void)arg;

	if (schema.timer == NULL)
		schema.timer = kore_timer_add(schema_tick, 0, NULL,
		    KORE_TIMER_ONESHOT);
}

static void
schema_tick(void *arg, u_int64_t now)
{
	(void)arg;
	(void)now;

	schema.timer = NULL;
	if (schema.stmt.phase == TG_PGSTMT_DONE) {
		(void)schema_note(schema.stmt.res);
	} else if (schema.stmt.phase == TG_PGSTMT_FAILED &&
	    !schema_failed_absent(schema.stmt.sqlstate)) {
		kore_log(LOG_NOTICE, "schema check at start failed: %s",
		    schema.stmt.errmsg != NULL ? schema.stmt.errmsg : "?");
	}
	tg_pgstmt_abandon(&schema.stmt);
}

/* /readyz sends the schema check when the last answer is stale. */
static void
schema_start(struct tg_db *db, struct http_request *req)
{
	const char	*params[1];

	if (schema.state != SCHEMA_UNKNOWN &&
	    kore_time_ms() - schema.checked < SCHEMA_TTL_MS) {
		tg_db_start(db, req, TG_DB_RETRY, "SELECT 1", 0, NULL);
		return;
	}

	params[0] = schema.names;
	tg_db_start(db, req, TG_DB_RETRY, sql_schema, 1, params);
}

/*
 * The answer of sql_schema: no row, or the first migration missing and
 * how many are. The name must be one of ours and the count in range;
 * anything else is an error (0) and leaves the answer unknown.
 */
static int
schema_note(PGresult *res)
{
	const char	*v;
	long long	 n;
	int		 i;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQnfields(res) != 2)
		return (0);
	if (tg_pg_ntuples(res) == 0) {
		schema_learn(SCHEMA_CURRENT, 0, NULL);
		return (1);
	}

	if ((v = tg_pg_value(res, 0, 0)) == NULL ||
	    !tg_pg_num(res, 0, 1, 1, tg_migrations_count, &n))
		return (0);
	for (i = 0; i < tg_migrations_count; i++) {
		if (!strcmp(tg_migrations[i].name, v)) {
			schema_learn(SCHEMA_BEHIND, (int)n,
			    tg_migrations[i].name);
			return (1);
		}
	}
	kore_log(LOG_ERR, "schema check: unexpected migration name");

	return (0);
}

/* Without schema_migrations, nothing was ever migrated here. */
static int
schema_failed_absent(const char *sqlstate)
{
	if (strcmp(sqlstate, "42P01") != 0 || tg_migrations_count == 0)
		return (0);

	schema_learn(SCHEMA_BEHIND, tg_migrations_count, tg_migrations[0].name);
	return (1);
}

/* A new answer; the log says when it changes. */
static void
schema_learn(int state, int missing, const char *first)
{
	if (state == SCHEMA_BEHIND && (schema.state != SCHEMA_BEHIND ||
	    schema.first != first)) {
		kore_log(LOG_WARNING, "the database schema is behind this "
		    "binary: migration %s is not applied (%d missing); run "
		    "tollgate migrate", first, missing);
	} else if (state == SCHEMA_CURRENT && schema.state == SCHEMA_BEHIND) {
		kore_log(LOG_NOTICE, "the database schema is current");
	}

	schema.state = state;
	schema.missing = missing;
	schema.first = first;
	schema.checked = kore_time_ms();
}
