/*
 * Query-string lookup: tg_qs_get(qs, name, out, outlen) finds the first
 * "name=value" pair of an application/x-www-form-urlencoded string and
 * percent-decodes its value. A value that does not fit, has a broken
 * escape or decodes to a control character (NUL included) is
 * TG_QS_INVALID, so callers never see truncated or binary input.
 * tg_percent_encode() writes a value for such a string (or a URL query).
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lex.h"
#include "qs.h"

int
tg_qs_get(const char *qs, const char *name, char *out, size_t outlen)
{
	const char	*p, *end, *eq;
	size_t		 nlen;

	if (qs == NULL || outlen == 0)
		return (TG_QS_ABSENT);

	nlen = strlen(name);
	for (p = qs; *p != '\0'; p = (*end == '&') ? end + 1 : end) {
		end = p + strcspn(p, "&");
		eq = memchr(p, '=', end - p);
		if (eq == NULL)
			eq = end;
		if ((size_t)(eq - p) != nlen || strncmp(p, name, nlen))
			continue;
		if (eq == end) {
			out[0] = '\0';
			return (TG_QS_FOUND);
		}
		if (tg_percent_decode(eq + 1, end - eq - 1, out, outlen) < 0)
			return (TG_QS_INVALID);
		return (TG_QS_FOUND);
	}

	return (TG_QS_ABSENT);
}

/* Decodes len bytes of s ('+' is a space); returns the length or -1. */
int
tg_percent_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	i, n;
	int	hi, lo, c;

	n = 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= len)
				return (-1);
			hi = tg_hexval((unsigned char)s[i + 1]);
			lo = tg_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return (-1);
			c = (hi << 4) | lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return (-1);
		if (n + 1 >= outlen)
			return (-1);
		out[n++] = (char)c;
	}

	out[n] = '\0';
	return ((int)n);
}

/*
 * s percent-encoded (malloc'd; NULL when out of memory): RFC 3986's
 * unreserved bytes as they are, every other byte as %XX in upper case.
 */
char *
tg_percent_encode(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;
	char			*out, *p;

	if ((out = malloc(strlen(s) * 3 + 1)) == NULL)
		return (NULL);

	for (p = out; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			*p++ = c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 0x0f];
		}
	}
	*p = '\0';

	return (out);
}
