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
 *	GET    /api/admin/usage?group_by=	usage of everyone, grouped
 *	GET    /api/admin/users/{id}/usage	usage of one user, grouped
 *	GET    /api/admin/users/{id}/ledger	one user's ledger entries
 *	GET    /api/admin/payments?status=	every user's payments
 *
 * (POST /api/admin/payments/{id}/refund is billing's, billing/refund.c;
 * the grants, prices and packages routes are the credits and billing
 * modules'.)
 *
 * The usage and ledger lists are also CSV (with a header row) when the
 * request says "Accept: text/csv".
 *
 * Every route takes a session access token or an admin token (guard.c).
 * Each is one SQL function call of sql/0380_admin.sql that decides
 * whether the caller is an admin, does the work, writes the audit row
 * and builds the JSON answer, returning (result, body): the handlers
 * check the input, send the call and map the result to a status.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "db.h"
#include "lex.h"
#include "qs.h"
#include "auth/auth.h"
#include "credits/validate.h"
#include "admin/admin.h"
#include "admin/input.h"

struct admin_call {
	struct tg_db		 db;
	int			 ok_status;
	const char *const	*csv;		/* CSV columns, or NULL */
	char			 token[ADMIN_TOKEN_LEN + 1]; /* shown once */
};

/* CSV columns of each export: the keys of the JSON rows. */
#define USAGE_SUMS	"requests", "prompt_tokens", "cached_tokens", \
			"completion_tokens", "cost_micros"
static const char *const	csv_day[] = { "day", USAGE_SUMS, NULL };
static const char *const	csv_model[] = { "model", USAGE_SUMS, NULL };
static const char *const	csv_key[] = { "key_id", "key_name", "user_id",
				    USAGE_SUMS, NULL };
static const char *const	csv_user[] = { "user_id", "email", USAGE_SUMS,
				    NULL };
static const char *const	csv_ledger[] = { "id", "kind",
				    "amount_micros", "balance_after_micros",
				    "reference", "created_at", NULL };

static void	admin_worker_init(void);
static void	admin_worker_teardown(void);
static int	admin_tokens_create(struct http_request *);
static int	admin_tokens_list(struct http_request *);
static int	admin_tokens_revoke(struct http_request *);
static int	admin_audit(struct http_request *);
static int	admin_users(struct http_request *);
static int	admin_user(struct http_request *);
static int	admin_user_patch(struct http_request *);
static int	admin_usage_all(struct http_request *);
static int	admin_user_usage(struct http_request *);
static int	admin_user_ledger(struct http_request *);
static int	admin_usage(struct http_request *, const char *);
static int	admin_payments(struct http_request *);
static int	admin_wants_csv(struct http_request *);
static void	admin_csv(struct http_request *, const char *const *,
		    json_t *);
static int	admin_call(struct http_request *, const char *, int,
		    const char **, int, const char *, const char *const *);
static int	admin_call_wait(struct http_request *);
static void	admin_call_free(struct http_request *, void *);
static const char *admin_actor_token(struct http_request *);
static int	admin_param_id(struct http_request *, char *);
static int	admin_limit(struct http_request *, char *, size_t);
static int	admin_cursor(struct http_request *, int, char *, size_t,
		    const char **);

#define CURSOR_ID	0	/* a uuid */
#define CURSOR_SEQ	1	/* a bigserial */

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

static const char	sql_usage[] =
	"SELECT result, body::text FROM admin_usage($1::uuid, $2::bigint, "
	"$3::bigint, $4, $5::uuid)";
static const char	sql_ledger[] =
	"SELECT result, body::text FROM admin_user_ledger($1::uuid, $2::uuid, "
	"$3::bigint, $4::integer)";

static const char	sql_payments[] =
	"SELECT result, body::text FROM admin_payment_list($1::uuid, $2, "
	"$3::uuid, $4::integer)";

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
	{ HTTP_METHOD_GET, "/api/admin/payments", admin_payments,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/usage", admin_usage_all,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/users/{}/usage", admin_user_usage,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/users/{}/ledger", admin_user_ledger,
	    TG_AUTH_SESSION, 0, 0 },
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

	if (!admin_token_new(tg_conf.key_pepper, tg_conf.key_pepper_len,
	    token, hash, prefix)) {
		json_decref(body);
		tg_error_internal(req, "keyed hash failed");
		return (KORE_RESULT_OK);
	}

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = admin_actor_token(req);
	params[2] = json_string_value(v);
	params[3] = hash;
	params[4] = prefix;
	rc = admin_call(req, sql_token_create, 5, params, 201, token, NULL);
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
	return (admin_call(req, sql_token_list, 1, params, 200, NULL, NULL));
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
	return (admin_call(req, sql_token_revoke, 3, params, 200, NULL, NULL));
}

/* GET /api/admin/audit?limit=&cursor=: newest first. */
static int
admin_audit(struct http_request *req)
{
	const char	*params[3];
	char		 cursor[32], limit[8];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_limit(req, limit, sizeof(limit)))
		return (KORE_RESULT_OK);

	if (!admin_cursor(req, CURSOR_SEQ, cursor, sizeof(cursor), &params[1]))
		return (KORE_RESULT_OK);

	params[0] = tg_ctx(req)->who.user_id;
	params[2] = limit;
	return (admin_call(req, sql_audit, 3, params, 200, NULL, NULL));
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

	if (!admin_cursor(req, CURSOR_ID, cursor, sizeof(cursor), &params[2]))
		return (KORE_RESULT_OK);

	params[0] = tg_ctx(req)->who.user_id;
	params[3] = limit;
	return (admin_call(req, sql_users, 4, params, 200, NULL, NULL));
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
	return (admin_call(req, sql_user, 2, params, 200, NULL, NULL));
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
	/* "active" or "suspended" (checked above) fits. */
	(void)kore_strlcpy(status, json_string_value(v), sizeof(status));
	json_decref(body);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = admin_actor_token(req);
	params[2] = id;
	params[3] = status;
	return (admin_call(req, sql_user_status, 4, params, 200, NULL, NULL));
}

static int
admin_usage_all(struct http_request *req)
{
	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	return (admin_usage(req, NULL));
}

static int
admin_user_usage(struct http_request *req)
{
	char	id[TG_UUID_LEN + 1];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_param_id(req, id))
		return (KORE_RESULT_OK);
	return (admin_usage(req, id));
}

/*
 * ?from=&to=&group_by=day|model|key|user, as GET /api/usage reads them
 * (dates or RFC 3339 times; the last 30 days by default; 366 at most).
 */
static int
admin_usage(struct http_request *req, const char *user)
{
	const char	*params[5];
	char		 buf[64], from[24], to[24], group[8];
	int64_t		 from_us, to_us;
	int		 r;

	to_us = ((int64_t)time(NULL) + 1) * 1000000;
	r = tg_http_query(req, "to", buf, sizeof(buf));
	if (r == TG_QS_INVALID || (r == TG_QS_FOUND &&
	    !credits_time_parse(buf, &to_us))) {
		tg_error(req, 400, "invalid_value", "to", "to must be a date "
		    "(YYYY-MM-DD) or an RFC 3339 time");
		return (KORE_RESULT_OK);
	}
	from_us = to_us - 30LL * 86400 * 1000000;
	r = tg_http_query(req, "from", buf, sizeof(buf));
	if (r == TG_QS_INVALID || (r == TG_QS_FOUND &&
	    !credits_time_parse(buf, &from_us))) {
		tg_error(req, 400, "invalid_value", "from", "from must be a "
		    "date (YYYY-MM-DD) or an RFC 3339 time");
		return (KORE_RESULT_OK);
	}
	if (from_us >= to_us ||
	    to_us - from_us > CREDITS_USAGE_SPAN_MAX * 1000000) {
		tg_error(req, 400, "invalid_value", "from", "from must be "
		    "before to, and at most 366 days before it");
		return (KORE_RESULT_OK);
	}
	(void)kore_strlcpy(group, "day", sizeof(group));
	r = tg_http_query(req, "group_by", buf, sizeof(buf));
	if (r == TG_QS_INVALID || (r == TG_QS_FOUND &&
	    !admin_group_valid(buf))) {
		tg_error(req, 400, "invalid_value", "group_by",
		    "group_by must be user, model, day or key");
		return (KORE_RESULT_OK);
	}
	/* One of admin_group_valid's words: "model" is the longest. */
	if (r == TG_QS_FOUND)
		(void)kore_strlcpy(group, buf, sizeof(group));

	(void)snprintf(from, sizeof(from), "%lld", (long long)from_us);
	(void)snprintf(to, sizeof(to), "%lld", (long long)to_us);
	params[0] = tg_ctx(req)->who.user_id;
	params[1] = from;
	params[2] = to;
	params[3] = group;
	params[4] = user;
	return (admin_call(req, sql_usage, 5, params, 200, NULL,
	    !admin_wants_csv(req) ? NULL : !strcmp(group, "day") ? csv_day :
	    !strcmp(group, "model") ? csv_model :
	    !strcmp(group, "key") ? csv_key : csv_user));
}

/* GET /api/admin/users/{id}/ledger?limit=&cursor=: newest first. */
static int
admin_user_ledger(struct http_request *req)
{
	const char	*params[4];
	char		 id[TG_UUID_LEN + 1], cursor[32], limit[8];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_param_id(req, id) || !admin_limit(req, limit,
	    sizeof(limit)))
		return (KORE_RESULT_OK);

	if (!admin_cursor(req, CURSOR_SEQ, cursor, sizeof(cursor), &params[2]))
		return (KORE_RESULT_OK);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = id;
	params[3] = limit;
	return (admin_call(req, sql_ledger, 4, params, 200, NULL,
	    admin_wants_csv(req) ? csv_ledger : NULL));
}

/* GET /api/admin/payments?status=&cursor=&limit=: newest first. */
static int
admin_payments(struct http_request *req)
{
	const char	*params[4];
	char		 status[32], cursor[TG_UUID_LEN + 2], limit[8];

	if (tg_state(req) != NULL)
		return (admin_call_wait(req));
	if (!admin_limit(req, limit, sizeof(limit)))
		return (KORE_RESULT_OK);

	params[1] = NULL;
	switch (tg_http_query(req, "status", status, sizeof(status))) {
	case TG_QS_ABSENT:
		break;
	case TG_QS_FOUND:
		if (admin_payment_status_valid(status)) {
			params[1] = status;
			break;
		}
		/* FALLTHROUGH */
	default:
		tg_error(req, 400, "invalid_value", "status", "status must be "
		    "a payment state (pending, processing, paid, "
		    "partially_refunded, refunded, disputed, failed, expired, "
		    "flagged)");
		return (KORE_RESULT_OK);
	}

	if (!admin_cursor(req, CURSOR_ID, cursor, sizeof(cursor), &params[2]))
		return (KORE_RESULT_OK);

	params[0] = tg_ctx(req)->who.user_id;
	params[3] = limit;
	return (admin_call(req, sql_payments, 4, params, 200, NULL, NULL));
}

static int
admin_wants_csv(struct http_request *req)
{
	const char	*v = tg_http_header(req, "accept");

	return (v != NULL && strstr(v, "text/csv") != NULL);
}

/* The rows of a list as CSV: a header row, then one line per row. */
static void
admin_csv(struct http_request *req, const char *const *cols, json_t *doc)
{
	struct kore_buf	 buf;
	json_t		*data, *row, *v;
	char		*field;
	size_t		 i;
	int		 c;

	kore_buf_init(&buf, 1024);
	for (c = 0; cols[c] != NULL; c++)
		kore_buf_appendf(&buf, "%s%s", c > 0 ? "," : "", cols[c]);
	kore_buf_append(&buf, "\r\n", 2);

	data = json_object_get(doc, "data");
	json_array_foreach(data, i, row) {
		for (c = 0; cols[c] != NULL; c++) {
			if (c > 0)
				kore_buf_append(&buf, ",", 1);
			v = json_object_get(row, cols[c]);
			if (json_is_integer(v)) {
				kore_buf_appendf(&buf, "%lld",
				    (long long)json_integer_value(v));
			} else if (json_is_string(v)) {
				if ((field = admin_csv_text(
				    json_string_value(v))) == NULL)
					fatal("admin_csv: out of memory");
				kore_buf_append(&buf, field, strlen(field));
				free(field);
			}
		}
		kore_buf_append(&buf, "\r\n", 2);
	}

	http_response_header(req, "content-type", "text/csv; charset=utf-8");
	http_response(req, 200, buf.data, buf.offset);
	kore_buf_cleanup(&buf);
}

/*
 * Send one admin statement; its answer is (result, body). token, when
 * set, is added to the body as "token" (the one time it is shown); with
 * csv (columns) the body's rows are answered as CSV instead.
 */
static int
admin_call(struct http_request *req, const char *sql, int n,
    const char **params, int ok_status, const char *token,
    const char *const *csv)
{
	struct admin_call	*st;

	st = tg_state_alloc(req, sizeof(*st), admin_call_free);
	st->ok_status = ok_status;
	st->csv = csv;
	/* admin_token_new's token: ADMIN_TOKEN_LEN, st->token's size. */
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
	if (st->csv != NULL) {
		admin_csv(req, st->csv, doc);
		json_decref(doc);
		return (KORE_RESULT_OK);
	}
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

/*
 * ?cursor=: absent (*param NULL) or a next_cursor of the list (a uuid or
 * a sequence number, by kind) copied into buf; 0 when answered 400.
 */
static int
admin_cursor(struct http_request *req, int kind, char *buf, size_t len,
    const char **param)
{
	int64_t	seq;

	*param = NULL;
	switch (tg_http_query(req, "cursor", buf, len)) {
	case TG_QS_ABSENT:
		return (1);
	case TG_QS_FOUND:
		if (kind == CURSOR_ID ? tg_uuid_canonical(buf) :
		    admin_audit_cursor(buf, &seq)) {
			*param = buf;
			return (1);
		}
		break;
	}
	tg_error(req, 400, "invalid_value", "cursor",
	    "cursor must be a next_cursor of this list");
	return (0);
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
