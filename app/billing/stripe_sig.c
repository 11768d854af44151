/*
 * Stripe webhook signature checks: a strict parser of the
 * Stripe-Signature header and the verifier (docs/billing.md, "What
 * the endpoint checks").
 *
 * Grammar (what Stripe sends, nothing looser):
 *
 *	header = item *( "," item )		at most 4096 bytes
 *	item   = key "=" value
 *	key    = 1*16( ALPHA / DIGIT / "_" )
 *	t      = 1*12DIGIT, no leading zero	exactly once
 *	v1     = 1*( VCHAR except "," )		1 to 8 times; at least one
 *						of them 64HEXDIG
 *	other  = 1*( VCHAR except "," )		any other key: ignored (v0, ...)
 *
 * Anything else (empty items, spaces, a second t, no v1 of 32 bytes of
 * hex at all) makes the whole header invalid: Stripe never sends such a
 * header, so one that arrives was not made by Stripe. A v1 that is not
 * 64 hex digits beside a good one is skipped, as Stripe's own libraries
 * skip it (they compare every v1 and accept any match): a candidate that
 * can match nothing is no reason to refuse the one that matches.
 *
 * Verification: HMAC-SHA256 keyed with the endpoint secret (the whole
 * "whsec_..." string, as Stripe's libraries use it) over the timestamp
 * exactly as written in the header, ".", and the raw body. Every
 * configured secret is tried against every v1 (secret rotation: Stripe
 * signs with old and new secrets for a while, we may hold both), each
 * comparison in constant time. The timestamp must be within the
 * tolerance of now in both directions, so neither a replayed old
 * delivery nor a future-dated one passes.
 */

#include <string.h>

#include <sodium.h>

#include "stripe_sig.h"
#include "provider.h"
#include "lex.h"

#define KEY_MAX		16

struct sig_seen {
	int	t;	/* t items */
	int	v1;	/* v1 items, well-formed or not */
};

static int	sig_item(const char *, size_t, struct stripe_sig *,
		    struct sig_seen *);
static int	sig_value_valid(const char *, size_t);
static int	sig_key_valid(const char *, size_t);
static int	sig_parse_t(const char *, size_t, struct stripe_sig *);
static int	sig_parse_hex(const char *, size_t, unsigned char [32]);

/* Returns 1 and fills sig for a valid header, 0 otherwise. */
int
stripe_sig_parse(const char *hdr, size_t len, struct stripe_sig *sig)
{
	struct sig_seen	 seen;
	const char	*p, *end, *comma;

	memset(sig, 0, sizeof(*sig));
	if (hdr == NULL || len == 0 || len > STRIPE_SIG_HEADER_MAX)
		return (0);

	memset(&seen, 0, sizeof(seen));
	p = hdr;
	end = hdr + len;
	for (;;) {
		if ((comma = memchr(p, ',', end - p)) == NULL)
			comma = end;
		if (!sig_item(p, comma - p, sig, &seen))
			return (0);
		if (comma == end)
			break;
		p = comma + 1;
	}

	return (seen.t == 1 && sig->nv1 > 0);
}

/*
 * Verifies hdr over body with any of the secrets at time now. Returns a
 * BILLING_VERIFY_* code. The MAC is checked before the time so that a
 * stale verdict means "really from Stripe, but too old or too new"
 * (which points at a clock problem or a replay), not "garbage".
 */
int
stripe_sig_verify(const char *hdr, const uint8_t *body, size_t len,
    char *const *secrets, int nsecrets, int64_t now, int64_t tolerance)
{
	struct stripe_sig	sig;
	unsigned char		mac[crypto_auth_hmacsha256_BYTES];
	int			i, j, match;

	if (hdr == NULL)
		return (BILLING_VERIFY_MISSING);
	if (!stripe_sig_parse(hdr, strlen(hdr), &sig))
		return (BILLING_VERIFY_MALFORMED);

	match = 0;
	for (i = 0; i < nsecrets && !match; i++) {
		stripe_sig_compute(secrets[i], sig.t_text, body, len, mac);
		for (j = 0; j < sig.nv1; j++) {
			if (crypto_verify_32(mac, sig.v1[j]) == 0)
				match = 1;
		}
	}
	sodium_memzero(mac, sizeof(mac));

	if (!match)
		return (BILLING_VERIFY_MISMATCH);
	if (sig.t > now + tolerance || sig.t < now - tolerance)
		return (BILLING_VERIFY_STALE);

	return (BILLING_VERIFY_OK);
}

/* HMAC-SHA256(secret, t "." body): what Stripe puts in v1. */
void
stripe_sig_compute(const char *secret, const char *t, const uint8_t *body,
    size_t len, unsigned char mac[32])
{
	crypto_auth_hmacsha256_state	st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
	    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)t,
	    strlen(t));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	if (len > 0)
		crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

static int
sig_item(const char *p, size_t len, struct stripe_sig *sig,
    struct sig_seen *seen)
{
	const char	*eq, *val;
	size_t		 klen, vlen;

	if ((eq = memchr(p, '=', len)) == NULL)
		return (0);
	klen = eq - p;
	val = eq + 1;
	vlen = len - klen - 1;
	if (!sig_key_valid(p, klen) || vlen == 0)
		return (0);

	if (klen == 1 && p[0] == 't') {
		if (seen->t++ > 0)
			return (0);
		return (sig_parse_t(val, vlen, sig));
	}

	if (klen == 2 && p[0] == 'v' && p[1] == '1') {
		if (seen->v1++ >= STRIPE_SIG_V1_MAX)
			return (0);
		if (sig_parse_hex(val, vlen, sig->v1[sig->nv1])) {
			sig->nv1++;
			return (1);
		}
		/* A candidate that matches nothing: skipped. */
		return (sig_value_valid(val, vlen));
	}

	/* Another scheme (v0, a future one): ignored, but well-formed. */
	return (sig_value_valid(val, vlen));
}

static int
sig_value_valid(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return (0);
	}

	return (1);
}

static int
sig_key_valid(const char *p, size_t len)
{
	size_t	i;

	if (len == 0 || len > KEY_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		if (!(p[i] >= 'a' && p[i] <= 'z') &&
		    !(p[i] >= 'A' && p[i] <= 'Z') &&
		    !(p[i] >= '0' && p[i] <= '9') && p[i] != '_')
			return (0);
	}

	return (1);
}

/* Decimal seconds; at most 12 digits, so no overflow is possible. */
static int
sig_parse_t(const char *p, size_t len, struct stripe_sig *sig)
{
	int64_t	v;

	if (len > STRIPE_SIG_T_DIGITS_MAX || (len > 1 && p[0] == '0') ||
	    !tg_digits(p, (int)len, &v))
		return (0);

	memcpy(sig->t_text, p, len);
	sig->t_text[len] = '\0';
	sig->t = v;
	return (1);
}

static int
sig_parse_hex(const char *p, size_t len, unsigned char out[32])
{
	const char	*end;
	size_t		 n;

	if (len != 64)
		return (0);
	if (sodium_hex2bin(out, 32, p, len, NULL, &n, &end) != 0)
		return (0);

	return (n == 32 && end == p + len);
}
