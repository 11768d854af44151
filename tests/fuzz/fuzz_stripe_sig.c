/*
 * Fuzz harness: the Stripe-Signature header parser and the verifier over
 * arbitrary bytes (the header as a counted string, then NUL-terminated
 * and verified against the input itself as the body).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "billing/stripe_sig.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char		*secrets[] = {
		"whsec_fuzz_secret_0123456789abcdef",
		"whsec_fuzz_rotated_0123456789abcdef",
	};
	struct stripe_sig	 sig;
	char			*hdr;

	if (sodium_init() < 0)
		abort();

	(void)stripe_sig_parse((const char *)data, len, &sig);

	if ((hdr = malloc(len + 1)) == NULL)
		return (0);
	memcpy(hdr, data, len);
	hdr[len] = '\0';
	(void)stripe_sig_verify(hdr, data, len, secrets, 2, 1700000000,
	    STRIPE_SIG_TOLERANCE);
	free(hdr);
	return (0);
}
