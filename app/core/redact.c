/*
 * Secret redaction and text cleaning (redact.h). Pure C.
 *
 * Redaction replaces a whole match by "***", so the text only shrinks
 * and a caller's fixed buffer always holds the result. Token patterns
 * run to the first byte that cannot be part of a key, so no fragment of
 * a key survives next to the "***".
 */

#include <stddef.h>
#include <string.h>

#include "redact.h"

static const char	*const token_prefixes[] = {
	"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_",
};

static int	token_char(unsigned char);
static size_t	token_prefix(const char *);
static size_t	utf8_len(const unsigned char *);

void
tg_redact_secret(char *s, const char *secret)
{
	size_t	 slen;
	char	*p;

	if (s == NULL || secret == NULL || (slen = strlen(secret)) < 4)
		return;

	p = s;
	while ((p = strstr(p, secret)) != NULL) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + slen, strlen(p + slen) + 1);
		p += 3;
	}
}

void
tg_redact_tokens(char *s)
{
	char	*p;
	size_t	 n, end;

	if (s == NULL)
		return;

	for (p = s; *p != '\0'; p++) {
		if ((n = token_prefix(p)) == 0)
			continue;
		end = n;
		while (token_char((unsigned char)p[end]))
			end++;
		if (end == n)
			continue;	/* a bare prefix is no secret */
		memcpy(p, "***", 3);
		memmove(p + 3, p + end, strlen(p + end) + 1);
		p += 2;
	}
}

void
tg_text_clean(char *s)
{
	unsigned char	*p;
	size_t		 n;

	if (s == NULL)
		return;

	for (p = (unsigned char *)s; *p != '\0'; p += n) {
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				*p = ' ';
			n = 1;
		} else if ((n = utf8_len(p)) == 0) {
			*p = '?';
			n = 1;
		}
	}
}

static int
token_char(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_');
}

/* The length of the secret prefix p starts with, or 0. */
static size_t
token_prefix(const char *p)
{
	size_t	i, n;

	for (i = 0; i < sizeof(token_prefixes) / sizeof(token_prefixes[0]);
	    i++) {
		n = strlen(token_prefixes[i]);
		if (!strncmp(p, token_prefixes[i], n))
			return (n);
	}

	return (0);
}

/*
 * The length of the valid UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t
utf8_len(const unsigned char *p)
{
	size_t		n, i;
	unsigned int	cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return (0);
	}

	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return (0);

	return (n);
}
