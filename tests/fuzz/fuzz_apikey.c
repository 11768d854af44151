/* Fuzz harness: the API-key front door over arbitrary bytes. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/apikey.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*key, id[APIKEY_PUBLIC_LEN + 1];

	if ((key = malloc(len + 1)) == NULL)
		return (0);
	memcpy(key, data, len);
	key[len] = '\0';
	(void)apikey_parse(key, id);
	free(key);
	return (0);
}
