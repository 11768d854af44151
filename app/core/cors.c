/*
 * Cross-origin access for a UI on another origin (docs/frontend.md).
 *
 * TOLLGATE_CORS_ORIGINS lists exact origins ("https://app.example.com",
 * scheme and host lower-cased, no path); a browser's Origin header is
 * compared to them as a whole string, so no suffix or prefix of a
 * listed origin passes. "*" is refused: answers carry
 * Access-Control-Allow-Credentials, which browsers never honour with a
 * wildcard, and a wildcard would hand the refresh cookie's routes to
 * every site.
 *
 * TOLLGATE_COOKIE_SAMESITE (lax, the default, or none) sets the refresh
 * cookie's SameSite attribute; none needs Secure, so it is refused
 * unless TOLLGATE_PUBLIC_URL is https.
 *
 * Only paths under /auth/, /api/ and /v1/, and /openapi.json, take
 * part: the operations routes and the webhooks are never called from a
 * page.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cors.h"
#include "lex.h"

/*
 * Request headers a page may send: ours, and those the official OpenAI
 * and Anthropic SDKs send from a browser. Headers starting with one of
 * the prefixes below are the SDKs' too (x-stainless-os, openai-beta,
 * ...); their names change from release to release.
 */
static const char	*cors_headers = "authorization, content-type, "
	"idempotency-key, x-request-id, x-tollgate-csrf, anthropic-version, "
	"anthropic-beta, anthropic-dangerous-direct-browser-access, "
	"x-api-key";
static const char	*cors_prefixes[] = { "x-stainless-", "openai-" };

static int	cors_host_char(int);
static void	cors_origins(struct tg_config *, const char *,
		    struct tg_config_errors *);

void
tg_cors_config(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v;

	if ((v = get("TOLLGATE_CORS_ORIGINS")) != NULL && *v != '\0')
		cors_origins(conf, v, errs);

	v = get("TOLLGATE_COOKIE_SAMESITE");
	if (v == NULL || *v == '\0' || !strcasecmp(v, "lax"))
		conf->cookie_samesite_none = 0;
	else if (!strcasecmp(v, "none"))
		conf->cookie_samesite_none = 1;
	else
		tg_config_error(errs, "TOLLGATE_COOKIE_SAMESITE: must be "
		    "\"lax\" or \"none\"");

	if (conf->cookie_samesite_none && !conf->public_https)
		tg_config_error(errs, "TOLLGATE_COOKIE_SAMESITE: \"none\" "
		    "needs Secure cookies, so TOLLGATE_PUBLIC_URL must be "
		    "https");
}

/* Each comma-separated entry, blanks around it ignored. */
static void
cors_origins(struct tg_config *conf, const char *list,
    struct tg_config_errors *errs)
{
	char		 entry[TG_CORS_ORIGIN_MAX];
	char		 origin[TG_CORS_ORIGIN_MAX];
	const char	*p;
	size_t		 len;

	while (tg_list_next(&list, ",", &p, &len)) {
		if (len == 0)
			continue;
		if (len >= sizeof(entry)) {
			tg_config_error(errs, "TOLLGATE_CORS_ORIGINS: an "
			    "origin is longer than %d bytes",
			    TG_CORS_ORIGIN_MAX - 1);
			continue;
		}
		memcpy(entry, p, len);
		entry[len] = '\0';

		if (!strcmp(entry, "*")) {
			tg_config_error(errs, "TOLLGATE_CORS_ORIGINS: \"*\" is "
			    "refused (answers allow credentials); list each "
			    "origin");
			continue;
		}
		if (!tg_cors_origin_parse(entry, origin, sizeof(origin))) {
			tg_config_error(errs, "TOLLGATE_CORS_ORIGINS: "
			    "\"%.80s\" is not an origin (scheme://host[:port], "
			    "no path)", entry);
			continue;
		}
		if (conf->cors_origins_count >= TG_CORS_ORIGINS_MAX) {
			tg_config_error(errs, "TOLLGATE_CORS_ORIGINS: more "
			    "than %d origins", TG_CORS_ORIGINS_MAX);
			return;
		}
		conf->cors_origins[conf->cors_origins_count++] =
		    tg_config_strdup(origin);
	}
}

/*
 * An origin as a browser serialises it: http or https, a host (name,
 * IPv4 or [IPv6]), an optional port, nothing after. Written lower-cased
 * into out; returns 1, or 0 when in is not one.
 */
int
tg_cors_origin_parse(const char *in, char *out, size_t outlen)
{
	const char	*host, *p;
	size_t		 len, i;
	long		 port;
	char		*ep;

	if (!strncasecmp(in, "https://", 8))
		host = in + 8;
	else if (!strncasecmp(in, "http://", 7))
		host = in + 7;
	else
		return (0);

	p = host;
	if (*p == '[') {
		p++;
		while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
			p++;
		if (*p++ != ']' || p - host < 4)
			return (0);
	} else {
		while (cors_host_char((unsigned char)*p))
			p++;
		if (p == host || *host == '.' || *host == '-')
			return (0);
	}

	if (*p == ':') {
		if (!isdigit((unsigned char)p[1]))
			return (0);
		port = strtol(p + 1, &ep, 10);
		if (port < 1 || port > 65535 || ep - (p + 1) > 5)
			return (0);
		p = ep;
	}
	if (*p != '\0')
		return (0);

	len = strlen(in);
	if (len + 1 > outlen)
		return (0);
	for (i = 0; i <= len; i++)
		out[i] = tolower((unsigned char)in[i]);

	return (1);
}

static int
cors_host_char(int c)
{
	return (isalnum(c) || c == '-' || c == '.');
}

/* Whether CORS headers are written on answers for this path. */
int
tg_cors_path(const char *path)
{
	if (path == NULL)
		return (0);

	return (!strncmp(path, "/auth/", 6) || !strncmp(path, "/api/", 5) ||
	    !strncmp(path, "/v1/", 4) || !strcmp(path, "/openapi.json"));
}

/* Whether origin is one of TOLLGATE_CORS_ORIGINS, exactly. */
int
tg_cors_listed(const struct tg_config *conf, const char *origin)
{
	if (origin == NULL)
		return (0);

	return (tg_config_list_has(conf->cors_origins,
	    conf->cors_origins_count, origin));
}

/*
 * Access-Control-Allow-Headers for a preflight that asked for requested
 * (Access-Control-Request-Headers, may be NULL): the fixed list, plus
 * each requested SDK header of an allowed prefix. A requested header not
 * allowed is left out, so the browser refuses the request. Returns 1, or
 * 0 when out is too small.
 */
int
tg_cors_allow_headers(const char *requested, char *out, size_t outlen)
{
	const char	*p, *end;
	size_t		 off, len, i, plen;
	int		 n, ok;

	n = snprintf(out, outlen, "%s", cors_headers);
	if (n < 0 || (size_t)n >= outlen)
		return (0);
	off = n;

	for (p = requested; p != NULL && *p != '\0';
	    p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		len = end - p;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;

		ok = 0;
		for (i = 0; i < sizeof(cors_prefixes) /
		    sizeof(cors_prefixes[0]); i++) {
			plen = strlen(cors_prefixes[i]);
			if (len > plen &&
			    !strncasecmp(p, cors_prefixes[i], plen))
				ok = 1;
		}
		for (i = 0; ok && i < len; i++) {
			if (!isalnum((unsigned char)p[i]) && p[i] != '-')
				ok = 0;
		}
		if (!ok)
			continue;

		if (off + 2 + len + 1 > outlen)
			return (0);
		out[off++] = ',';
		out[off++] = ' ';
		for (i = 0; i < len; i++)
			out[off++] = tolower((unsigned char)p[i]);
		out[off] = '\0';
	}

	return (1);
}
