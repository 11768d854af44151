/*
 * Small HTTP helpers over Kore's request: JSON answers (jansson), the
 * request body as JSON, query arguments, bearer tokens and the client
 * address. Bodies are never offloaded to disk (http_body_disk_offload is
 * 0), so req->http_body always holds the whole raw body.
 */

#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tollgate.h"
#include "qs.h"

/*
 * Answers are serialised into this worker's buffer, reused from answer
 * to answer (http_response() copies what it sends): no allocation and
 * no growing copies per answer, as json_dumps() would make. It grows to
 * the largest answer up to JSON_OUT_KEEP; larger ones use json_dumps().
 */
#define JSON_OUT_MIN	16384
#define JSON_OUT_KEEP	(1024 * 1024)

static char	*json_out;
static size_t	 json_out_len;

static int	http_json_out(json_t *, size_t *);

/* Answer with a JSON document; the caller keeps its reference. */
void
tg_http_json(struct http_request *req, int status, json_t *doc)
{
	char	*s;
	size_t	 len;

	if (http_json_out(doc, &len)) {
		http_response_header(req, "content-type", "application/json");
		http_response_header(req, "cache-control", "no-store");
		http_response(req, status, json_out, len);
		return;
	}

	if ((s = json_dumps(doc, JSON_COMPACT)) == NULL) {
		tg_error_internal(req, "json_dumps failed");
		return;
	}

	len = strlen(s);
	http_response_header(req, "content-type", "application/json");
	http_response_header(req, "cache-control", "no-store");
	http_response(req, status, s, len);
	free(s);
}

/* doc into json_out; 0 when it failed or is over JSON_OUT_KEEP. */
static int
http_json_out(json_t *doc, size_t *len)
{
	size_t	need;

	if (json_out == NULL) {
		json_out = kore_malloc(JSON_OUT_MIN);
		json_out_len = JSON_OUT_MIN;
	}

	if ((need = json_dumpb(doc, json_out, json_out_len,
	    JSON_COMPACT)) == 0)
		return (0);
	if (need <= json_out_len) {
		*len = need;
		return (1);
	}
	if (need > JSON_OUT_KEEP)
		return (0);

	json_out = kore_realloc(json_out, need);
	json_out_len = need;
	if (json_dumpb(doc, json_out, json_out_len, JSON_COMPACT) != need)
		return (0);
	*len = need;
	return (1);
}

/* The same, taking the caller's reference. */
void
tg_http_json_steal(struct http_request *req, int status, json_t *doc)
{
	tg_http_json(req, status, doc);
	json_decref(doc);
}

void
tg_http_no_content(struct http_request *req)
{
	http_response_header(req, "cache-control", "no-store");
	http_response(req, 204, NULL, 0);
}

/*
 * The raw body; returns 0 (and sets nothing) when there is none. The
 * length is the request's Content-Length: a body that arrived after its
 * headers was rewound by Kore (http_body_rewind resets the buffer's
 * offset to 0), so the buffer's offset is not the body's length.
 */
int
tg_http_body(struct http_request *req, const u_int8_t **data, size_t *len)
{
	if (req->http_body == NULL || req->content_length == 0 ||
	    req->content_length > req->http_body->length) {
		*data = NULL;
		*len = 0;
		return (0);
	}

	*data = req->http_body->data;
	*len = req->content_length;
	return (1);
}

/*
 * The body as a JSON object (duplicate keys refused). On failure it has
 * already answered 400 invalid_json and returns NULL.
 */
json_t *
tg_http_body_json(struct http_request *req)
{
	const u_int8_t	*data;
	size_t		 len;
	json_error_t	 jerr;
	json_t		*doc;

	if (!tg_http_body(req, &data, &len)) {
		tg_error(req, 400, "invalid_json", NULL,
		    "the request body must be a JSON object");
		return (NULL);
	}

	doc = json_loadb((const char *)data, len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		tg_error(req, 400, "invalid_json", NULL,
		    "invalid JSON at line %d, column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return (NULL);
	}

	if (!json_is_object(doc)) {
		json_decref(doc);
		tg_error(req, 400, "invalid_json", NULL,
		    "the request body must be a JSON object");
		return (NULL);
	}

	return (doc);
}

/* See tg_qs_get(): TG_QS_FOUND, TG_QS_ABSENT or TG_QS_INVALID. */
int
tg_http_query(struct http_request *req, const char *name, char *out,
    size_t outlen)
{
	return (tg_qs_get(req->query_string, name, out, outlen));
}

const char *
tg_http_header(struct http_request *req, const char *name)
{
	const char	*v;

	if (!http_request_header(req, name, &v))
		return (NULL);

	return (v);
}

/* The token of "Authorization: Bearer <token>", or NULL. */
const char *
tg_http_bearer(struct http_request *req)
{
	const char	*v;

	if ((v = tg_http_header(req, "authorization")) == NULL)
		return (NULL);
	if (strncasecmp(v, "Bearer ", 7))
		return (NULL);

	v += 7;
	while (*v == ' ')
		v++;

	return (*v != '\0' ? v : NULL);
}

/*
 * The client's address: the peer, or with TOLLGATE_TRUST_PROXY=1 the
 * last X-Forwarded-For entry (the one our proxy appended).
 */
void
tg_http_client_ip(struct http_request *req, char *out, size_t len)
{
	const char	*xff, *last;
	size_t		 n;

	if (tg_conf.trust_proxy &&
	    (xff = tg_http_header(req, "x-forwarded-for")) != NULL) {
		last = strrchr(xff, ',');
		last = last != NULL ? last + 1 : xff;
		while (*last == ' ')
			last++;
		n = strcspn(last, " ");
		if (n > 0 && n < len) {
			memcpy(out, last, n);
			out[n] = '\0';
			return;
		}
	}

	if (req->owner == NULL) {
		(void)kore_strlcpy(out, "-", len);
		return;
	}

	switch (req->owner->family) {
	case AF_INET:
		if (inet_ntop(AF_INET, &req->owner->addr.ipv4.sin_addr,
		    out, len) != NULL)
			return;
		break;
	case AF_INET6:
		if (inet_ntop(AF_INET6, &req->owner->addr.ipv6.sin6_addr,
		    out, len) != NULL)
			return;
		break;
	}

	(void)kore_strlcpy(out, "local", len);
}
