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

#include "clean.h"
#include "redact.h"

static const char	*const token_prefixes[] = {
	"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_",
};

static int	token_char(unsigned char);
static size_t	token_prefix(const char *);

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
	size_t	n;

	if (s == NULL)
		return;
	n = strlen(s);
	(void)tg_clean_text(s, n + 1, s, n);
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
