/*
 * Fuzz harness: the anthropic family over arbitrary upstream bytes and
 * client requests (family.c says how the input is used).
 */

#include <stdint.h>

#include "family.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct router_provider	provider = {
	.name = "anthropic", .family = &router_family_anthropic,
	.base_url = "http://127.0.0.1:1", .api_key = "k",
};
static struct router_target	target = {
	.provider = &provider, .model = "claude", .max_output_tokens = 4096,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_family(&target, 429, data, len);
	return (0);
}
