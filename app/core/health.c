/*
 * Operations routes (docs/contract.md §9): liveness, readiness (PostgreSQL
 * answers) and the Prometheus metrics of this process; the table also
 * holds GET /openapi.json (openapi.c).
 */

#include "tollgate.h"
#include "db.h"
#include "metrics.h"

int	health_live(struct http_request *);
int	health_ready(struct http_request *);
int	health_metrics(struct http_request *);

static int	ready_query(struct http_request *);
static int	ready_wait(struct http_request *);
static void	ready_free(struct http_request *, void *);

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
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_core_module = {
	"core", NULL, NULL, NULL, health_routes
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
	return (http_state_run(ready_states,
	    sizeof(ready_states) / sizeof(ready_states[0]), req));
}

int
health_metrics(struct http_request *req)
{
	struct kore_buf	*buf;

	buf = kore_buf_alloc(8192);
	tg_metrics_render(buf);
	http_response_header(req, "content-type",
	    "text/plain; version=0.0.4; charset=utf-8");
	http_response(req, 200, buf->data, buf->offset);
	kore_buf_free(buf);

	return (KORE_RESULT_OK);
}

static int
ready_query(struct http_request *req)
{
	struct tg_db	*db;

	db = tg_state_alloc(req, sizeof(*db), ready_free);
	tg_db_start(db, req, TG_DB_RETRY, "SELECT 1", 0, NULL);
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
		kore_log(LOG_NOTICE, "rid=%s not ready: %s",
		    tg_request_id(req), db->errmsg ? db->errmsg : "?");
		tg_error_retry(req, 503, "unavailable", 1,
		    "the database is unavailable");
		return (HTTP_STATE_COMPLETE);
	}

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
