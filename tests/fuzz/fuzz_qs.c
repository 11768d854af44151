/* Fuzz harness: query-string lookup over arbitrary bytes. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qs.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*qs, out[64];

	if ((qs = malloc(len + 1)) == NULL)
		return (0);
	memcpy(qs, data, len);
	qs[len] = '\0';
	(void)tg_qs_get(qs, "code", out, sizeof(out));
	(void)tg_qs_get(qs, "state", out, 2);
	free(qs);
	return (0);
}
