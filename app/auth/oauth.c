/*
 * OAuth 2.0 / OIDC sign-in (docs/contract.md §7, docs/auth.md):
 * GET /auth/providers, /auth/<provider>/start and /auth/<provider>/callback.
 *
 * start     checks return_to (a relative path on the UI's origin), makes a
 *           state, a PKCE verifier (S256), a nonce (OIDC) and a browser
 *           binding, stores their keyed hashes (state, binding) or values
 *           (verifier, nonce) in oauth_flows with a 10-minute expiry, sets
 *           the binding in a short-lived HttpOnly cookie and redirects to
 *           the provider. With link=1 the flow belongs to the signed-in
 *           user (bearer token or refresh cookie) and will only add an
 *           identity to that user.
 *
 * callback  states:
 *   BEGIN     no flow cookie or no state: refused before the database;
 *             otherwise the flow is deleted (single use) and returned;
 *   FLOW      unknown, expired or bound to another browser: refused before
 *             any code is redeemed; a provider error ends the flow here;
 *   TOKEN     the code is redeemed at the token endpoint with the
 *             verifier, over tg_fetch (never blocking the worker); a
 *             refusal (4xx, or GitHub's 200 with an error) is 400
 *             invalid_grant, a 5xx 502;
 *   IDTOKEN   Google and Kakao: the id token's RS256 signature against the
 *             provider's JWKS (cached per worker for an hour; fetched again
 *             for an unknown kid, at most every JWKS_REFETCH_MIN seconds)
 *             and its iss, aud, azp, exp, iat, nonce and sub;
 *   JWKS      waiting for that fetch;
 *   USERINFO  GitHub /user then /user/emails; Kakao /v2/user/me (whose id
 *             must be the id token's sub);
 *   LOGIN     auth_login(): the user of (provider, subject), or a new one
 *             (never found by email); a session and its refresh cookie;
 *             302 to TOLLGATE_UI_URL + return_to.
 *
 * Provider access tokens are used for these calls only and never stored.
 * Text a provider sends back (error codes, descriptions) reaches a log
 * line or an answer only through tg_clean_text() (clean.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth.h"
#include "auth/cookie.h"
#include "auth/idtoken.h"
#include "auth/provider.h"
#include "clean.h"
#include "fetch.h"
#include "metrics.h"
#include "qs.h"

#define JWKS_TTL		3600
#define JWKS_REFETCH_MIN	5
#define FETCH_TIMEOUT_MS	10000
#define CODE_MAX		2048
#define LOCATION_MAX		(AUTH_RETURN_TO_MAX + 2048)
#define OAUTH_DETAIL_MAX	320	/* bytes of a refusal's detail logged */

struct oauth_jwks {
	json_t		*doc;
	int64_t		 fetched_at;	/* last good answer */
	int64_t		 tried_at;	/* last attempt */
};

struct start_state {
	struct tg_db	db;
	int		kind;
	char		state[AUTH_TOKEN_LEN + 1];
	char		binding[AUTH_TOKEN_LEN + 1];
	char		verifier[AUTH_TOKEN_LEN + 1];
	char		nonce[AUTH_TOKEN_LEN + 1];
};

struct callback_state {
	struct tg_db		 db;
	struct tg_fetch		 fetch;
	int			 kind;
	const struct tg_oauth_conf *conf;
	char			 binding[AUTH_TOKEN_LEN + 1];
	char			*code;
	char			*provider_error;
	char			 verifier[129];
	char			 nonce[129];
	int			 has_nonce;
	char			 return_to[AUTH_RETURN_TO_MAX + 1];
	char			 link_user[AUTH_UUID_LEN + 1];
	char			*access_token;	/* malloc */
	char			*id_token;	/* malloc */
	char			 id_sub[AUTH_SUBJECT_MAX + 1];
	struct auth_identity	 id;
	char			 refresh[AUTH_TOKEN_LEN + 1];
	int			 jwks_fetched;
	int			 github_step;
};

static int	start_begin(struct http_request *);
static int	start_wait(struct http_request *);
static void	start_free(struct http_request *, void *);

static int	cb_begin(struct http_request *);
static int	cb_flow(struct http_request *);
static int	cb_token(struct http_request *);
static int	cb_idtoken(struct http_request *);
static int	cb_jwks(struct http_request *);
static int	cb_userinfo(struct http_request *);
static int	cb_userinfo_wait(struct http_request *);
static int	cb_login(struct http_request *);
static int	cb_login_wait(struct http_request *);
static void	cb_free(struct http_request *, void *);
static int	cb_fetch_failed(struct http_request *, struct callback_state *,
		    const char *);
static int	cb_token_refused(struct http_request *,
		    struct callback_state *);
static int	cb_verify_idtoken(struct http_request *,
		    struct callback_state *);
static int	cb_jwks_stale(struct http_request *, struct callback_state *);

static const struct tg_oauth_conf *oauth_conf(int);
static int	oauth_provider(struct http_request *,
		    const struct tg_oauth_conf **);
static void	oauth_redirect_uri(int, char *, size_t);
static void	oauth_redirect(struct http_request *, const char *);
static void	oauth_log_refusal(struct http_request *, const char *,
		    const char *);
static int	oauth_copy(char *, size_t, const char *);

static struct http_state	start_states[] = {
	KORE_HTTP_STATE(start_begin),
	KORE_HTTP_STATE(start_wait),
};

#define START_BEGIN	0
#define START_WAIT	1

static struct http_state	callback_states[] = {
	KORE_HTTP_STATE(cb_begin),
	KORE_HTTP_STATE(cb_flow),
	KORE_HTTP_STATE(cb_token),
	KORE_HTTP_STATE(cb_idtoken),
	KORE_HTTP_STATE(cb_jwks),
	KORE_HTTP_STATE(cb_userinfo),
	KORE_HTTP_STATE(cb_userinfo_wait),
	KORE_HTTP_STATE(cb_login),
	KORE_HTTP_STATE(cb_login_wait),
};

#define CB_BEGIN		0
#define CB_FLOW			1
#define CB_TOKEN		2
#define CB_IDTOKEN		3
#define CB_JWKS			4
#define CB_USERINFO		5
#define CB_USERINFO_WAIT	6
#define CB_LOGIN		7
#define CB_LOGIN_WAIT		8

static const char	sql_flow_create[] =
	"SELECT auth_flow_create(decode($1, 'hex'), decode($2, 'hex'), $3, "
	"$4, $5, $6, $7::uuid, $8::uuid, decode($9, 'hex'))";

static const char	sql_flow_consume[] =
	"SELECT binding_hash, code_verifier, nonce, return_to, link_user_id, "
	"live FROM auth_flow_consume(decode($1, 'hex'), $2)";

static struct oauth_jwks	jwks_cache[AUTH_PROVIDERS];

void
auth_oauth_teardown(void)
{
	int	i;

	for (i = 0; i < AUTH_PROVIDERS; i++) {
		json_decref(jwks_cache[i].doc);
		memset(&jwks_cache[i], 0, sizeof(jwks_cache[i]));
	}
}

/* GET /auth/providers: the enabled sign-in providers, in a list. */
int
auth_providers(struct http_request *req)
{
	json_t	*data, *doc;
	char	 path[64];
	int	 i;

	data = json_array();
	for (i = 0; i < AUTH_PROVIDERS; i++) {
		if (!oauth_conf(i)->enabled)
			continue;
		(void)snprintf(path, sizeof(path), "/auth/%s/start",
		    auth_provider_name(i));
		json_array_append_new(data, json_pack("{s:s, s:s, s:s}",
		    "id", auth_provider_name(i), "name", auth_provider_title(i),
		    "start_url", path));
	}

	doc = json_pack("{s:s, s:o, s:n}", "object", "list", "data", data,
	    "next_cursor");
	tg_http_json_steal(req, 200, doc);
	return (KORE_RESULT_OK);
}

int
auth_oauth_start(struct http_request *req)
{
	return (http_state_run(start_states,
	    sizeof(start_states) / sizeof(start_states[0]), req));
}

int
auth_oauth_callback(struct http_request *req)
{
	return (http_state_run(callback_states,
	    sizeof(callback_states) / sizeof(callback_states[0]), req));
}

/* --- start ---------------------------------------------------------------- */

static int
start_begin(struct http_request *req)
{
	struct start_state		*st;
	const struct tg_oauth_conf	*conf;
	struct auth_jwt_claims		 c;
	char				 return_to[AUTH_RETURN_TO_MAX + 1];
	char				 link[8], given[AUTH_TOKEN_LEN + 1];
	char				 state_hash[AUTH_HASH_HEX_LEN + 1];
	char				 binding_hash[AUTH_HASH_HEX_LEN + 1];
	char				 rt_hash[AUTH_HASH_HEX_LEN + 1];
	const char			*params[9];
	int				 kind, rc, linking;

	if ((kind = oauth_provider(req, &conf)) < 0)
		return (HTTP_STATE_COMPLETE);

	switch (tg_http_query(req, "return_to", return_to,
	    sizeof(return_to))) {
	case TG_QS_ABSENT:
		(void)kore_strlcpy(return_to, "/", sizeof(return_to));
		break;
	case TG_QS_FOUND:
		if (auth_return_to_valid(return_to))
			break;
		/* FALLTHROUGH */
	default:
		tg_error(req, 400, "invalid_value", "return_to", "return_to "
		    "must be a path on the UI's site, like /settings");
		return (HTTP_STATE_COMPLETE);
	}

	linking = 0;
	rc = tg_http_query(req, "link", link, sizeof(link));
	if (rc == TG_QS_INVALID || (rc == TG_QS_FOUND &&
	    strcmp(link, "1") != 0 && strcmp(link, "0") != 0)) {
		tg_error(req, 400, "invalid_value", "link", "link must be 1 "
		    "or absent");
		return (HTTP_STATE_COMPLETE);
	}
	if (rc == TG_QS_FOUND && strcmp(link, "1") == 0)
		linking = 1;

	memset(params, 0, sizeof(params));
	memset(&c, 0, sizeof(c));
	if (linking) {
		switch (auth_bearer_claims(req, &c)) {
		case -1:
			return (HTTP_STATE_COMPLETE);
		case 1:
			params[6] = c.sub;
			params[7] = c.sid;
			break;
		default:
			if (auth_request_cookie(req, auth_refresh_cookie(),
			    given, sizeof(given)) != AUTH_COOKIE_FOUND ||
			    !auth_token_syntax(given) ||
			    !auth_hash(AUTH_HASH_REFRESH, given, rt_hash)) {
				auth_unauthorized(req, "invalid_token",
				    "sign in first to link another account");
				return (HTTP_STATE_COMPLETE);
			}
			params[8] = rt_hash;
			break;
		}
	}

	st = tg_state_alloc(req, sizeof(*st), start_free);
	st->kind = kind;
	auth_random_token(st->state);
	auth_random_token(st->binding);
	auth_random_token(st->verifier);
	if (auth_provider_oidc(kind))
		auth_random_token(st->nonce);

	if (!auth_hash(AUTH_HASH_STATE, st->state, state_hash) ||
	    !auth_hash(AUTH_HASH_BINDING, st->binding, binding_hash)) {
		tg_error_internal(req, "keyed hash failed");
		return (HTTP_STATE_COMPLETE);
	}

	params[0] = state_hash;
	params[1] = binding_hash;
	params[2] = auth_provider_name(kind);
	params[3] = st->verifier;
	params[4] = st->nonce[0] != '\0' ? st->nonce : NULL;
	params[5] = return_to;
	tg_db_start(&st->db, req, 0, sql_flow_create, 9, params);

	req->fsm_state = START_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
start_wait(struct http_request *req)
{
	struct start_state	*st = tg_state(req);
	struct auth_authorize	 a;
	const char		*result;
	char			 redirect_uri[1024];
	char			 challenge[AUTH_TOKEN_LEN + 1];
	char			*url;
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_value(&st->db, 0, 0);
	if (result == NULL || strcmp(result, "ok") != 0) {
		auth_unauthorized(req, "invalid_token",
		    "sign in first to link another account");
		return (HTTP_STATE_COMPLETE);
	}

	oauth_redirect_uri(st->kind, redirect_uri, sizeof(redirect_uri));
	auth_pkce_challenge(st->verifier, challenge);

	memset(&a, 0, sizeof(a));
	a.endpoint = oauth_conf(st->kind)->authorize_url;
	a.client_id = oauth_conf(st->kind)->client_id;
	a.redirect_uri = redirect_uri;
	a.state = st->state;
	a.challenge = challenge;
	a.nonce = st->nonce[0] != '\0' ? st->nonce : NULL;
	if ((url = auth_authorize_url(st->kind, &a)) == NULL) {
		tg_error_internal(req, "cannot build the authorize URL");
		return (HTTP_STATE_COMPLETE);
	}

	auth_set_cookie(req, auth_flow_cookie(), st->binding,
	    AUTH_FLOW_MAX_AGE);
	oauth_redirect(req, url);
	free(url);

	return (HTTP_STATE_COMPLETE);
}

static void
start_free(struct http_request *req, void *arg)
{
	struct start_state	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
	sodium_memzero(st, sizeof(*st));
}

/* --- callback ------------------------------------------------------------- */

static int
cb_begin(struct http_request *req)
{
	struct callback_state		*st;
	const struct tg_oauth_conf	*conf;
	char				 state[AUTH_TOKEN_LEN + 1];
	char				 state_hash[AUTH_HASH_HEX_LEN + 1];
	char				 buf[CODE_MAX + 1];
	const char			*params[2];
	int				 kind, rc;

	if ((kind = oauth_provider(req, &conf)) < 0)
		return (HTTP_STATE_COMPLETE);

	st = tg_state_alloc(req, sizeof(*st), cb_free);
	st->kind = kind;
	st->conf = conf;

	/* The flow cookie is spent whatever happens next. */
	auth_set_cookie(req, auth_flow_cookie(), "", 0);

	rc = auth_request_cookie(req, auth_flow_cookie(), st->binding,
	    sizeof(st->binding));
	if (rc != AUTH_COOKIE_FOUND || !auth_token_syntax(st->binding)) {
		oauth_log_refusal(req, "no flow cookie", NULL);
		tg_error(req, 400, "invalid_state", "state", "no sign-in was "
		    "started in this browser, or it took too long; start again");
		return (HTTP_STATE_COMPLETE);
	}

	if (tg_http_query(req, "state", state, sizeof(state)) != TG_QS_FOUND ||
	    !auth_token_syntax(state)) {
		oauth_log_refusal(req, "missing or malformed state", NULL);
		tg_error(req, 400, "invalid_state", "state", "missing or "
		    "invalid state; start the sign-in again");
		return (HTTP_STATE_COMPLETE);
	}

	switch (tg_http_query(req, "code", buf, sizeof(buf))) {
	case TG_QS_FOUND:
		if (buf[0] != '\0')
			st->code = kore_strdup(buf);
		break;
	case TG_QS_INVALID:
		tg_error(req, 400, "invalid_value", "code", "invalid code");
		return (HTTP_STATE_COMPLETE);
	}
	/* The provider's error code is shown and logged: cleaned. */
	rc = tg_http_query(req, "error", buf, AUTH_TOKEN_ERROR_MAX + 1);
	if (rc == TG_QS_FOUND) {
		st->provider_error = kore_malloc(AUTH_TOKEN_ERROR_MAX + 1);
		(void)tg_clean_text(st->provider_error,
		    AUTH_TOKEN_ERROR_MAX + 1, buf, strlen(buf));
	} else if (rc == TG_QS_INVALID) {
		st->provider_error = kore_strdup("invalid_error");
	}

	if (!auth_hash(AUTH_HASH_STATE, state, state_hash)) {
		tg_error_internal(req, "keyed hash failed");
		return (HTTP_STATE_COMPLETE);
	}
	params[0] = state_hash;
	params[1] = auth_provider_name(kind);
	tg_db_start(&st->db, req, 0, sql_flow_consume, 2, params);

	req->fsm_state = CB_FLOW;
	return (HTTP_STATE_CONTINUE);
}

static int
cb_flow(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);
	char			 binding_hash[AUTH_HASH_HEX_LEN + 1];
	char			 redirect_uri[1024];
	const char		*stored, *v;
	const char		*headers[3];
	char			*body;
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	if (tg_db_ntuples(&st->db) != 1 ||
	    (stored = tg_db_value(&st->db, 0, 0)) == NULL) {
		oauth_log_refusal(req, "unknown or used state", NULL);
		tg_error(req, 400, "invalid_state", "state", "unknown or "
		    "already used state; start the sign-in again");
		return (HTTP_STATE_COMPLETE);
	}

	if (!auth_hash(AUTH_HASH_BINDING, st->binding, binding_hash) ||
	    strlen(stored) != AUTH_HASH_HEX_LEN ||
	    sodium_memcmp(stored, binding_hash, AUTH_HASH_HEX_LEN) != 0) {
		oauth_log_refusal(req, "flow bound to another browser", NULL);
		tg_error(req, 400, "invalid_state", "state", "this sign-in was "
		    "started in another browser; start again");
		return (HTTP_STATE_COMPLETE);
	}

	v = tg_db_value(&st->db, 0, 5);
	if (v == NULL || strcmp(v, "t") != 0) {
		oauth_log_refusal(req, "expired flow", NULL);
		tg_error(req, 400, "invalid_state", "state", "the sign-in took "
		    "too long; start again");
		return (HTTP_STATE_COMPLETE);
	}

	if (st->provider_error != NULL) {
		oauth_log_refusal(req, "provider error", st->provider_error);
		tg_error(req, 400, !strcmp(st->provider_error,
		    "access_denied") ? "access_denied" : "provider_error",
		    NULL, "%s did not sign you in (%s)",
		    auth_provider_title(st->kind), st->provider_error);
		return (HTTP_STATE_COMPLETE);
	}
	if (st->code == NULL) {
		tg_error(req, 400, "missing_field", "code", "the provider sent "
		    "no authorization code");
		return (HTTP_STATE_COMPLETE);
	}

	/* The flow's values, whole or not at all (nothing is cut). */
	if (!oauth_copy(st->verifier, sizeof(st->verifier),
	    tg_db_value(&st->db, 0, 1)) ||
	    !oauth_copy(st->return_to, sizeof(st->return_to),
	    tg_db_value(&st->db, 0, 3)) ||
	    ((v = tg_db_value(&st->db, 0, 2)) != NULL &&
	    !oauth_copy(st->nonce, sizeof(st->nonce), v)) ||
	    ((v = tg_db_value(&st->db, 0, 4)) != NULL &&
	    !oauth_copy(st->link_user, sizeof(st->link_user), v))) {
		tg_error_internal(req, "bad oauth_flows row");
		return (HTTP_STATE_COMPLETE);
	}
	st->has_nonce = tg_db_value(&st->db, 0, 2) != NULL;
	tg_db_clear(&st->db);

	oauth_redirect_uri(st->kind, redirect_uri, sizeof(redirect_uri));
	body = auth_token_request(st->conf->client_id, st->conf->client_secret,
	    st->code, redirect_uri, st->verifier);
	if (body == NULL) {
		tg_error_internal(req, "cannot build the token request");
		return (HTTP_STATE_COMPLETE);
	}

	headers[0] = "Accept: application/json";
	headers[1] = "Content-Type: application/x-www-form-urlencoded";
	headers[2] = NULL;
	if (!tg_fetch_start(&st->fetch, req, HTTP_METHOD_POST,
	    st->conf->token_url, headers, body, strlen(body),
	    FETCH_TIMEOUT_MS)) {
		sodium_memzero(body, strlen(body));
		free(body);
		return (cb_fetch_failed(req, st, "token endpoint"));
	}
	sodium_memzero(body, strlen(body));
	free(body);

	req->fsm_state = CB_TOKEN;
	return (HTTP_STATE_RETRY);
}

static int
cb_token(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);

	switch (tg_fetch_poll(&st->fetch)) {
	case TG_FETCH_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_FETCH_FAILED:
		return (cb_fetch_failed(req, st, "token endpoint"));
	}

	if (st->fetch.status >= 500) {
		kore_log(LOG_NOTICE, "rid=%s %s token endpoint: status %ld",
		    tg_request_id(req), auth_provider_name(st->kind),
		    st->fetch.status);
		tg_error(req, 502, "upstream_error", NULL, "%s's token endpoint "
		    "answered %ld", auth_provider_title(st->kind),
		    st->fetch.status);
		return (HTTP_STATE_COMPLETE);
	}

	if (st->fetch.status != 200 ||
	    !auth_token_answer((const char *)st->fetch.body,
	    st->fetch.body_len, &st->access_token, &st->id_token, NULL, 0))
		return (cb_token_refused(req, st));
	tg_fetch_clear(&st->fetch);

	if (st->kind == AUTH_GOOGLE && st->id_token == NULL) {
		tg_error(req, 502, "upstream_error", NULL, "Google sent no id "
		    "token");
		return (HTTP_STATE_COMPLETE);
	}

	req->fsm_state = st->id_token != NULL && auth_provider_oidc(st->kind) ?
	    CB_IDTOKEN : CB_USERINFO;
	return (HTTP_STATE_CONTINUE);
}

/*
 * The token endpoint did not hand out tokens: a 4xx (Google and Kakao
 * answer 400 invalid_grant for a used or expired code) or GitHub's 200
 * with an error. 400 invalid_grant; what the provider said goes to the
 * log and its error code to the client, both cleaned (clean.h).
 */
static int
cb_token_refused(struct http_request *req, struct callback_state *st)
{
	char	err[AUTH_TOKEN_ERROR_MAX + 16];
	char	desc[AUTH_TOKEN_DESC_MAX + 1];
	char	detail[sizeof(err) + sizeof(desc) + 16];

	auth_token_error((const char *)st->fetch.body, st->fetch.body_len,
	    err, sizeof(err), desc, sizeof(desc));
	if (!strcmp(err, "invalid_answer") && st->fetch.status != 200)
		(void)snprintf(err, sizeof(err), "status %ld",
		    st->fetch.status);
	(void)snprintf(detail, sizeof(detail), "%s%s%s", err,
	    desc[0] != '\0' ? ": " : "", desc);
	tg_fetch_clear(&st->fetch);

	oauth_log_refusal(req, "code not redeemed", detail);
	tg_error(req, 400, "invalid_grant", "code", "%s refused the "
	    "authorization code (%s); start the sign-in again",
	    auth_provider_title(st->kind), err);
	return (HTTP_STATE_COMPLETE);
}

/* Verify with the cached keys, or fetch them first. */
static int
cb_idtoken(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);
	struct oauth_jwks	*cache = &jwks_cache[st->kind];
	const char		*headers[2];
	int64_t			 now = auth_now();
	int			 rc;

	if (cache->doc != NULL && now - cache->fetched_at < JWKS_TTL) {
		rc = cb_verify_idtoken(req, st);
		if (rc == AUTH_IDT_OK)
			return (HTTP_STATE_CONTINUE);
		if (rc != AUTH_IDT_UNKNOWN_KID)
			return (HTTP_STATE_COMPLETE);
		/* A new key: fetch again, unless we just did. */
		if (now - cache->tried_at < JWKS_REFETCH_MIN) {
			oauth_log_refusal(req, "unknown id token key", NULL);
			tg_error(req, 400, "invalid_id_token", NULL, "%s: %s",
			    auth_provider_title(st->kind),
			    auth_idtoken_strerror(rc));
			return (HTTP_STATE_COMPLETE);
		}
	}

	cache->tried_at = now;
	headers[0] = "Accept: application/json";
	headers[1] = NULL;
	if (!tg_fetch_start(&st->fetch, req, HTTP_METHOD_GET,
	    st->conf->jwks_url, headers, NULL, 0, FETCH_TIMEOUT_MS))
		return (cb_fetch_failed(req, st, "JWKS"));

	req->fsm_state = CB_JWKS;
	return (HTTP_STATE_RETRY);
}

static int
cb_jwks(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);
	struct oauth_jwks	*cache = &jwks_cache[st->kind];
	json_t			*doc;

	switch (tg_fetch_poll(&st->fetch)) {
	case TG_FETCH_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_FETCH_FAILED:
		if (cache->doc != NULL)
			return (cb_jwks_stale(req, st));
		return (cb_fetch_failed(req, st, "JWKS"));
	}

	doc = NULL;
	if (st->fetch.status == 200 && st->fetch.body_len <= AUTH_ANSWER_MAX)
		doc = json_loadb((const char *)st->fetch.body,
		    st->fetch.body_len, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL || !auth_jwks_valid(doc)) {
		json_decref(doc);
		kore_log(LOG_NOTICE, "rid=%s %s JWKS: unusable answer (status "
		    "%ld)", tg_request_id(req), auth_provider_name(st->kind),
		    st->fetch.status);
		if (cache->doc != NULL)
			return (cb_jwks_stale(req, st));
		tg_error(req, 502, "upstream_error", NULL, "cannot read %s's "
		    "signing keys", auth_provider_title(st->kind));
		return (HTTP_STATE_COMPLETE);
	}
	tg_fetch_clear(&st->fetch);

	json_decref(cache->doc);
	cache->doc = doc;
	cache->fetched_at = auth_now();
	st->jwks_fetched = 1;

	if (cb_verify_idtoken(req, st) == AUTH_IDT_OK)
		return (HTTP_STATE_CONTINUE);
	return (HTTP_STATE_COMPLETE);
}

/*
 * The provider's JWKS could not be fetched again: the keys we hold (past
 * their hour, or without the token's kid) still decide, so an outage of
 * the JWKS endpoint does not stop sign-ins signed with known keys.
 */
static int
cb_jwks_stale(struct http_request *req, struct callback_state *st)
{
	kore_log(LOG_NOTICE, "rid=%s %s JWKS refresh failed; using the keys "
	    "cached %lld s ago", tg_request_id(req),
	    auth_provider_name(st->kind),
	    (long long)(auth_now() - jwks_cache[st->kind].fetched_at));
	tg_fetch_clear(&st->fetch);
	st->jwks_fetched = 1;

	if (cb_verify_idtoken(req, st) == AUTH_IDT_OK)
		return (HTTP_STATE_CONTINUE);
	return (HTTP_STATE_COMPLETE);
}

/*
 * Check the id token against the cached JWKS. On success the state moves
 * on (and this returns AUTH_IDT_OK with nothing answered); on
 * AUTH_IDT_UNKNOWN_KID before a fetch nothing is answered either; on any
 * other failure the request is answered.
 */
static int
cb_verify_idtoken(struct http_request *req, struct callback_state *st)
{
	struct auth_idtoken_expect	 want;
	json_t				*claims;
	const char			*sub;
	int				 rc;

	memset(&want, 0, sizeof(want));
	want.issuers[want.nissuers++] = st->conf->issuer;
	/* Google's id tokens carry either spelling (backend-auth docs). */
	if (st->kind == AUTH_GOOGLE &&
	    !strcmp(st->conf->issuer, "https://accounts.google.com"))
		want.issuers[want.nissuers++] = "accounts.google.com";
	want.client_id = st->conf->client_id;
	want.nonce = st->has_nonce ? st->nonce : "";
	want.now = auth_now();

	rc = auth_idtoken_verify(st->id_token, jwks_cache[st->kind].doc, &want,
	    &claims);
	if (rc == AUTH_IDT_UNKNOWN_KID && !st->jwks_fetched)
		return (rc);

	if (rc != AUTH_IDT_OK) {
		oauth_log_refusal(req, "id token refused",
		    auth_idtoken_strerror(rc));
		tg_error(req, 400, "invalid_id_token", NULL, "%s: %s",
		    auth_provider_title(st->kind), auth_idtoken_strerror(rc));
		return (rc);
	}

	sub = json_string_value(json_object_get(claims, "sub"));
	if (!oauth_copy(st->id_sub, sizeof(st->id_sub), sub)) {
		json_decref(claims);
		oauth_log_refusal(req, "id token refused", "unusable sub");
		tg_error(req, 400, "invalid_id_token", NULL, "%s: no usable "
		    "subject in the id token", auth_provider_title(st->kind));
		return (AUTH_IDT_BAD_SUB);
	}
	if (st->kind == AUTH_GOOGLE) {
		if (!auth_google_identity(claims, &st->id)) {
			json_decref(claims);
			tg_error(req, 400, "invalid_id_token", NULL,
			    "Google: no usable identity in the id token");
			return (AUTH_IDT_BAD_SUB);
		}
		req->fsm_state = CB_LOGIN;
	} else {
		req->fsm_state = CB_USERINFO;
	}
	json_decref(claims);

	return (AUTH_IDT_OK);
}

static int
cb_userinfo(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);
	const char		*headers[5];
	char			 authz[8300], url[2100];
	int			 n;

	if (strlen(st->access_token) > 8192) {
		tg_error(req, 502, "upstream_error", NULL, "oversized access "
		    "token from %s", auth_provider_title(st->kind));
		return (HTTP_STATE_COMPLETE);
	}
	(void)snprintf(authz, sizeof(authz), "Authorization: Bearer %s",
	    st->access_token);

	if (st->kind == AUTH_GITHUB) {
		n = snprintf(url, sizeof(url), "%s%s", st->conf->api_url,
		    st->github_step == 0 ? "/user" : "/user/emails");
		headers[0] = authz;
		headers[1] = "Accept: application/vnd.github+json";
		headers[2] = "X-GitHub-Api-Version: 2022-11-28";
		headers[3] = "User-Agent: tollgate";
		headers[4] = NULL;
	} else {
		n = (int)kore_strlcpy(url, st->conf->userinfo_url,
		    sizeof(url));
		headers[0] = authz;
		headers[1] = "Accept: application/json";
		headers[2] = NULL;
	}
	if (n < 0 || (size_t)n >= sizeof(url)) {
		sodium_memzero(authz, sizeof(authz));
		tg_error_internal(req, "user API URL too long");
		return (HTTP_STATE_COMPLETE);
	}

	if (!tg_fetch_start(&st->fetch, req, HTTP_METHOD_GET, url, headers,
	    NULL, 0, FETCH_TIMEOUT_MS)) {
		sodium_memzero(authz, sizeof(authz));
		return (cb_fetch_failed(req, st, "user info"));
	}
	sodium_memzero(authz, sizeof(authz));

	req->fsm_state = CB_USERINFO_WAIT;
	return (HTTP_STATE_RETRY);
}

static int
cb_userinfo_wait(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);
	const char		*body;
	size_t			 len;
	int			 ok;

	switch (tg_fetch_poll(&st->fetch)) {
	case TG_FETCH_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_FETCH_FAILED:
		return (cb_fetch_failed(req, st, "user info"));
	}

	if (st->fetch.status != 200) {
		kore_log(LOG_NOTICE, "rid=%s %s user info: status %ld",
		    tg_request_id(req), auth_provider_name(st->kind),
		    st->fetch.status);
		tg_error(req, 502, "upstream_error", NULL, "%s's user API "
		    "answered %ld", auth_provider_title(st->kind),
		    st->fetch.status);
		return (HTTP_STATE_COMPLETE);
	}

	body = (const char *)st->fetch.body;
	len = st->fetch.body_len;
	if (st->kind == AUTH_GITHUB && st->github_step == 0)
		ok = auth_github_user(body, len, &st->id);
	else if (st->kind == AUTH_GITHUB)
		ok = auth_github_emails(body, len, &st->id);
	else
		ok = auth_kakao_user(body, len, &st->id);
	tg_fetch_clear(&st->fetch);

	if (!ok) {
		tg_error(req, 502, "upstream_error", NULL, "unexpected answer "
		    "from %s's user API", auth_provider_title(st->kind));
		return (HTTP_STATE_COMPLETE);
	}

	if (st->kind == AUTH_GITHUB && st->github_step++ == 0) {
		req->fsm_state = CB_USERINFO;
		return (HTTP_STATE_CONTINUE);
	}

	/* Kakao: the user API must describe the id token's subject. */
	if (st->kind == AUTH_KAKAO && st->id_sub[0] != '\0' &&
	    strcmp(st->id_sub, st->id.subject) != 0) {
		oauth_log_refusal(req, "id token and user API disagree", NULL);
		tg_error(req, 400, "invalid_id_token", NULL, "Kakao: the id "
		    "token is for another user");
		return (HTTP_STATE_COMPLETE);
	}

	req->fsm_state = CB_LOGIN;
	return (HTTP_STATE_CONTINUE);
}

static int
cb_login(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);

	/* Access tokens of the provider are not kept past this point. */
	if (st->access_token != NULL) {
		sodium_memzero(st->access_token, strlen(st->access_token));
		free(st->access_token);
		st->access_token = NULL;
	}

	if (!auth_login_start(req, &st->db, auth_provider_name(st->kind),
	    &st->id, st->link_user[0] != '\0' ? st->link_user : NULL,
	    st->refresh))
		return (HTTP_STATE_COMPLETE);

	req->fsm_state = CB_LOGIN_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
cb_login_wait(struct http_request *req)
{
	struct callback_state	*st = tg_state(req);
	struct kore_buf		 loc;
	const char		*result, *user, *sid, *created;
	size_t			 len;
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_value(&st->db, 0, 0);
	if (result == NULL) {
		tg_error_internal(req, "auth_login returned nothing");
		return (HTTP_STATE_COMPLETE);
	}
	if (!strcmp(result, "conflict")) {
		tg_error(req, 409, "identity_in_use", NULL, "this %s account "
		    "is already linked to another user",
		    auth_provider_title(st->kind));
		return (HTTP_STATE_COMPLETE);
	}
	if (!strcmp(result, "not_signed_in")) {
		auth_unauthorized(req, "invalid_token", "the session that "
		    "started linking has ended; sign in again");
		return (HTTP_STATE_COMPLETE);
	}
	if (strcmp(result, "ok") != 0 && strcmp(result, "linked") != 0) {
		auth_login_refused(req, &st->db);
		return (HTTP_STATE_COMPLETE);
	}

	if (!strcmp(result, "ok")) {
		if ((user = tg_db_value(&st->db, 0, 1)) == NULL ||
		    (sid = tg_db_value(&st->db, 0, 2)) == NULL ||
		    (created = tg_db_value(&st->db, 0, 3)) == NULL) {
			tg_error_internal(req, "auth_login returned no session");
			return (HTTP_STATE_COMPLETE);
		}
		kore_log(LOG_INFO, "rid=%s sign-in via %s: user %s session %s%s",
		    tg_request_id(req), auth_provider_name(st->kind), user, sid,
		    !strcmp(created, "t") ? " (new)" : "");
		auth_set_cookie(req, auth_refresh_cookie(), st->refresh,
		    AUTH_REFRESH_MAX_AGE);
	} else {
		kore_log(LOG_INFO, "rid=%s %s identity linked to user %s",
		    tg_request_id(req), auth_provider_name(st->kind),
		    st->link_user);
	}

	tg_metrics_add(auth_metric_signins[st->kind], 1);
	kore_buf_init(&loc, LOCATION_MAX);
	len = strlen(tg_conf.ui_url);
	while (len > 0 && tg_conf.ui_url[len - 1] == '/')
		len--;
	kore_buf_append(&loc, tg_conf.ui_url, len);
	kore_buf_append(&loc, st->return_to, strlen(st->return_to));
	oauth_redirect(req, kore_buf_stringify(&loc, NULL));
	kore_buf_cleanup(&loc);

	return (HTTP_STATE_COMPLETE);
}

static void
cb_free(struct http_request *req, void *arg)
{
	struct callback_state	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
	tg_fetch_clear(&st->fetch);
	if (st->code != NULL) {
		sodium_memzero(st->code, strlen(st->code));
		kore_free(st->code);
	}
	kore_free(st->provider_error);
	if (st->access_token != NULL) {
		sodium_memzero(st->access_token, strlen(st->access_token));
		free(st->access_token);
	}
	free(st->id_token);
	sodium_memzero(st, sizeof(*st));
}

/* A provider call that never got an HTTP answer: 502, or 504 on timeout. */
static int
cb_fetch_failed(struct http_request *req, struct callback_state *st,
    const char *what)
{
	kore_log(LOG_NOTICE, "rid=%s %s %s: %s", tg_request_id(req),
	    auth_provider_name(st->kind), what, st->fetch.error);

	if (st->fetch.timed_out) {
		tg_error(req, 504, "upstream_timeout", NULL, "%s (%s) did not "
		    "answer in time", auth_provider_title(st->kind), what);
	} else {
		tg_error(req, 502, "upstream_error", NULL, "cannot reach %s "
		    "(%s)", auth_provider_title(st->kind), what);
	}

	return (HTTP_STATE_COMPLETE);
}

/* --- helpers -------------------------------------------------------------- */

static const struct tg_oauth_conf *
oauth_conf(int kind)
{
	switch (kind) {
	case AUTH_GOOGLE:
		return (&tg_conf.google);
	case AUTH_GITHUB:
		return (&tg_conf.github);
	default:
		return (&tg_conf.kakao);
	}
}

/* The provider of /auth/<provider>/...; 404 for unknown or disabled. */
static int
oauth_provider(struct http_request *req, const struct tg_oauth_conf **conf)
{
	int	kind;

	kind = auth_provider_lookup(tg_param(req, 0));
	if (kind < 0 || !oauth_conf(kind)->enabled) {
		tg_error(req, 404, "not_found", NULL, "no such sign-in "
		    "provider");
		return (-1);
	}

	*conf = oauth_conf(kind);
	return (kind);
}

/* TOLLGATE_PUBLIC_URL/auth/<provider>/callback, registered at the provider. */
static void
oauth_redirect_uri(int kind, char *out, size_t len)
{
	size_t	n;

	n = strlen(tg_conf.public_url);
	while (n > 0 && tg_conf.public_url[n - 1] == '/')
		n--;
	(void)snprintf(out, len, "%.*s/auth/%s/callback", (int)n,
	    tg_conf.public_url, auth_provider_name(kind));
}

static void
oauth_redirect(struct http_request *req, const char *url)
{
	http_response_header(req, "location", url);
	http_response_header(req, "cache-control", "no-store");
	http_response_header(req, "referrer-policy", "no-referrer");
	http_response(req, 302, NULL, 0);
}

/* A non-NULL string that fits; 0 otherwise (nothing is cut). */
static int
oauth_copy(char *dst, size_t len, const char *src)
{
	if (src == NULL)
		return (0);

	return (kore_strlcpy(dst, src, len) < len);
}

/* detail may come from outside: it is logged cleaned (clean.h). */
static void
oauth_log_refusal(struct http_request *req, const char *why,
    const char *detail)
{
	char	clean[OAUTH_DETAIL_MAX + 1];

	tg_metrics_add(auth_metric_signin_refused, 1);
	if (detail != NULL)
		(void)tg_clean_text(clean, sizeof(clean), detail,
		    strlen(detail));
	kore_log(LOG_NOTICE, "rid=%s sign-in refused: %s%s%s",
	    tg_request_id(req), why, detail != NULL ? ": " : "",
	    detail != NULL ? clean : "");
}
