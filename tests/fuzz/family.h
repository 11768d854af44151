/*
 * The body of the provider families' fuzz harnesses (fuzz_anthropic,
 * fuzz_gemini): one input used every way a family reads outside bytes.
 */

#ifndef FUZZ_FAMILY_H
#define FUZZ_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "router/provider.h"

void	fuzz_family(const struct router_target *, int, const uint8_t *,
	    size_t);

#endif
