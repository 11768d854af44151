/*
 * Fuzz body shared by the provider families' harnesses. The input is
 * used as an SSE body replayed through the SSE parser into stream_event
 * (in two read sizes), as a whole answer for chat_response (and
 * embed_response where the family has embeddings), as an error body with
 * the given status for map_error; and, when it is JSON, as a client
 * request for chat_request (and embed_request).
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "router/sse.h"
#include "router/upstream.h"
#include "family.h"

static void	replay(const struct router_target *, const char *, size_t,
		    size_t);
static void	requests(const struct router_target *, const json_t *);

void
fuzz_family(const struct router_target *t, int err_status,
    const uint8_t *data, size_t len)
{
	const struct router_family	*fam = t->provider->family;
	struct router_usage		 u;
	struct router_error		 e;
	json_t				*j;
	char				 err[256];

	replay(t, (const char *)data, len, len ? len : 1);
	replay(t, (const char *)data, len, 7);
	j = fam->chat_response(t, (const char *)data, len, &u, err,
	    sizeof(err));
	json_decref(j);
	fam->map_error(err_status, (const char *)data, len, &e);
	if (fam->embed_response != NULL) {
		memset(&u, 0, sizeof(u));
		j = fam->embed_response(t, (const char *)data, len, &u, err,
		    sizeof(err));
		json_decref(j);
	}

	if ((j = json_loadb((const char *)data, len, 0, NULL)) != NULL) {
		requests(t, j);
		json_decref(j);
	}
}

static void
replay(const struct router_target *t, const char *buf, size_t len,
    size_t step)
{
	const struct router_family	*fam = t->provider->family;
	struct router_sse		 p;
	struct router_sse_event		 ev;
	struct router_stream		 st;
	json_t				*chunks;
	size_t				 off, piece, n;
	ssize_t				 r = 0;

	memset(&p, 0, sizeof(p));
	memset(&st, 0, sizeof(st));
	st.target = t;
	chunks = json_array();
	for (off = 0; off < len; off += piece) {
		piece = len - off < step ? len - off : step;
		for (n = 0; n < piece; n += (size_t)r) {
			r = router_sse_parse(&p, buf + off + n, piece - n, &ev);
			if (r <= 0)
				break;
			(void)fam->stream_event(&st, ev.event[0] ? ev.event :
			    NULL, ev.data, ev.data_len, chunks);
			/* keep memory bounded on long inputs */
			if (json_array_size(chunks) > 64)
				json_array_clear(chunks);
		}
		if (r == ROUTER_SSE_BAD)
			break;
	}
	router_sse_free(&p);
	json_decref(chunks);
}

static void
requests(const struct router_target *t, const json_t *j)
{
	const struct router_family	*fam = t->provider->family;
	struct router_http		 h;
	char				 err[256];

	memset(&h, 0, sizeof(h));
	if (fam->chat_request(t, j, 1, &h, err, sizeof(err)))
		router_http_free(&h);
	memset(&h, 0, sizeof(h));
	if (fam->embed_request != NULL &&
	    fam->embed_request(t, j, &h, err, sizeof(err)))
		router_http_free(&h);
}
