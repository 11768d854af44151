/*
 * Fuzz harness: the flow's checks of outside strings (app/auth/flow.c,
 * b64.c): return_to, the dev login's email, token syntax, base64url.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/b64.h"
#include "auth/flow.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned char	 out[256];
	char		*s, enc[AUTH_B64URL_LEN(256) + 1];
	size_t		 olen;

	if ((s = malloc(len + 1)) == NULL)
		return (0);
	memcpy(s, data, len);
	s[len] = '\0';
	(void)auth_return_to_valid(s);
	(void)auth_email_valid(s);
	(void)auth_token_syntax(s);
	(void)auth_csrf_ok(s, s, "https://app.example");
	if (auth_b64url_decode(s, len, out, sizeof(out), &olen)) {
		/* What decodes must encode back to the same text. */
		auth_b64url_encode(out, olen, enc, sizeof(enc));
		if (strlen(enc) != len || memcmp(enc, s, len) != 0)
			abort();
	}
	free(s);
	return (0);
}
