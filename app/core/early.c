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
 * Body limits. Kore refuses a body over its one global http_body_max
 * from the Content-Length, before reading it. The limit is ours per
 * path (tg_body_limit: TOLLGATE_V1_BODY_MAX_BYTES under /v1/,
 * TOLLGATE_BODY_MAX_BYTES elsewhere), so the link also wraps
 * kore_strtonum(): the call that parses the Content-Length of the
 * request being read (its header value, same pointer) sets
 * http_body_max for the path just before Kore compares. A 10 MiB body
 * sent to /api is thus refused (413) without being read.
 *
 * Memory. Kore holds a body in memory until the request is freed (for
 * a call, when its answer ends). A body over TOLLGATE_BODY_MAX_BYTES
 * is "large"; a worker holds at most EARLY_LARGE_MAX of them at once,
 * so its bodies take at most EARLY_LARGE_MAX x TOLLGATE_V1_BODY_MAX_BYTES
 * plus max_connections x TOLLGATE_BODY_MAX_BYTES. One more is refused
 * from its headers with 503 and Retry-After (Kore's 413 path, its status
 * line rewritten here). The link wraps kore_buf_alloc() and
 * kore_buf_free() to see the body buffer Kore allocates right after the
 * check (its size is the Content-Length) and frees with the request.
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
#define STATUS_FMT	"HTTP/1.%c %d %s\r\n"

void	__wrap_kore_buf_appendf(struct kore_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	__wrap_net_recv_flush(struct connection *);
int	__wrap_http_check_timeout(struct connection *, u_int64_t);
int	__real_net_recv_flush(struct connection *);
int	__real_http_check_timeout(struct connection *, u_int64_t);
long long	__wrap_kore_strtonum(const char *, int, long long, long long,
		    int *);
long long	__real_kore_strtonum(const char *, int, long long, long long,
		    int *);
struct kore_buf	*__wrap_kore_buf_alloc(size_t);
struct kore_buf	*__real_kore_buf_alloc(size_t);
void		 __wrap_kore_buf_free(struct kore_buf *);
void		 __real_kore_buf_free(struct kore_buf *);

static void	early_body(struct kore_buf *, int);
static int	early_has_header(struct kore_buf *, const char *);
static void	early_cors(struct kore_buf *);

/* Set between the pretty body and the content-length line after it. */
static int	early_pending;

/* The connection Kore is reading or timing out, while it does. */
static struct connection	*early_conn;

/* Large bodies held in this worker (see Memory above). */
#define EARLY_LARGE_MAX		8
static struct kore_buf	*early_large[EARLY_LARGE_MAX];
static size_t		 early_large_next;	/* its size, to be allocated */
static int		 early_busy;	/* the 413 underway is a 503 */

static int	early_large_slot(const struct kore_buf *);

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

long long
__wrap_kore_strtonum(const char *str, int base, long long min,
    long long max, int *err)
{
	struct http_request	*req, *last;
	const char		*cl;
	long long		 n;

	if (early_conn == NULL)
		return (__real_kore_strtonum(str, base, min, max, err));

	last = NULL;
	TAILQ_FOREACH(req, &early_conn->http_requests, olist)
		last = req;
	if (last == NULL || !(last->flags & HTTP_REQUEST_EXPECT_BODY) ||
	    !http_request_header(last, "content-length", &cl) || cl != str)
		return (__real_kore_strtonum(str, base, min, max, err));

	n = __real_kore_strtonum(str, base, min, max, err);
	http_body_max = tg_body_limit(last->path);
	early_busy = 0;
	early_large_next = 0;
	if (*err != KORE_RESULT_OK || n <= 0 ||
	    (size_t)n <= tg_conf.body_max || (size_t)n > http_body_max)
		return (n);

	if (early_large_slot(NULL) == -1) {
		/* Kore refuses it as too large; the answer becomes a 503. */
		early_busy = 1;
		http_body_max = tg_conf.body_max;
		kore_log(LOG_NOTICE, "%d large request bodies held: one more "
		    "refused (503)", EARLY_LARGE_MAX);
	} else {
		early_large_next = (size_t)n;
	}

	return (n);
}

struct kore_buf *
__wrap_kore_buf_alloc(size_t len)
{
	struct kore_buf	*buf;
	int		 i;

	buf = __real_kore_buf_alloc(len);
	if (early_large_next != 0 && len == early_large_next &&
	    (i = early_large_slot(NULL)) != -1)
		early_large[i] = buf;
	early_large_next = 0;

	return (buf);
}

void
__wrap_kore_buf_free(struct kore_buf *buf)
{
	int	i;

	if (buf != NULL && (i = early_large_slot(buf)) != -1)
		early_large[i] = NULL;
	__real_kore_buf_free(buf);
}

/* The slot holding buf (NULL: a free slot), or -1. */
static int
early_large_slot(const struct kore_buf *buf)
{
	int	i;

	for (i = 0; i < EARLY_LARGE_MAX; i++) {
		if (early_large[i] == buf)
			return (i);
	}

	return (-1);
}

/* The body limit of a path: /v1/ carries images and long contexts. */
size_t
tg_body_limit(const char *path)
{
	if (!strncmp(path, "/v1/", 4))
		return (tg_conf.v1_body_max);
	return (tg_conf.body_max);
}

void
__wrap_kore_buf_appendf(struct kore_buf *buf, const char *fmt, ...)
{
	va_list		 ap;
	int		 ver, status;
	unsigned char	 rnd[12];
	char		 rid[4 + 2 * sizeof(rnd) + 1];

	va_start(ap, fmt);
	/* A new answer's status line: nothing pending from an older one. */
	if (fmt[0] == 'H' && !strncmp(fmt, "HTTP/1.", 7)) {
		early_pending = 0;
		if (early_busy && !strcmp(fmt, STATUS_FMT)) {
			ver = va_arg(ap, int);
			if (va_arg(ap, int) == 413) {
				kore_buf_appendf(buf, "HTTP/1.%c 503 Service "
				    "Unavailable\r\nretry-after: 1\r\n", ver);
				va_end(ap);
				return;
			}
			early_busy = 0;
			va_end(ap);
			va_start(ap, fmt);
		}
	}

	if (fmt[0] == '<' && !strncmp(fmt, PRETTY_PREFIX,
	    sizeof(PRETTY_PREFIX) - 1)) {
		status = va_arg(ap, int);
		early_body(buf, early_busy && status == 413 ? 503 : status);
		early_busy = 0;
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
