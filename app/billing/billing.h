/*
 * Billing's Kore side: the handlers behind the /api/billing routes,
 * the admin package and refund routes and /webhooks/stripe, and what
 * they share.
 */

#ifndef BILLING_BILLING_H
#define BILLING_BILLING_H

#include "tollgate.h"
#include "db.h"
#include "fetch.h"

#include "billing/provider.h"

#define BILLING_WEBHOOK_BODY_MAX	(256 * 1024)
#define BILLING_CHECKOUT_TIMEOUT_MS	15000

/* Webhook outcomes, counted by tollgate_billing_webhook_events_total. */
#define BILLING_OUT_PROCESSED	0
#define BILLING_OUT_DUPLICATE	1
#define BILLING_OUT_IGNORED	2
#define BILLING_OUT_UNMATCHED	3
#define BILLING_OUT_FLAGGED	4
#define BILLING_OUT_REJECTED	5
#define BILLING_OUT_MAX		6

extern int	billing_metric_webhook[BILLING_OUT_MAX];
extern int	billing_metric_checkout_opened;
extern int	billing_metric_checkout_failed;

int	billing_disabled(struct http_request *);
int	billing_http_start(struct http_request *, struct tg_fetch *,
	    struct billing_http *);

/* checkout.c */
int	billing_checkout(struct http_request *);

/* refund.c */
int	billing_refund(struct http_request *);

/* webhook.c */
int	billing_webhook_stripe(struct http_request *);

#endif
