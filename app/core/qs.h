/*
 * Query-string parsing without Kore's params blocks (which silently drop
 * every argument not declared with a validator). Pure C.
 */

#ifndef TG_QS_H
#define TG_QS_H

#include <stddef.h>

#define TG_QS_FOUND	1
#define TG_QS_ABSENT	0
#define TG_QS_INVALID	(-1)

int	tg_qs_get(const char *, const char *, char *, size_t);
int	tg_percent_decode(const char *, size_t, char *, size_t);
char	*tg_percent_encode(const char *);

#endif
