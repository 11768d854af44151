/*
 * The router module (docs/contract.md §5): its routes, the catalog loaded and
 * checked in the parent before any worker forks (conf/router.json,
 * TOLLGATE_ROUTER_CONFIG), the per-provider upstream metrics, and
 * GET /v1/models, /v1/models/{id} and /api/models (a session's model
 * picker). Chat completions, embeddings, messages and responses go
 * through the relay (relay.c); stored responses (GET and DELETE
 * /v1/responses/{id}) are respstore.c's; token counting is count.c.
 *
 * Every route but /api/models takes an API key (TG_AUTH_API_KEY): the
 * dispatcher has authenticated it before any handler here runs, and
 * tg_ctx(req)->who carries the key's allowed_models (none for a
 * session: every model).
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router.h"
#include "router/respstore.h"
#include "metrics.h"
#include "model.h"

int	router_chat(struct http_request *);
int	router_embeddings(struct http_request *);
int	router_models(struct http_request *);
int	router_model_get(struct http_request *);
int	router_messages(struct http_request *);
int	router_responses(struct http_request *);
int	router_count_tokens(struct http_request *);

struct models_state;

static void	router_parent_init(struct tg_config_errors *);
static const char *router_getenv(const char *);
static int	models_run(struct http_request *, char *);
static char	*models_decode(const char *);
static int	models_list(struct http_request *);
static int	models_priced(struct http_request *);
static void	models_free(struct http_request *, void *);
static int	models_visible(const struct tg_principal *,
		    const struct router_model *);
static int	models_alias_pick(struct models_state *,
		    const struct tg_principal *, const struct router_alias *);
static int	models_same(const char *, const struct router_model *);
static json_t	*models_json(struct models_state *, const char *,
		    const char *, int);

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
	{ HTTP_METHOD_GET, "/v1/models/{*}", router_model_get,
	    TG_AUTH_API_KEY, 0, 0 },
	{ HTTP_METHOD_GET, "/api/models", router_models, TG_AUTH_SESSION,
	    0, 0 },
	{ HTTP_METHOD_POST, "/v1/messages", router_messages, TG_AUTH_API_KEY,
	    TG_ROUTE_ANTHROPIC, 0 },
	{ HTTP_METHOD_POST, "/v1/messages/count_tokens", router_count_tokens,
	    TG_AUTH_API_KEY, TG_ROUTE_ANTHROPIC, 0 },
	{ HTTP_METHOD_POST, "/v1/responses", router_responses, TG_AUTH_API_KEY,
	    0, 0 },
	{ HTTP_METHOD_GET, "/v1/responses/{}", router_responses_get,
	    TG_AUTH_API_KEY, 0, 0 },
	{ HTTP_METHOD_DELETE, "/v1/responses/{}", router_responses_delete,
	    TG_AUTH_API_KEY, 0, 0 },
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

/* The usable models, in catalog order, with their prices. */
struct models_state {
	struct router_conf		*conf;	/* models point into its catalog */
	struct router_call		*call;
	char				*one;	/* /v1/models/{id}: the id */
	const struct router_model	*models[ROUTER_MODELS_MAX];
	const char			*ids[ROUTER_MODELS_MAX];
	int				 priced[ROUTER_MODELS_MAX];
	struct router_price		 prices[ROUTER_MODELS_MAX];
	int				 have_prices;
	int				 nids;
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
router_responses(struct http_request *req)
{
	return (router_relay(req, ROUTER_SURFACE_RESPONSES,
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

/*
 * GET /v1/models, GET /v1/models/{id} and, for the UI's model picker,
 * GET /api/models (a session: every model). A model is listed when its
 * provider can be called, it has a price and the key may call it.
 */
int
router_models(struct http_request *req)
{
	return (models_run(req, NULL));
}

int
router_model_get(struct http_request *req)
{
	const char	*id;
	char		*decoded;

	if (tg_state(req) == NULL) {
		id = tg_param(req, 0);
		if (id == NULL || (decoded = models_decode(id)) == NULL) {
			tg_error(req, 404, "model_not_found", NULL,
			    "The model does not exist");
			return (KORE_RESULT_OK);
		}
		return (models_run(req, decoded));
	}

	return (models_run(req, NULL));
}

static int
models_run(struct http_request *req, char *one)
{
	struct models_state	*ms;
	struct router_catalog	*cat;
	int			 i;

	if ((ms = tg_state(req)) == NULL) {
		ms = tg_state_alloc(req, sizeof(*ms), models_free);
		ms->one = one;
		ms->conf = router_conf_hold();
		cat = ms->conf->cat;
		for (i = 0; i < cat->nmodels; i++) {
			if (!router_provider_usable(cat->models[i].provider))
				continue;
			ms->models[ms->nids] = &cat->models[i];
			ms->ids[ms->nids] = cat->models[i].id;
			ms->priced[ms->nids] = 1;
			ms->nids++;
		}
	}

	return (http_state_run(models_states,
	    sizeof(models_states) / sizeof(models_states[0]), req));
}

/* A path parameter percent-decoded; NULL when malformed or empty. */
static char *
models_decode(const char *s)
{
	char	*out, hex[3];
	size_t	 n;

	out = kore_malloc(strlen(s) + 1);
	for (n = 0; *s != '\0'; n++) {
		if (*s != '%') {
			out[n] = *s++;
			continue;
		}
		if (!isxdigit((unsigned char)s[1]) ||
		    !isxdigit((unsigned char)s[2]))
			break;
		hex[0] = s[1];
		hex[1] = s[2];
		hex[2] = '\0';
		if ((out[n] = (char)strtol(hex, NULL, 16)) == '\0')
			break;
		s += 3;
	}
	out[n] = '\0';
	if (*s != '\0' || n == 0) {
		kore_free(out);
		return (NULL);
	}

	return (out);
}

static int
models_priced(struct http_request *req)
{
	struct models_state	*ms = tg_state(req);

	if (router_meter != NULL && router_meter->priced != NULL) {
		if (ms->call == NULL)
			ms->call = router_call_new(req, ROUTER_ENDPOINT_MODELS);
		switch (router_meter->priced(req, ms->call, ms->ids, ms->nids,
		    ms->priced, ms->prices)) {
		case ROUTER_METER_WAIT:
			return (HTTP_STATE_RETRY);
		case ROUTER_METER_OK:
			ms->have_prices = 1;
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

/* Index in ms of the first listed model an alias would call; -1: none. */
static int
models_alias_pick(struct models_state *ms, const struct tg_principal *who,
    const struct router_alias *a)
{
	int	by_name, j, k;

	by_name = who->nallowed == 0 || tg_model_allowed(who->allowed_models,
	    who->nallowed, a->name);
	for (j = 0; j < a->ntargets; j++) {
		for (k = 0; k < ms->nids; k++) {
			if (ms->models[k] == a->targets[j])
				break;
		}
		if (k < ms->nids && ms->priced[k] &&
		    (by_name || models_visible(who, a->targets[j])))
			return (k);
	}

	return (-1);
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
	int				 i, k;

	data = json_array();
	for (k = 0; k < ms->nids; k++) {
		m = ms->models[k];
		if (!ms->priced[k] || !models_visible(who, m))
			continue;
		if (ms->one != NULL && strcmp(ms->one, m->id) &&
		    !models_same(ms->one, m))
			continue;
		json_array_append_new(data, models_json(ms, m->id,
		    m->provider->name, k));
	}

	/* An alias is listed when some target it would use is listed. */
	for (i = 0; i < cat->naliases; i++) {
		a = &cat->aliases[i];
		if (ms->one != NULL && strcmp(ms->one, a->name))
			continue;
		if ((k = models_alias_pick(ms, who, a)) < 0)
			continue;
		json_array_append_new(data, models_json(ms, a->name, "tollgate",
		    k));
	}

	if (ms->one != NULL) {
		if (json_array_size(data) == 0) {
			json_decref(data);
			tg_error(req, 404, "model_not_found", NULL,
			    "The model `%.200s` does not exist", ms->one);
			return (HTTP_STATE_COMPLETE);
		}
		doc = json_incref(json_array_get(data, 0));
		json_decref(data);
	} else {
		doc = json_pack("{s:s, s:o, s:n}", "object", "list", "data",
		    data, "next_cursor");
	}
	tg_http_json_steal(req, 200, doc);
	return (HTTP_STATE_COMPLETE);
}

/* "provider/model", the other spelling of a model's id. */
static int
models_same(const char *name, const struct router_model *m)
{
	size_t	plen;

	plen = strlen(m->provider->name);
	return (!strncmp(name, m->provider->name, plen) && name[plen] == '/' &&
	    !strcmp(name + plen + 1, m->name));
}

/*
 * One OpenAI model object with Tollgate's additions: the price of the
 * listed model k (for an alias, of the first target it would call),
 * its limits (null when router.json does not say) and the endpoints
 * that take it.
 */
static json_t *
models_json(struct models_state *ms, const char *id, const char *owner,
    int k)
{
	const struct router_model	*m = ms->models[k];
	const struct router_price	*p = &ms->prices[k];
	json_t				*pricing, *endpoints;

	pricing = json_null();
	if (ms->have_prices)
		pricing = json_pack("{s:I, s:I, s:I, s:I, s:I}",
		    "input_micros_per_mtok", (json_int_t)p->input,
		    "cached_input_micros_per_mtok", (json_int_t)p->cached_input,
		    "cache_write_input_micros_per_mtok",
		    (json_int_t)p->cache_write_input,
		    "output_micros_per_mtok", (json_int_t)p->output,
		    "request_fee_micros", (json_int_t)p->request_fee);

	endpoints = json_array();
	if (m->chat) {
		json_array_append_new(endpoints,
		    json_string("/v1/chat/completions"));
		json_array_append_new(endpoints, json_string("/v1/messages"));
		json_array_append_new(endpoints, json_string("/v1/responses"));
		json_array_append_new(endpoints,
		    json_string("/v1/messages/count_tokens"));
	}
	if (m->embeddings)
		json_array_append_new(endpoints, json_string("/v1/embeddings"));

	return (json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o}",
	    "id", id, "object", "model",
	    "created", (json_int_t)ms->conf->cat->created,
	    "owned_by", owner,
	    "pricing", pricing,
	    "context_length", m->context_length > 0 ?
	    json_integer(m->context_length) : json_null(),
	    "max_output_tokens", m->max_output_tokens > 0 ?
	    json_integer(m->max_output_tokens) : json_null(),
	    "endpoints", endpoints));
}

static void
models_free(struct http_request *req, void *arg)
{
	struct models_state	*ms = arg;

	(void)req;
	if (ms->one != NULL)
		kore_free(ms->one);
	if (ms->call != NULL)
		router_call_release(ms->call);
	if (ms->conf != NULL)
		router_conf_drop(ms->conf);
}
