/*
 * CORS on the wire (the rules are in cors.c).
 *
 * tg_cors_headers() runs as a request enters the dispatcher, before any
 * answer is possible, so every answer to a listed origin carries the
 * same headers: the handlers' own, errors (404, 401, 429, 5xx), 413 and
 * streams alike. An origin not listed gets none of them, and every
 * answer on a CORS path carries Vary: Origin so that no cache hands one
 * origin's answer to another.
 *
 * A preflight (OPTIONS with Origin and Access-Control-Request-Method on
 * a CORS path) is answered by the dispatcher from the route tables:
 * 204 with the methods the path takes; 404 when no route has the path;
 * 403 origin_not_allowed in the contract's shape when the origin is not
 * listed (a clear answer for whoever debugs it with curl; the browser
 * refuses either way).
 *
 * Kore's own early answers (411, 413 over its body limit, 408 of a slow
 * body) are built without any request of ours: early.c calls
 * tg_cors_headers_raw() with the Origin of the request being read.
 */

#include <string.h>

#include "tollgate.h"
#include "cors.h"

void
tg_cors_headers(struct http_request *req)
{
	const char	*origin;

	if (tg_conf.cors_origins_count == 0 || !tg_cors_path(req->path))
		return;

	http_response_header(req, "vary", "Origin");
	origin = tg_http_header(req, "origin");
	if (!tg_cors_listed(&tg_conf, origin))
		return;

	http_response_header(req, "access-control-allow-origin", origin);
	http_response_header(req, "access-control-allow-credentials", "true");
	http_response_header(req, "access-control-expose-headers",
	    TG_CORS_EXPOSE_HEADERS);
}

/* The same into an answer Kore writes itself (early.c). */
void
tg_cors_headers_raw(const char *origin, struct kore_buf *buf)
{
	if (!tg_cors_listed(&tg_conf, origin))
		return;

	kore_buf_appendf(buf, "vary: Origin\r\n"
	    "access-control-allow-origin: %s\r\n"
	    "access-control-allow-credentials: true\r\n"
	    "access-control-expose-headers: %s\r\n", origin,
	    TG_CORS_EXPOSE_HEADERS);
}

int
tg_cors_is_preflight(struct http_request *req)
{
	return (req->method == HTTP_METHOD_OPTIONS &&
	    tg_cors_path(req->path) &&
	    tg_http_header(req, "origin") != NULL &&
	    tg_http_header(req, "access-control-request-method") != NULL);
}

/* allow: the methods of the routes of this path ("" when none). */
void
tg_cors_preflight(struct http_request *req, const char *allow)
{
	char	headers[TG_CORS_ALLOW_HEADERS_MAX];

	if (!tg_cors_listed(&tg_conf, tg_http_header(req, "origin"))) {
		tg_error(req, 403, "origin_not_allowed", NULL,
		    "this origin is not in TOLLGATE_CORS_ORIGINS");
		return;
	}
	if (*allow == '\0') {
		tg_error(req, 404, "not_found", NULL, "no route for %s",
		    req->path);
		return;
	}
	if (!tg_cors_allow_headers(tg_http_header(req,
	    "access-control-request-headers"), headers, sizeof(headers))) {
		tg_error(req, 400, "bad_request", NULL,
		    "Access-Control-Request-Headers is too long");
		return;
	}

	http_response_header(req, "access-control-allow-methods", allow);
	http_response_header(req, "access-control-allow-headers", headers);
	http_response_header(req, "access-control-max-age", TG_CORS_MAX_AGE);
	tg_http_no_content(req);
}
