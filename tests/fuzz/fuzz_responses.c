/*
 * Fuzz harness: the /v1/responses surface over arbitrary client bytes.
 * A JSON object is a Responses request; a two-element array is a
 * request and the store's resolved context (prior). The request goes
 * through the store's reference scan, the chat translation and the
 * input items kept for storing; the first element is also fed to the
 * stream translator as a chat chunk (twice, then to its end and to a
 * failure) and to the whole-answer translation as a chat.completion.
 */

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "router/responses.h"

#define RID	"resp_00112233445566778899aabbccddeeff0011223344556677"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct router_responses_refs	 refs;
	struct router_responses_stream	 rs;
	struct router_xbuf		 out = { NULL, 0, 0 };
	const json_t			*req, *prior;
	const char			*code, *param;
	json_t				*j, *o;
	char				 err[256];
	int				 status;

	j = json_loadb((const char *)data, len, 0, NULL);
	if (j == NULL)
		return (0);
	req = json_is_array(j) ? json_array_get(j, 0) : j;
	prior = json_is_array(j) ? json_array_get(j, 1) : NULL;

	(void)router_responses_refs(req, &refs, &status, &param, err,
	    sizeof(err));
	o = router_responses_request_to_openai(req, prior, &status, &code,
	    &param, err, sizeof(err));
	json_decref(o);
	o = router_responses_input_items(req, prior);
	json_decref(o);

	if (router_responses_stream_init(&rs, RID, "m", 1, req)) {
		(void)router_responses_stream_chunk(&rs, req, &out);
		(void)router_responses_stream_chunk(&rs, req, &out);
		o = router_responses_stream_result(&rs, NULL, &out);
		if (o != NULL)
			(void)router_responses_stream_finish(&rs, o, &out);
		json_decref(o);
		(void)router_responses_stream_fail(&rs, NULL, "x", &out);
	}
	router_responses_stream_free(&rs);
	router_xbuf_free(&out);
	o = router_responses_from_openai(req, NULL, RID, "m", 1, req);
	json_decref(o);
	json_decref(j);
	return (0);
}
