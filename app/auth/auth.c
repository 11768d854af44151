/*
 * The identity module (tg_auth_module): its routes, its per-worker state
 * and the session check every TG_AUTH_SESSION route goes through.
 *
 * Sessions (see sql/0100_identity.sql and docs/auth.md):
 *   - a sign-in opens a session row and hands the browser a refresh
 *     token in an HttpOnly cookie (Path=/auth); the database keeps only
 *     its keyed hash;
 *   - POST /auth/refresh trades it for a new one and a short access
 *     token (HS256 JWT, AUTH_JWT_TTL) that the /api routes take as
 *     "Authorization: Bearer";
 *   - access tokens are checked here without the database. A session
 *     revoked on this host (logout, refresh-token reuse, account closed)
 *     is put into every worker's revocation set at once (a Kore message
 *     to all workers), so its unexpired access tokens stop working
 *     immediately; routes that must also see revocations made by other
 *     hosts check session_is_active() in their SQL.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/cookie.h"
#include "auth/revoked.h"
#include "cors.h"
#include "metrics.h"
#include "lex.h"
#include "profiles/validate.h"

struct auth_revoked_msg {
	char		sid[AUTH_UUID_LEN + 1];
	int64_t		until;
};

static void	auth_parent_init(struct tg_config_errors *);
static void	auth_worker_init(void);
static void	auth_worker_teardown(void);
static int	auth_session_authenticate(struct http_request *,
		    struct tg_principal *);
static void	auth_revoked_recv(struct kore_msg *, const void *);
static char	*auth_build_admin_array(void);

/*
 * The one statement that ends every sign-in (see sql/0100_identity.sql):
 * $1 provider, $2 subject, $3 subject hash (hex), $4 email,
 * $5 email verified, $6 display name, $7 avatar url, $8 admin emails,
 * $9 signup micros, $10 refresh token hash (hex), $11 user to link.
 * Column 4 says whether a refusal is because the user is suspended.
 */
static const char	sql_login[] =
	"SELECT result, user_id, session_id, created, EXISTS (SELECT 1 "
	"FROM identities i JOIN users u ON u.id = i.user_id WHERE "
	"i.provider = $1 AND i.subject = $2 AND u.status = 'suspended') "
	"FROM auth_login("
	"$1, $2, decode($3, 'hex'), $4, $5::boolean, $6, $7, "
	"$8::text[], $9::bigint, decode($10, 'hex'), $11::uuid)";

static const struct tg_route	auth_routes[] = {
	{ HTTP_METHOD_POST, "/auth/dev/login", auth_dev_login, TG_AUTH_NONE,
	    TG_ROUTE_RATELIMIT_IP, 4096 },
	{ HTTP_METHOD_POST, "/auth/refresh", auth_refresh, TG_AUTH_NONE,
	    TG_ROUTE_RATELIMIT_IP, 4096 },
	{ HTTP_METHOD_POST, "/auth/logout", auth_logout, TG_AUTH_NONE,
	    0, 4096 },
	{ HTTP_METHOD_GET, "/auth/providers", auth_providers, TG_AUTH_NONE,
	    0, 0 },
	{ HTTP_METHOD_GET, "/auth/{}/start", auth_oauth_start, TG_AUTH_NONE,
	    TG_ROUTE_NO_HEAD | TG_ROUTE_RATELIMIT_IP, 0 },
	{ HTTP_METHOD_GET, "/auth/{}/callback", auth_oauth_callback,
	    TG_AUTH_NONE, TG_ROUTE_NO_HEAD | TG_ROUTE_RATELIMIT_IP, 0 },
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_auth_module = {
	"auth", auth_parent_init, auth_worker_init, auth_worker_teardown,
	auth_routes
};

static struct auth_jwt_key	 key_storage;
static unsigned int		 key_generation = -1U;
static char			*admin_array;
static unsigned int		 admin_array_generation = -1U;
static struct auth_revoked	*revoked;

int	auth_metric_signins[4] = { -1, -1, -1, -1 };
int	auth_metric_signin_refused = -1;
int	auth_metric_refresh_reuse = -1;

int64_t
auth_now(void)
{
	return ((int64_t)time(NULL));
}

/* Secure cookies unless this is dev served over plain http. */
int
auth_cookie_secure(void)
{
	return (tg_conf.public_https || tg_conf.production);
}

/* __Secure- names where the browser enforces what the prefix promises. */
const char *
auth_refresh_cookie(void)
{
	return (auth_cookie_secure() ? "__Secure-tg_refresh" : "tg_refresh");
}

const char *
auth_flow_cookie(void)
{
	return (auth_cookie_secure() ? "__Secure-tg_oauth" : "tg_oauth");
}

/* See auth_cookie_get(): AUTH_COOKIE_FOUND, _ABSENT or _INVALID. */
int
auth_request_cookie(struct http_request *req, const char *name, char *out,
    size_t len)
{
	return (auth_cookie_get(tg_http_header(req, "cookie"), name, out,
	    len));
}

/* Set (max_age > 0) or delete (0) one of our cookies. */
void
auth_set_cookie(struct http_request *req, const char *name,
    const char *value, long max_age)
{
	char	buf[AUTH_SET_COOKIE_MAX];
	int	flags;

	/*
	 * Only the refresh cookie goes cross-site (TOLLGATE_COOKIE_SAMESITE,
	 * docs/frontend.md); the flow cookie comes back on the provider's
	 * top-level redirect, which Lax allows.
	 */
	flags = auth_cookie_secure() ? AUTH_COOKIE_SECURE : 0;
	if (tg_conf.cookie_samesite_none &&
	    !strcmp(name, auth_refresh_cookie()))
		flags |= AUTH_COOKIE_SAMESITE_NONE;

	if (!auth_cookie_format(buf, sizeof(buf), name, value,
	    AUTH_COOKIE_PATH, max_age, flags))
		fatal("auth_set_cookie: cookie %s does not fit", name);

	http_response_header(req, "set-cookie", buf);
}

/* The keyed hash (hex) of a secret we store, under TOLLGATE_KEY_PEPPER. */
int
auth_hash(const char *purpose, const char *data,
    char out[AUTH_HASH_HEX_LEN + 1])
{
	return (auth_keyed_hash(tg_conf.key_pepper, tg_conf.key_pepper_len,
	    purpose, data, strlen(data), out));
}

/*
 * A session was revoked here: every worker of this process forgets its
 * access tokens now (they would otherwise live up to their expiry).
 */
void
auth_revoke_broadcast(const char *sid)
{
	struct auth_revoked_msg	msg;

	if (!tg_uuid_canonical(sid))
		return;

	memset(&msg, 0, sizeof(msg));
	memcpy(msg.sid, sid, AUTH_UUID_LEN);
	msg.until = auth_now() + AUTH_JWT_TTL_MAX + AUTH_JWT_LEEWAY;

	if (revoked != NULL)
		(void)auth_revoked_add(revoked, msg.sid, msg.until, auth_now());
	kore_msg_send(KORE_MSG_WORKER_ALL, AUTH_MSG_REVOKED, &msg, sizeof(msg));
}

/*
 * The CSRF guard of cookie-authenticated POSTs; answers 403 and returns
 * 0 when it fails.
 */
int
auth_csrf_check(struct http_request *req)
{
	const char	*origin;

	/* A UI on another origin (TOLLGATE_CORS_ORIGINS) is the UI too. */
	origin = tg_http_header(req, "origin");
	if (tg_cors_listed(&tg_conf, origin))
		return (1);
	if (auth_csrf_ok(origin, tg_http_header(req, "x-tollgate-csrf"),
	    tg_conf.ui_origin))
		return (1);

	tg_error(req, 403, "csrf_failed", NULL, "this request needs an Origin "
	    "header of the UI's origin (TOLLGATE_UI_URL or "
	    "TOLLGATE_CORS_ORIGINS) or the header X-Tollgate-CSRF: 1");
	return (0);
}

/* 401 with the RFC 6750 challenge. */
void
auth_unauthorized(struct http_request *req, const char *code,
    const char *message)
{
	http_response_header(req, "www-authenticate",
	    !strcmp(code, "token_expired") ?
	    "Bearer error=\"invalid_token\", error_description=\"expired\"" :
	    "Bearer error=\"invalid_token\"");
	tg_error(req, 401, code, NULL, "%s", message);
}

/*
 * The verified claims of the request's bearer token. Returns 1, 0 when
 * there is no bearer token (nothing answered), -1 when it is bad (401
 * answered).
 */
int
auth_bearer_claims(struct http_request *req, struct auth_jwt_claims *c)
{
	const char	*token;
	int		 rc;

	if ((token = tg_http_bearer(req)) == NULL)
		return (0);

	rc = auth_jwt_verify(auth_jwt_key_current(), token, auth_now(), c);
	if (rc == AUTH_JWT_EXPIRED) {
		auth_unauthorized(req, "token_expired",
		    "the access token has expired; refresh it");
		return (-1);
	}
	if (rc != AUTH_JWT_OK) {
		kore_log(LOG_INFO, "rid=%s access token refused: %s",
		    tg_request_id(req), auth_jwt_strerror(rc));
		auth_unauthorized(req, "invalid_token",
		    "invalid access token");
		return (-1);
	}
	if (auth_revoked_has(revoked, c->sid, auth_now())) {
		auth_unauthorized(req, "invalid_token",
		    "this session has ended; sign in again");
		return (-1);
	}
	/* Signed out or suspended in another process (tg_sessions). */
	switch (tg_session_guard != NULL ? tg_session_guard(c->sub, c->sid) :
	    TG_SESSION_LIVE) {
	case TG_SESSION_ENDED:
		auth_unauthorized(req, "invalid_token",
		    "this session has ended; sign in again");
		return (-1);
	case TG_SESSION_SUSPENDED:
		auth_suspended(req);
		return (-1);
	}

	return (1);
}

/* 403 account_suspended: an admin suspended this user (docs/admin.md). */
void
auth_suspended(struct http_request *req)
{
	tg_error(req, 403, "account_suspended", NULL,
	    "this account is suspended");
}

/*
 * A sign-in that auth_login() refused (sql_login's answer in db): 403,
 * account_suspended when that is why.
 */
void
auth_login_refused(struct http_request *req, struct tg_db *db)
{
	const char	*v = tg_db_value(db, 0, 4);

	if (v != NULL && !strcmp(v, "t")) {
		auth_suspended(req);
		return;
	}
	tg_error(req, 403, "account_disabled", NULL,
	    "this account cannot sign in");
}

/*
 * Start the statement that ends a sign-in as id at provider (or, with
 * link_user, links id to that user), for a new refresh token made into
 * refresh. Returns 0 when it has answered 500 instead.
 */
int
auth_login_start(struct http_request *req, struct tg_db *db,
    const char *provider, const struct auth_identity *id,
    const char *link_user, char refresh[AUTH_TOKEN_LEN + 1])
{
	char		 subject[AUTH_SUBJECT_MAX + 16];
	char		 sub_hash[AUTH_HASH_HEX_LEN + 1];
	char		 rt_hash[AUTH_HASH_HEX_LEN + 1];
	char		 micros[32];
	const char	*params[11];

	auth_random_token(refresh);
	(void)snprintf(subject, sizeof(subject), "%s:%s", provider,
	    id->subject);
	(void)snprintf(micros, sizeof(micros), "%lld",
	    (long long)tg_conf.signup_credits_micros);
	if (!auth_hash(AUTH_HASH_SUBJECT, subject, sub_hash) ||
	    !auth_hash(AUTH_HASH_REFRESH, refresh, rt_hash)) {
		tg_error_internal(req, "keyed hash failed");
		return (0);
	}

	params[0] = provider;
	params[1] = id->subject;
	params[2] = sub_hash;
	params[3] = id->email[0] != '\0' ? id->email : NULL;
	params[4] = id->email_verified ? "true" : "false";
	/* What the provider says about the profile must pass our checks. */
	params[5] = profiles_display_name_ok(id->name) ? id->name : NULL;
	params[6] = profiles_avatar_url_ok(id->avatar_url) ?
	    id->avatar_url : NULL;
	params[7] = auth_admin_array();
	params[8] = micros;
	params[9] = rt_hash;
	params[10] = link_user;
	tg_db_start(db, req, 0, sql_login, 11, params);

	return (1);
}

static void
auth_parent_init(struct tg_config_errors *errs)
{
	static const char	*labels[4] = {
		"provider=\"google\"", "provider=\"github\"",
		"provider=\"kakao\"", "provider=\"dev\""
	};
	int			 i;

	(void)errs;

	for (i = 0; i < 4; i++) {
		auth_metric_signins[i] = tg_metrics_declare(TG_METRIC_COUNTER,
		    "tollgate_auth_signins_total", "Finished sign-ins (sessions "
		    "opened or identities linked), by provider.", labels[i],
		    NULL, 0);
	}
	auth_metric_signin_refused = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_auth_signins_refused_total", "OAuth callbacks refused "
	    "(state, code, id token, provider errors).", NULL, NULL, 0);
	auth_metric_refresh_reuse = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_auth_refresh_reuse_total", "Sessions revoked because a "
	    "spent refresh token was presented again.", NULL, NULL, 0);

}

/*
 * The token key from TOLLGATE_JWT_SECRET: the first secret signs, the
 * others still verify. Rebuilt after a reload (tg_config_generation);
 * it points into tg_conf, whose old values a reload keeps alive.
 */
const struct auth_jwt_key *
auth_jwt_key_current(void)
{
	int	i;

	if (key_generation == tg_config_generation)
		return (&key_storage);

	memset(&key_storage, 0, sizeof(key_storage));
	if (tg_conf.jwt_secrets_count > 0) {
		key_storage.key = tg_conf.jwt_secrets[0];
		key_storage.keylen = tg_conf.jwt_secret_lens[0];
	}
	for (i = 1; i < tg_conf.jwt_secrets_count &&
	    key_storage.nold < AUTH_JWT_OLD_MAX; i++) {
		key_storage.old[key_storage.nold] = tg_conf.jwt_secrets[i];
		key_storage.oldlen[key_storage.nold++] =
		    tg_conf.jwt_secret_lens[i];
	}
	key_storage.issuer = tg_conf.public_url;
	key_storage.audience = AUTH_AUDIENCE;
	key_generation = tg_config_generation;

	return (&key_storage);
}

/* TOLLGATE_ADMIN_EMAILS as a text[] literal, rebuilt after a reload. */
const char *
auth_admin_array(void)
{
	if (admin_array != NULL &&
	    admin_array_generation == tg_config_generation)
		return (admin_array);

	/* Statements copy their parameters: the old one may go. */
	kore_free(admin_array);
	admin_array = auth_build_admin_array();
	admin_array_generation = tg_config_generation;

	return (admin_array);
}

static void
auth_worker_init(void)
{
	if ((revoked = auth_revoked_new()) == NULL)
		fatal("auth: out of memory");
	if (!kore_msg_register(AUTH_MSG_REVOKED, auth_revoked_recv))
		fatal("auth: kore message id %d is taken", AUTH_MSG_REVOKED);

	tg_session_authenticate = auth_session_authenticate;
}

static void
auth_worker_teardown(void)
{
	auth_oauth_teardown();
	auth_revoked_free(revoked);
	revoked = NULL;
	kore_free(admin_array);
	admin_array = NULL;
}

/* tg_session_authenticate: a valid bearer access token of a live session. */
static int
auth_session_authenticate(struct http_request *req, struct tg_principal *who)
{
	struct auth_jwt_claims	c;

	switch (auth_bearer_claims(req, &c)) {
	case 1:
		break;
	case 0:
		auth_unauthorized(req, "invalid_token",
		    "this route needs \"Authorization: Bearer <access token>\"");
		return (0);
	default:
		return (0);
	}

	(void)kore_strlcpy(who->user_id, c.sub, sizeof(who->user_id));
	(void)kore_strlcpy(who->session_id, c.sid, sizeof(who->session_id));
	who->is_admin = 0;	/* admin is checked in SQL (users.is_admin) */

	return (1);
}

static void
auth_revoked_recv(struct kore_msg *msg, const void *data)
{
	struct auth_revoked_msg	m;

	if (msg->length != sizeof(m) || revoked == NULL)
		return;

	memcpy(&m, data, sizeof(m));
	m.sid[AUTH_UUID_LEN] = '\0';
	(void)auth_revoked_add(revoked, m.sid, m.until, auth_now());
}

/* TOLLGATE_ADMIN_EMAILS as a PostgreSQL text[] literal. */
static char *
auth_build_admin_array(void)
{
	struct kore_buf	 buf;
	char		*s;

	kore_buf_init(&buf, 128);
	tg_db_text_array(&buf, (const char *const *)tg_conf.admin_emails,
	    tg_conf.admin_emails_count);
	s = kore_strdup(kore_buf_stringify(&buf, NULL));
	kore_buf_cleanup(&buf);

	return (s);
}
