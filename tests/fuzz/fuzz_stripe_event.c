/*
 * Fuzz harness: Stripe event bodies translated into billing events, and
 * Stripe's answers to a checkout request. An error answer's text comes
 * out without our secrets or anything key-shaped, as one line of valid
 * UTF-8 (billing_redact).
 */

#include <stdint.h>
#include <string.h>

#include "config.h"
#include "billing/provider.h"
#include "redact.h"

#define KEY	"sk_test_fuzzkey0123456789"
#define HOOK	"whsec_fuzzhook0123456789"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	check_error_text(const char *);

static void
check_error_text(const char *s)
{
	char	copy[BILLING_ERR_MAX];

	if (strstr(s, KEY) != NULL || strstr(s, HOOK) != NULL ||
	    strstr(s, "sk_test_fuzz") != NULL)
		__builtin_trap();
	/* Cleaning it again changes nothing: no control bytes, valid UTF-8. */
	(void)strcpy(copy, s);
	tg_text_clean(copy);
	if (strcmp(copy, s) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char			*hooks[] = { HOOK };
	struct billing_event		ev;
	struct billing_checkout_result	res;
	char				err[256];

	tg_conf.stripe_secret_key = KEY;
	tg_conf.stripe_webhook_secrets[0] = hooks[0];
	tg_conf.stripe_webhook_secrets_count = 1;

	if (billing_stripe.parse_event(data, len, &ev, err, sizeof(err))) {
		/* Everything copied out is a terminated, bounded string. */
		if (strlen(ev.id) >= sizeof(ev.id) ||
		    strlen(ev.payment_id) >= sizeof(ev.payment_id) ||
		    strlen(ev.detail) >= sizeof(ev.detail) ||
		    strlen(ev.currency) > 3 || ev.kind == NULL)
			__builtin_trap();
	}
	if (!billing_stripe.checkout_response(200, data, len, &res))
		check_error_text(res.error);
	if (billing_stripe.checkout_response(402, data, len, &res))
		__builtin_trap();
	check_error_text(res.error);
	return (0);
}
