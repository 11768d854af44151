/*
 * Fuzz harness: the prompt upper bound over any JSON a client can send
 * (a chat request, an embeddings request, or anything else), which must
 * never crash, recurse out of bounds or come out negative.
 */

#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "credits/prompt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	json_t	*doc;

	doc = json_loadb((const char *)data, len,
	    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
	if (doc == NULL)
		return (0);
	if (credits_prompt_bound_chat(doc) < 0 ||
	    credits_prompt_bound_embeddings(doc) < 0 ||
	    credits_json_bytes(doc) < 0)
		abort();
	json_decref(doc);
	return (0);
}
