/*
 * allowed_models patterns of an API key: "provider:model" exactly,
 * "provider:*" for every model of a provider, "*" for everything, or an
 * alias name exactly. Matching is on the canonical "provider:model" the
 * router resolved, and separately on the alias the caller used.
 */

#include <string.h>

#include "model.h"

/* Printable, no spaces, at most one '*' and only at the end. */
int
tg_model_pattern_valid(const char *p)
{
	size_t	len, i;

	len = strlen(p);
	if (len == 0 || len >= 128)
		return (0);

	for (i = 0; i < len; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return (0);
		if (p[i] == '*' && i != len - 1)
			return (0);
	}

	return (1);
}

/*
 * name is "provider:model" (or an alias). With no patterns every model is
 * allowed.
 */
int
tg_model_allowed(const char (*patterns)[128], int n, const char *name)
{
	size_t	plen;
	int	i;

	if (n == 0)
		return (1);

	for (i = 0; i < n; i++) {
		plen = strlen(patterns[i]);
		if (plen == 0)
			continue;
		if (patterns[i][plen - 1] == '*') {
			if (!strncmp(patterns[i], name, plen - 1))
				return (1);
		} else if (!strcmp(patterns[i], name)) {
			return (1);
		}
	}

	return (0);
}
