/*
 * Lexical forms that several modules accept from outside: hex digits,
 * UUIDs, fixed-width decimal fields, civil dates and separated lists.
 * Pure C.
 */

#ifndef TG_LEX_H
#define TG_LEX_H

#include <stddef.h>
#include <stdint.h>

#define TG_UUID_LEN	36

/* The value of a hex digit, or -1. */
int	tg_hexval(int);

/* 8-4-4-4-12 hex digits of either case; NULL is not one. */
int	tg_uuid_valid(const char *);

/* The same in lower case only, as PostgreSQL prints a uuid. */
int	tg_uuid_canonical(const char *);

/* Exactly n ASCII digits (n <= 18) into *out; 1 when they are. */
int	tg_digits(const char *, int, int64_t *);

/* A list's ?limit=: one to three digits, 1 to max, into *out; 1 if so. */
int	tg_limit_parse(const char *, int, int *);

/* 1 when y-m-d names a day of the proleptic Gregorian calendar. */
int	tg_date_valid(int64_t, int64_t, int64_t);

/* Days since 1970-01-01 of a valid y-m-d (H. Hinnant's algorithm). */
int64_t	tg_days_from_civil(int64_t, int64_t, int64_t);

/*
 * The next item of a list separated by any of seps, from *p: sets *item
 * and *len (blanks around it trimmed; 0 for an empty item) and moves *p
 * past the item's separator. Returns 0 once the list is done.
 */
int	tg_list_next(const char **, const char *, const char **, size_t *);

#endif
