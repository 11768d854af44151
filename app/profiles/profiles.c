/*
 * The profiles module (tg_profiles_module): the signed-in user's own
 * account under /api/me.
 *
 *   GET    /api/me           the account (auth_me)
 *   PATCH  /api/me/profile   display_name, avatar_url, locale, timezone,
 *                            default_model (validate.c; NULL clears)
 *   DELETE /api/me           close the account (user_close)
 *
 * Every route takes a session access token (checked by the identity
 * module) and every statement is scoped to that token's user and
 * re-checks that its session is still live (session_is_active), so a
 * signed-out session's unexpired token is refused here even when the
 * sign-out happened on another host.
 */

#include <string.h>

#include "tollgate.h"
#include "db.h"
#include "auth/auth.h"
#include "profiles/validate.h"

#define PROFILE_FIELDS	5

struct me_state {
	struct tg_db	db;
};

static int	me_get(struct http_request *);
static int	me_get_start(struct http_request *);
static int	me_get_wait(struct http_request *);
static int	me_patch(struct http_request *);
static int	me_patch_start(struct http_request *);
static int	me_patch_wait(struct http_request *);
static int	me_delete(struct http_request *);
static int	me_delete_start(struct http_request *);
static int	me_delete_wait(struct http_request *);
static void	me_free(struct http_request *, void *);
static void	me_session_ended(struct http_request *);
static void	me_send(struct http_request *, const char *);

static struct http_state	me_get_states[] = {
	KORE_HTTP_STATE(me_get_start),
	KORE_HTTP_STATE(me_get_wait),
};

static struct http_state	me_patch_states[] = {
	KORE_HTTP_STATE(me_patch_start),
	KORE_HTTP_STATE(me_patch_wait),
};

static struct http_state	me_delete_states[] = {
	KORE_HTTP_STATE(me_delete_start),
	KORE_HTTP_STATE(me_delete_wait),
};

#define STATE_START	0
#define STATE_WAIT	1

static const char	sql_me[] = "SELECT auth_me($1::uuid, $2::uuid)";

static const char	sql_patch[] =
	"SELECT result, profile FROM profile_update($1::uuid, $2::uuid, "
	"$3::text[], $4, $5, $6, $7, $8)";

static const char	sql_close[] =
	"SELECT result, session_id FROM user_close($1::uuid, $2::uuid)";

/* The fields, in the order of profile_update()'s parameters. */
static const struct {
	const char	*name;
	int		(*ok)(const char *);
	const char	*rule;
} profile_fields[PROFILE_FIELDS] = {
	{ "display_name", profiles_display_name_ok, "1 to 80 characters, no "
	    "control or direction-override characters" },
	{ "avatar_url", profiles_avatar_url_ok, "an https:// URL of at most "
	    "2048 bytes" },
	{ "locale", profiles_locale_ok, "a BCP 47 language tag like ko-KR" },
	{ "timezone", profiles_timezone_ok, "an IANA time zone like "
	    "Asia/Seoul" },
	{ "default_model", profiles_default_model_ok, "provider:model, "
	    "provider/model or an alias name" },
};

static const struct tg_route	profiles_routes[] = {
	{ HTTP_METHOD_GET, "/api/me", me_get, TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_DELETE, "/api/me", me_delete, TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_PATCH, "/api/me/profile", me_patch, TG_AUTH_SESSION, 0,
	    16384 },
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
	int		 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	if ((doc = tg_db_value(&st->db, 0, 0)) == NULL) {
		me_session_ended(req);
		return (HTTP_STATE_COMPLETE);
	}

	me_send(req, doc);
	return (HTTP_STATE_COMPLETE);
}

static int
me_patch(struct http_request *req)
{
	return (http_state_run(me_patch_states,
	    sizeof(me_patch_states) / sizeof(me_patch_states[0]), req));
}

/*
 * Every field present must be a string that passes its check, or null
 * (clears it); unknown fields are refused, so a typo is not silently
 * ignored. Nothing is written unless all of them pass.
 */
static int
me_patch_start(struct http_request *req)
{
	struct tg_ctx	*ctx = tg_ctx(req);
	struct me_state	*st;
	struct kore_buf	 names;
	json_t		*body, *v;
	const char	*key, *params[8];
	int		 i, n;

	if ((body = tg_http_body_json(req)) == NULL)
		return (HTTP_STATE_COMPLETE);

	json_object_foreach(body, key, v) {
		for (i = 0; i < PROFILE_FIELDS; i++) {
			if (!strcmp(key, profile_fields[i].name))
				break;
		}
		if (i == PROFILE_FIELDS) {
			tg_error(req, 400, "invalid_value", key, "unknown "
			    "profile field \"%.64s\"", key);
			json_decref(body);
			return (HTTP_STATE_COMPLETE);
		}
		if (!json_is_null(v) && (!json_is_string(v) ||
		    !profile_fields[i].ok(json_string_value(v)))) {
			tg_error(req, 400, "invalid_value", key, "%s must be "
			    "%s, or null", key, profile_fields[i].rule);
			json_decref(body);
			return (HTTP_STATE_COMPLETE);
		}
	}

	kore_buf_init(&names, 128);
	kore_buf_append(&names, "{", 1);
	n = 0;
	for (i = 0; i < PROFILE_FIELDS; i++) {
		v = json_object_get(body, profile_fields[i].name);
		params[3 + i] = json_string_value(v);	/* NULL for null/absent */
		if (v == NULL)
			continue;
		kore_buf_appendf(&names, "%s%s", n++ > 0 ? "," : "",
		    profile_fields[i].name);
	}
	kore_buf_append(&names, "}", 1);

	st = tg_state_alloc(req, sizeof(*st), me_free);
	params[0] = ctx->who.user_id;
	params[1] = ctx->who.session_id;
	params[2] = kore_buf_stringify(&names, NULL);
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_patch, 8, params);
	kore_buf_cleanup(&names);
	json_decref(body);

	req->fsm_state = STATE_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
me_patch_wait(struct http_request *req)
{
	struct me_state	*st = tg_state(req);
	const char	*result, *doc;
	int		 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_value(&st->db, 0, 0);
	if (result != NULL && !strcmp(result, "invalid_timezone")) {
		tg_error(req, 400, "invalid_value", "timezone", "unknown time "
		    "zone; use an IANA name like Asia/Seoul");
		return (HTTP_STATE_COMPLETE);
	}
	if (result == NULL || strcmp(result, "ok") != 0 ||
	    (doc = tg_db_value(&st->db, 0, 1)) == NULL) {
		me_session_ended(req);
		return (HTTP_STATE_COMPLETE);
	}

	me_send(req, doc);
	return (HTTP_STATE_COMPLETE);
}

static int
me_delete(struct http_request *req)
{
	return (http_state_run(me_delete_states,
	    sizeof(me_delete_states) / sizeof(me_delete_states[0]), req));
}

static int
me_delete_start(struct http_request *req)
{
	struct tg_ctx	*ctx = tg_ctx(req);
	struct me_state	*st;
	const char	*params[2];

	st = tg_state_alloc(req, sizeof(*st), me_free);
	params[0] = ctx->who.user_id;
	params[1] = ctx->who.session_id;
	tg_db_start(&st->db, req, 0, sql_close, 2, params);

	req->fsm_state = STATE_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
me_delete_wait(struct http_request *req)
{
	struct me_state	*st = tg_state(req);
	const char	*result, *sid;
	int		 i, rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_value(&st->db, 0, 0);
	if (result == NULL || strcmp(result, "ok") != 0) {
		me_session_ended(req);
		return (HTTP_STATE_COMPLETE);
	}

	for (i = 0; i < tg_db_ntuples(&st->db); i++) {
		if ((sid = tg_db_value(&st->db, i, 1)) != NULL)
			auth_revoke_broadcast(sid);
	}
	kore_log(LOG_NOTICE, "rid=%s account %s closed", tg_request_id(req),
	    tg_ctx(req)->who.user_id);

	auth_set_cookie(req, auth_refresh_cookie(), "", 0);
	tg_http_no_content(req);
	return (HTTP_STATE_COMPLETE);
}

static void
me_free(struct http_request *req, void *arg)
{
	struct me_state	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
}

/* A document built by PostgreSQL, answered in our compact JSON. */
static void
me_send(struct http_request *req, const char *text)
{
	json_t	*doc;

	if ((doc = json_loads(text, 0, NULL)) == NULL) {
		tg_error_internal(req, "unreadable JSON from the database");
		return;
	}
	tg_http_json_steal(req, 200, doc);
}

static void
me_session_ended(struct http_request *req)
{
	auth_unauthorized(req, "invalid_token",
	    "this session has ended; sign in again");
}
