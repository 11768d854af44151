/*
 * The profiles module (tg_profiles_module): the signed-in user's own
 * account under /api/me. Every route takes a session access token
 * (checked by the identity module) and every query is scoped to that
 * token's user and re-checks that its session is still live
 * (session_is_active), so a signed-out session's unexpired token is
 * refused here even when the sign-out happened on another host.
 */

#include <string.h>

#include "tollgate.h"
#include "db.h"

struct me_state {
	struct tg_db	db;
};

static int	me_get(struct http_request *);
static int	me_get_start(struct http_request *);
static int	me_get_wait(struct http_request *);
static void	me_free(struct http_request *, void *);
static void	me_session_ended(struct http_request *);

static struct http_state	me_get_states[] = {
	KORE_HTTP_STATE(me_get_start),
	KORE_HTTP_STATE(me_get_wait),
};

#define STATE_START	0
#define STATE_WAIT	1

static const char	sql_me[] = "SELECT auth_me($1::uuid, $2::uuid)";

static const struct tg_route	profiles_routes[] = {
	{ HTTP_METHOD_GET, "/api/me", me_get, TG_AUTH_SESSION, 0, 0 },
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_profiles_module = {
	"profiles", NULL, NULL, NULL, profiles_routes
};

static int
me_get(struct http_request *req)
{
	return (http_state_run(me_get_states,
	    sizeof(me_get_states) / sizeof(me_get_states[0]), req));
}

static int
me_get_start(struct http_request *req)
{
	struct tg_ctx	*ctx = tg_ctx(req);
	struct me_state	*st;
	const char	*params[2];

	st = tg_state_alloc(req, sizeof(*st), me_free);
	params[0] = ctx->who.user_id;
	params[1] = ctx->who.session_id;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_me, 2, params);

	req->fsm_state = STATE_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
me_get_wait(struct http_request *req)
{
	struct me_state	*st = tg_state(req);
	const char	*doc;

	switch (tg_db_poll(&st->db)) {
	case TG_DB_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_DB_FAILED:
		tg_db_error(req, &st->db);
		return (HTTP_STATE_COMPLETE);
	}

	if ((doc = tg_db_value(&st->db, 0, 0)) == NULL) {
		me_session_ended(req);
		return (HTTP_STATE_COMPLETE);
	}

	http_response_header(req, "content-type", "application/json");
	http_response_header(req, "cache-control", "no-store");
	http_response(req, 200, doc, strlen(doc));
	return (HTTP_STATE_COMPLETE);
}

static void
me_free(struct http_request *req, void *arg)
{
	struct me_state	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
}

static void
me_session_ended(struct http_request *req)
{
	http_response_header(req, "www-authenticate",
	    "Bearer error=\"invalid_token\"");
	tg_error(req, 401, "invalid_token",
	    NULL, "this session has ended; sign in again");
}
