/*
 * Billing (docs/contract.md §8): the module, its routes, and the read
 * and admin handlers. Checkout lives in checkout.c, provider webhooks in
 * webhook.c; the provider-specific parts are pure C (provider.h) and
 * the money rules are SQL (sql/0400_billing.sql).
 *
 * Billing is on when TOLLGATE_STRIPE_SECRET_KEY is set (the core checks
 * the webhook secrets that then become required). While it is off,
 * checkout and the webhook answer 404 billing_disabled; packages and a
 * user's payment history stay readable and packages stay editable, so a
 * catalogue can be prepared before payments are switched on.
 *
 * The read routes share one shape: a single statement whose one row is
 * (HTTP status, JSON body), so the SQL decides "not yours" and "not an
 * admin" in the same round trip that reads the data.
 */

#include <stdlib.h>
#include <string.h>

#include "billing/billing.h"
#include "billing/package.h"
#include "metrics.h"
#include "qs.h"
#include "lex.h"

#define PAYMENTS_LIMIT_DEFAULT	20
#define PAYMENTS_LIMIT_MAX	100

struct billing_read {
	struct tg_db	db;
	const char	*what;		/* for a 404: "no such <what>" */
	char		 code[32];	/* for a 400 the SQL confirms */
	char		 param[72];
	char		 message[192];
};

static void	billing_parent_init(struct tg_config_errors *);
static int	billing_packages(struct http_request *);
static int	billing_payments(struct http_request *);
static int	billing_payment(struct http_request *);
static int	billing_admin_packages(struct http_request *);
static int	billing_admin_package(struct http_request *);
static int	billing_admin_package_put(struct http_request *);
static struct billing_read *billing_read_start(struct http_request *,
		    const char *, const char *, int, const char *const *);
static int	billing_read_poll(struct http_request *);
static void	billing_read_free(struct http_request *, void *);

static const struct tg_route	billing_routes[] = {
	{ HTTP_METHOD_GET, "/api/billing/packages", billing_packages,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_POST, "/api/billing/checkout", billing_checkout,
	    TG_AUTH_SESSION, 0, 4096 },
	{ HTTP_METHOD_GET, "/api/billing/payments", billing_payments,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/billing/payments/{}", billing_payment,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/packages", billing_admin_packages,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/packages/{}", billing_admin_package,
	    TG_AUTH_SESSION, 0, 0 },
	{ HTTP_METHOD_PUT, "/api/admin/packages/{}", billing_admin_package_put,
	    TG_AUTH_SESSION, 0, 16384 },
	{ HTTP_METHOD_POST, "/api/admin/payments/{}/refund", billing_refund,
	    TG_AUTH_SESSION, 0, 4096 },
	{ HTTP_METHOD_POST, "/webhooks/stripe", billing_webhook_stripe,
	    TG_AUTH_NONE, 0, BILLING_WEBHOOK_BODY_MAX },
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_billing_module = {
	"billing", billing_parent_init, NULL, NULL, billing_routes
};

int	billing_metric_webhook[BILLING_OUT_MAX];
int	billing_metric_checkout_opened = -1;
int	billing_metric_checkout_failed = -1;

static const char	SQL_PACKAGES[] =
	"SELECT 200, jsonb_build_object('object', 'list', 'data', "
	"coalesce((SELECT jsonb_agg(billing_package_json(k) ORDER BY "
	"k.price_minor, k.name, k.id) FROM billing_packages k "
	"WHERE k.active), '[]'::jsonb), 'next_cursor', NULL)";

static const char	SQL_PAYMENTS[] =
	"SELECT 200, billing_payments_page($1, $2, $3::integer)";

static const char	SQL_PAYMENT[] =
	"SELECT 200, billing_payment_json(p) FROM billing_payments p "
	"WHERE p.id = $2 AND p.user_id = $1";

static const char	SQL_ADMIN_PACKAGES[] =
	"SELECT CASE WHEN a THEN 200 ELSE 403 END, CASE WHEN a THEN "
	"jsonb_build_object('object', 'list', 'data', coalesce((SELECT "
	"jsonb_agg(billing_package_json(k, true) ORDER BY k.created_at, k.id) "
	"FROM billing_packages k), '[]'::jsonb), 'next_cursor', NULL) END "
	"FROM billing_is_admin($1) a";

static const char	SQL_ADMIN_PACKAGE[] =
	"SELECT CASE WHEN NOT a THEN 403 WHEN k.id IS NULL THEN 404 "
	"ELSE 200 END, CASE WHEN a AND k.id IS NOT NULL THEN "
	"billing_package_json(k, true) END "
	"FROM billing_is_admin($1) a LEFT JOIN billing_packages k "
	"ON k.id = $2::uuid";

static const char	SQL_ADMIN_PACKAGE_PUT[] =
	"SELECT CASE result WHEN 'not_admin' THEN 403 WHEN 'created' THEN 201 "
	"ELSE 200 END, package FROM admin_package_put($1, $8::uuid, $2, $3, "
	"$4, $5, $6, $7)";

/* An invalid PUT body: 400 for an admin, 403 for anyone else. */
static const char	SQL_ADMIN_ONLY_400[] =
	"SELECT CASE WHEN billing_is_admin($1) THEN 400 ELSE 403 END, NULL";

static void
billing_parent_init(struct tg_config_errors *errs)
{
	static const char	*outcomes[BILLING_OUT_MAX] = {
		"outcome=\"processed\"", "outcome=\"duplicate\"",
		"outcome=\"ignored\"", "outcome=\"unmatched\"",
		"outcome=\"flagged\"", "outcome=\"rejected\"",
	};
	int			 i;

	(void)errs;
	for (i = 0; i < BILLING_OUT_MAX; i++) {
		billing_metric_webhook[i] = tg_metrics_declare(
		    TG_METRIC_COUNTER, "tollgate_billing_webhook_events_total",
		    "Payment-provider webhook deliveries by outcome.",
		    outcomes[i], NULL, 0);
	}
	billing_metric_checkout_opened = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_billing_checkouts_total", "Checkouts started.",
	    "result=\"opened\"", NULL, 0);
	billing_metric_checkout_failed = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_billing_checkouts_total", "Checkouts started.",
	    "result=\"failed\"", NULL, 0);
}

/* Checkout and webhooks without a provider: say so. */
int
billing_disabled(struct http_request *req)
{
	if (tg_conf.billing_enabled)
		return (0);

	tg_error(req, 404, "billing_disabled", NULL, "billing is not enabled "
	    "on this server (TOLLGATE_STRIPE_SECRET_KEY is not set)");
	return (1);
}

/*
 * Send a provider's request h (checkout.c, refund.c) on f, bound to req,
 * with the provider timeout; h is freed. 0 when it could not start.
 */
int
billing_http_start(struct http_request *req, struct tg_fetch *f,
    struct billing_http *h)
{
	const char	*headers[BILLING_HEADERS_MAX + 1];
	int		 i, ok;

	for (i = 0; i < h->nheaders; i++)
		headers[i] = h->headers[i];
	headers[i] = NULL;

	ok = tg_fetch_start(f, req, HTTP_METHOD_POST, h->url, headers,
	    h->body, h->body_len, BILLING_CHECKOUT_TIMEOUT_MS);
	billing_http_free(h);
	return (ok);
}

static int
billing_packages(struct http_request *req)
{
	if (tg_state(req) == NULL)
		(void)billing_read_start(req, "package", SQL_PACKAGES, 0, NULL);

	return (billing_read_poll(req));
}

static int
billing_payments(struct http_request *req)
{
	const char	*params[3];
	char		 limit[16], cursor[64];
	int		 n, r;

	if (tg_state(req) != NULL)
		return (billing_read_poll(req));

	n = PAYMENTS_LIMIT_DEFAULT;
	r = tg_http_query(req, "limit", limit, sizeof(limit));
	if (r == TG_QS_FOUND) {
		n = (int)kore_strtonum(limit, 10, 1, PAYMENTS_LIMIT_MAX, &r);
		if (r != KORE_RESULT_OK) {
			tg_error(req, 400, "invalid_value", "limit", "limit must "
			    "be an integer from 1 to %d", PAYMENTS_LIMIT_MAX);
			return (KORE_RESULT_OK);
		}
	} else if (r == TG_QS_INVALID) {
		tg_error(req, 400, "invalid_value", "limit", "limit must be an "
		    "integer from 1 to %d", PAYMENTS_LIMIT_MAX);
		return (KORE_RESULT_OK);
	}

	r = tg_http_query(req, "cursor", cursor, sizeof(cursor));
	if (r == TG_QS_INVALID || (r == TG_QS_FOUND &&
	    !tg_uuid_valid(cursor))) {
		tg_error(req, 400, "invalid_value", "cursor", "cursor must be "
		    "a next_cursor this list returned");
		return (KORE_RESULT_OK);
	}

	(void)snprintf(limit, sizeof(limit), "%d", n);
	params[0] = tg_ctx(req)->who.user_id;
	params[1] = r == TG_QS_FOUND ? cursor : NULL;
	params[2] = limit;
	(void)billing_read_start(req, "payment", SQL_PAYMENTS, 3, params);

	return (billing_read_poll(req));
}

static int
billing_payment(struct http_request *req)
{
	const char	*params[2];

	if (tg_state(req) != NULL)
		return (billing_read_poll(req));

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = tg_param(req, 0);
	if (!tg_uuid_valid(params[1])) {
		tg_error(req, 404, "not_found", NULL, "no such payment");
		return (KORE_RESULT_OK);
	}
	(void)billing_read_start(req, "payment", SQL_PAYMENT, 2, params);

	return (billing_read_poll(req));
}

static int
billing_admin_packages(struct http_request *req)
{
	const char	*params[1];

	if (tg_state(req) == NULL) {
		params[0] = tg_ctx(req)->who.user_id;
		(void)billing_read_start(req, "package", SQL_ADMIN_PACKAGES, 1,
		    params);
	}

	return (billing_read_poll(req));
}

static int
billing_admin_package(struct http_request *req)
{
	const char	*params[2];

	if (tg_state(req) == NULL) {
		params[0] = tg_ctx(req)->who.user_id;
		params[1] = tg_uuid_valid(tg_param(req, 0)) ?
		    tg_param(req, 0) : NULL;
		(void)billing_read_start(req, "package", SQL_ADMIN_PACKAGE, 2,
		    params);
	}

	return (billing_read_poll(req));
}

/*
 * Create or replace a package (PUT semantics: 201 when it is new). The
 * body is checked first; an invalid one still asks the database whether
 * the caller is an admin, so non-admins learn nothing but 403.
 */
static int
billing_admin_package_put(struct http_request *req)
{
	struct billing_package_in	 in;
	struct billing_read		*rd;
	const char			*params[8];
	char				 price[24], credits[24];
	json_t				*body;
	int				 ok;

	if (tg_state(req) != NULL)
		return (billing_read_poll(req));

	params[0] = tg_ctx(req)->who.user_id;
	if (!tg_uuid_valid(tg_param(req, 0))) {
		(void)kore_strlcpy(in.code, "invalid_value", sizeof(in.code));
		(void)kore_strlcpy(in.param, "id", sizeof(in.param));
		(void)kore_strlcpy(in.message, "a package id is a UUID",
		    sizeof(in.message));
		ok = 0;
	} else {
		if ((body = tg_http_body_json(req)) == NULL)
			return (KORE_RESULT_OK);
		ok = billing_package_parse(body, tg_param(req, 0), &in);
		json_decref(body);
	}

	if (!ok) {
		rd = billing_read_start(req, "package", SQL_ADMIN_ONLY_400, 1,
		    params);
		(void)kore_strlcpy(rd->code, in.code, sizeof(rd->code));
		(void)kore_strlcpy(rd->param, in.param, sizeof(rd->param));
		(void)kore_strlcpy(rd->message, in.message,
		    sizeof(rd->message));
		return (billing_read_poll(req));
	}

	(void)snprintf(price, sizeof(price), "%lld",
	    (long long)in.price_minor);
	(void)snprintf(credits, sizeof(credits), "%lld",
	    (long long)in.credits_micros);
	params[1] = tg_param(req, 0);
	params[2] = in.name;
	params[3] = price;
	params[4] = in.currency;
	params[5] = credits;
	params[6] = in.active ? "true" : "false";
	/* The audit row names the admin token too (sql/0501). */
	params[7] = tg_ctx(req)->who.admin_token_id[0] != '\0' ?
	    tg_ctx(req)->who.admin_token_id : NULL;
	(void)billing_read_start(req, "package", SQL_ADMIN_PACKAGE_PUT, 8,
	    params);

	return (billing_read_poll(req));
}

static struct billing_read *
billing_read_start(struct http_request *req, const char *what,
    const char *sql, int n, const char *const *params)
{
	struct billing_read	*rd;

	rd = tg_state_alloc(req, sizeof(*rd), billing_read_free);
	rd->what = what;
	tg_db_start(&rd->db, req, TG_DB_RETRY, sql, n, params);

	return (rd);
}

/* Wait for the (status, body) row and answer with it. */
static int
billing_read_poll(struct http_request *req)
{
	struct billing_read	*rd = tg_state(req);
	const char		*text;
	json_t			*doc;
	long long		 n;
	int			 status;

	switch (tg_db_poll(&rd->db)) {
	case TG_DB_WAIT:
		return (KORE_RESULT_RETRY);
	case TG_DB_FAILED:
		tg_db_error(req, &rd->db);
		return (KORE_RESULT_OK);
	}

	/* An unreadable status falls to the default: 500. */
	status = 404;
	if (tg_db_ntuples(&rd->db) == 1) {
		status = 500;
		if (tg_db_num(&rd->db, 0, 0, 100, 599, &n))
			status = (int)n;
	}

	switch (status) {
	case 200:
	case 201:
		text = tg_db_value(&rd->db, 0, 1);
		if (text == NULL ||
		    (doc = json_loads(text, JSON_DECODE_ANY, NULL)) == NULL) {
			tg_error_internal(req, "billing: unreadable row");
			break;
		}
		tg_http_json_steal(req, status, doc);
		break;
	case 400:
		tg_error(req, 400, rd->code, rd->param, "%s", rd->message);
		break;
	case 403:
		tg_error(req, 403, "not_admin", NULL,
		    "this needs an administrator");
		break;
	case 404:
		tg_error(req, 404, "not_found", NULL, "no such %s", rd->what);
		break;
	default:
		tg_error_internal(req, "billing: unexpected status");
		break;
	}

	return (KORE_RESULT_OK);
}

static void
billing_read_free(struct http_request *req, void *arg)
{
	struct billing_read	*rd = arg;

	(void)req;
	tg_db_clear(&rd->db);
}
