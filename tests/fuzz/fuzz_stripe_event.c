/*
 * Fuzz harness: Stripe event bodies translated into billing events, and
 * Stripe's answers to a checkout request.
 */

#include <stdint.h>
#include <string.h>

#include "billing/provider.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct billing_event		ev;
	struct billing_checkout_result	res;
	char				err[256];

	if (billing_stripe.parse_event(data, len, &ev, err, sizeof(err))) {
		/* Everything copied out is a terminated, bounded string. */
		if (strlen(ev.id) >= sizeof(ev.id) ||
		    strlen(ev.payment_id) >= sizeof(ev.payment_id) ||
		    strlen(ev.detail) >= sizeof(ev.detail) ||
		    strlen(ev.currency) > 3 || ev.kind == NULL)
			__builtin_trap();
	}
	(void)billing_stripe.checkout_response(200, data, len, &res);
	(void)billing_stripe.checkout_response(402, data, len, &res);
	return (0);
}
