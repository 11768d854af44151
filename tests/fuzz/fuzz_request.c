/*
 * Fuzz harness: a client's request body, checked as a chat completion
 * and as an embeddings request (after JSON parsing, as the handler
 * does).
 */

#include <stdint.h>
#include <string.h>

#include "router/request.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct router_chat_req	 c;
	struct router_embed_req	 e;
	struct router_problem	 pb;
	json_t			*doc;

	doc = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (doc == NULL || !json_is_object(doc)) {
		json_decref(doc);
		return (0);
	}
	(void)router_chat_check(doc, &c, &pb);
	(void)router_embed_check(doc, &e, &pb);
	json_decref(doc);
	return (0);
}
