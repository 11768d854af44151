/*
 * Billing's validation of what callers send (package.c). Pure C.
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

#endif
