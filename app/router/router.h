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
#include "router/meter.h"

/* What the client speaks. */
#define ROUTER_SURFACE_OPENAI		0
#define ROUTER_SURFACE_ANTHROPIC	1

extern struct router_catalog	*router_catalog;

/* Per provider (catalog index): declared in the parent. */
extern int	router_metric_latency[ROUTER_PROVIDERS_MAX];
extern int	router_metric_first_byte[ROUTER_PROVIDERS_MAX];
extern int	router_metric_errors[ROUTER_PROVIDERS_MAX];
extern int	router_metric_cooldowns[ROUTER_PROVIDERS_MAX];
extern int	router_metric_cooling[ROUTER_PROVIDERS_MAX];

/* relay.c: the handler body of chat, embeddings and messages. */
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
