/*
 * POST /api/billing/checkout {"package_id"}: a pending payment of ours,
 * then a hosted checkout at the provider for it.
 *
 *   BEGIN     check the body; billing_checkout_begin() records a pending
 *             payment with the package's terms frozen (one statement)
 *   BEGUN     build the provider's request and send it (no transaction
 *             is open while the provider answers)
 *   OPENED    the provider answered: keep its session id and URL, or
 *             mark the payment failed
 *   SAVED     answer {"checkout_url","payment_id"}, or the failure:
 *             502 upstream_error with the provider's status and message,
 *             504 upstream_timeout when it did not answer in time
 *
 * The provider request carries an idempotency key derived from our
 * payment id, so a retry of the same call can never open two sessions.
 */

#include <stdlib.h>
#include <string.h>

#include "billing/billing.h"
#include "billing/package.h"
#include "metrics.h"
#include "lex.h"

#define CO_BEGIN	0
#define CO_BEGUN	1
#define CO_OPENED	2
#define CO_SAVED	3

struct checkout {
	struct tg_db			 db;
	struct tg_fetch			 fetch;
	const struct billing_provider	*provider;
	char				 payment_id[TG_ID_MAX];
	char				 package_id[TG_ID_MAX];
	struct billing_checkout_result	 res;
	int				 status;	/* 200, 502, 504 */
};

static int	checkout_begin(struct http_request *);
static int	checkout_begun(struct http_request *);
static int	checkout_opened(struct http_request *);
static int	checkout_saved(struct http_request *);
static int	checkout_send(struct http_request *, struct checkout *,
		    const char *, long long, const char *);
static void	checkout_failed(struct http_request *, struct checkout *,
		    int, const char *);
static void	checkout_free(struct http_request *, void *);

static struct http_state	checkout_states[] = {
	KORE_HTTP_STATE(checkout_begin),
	KORE_HTTP_STATE(checkout_begun),
	KORE_HTTP_STATE(checkout_opened),
	KORE_HTTP_STATE(checkout_saved),
};

static const char	SQL_BEGIN[] =
	"SELECT result, payment_id, name, price_minor, currency "
	"FROM billing_checkout_begin($1, $2, $3)";

static const char	SQL_OPENED[] =
	"SELECT billing_checkout_opened($1::uuid, $2, $3)";

static const char	SQL_FAILED[] =
	"SELECT billing_checkout_failed($1::uuid, $2)";

int
billing_checkout(struct http_request *req)
{
	return (http_state_run(checkout_states,
	    sizeof(checkout_states) / sizeof(checkout_states[0]), req));
}

static int
checkout_begin(struct http_request *req)
{
	struct checkout	*co;
	const char	*params[3], *id;
	json_t		*body, *v;

	if (billing_disabled(req))
		return (HTTP_STATE_COMPLETE);
	if ((body = tg_http_body_json(req)) == NULL)
		return (HTTP_STATE_COMPLETE);

	v = json_object_get(body, "package_id");
	id = json_string_value(v);
	if (v == NULL || id == NULL || !tg_uuid_valid(id)) {
		if (v == NULL)
			tg_error(req, 400, "missing_field", "package_id",
			    "package_id is required");
		else if (id == NULL)
			tg_error(req, 400, "invalid_value", "package_id",
			    "package_id must be a string");
		else
			tg_error(req, 404, "not_found", "package_id",
			    "no such package");
		json_decref(body);
		return (HTTP_STATE_COMPLETE);
	}

	co = tg_state_alloc(req, sizeof(*co), checkout_free);
	co->provider = &billing_stripe;
	/* A valid uuid (checked above) fits TG_ID_MAX. */
	(void)kore_strlcpy(co->package_id, id, sizeof(co->package_id));
	json_decref(body);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = co->package_id;
	params[2] = co->provider->name;
	tg_db_start(&co->db, req, 0, SQL_BEGIN, 3, params);

	req->fsm_state = CO_BEGUN;
	return (HTTP_STATE_CONTINUE);
}

static int
checkout_begun(struct http_request *req)
{
	struct checkout	*co = tg_state(req);
	const char	*result, *id;
	long long	 price;
	int		 rc;

	if ((rc = tg_db_wait(req, &co->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_value(&co->db, 0, 0);
	if (result == NULL || strcmp(result, "ok")) {
		if (result != NULL && !strcmp(result, "rate_limited"))
			tg_error_retry(req, 429, "rate_limited", 60,
			    "too many checkouts started in the last hour");
		else
			tg_error(req, 404, "not_found", "package_id",
			    "no such package");
		return (HTTP_STATE_COMPLETE);
	}

	/* Without a whole payment id there is no row to mark failed. */
	if ((id = tg_db_value(&co->db, 0, 1)) == NULL ||
	    kore_strlcpy(co->payment_id, id, sizeof(co->payment_id)) >=
	    sizeof(co->payment_id)) {
		tg_error_internal(req, "billing: checkout row without payment");
		return (HTTP_STATE_COMPLETE);
	}

	/* A NULL or garbled row is a request that cannot be built. */
	if (!tg_db_num(&co->db, 0, 3, 1, BILLING_PRICE_MAX, &price) ||
	    !checkout_send(req, co, tg_db_value(&co->db, 0, 2), price,
	    tg_db_value(&co->db, 0, 4))) {
		checkout_failed(req, co, 502, "the checkout request could not "
		    "be built");
		return (HTTP_STATE_CONTINUE);
	}

	req->fsm_state = CO_OPENED;
	return (HTTP_STATE_RETRY);
}

/* The provider's request for this payment, sent. */
static int
checkout_send(struct http_request *req, struct checkout *co,
    const char *name, long long price, const char *currency)
{
	struct billing_checkout	 in;
	struct billing_http	 h;
	char			 success[BILLING_URL_MAX];
	char			 cancel[BILLING_URL_MAX];

	if (name == NULL || currency == NULL)
		return (0);

	memset(&in, 0, sizeof(in));
	in.payment_id = co->payment_id;
	in.package_id = co->package_id;
	in.name = name;
	in.price_minor = price;
	in.currency = currency;
	in.success_url = success;
	in.cancel_url = cancel;
	if (!billing_return_url(success, sizeof(success), tg_conf.ui_url,
	    "success", co->payment_id) ||
	    !billing_return_url(cancel, sizeof(cancel), tg_conf.ui_url,
	    "cancel", co->payment_id))
		return (0);

	if (!co->provider->checkout_request(&in, &h))
		return (0);
	return (billing_http_start(req, &co->fetch, &h));
}

static int
checkout_opened(struct http_request *req)
{
	struct checkout	*co = tg_state(req);
	const char	*params[3];
	char		 msg[BILLING_ERR_MAX];

	switch (tg_fetch_poll(&co->fetch)) {
	case TG_FETCH_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_FETCH_FAILED:
		(void)snprintf(msg, sizeof(msg), "%s %s: %s",
		    co->provider->name, co->fetch.timed_out ?
		    "did not answer in time" : "could not be reached",
		    co->fetch.error);
		checkout_failed(req, co, co->fetch.timed_out ? 504 : 502, msg);
		return (HTTP_STATE_CONTINUE);
	}

	if (!co->provider->checkout_response(co->fetch.status, co->fetch.body,
	    co->fetch.body_len, &co->res)) {
		checkout_failed(req, co, 502, co->res.error);
		return (HTTP_STATE_CONTINUE);
	}
	tg_fetch_clear(&co->fetch);

	params[0] = co->payment_id;
	params[1] = co->res.session_id;
	params[2] = co->res.url;
	tg_db_start(&co->db, req, TG_DB_RETRY, SQL_OPENED, 3, params);
	co->status = 200;

	req->fsm_state = CO_SAVED;
	return (HTTP_STATE_CONTINUE);
}

/* Mark the payment failed; the answer follows once that is stored. */
static void
checkout_failed(struct http_request *req, struct checkout *co, int status,
    const char *why)
{
	const char	*params[2];

	/* The one way out for a failure: log, payments row and client. */
	co->status = status;
	if (why != co->res.error)
		(void)kore_strlcpy(co->res.error, why, sizeof(co->res.error));
	billing_redact(co->res.error);

	kore_log(LOG_NOTICE, "rid=%s billing: checkout for payment %s "
	    "failed: %s", tg_request_id(req), co->payment_id, co->res.error);
	tg_metrics_add(billing_metric_checkout_failed, 1);

	tg_fetch_clear(&co->fetch);

	params[0] = co->payment_id;
	params[1] = co->res.error;
	tg_db_start(&co->db, req, TG_DB_RETRY, SQL_FAILED, 2, params);

	req->fsm_state = CO_SAVED;
}

static int
checkout_saved(struct http_request *req)
{
	struct checkout	*co = tg_state(req);
	json_t		*doc;
	int		 rc;

	if ((rc = tg_db_wait(req, &co->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	if (co->status != 200) {
		tg_error(req, co->status, co->status == 504 ?
		    "upstream_timeout" : "upstream_error", NULL,
		    "the payment could not be started (payment %s): %s",
		    co->payment_id, co->res.error);
		return (HTTP_STATE_COMPLETE);
	}

	tg_metrics_add(billing_metric_checkout_opened, 1);
	doc = json_pack("{s:s, s:s}", "checkout_url", co->res.url,
	    "payment_id", co->payment_id);
	if (doc == NULL) {
		tg_error_internal(req, "billing: json_pack failed");
		return (HTTP_STATE_COMPLETE);
	}
	tg_http_json_steal(req, 200, doc);
	return (HTTP_STATE_COMPLETE);
}

static void
checkout_free(struct http_request *req, void *arg)
{
	struct checkout	*co = arg;

	(void)req;
	tg_db_clear(&co->db);
	tg_fetch_clear(&co->fetch);
}
