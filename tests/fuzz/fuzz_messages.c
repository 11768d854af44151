/*
 * Fuzz harness: the /v1/messages surface over arbitrary client bytes.
 * JSON input is parsed as an Anthropic Messages request; a request that
 * translates is then built for the anthropic and gemini families (the
 * path a real call takes), and the input is also fed to the messages
 * stream translator as an OpenAI chunk and to the answer translation.
 */

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "router/messages.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	build(const struct router_family *, const json_t *);

static struct router_provider	provider = {
	.name = "p", .base_url = "http://127.0.0.1:1", .api_key = "k",
};
static struct router_target	target = {
	.provider = &provider, .model = "m", .max_output_tokens = 4096,
};

static void
build(const struct router_family *fam, const json_t *req)
{
	struct router_http	 h;
	char			 err[256];

	memset(&h, 0, sizeof(h));
	provider.family = fam;
	if (fam->chat_request(&target, req, 0, &h, err, sizeof(err)))
		router_http_free(&h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct router_messages_stream	 ms;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*j, *oreq, *msg;
	char				 err[256];
	int				 status;

	j = json_loadb((const char *)data, len, 0, NULL);
	if (j == NULL)
		return (0);
	oreq = router_messages_request_to_openai(j, &status, err, sizeof(err));
	if (oreq != NULL) {
		build(&router_family_anthropic, oreq);
		build(&router_family_gemini, oreq);
		json_decref(oreq);
	}

	memset(&ms, 0, sizeof(ms));
	(void)router_messages_stream_chunk(&ms, j, &out);
	(void)router_messages_stream_chunk(&ms, j, &out);
	(void)router_messages_stream_finish(&ms, NULL, &out);
	router_xbuf_free(&out);
	msg = router_messages_response_from_openai(j, NULL);
	json_decref(msg);
	json_decref(j);
	return (0);
}
