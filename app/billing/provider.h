/*
 * The payment-provider interface of billing. Pure C (libc, jansson,
 * libsodium; no Kore types), so every provider is unit-tested directly.
 *
 * A provider does three things, and only these:
 *
 *   1. authenticates a webhook delivery over its raw bytes (headers and
 *      body) before anything parses it,
 *   2. translates a delivery into one provider-neutral struct
 *      billing_event (below),
 *   3. builds the outbound request that opens a hosted checkout for one
 *      of our pending payments, and reads the provider's answer,
 *   4. builds the request that refunds (part of) one of our paid
 *      payments, and reads the provider's answer (the refund is booked
 *      later, by the provider's refund webhook, like any other).
 *
 * Everything that moves money happens after that, provider-blind, in
 * one SQL function (billing_apply_event, sql/0400_billing.sql): it
 * records the event by (provider, event id), applies its kind to our own
 * payments row and posts to the ledger through credits_grant(). A second
 * provider therefore never touches the ledger or the SQL.
 *
 * How a provider whose webhooks are unsigned fits (Toss Payments'
 * PAYMENT_STATUS_CHANGED carries no signature, docs/billing.md):
 * its verify() accepts the delivery but its parse_event() returns the
 * kind BILLING_KIND_CONFIRM, which the SQL records without effect; the
 * effect then comes from querying the provider's API for the payment
 * (outside the webhook request) and applying what that answer says as a
 * billing_event of its own. Stripe signs its webhooks and never needs it.
 *
 * Ownership: strings in a struct billing_http are the caller's
 * (billing_http_free); inputs are borrowed.
 */

#ifndef BILLING_PROVIDER_H
#define BILLING_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define BILLING_ID_MAX		256
#define BILLING_TYPE_MAX	128
#define BILLING_DETAIL_MAX	256
#define BILLING_URL_MAX		2048
#define BILLING_ERR_MAX		512
#define BILLING_HEADERS_MAX	8

/*
 * Provider-neutral event kinds, the vocabulary of billing_apply_event.
 * amount is in the payment's minor currency unit.
 */
#define BILLING_KIND_SUCCEEDED	"payment_succeeded"	/* money taken; amount = total */
#define BILLING_KIND_PENDING	"payment_pending"	/* checkout done, money not yet */
#define BILLING_KIND_FAILED	"payment_failed"	/* delayed payment failed */
#define BILLING_KIND_EXPIRED	"checkout_expired"	/* customer never paid */
#define BILLING_KIND_ANOMALY	"payment_anomaly"	/* flag our payment, no effect */
#define BILLING_KIND_REFUND	"refund"		/* amount = refunded so far */
#define BILLING_KIND_DISPUTE	"dispute_opened"	/* amount = disputed */
#define BILLING_KIND_DISPUTE_WON "dispute_won"		/* funds stay with us */
#define BILLING_KIND_DISPUTE_LOST "dispute_lost"	/* amount = lost */
#define BILLING_KIND_CONFIRM	"confirm"		/* unsigned hint: query first */
#define BILLING_KIND_IGNORED	"ignored"		/* recorded, no effect */

/* One webhook delivery, as received. */
struct billing_delivery {
	const char	*(*header)(void *, const char *);	/* NULL: absent */
	void		*arg;
	const uint8_t	*body;
	size_t		 body_len;
};

/*
 * A delivery translated. Strings are empty when the event lacks them;
 * amount is -1 when absent. payment_id is what the provider echoes of
 * ours (Stripe: client_reference_id) and is not trusted to be anything.
 */
struct billing_event {
	char		id[BILLING_ID_MAX];
	char		type[BILLING_TYPE_MAX];
	const char	*kind;
	int64_t		created;
	int		livemode;		/* 1, 0, or -1 when absent */
	char		payment_id[BILLING_ID_MAX];
	char		checkout_ref[BILLING_ID_MAX];	/* cs_... */
	char		payment_ref[BILLING_ID_MAX];	/* pi_... */
	int64_t		amount;
	char		currency[4];			/* lower case */
	char		detail[BILLING_DETAIL_MAX];
};

/* What a checkout is opened for: one pending payment of ours. */
struct billing_checkout {
	const char	*payment_id;
	const char	*package_id;
	const char	*name;
	int64_t		 price_minor;
	const char	*currency;
	const char	*success_url;
	const char	*cancel_url;
};

struct billing_checkout_result {
	char		session_id[BILLING_ID_MAX];
	char		url[BILLING_URL_MAX];
	char		error[BILLING_ERR_MAX];	/* for the caller, no secrets */
};

/* What a refund is asked for: one refund row of ours (0500_admin_refunds). */
struct billing_refund {
	const char	*refund_id;	/* ours: the idempotency key's root */
	const char	*payment_id;
	const char	*payment_ref;	/* the provider's payment (pi_...) */
	int64_t		 amount_minor;
};

/* How a refund call ended (billing_refund_finish's p_outcome). */
#define BILLING_REFUND_MADE	0	/* the provider made it: status, ref */
#define BILLING_REFUND_REFUSED	1	/* definitely not made */
#define BILLING_REFUND_UNKNOWN	2	/* no definite answer: send it again */

struct billing_refund_result {
	int		outcome;
	char		ref[BILLING_ID_MAX];		/* re_... */
	char		status[32];			/* the provider's state */
	char		error[BILLING_ERR_MAX];	/* for the caller, no secrets */
};

/* An outbound request built by a provider (always a POST). */
struct billing_http {
	char		*url;
	char		*body;
	size_t		 body_len;
	char		*headers[BILLING_HEADERS_MAX];	/* "name: value" */
	int		 nheaders;
};

/* Results of verify(). */
#define BILLING_VERIFY_OK		0
#define BILLING_VERIFY_MISSING		1	/* no signature header */
#define BILLING_VERIFY_MALFORMED	2
#define BILLING_VERIFY_STALE		3	/* outside the time window */
#define BILLING_VERIFY_MISMATCH		4	/* no signature matches */

struct billing_provider {
	const char	*name;		/* payments.provider */

	int	(*verify)(const struct billing_delivery *, int64_t);
	int	(*parse_event)(const uint8_t *, size_t,
		    struct billing_event *, char *, size_t);
	int	(*checkout_request)(const struct billing_checkout *,
		    struct billing_http *);
	int	(*checkout_response)(long, const uint8_t *, size_t,
		    struct billing_checkout_result *);
	/* The event's mode (test/live) is the one our key serves. */
	int	(*mode_matches)(const struct billing_event *);
	int	(*refund_request)(const struct billing_refund *,
		    struct billing_http *);
	void	(*refund_response)(long, const uint8_t *, size_t, int64_t,
		    struct billing_refund_result *);
};

extern const struct billing_provider	billing_stripe;

const char	*billing_verify_strerror(int);
void		 billing_http_free(struct billing_http *);
int		 billing_return_url(char *, size_t, const char *,
		    const char *, const char *);
int		 billing_currency(char [4], const json_t *);

/*
 * Text from a provider or about a call to it, made safe for a client,
 * a log line and our payments row, in place: our Stripe secret key and
 * webhook secrets, and anything shaped like a Stripe key, become "***";
 * control characters and invalid UTF-8 go (core/redact.h).
 */
void		 billing_redact(char *);

#endif
