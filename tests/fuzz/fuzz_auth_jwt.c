/*
 * Fuzz harness: access-token verification (app/auth/jwt.c) over any
 * bytes, with our own key, so the header/signature/claims paths all run.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/jwt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct auth_jwt_key	key = {
		(const unsigned char *)"fuzz-jwt-secret-0123456789abcdef0123",
		36, "https://tg.example", "tollgate-ui",
		/* A rotated-out secret: the kid and the try-all paths. */
		{ (const unsigned char *)"fuzz-old-jwt-secret-0123456789abcdef" },
		{ 36 }, 1
	};
	struct auth_jwt_claims	 c;
	char			*tok;

	if (sodium_init() < 0)
		abort();
	if ((tok = malloc(len + 1)) == NULL)
		return (0);
	memcpy(tok, data, len);
	tok[len] = '\0';
	(void)auth_jwt_verify(&key, tok, 1700000100, &c);
	free(tok);
	return (0);
}
