/*
 * What Kore answers on its own, before any handler runs, in the
 * contract's shape; and the request framing Kore accepts but RFC 9112
 * refuses.
 *
 * Early answers. Kore 4.1.0 answers a bad request line or header (400),
 * a body without Content-Length (411), one over http_body_max (413), a
 * client too slow with its headers or body (408), a URI too long (414)
 * and a few more from http.c's static http_error_response(), with no
 * body, no Content-Type and no X-Request-Id. That function cannot be
 * wrapped, but with http_pretty_error on (conf/tollgate.conf) it builds
 * its body through kore_buf_appendf() with a fixed HTML format, and then
 * its content-length header through the same function; the link wraps
 * kore_buf_appendf (-Wl,--wrap, see the Makefile). The wrapper writes
 * our JSON error instead of the HTML page and, on the content-length
 * line that follows it, adds Content-Type and a fresh X-Request-Id when
 * the headers lack them. Every other call passes straight through.
 * Our own handlers always answer errors with a body (tg_error), so the
 * pretty page is only ever Kore's.
 *
 * CORS. A page on a listed origin must be able to read these answers
 * too (cors_http.c). The link also wraps net_recv_flush() and
 * http_check_timeout(), the two ways into Kore's early answers, to know
 * the connection being served; the request Kore was reading on it (the
 * last one, when its headers got that far) gives the Origin.
 *
 * Framing. Kore reads a body by its first Content-Length and ignores
 * Transfer-Encoding (it cannot read chunked bodies at all). A request
 * with both, or with two different Content-Lengths, is how a request is
 * smuggled past a proxy that reads the other header: tg_framing_check()
 * answers 400 and closes the connection, so nothing after it on that
 * connection is read as a request.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tollgate.h"
#include "cors.h"

/* http.c's pretty_error_fmt starts so; nothing else we format does. */
#define PRETTY_PREFIX	"<html>\n<head>\n\t<title>%d %s</title>"
#define CL_FMT		"content-length: %zu\r\n"

void	__wrap_kore_buf_appendf(struct kore_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	__wrap_net_recv_flush(struct connection *);
int	__wrap_http_check_timeout(struct connection *, u_int64_t);
int	__real_net_recv_flush(struct connection *);
int	__real_http_check_timeout(struct connection *, u_int64_t);

static void	early_body(struct kore_buf *, int);
static int	early_has_header(struct kore_buf *, const char *);
static void	early_cors(struct kore_buf *);

/* Set between the pretty body and the content-length line after it. */
static int	early_pending;

/* The connection Kore is reading or timing out, while it does. */
static struct connection	*early_conn;

int
__wrap_net_recv_flush(struct connection *c)
{
	int	ret;

	early_conn = c;
	ret = __real_net_recv_flush(c);
	early_conn = NULL;

	return (ret);
}

int
__wrap_http_check_timeout(struct connection *c, u_int64_t now)
{
	int	ret;

	early_conn = c;
	ret = __real_http_check_timeout(c, now);
	early_conn = NULL;

	return (ret);
}

void
__wrap_kore_buf_appendf(struct kore_buf *buf, const char *fmt, ...)
{
	va_list		 ap;
	unsigned char	 rnd[12];
	char		 rid[4 + 2 * sizeof(rnd) + 1];

	va_start(ap, fmt);
	/* A new answer's status line: nothing pending from an older one. */
	if (fmt[0] == 'H' && !strncmp(fmt, "HTTP/1.", 7))
		early_pending = 0;

	if (fmt[0] == '<' && !strncmp(fmt, PRETTY_PREFIX,
	    sizeof(PRETTY_PREFIX) - 1)) {
		early_body(buf, va_arg(ap, int));
		early_pending = 1;
		va_end(ap);
		return;
	}

	if (early_pending && !strcmp(fmt, CL_FMT)) {
		early_pending = 0;
		if (!early_has_header(buf, "\ncontent-type:"))
			kore_buf_append(buf, "content-type: application/json"
			    "\r\n", 32);
		if (!early_has_header(buf, "\nx-request-id:")) {
			randombytes_buf(rnd, sizeof(rnd));
			memcpy(rid, "req_", 4);
			sodium_bin2hex(rid + 4, sizeof(rid) - 4, rnd,
			    sizeof(rnd));
			kore_buf_append(buf, "x-request-id: ", 14);
			kore_buf_append(buf, rid, strlen(rid));
			kore_buf_append(buf, "\r\n", 2);
		}
		early_cors(buf);
	}

	kore_buf_appendv(buf, fmt, ap);
	va_end(ap);
}

/* The contract's error body for a status Kore answers by itself. */
static void
early_body(struct kore_buf *buf, int status)
{
	const char	*type, *code, *msg;
	char		 json[256];
	int		 n;

	type = "invalid_request_error";
	switch (status) {
	case 400:
		code = "bad_request";
		msg = "the request line or a header is malformed";
		break;
	case 404:
		type = "not_found_error";
		code = "not_found";
		msg = "no such route";
		break;
	case 405:
		code = "method_not_allowed";
		msg = "this method takes no body here";
		break;
	case 408:
		code = "request_timeout";
		msg = "the request's headers or body took too long to arrive";
		break;
	case 411:
		code = "length_required";
		msg = "a request with a body needs a valid Content-Length "
		    "(chunked request bodies are not supported)";
		break;
	case 413:
		code = "body_too_large";
		msg = "the request body is over the limit";
		break;
	case 414:
		code = "uri_too_long";
		msg = "the request URI is too long";
		break;
	case 505:
		code = "http_version_not_supported";
		msg = "only HTTP/1.1 and HTTP/1.0 are spoken here";
		break;
	case 503:
		type = "server_error";
		code = "unavailable";
		msg = "too many requests in progress; retry shortly";
		break;
	default:
		type = status >= 500 ? "server_error" : "invalid_request_error";
		code = status >= 500 ? "internal" : "bad_request";
		msg = status >= 500 ? "internal error" : "bad request";
		break;
	}

	n = snprintf(json, sizeof(json), "{\"error\":{\"message\":\"%s\","
	    "\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}", msg, type,
	    code);
	if (n > 0 && (size_t)n < sizeof(json))
		kore_buf_append(buf, json, (size_t)n);
}

/* CORS headers for the request being read, if its Origin is listed. */
static void
early_cors(struct kore_buf *buf)
{
	struct http_request	*req, *last;
	const char		*origin;

	if (early_conn == NULL || early_has_header(buf,
	    "\naccess-control-allow-origin:"))
		return;

	last = NULL;
	TAILQ_FOREACH(req, &early_conn->http_requests, olist)
		last = req;
	if (last == NULL || !tg_cors_path(last->path) ||
	    !http_request_header(last, "origin", &origin))
		return;

	tg_cors_headers_raw(origin, buf);
}

/* Whether the headers built so far hold name (lower case, "\nname:"). */
static int
early_has_header(struct kore_buf *buf, const char *name)
{
	return (memmem(buf->data, buf->offset, name, strlen(name)) != NULL);
}

/*
 * Returns 1 when the request's framing is unambiguous; otherwise answers
 * 400 and marks the connection to close after the answer, and returns 0.
 */
int
tg_framing_check(struct http_request *req)
{
	struct http_header	*hdr;
	const char		*cl, *why;

	cl = NULL;
	why = NULL;
	TAILQ_FOREACH(hdr, &req->req_headers, list) {
		if (!strcasecmp(hdr->header, "transfer-encoding")) {
			why = "Transfer-Encoding is not accepted on requests "
			    "(send a Content-Length)";
			break;
		}
		if (strcasecmp(hdr->header, "content-length"))
			continue;
		if (cl != NULL && strcmp(cl, hdr->value)) {
			why = "two different Content-Length headers";
			break;
		}
		cl = hdr->value;
	}
	if (why == NULL)
		return (1);

	if (req->owner != NULL)
		req->owner->flags |= CONN_CLOSE_EMPTY;
	tg_error(req, 400, "bad_request", NULL, "%s", why);
	return (0);
}
