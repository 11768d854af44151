/* Fuzz harness: Cookie header parsing (app/auth/cookie.c). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/cookie.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*hdr, out[64], small[4];

	if ((hdr = malloc(len + 1)) == NULL)
		return (0);
	memcpy(hdr, data, len);
	hdr[len] = '\0';
	(void)auth_cookie_get(hdr, "tg_refresh", out, sizeof(out));
	(void)auth_cookie_get(hdr, "tg_oauth", small, sizeof(small));
	(void)auth_cookie_get(hdr, "a", out, sizeof(out));
	free(hdr);
	return (0);
}
