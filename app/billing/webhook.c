/*
 * POST /webhooks/stripe: a provider's event, authenticated, recorded
 * and applied exactly once (docs/billing.md, "What the endpoint checks").
 *
 *   VERIFY   the signature over the raw body, before anything parses
 *            it (the route's own body cap, 256 KiB, was enforced by the
 *            dispatcher before the handler ran); any failure is a 400
 *            and nothing is written. Then the body is translated into a
 *            billing event (provider.h) and handed to one SQL call,
 *            billing_apply_event(): record by (provider, event id), apply,
 *            mark processed, all in one transaction.
 *   APPLIED  answer 200 for processed, duplicate, ignored, unmatched and
 *            flagged events alike (the provider must stop retrying: a
 *            retry would find the same facts); 500/503 only when the
 *            database failed, so the provider retries later.
 *
 * No call to the provider is made while the request waits.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/billing.h"
#include "metrics.h"

#define WH_VERIFY	0
#define WH_APPLIED	1

struct webhook {
	struct tg_db			 db;
	const struct billing_provider	*provider;
	char				 event_id[BILLING_ID_MAX];
	char				 type[BILLING_TYPE_MAX];
};

static int	webhook_verify(struct http_request *);
static int	webhook_applied(struct http_request *);
static int	webhook_outcome(const char *);
static const char *webhook_header(void *, const char *);
static void	webhook_free(struct http_request *, void *);

static struct http_state	webhook_states[] = {
	KORE_HTTP_STATE(webhook_verify),
	KORE_HTTP_STATE(webhook_applied),
};

static const char	SQL_APPLY[] =
	"SELECT outcome, payment_id, detail FROM billing_apply_event($1, $2, "
	"$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

int
billing_webhook_stripe(struct http_request *req)
{
	return (http_state_run(webhook_states,
	    sizeof(webhook_states) / sizeof(webhook_states[0]), req));
}

static int
webhook_verify(struct http_request *req)
{
	struct billing_delivery	 d;
	struct billing_event	 ev;
	struct webhook		*wh;
	const char		*params[14];
	char			 err[256], created[24], amount[24], *body;
	int			 r;

	if (billing_disabled(req))
		return (HTTP_STATE_COMPLETE);

	memset(&d, 0, sizeof(d));
	d.header = webhook_header;
	d.arg = req;
	(void)tg_http_body(req, &d.body, &d.body_len);

	if ((r = billing_stripe.verify(&d, (int64_t)time(NULL))) !=
	    BILLING_VERIFY_OK) {
		kore_log(LOG_NOTICE, "rid=%s billing: stripe webhook refused: "
		    "%s", tg_request_id(req), billing_verify_strerror(r));
		tg_metrics_add(billing_metric_webhook[BILLING_OUT_REJECTED], 1);
		tg_error(req, 400, "invalid_signature", NULL,
		    "Stripe-Signature: %s", billing_verify_strerror(r));
		return (HTTP_STATE_COMPLETE);
	}

	if (!billing_stripe.parse_event(d.body, d.body_len, &ev, err,
	    sizeof(err))) {
		tg_metrics_add(billing_metric_webhook[BILLING_OUT_REJECTED], 1);
		tg_error(req, 400, "invalid_json", NULL, "%s", err);
		return (HTTP_STATE_COMPLETE);
	}

	wh = tg_state_alloc(req, sizeof(*wh), webhook_free);
	wh->provider = &billing_stripe;
	/* Same sizes as the parsed event's (BILLING_ID_MAX, _TYPE_MAX). */
	(void)kore_strlcpy(wh->event_id, ev.id, sizeof(wh->event_id));
	(void)kore_strlcpy(wh->type, ev.type, sizeof(wh->type));

	/* The body as text: valid UTF-8 JSON without NUL (jansson said so). */
	body = kore_malloc(d.body_len + 1);
	memcpy(body, d.body, d.body_len);
	body[d.body_len] = '\0';

	(void)snprintf(created, sizeof(created), "%lld",
	    (long long)ev.created);
	(void)snprintf(amount, sizeof(amount), "%lld", (long long)ev.amount);
	params[0] = wh->provider->name;
	params[1] = ev.id;
	params[2] = ev.type;
	params[3] = ev.kind;
	params[4] = ev.created > 0 ? created : NULL;
	params[5] = ev.livemode == -1 ? NULL :
	    (ev.livemode ? "true" : "false");
	params[6] = wh->provider->mode_matches(&ev) ? "true" : "false";
	params[7] = ev.payment_id;
	params[8] = ev.checkout_ref;
	params[9] = ev.payment_ref;
	params[10] = ev.amount >= 0 ? amount : NULL;
	params[11] = ev.currency;
	params[12] = ev.detail;
	params[13] = body;

	/* A replay is harmless (recorded by event id): retry on a lost link. */
	tg_db_start(&wh->db, req, TG_DB_RETRY, SQL_APPLY, 14, params);
	kore_free(body);

	req->fsm_state = WH_APPLIED;
	return (HTTP_STATE_CONTINUE);
}

static int
webhook_applied(struct http_request *req)
{
	struct webhook	*wh = tg_state(req);
	const char	*outcome, *payment, *detail;
	json_t		*doc;
	int		 rc;

	if ((rc = tg_db_wait(req, &wh->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	outcome = tg_db_value(&wh->db, 0, 0);
	payment = tg_db_value(&wh->db, 0, 1);
	detail = tg_db_value(&wh->db, 0, 2);
	if (outcome == NULL) {
		tg_error_internal(req, "billing: no outcome for an event");
		return (HTTP_STATE_COMPLETE);
	}

	tg_metrics_add(billing_metric_webhook[webhook_outcome(outcome)], 1);
	/* A flagged event needs a human: say so loudly. */
	kore_log(!strcmp(outcome, "flagged") ? LOG_WARNING : LOG_INFO,
	    "rid=%s billing: %s event %s (%s): %s%s payment=%s detail=\"%s\"",
	    tg_request_id(req), wh->provider->name, wh->event_id, wh->type,
	    outcome, !strcmp(outcome, "flagged") ? " NEEDS REVIEW" : "",
	    payment != NULL ? payment : "-", detail != NULL ? detail : "");

	doc = json_pack("{s:b, s:s}", "received", 1, "outcome", outcome);
	if (doc == NULL) {
		tg_error_internal(req, "billing: json_pack failed");
		return (HTTP_STATE_COMPLETE);
	}
	tg_http_json_steal(req, 200, doc);
	return (HTTP_STATE_COMPLETE);
}

static int
webhook_outcome(const char *outcome)
{
	if (!strcmp(outcome, "processed"))
		return (BILLING_OUT_PROCESSED);
	if (!strcmp(outcome, "duplicate"))
		return (BILLING_OUT_DUPLICATE);
	if (!strcmp(outcome, "unmatched"))
		return (BILLING_OUT_UNMATCHED);
	if (!strcmp(outcome, "flagged"))
		return (BILLING_OUT_FLAGGED);
	return (BILLING_OUT_IGNORED);
}

static const char *
webhook_header(void *arg, const char *name)
{
	return (tg_http_header(arg, name));
}

static void
webhook_free(struct http_request *req, void *arg)
{
	struct webhook	*wh = arg;

	(void)req;
	tg_db_clear(&wh->db);
}
