/*
 * The one error path (docs/contract.md §3): every failed request is answered
 * here, in OpenAI's shape, or in Anthropic's on routes flagged
 * TG_ROUTE_ANTHROPIC (/v1/messages). Messages are for the caller: never
 * SQL, provider keys or other internals; those go to the log with the
 * request id.
 */

#include <stdarg.h>
#include <stdio.h>

#include "tollgate.h"

static void		 error_send(struct http_request *, int, const char *,
			    const char *, int, const char *, va_list);

const char *
tg_error_type(int status)
{
	switch (status) {
	case 400:
	case 405:
	case 413:
		return ("invalid_request_error");
	case 401:
		return ("authentication_error");
	case 402:
		return ("insufficient_credits");
	case 403:
		return ("permission_error");
	case 404:
		return ("not_found_error");
	case 409:
		return ("conflict_error");
	case 429:
		return ("rate_limit_error");
	case 502:
	case 504:
		return ("upstream_error");
	default:
		return (status >= 500 ? "server_error" :
		    "invalid_request_error");
	}
}

const char *
tg_error_anthropic_type(int status)
{
	switch (status) {
	case 401:
		return ("authentication_error");
	case 402:
		return ("billing_error");
	case 403:
		return ("permission_error");
	case 404:
		return ("not_found_error");
	case 413:
		return ("request_too_large");
	case 429:
		return ("rate_limit_error");
	case 504:
		return ("timeout_error");
	case 529:
		return ("overloaded_error");
	default:
		return (status >= 500 ? "api_error" : "invalid_request_error");
	}
}

/* The error object alone, for answers built elsewhere (stream events). */
json_t *
tg_error_body(struct http_request *req, int status, const char *code,
    const char *param, const char *message)
{
	struct tg_ctx	*ctx;

	ctx = req != NULL ? tg_ctx(req) : NULL;
	if (ctx != NULL && ctx->route != NULL &&
	    (ctx->route->flags & TG_ROUTE_ANTHROPIC)) {
		return (json_pack("{s:s, s:{s:s, s:s}}", "type", "error",
		    "error", "type", tg_error_anthropic_type(status),
		    "message", message));
	}

	return (json_pack("{s:{s:s, s:s, s:s?, s:s}}", "error",
	    "message", message, "type", tg_error_type(status),
	    "param", param, "code", code));
}

void
tg_error(struct http_request *req, int status, const char *code,
    const char *param, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	error_send(req, status, code, param, 0, fmt, ap);
	va_end(ap);
}

/* For 429 and 503: the same, with Retry-After in seconds. */
void
tg_error_retry(struct http_request *req, int status, const char *code,
    int retry_after, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	error_send(req, status, code, NULL, retry_after, fmt, ap);
	va_end(ap);
}

void
tg_error_internal(struct http_request *req, const char *what)
{
	kore_log(LOG_ERR, "rid=%s internal error: %s", tg_request_id(req),
	    what);
	tg_error(req, 500, "internal", NULL,
	    "internal error (request id %s)", tg_request_id(req));
}

static void
error_send(struct http_request *req, int status, const char *code,
    const char *param, int retry_after, const char *fmt, va_list ap)
{
	static const char	 fallback[] = "{\"error\":{\"message\":"
				    "\"internal error\",\"type\":\"server_error\","
				    "\"param\":null,\"code\":\"internal\"}}";
	char			 msg[1024], secs[16];
	json_t			*body;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);

	if (retry_after > 0) {
		(void)snprintf(secs, sizeof(secs), "%d", retry_after);
		http_response_header(req, "retry-after", secs);
	}

	if ((body = tg_error_body(req, status, code, param, msg)) == NULL) {
		http_response_header(req, "content-type", "application/json");
		http_response(req, 500, fallback, sizeof(fallback) - 1);
		return;
	}

	tg_http_json_steal(req, status, body);
}
