/*
 * Strict base64url (RFC 4648 §5) for tokens: no padding, no whitespace,
 * and only the canonical encoding (unused trailing bits must be zero),
 * so every token has exactly one spelling. Pure C.
 */

#ifndef AUTH_B64_H
#define AUTH_B64_H

#include <stddef.h>

/* Characters needed to encode n bytes, without the terminating NUL. */
#define AUTH_B64URL_LEN(n)	(((n) * 4 + 2) / 3)

size_t	auth_b64url_encode(const void *, size_t, char *, size_t);
int	auth_b64url_decode(const char *, size_t, unsigned char *, size_t,
	    size_t *);

#endif
