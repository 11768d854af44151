/*
 * Fuzz harness: the provider catalog (conf/router.json, or the file
 * TOLLGATE_ROUTER_CONFIG names) as router_catalog_parse reads it, in
 * development and in production mode, then model lookups in whatever
 * catalog parsed. Every key variable is set, so providers that need a
 * key are kept and their strings exercised.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "router/catalog.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	*fake_getenv(const char *);

static const char *
fake_getenv(const char *name)
{
	(void)name;
	return ("sk-fuzz-0123456789");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct router_catalog	cat;
	static struct tg_config_errors	errs;
	struct router_route		route;
	int				production, kind;

	for (production = 0; production < 2; production++) {
		memset(&errs, 0, sizeof(errs));
		if (router_catalog_parse(&cat, (const char *)data, len,
		    "fuzz.json", production, fake_getenv, &errs)) {
			for (kind = 0; kind < 3; kind++) {
				(void)router_catalog_resolve(&cat, "gpt-4o-mini",
				    kind, &route);
				(void)router_catalog_resolve(&cat,
				    "openai/gpt-4o", kind, &route);
			}
			(void)router_catalog_provider(&cat, "openai");
		}
		router_catalog_free(&cat);
	}
	return (0);
}
