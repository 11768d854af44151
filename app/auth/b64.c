/*
 * Strict base64url: the encoder writes the unpadded form; the decoder
 * accepts only what the encoder could have written. A token with a
 * second spelling (padding, '+' '/', non-zero trailing bits) is refused,
 * so that byte comparisons of encoded segments are meaningful.
 * libsodium's codec in its URL-safe, unpadded variant is that, except
 * that the 1.0.18 of Debian 12 also takes every byte from 0x80 up as a
 * letter of the alphabet: the alphabet is checked here first.
 */

#include <sodium.h>

#include "auth/b64.h"

#define B64URL	sodium_base64_VARIANT_URLSAFE_NO_PADDING

static int	b64url_alphabet(const char *, size_t);

/*
 * Encode len bytes into out (outlen must leave room for the NUL);
 * returns the encoded length, or 0 when out is too small.
 */
size_t
auth_b64url_encode(const void *in, size_t len, char *out, size_t outlen)
{
	if (outlen < AUTH_B64URL_LEN(len) + 1)
		return (0);

	(void)sodium_bin2base64(out, outlen, in, len, B64URL);
	return (AUTH_B64URL_LEN(len));
}

/*
 * Decode inlen characters into out (at most outlen bytes); *olen gets
 * the decoded length. Returns 1, or 0 for anything not canonical.
 */
int
auth_b64url_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outlen, size_t *olen)
{
	if (!b64url_alphabet(in, inlen) ||
	    sodium_base642bin(out, outlen, in, inlen, NULL, olen, NULL,
	    B64URL) != 0) {
		*olen = 0;
		return (0);
	}

	return (1);
}

/* Whether every character is one of [A-Za-z0-9_-]. */
static int
b64url_alphabet(const char *in, size_t inlen)
{
	size_t	i;
	char	c;

	for (i = 0; i < inlen; i++) {
		c = in[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return (0);
	}
	return (1);
}
