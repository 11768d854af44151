/*
 * Session routes: POST /auth/dev/login, /auth/refresh, /auth/logout.
 *
 * Each is one SQL function call (sql/0100_identity.sql) between two
 * states. The refresh token travels only in the HttpOnly cookie and is
 * replaced on every refresh; its plain value exists in memory for the
 * length of the request and never reaches the database or the log.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth.h"
#include "auth/cookie.h"
#include "metrics.h"

struct session_state {
	struct tg_db	db;
	char		refresh[AUTH_TOKEN_LEN + 1];
	char		sid[AUTH_UUID_LEN + 1];
};

static int	dev_login_start(struct http_request *);
static int	dev_login_wait(struct http_request *);
static int	refresh_start(struct http_request *);
static int	refresh_wait(struct http_request *);
static int	logout_start(struct http_request *);
static int	logout_wait(struct http_request *);
static void	session_free(struct http_request *, void *);
static int	session_tokens(struct http_request *, const char *,
		    const char *, const char *);

static struct http_state	dev_login_states[] = {
	KORE_HTTP_STATE(dev_login_start),
	KORE_HTTP_STATE(dev_login_wait),
};

static struct http_state	refresh_states[] = {
	KORE_HTTP_STATE(refresh_start),
	KORE_HTTP_STATE(refresh_wait),
};

static struct http_state	logout_states[] = {
	KORE_HTTP_STATE(logout_start),
	KORE_HTTP_STATE(logout_wait),
};

#define STATE_START	0
#define STATE_WAIT	1

/* Column 3: whether the session's user is suspended (403, not 401). */
static const char	sql_refresh[] =
	"SELECT r.result, r.user_id, r.session_id, EXISTS (SELECT 1 FROM "
	"users u WHERE u.id = r.user_id AND u.status = 'suspended') "
	"FROM auth_refresh(decode($1, 'hex'), decode($2, 'hex')) r";

static const char	sql_logout[] =
	"UPDATE sessions SET revoked_at = now(), revoke_reason = 'logout' "
	"WHERE revoked_at IS NULL AND id = coalesce($1::uuid, "
	"(SELECT session_id FROM refresh_tokens "
	"WHERE token_hash = decode($2, 'hex'))) RETURNING id";

int
auth_dev_login(struct http_request *req)
{
	return (http_state_run(dev_login_states,
	    sizeof(dev_login_states) / sizeof(dev_login_states[0]), req));
}

int
auth_refresh(struct http_request *req)
{
	return (http_state_run(refresh_states,
	    sizeof(refresh_states) / sizeof(refresh_states[0]), req));
}

int
auth_logout(struct http_request *req)
{
	return (http_state_run(logout_states,
	    sizeof(logout_states) / sizeof(logout_states[0]), req));
}

/*
 * POST /auth/dev/login {"email"}: a finished sign-in as the dev
 * identity of that email (counted as verified), for `make run` and the
 * tests. Off unless TOLLGATE_DEV_LOGIN=1, which production refuses.
 */
static int
dev_login_start(struct http_request *req)
{
	struct session_state	*st;
	struct auth_identity	 id;
	json_t			*body, *v;
	char			 email[256];
	size_t			 i, len;

	if (!tg_conf.dev_login || tg_conf.production) {
		tg_error(req, 404, "not_found", NULL, "dev login is off "
		    "(TOLLGATE_DEV_LOGIN)");
		return (HTTP_STATE_COMPLETE);
	}

	if ((body = tg_http_body_json(req)) == NULL)
		return (HTTP_STATE_COMPLETE);
	if ((v = json_object_get(body, "email")) == NULL || json_is_null(v)) {
		json_decref(body);
		tg_error(req, 400, "missing_field", "email",
		    "\"email\" is required");
		return (HTTP_STATE_COMPLETE);
	}
	if (!json_is_string(v) || !auth_email_valid(json_string_value(v))) {
		json_decref(body);
		tg_error(req, 400, "invalid_value", "email",
		    "\"email\" must be an email address");
		return (HTTP_STATE_COMPLETE);
	}
	len = strlen(json_string_value(v));
	for (i = 0; i <= len; i++)
		email[i] = tolower((unsigned char)json_string_value(v)[i]);
	json_decref(body);

	/* The dev identity: its email is the subject, no name or avatar. */
	memset(&id, 0, sizeof(id));
	(void)kore_strlcpy(id.subject, email, sizeof(id.subject));
	(void)kore_strlcpy(id.email, email, sizeof(id.email));
	id.email_verified = 1;

	st = tg_state_alloc(req, sizeof(*st), session_free);
	if (!auth_login_start(req, &st->db, "dev", &id, NULL, st->refresh))
		return (HTTP_STATE_COMPLETE);

	req->fsm_state = STATE_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
dev_login_wait(struct http_request *req)
{
	struct session_state	*st = tg_state(req);
	const char		*result;
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_value(&st->db, 0, 0);
	if (result == NULL || strcmp(result, "ok") != 0) {
		auth_login_refused(req, &st->db);
		return (HTTP_STATE_COMPLETE);
	}

	if (session_tokens(req, tg_db_value(&st->db, 0, 1),
	    tg_db_value(&st->db, 0, 2), st->refresh))
		tg_metrics_add(auth_metric_signins[AUTH_METRIC_DEV], 1);
	return (HTTP_STATE_COMPLETE);
}

/*
 * POST /auth/refresh: the refresh cookie (behind the CSRF guard) for a
 * new access token and a rotated cookie.
 */
static int
refresh_start(struct http_request *req)
{
	struct session_state	*st;
	char			 given[AUTH_TOKEN_LEN + 1];
	char			 old_hash[AUTH_HASH_HEX_LEN + 1];
	char			 new_hash[AUTH_HASH_HEX_LEN + 1];
	const char		*params[2];
	int			 rc;

	if (!auth_csrf_check(req))
		return (HTTP_STATE_COMPLETE);

	rc = auth_request_cookie(req, auth_refresh_cookie(), given,
	    sizeof(given));
	if (rc == AUTH_COOKIE_ABSENT) {
		auth_unauthorized(req, "invalid_token",
		    "no refresh token; sign in first");
		return (HTTP_STATE_COMPLETE);
	}
	if (rc != AUTH_COOKIE_FOUND || !auth_token_syntax(given)) {
		auth_set_cookie(req, auth_refresh_cookie(), "", 0);
		auth_unauthorized(req, "invalid_token",
		    "invalid refresh token; sign in again");
		return (HTTP_STATE_COMPLETE);
	}

	st = tg_state_alloc(req, sizeof(*st), session_free);
	auth_random_token(st->refresh);
	if (!auth_hash(AUTH_HASH_REFRESH, given, old_hash) ||
	    !auth_hash(AUTH_HASH_REFRESH, st->refresh, new_hash)) {
		tg_error_internal(req, "keyed hash failed");
		return (HTTP_STATE_COMPLETE);
	}
	sodium_memzero(given, sizeof(given));

	params[0] = old_hash;
	params[1] = new_hash;
	/* A retried rotation falls into the grace window: safe to repeat. */
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_refresh, 2, params);

	req->fsm_state = STATE_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
refresh_wait(struct http_request *req)
{
	struct session_state	*st = tg_state(req);
	const char		*result, *sid;
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_value(&st->db, 0, 0);
	sid = tg_db_value(&st->db, 0, 2);
	if (result != NULL && strcmp(result, "ok") == 0) {
		(void)session_tokens(req, tg_db_value(&st->db, 0, 1), sid,
		    st->refresh);
		return (HTTP_STATE_COMPLETE);
	}

	/* Suspended: the cookie stays, for when the user is reinstated. */
	if (result != NULL && strcmp(result, "revoked") == 0 &&
	    tg_db_value(&st->db, 0, 3) != NULL &&
	    strcmp(tg_db_value(&st->db, 0, 3), "t") == 0) {
		auth_suspended(req);
		return (HTTP_STATE_COMPLETE);
	}

	auth_set_cookie(req, auth_refresh_cookie(), "", 0);

	if (result != NULL && strcmp(result, "reused") == 0) {
		kore_log(LOG_NOTICE, "rid=%s refresh token reuse: session %s "
		    "revoked", tg_request_id(req), sid != NULL ? sid : "?");
		tg_metrics_add(auth_metric_refresh_reuse, 1);
		if (sid != NULL)
			auth_revoke_broadcast(sid);
		auth_unauthorized(req, "invalid_token", "this refresh token "
		    "was already used; the session has been ended");
	} else if (result != NULL && strcmp(result, "expired") == 0) {
		auth_unauthorized(req, "token_expired",
		    "the session has expired; sign in again");
	} else {
		auth_unauthorized(req, "invalid_token",
		    "invalid refresh token; sign in again");
	}

	return (HTTP_STATE_COMPLETE);
}

/*
 * POST /auth/logout: ends the session of the bearer token or, without
 * one, of the refresh cookie (behind the CSRF guard). Always clears the
 * cookie; 204 also when there was nothing to end.
 */
static int
logout_start(struct http_request *req)
{
	struct session_state	*st;
	struct auth_jwt_claims	 c;
	char			 given[AUTH_TOKEN_LEN + 1];
	char			 hash[AUTH_HASH_HEX_LEN + 1];
	const char		*params[2];
	int			 rc;

	params[0] = NULL;
	params[1] = NULL;

	switch (auth_bearer_claims(req, &c)) {
	case -1:
		return (HTTP_STATE_COMPLETE);
	case 1:
		params[0] = c.sid;
		break;
	default:
		rc = auth_request_cookie(req, auth_refresh_cookie(), given,
		    sizeof(given));
		if (rc == AUTH_COOKIE_ABSENT)
			break;
		if (!auth_csrf_check(req))
			return (HTTP_STATE_COMPLETE);
		if (rc == AUTH_COOKIE_FOUND && auth_token_syntax(given) &&
		    auth_hash(AUTH_HASH_REFRESH, given, hash))
			params[1] = hash;
		break;
	}

	auth_set_cookie(req, auth_refresh_cookie(), "", 0);
	if (params[0] == NULL && params[1] == NULL) {
		tg_http_no_content(req);
		return (HTTP_STATE_COMPLETE);
	}

	st = tg_state_alloc(req, sizeof(*st), session_free);
	if (params[0] != NULL)
		(void)kore_strlcpy(st->sid, params[0], sizeof(st->sid));
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_logout, 2, params);

	req->fsm_state = STATE_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
logout_wait(struct http_request *req)
{
	struct session_state	*st = tg_state(req);
	int			 i, rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	for (i = 0; i < tg_db_ntuples(&st->db); i++)
		auth_revoke_broadcast(tg_db_value(&st->db, i, 0));
	/* Already revoked elsewhere: make sure this host forgets it too. */
	if (st->sid[0] != '\0')
		auth_revoke_broadcast(st->sid);

	tg_http_no_content(req);
	return (HTTP_STATE_COMPLETE);
}

static void
session_free(struct http_request *req, void *arg)
{
	struct session_state	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
	sodium_memzero(st->refresh, sizeof(st->refresh));
}

/*
 * The answer of a sign-in or refresh: a fresh access token in the body
 * and the refresh token in its cookie.
 */
static int
session_tokens(struct http_request *req, const char *user_id,
    const char *sid, const char *refresh)
{
	json_t	*doc;
	char	*token;

	if (user_id == NULL || sid == NULL) {
		tg_error_internal(req, "session row without a user or a "
		    "session id");
		return (0);
	}

	token = auth_jwt_issue(auth_jwt_key_current(), user_id, sid, auth_now(),
	    AUTH_JWT_TTL);
	if (token == NULL) {
		tg_error_internal(req, "cannot mint an access token");
		return (0);
	}

	auth_set_cookie(req, auth_refresh_cookie(), refresh,
	    AUTH_REFRESH_MAX_AGE);
	doc = json_pack("{s:s, s:s, s:i}", "access_token", token,
	    "token_type", "Bearer", "expires_in", AUTH_JWT_TTL);
	free(token);
	tg_http_json_steal(req, 200, doc);

	return (1);
}
