/*
 * OpenID Connect id tokens (Google, Kakao): RS256 signatures checked
 * against the provider's JWKS, and the claims of OIDC Core §3.1.3.7.
 * Pure C (jansson, OpenSSL).
 */

#ifndef AUTH_IDTOKEN_H
#define AUTH_IDTOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AUTH_IDT_MAX		16384	/* whole token */
#define AUTH_IDT_SEGMENT_MAX	8192	/* each decoded segment */
#define AUTH_IDT_LEEWAY		60	/* clock skew against the provider */
#define AUTH_IDT_ISSUERS_MAX	2
#define AUTH_RSA_MIN_BITS	2048
#define AUTH_RSA_MAX_BITS	8192

/* Results of auth_idtoken_verify(). */
#define AUTH_IDT_OK		0
#define AUTH_IDT_MALFORMED	1
#define AUTH_IDT_BAD_ALG	2	/* anything but RS256, crit */
#define AUTH_IDT_UNKNOWN_KID	3	/* refresh the JWKS and retry */
#define AUTH_IDT_BAD_KEY	4	/* the JWK itself is unusable */
#define AUTH_IDT_BAD_SIGNATURE	5
#define AUTH_IDT_BAD_ISS	6
#define AUTH_IDT_BAD_AUD	7
#define AUTH_IDT_EXPIRED	8
#define AUTH_IDT_BAD_IAT	9
#define AUTH_IDT_BAD_NONCE	10
#define AUTH_IDT_BAD_SUB	11

struct auth_idtoken_expect {
	const char	*issuers[AUTH_IDT_ISSUERS_MAX];
	int		 nissuers;
	const char	*client_id;
	const char	*nonce;		/* NULL: the flow sent none */
	int64_t		 now;
};

int		 auth_idtoken_verify(const char *, const json_t *,
		    const struct auth_idtoken_expect *, json_t **);
int		 auth_jwks_valid(const json_t *);
int		 auth_rs256_verify(const unsigned char *, size_t,
		    const unsigned char *, size_t, const void *, size_t,
		    const unsigned char *, size_t);
const char	*auth_idtoken_strerror(int);

#endif
