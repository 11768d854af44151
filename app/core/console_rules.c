/*
 * The console's rules that need no Kore (console.c serves the answers):
 * whether an If-None-Match names the current ETag.
 */

#include <string.h>

#include "console.h"

/*
 * If-None-Match (RFC 9110 13.1.2): "*", or a comma-separated list of
 * entity tags compared weakly (W/ ignored). A malformed list matches
 * nothing, so the client gets the whole answer.
 */
int
tg_console_etag_match(const char *inm, const char *etag)
{
	const char	*p, *end;
	size_t		 elen;

	if (inm == NULL || etag == NULL)
		return (0);
	elen = strlen(etag);
	p = inm;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return (0);
		if (*p == '*')
			return (1);
		if (!strncmp(p, "W/", 2))
			p += 2;
		if (*p != '"' || (end = strchr(p + 1, '"')) == NULL)
			return (0);
		if ((size_t)(end + 1 - p) == elen && !strncmp(p, etag, elen))
			return (1);
		p = end + 1;
	}
}
