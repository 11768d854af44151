/*
 * Fuzz harness: provider answers (app/auth/provider.c): token endpoint
 * JSON, GitHub /user and /user/emails, Kakao /v2/user/me, and a Google
 * id token's claims.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/provider.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct auth_identity	 id;
	char			*at, *idt, err[72];
	json_t			*doc;

	if (auth_token_answer((const char *)data, len, &at, &idt, err,
	    sizeof(err))) {
		free(at);
		free(idt);
	}
	(void)auth_github_user((const char *)data, len, &id);
	(void)auth_github_emails((const char *)data, len, &id);
	(void)auth_kakao_user((const char *)data, len, &id);

	doc = json_loadb((const char *)data, len, 0, NULL);
	if (doc != NULL) {
		(void)auth_google_identity(doc, &id);
		json_decref(doc);
	}
	return (0);
}
