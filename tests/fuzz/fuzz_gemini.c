/*
 * Fuzz harness: the gemini family over arbitrary upstream bytes and
 * client requests, embeddings included (family.c says how the input is
 * used).
 */

#include <stdint.h>

#include "family.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct router_provider	provider = {
	.name = "gemini", .family = &router_family_gemini,
	.base_url = "http://127.0.0.1:1", .api_key = "k",
};
static struct router_target	target = {
	.provider = &provider, .model = "gemini-2.5-flash",
	.max_output_tokens = 4096,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_family(&target, 400, data, len);
	return (0);
}
