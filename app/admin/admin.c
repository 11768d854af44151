/*
 * The admin module (tg_admin_module) and its routes (docs/admin.md):
 *
 *	POST   /api/admin/tokens		a service token, shown once
 *	GET    /api/admin/tokens		the live tokens
 *	DELETE /api/admin/tokens/{id}		revoke one
 *	GET    /api/admin/audit			every admin action, newest first
 *	GET    /api/admin/users?q=		find users by email or name
 *	GET    /api/admin/users/{id}		identities, balance, keys, ...
 *	PATCH  /api/admin/users/{id}		{"status":"active"|"suspended"}
 *
 * Every route takes a session access token or an admin token (guard.c).
 * Each is one SQL function call of sql/0380_admin.sql that decides
 * whether the caller is an admin, does the work, writes the audit row
 * and builds the JSON answer, returning (result, body): the handlers
 * check the input, send the call and map the result to a status.
 */

#include <ctype.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "lex.h"
#include "qs.h"
#include "auth/auth.h"
#include "admin/admin.h"
#include "admin/input.h"

struct admin_call {
	struct tg_db	db;
	int		ok_status;
	char		token[ADMIN_TOKEN_LEN + 1];	/* shown once */
};

static void	admin_worker_init(void);
static void	admin_worker_teardown(void);
static int	admin_tokens_create(struct http_request *);
static int	admin_tokens_list(struct http_request *);
static int	admin_tokens_revoke(struct http_request *);
static int	admin_audit(struct http_request *);
static int	admin_users(struct http_request *);
static int	admin_user(struct http_request *);
static int	admin_user_patch(struct http_request *);
static int	admin_call(struct http_request *, const char *, int,
		    const char **, int, const char *);
static int	admin_call_wait(struct http_request *);
static void	admin_call_free(struct http_request *, void *);
static const char *admin_actor_token(struct http_request *);
static int	admin_param_id(struct http_request *, char *);
static int	admin_limit(struct http_request *, char *, size_t);

static const char	sql_token_create[] =
	"SELECT result, body::text FROM admin_token_create($1::uuid, "
	"$2::uuid, $3, decode($4, 'hex'), $5)";
static const char	sql_token_list[] =
	"SELECT result, body::text FROM admin_token_list($1::uuid)";
static const char	sql_token_revoke[] =
	"SELECT result, body::text FROM admin_token_revoke($1::uuid, "
	"$2::uuid, $3::uuid)";
static const char	sql_audit[] =
	"SELECT result, body::text FROM admin_audit_list($1::uuid, "
	"$2::bigint, $3::integer)";
static const char	sql_users[] =
	"SELECT result, body::text FROM admin_user_list($1::uuid, $2, "
	"$3::uuid, $4::integer)";
static const char	sql_user[] =
	"SELECT result, body::text FROM admin_user_get($1::uuid, $2::uuid)";
static const char	sql_user_status[] =
	"SELECT result, body::text FROM admin_user_set_status($1::uuid, "
	"$2::uuid, $3::uuid, $4)";

static const struct tg_route	admin_routes[] = {
	{ HTTP_METHOD_POST, "/api/admin/tokens", admin_tokens_create,
	    TG_AUTH_SESSION, 0, 4096 },
	{ HTTP_METHOD_GET, "/api/admin/tokens", admin_tokens_list,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_DELETE, "/api/admin/tokens/{}", admin_tokens_revoke,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/audit", admin_audit,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/users", admin_users,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/users/{}", admin_user,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_PATCH, "/api/admin/users/{}", admin_user_patch,
	    TG_AUTH_SESSION, 0, 4096 },
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_admin_module = {
	"admin", NULL, admin_worker_init, admin_worker_teardown,
	admin_routes
};

static void
admin_worker_init(void)
{
	admin_guard_init();
}

static void
admin_worker_teardown(void)
{
	admin_guard_teardown();
}

/* POST /api/admin/tokens {"name"}: 201 with the token, shown this once. */
static int
admin_tokens_create(struct http_request *req)
{
	json_t			*body, *v;
	char			 secret[ADMIN_TOKEN_SECRET_LEN + 1];
	char			 token[ADMIN_TOKEN_LEN + 1];
	char			 hash[AUTH_HASH_HEX_LEN + 1];
	char			 prefix[ADMIN_TOKEN_SHOWN + 1];
	const char		*params[5];
	int			 rc;

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));

	if ((body = tg_http_body_json(req)) == NULL)
		return (KORE_RESULT_OK);
	v = json_object_get(body, "name");
	if (v == NULL || json_is_null(v)) {
		json_decref(body);
		tg_error(req, 400, "missing_field", "name",
		    "\"name\" is required");
		return (KORE_RESULT_OK);
	}
	if (!json_is_string(v) || !admin_name_valid(json_string_value(v))) {
		json_decref(body);
		tg_error(req, 400, "invalid_value", "name", "\"name\" must be "
		    "1 to %d characters without control characters",
		    ADMIN_NAME_MAX);
		return (KORE_RESULT_OK);
	}

	auth_random_token(secret);
	(void)snprintf(token, sizeof(token), "%s%s", ADMIN_TOKEN_PREFIX,
	    secret);
	sodium_memzero(secret, sizeof(secret));
	if (!auth_keyed_hash(tg_conf.key_pepper, tg_conf.key_pepper_len,
	    ADMIN_HASH_TOKEN, token, strlen(token), hash)) {
		json_decref(body);
		tg_error_internal(req, "keyed hash failed");
		return (KORE_RESULT_OK);
	}
	admin_token_prefix(token, prefix);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = admin_actor_token(req);
	params[2] = json_string_value(v);
	params[3] = hash;
	params[4] = prefix;
	rc = admin_call(req, sql_token_create, 5, params, 201, token);
	sodium_memzero(token, sizeof(token));
	json_decref(body);
	return (rc);
}

static int
admin_tokens_list(struct http_request *req)
{
	const char	*params[1];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));

	params[0] = tg_ctx(req)->who.user_id;
	return (admin_call(req, sql_token_list, 1, params, 200, NULL));
}

static int
admin_tokens_revoke(struct http_request *req)
{
	const char	*params[3];
	char		 id[TG_UUID_LEN + 1];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_param_id(req, id))
		return (KORE_RESULT_OK);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = admin_actor_token(req);
	params[2] = id;
	return (admin_call(req, sql_token_revoke, 3, params, 200, NULL));
}

/* GET /api/admin/audit?limit=&cursor=: newest first. */
static int
admin_audit(struct http_request *req)
{
	const char	*params[3];
	char		 cursor[32], limit[8];
	int64_t		 id;

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_limit(req, limit, sizeof(limit)))
		return (KORE_RESULT_OK);

	params[1] = NULL;
	switch (tg_http_query(req, "cursor", cursor, sizeof(cursor))) {
	case TG_QS_ABSENT:
		break;
	case TG_QS_FOUND:
		if (admin_audit_cursor(cursor, &id)) {
			params[1] = cursor;
			break;
		}
		/* FALLTHROUGH */
	default:
		tg_error(req, 400, "invalid_value", "cursor",
		    "cursor must be a next_cursor of this list");
		return (KORE_RESULT_OK);
	}

	params[0] = tg_ctx(req)->who.user_id;
	params[2] = limit;
	return (admin_call(req, sql_audit, 3, params, 200, NULL));
}

/* GET /api/admin/users?q=&cursor=&limit=: by email or display name. */
static int
admin_users(struct http_request *req)
{
	const char	*params[4];
	char		 q[ADMIN_QUERY_MAX + 1], cursor[TG_UUID_LEN + 2];
	char		 limit[8];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_limit(req, limit, sizeof(limit)))
		return (KORE_RESULT_OK);

	params[1] = NULL;
	switch (tg_http_query(req, "q", q, sizeof(q))) {
	case TG_QS_ABSENT:
		break;
	case TG_QS_FOUND:
		if (q[0] != '\0')
			params[1] = q;
		break;
	default:
		tg_error(req, 400, "invalid_value", "q", "q must be at most "
		    "%d bytes of UTF-8", ADMIN_QUERY_MAX);
		return (KORE_RESULT_OK);
	}

	params[2] = NULL;
	switch (tg_http_query(req, "cursor", cursor, sizeof(cursor))) {
	case TG_QS_ABSENT:
		break;
	case TG_QS_FOUND:
		if (tg_uuid_canonical(cursor)) {
			params[2] = cursor;
			break;
		}
		/* FALLTHROUGH */
	default:
		tg_error(req, 400, "invalid_value", "cursor",
		    "cursor must be a next_cursor of this list");
		return (KORE_RESULT_OK);
	}

	params[0] = tg_ctx(req)->who.user_id;
	params[3] = limit;
	return (admin_call(req, sql_users, 4, params, 200, NULL));
}

static int
admin_user(struct http_request *req)
{
	const char	*params[2];
	char		 id[TG_UUID_LEN + 1];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_param_id(req, id))
		return (KORE_RESULT_OK);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = id;
	return (admin_call(req, sql_user, 2, params, 200, NULL));
}

/* PATCH /api/admin/users/{id} {"status":"active"|"suspended"}. */
static int
admin_user_patch(struct http_request *req)
{
	const char	*params[4];
	char		 id[TG_UUID_LEN + 1], status[16];
	json_t		*body, *v;

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_param_id(req, id))
		return (KORE_RESULT_OK);
	if ((body = tg_http_body_json(req)) == NULL)
		return (KORE_RESULT_OK);
	v = json_object_get(body, "status");
	if (v == NULL || json_is_null(v)) {
		json_decref(body);
		tg_error(req, 400, "missing_field", "status",
		    "\"status\" is required");
		return (KORE_RESULT_OK);
	}
	if (!json_is_string(v) || !admin_status_valid(json_string_value(v))) {
		json_decref(body);
		tg_error(req, 400, "invalid_value", "status",
		    "\"status\" must be \"active\" or \"suspended\"");
		return (KORE_RESULT_OK);
	}
	(void)kore_strlcpy(status, json_string_value(v), sizeof(status));
	json_decref(body);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = admin_actor_token(req);
	params[2] = id;
	params[3] = status;
	return (admin_call(req, sql_user_status, 4, params, 200, NULL));
}

/*
 * Send one admin statement; its answer is (result, body). token, when
 * set, is added to the body as "token" (the one time it is shown).
 */
static int
admin_call(struct http_request *req, const char *sql, int n,
    const char **params, int ok_status, const char *token)
{
	struct admin_call	*st;

	st = tg_state_alloc(req, sizeof(*st), admin_call_free);
	st->ok_status = ok_status;
	if (token != NULL)
		(void)kore_strlcpy(st->token, token, sizeof(st->token));
	/* Reads retry; the writes are safe to repeat (see 0380). */
	tg_db_start(&st->db, req, token == NULL ? TG_DB_RETRY : 0, sql, n,
	    params);
	return (admin_call_wait(req));
}

static int
admin_call_wait(struct http_request *req)
{
	struct admin_call	*st = tg_state(req);
	const char		*result, *text;
	json_t			*doc;

	switch (tg_db_poll(&st->db)) {
	case TG_DB_WAIT:
		return (KORE_RESULT_RETRY);
	case TG_DB_FAILED:
		tg_db_error(req, &st->db);
		return (KORE_RESULT_OK);
	}

	result = tg_db_ntuples(&st->db) == 1 ?
	    tg_db_value(&st->db, 0, 0) : NULL;
	if (result == NULL) {
		tg_error_internal(req, "admin statement answered nothing");
		return (KORE_RESULT_OK);
	}
	if (!strcmp(result, "not_admin")) {
		tg_error(req, 403, "not_admin", NULL,
		    "this needs an administrator");
		return (KORE_RESULT_OK);
	}
	if (!strcmp(result, "not_found")) {
		tg_error(req, 404, "not_found", NULL, "no such %s",
		    !strncmp(req->path, "/api/admin/tokens", 17) ?
		    "admin token" : "user");
		return (KORE_RESULT_OK);
	}
	if ((strcmp(result, "ok") && strcmp(result, "created")) ||
	    (text = tg_db_value(&st->db, 0, 1)) == NULL ||
	    (doc = json_loads(text, 0, NULL)) == NULL ||
	    !json_is_object(doc)) {
		tg_error_internal(req, "admin statement answered badly");
		return (KORE_RESULT_OK);
	}

	if (st->token[0] != '\0')
		(void)json_object_set_new(doc, "token",
		    json_string(st->token));
	tg_http_json_steal(req, st->ok_status, doc);
	return (KORE_RESULT_OK);
}

static void
admin_call_free(struct http_request *req, void *arg)
{
	struct admin_call	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
	sodium_memzero(st->token, sizeof(st->token));
}

/* The admin token the caller acts with, or NULL (a session). */
static const char *
admin_actor_token(struct http_request *req)
{
	const char	*id = tg_ctx(req)->who.admin_token_id;

	return (id[0] != '\0' ? id : NULL);
}

/* The {id} of the path, a uuid; 404 (answered) otherwise. */
static int
admin_param_id(struct http_request *req, char *out)
{
	const char	*v = tg_param(req, 0);
	size_t		 i;

	if (v == NULL || !tg_uuid_valid(v)) {
		tg_error(req, 404, "not_found", NULL, "no such %s",
		    !strncmp(req->path, "/api/admin/tokens", 17) ?
		    "admin token" : "user");
		return (0);
	}
	for (i = 0; i < TG_UUID_LEN; i++)
		out[i] = tolower((unsigned char)v[i]);
	out[TG_UUID_LEN] = '\0';
	return (1);
}

/* ?limit= (1..ADMIN_LIST_LIMIT_MAX, default ADMIN_LIST_LIMIT). */
static int
admin_limit(struct http_request *req, char *out, size_t len)
{
	char	v[8];
	int	n;

	switch (tg_http_query(req, "limit", v, sizeof(v))) {
	case TG_QS_ABSENT:
		n = ADMIN_LIST_LIMIT;
		break;
	case TG_QS_FOUND:
		if (tg_limit_parse(v, ADMIN_LIST_LIMIT_MAX, &n))
			break;
		/* FALLTHROUGH */
	default:
		tg_error(req, 400, "invalid_value", "limit", "limit must be "
		    "an integer from 1 to %d", ADMIN_LIST_LIMIT_MAX);
		return (0);
	}
	(void)snprintf(out, len, "%d", n);
	return (1);
}
