/*
 * Shared pure helpers for upstream calls (see upstream.h), plus the
 * router_http functions declared in provider.h.
 *
 * Error text from a provider is untrusted: it is cut to a bounded
 * length, control characters are replaced, and the caller scrubs the
 * provider's key out of it before any client or log sees it.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redact.h"
#include "router/upstream.h"
#include "router/xlate.h"

static int	usage_counter(const json_t *, const char *, int64_t *, int *);
static char	*http_url_model(const char *, const char *);
static int	http_auth(const struct router_provider *, struct router_http *);

void
router_http_free(struct router_http *http)
{
	int	i;

	free(http->url);
	free(http->body);
	for (i = 0; i < http->nheaders; i++)
		free(http->headers[i]);
	memset(http, 0, sizeof(*http));
}

int
router_http_header(struct router_http *http, const char *name,
    const char *value)
{
	char	*h;
	size_t	 len;

	if (http->nheaders >= ROUTER_HEADERS_MAX)
		return (0);

	len = strlen(name) + strlen(value) + 3;
	if ((h = malloc(len)) == NULL)
		return (0);
	(void)snprintf(h, len, "%s: %s", name, value);
	http->headers[http->nheaders++] = h;
	return (1);
}

int
router_http_provider(const struct router_target *t, struct router_http *http)
{
	const struct router_provider	*p = t->provider;
	char				*url;
	int				 i;

	if (http->url != NULL && strstr(http->url, "{model}") != NULL) {
		if ((url = http_url_model(http->url, t->model)) == NULL)
			return (0);
		free(http->url);
		http->url = url;
	}
	if (http->url != NULL && p->query != NULL) {
		url = router_xlate_printf("%s%c%s", http->url,
		    strchr(http->url, '?') != NULL ? '&' : '?', p->query);
		if (url == NULL)
			return (0);
		free(http->url);
		http->url = url;
	}
	if (!http_auth(p, http))
		return (0);
	for (i = 0; i < p->nheaders; i++) {
		if (http->nheaders >= ROUTER_HEADERS_MAX ||
		    (http->headers[http->nheaders] = strdup(p->headers[i])) ==
		    NULL)
			return (0);
		http->nheaders++;
	}

	return (1);
}

/* url with every "{model}" replaced by model, percent-encoded. */
static char *
http_url_model(const char *url, const char *model)
{
	const char	*at;
	char		*out;
	size_t		 len, n;

	/* Each "{model}" (7 bytes) grows to at most 3 bytes per byte. */
	len = strlen(url) + 1;
	for (at = url; (at = strstr(at, "{model}")) != NULL; at += 7)
		len += strlen(model) * 3;
	if ((out = malloc(len)) == NULL)
		return (NULL);

	n = 0;
	while (*url != '\0') {
		if (strncmp(url, "{model}", 7)) {
			out[n++] = *url++;
			continue;
		}
		n += router_url_encode(model, out + n, len - n);
		url += 7;
	}
	out[n] = '\0';
	return (out);
}

/*
 * s percent-encoded into out (all but RFC 3986's unreserved characters),
 * NUL-terminated; returns the length written. out must hold 3 bytes per
 * byte of s plus one.
 */
size_t
router_url_encode(const char *s, char *out, size_t len)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;
	size_t			n;

	n = 0;
	for (; *s != '\0' && n + 4 <= len; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			out[n++] = c;
			continue;
		}
		out[n++] = '%';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 0x0f];
	}
	if (len > 0)
		out[n] = '\0';
	return (n);
}

static int
http_auth(const struct router_provider *p, struct router_http *http)
{
	char	*auth;
	int	 scheme, ok;

	if (p->api_key == NULL)
		return (1);

	if ((scheme = p->auth) == ROUTER_AUTH_DEFAULT) {
		if (p->family == &router_family_openai)
			scheme = ROUTER_AUTH_BEARER;
		else if (p->family == &router_family_anthropic)
			scheme = ROUTER_AUTH_X_API_KEY;
		else if (p->family == &router_family_gemini)
			scheme = ROUTER_AUTH_GOOG;
		else
			scheme = ROUTER_AUTH_NONE;
	}

	switch (scheme) {
	case ROUTER_AUTH_BEARER:
		/* Sized to the key: a cut key would be a wrong one. */
		if ((auth = router_xlate_printf("Bearer %s",
		    p->api_key)) == NULL)
			return (0);
		ok = router_http_header(http, "authorization", auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		return (ok);
	case ROUTER_AUTH_API_KEY:
		return (router_http_header(http, "api-key", p->api_key));
	case ROUTER_AUTH_X_API_KEY:
		return (router_http_header(http, "x-api-key", p->api_key));
	case ROUTER_AUTH_GOOG:
		return (router_http_header(http, "x-goog-api-key",
		    p->api_key));
	}

	return (1);
}

void
router_error_map(long status, const char *msg, struct router_error *e)
{
	const char	*what, *code;

	memset(e, 0, sizeof(*e));
	if (msg == NULL || *msg == '\0')
		msg = "no message";

	switch (status) {
	case 400:
	case 413:
	case 422:
		e->status = 400;
		code = "invalid_value";
		what = "rejected the request";
		break;
	case 429:
		e->status = 429;
		code = "rate_limited";
		what = "rate limited the request";
		break;
	case 408:
	case 504:
		e->status = 504;
		code = "upstream_timeout";
		what = "timed out";
		break;
	case 401:
	case 403:
		/* Their message may quote our key; never pass it on. */
		e->status = 502;
		code = "upstream_error";
		what = "refused our credentials";
		msg = "check the provider's API key";
		break;
	default:
		e->status = 502;
		code = "upstream_error";
		what = "failed";
		break;
	}

	(void)snprintf(e->code, sizeof(e->code), "%s", code);
	(void)snprintf(e->message, sizeof(e->message), "%s (%ld): %s", what,
	    status, msg);
}

/* Connect errors, timeouts, 429 and 5xx may go to the next target. */
int
router_error_retryable(long status)
{
	return (status == 0 || status == 408 || status == 429 ||
	    status >= 500);
}

void
router_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	json_t		*doc, *e;
	const char	*m;
	size_t		 n;

	out[0] = '\0';
	if (outlen == 0)
		return;

	m = NULL;
	doc = json_loadb(body, len, 0, NULL);
	if (doc != NULL) {
		e = json_object_get(doc, "error");
		if (json_is_string(e))
			m = json_string_value(e);
		else if (json_is_object(e))
			m = json_string_value(json_object_get(e, "message"));
		if (m == NULL)
			m = json_string_value(json_object_get(doc, "message"));
		if (m == NULL)
			m = json_string_value(json_object_get(doc, "detail"));
	}

	if (m != NULL) {
		(void)snprintf(out, outlen, "%s", m);
	} else if (len > 0) {
		/* An error answer without a body comes as (NULL, 0). */
		n = len < outlen - 1 ? len : outlen - 1;
		memcpy(out, body, n);
		out[n] = '\0';
	}
	json_decref(doc);

	/* One printable line, cut short. */
	router_xlate_clean(out);
	if (strlen(out) > 300 && outlen > 300)
		(void)snprintf(out + 297, outlen - 297, "...");
}

long
router_retry_after_ms(const char *v, time_t now)
{
	struct tm	 tm;
	const char	*end;
	char		*e;
	long		 secs;
	time_t		 t;

	if (v == NULL)
		return (-1);
	while (*v == ' ')
		v++;

	if (isdigit((unsigned char)*v)) {
		errno = 0;
		secs = strtol(v, &e, 10);
		if (errno != 0)
			return (-1);
		while (*e == ' ')
			e++;
		if (*e != '\0' || secs < 0 || secs > 86400)
			return (-1);
		return (secs * 1000);
	}

	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return (-1);
	if ((t = timegm(&tm)) == (time_t)-1)
		return (-1);
	if (t <= now)
		return (0);
	if (t - now > 86400)
		return (-1);
	return ((long)(t - now) * 1000);
}

void
router_scrub(char *s, const char *secret)
{
	tg_redact_secret(s, secret);
	tg_text_clean(s);
}

/*
 * A counter of a usage object: absent or null is 0 (and *seen stays),
 * an integer from 0 to ROUTER_TOKENS_MAX is taken; anything else (a
 * string, a real, a negative or absurd number) makes the whole object
 * meaningless.
 */
static int
usage_counter(const json_t *o, const char *key, int64_t *out, int *seen)
{
	const json_t	*v;

	*out = 0;
	v = json_object_get(o, key);
	if (v == NULL || json_is_null(v))
		return (1);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > ROUTER_TOKENS_MAX)
		return (0);
	*out = json_integer_value(v);
	*seen = 1;
	return (1);
}

int
router_usage_parse(const json_t *o, struct router_usage *u)
{
	const json_t	*d, *c;
	int64_t		 w;
	int		 seen, ok;

	if (!json_is_object(o))
		return (0);

	memset(u, 0, sizeof(*u));
	seen = 0;
	ok = usage_counter(o, "prompt_tokens", &u->prompt_tokens, &seen) &&
	    usage_counter(o, "completion_tokens", &u->completion_tokens,
	    &seen);
	d = json_object_get(o, "prompt_tokens_details");
	if (ok && json_is_object(d)) {
		ok = usage_counter(d, "cached_tokens", &u->cached_tokens,
		    &seen) && usage_counter(d, "cache_write_tokens",
		    &u->cache_creation_tokens, &seen) &&
		    usage_counter(d, "cache_creation_tokens", &w, &seen);
		if (u->cache_creation_tokens == 0)
			u->cache_creation_tokens = w;
	}
	c = json_object_get(o, "completion_tokens_details");
	if (ok && json_is_object(c))
		ok = usage_counter(c, "reasoning_tokens", &u->reasoning_tokens,
		    &seen);
	if (!ok || !seen ||
	    (d != NULL && !json_is_null(d) && !json_is_object(d)) ||
	    (c != NULL && !json_is_null(c) && !json_is_object(c))) {
		/* Empty or garbage: missing, so the meter estimates. */
		memset(u, 0, sizeof(*u));
		return (0);
	}

	if (u->cached_tokens > u->prompt_tokens)
		u->cached_tokens = 0;
	if (u->cache_creation_tokens > u->prompt_tokens - u->cached_tokens)
		u->cache_creation_tokens = 0;
	if (u->reasoning_tokens > u->completion_tokens)
		u->reasoning_tokens = 0;
	u->reported = 1;
	return (1);
}

json_t *
router_usage_json(const struct router_usage *u)
{
	json_t	*o, *d;

	o = json_pack("{s:I, s:I, s:I}",
	    "prompt_tokens", (json_int_t)u->prompt_tokens,
	    "completion_tokens", (json_int_t)u->completion_tokens,
	    "total_tokens", (json_int_t)(u->prompt_tokens +
	    u->completion_tokens));
	if (o == NULL)
		return (NULL);

	d = json_pack("{s:I}", "cached_tokens", (json_int_t)u->cached_tokens);
	if (d != NULL && u->cache_creation_tokens > 0)
		json_object_set_new(d, "cache_write_tokens",
		    json_integer(u->cache_creation_tokens));
	json_object_set_new(o, "prompt_tokens_details", d);
	json_object_set_new(o, "completion_tokens_details",
	    json_pack("{s:I}", "reasoning_tokens",
	    (json_int_t)u->reasoning_tokens));

	return (o);
}
