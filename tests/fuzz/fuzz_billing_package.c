/*
 * Fuzz harness: an admin's package body (PUT /api/admin/billing/
 * packages/{id}) as billing_package_parse checks it. What it accepts is
 * in range and its strings are bounded; what it refuses names a code.
 */

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "billing/package.h"

#define PATH_ID	"0b5e8c1e-8c53-4f7b-9d55-3a1e2f7c9a10"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct billing_package_in	in;
	json_t				*doc;

	doc = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (doc == NULL)
		return (0);

	memset(&in, 0, sizeof(in));
	if (billing_package_parse(doc, PATH_ID, &in)) {
		if (in.price_minor <= 0 || in.price_minor > BILLING_PRICE_MAX ||
		    in.credits_micros <= 0 ||
		    in.credits_micros > BILLING_CREDITS_MAX ||
		    strlen(in.currency) != 3 ||
		    strlen(in.name) >= sizeof(in.name) || in.name[0] == '\0')
			__builtin_trap();
	} else if (in.code[0] == '\0' || in.message[0] == '\0') {
		__builtin_trap();
	}
	json_decref(doc);
	return (0);
}
