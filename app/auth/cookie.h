/*
 * Cookies of the identity module: reading one value out of a Cookie
 * header (RFC 6265 §5.4 as browsers send it) and writing Set-Cookie
 * values. Pure C.
 */

#ifndef AUTH_COOKIE_H
#define AUTH_COOKIE_H

#include <stddef.h>

#define AUTH_COOKIE_FOUND	1
#define AUTH_COOKIE_ABSENT	0
#define AUTH_COOKIE_INVALID	(-1)

#define AUTH_COOKIE_SECURE		0x01
#define AUTH_COOKIE_SAMESITE_NONE	0x02

#define AUTH_COOKIE_HEADER_MAX	8192
#define AUTH_SET_COOKIE_MAX	512

int	auth_cookie_get(const char *, const char *, char *, size_t);
int	auth_cookie_format(char *, size_t, const char *, const char *,
	    const char *, long, int);

#endif
