/*
 * Stripe as a billing provider (provider.h): webhook authentication
 * (stripe_sig.c), the translation of Stripe events into billing events,
 * and the Checkout Session request. Pure C over jansson.
 *
 * Events we act on (everything else is recorded and ignored):
 *
 *   checkout.session.completed	paid: payment_succeeded; unpaid (a
 *				delayed method): payment_pending; any other
 *				payment_status: payment_anomaly
 *   checkout.session.async_payment_succeeded / _failed
 *   checkout.session.expired
 *   charge.refunded		amount = the charge's amount_refunded, which
 *				is cumulative, so any order of partial
 *				refunds converges on the largest
 *   charge.dispute.created	amount = disputed amount
 *   charge.dispute.closed	won / warning_closed: dispute_won; lost:
 *				dispute_lost
 *   charge.dispute.funds_reinstated	dispute_won
 *
 * Sessions carry our payment id as client_reference_id; charges and
 * disputes carry the PaymentIntent (payment_ref), which our payment row
 * learns from its checkout.session.completed. Amounts are reported, not
 * trusted: the SQL compares them with our own payment row.
 *
 * Refunds: POST /v1/refunds for a PaymentIntent and an amount, with an
 * Idempotency-Key derived from our refund row, so a request sent again
 * (after a timeout, or by a second click) makes no second refund.
 * Stripe's 4xx but 409 and 429 means no refund was made; anything else
 * without a refund object (5xx, 409, 429, garbage) is no definite answer.
 *
 * Stripe's error messages are untrusted text: redacted of our secrets
 * and anything key-shaped, one line, valid UTF-8 (billing_redact).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "provider.h"
#include "qs.h"
#include "stripe_sig.h"

struct form {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

static int	stripe_verify(const struct billing_delivery *, int64_t);
static int	stripe_parse_event(const uint8_t *, size_t,
		    struct billing_event *, char *, size_t);
static int	stripe_checkout_request(const struct billing_checkout *,
		    struct billing_http *);
static int	stripe_checkout_response(long, const uint8_t *, size_t,
		    struct billing_checkout_result *);
static int	stripe_mode_matches(const struct billing_event *);
static int	stripe_refund_request(const struct billing_refund *,
		    struct billing_http *);
static void	stripe_refund_response(long, const uint8_t *, size_t, int64_t,
		    struct billing_refund_result *);
static int	stripe_post(struct billing_http *, struct form *,
		    const char *, const char *, const char *);
static void	stripe_error(long, json_t *, char *, size_t);

static void	event_session(json_t *, const char *, struct billing_event *);
static void	event_charge(json_t *, struct billing_event *);
static void	event_dispute(json_t *, const char *, struct billing_event *);
static int	copy_id(char *, size_t, json_t *);
static void	copy_ref(char *, size_t, json_t *);
static void	copy_amount(struct billing_event *, json_t *, json_t *);
static void	form_add(struct form *, const char *, const char *);
static void	form_escape(struct form *, const char *);
static void	form_put(struct form *, const char *, size_t);
static char	*str_printf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

const struct billing_provider	billing_stripe = {
	"stripe",
	stripe_verify,
	stripe_parse_event,
	stripe_checkout_request,
	stripe_checkout_response,
	stripe_mode_matches,
	stripe_refund_request,
	stripe_refund_response,
};

static int
stripe_verify(const struct billing_delivery *d, int64_t now)
{
	const char	*hdr;

	hdr = d->header(d->arg, "stripe-signature");
	return (stripe_sig_verify(hdr, d->body, d->body_len,
	    tg_conf.stripe_webhook_secrets, tg_conf.stripe_webhook_secrets_count,
	    now, STRIPE_SIG_TOLERANCE));
}

/*
 * A test-mode key serves test events only and a live key live events
 * only, so a test event can never credit anything on a live install.
 */
static int
stripe_mode_matches(const struct billing_event *ev)
{
	const char	*key = tg_conf.stripe_secret_key;
	int		 live;

	if (key == NULL || ev->livemode == -1)
		return (0);

	live = strncmp(key + 2, "_live_", 6) == 0;
	return (ev->livemode == live);
}

/*
 * The event as a billing event. Returns 0 (with err) only when the body
 * is not a Stripe event at all; an event we don't know is kind ignored.
 */
static int
stripe_parse_event(const uint8_t *body, size_t len, struct billing_event *ev,
    char *err, size_t errlen)
{
	json_t		*doc, *obj, *v;
	json_error_t	 jerr;
	const char	*type;
	int		 ok;

	memset(ev, 0, sizeof(*ev));
	ev->kind = BILLING_KIND_IGNORED;
	ev->amount = -1;
	ev->livemode = -1;

	doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (doc == NULL) {
		(void)snprintf(err, errlen, "invalid JSON at line %d: %s",
		    jerr.line, jerr.text);
		return (0);
	}

	ok = 0;
	if (!json_is_object(doc)) {
		(void)snprintf(err, errlen, "the event is not a JSON object");
		goto out;
	}
	if (!copy_id(ev->id, sizeof(ev->id), json_object_get(doc, "id"))) {
		(void)snprintf(err, errlen, "the event has no usable id");
		goto out;
	}
	if (!copy_id(ev->type, sizeof(ev->type),
	    json_object_get(doc, "type"))) {
		(void)snprintf(err, errlen, "the event has no usable type");
		goto out;
	}
	obj = json_object_get(json_object_get(doc, "data"), "object");
	if (!json_is_object(obj)) {
		(void)snprintf(err, errlen, "the event has no data.object");
		goto out;
	}

	v = json_object_get(doc, "created");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		ev->created = json_integer_value(v);
	v = json_object_get(doc, "livemode");
	if (json_is_boolean(v))
		ev->livemode = json_is_true(v);

	type = ev->type;
	if (!strncmp(type, "checkout.session.", 17))
		event_session(obj, type + 17, ev);
	else if (!strcmp(type, "charge.refunded"))
		event_charge(obj, ev);
	else if (!strncmp(type, "charge.dispute.", 15))
		event_dispute(obj, type + 15, ev);
	ok = 1;

out:
	json_decref(doc);
	return (ok);
}

static void
event_session(json_t *obj, const char *what, struct billing_event *ev)
{
	const char	*status;

	if (!strcmp(what, "completed")) {
		status = json_string_value(json_object_get(obj,
		    "payment_status"));
		if (status != NULL && !strcmp(status, "paid")) {
			ev->kind = BILLING_KIND_SUCCEEDED;
		} else if (status != NULL && !strcmp(status, "unpaid")) {
			ev->kind = BILLING_KIND_PENDING;
		} else {
			ev->kind = BILLING_KIND_ANOMALY;
			(void)snprintf(ev->detail, sizeof(ev->detail),
			    "completed with payment_status %.64s",
			    status != NULL ? status : "(none)");
		}
	} else if (!strcmp(what, "async_payment_succeeded")) {
		ev->kind = BILLING_KIND_SUCCEEDED;
	} else if (!strcmp(what, "async_payment_failed")) {
		ev->kind = BILLING_KIND_FAILED;
	} else if (!strcmp(what, "expired")) {
		ev->kind = BILLING_KIND_EXPIRED;
	} else {
		return;
	}

	(void)copy_id(ev->checkout_ref, sizeof(ev->checkout_ref),
	    json_object_get(obj, "id"));
	if (!copy_id(ev->payment_id, sizeof(ev->payment_id),
	    json_object_get(obj, "client_reference_id")) &&
	    ev->detail[0] == '\0')
		(void)snprintf(ev->detail, sizeof(ev->detail),
		    "no usable client_reference_id");
	copy_ref(ev->payment_ref, sizeof(ev->payment_ref),
	    json_object_get(obj, "payment_intent"));
	copy_amount(ev, json_object_get(obj, "amount_total"),
	    json_object_get(obj, "currency"));
}

static void
event_charge(json_t *obj, struct billing_event *ev)
{
	char	id[BILLING_ID_MAX];

	ev->kind = BILLING_KIND_REFUND;
	copy_ref(ev->payment_ref, sizeof(ev->payment_ref),
	    json_object_get(obj, "payment_intent"));
	copy_amount(ev, json_object_get(obj, "amount_refunded"),
	    json_object_get(obj, "currency"));
	if (copy_id(id, sizeof(id), json_object_get(obj, "id")))
		(void)snprintf(ev->detail, sizeof(ev->detail), "charge %.200s",
		    id);
}

static void
event_dispute(json_t *obj, const char *what, struct billing_event *ev)
{
	const char	*status;
	char		 id[BILLING_ID_MAX];

	status = json_string_value(json_object_get(obj, "status"));
	if (!strcmp(what, "created")) {
		ev->kind = BILLING_KIND_DISPUTE;
	} else if (!strcmp(what, "funds_reinstated")) {
		ev->kind = BILLING_KIND_DISPUTE_WON;
	} else if (!strcmp(what, "closed") && status != NULL) {
		if (!strcmp(status, "won") || !strcmp(status, "warning_closed"))
			ev->kind = BILLING_KIND_DISPUTE_WON;
		else if (!strcmp(status, "lost"))
			ev->kind = BILLING_KIND_DISPUTE_LOST;
		else
			return;
	} else {
		return;
	}

	copy_ref(ev->payment_ref, sizeof(ev->payment_ref),
	    json_object_get(obj, "payment_intent"));
	copy_amount(ev, json_object_get(obj, "amount"),
	    json_object_get(obj, "currency"));
	if (copy_id(id, sizeof(id), json_object_get(obj, "id")))
		(void)snprintf(ev->detail, sizeof(ev->detail),
		    "dispute %.200s", id);
}

/* Printable ASCII without spaces, fitting: ids, types, references. */
static int
copy_id(char *dst, size_t len, json_t *v)
{
	const char	*s;
	size_t		 n, i;

	dst[0] = '\0';
	if ((s = json_string_value(v)) == NULL)
		return (0);
	n = json_string_length(v);
	if (n == 0 || n >= len)
		return (0);
	for (i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return (0);
	}

	memcpy(dst, s, n + 1);
	return (1);
}

/* An id, or an expanded object's id (payment_intent may be either). */
static void
copy_ref(char *dst, size_t len, json_t *v)
{
	if (json_is_object(v))
		v = json_object_get(v, "id");
	(void)copy_id(dst, len, v);
}

static void
copy_amount(struct billing_event *ev, json_t *amount, json_t *currency)
{
	if (json_is_integer(amount) && json_integer_value(amount) >= 0)
		ev->amount = json_integer_value(amount);

	(void)billing_currency(ev->currency, currency);
}

/*
 * POST /v1/checkout/sessions, form-encoded, for one pending payment.
 * The Idempotency-Key is derived from our payment id, so a retried call
 * can never open a second session for the same payment.
 */
static int
stripe_checkout_request(const struct billing_checkout *co,
    struct billing_http *h)
{
	struct form	 f;
	char		 amount[32];

	memset(h, 0, sizeof(*h));
	memset(&f, 0, sizeof(f));
	(void)snprintf(amount, sizeof(amount), "%lld",
	    (long long)co->price_minor);

	form_add(&f, "mode", "payment");
	form_add(&f, "client_reference_id", co->payment_id);
	form_add(&f, "success_url", co->success_url);
	form_add(&f, "cancel_url", co->cancel_url);
	form_add(&f, "line_items[0][quantity]", "1");
	form_add(&f, "line_items[0][price_data][currency]", co->currency);
	form_add(&f, "line_items[0][price_data][unit_amount]", amount);
	form_add(&f, "line_items[0][price_data][product_data][name]",
	    co->name);
	form_add(&f, "metadata[tollgate_payment_id]", co->payment_id);
	form_add(&f, "metadata[tollgate_package_id]", co->package_id);
	form_add(&f, "payment_intent_data[metadata][tollgate_payment_id]",
	    co->payment_id);
	return (stripe_post(h, &f, "/v1/checkout/sessions", "checkout",
	    co->payment_id));
}

/*
 * A POST of form f to Stripe's path with our key and the Idempotency-Key
 * "tollgate-<what>-<id>"; f's buffer becomes h's body. 0: out of memory
 * (h and f are freed).
 */
static int
stripe_post(struct billing_http *h, struct form *f, const char *path,
    const char *what, const char *id)
{
	size_t	n;
	int	i;

	if (f->failed) {
		free(f->buf);
		return (0);
	}

	n = strlen(tg_conf.stripe_api_url);
	if (n > 0 && tg_conf.stripe_api_url[n - 1] == '/')
		n--;
	h->body = f->buf;
	h->body_len = f->len;
	h->url = str_printf("%.*s%s", (int)n, tg_conf.stripe_api_url, path);
	h->headers[h->nheaders++] = str_printf("Authorization: Bearer %s",
	    tg_conf.stripe_secret_key);
	h->headers[h->nheaders++] = str_printf("Content-Type: "
	    "application/x-www-form-urlencoded");
	h->headers[h->nheaders++] = str_printf("Idempotency-Key: "
	    "tollgate-%s-%s", what, id);
	h->headers[h->nheaders++] = str_printf("Accept: application/json");

	for (i = 0; i < h->nheaders; i++) {
		if (h->headers[i] == NULL)
			break;
	}
	if (h->url == NULL || i < h->nheaders) {
		billing_http_free(h);
		return (0);
	}

	return (1);
}

/*
 * POST /v1/refunds, form-encoded: amount of the PaymentIntent, our ids
 * in metadata, Idempotency-Key "tollgate-refund-<refund id>".
 */
static int
stripe_refund_request(const struct billing_refund *rf, struct billing_http *h)
{
	struct form	f;
	char		amount[32];

	memset(h, 0, sizeof(*h));
	memset(&f, 0, sizeof(f));
	if (rf->amount_minor <= 0 || rf->payment_ref == NULL ||
	    rf->payment_ref[0] == '\0')
		return (0);
	(void)snprintf(amount, sizeof(amount), "%lld",
	    (long long)rf->amount_minor);

	form_add(&f, "payment_intent", rf->payment_ref);
	form_add(&f, "amount", amount);
	form_add(&f, "metadata[tollgate_refund_id]", rf->refund_id);
	form_add(&f, "metadata[tollgate_payment_id]", rf->payment_id);
	return (stripe_post(h, &f, "/v1/refunds", "refund", rf->refund_id));
}

/*
 * Stripe's answer to a refund of amount: 200 with a Refund object (its
 * id, a known status and our amount) is MADE; an error of 4xx but 409
 * (an idempotent request still in progress) and 429 is REFUSED; the rest
 * is UNKNOWN. res->error is set for all but MADE.
 */
static void
stripe_refund_response(long status, const uint8_t *body, size_t len,
    int64_t amount, struct billing_refund_result *res)
{
	static const char *const	states[] = { "pending",
					    "requires_action", "succeeded",
					    "failed", "canceled", NULL };
	json_t				*doc, *v;
	const char			*st;
	int				 i;

	memset(res, 0, sizeof(*res));
	res->outcome = BILLING_REFUND_UNKNOWN;
	doc = body != NULL ? json_loadb((const char *)body, len, 0, NULL) : NULL;

	if (status != 200) {
		if (status >= 400 && status < 500 && status != 409 &&
		    status != 429)
			res->outcome = BILLING_REFUND_REFUSED;
		stripe_error(status, doc, res->error, sizeof(res->error));
		goto out;
	}

	st = json_string_value(json_object_get(doc, "status"));
	for (i = 0; st != NULL && states[i] != NULL; i++) {
		if (!strcmp(st, states[i]))
			break;
	}
	v = json_object_get(doc, "amount");
	if (!copy_id(res->ref, sizeof(res->ref), json_object_get(doc, "id")) ||
	    st == NULL || states[i] == NULL || !json_is_integer(v)) {
		(void)snprintf(res->error, sizeof(res->error),
		    "Stripe answered 200 without a refund id, status and "
		    "amount");
		goto out;
	}
	if (json_integer_value(v) != amount) {
		(void)snprintf(res->error, sizeof(res->error),
		    "Stripe answered a refund of %lld, not %lld",
		    (long long)json_integer_value(v), (long long)amount);
		goto out;
	}
	(void)snprintf(res->status, sizeof(res->status), "%s", st);
	res->outcome = BILLING_REFUND_MADE;

out:
	json_decref(doc);
}

/* "Stripe answered <status>: <its message>", redacted, into out. */
static void
stripe_error(long status, json_t *doc, char *out, size_t len)
{
	const char	*msg;
	char		*copy;

	msg = json_string_value(json_object_get(json_object_get(doc, "error"),
	    "message"));
	/* Redacted whole, before the cut could leave half a key. */
	if ((copy = strdup(msg != NULL ? msg : "no error message")) != NULL)
		billing_redact(copy);
	(void)snprintf(out, len, "Stripe answered %ld: %.255s", status,
	    copy != NULL ? copy : "(out of memory)");
	free(copy);
	/* The cut may have split a character. */
	billing_redact(out);
}

/*
 * Stripe's answer: 200 with the session's id and url, or an error whose
 * status and message the caller passes on (502, docs/contract.md §3).
 */
static int
stripe_checkout_response(long status, const uint8_t *body, size_t len,
    struct billing_checkout_result *res)
{
	json_t		*doc;
	int		 ok;

	memset(res, 0, sizeof(*res));
	doc = body != NULL ? json_loadb((const char *)body, len, 0, NULL) : NULL;
	ok = 0;

	if (status != 200) {
		stripe_error(status, doc, res->error, sizeof(res->error));
		goto out;
	}

	if (!copy_id(res->session_id, sizeof(res->session_id),
	    json_object_get(doc, "id")) ||
	    !copy_id(res->url, sizeof(res->url), json_object_get(doc, "url")) ||
	    (strncmp(res->url, "https://", 8) &&
	    strncmp(res->url, "http://", 7))) {
		(void)snprintf(res->error, sizeof(res->error),
		    "Stripe answered 200 without a checkout session id and url");
		goto out;
	}
	ok = 1;

out:
	json_decref(doc);
	return (ok);
}

static void
form_add(struct form *f, const char *key, const char *value)
{
	if (f->len > 0)
		form_put(f, "&", 1);
	form_escape(f, key);
	form_put(f, "=", 1);
	form_escape(f, value != NULL ? value : "");
}

/* application/x-www-form-urlencoded (tg_percent_encode). */
static void
form_escape(struct form *f, const char *s)
{
	char	*enc;

	if ((enc = tg_percent_encode(s)) == NULL) {
		f->failed = 1;
		return;
	}
	form_put(f, enc, strlen(enc));
	free(enc);
}

static void
form_put(struct form *f, const char *p, size_t n)
{
	char	*nb;
	size_t	 cap;

	if (f->failed)
		return;
	if (f->len + n + 1 > f->cap) {
		cap = f->cap == 0 ? 512 : f->cap;
		while (cap < f->len + n + 1)
			cap *= 2;
		if ((nb = realloc(f->buf, cap)) == NULL) {
			f->failed = 1;
			return;
		}
		f->buf = nb;
		f->cap = cap;
	}

	memcpy(f->buf + f->len, p, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

static char *
str_printf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);

	return (s);
}
