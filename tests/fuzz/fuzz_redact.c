/*
 * Fuzz harness: redaction and cleaning of untrusted text (core/redact.h)
 * over arbitrary bytes. The first line is the secret, the rest the
 * text. Afterwards: the text is no longer, holds neither the secret nor
 * a key-shaped token, and is one line of valid UTF-8 that cleaning
 * leaves unchanged.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	check_no_token(const char *);

static void
check_no_token(const char *s)
{
	static const char	*const prefixes[] = {
		"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_",
	};
	const char		*p;
	size_t			 i, n;
	unsigned char		 c;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		for (p = s; (p = strstr(p, prefixes[i])) != NULL; p++) {
			c = (unsigned char)p[n];
			/* Only a bare prefix stays. */
			if (c == '_' || (c >= '0' && c <= '9') ||
			    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
				__builtin_trap();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const uint8_t	*nl;
	char		*secret, *text, *again;
	size_t		 slen, tlen;

	if ((nl = memchr(data, '\n', len)) == NULL)
		nl = data + len;
	slen = nl - data;
	tlen = nl < data + len ? len - slen - 1 : 0;
	if ((secret = strndup((const char *)data, slen)) == NULL)
		return (0);
	if ((text = strndup((const char *)nl + (tlen > 0), tlen)) == NULL) {
		free(secret);
		return (0);
	}
	tlen = strlen(text);
	slen = strlen(secret);

	tg_redact_secret(text, secret);
	tg_redact_tokens(text);
	tg_text_clean(text);

	if (strlen(text) > tlen)
		__builtin_trap();
	/*
	 * A key-like secret (4 or more of [A-Za-z0-9_-]; shorter ones are
	 * not redacted, they would eat ordinary words) is gone.
	 */
	if (slen >= 4 && strspn(secret, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == slen &&
	    strstr(text, secret) != NULL)
		__builtin_trap();
	check_no_token(text);
	if ((again = strdup(text)) != NULL) {
		tg_text_clean(again);
		if (strcmp(again, text) != 0)
			__builtin_trap();
		free(again);
	}
	free(secret);
	free(text);
	return (0);
}
