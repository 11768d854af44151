/*
 * The console's files (console/), embedded by make through
 * scripts/embed-console.py; served by console.c, with the rules of
 * console_rules.c.
 */

#ifndef TG_CONSOLE_H
#define TG_CONSOLE_H

#include <stddef.h>

struct tg_console_asset {
	const char		*name;		/* "app.js": no directory */
	const char		*type;		/* Content-Type */
	const unsigned char	*data;
	size_t			 len;
	const char		*etag;		/* strong: "<hash of data>" */
};

/* Ends with a NULL name. */
extern const struct tg_console_asset	tg_console_assets[];

/* console_rules.c (pure). */
int	tg_console_etag_match(const char *, const char *);

#endif
