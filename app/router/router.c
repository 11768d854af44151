/*
 * The router module (docs/contract.md §5): its routes, the catalog loaded and
 * checked in the parent before any worker forks (conf/router.json,
 * TOLLGATE_ROUTER_CONFIG), the per-provider upstream metrics, and
 * GET /v1/models. Chat completions, embeddings and messages go through
 * the relay (relay.c).
 *
 * Every route takes an API key (TG_AUTH_API_KEY): the dispatcher has
 * authenticated it before any handler here runs, and tg_ctx(req)->who
 * carries the key's allowed_models.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router.h"
#include "metrics.h"
#include "model.h"

int	router_chat(struct http_request *);
int	router_embeddings(struct http_request *);
int	router_models(struct http_request *);
int	router_messages(struct http_request *);

static void	router_parent_init(struct tg_config_errors *);
static const char *router_getenv(const char *);
static int	models_list(struct http_request *);
static int	models_priced(struct http_request *);
static void	models_free(struct http_request *, void *);
static int	models_visible(const struct tg_principal *,
		    const struct router_model *);

int			 router_metric_latency[ROUTER_PROVIDERS_MAX + 1];
int			 router_metric_first_byte[ROUTER_PROVIDERS_MAX + 1];
int			 router_metric_errors[ROUTER_PROVIDERS_MAX + 1];
int			 router_metric_cooldowns[ROUTER_PROVIDERS_MAX + 1];
int			 router_metric_cooling[ROUTER_PROVIDERS_MAX + 1];

static const struct tg_route	router_routes[] = {
	{ HTTP_METHOD_POST, "/v1/chat/completions", router_chat,
	    TG_AUTH_API_KEY, 0, 0 },
	{ HTTP_METHOD_POST, "/v1/embeddings", router_embeddings,
	    TG_AUTH_API_KEY, 0, 0 },
	{ HTTP_METHOD_GET, "/v1/models", router_models, TG_AUTH_API_KEY,
	    0, 0 },
	{ HTTP_METHOD_POST, "/v1/messages", router_messages, TG_AUTH_API_KEY,
	    TG_ROUTE_ANTHROPIC, 0 },
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_router_module = {
	"router", router_parent_init, router_conf_worker_init, NULL,
	router_routes
};

static const double	latency_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5,
			    5, 10, 30, 60, 120, 300 };

#define MODELS_QUERY	0
#define MODELS_REPLY	1

static struct http_state	models_states[] = {
	KORE_HTTP_STATE(models_priced),
	KORE_HTTP_STATE(models_list),
};

struct models_state {
	struct router_conf	*conf;	/* ids point into its catalog */
	struct router_call	*call;
	const char		*ids[ROUTER_MODELS_MAX];
	int			 priced[ROUTER_MODELS_MAX];
	int			 nids;
};

static const char *
router_getenv(const char *name)
{
	return (getenv(name));
}

/*
 * Loads and checks the catalog (one error line per problem, naming
 * TOLLGATE_ROUTER_CONFIG or the variable at fault) and declares the
 * upstream metrics of every provider.
 */
static void
router_parent_init(struct tg_config_errors *errs)
{
	const struct router_provider	*p;
	struct router_catalog		*cat;
	char				*labels;
	size_t				 len;
	int				 i;

	router_metric_latency[ROUTER_METRIC_NONE] = -1;
	router_metric_first_byte[ROUTER_METRIC_NONE] = -1;
	router_metric_errors[ROUTER_METRIC_NONE] = -1;
	router_metric_cooldowns[ROUTER_METRIC_NONE] = -1;
	router_metric_cooling[ROUTER_METRIC_NONE] = -1;

	if ((cat = calloc(1, sizeof(*cat))) == NULL)
		fatal("router: out of memory");
	router_conf_init(cat);

	if (!router_catalog_load(router_catalog, tg_conf.router_config,
	    tg_conf.production, router_getenv, errs))
		return;

	for (i = 0; i < router_catalog->nproviders; i++) {
		p = &router_catalog->providers[i];
		len = strlen(p->name) + 16;
		if ((labels = malloc(len)) == NULL)
			fatal("router: out of memory");
		(void)snprintf(labels, len, "provider=\"%s\"", p->name);
		router_metric_latency[i] = tg_metrics_declare(
		    TG_METRIC_HISTOGRAM, "tollgate_upstream_latency_seconds",
		    "Upstream attempts by provider: time until the attempt "
		    "ended.", labels, latency_buckets,
		    sizeof(latency_buckets) / sizeof(latency_buckets[0]));
		router_metric_first_byte[i] = tg_metrics_declare(
		    TG_METRIC_HISTOGRAM,
		    "tollgate_upstream_first_byte_seconds",
		    "Upstream attempts by provider: time to the first byte "
		    "of the answer.", labels, latency_buckets,
		    sizeof(latency_buckets) / sizeof(latency_buckets[0]));
		router_metric_errors[i] = tg_metrics_declare(
		    TG_METRIC_COUNTER, "tollgate_upstream_errors_total",
		    "Upstream attempts that failed, by provider.", labels,
		    NULL, 0);
		router_metric_cooldowns[i] = tg_metrics_declare(
		    TG_METRIC_COUNTER, "tollgate_router_cooldowns_total",
		    "Cooldowns entered by a provider's targets after "
		    "repeated failures.", labels, NULL, 0);
		router_metric_cooling[i] = tg_metrics_declare(
		    TG_METRIC_GAUGE, "tollgate_router_targets_cooling",
		    "A provider's targets cooling down or waiting for their "
		    "probe, summed over workers.", labels, NULL, 0);
	}

	kore_log(LOG_INFO, "router: %d providers, %d models, %d aliases "
	    "from %s", router_catalog->nproviders, router_catalog->nmodels,
	    router_catalog->naliases, tg_conf.router_config);
}

int
router_chat(struct http_request *req)
{
	return (router_relay(req, ROUTER_SURFACE_OPENAI, ROUTER_KIND_CHAT));
}

int
router_embeddings(struct http_request *req)
{
	return (router_relay(req, ROUTER_SURFACE_OPENAI, ROUTER_KIND_EMBED));
}

int
router_messages(struct http_request *req)
{
	return (router_relay(req, ROUTER_SURFACE_ANTHROPIC,
	    ROUTER_KIND_CHAT));
}

int
router_route_allowed(const struct tg_principal *who, const char *name,
    struct router_route *route)
{
	int	i, n;

	if (who->nallowed == 0)
		return (1);
	if (route->alias != NULL &&
	    tg_model_allowed(who->allowed_models, who->nallowed, name))
		return (1);

	n = 0;
	for (i = 0; i < route->ntargets; i++) {
		if (!tg_model_allowed(who->allowed_models, who->nallowed,
		    route->models[i]->id))
			continue;
		route->targets[n] = route->targets[i];
		route->models[n] = route->models[i];
		n++;
	}
	route->ntargets = n;

	return (n > 0);
}

int
router_models(struct http_request *req)
{
	struct models_state	*ms;
	struct router_catalog	*cat;
	int			 i;

	if ((ms = tg_state(req)) == NULL) {
		ms = tg_state_alloc(req, sizeof(*ms), models_free);
		ms->conf = router_conf_hold();
		cat = ms->conf->cat;
		for (i = 0; i < cat->nmodels; i++) {
			if (!router_provider_usable(cat->models[i].provider))
				continue;
			ms->ids[ms->nids] = cat->models[i].id;
			ms->priced[ms->nids] = 1;
			ms->nids++;
		}
	}

	return (http_state_run(models_states,
	    sizeof(models_states) / sizeof(models_states[0]), req));
}

static int
models_priced(struct http_request *req)
{
	struct models_state	*ms = tg_state(req);

	if (router_meter != NULL && router_meter->priced != NULL) {
		if (ms->call == NULL)
			ms->call = router_call_new(req, ROUTER_ENDPOINT_MODELS);
		switch (router_meter->priced(req, ms->call, ms->ids, ms->nids,
		    ms->priced)) {
		case ROUTER_METER_WAIT:
			return (HTTP_STATE_RETRY);
		case ROUTER_METER_OK:
			break;
		default:
			return (HTTP_STATE_COMPLETE);
		}
	}

	req->fsm_state = MODELS_REPLY;
	return (HTTP_STATE_CONTINUE);
}

static int
models_visible(const struct tg_principal *who, const struct router_model *m)
{
	return (tg_model_allowed(who->allowed_models, who->nallowed, m->id));
}

static int
models_list(struct http_request *req)
{
	struct models_state		*ms = tg_state(req);
	const struct tg_principal	*who = &tg_ctx(req)->who;
	const struct router_catalog	*cat = ms->conf->cat;
	const struct router_alias	*a;
	const struct router_model	*m;
	json_t				*data, *doc;
	int				 i, j, k, ok, by_name;

	data = json_array();
	for (i = 0, k = 0; i < cat->nmodels; i++) {
		m = &cat->models[i];
		if (!router_provider_usable(m->provider))
			continue;
		ok = ms->priced[k++];
		if (!ok || !models_visible(who, m))
			continue;
		json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s}",
		    "id", m->id, "object", "model",
		    "created", (json_int_t)cat->created,
		    "owned_by", m->provider->name));
	}

	/* An alias is listed when some target it would use is listed. */
	for (i = 0; i < cat->naliases; i++) {
		a = &cat->aliases[i];
		by_name = who->nallowed == 0 || tg_model_allowed(
		    who->allowed_models, who->nallowed, a->name);
		ok = 0;
		for (j = 0; j < a->ntargets && !ok; j++) {
			m = a->targets[j];
			if (!router_provider_usable(m->provider))
				continue;
			for (k = 0; k < ms->nids; k++) {
				if (ms->ids[k] == m->id)
					break;
			}
			if (k < ms->nids && ms->priced[k] &&
			    (by_name || models_visible(who, m)))
				ok = 1;
		}
		if (!ok)
			continue;
		json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s}",
		    "id", a->name, "object", "model",
		    "created", (json_int_t)cat->created,
		    "owned_by", "tollgate"));
	}

	doc = json_pack("{s:s, s:o, s:n}", "object", "list", "data", data,
	    "next_cursor");
	tg_http_json_steal(req, 200, doc);
	return (HTTP_STATE_COMPLETE);
}

static void
models_free(struct http_request *req, void *arg)
{
	struct models_state	*ms = arg;

	(void)req;
	if (ms->call != NULL)
		router_call_release(ms->call);
	if (ms->conf != NULL)
		router_conf_drop(ms->conf);
}
