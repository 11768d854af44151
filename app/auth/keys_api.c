/*
 * The key-management API (docs/contract.md §3, §7), for a signed-in user:
 *
 *	POST   /api/keys	create; the full key is in this answer only
 *	GET    /api/keys	list, newest first, cursor-paginated
 *	GET    /api/keys/{id}
 *	PATCH  /api/keys/{id}	name, allowed_models, spend_limit_micros,
 *				disabled
 *	DELETE /api/keys/{id}	revoke, for good
 *
 * and, for the holder of a key, GET /v1/key: what the key itself may do.
 *
 * Every statement is scoped to the session's user (WHERE user_id = ...),
 * so another user's key id, a malformed id and an unknown id are all the
 * same 404; each also checks that the session is still live
 * (session_is_active, so a sign-out on another host counts at once).
 * Input is checked (keys_input.c) before any query. The secret exists
 * only in the creation answer: it is generated here, hashed, and wiped
 * from memory with the request; the database gets the public id and the
 * keyed digest, the log gets nothing of it.
 *
 * Each handler is two states: start (check input, send one statement)
 * and wait (answer from its result). Changes made here are announced to
 * every worker by the database triggers (keys_notify.c); this worker's
 * own cache entry is dropped at once too.
 */

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tollgate.h"
#include "db.h"
#include "qs.h"
#include "auth/apikey.h"
#include "auth/keys.h"
#include "auth/keys_input.h"
#include "lex.h"

#define KEYS_BODY_MAX	16384

struct keys_op {
	struct tg_db	 db;
	void		(*answer)(struct http_request *, struct keys_op *);
	char		 key[APIKEY_LEN + 1];		/* POST only */
	int		 limit;				/* GET list */
};

static int	keys_create(struct http_request *);
static int	keys_list(struct http_request *);
static int	keys_get(struct http_request *);
static int	keys_update(struct http_request *);
static int	keys_revoke(struct http_request *);
static int	keys_self(struct http_request *);

static int	keys_create_start(struct http_request *);
static int	keys_list_start(struct http_request *);
static int	keys_get_start(struct http_request *);
static int	keys_update_start(struct http_request *);
static int	keys_revoke_start(struct http_request *);
static int	keys_one_start(struct http_request *, const char *);
static int	keys_wait(struct http_request *);

static void	keys_create_answer(struct http_request *, struct keys_op *);
static void	keys_list_answer(struct http_request *, struct keys_op *);
static void	keys_one_answer(struct http_request *, struct keys_op *);
static void	keys_update_answer(struct http_request *, struct keys_op *);

static struct keys_op	*keys_op_new(struct http_request *,
			    void (*)(struct http_request *, struct keys_op *));
static void	keys_op_free(struct http_request *, void *);
static const char *keys_path_id(struct http_request *);
static void	keys_not_found(struct http_request *);
static void	keys_bad_input(struct http_request *, struct keys_problem *);
static json_t	*keys_doc(struct http_request *, const char *);
static void	keys_forget(json_t *);

#define KEYS_START	0
#define KEYS_WAIT	1

/* Every statement checks the session too (api_key_session, TGS01). */
static const char	sql_create[] =
	"SELECT status, doc::text FROM api_key_create($1, $2, $3, "
	"decode($4, 'hex'), $5, $6, $7::json, $8::bigint, "
	"'epoch'::timestamptz + $9::bigint * interval '1 second', $10::int)";

static const char	sql_list[] =
	"SELECT key_doc::text, key_pos, key_id FROM api_key_list($1, $2, "
	"$3::bigint, $4::uuid, $5::int)";

static const char	sql_get[] =
	"SELECT api_key_get($1, $2, $3)::text";

static const char	sql_update[] =
	"SELECT status, doc::text FROM api_key_update($1, $2, $3, $4, $5, "
	"$6, $7::json, $8, $9::bigint, $10, $11::boolean)";

static const char	sql_revoke[] =
	"SELECT api_key_revoke($1, $2, $3)::text";

static struct http_state	keys_create_states[] = {
	KORE_HTTP_STATE(keys_create_start),
	KORE_HTTP_STATE(keys_wait),
};
static struct http_state	keys_list_states[] = {
	KORE_HTTP_STATE(keys_list_start),
	KORE_HTTP_STATE(keys_wait),
};
static struct http_state	keys_get_states[] = {
	KORE_HTTP_STATE(keys_get_start),
	KORE_HTTP_STATE(keys_wait),
};
static struct http_state	keys_update_states[] = {
	KORE_HTTP_STATE(keys_update_start),
	KORE_HTTP_STATE(keys_wait),
};
static struct http_state	keys_revoke_states[] = {
	KORE_HTTP_STATE(keys_revoke_start),
	KORE_HTTP_STATE(keys_wait),
};

const struct tg_route	keys_routes[] = {
	{ HTTP_METHOD_POST, "/api/keys", keys_create, TG_AUTH_SESSION,
	    TG_ROUTE_RATELIMIT_USER, KEYS_BODY_MAX },
	{ HTTP_METHOD_GET, "/api/keys", keys_list, TG_AUTH_SESSION,
	    TG_ROUTE_RATELIMIT_USER, 0 },
	{ HTTP_METHOD_GET, "/api/keys/{}", keys_get, TG_AUTH_SESSION,
	    TG_ROUTE_RATELIMIT_USER, 0 },
	{ HTTP_METHOD_PATCH, "/api/keys/{}", keys_update, TG_AUTH_SESSION,
	    TG_ROUTE_RATELIMIT_USER, KEYS_BODY_MAX },
	{ HTTP_METHOD_DELETE, "/api/keys/{}", keys_revoke, TG_AUTH_SESSION,
	    TG_ROUTE_RATELIMIT_USER, 0 },
	{ HTTP_METHOD_GET, "/v1/key", keys_self, TG_AUTH_API_KEY, 0, 0 },
	{ 0, NULL, NULL, 0, 0, 0 }
};

static int
keys_create(struct http_request *req)
{
	return (http_state_run(keys_create_states, 2, req));
}

static int
keys_list(struct http_request *req)
{
	return (http_state_run(keys_list_states, 2, req));
}

static int
keys_get(struct http_request *req)
{
	return (http_state_run(keys_get_states, 2, req));
}

static int
keys_update(struct http_request *req)
{
	return (http_state_run(keys_update_states, 2, req));
}

static int
keys_revoke(struct http_request *req)
{
	return (http_state_run(keys_revoke_states, 2, req));
}

/*
 * GET /v1/key: the calling key as the router sees it (from this worker's
 * cache; spent_micros may lag by up to the cache's TTL).
 */
static int
keys_self(struct http_request *req)
{
	struct tg_principal	*who = &tg_ctx(req)->who;
	json_t			*doc, *models;
	int			 i;

	models = json_array();
	for (i = 0; i < who->nallowed; i++)
		json_array_append_new(models,
		    json_string(who->allowed_models[i]));

	doc = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I}",
	    "object", "api_key",
	    "id", who->key_id,
	    "prefix", who->key_prefix,
	    "allowed_models", models,
	    "spend_limit_micros", who->spend_limit_micros < 0 ? json_null() :
	    json_integer(who->spend_limit_micros),
	    "spent_micros", (json_int_t)who->spent_micros);
	if (doc == NULL) {
		tg_error_internal(req, "json_pack failed");
		return (KORE_RESULT_OK);
	}

	tg_http_json_steal(req, 200, doc);
	return (KORE_RESULT_OK);
}

static int
keys_create_start(struct http_request *req)
{
	struct tg_ctx		*ctx = tg_ctx(req);
	struct keys_op		*st;
	struct keys_fields	 f;
	struct keys_problem	 p;
	json_t			*body;
	unsigned char		 digest[APIKEY_DIGEST_LEN];
	char			 hex[APIKEY_DIGEST_LEN * 2 + 1];
	char			 public_id[APIKEY_PUBLIC_LEN + 1];
	char			 limit[24], expires[24], max[16];
	const char		*params[10];

	if ((body = tg_http_body_json(req)) == NULL)
		return (HTTP_STATE_COMPLETE);
	if (!keys_input_parse(body, KEYS_FOR_CREATE, time(NULL), &f, &p)) {
		/* p.param may point into body: answer first. */
		keys_bad_input(req, &p);
		json_decref(body);
		return (HTTP_STATE_COMPLETE);
	}

	st = keys_op_new(req, keys_create_answer);
	apikey_generate(st->key);
	if (!apikey_parse(st->key, public_id))
		fatal("keys: generated a key that does not parse");
	keys_digest(st->key, digest);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	(void)snprintf(limit, sizeof(limit), "%lld",
	    (long long)f.spend_limit_micros);
	(void)snprintf(expires, sizeof(expires), "%lld",
	    (long long)f.expires_at);
	(void)snprintf(max, sizeof(max), "%d", tg_conf.max_keys_per_user);

	params[0] = ctx->who.user_id;
	params[1] = ctx->who.session_id;
	params[2] = public_id;
	params[3] = hex;
	params[4] = f.name;
	params[5] = st->key + APIKEY_LEN - 4;
	params[6] = f.models_json;
	params[7] = f.spend_limit_micros >= 0 ? limit : NULL;
	params[8] = f.expires_at > 0 ? expires : NULL;
	params[9] = max;
	tg_db_start(&st->db, req, 0, sql_create, 10, params);

	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(hex, sizeof(hex));
	keys_input_free(&f);
	json_decref(body);

	req->fsm_state = KEYS_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
keys_list_start(struct http_request *req)
{
	struct tg_ctx	*ctx = tg_ctx(req);
	struct keys_op	*st;
	char		 cursor[KEYS_CURSOR_MAX + 1], arg[8];
	char		 id[KEYS_UUID_LEN + 1], pos[24], limit[8];
	const char	*params[5];
	int64_t		 us;
	int		 n;

	n = KEYS_LIST_LIMIT_DEFAULT;
	switch (tg_http_query(req, "limit", arg, sizeof(arg))) {
	case TG_QS_FOUND:
		if (tg_limit_parse(arg, KEYS_LIST_LIMIT_MAX, &n))
			break;
		/* FALLTHROUGH */
	case TG_QS_INVALID:
		tg_error(req, 400, "invalid_value", "limit",
		    "limit must be an integer from 1 to %d",
		    KEYS_LIST_LIMIT_MAX);
		return (HTTP_STATE_COMPLETE);
	}

	params[2] = NULL;
	params[3] = NULL;
	switch (tg_http_query(req, "cursor", cursor, sizeof(cursor))) {
	case TG_QS_FOUND:
		if (keys_cursor_parse(cursor, &us, id)) {
			(void)snprintf(pos, sizeof(pos), "%lld",
			    (long long)us);
			params[2] = pos;
			params[3] = id;
			break;
		}
		/* FALLTHROUGH */
	case TG_QS_INVALID:
		tg_error(req, 400, "invalid_value", "cursor",
		    "cursor is not one this API handed out");
		return (HTTP_STATE_COMPLETE);
	}

	st = keys_op_new(req, keys_list_answer);
	st->limit = n;
	(void)snprintf(limit, sizeof(limit), "%d", n);
	params[0] = ctx->who.user_id;
	params[1] = ctx->who.session_id;
	params[4] = limit;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_list, 5, params);

	req->fsm_state = KEYS_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
keys_get_start(struct http_request *req)
{
	return (keys_one_start(req, sql_get));
}

static int
keys_update_start(struct http_request *req)
{
	struct keys_op		*st;
	struct keys_fields	 f;
	struct keys_problem	 p;
	json_t			*body;
	const char		*id, *params[11];
	char			 limit[24];

	if ((id = keys_path_id(req)) == NULL) {
		keys_not_found(req);
		return (HTTP_STATE_COMPLETE);
	}
	if ((body = tg_http_body_json(req)) == NULL)
		return (HTTP_STATE_COMPLETE);
	if (!keys_input_parse(body, KEYS_FOR_UPDATE, time(NULL), &f, &p)) {
		/* p.param may point into body: answer first. */
		keys_bad_input(req, &p);
		json_decref(body);
		return (HTTP_STATE_COMPLETE);
	}

	(void)snprintf(limit, sizeof(limit), "%lld",
	    (long long)f.spend_limit_micros);
	params[0] = id;
	params[1] = tg_ctx(req)->who.user_id;
	params[2] = tg_ctx(req)->who.session_id;
	params[3] = f.has_name ? "t" : "f";
	params[4] = f.has_name ? f.name : NULL;
	params[5] = f.has_models ? "t" : "f";
	params[6] = f.models_json;
	params[7] = f.has_limit ? "t" : "f";
	params[8] = f.has_limit && f.spend_limit_micros >= 0 ? limit : NULL;
	params[9] = f.has_disabled ? "t" : "f";
	params[10] = f.has_disabled ? (f.disabled ? "t" : "f") : NULL;

	/* The same values again on a lost connection: safe to repeat. */
	st = keys_op_new(req, keys_update_answer);
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_update, 11, params);
	keys_input_free(&f);
	json_decref(body);

	req->fsm_state = KEYS_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
keys_revoke_start(struct http_request *req)
{
	return (keys_one_start(req, sql_revoke));
}

/* GET and DELETE of one key: (id, user, session) in, the key out. */
static int
keys_one_start(struct http_request *req, const char *sql)
{
	struct keys_op	*st;
	const char	*id, *params[3];

	if ((id = keys_path_id(req)) == NULL) {
		keys_not_found(req);
		return (HTTP_STATE_COMPLETE);
	}

	st = keys_op_new(req, keys_one_answer);
	params[0] = id;
	params[1] = tg_ctx(req)->who.user_id;
	params[2] = tg_ctx(req)->who.session_id;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql, 3, params);

	req->fsm_state = KEYS_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
keys_wait(struct http_request *req)
{
	struct keys_op	*st = tg_state(req);

	switch (tg_db_poll(&st->db)) {
	case TG_DB_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_DB_FAILED:
		if (!strcmp(st->db.sqlstate, "TGS01")) {
			tg_error(req, 401, "invalid_token", NULL,
			    "this session has ended: sign in again");
			return (HTTP_STATE_COMPLETE);
		}
		tg_db_error(req, &st->db);
		return (HTTP_STATE_COMPLETE);
	}

	st->answer(req, st);
	return (HTTP_STATE_COMPLETE);
}

static void
keys_create_answer(struct http_request *req, struct keys_op *st)
{
	const char	*status;
	json_t		*doc;

	status = tg_db_value(&st->db, 0, 0);
	if (status == NULL) {
		tg_error_internal(req, "api_key_create returned nothing");
		return;
	}

	if (!strcmp(status, "limit")) {
		tg_error(req, 400, "key_limit_reached", NULL,
		    "this account already has %d live API keys, the most it "
		    "may have: revoke one first", tg_conf.max_keys_per_user);
		return;
	}
	if (strcmp(status, "ok")) {
		tg_error(req, 401, "invalid_token", NULL,
		    "this account is closed");
		return;
	}

	if ((doc = keys_doc(req, tg_db_value(&st->db, 0, 1))) == NULL)
		return;
	json_object_set_new(doc, "key", json_string(st->key));
	tg_http_json_steal(req, 201, doc);
}

static void
keys_list_answer(struct http_request *req, struct keys_op *st)
{
	json_t		*list, *data, *doc;
	char		 cursor[KEYS_CURSOR_MAX];
	long long	 us;
	int		 i, n, more;

	n = tg_db_ntuples(&st->db);
	more = n > st->limit;
	if (more)
		n = st->limit;

	data = json_array();
	for (i = 0; i < n; i++) {
		if ((doc = keys_doc(req, tg_db_value(&st->db, i, 0))) ==
		    NULL) {
			json_decref(data);
			return;
		}
		json_array_append_new(data, doc);
	}

	list = json_pack("{s:s, s:o, s:n}", "object", "list", "data", data,
	    "next_cursor");
	if (more) {
		/* A cursor we cannot write would silently end the listing. */
		if (!tg_db_num(&st->db, n - 1, 1, 0, INT64_MAX, &us) ||
		    !keys_cursor_format(us, tg_db_value(&st->db, n - 1, 2),
		    cursor, sizeof(cursor))) {
			json_decref(list);
			tg_error_internal(req, "bad api_key_list cursor");
			return;
		}
		json_object_set_new(list, "next_cursor", json_string(cursor));
	}

	tg_http_json_steal(req, 200, list);
}

/* GET and DELETE: the key, or 404. */
static void
keys_one_answer(struct http_request *req, struct keys_op *st)
{
	json_t	*doc;

	if (tg_db_isnull(&st->db, 0, 0)) {
		keys_not_found(req);
		return;
	}
	if ((doc = keys_doc(req, tg_db_value(&st->db, 0, 0))) == NULL)
		return;

	if (req->method == HTTP_METHOD_DELETE)
		keys_forget(doc);
	tg_http_json_steal(req, 200, doc);
}

static void
keys_update_answer(struct http_request *req, struct keys_op *st)
{
	const char	*status;
	json_t		*doc;

	if ((status = tg_db_value(&st->db, 0, 0)) == NULL ||
	    !strcmp(status, "not_found")) {
		keys_not_found(req);
		return;
	}
	if (!strcmp(status, "revoked")) {
		tg_error(req, 409, "key_revoked", NULL,
		    "this API key is revoked and can no longer be changed");
		return;
	}

	if ((doc = keys_doc(req, tg_db_value(&st->db, 0, 1))) == NULL)
		return;
	keys_forget(doc);
	tg_http_json_steal(req, 200, doc);
}

static struct keys_op *
keys_op_new(struct http_request *req,
    void (*answer)(struct http_request *, struct keys_op *))
{
	struct keys_op	*st;

	st = tg_state_alloc(req, sizeof(*st), keys_op_free);
	st->answer = answer;
	return (st);
}

static void
keys_op_free(struct http_request *req, void *arg)
{
	struct keys_op	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
	sodium_memzero(st->key, sizeof(st->key));
}

/* The {id} of the path when it is a uuid; anything else is a 404. */
static const char *
keys_path_id(struct http_request *req)
{
	const char	*id;

	if ((id = tg_param(req, 0)) == NULL || !tg_uuid_valid(id))
		return (NULL);

	return (id);
}

static void
keys_not_found(struct http_request *req)
{
	tg_error(req, 404, "not_found", NULL, "no such API key");
}

static void
keys_bad_input(struct http_request *req, struct keys_problem *p)
{
	tg_error(req, 400, p->code, p->param, "%s", p->message);
}

/* A key document from SQL (api_key_json), or NULL when answered 500. */
static json_t *
keys_doc(struct http_request *req, const char *text)
{
	json_t	*doc;

	doc = text != NULL ? json_loads(text, 0, NULL) : NULL;
	if (!json_is_object(doc)) {
		json_decref(doc);
		tg_error_internal(req, "bad api_key_json document");
		return (NULL);
	}

	return (doc);
}

/* Drop a changed key from this worker's cache at once ("tg_<id>"). */
static void
keys_forget(json_t *doc)
{
	const char	*prefix;

	prefix = json_string_value(json_object_get(doc, "prefix"));
	if (prefix != NULL && strlen(prefix) == 3 + APIKEY_PUBLIC_LEN)
		keys_cache_invalidate(prefix + 3);
}
