/*
 * Cookie header parsing and Set-Cookie formatting.
 *
 * Kore's http_populate_cookies() keeps at most 10 cookies and drops any
 * value holding '=', so a page that sets many cookies of its own could
 * hide ours; this parser walks the whole header instead. When a name
 * appears more than once the first one wins: browsers send cookies with
 * longer paths first, and ours carry the most specific path we serve.
 *
 * Set-Cookie always carries HttpOnly; SameSite=Lax, or SameSite=None
 * when the caller asks (TOLLGATE_COOKIE_SAMESITE=none, a UI on another
 * site, https only; docs/frontend.md); and Secure unless the caller says
 * the site is plain http (dev only; docs/contract.md §7). None without
 * Secure is never written: browsers drop such a cookie.
 */

#include <stdio.h>
#include <string.h>

#include "auth/cookie.h"

static int	cookie_value_char(int);

/*
 * Copy the value of cookie name out of header into out. Returns
 * AUTH_COOKIE_FOUND, AUTH_COOKIE_ABSENT, or AUTH_COOKIE_INVALID when the
 * cookie is there but its value does not fit or has bytes a cookie
 * value cannot have.
 */
int
auth_cookie_get(const char *header, const char *name, char *out,
    size_t outlen)
{
	const char	*p, *next, *end, *eq, *v;
	size_t		 nlen, vlen, hlen, i;

	if (outlen > 0)
		out[0] = '\0';
	if (header == NULL || name == NULL || (nlen = strlen(name)) == 0)
		return (AUTH_COOKIE_ABSENT);

	hlen = strnlen(header, AUTH_COOKIE_HEADER_MAX + 1);
	if (hlen > AUTH_COOKIE_HEADER_MAX)
		return (AUTH_COOKIE_INVALID);

	for (p = header; p != NULL; p = next) {
		end = memchr(p, ';', header + hlen - p);
		if (end == NULL) {
			end = header + hlen;
			next = NULL;
		} else {
			next = end + 1;
		}
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((eq = memchr(p, '=', end - p)) == NULL)
			continue;

		/* The name, without trailing blanks. */
		v = eq;
		while (v > p && (v[-1] == ' ' || v[-1] == '\t'))
			v--;
		if ((size_t)(v - p) != nlen || memcmp(p, name, nlen) != 0)
			continue;

		v = eq + 1;
		vlen = end - v;
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v++;
			vlen -= 2;
		}

		if (vlen + 1 > outlen)
			return (AUTH_COOKIE_INVALID);
		for (i = 0; i < vlen; i++) {
			if (!cookie_value_char((unsigned char)v[i]))
				return (AUTH_COOKIE_INVALID);
		}
		memcpy(out, v, vlen);
		out[vlen] = '\0';
		return (AUTH_COOKIE_FOUND);
	}

	return (AUTH_COOKIE_ABSENT);
}

/*
 * A Set-Cookie value. max_age 0 deletes the cookie (with an Expires in
 * the past for old clients). flags: AUTH_COOKIE_SECURE,
 * AUTH_COOKIE_SAMESITE_NONE. Returns 1, or 0 if it does not fit, a part
 * has characters that do not belong there, or None comes without Secure.
 */
int
auth_cookie_format(char *buf, size_t len, const char *name, const char *value,
    const char *path, long max_age, int flags)
{
	const char	*p, *same, *secure;
	int		 n;

	secure = (flags & AUTH_COOKIE_SECURE) ? "; Secure" : "";
	same = "Lax";
	if (flags & AUTH_COOKIE_SAMESITE_NONE) {
		if (!(flags & AUTH_COOKIE_SECURE))
			return (0);
		same = "None";
	}

	for (p = value; *p != '\0'; p++) {
		if (!cookie_value_char((unsigned char)*p))
			return (0);
	}
	if (strpbrk(name, " \t;=,\"") != NULL || strpbrk(path, " \t;,") != NULL)
		return (0);

	if (max_age > 0) {
		n = snprintf(buf, len, "%s=%s; Path=%s; Max-Age=%ld; HttpOnly; "
		    "SameSite=%s%s", name, value, path, max_age, same, secure);
	} else {
		n = snprintf(buf, len, "%s=; Path=%s; Max-Age=0; Expires=Thu, "
		    "01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=%s%s", name,
		    path, same, secure);
	}

	return (n > 0 && (size_t)n < len);
}

/* cookie-octet of RFC 6265 §4.1.1. */
static int
cookie_value_char(int c)
{
	return (c == 0x21 || (c >= 0x23 && c <= 0x2b) ||
	    (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	    (c >= 0x5d && c <= 0x7e));
}
