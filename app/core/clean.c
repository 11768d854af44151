/*
 * Cleaning untrusted text (see clean.h). The decoder follows RFC 3629
 * (Table 3-7 of the Unicode standard): the second byte's range depends on
 * the first, which refuses overlong forms, surrogates and code points
 * past U+10FFFF without decoding them first.
 */

#include <string.h>

#include "clean.h"

static size_t	clean_decode(const unsigned char *, size_t, unsigned long *);
static int	clean_is_control(unsigned long);

size_t
tg_clean_text(char *out, size_t outlen, const char *in, size_t inlen)
{
	const unsigned char	*p;
	unsigned long		 cp;
	size_t			 i, n, clen;

	if (outlen == 0)
		return (0);
	n = 0;
	if (in == NULL) {
		out[0] = '\0';
		return (0);
	}

	p = (const unsigned char *)in;
	for (i = 0; i < inlen && p[i] != '\0'; i += clen) {
		if ((clen = clean_decode(p + i, inlen - i, &cp)) == 0) {
			/* One '?' per byte of the broken sequence. */
			clen = 1;
			cp = '?';
		} else if (cp == '\t' || cp == '\r' || cp == '\n') {
			cp = ' ';
		} else if (clean_is_control(cp)) {
			cp = '?';
		}

		if (cp < 0x80) {
			if (n + 1 >= outlen)
				break;
			out[n++] = (char)cp;
			continue;
		}
		if (n + clen >= outlen)
			break;
		memmove(out + n, p + i, clen);	/* out may be in */
		n += clen;
	}

	out[n] = '\0';
	return (n);
}

size_t
tg_clean_utf8(char *s, size_t len)
{
	unsigned long	cp;
	size_t		i, clen, bad;

	bad = 0;
	for (i = 0; i < len; i += clen) {
		if ((clen = clean_decode((unsigned char *)s + i, len - i,
		    &cp)) == 0) {
			s[i] = '?';
			clen = 1;
			bad++;
		}
	}

	return (bad);
}

/*
 * The length of the valid UTF-8 sequence at p (at most left bytes) with
 * its code point in *cp, or 0 when none starts there.
 */
static size_t
clean_decode(const unsigned char *p, size_t left, unsigned long *cp)
{
	unsigned char	lo, hi;
	size_t		len, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return (1);
	}

	lo = 0x80;
	hi = 0xbf;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		*cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		*cp = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		*cp = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;		/* past U+10FFFF */
	} else {
		return (0);
	}

	if (left < len || p[1] < lo || p[1] > hi)
		return (0);
	for (i = 1; i < len; i++) {
		if (i > 1 && (p[i] < 0x80 || p[i] > 0xbf))
			return (0);
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}

	return (len);
}

/* Characters that move the cursor, end a line or reorder text. */
static int
clean_is_control(unsigned long cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return (1);
	if (cp == 0x2028 || cp == 0x2029)		/* line, paragraph */
		return (1);
	if (cp == 0x200e || cp == 0x200f || cp == 0x061c)	/* marks */
		return (1);
	if (cp >= 0x202a && cp <= 0x202e)		/* embeddings */
		return (1);
	if (cp >= 0x2066 && cp <= 0x2069)		/* isolates */
		return (1);

	return (0);
}
