/*
 * Strict base64url: the encoder writes the unpadded form; the decoder
 * accepts only what the encoder could have written. A token with a
 * second spelling (padding, '+' '/', non-zero trailing bits) is refused,
 * so that byte comparisons of encoded segments are meaningful.
 */

#include <string.h>

#include "auth/b64.h"

static const char	b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int	b64url_value(int);

/*
 * Encode len bytes into out (outlen must leave room for the NUL);
 * returns the encoded length, or 0 when out is too small.
 */
size_t
auth_b64url_encode(const void *in, size_t len, char *out, size_t outlen)
{
	const unsigned char	*p = in;
	size_t			 i, n;
	unsigned int		 v;

	if (outlen < AUTH_B64URL_LEN(len) + 1)
		return (0);

	n = 0;
	for (i = 0; i + 2 < len; i += 3) {
		v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
		out[n++] = b64url_alphabet[(v >> 18) & 0x3f];
		out[n++] = b64url_alphabet[(v >> 12) & 0x3f];
		out[n++] = b64url_alphabet[(v >> 6) & 0x3f];
		out[n++] = b64url_alphabet[v & 0x3f];
	}

	if (len - i == 1) {
		v = p[i] << 16;
		out[n++] = b64url_alphabet[(v >> 18) & 0x3f];
		out[n++] = b64url_alphabet[(v >> 12) & 0x3f];
	} else if (len - i == 2) {
		v = (p[i] << 16) | (p[i + 1] << 8);
		out[n++] = b64url_alphabet[(v >> 18) & 0x3f];
		out[n++] = b64url_alphabet[(v >> 12) & 0x3f];
		out[n++] = b64url_alphabet[(v >> 6) & 0x3f];
	}

	out[n] = '\0';
	return (n);
}

/*
 * Decode inlen characters into out (at most outlen bytes); *olen gets
 * the decoded length. Returns 1, or 0 for anything not canonical.
 */
int
auth_b64url_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outlen, size_t *olen)
{
	size_t		i, n;
	unsigned int	acc;
	int		bits, v;

	*olen = 0;
	if (inlen % 4 == 1)
		return (0);
	if ((inlen / 4) * 3 + (inlen % 4 ? inlen % 4 - 1 : 0) > outlen)
		return (0);

	acc = 0;
	bits = 0;
	n = 0;
	for (i = 0; i < inlen; i++) {
		if ((v = b64url_value((unsigned char)in[i])) < 0)
			return (0);
		acc = ((acc << 6) | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (acc >> bits) & 0xff;
		}
	}

	/* Leftover bits must be zero: one spelling per byte string. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return (0);

	*olen = n;
	return (1);
}

static int
b64url_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '-')
		return (62);
	if (c == '_')
		return (63);
	return (-1);
}
