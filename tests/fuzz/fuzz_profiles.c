/* Fuzz harness: profile field validation (app/profiles/validate.c). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/validate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		return (0);
	memcpy(s, data, len);
	s[len] = '\0';
	(void)profiles_display_name_ok(s);
	(void)profiles_avatar_url_ok(s);
	(void)profiles_locale_ok(s);
	(void)profiles_timezone_ok(s);
	(void)profiles_default_model_ok(s);
	free(s);
	return (0);
}
