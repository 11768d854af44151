/*
 * Fuzz harness: the CORS checks of outside strings (app/core/cors.c):
 * Origin as matched against the list, Access-Control-Request-Headers as
 * granted, and an origin as parsed from the configuration.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cors.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char		 listed[] = "https://app.example";
	struct tg_config	 conf;
	char			*s;
	char			 out[TG_CORS_ALLOW_HEADERS_MAX];
	char			 origin[TG_CORS_ORIGIN_MAX];
	size_t			 i;

	if ((s = malloc(len + 1)) == NULL)
		return (0);
	memcpy(s, data, len);
	s[len] = '\0';

	memset(&conf, 0, sizeof(conf));
	conf.cors_origins[0] = listed;
	conf.cors_origins_count = 1;
	(void)tg_cors_listed(&conf, s);
	(void)tg_cors_path(s);

	/* Granted headers are the fixed list and token characters only. */
	if (tg_cors_allow_headers(s, out, sizeof(out))) {
		for (i = 0; out[i] != '\0'; i++) {
			if (out[i] == '\r' || out[i] == '\n' ||
			    (unsigned char)out[i] < 0x20)
				abort();
		}
	}

	/* A parsed origin parses again to itself. */
	if (tg_cors_origin_parse(s, origin, sizeof(origin))) {
		char	again[TG_CORS_ORIGIN_MAX];

		if (!tg_cors_origin_parse(origin, again, sizeof(again)) ||
		    strcmp(origin, again) != 0)
			abort();
	}
	free(s);
	return (0);
}
