/*
 * Stripe webhook signatures (Stripe-Signature: t=<unix>,v1=<hex>[,...]).
 * Pure C over bytes and libsodium; see stripe_sig.c for the grammar.
 */

#ifndef BILLING_STRIPE_SIG_H
#define BILLING_STRIPE_SIG_H

#include <stddef.h>
#include <stdint.h>

#define STRIPE_SIG_HEADER_MAX	4096	/* longer headers are refused */
#define STRIPE_SIG_V1_MAX	8	/* more v1 entries are refused */
#define STRIPE_SIG_T_DIGITS_MAX	12
#define STRIPE_SIG_TOLERANCE	300	/* seconds, both directions */

struct stripe_sig {
	int64_t		t;
	char		t_text[STRIPE_SIG_T_DIGITS_MAX + 1];	/* as signed */
	int		nv1;
	unsigned char	v1[STRIPE_SIG_V1_MAX][32];
};

int	stripe_sig_parse(const char *, size_t, struct stripe_sig *);
int	stripe_sig_verify(const char *, const uint8_t *, size_t,
	    char *const *, int, int64_t, int64_t);
void	stripe_sig_compute(const char *, const char *, const uint8_t *,
	    size_t, unsigned char [32]);

#endif
