/*
 * Fuzz harness: the anthropic family over arbitrary upstream bytes. The
 * input is used three ways: as an SSE body replayed through the SSE
 * parser into stream_event (in two read sizes), as a whole answer for
 * chat_response, as an error body for map_error; and, when it is JSON,
 * as a client request for chat_request.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "router/provider.h"
#include "router/sse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	replay(const struct router_family *, const char *, size_t,
		    size_t);

static struct router_provider	provider = {
	.name = "anthropic", .family = &router_family_anthropic,
	.base_url = "http://127.0.0.1:1", .api_key = "k",
};
static struct router_target	target = {
	.provider = &provider, .model = "claude", .max_output_tokens = 4096,
};

static void
replay(const struct router_family *fam, const char *buf, size_t len,
    size_t step)
{
	struct router_sse	 p;
	struct router_sse_event	 ev;
	struct router_stream	 st;
	json_t			*chunks;
	size_t			 off, piece, n;
	ssize_t			 r = 0;

	memset(&p, 0, sizeof(p));
	memset(&st, 0, sizeof(st));
	st.target = &target;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const struct router_family	*fam = &router_family_anthropic;
	struct router_usage		 u;
	struct router_error		 e;
	struct router_http		 h;
	json_t				*j;
	char				 err[256];
	int				 i;

	replay(fam, (const char *)data, len, len ? len : 1);
	replay(fam, (const char *)data, len, 7);
	j = fam->chat_response(&target, (const char *)data, len, &u, err,
	    sizeof(err));
	json_decref(j);
	fam->map_error(429, (const char *)data, len, &e);

	j = json_loadb((const char *)data, len, 0, NULL);
	if (j != NULL) {
		memset(&h, 0, sizeof(h));
		if (fam->chat_request(&target, j, 1, &h, err, sizeof(err))) {
			free(h.url);
			free(h.body);
			for (i = 0; i < h.nheaders; i++)
				free(h.headers[i]);
		}
		json_decref(j);
	}
	return (0);
}
