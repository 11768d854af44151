/*
 * Admin endpoints of the credits module (docs/contract.md §6). Whether the
 * caller is an admin is decided by the database in the same statement
 * (users.is_admin of an active user), never by the token:
 *
 *	POST /api/admin/users/{id}/credits	grant (+) or adjust (-),
 *						idempotent on idempotency_key
 *	GET  /api/admin/prices			every current price
 *	GET  /api/admin/prices/{provider:model}	its price and history
 *	PUT  /api/admin/prices/{provider:model}	a new price, for calls
 *						reserved from now on
 *
 * Each write names the admin token it was done with, if any, so that its
 * audit row (written by a trigger, sql/0501_admin_audit_actor.sql) names
 * the token and its creator.
 *
 * The model in the path may be percent-encoded ("%3A", "%2F" for the
 * slashes of "openrouter:openai/gpt-4o").
 */

#include <string.h>

#include "credits/credits.h"
#include "qs.h"

static int	grant_start(struct http_request *, struct credits_api *);
static void	grant_render(struct http_request *, struct credits_api *);
static int	prices_start(struct http_request *, struct credits_api *);
static void	prices_render(struct http_request *, struct credits_api *);
static int	price_get_start(struct http_request *, struct credits_api *);
static void	price_get_render(struct http_request *, struct credits_api *);
static int	price_put_start(struct http_request *, struct credits_api *);
static void	price_put_render(struct http_request *, struct credits_api *);
static int	admin_model_param(struct http_request *, struct credits_api *);
static int	admin_refused(struct http_request *, struct tg_db *);
static const char *admin_actor_token(struct http_request *);
static json_t	*price_row(struct tg_db *, int, int);

static const struct credits_api_ops	grant_ops = {
	grant_start, grant_render
};
static const struct credits_api_ops	prices_ops = {
	prices_start, prices_render
};
static const struct credits_api_ops	price_get_ops = {
	price_get_start, price_get_render
};
static const struct credits_api_ops	price_put_ops = {
	price_put_start, price_put_render
};

static const char	sql_grant[] =
	"SELECT result, txn_id, balance_micros, reserved_micros, "
	"available_micros FROM admin_credits_grant($1, $6::uuid, $2::uuid, "
	"$3::bigint, $4, $5)";

/* Row 0 always exists: column 0 says whether the caller is an admin. */
#define PRICE_COLUMNS							\
	"p.model, p.id, p.input_micros_per_mtok, "			\
	"p.cached_input_micros_per_mtok, p.output_micros_per_mtok, "	\
	"p.request_fee_micros, " CREDITS_SQL_TIME("p.effective_from") ", "	\
	"p.cache_write_input_micros_per_mtok"

static const char	sql_prices[] =
	"SELECT credits_is_admin($1), " PRICE_COLUMNS " FROM (SELECT 1) one "
	"LEFT JOIN model_prices_current p ON true ORDER BY p.model";

static const char	sql_price_get[] =
	"SELECT credits_is_admin($1), " PRICE_COLUMNS " FROM (SELECT 1) one "
	"LEFT JOIN LATERAL (SELECT * FROM model_prices WHERE model = $2 "
	"ORDER BY id DESC LIMIT 100) p ON true ORDER BY p.id DESC";

static const char	sql_price_put[] =
	"SELECT s.result, $2, s.price_id, $3::bigint, $4::bigint, $5::bigint, "
	"$6::bigint, " CREDITS_SQL_TIME("s.effective_from") ", $7::bigint "
	"FROM admin_price_set($1, $8::uuid, $2, $3::bigint, $4::bigint, "
	"$5::bigint, $6::bigint, $7::bigint) s";

int
credits_admin_grant(struct http_request *req)
{
	return (credits_api_run(req, &grant_ops));
}

int
credits_admin_prices(struct http_request *req)
{
	return (credits_api_run(req, &prices_ops));
}

int
credits_admin_price_get(struct http_request *req)
{
	return (credits_api_run(req, &price_get_ops));
}

int
credits_admin_price_put(struct http_request *req)
{
	return (credits_api_run(req, &price_put_ops));
}

static int
grant_start(struct http_request *req, struct credits_api *st)
{
	struct credits_invalid	 why;
	const char		*params[6];
	char			 user[CREDITS_UUID_LEN + 1], amount[24];
	json_t			*body;

	if (!credits_api_param_uuid(req, 0, user))
		return (0);
	if ((body = tg_http_body_json(req)) == NULL)
		return (0);
	if (!credits_grant_parse(body, &st->grant, &why)) {
		json_decref(body);
		tg_error(req, 400, why.code, why.param, "%s", why.message);
		return (0);
	}
	json_decref(body);

	(void)snprintf(amount, sizeof(amount), "%lld",
	    (long long)st->grant.amount);
	params[0] = tg_ctx(req)->who.user_id;
	params[1] = user;
	params[2] = amount;
	params[3] = st->grant.reason;
	params[4] = st->grant.idempotency_key;
	params[5] = admin_actor_token(req);
	/* Idempotent on its key: safe to resend after a lost connection. */
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_grant, 6, params);
	return (1);
}

static void
grant_render(struct http_request *req, struct credits_api *st)
{
	const char	*result;
	json_t		*doc;
	long long	 avail;

	result = tg_db_value(&st->db, 0, 0);
	if (result == NULL) {
		tg_error_internal(req, "credits_admin_grant: no row");
		return;
	}
	if (!strcmp(result, "not_admin")) {
		tg_error(req, 403, "not_admin", NULL, "admins only");
		return;
	}
	if (!strcmp(result, "no_user")) {
		tg_error(req, 404, "not_found", NULL, "no such user");
		return;
	}
	if (!strcmp(result, "conflict")) {
		tg_error(req, 409, "idempotency_conflict", "idempotency_key",
		    "this idempotency_key was already used for another "
		    "amount or user");
		return;
	}
	if (!strcmp(result, "insufficient")) {
		if (!tg_db_num(&st->db, 0, 4, INT64_MIN, INT64_MAX, &avail)) {
			tg_error_internal(req, "credits_admin_grant: bad row");
			return;
		}
		tg_error(req, 409, "insufficient_balance", "amount_micros",
		    "the user's available balance is %lld micros: an "
		    "adjustment cannot take more", avail);
		return;
	}

	doc = json_pack("{s:o, s:o, s:I, s:b, s:o, s:o, s:o}",
	    "transaction_id", credits_json_str(&st->db, 0, 1),
	    "user_id", json_string(tg_param(req, 0)),
	    "amount_micros", (json_int_t)st->grant.amount,
	    "duplicate", !strcmp(result, "duplicate"),
	    "balance_micros", credits_json_int(&st->db, 0, 2),
	    "reserved_micros", credits_json_int(&st->db, 0, 3),
	    "available_micros", credits_json_int(&st->db, 0, 4));
	tg_http_json_steal(req, strcmp(result, "ok") ? 200 : 201, doc);
}

static int
prices_start(struct http_request *req, struct credits_api *st)
{
	const char	*params[1];

	params[0] = tg_ctx(req)->who.user_id;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_prices, 1, params);
	return (1);
}

static void
prices_render(struct http_request *req, struct credits_api *st)
{
	json_t	*doc, *data;
	int	 i, n;

	if (admin_refused(req, &st->db))
		return;

	n = tg_db_ntuples(&st->db);
	data = json_array();
	for (i = 0; i < n; i++) {
		if (!tg_db_isnull(&st->db, i, 1))
			json_array_append_new(data, price_row(&st->db, i, 1));
	}
	doc = json_pack("{s:s, s:o, s:n}", "object", "list", "data", data,
	    "next_cursor");
	tg_http_json_steal(req, 200, doc);
}

static int
price_get_start(struct http_request *req, struct credits_api *st)
{
	const char	*params[2];

	if (!admin_model_param(req, st))
		return (0);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = st->model;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_price_get, 2, params);
	return (1);
}

static void
price_get_render(struct http_request *req, struct credits_api *st)
{
	json_t	*doc, *history;
	int	 i, n;

	if (admin_refused(req, &st->db))
		return;
	if (tg_db_isnull(&st->db, 0, 1)) {
		tg_error(req, 404, "not_found", NULL, "%s has no price",
		    st->model);
		return;
	}

	doc = price_row(&st->db, 0, 1);
	history = json_array();
	n = tg_db_ntuples(&st->db);
	for (i = 0; i < n; i++)
		json_array_append_new(history, price_row(&st->db, i, 1));
	json_object_set_new(doc, "history", history);
	tg_http_json_steal(req, 200, doc);
}

static int
price_put_start(struct http_request *req, struct credits_api *st)
{
	struct credits_invalid	 why;
	const char		*params[8];
	char			 num[5][24];
	json_t			*body;

	if (!admin_model_param(req, st))
		return (0);
	if ((body = tg_http_body_json(req)) == NULL)
		return (0);
	if (!credits_price_parse(body, &st->price, &why)) {
		json_decref(body);
		tg_error(req, 400, why.code, why.param, "%s", why.message);
		return (0);
	}
	json_decref(body);

	(void)snprintf(num[0], sizeof(num[0]), "%lld",
	    (long long)st->price.input);
	(void)snprintf(num[1], sizeof(num[1]), "%lld",
	    (long long)st->price.cached_input);
	(void)snprintf(num[2], sizeof(num[2]), "%lld",
	    (long long)st->price.output);
	(void)snprintf(num[3], sizeof(num[3]), "%lld",
	    (long long)st->price.fee);
	(void)snprintf(num[4], sizeof(num[4]), "%lld",
	    (long long)st->price.cache_write_input);
	params[0] = tg_ctx(req)->who.user_id;
	params[1] = st->model;
	params[2] = num[0];
	params[3] = num[1];
	params[4] = num[2];
	params[5] = num[3];
	params[6] = num[4];
	params[7] = admin_actor_token(req);
	/* Idempotent: the same price again changes nothing. */
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_price_put, 8, params);
	return (1);
}

static void
price_put_render(struct http_request *req, struct credits_api *st)
{
	const char	*result;
	json_t		*doc;

	if ((result = tg_db_value(&st->db, 0, 0)) == NULL) {
		tg_error_internal(req, "credits_price_set: no row");
		return;
	}
	if (!strcmp(result, "not_admin")) {
		tg_error(req, 403, "not_admin", NULL, "admins only");
		return;
	}

	doc = price_row(&st->db, 0, 1);
	json_object_set_new(doc, "changed", json_boolean(!strcmp(result,
	    "created")));
	tg_http_json_steal(req, 200, doc);
}

/* The decoded {provider:model} of the path; 0: answered. */
static int
admin_model_param(struct http_request *req, struct credits_api *st)
{
	const char	*p;
	int		 n;

	p = tg_param(req, 0);
	if (p == NULL || (n = tg_percent_decode(p, strlen(p), st->model,
	    sizeof(st->model))) < 0 || (size_t)n >= sizeof(st->model) ||
	    (st->model[n] = '\0', !credits_model_id_valid(st->model))) {
		tg_error(req, 400, "invalid_value", "model", "the path must "
		    "name a model as provider:model");
		return (0);
	}

	return (1);
}

static int
admin_refused(struct http_request *req, struct tg_db *db)
{
	const char	*v;

	if ((v = tg_db_value(db, 0, 0)) != NULL && !strcmp(v, "t"))
		return (0);

	tg_error(req, 403, "not_admin", NULL, "admins only");
	return (1);
}

/* The admin token the caller acts with (for the audit row), or NULL. */
static const char *
admin_actor_token(struct http_request *req)
{
	const char	*id = tg_ctx(req)->who.admin_token_id;

	return (id[0] != '\0' ? id : NULL);
}

/*
 * Columns from col: model, id, in, cached, out, fee, effective_from,
 * cache_write.
 */
static json_t *
price_row(struct tg_db *db, int row, int col)
{
	return (json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "model", credits_json_str(db, row, col),
	    "price_id", credits_json_int(db, row, col + 1),
	    "input_micros_per_mtok", credits_json_int(db, row, col + 2),
	    "cached_input_micros_per_mtok", credits_json_int(db, row, col + 3),
	    "cache_write_input_micros_per_mtok",
	    credits_json_int(db, row, col + 7),
	    "output_micros_per_mtok", credits_json_int(db, row, col + 4),
	    "request_fee_micros", credits_json_int(db, row, col + 5),
	    "effective_from", credits_json_str(db, row, col + 6)));
}
