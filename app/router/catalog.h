/*
 * The router's catalog: providers, their models and the aliases, loaded
 * from conf/router.json (TOLLGATE_ROUTER_CONFIG) plus the environment
 * (<PROVIDER>_API_KEY, <PROVIDER>_BASE_URL), checked completely before
 * any worker forks, and the model addressing of docs/contract.md §5:
 *
 *	"provider:model", "provider/model" (split at the first ':' or '/',
 *	so "openrouter/openai/gpt-4o" and "ollama:llama3.1:8b" both work),
 *	or an alias: a list of tiers tried in order, a tier being one
 *	such target or several with weights (weights.h).
 *
 * Pure C (jansson). The file format is documented in docs/router.md.
 */

#ifndef ROUTER_CATALOG_H
#define ROUTER_CATALOG_H

#include <stdint.h>

#include "config.h"
#include "router/provider.h"
#include "router/weights.h"

#define ROUTER_PROVIDERS_MAX	32
#define ROUTER_MODELS_MAX	512
#define ROUTER_ALIASES_MAX	64
#define ROUTER_CHAIN_MAX	ROUTER_WEIGHTS_MAX	/* targets of a route */
#define ROUTER_ID_MAX		(ROUTER_NAME_MAX + ROUTER_MODEL_MAX + 1)

/* What a call asks a model for. */
#define ROUTER_KIND_CHAT	1
#define ROUTER_KIND_EMBED	2

/* router_catalog_resolve() results. */
#define ROUTER_RESOLVE_OK		0
#define ROUTER_RESOLVE_NOT_FOUND	1	/* 404 model_not_found */
#define ROUTER_RESOLVE_WRONG_KIND	2	/* e.g. chat on an embedding model */

struct router_model {
	const struct router_provider	*provider;
	char				 name[ROUTER_MODEL_MAX];
	char				 id[ROUTER_ID_MAX];	/* provider:model */
	int64_t				 max_output_tokens;	/* 0: n/a */
	int64_t				 context_length;	/* 0: not said */
	int				 chat;
	int				 embeddings;
};

/*
 * targets: every tier's, in the configured order (what /v1/models
 * reads); tiers: where each tier ends and the weights. current is the
 * round-robin state of the weighted tiers (NULL when there are none):
 * written by router_catalog_resolve, so it is per worker, and a reload
 * starts it afresh.
 */
struct router_alias {
	char			 name[ROUTER_NAME_MAX];
	int			 ntargets;
	const struct router_model *targets[ROUTER_CHAIN_MAX];
	struct router_tiers	 tiers;
	int64_t			*current;
};

struct router_catalog {
	struct router_provider	 providers[ROUTER_PROVIDERS_MAX];
	int			 nproviders;
	struct router_model	 models[ROUTER_MODELS_MAX];
	int			 nmodels;
	struct router_alias	 aliases[ROUTER_ALIASES_MAX];
	int			 naliases;
	int64_t			 created;	/* /v1/models "created" */
};

/* A resolved model name: the targets this call tries, in order. */
struct router_route {
	int			 ntargets;
	struct router_target	 targets[ROUTER_CHAIN_MAX];
	const struct router_model *models[ROUTER_CHAIN_MAX];
	const struct router_alias *alias;	/* NULL: direct address */
};

typedef const char	*(*router_getenv_fn)(const char *);

/*
 * Loads path (or, for the tests, text) into cat. production refuses
 * plain-http base URLs to non-loopback hosts for providers with a key.
 * Every problem adds one line to errs naming TOLLGATE_ROUTER_CONFIG or
 * the environment variable at fault; returns 1 when there were none.
 */
int	router_catalog_load(struct router_catalog *, const char *, int,
	    router_getenv_fn, struct tg_config_errors *);
int	router_catalog_parse(struct router_catalog *, const char *, size_t,
	    const char *, int, router_getenv_fn, struct tg_config_errors *);
void	router_catalog_free(struct router_catalog *);

int	router_catalog_resolve(const struct router_catalog *, const char *,
	    int, struct router_route *);

/*
 * Whether model m of the catalog is cooling down now (cooldown.h): a
 * weighted tier's pick passes over it. Set by the router's workers;
 * NULL (the unit tests) means none is.
 */
extern int	(*router_catalog_cooling)(const struct router_catalog *,
		    const struct router_model *);
const struct router_provider *router_catalog_provider(
	    const struct router_catalog *, const char *);
const struct router_family *router_family_find(const char *);

/* 1 when the provider can be called: it has a key, or needs none. */
int	router_provider_usable(const struct router_provider *);

#endif
