/*
 * Fuzz harness: what an OpenAI-compatible upstream sends back. The
 * bytes are read as a whole answer, as an error answer, and as a
 * text/event-stream fed through the SSE parser into the openai
 * family's stream translation.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/openai.h"
#include "router/sse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct router_provider	 prov;
	struct router_target	 t;
	struct router_stream	*st;
	struct router_usage	 u;
	struct router_error	 e;
	struct router_sse	 sse;
	struct router_sse_event	 ev;
	json_t			*doc, *chunks;
	char			 err[256];
	size_t			 off;
	ssize_t			 r;

	memset(&prov, 0, sizeof(prov));
	prov.family = &router_family_openai;
	memset(&t, 0, sizeof(t));
	t.provider = &prov;

	doc = router_openai_chat_response(&t, (const char *)data, len, &u,
	    err, sizeof(err));
	json_decref(doc);
	doc = router_openai_embed_response(&t, (const char *)data, len, &u,
	    err, sizeof(err));
	json_decref(doc);
	router_openai_map_error(500, (const char *)data, len, &e);

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (0);
	memset(&sse, 0, sizeof(sse));
	sse.max = 65536;
	chunks = json_array();
	for (off = 0; off < len; off += r) {
		r = router_sse_parse(&sse, (const char *)data + off,
		    len - off, &ev);
		if (r < 0)
			break;
		if (!router_openai_stream_event(st, ev.event, ev.data,
		    ev.data_len, chunks))
			break;
	}
	router_sse_free(&sse);
	json_decref(chunks);
	free(st);
	return (0);
}
