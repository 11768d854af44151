/*
 * Billing's validation of what callers send (package.c): package bodies,
 * refund requests. Pure C.
 */

#ifndef BILLING_PACKAGE_H
#define BILLING_PACKAGE_H

#include <stdint.h>

#include <jansson.h>

#define BILLING_NAME_MAX	100		/* characters */
#define BILLING_PRICE_MAX	99999999LL	/* Stripe's unit_amount cap */
#define BILLING_CREDITS_MAX	1000000000000000LL	/* 1e9 credits */

struct billing_package_in {
	char	name[BILLING_NAME_MAX * 4 + 1];
	int64_t	price_minor;
	char	currency[4];
	int64_t	credits_micros;
	int	active;

	/* On failure: the contract's error code, field and message. */
	char	code[32];
	char	param[72];
	char	message[192];
};

int	billing_package_parse(json_t *, const char *,
	    struct billing_package_in *);

#define BILLING_REFUND_KEY_MAX	255	/* Stripe's Idempotency-Key limit */

/* A refund request's body (amount_minor, -1: all that is left). */
struct billing_refund_in {
	int64_t	amount_minor;
	char	param[72];		/* on failure: the field at fault */
};

int	billing_refund_parse(json_t *, struct billing_refund_in *);
int	billing_refund_key_valid(const char *);

#endif
