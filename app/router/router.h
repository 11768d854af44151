/*
 * Kore-side internals of the router module shared by its files: the
 * catalog loaded in the parent, the per-provider metrics, the relay
 * (one client call through retries, fallbacks and streaming) and the
 * call records the meter reads.
 */

#ifndef ROUTER_ROUTER_H
#define ROUTER_ROUTER_H

#include "tollgate.h"
#include "router/catalog.h"
#include "router/cooldown.h"
#include "router/meter.h"

/* What the client speaks. */
#define ROUTER_SURFACE_OPENAI		0
#define ROUTER_SURFACE_ANTHROPIC	1
#define ROUTER_SURFACE_RESPONSES	2	/* OpenAI's Responses API */

/*
 * The catalog in use (conf.c). A reload (SIGHUP) puts a new one in
 * place; a call holds the one it resolved its model with until it is
 * freed, so it finishes on the configuration it started with. Each
 * catalog carries its targets' breakers (relay.c), carried over by
 * model id to the next one.
 */
struct router_conf {
	struct router_catalog	*cat;
	int			 refs;
	struct router_cooldown	 cool[ROUTER_MODELS_MAX];
};

extern struct router_catalog	*router_catalog;	/* router_conf->cat */
extern struct router_conf	*router_conf;

void			 router_conf_init(struct router_catalog *);
struct router_conf	*router_conf_hold(void);
void			 router_conf_drop(struct router_conf *);
void			 router_conf_worker_init(void);
struct router_cooldown	*router_conf_cooler(struct router_conf *,
			    const struct router_model *);

/*
 * Per provider: declared in the parent for the providers of the first
 * catalog, indexed by router_provider.index. A provider a reload adds
 * gets ROUTER_METRIC_NONE, whose ids are -1 (nothing is counted).
 */
#define ROUTER_METRIC_NONE	ROUTER_PROVIDERS_MAX
extern int	router_metric_latency[ROUTER_PROVIDERS_MAX + 1];
extern int	router_metric_first_byte[ROUTER_PROVIDERS_MAX + 1];
extern int	router_metric_errors[ROUTER_PROVIDERS_MAX + 1];
extern int	router_metric_cooldowns[ROUTER_PROVIDERS_MAX + 1];
extern int	router_metric_cooling[ROUTER_PROVIDERS_MAX + 1];

/* relay.c: the handler body of chat, embeddings, messages, responses. */
int	router_relay(struct http_request *, int, int);

/* call.c */
struct router_call	*router_call_new(struct http_request *, int);
void			 router_call_settle(struct router_call *);
void			 router_call_release(struct router_call *);

/*
 * The model names a key may call: an alias when the alias itself is
 * allowed; otherwise only the targets whose "provider:model" is allowed
 * are kept (route is filtered in place). Returns 0 when none is left.
 */
int	router_route_allowed(const struct tg_principal *, const char *,
	    struct router_route *);

#endif
