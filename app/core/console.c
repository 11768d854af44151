/*
 * The console (docs/frontend.md, "The console"): the web UI of console/,
 * embedded in the binary by make (scripts/embed-console.py), so nothing
 * besides ./tollgate is deployed and nothing is read at run time.
 *
 *   GET /                 index.html; also every page path of the
 *                         single-page app (the route table, health.c), so a
 *                         reload, a sign-in's return_to and Stripe's
 *                         /billing/success land on the page they name
 *   GET /console/<file>   an asset of console/
 *   GET /console/config.json
 *                         what the sign-in page needs to know of this
 *                         server's settings (the dev login)
 *
 * Every answer carries the console's Content-Security-Policy (no inline
 * script or style, nothing from another origin, no framing) and a strong
 * ETag (If-None-Match: 304). The pages revalidate each time (no-cache),
 * since they name the assets by a fixed path; the assets may be reused
 * for a few minutes.
 */

#include <string.h>

#include "tollgate.h"
#include "console.h"

#define CONSOLE_CSP	"default-src 'none'; script-src 'self'; " \
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

static const struct tg_console_asset	*console_find(const char *);
static int	console_send(struct http_request *,
		    const struct tg_console_asset *, const char *);
static void	console_headers(struct http_request *);

int
tg_console_page_handler(struct http_request *req)
{
	const struct tg_console_asset	*a;

	/* The route table (health.c) names the pages. */
	if ((a = console_find("index.html")) == NULL) {
		tg_error(req, 404, "not_found", NULL, "no route for %s",
		    req->path);
		return (KORE_RESULT_OK);
	}

	return (console_send(req, a, "no-cache"));
}

int
tg_console_asset_handler(struct http_request *req)
{
	const struct tg_console_asset	*a;
	const char			*name;
	json_t				*doc;

	name = tg_param(req, 0);
	if (name != NULL && !strcmp(name, "config.json")) {
		console_headers(req);
		http_response_header(req, "cache-control", "no-cache");
		doc = json_pack("{s:b}", "dev_login", tg_conf.dev_login);
		tg_http_json_steal(req, 200, doc);
		return (KORE_RESULT_OK);
	}

	if (name == NULL || (a = console_find(name)) == NULL) {
		tg_error(req, 404, "not_found", NULL, "no console file %s",
		    req->path);
		return (KORE_RESULT_OK);
	}

	return (console_send(req, a, "public, max-age=300"));
}

static const struct tg_console_asset *
console_find(const char *name)
{
	const struct tg_console_asset	*a;

	for (a = tg_console_assets; a->name != NULL; a++) {
		if (!strcmp(a->name, name))
			return (a);
	}
	return (NULL);
}

static int
console_send(struct http_request *req, const struct tg_console_asset *a,
    const char *cache)
{
	console_headers(req);
	http_response_header(req, "cache-control", cache);
	http_response_header(req, "etag", a->etag);

	if (tg_console_etag_match(tg_http_header(req, "if-none-match"),
	    a->etag)) {
		http_response(req, 304, NULL, 0);
		return (KORE_RESULT_OK);
	}

	http_response_header(req, "content-type", a->type);
	http_response(req, 200, a->data, a->len);
	return (KORE_RESULT_OK);
}

static void
console_headers(struct http_request *req)
{
	http_response_header(req, "content-security-policy", CONSOLE_CSP);
	http_response_header(req, "referrer-policy", "same-origin");
	http_response_header(req, "x-frame-options", "DENY");
}
