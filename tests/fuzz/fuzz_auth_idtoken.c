/*
 * Fuzz harness: id token verification (app/auth/idtoken.c). The input is
 * a token, optionally followed by a newline and a JWKS document (both come
 * from the provider); without one, a fixed JWKS with a real 2048-bit key
 * (kid "fuzz1", which signed seed 1) is used.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/idtoken.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	fixed_jwks[] =
	    "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"f"
	    "uzz1\",\"n\":\"sdQExLX8CKiX6cRj0A9qZpOc9WI6orHtCL4M4s5GAQA3E"
	    "DSVbVOhrwOf1dpsXzqgO9piHaYJyS4dLxbxp0EXXzbCeM1aOLNXLZimE"
	    "tsgpQn-GWsUIyyUV0zBtD0K7a_IqjgM972jqozrkFjCoHqqWXWVkb3A9"
	    "FIsKpmBwosH7wMCTXeWA6k2P6_hQm7tEC2dbr9PHdpk2OFxnhhe5H4Wd"
	    "XF83XULbeuAi0a42fROawNuNu9aZFKAF7sFmSUwQOgcSfejq6UcMvy6x"
	    "S-z25doLAUHF4eRB_mvxkqsA8JfuHK6LkDdAOEmOuiIUQblTfhnl-e82"
	    "mLVtGuPzk6Xqx5rAQ\",\"e\":\"AQAB\"}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct auth_idtoken_expect	 want;
	json_t				*jwks, *claims;
	char				*tok, *nl;

	if ((tok = malloc(len + 1)) == NULL)
		return (0);
	memcpy(tok, data, len);
	tok[len] = '\0';

	jwks = NULL;
	if ((nl = memchr(tok, '\n', len)) != NULL) {
		*nl = '\0';
		jwks = json_loads(nl + 1, JSON_REJECT_DUPLICATES, NULL);
	}
	if (jwks == NULL)
		jwks = json_loads(fixed_jwks, 0, NULL);

	memset(&want, 0, sizeof(want));
	want.issuers[0] = "https://accounts.example";
	want.nissuers = 1;
	want.client_id = "fuzz-client";
	want.nonce = "fuzz-nonce";
	want.now = 1700000100;

	if (auth_idtoken_verify(tok, jwks, &want, &claims) == AUTH_IDT_OK)
		json_decref(claims);
	(void)auth_jwks_valid(jwks);

	json_decref(jwks);
	free(tok);
	return (0);
}
