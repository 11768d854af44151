/*
 * The router catalog (see catalog.h): conf/router.json plus the
 * environment, checked the way relayd's load_config checks its file:
 * every problem is counted with its place ("providers[2] (groq):
 * timeouts.idle_ms ...") and nothing is used unless there were none.
 * Unknown keys are errors too, so a typo never silently falls back to a
 * default.
 *
 * Secrets: provider keys come only from the environment, are checked
 * for control characters (they become HTTP header values) and are never
 * written into an error line.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "router/catalog.h"
#include "router/upstream.h"

#define CONF_VAR	"TOLLGATE_ROUTER_CONFIG"

int	(*router_catalog_cooling)(const struct router_catalog *,
	    const struct router_model *);


/* Defaults for what neither a provider nor "defaults" sets. */
#define DEF_CONNECT_MS		10000
#define DEF_FIRST_BYTE_MS	60000
#define DEF_IDLE_MS		60000
#define DEF_TOTAL_MS		600000
#define DEF_RETRIES		1
#define DEF_BACKOFF_MS		500
#define DEF_RETRY_AFTER_CAP_MS	10000
#define DEF_COOLDOWN_AFTER	5
#define DEF_COOLDOWN_MS		30000
#define DEF_KEEPALIVE_MS	15000

#define MS_MAX			3600000
#define TOKENS_MAX		100000000

struct cat_ctx {
	struct router_catalog	*cat;
	const char		*source;
	int			 production;
	router_getenv_fn	 get;
	struct tg_config_errors	*errs;
	char			 where[160];
};

/* The per-provider settings "defaults" may also carry. */
struct cat_tuning {
	long	connect_ms;
	long	first_byte_ms;
	long	idle_ms;
	long	total_ms;
	long	retries;
	long	backoff_ms;
	long	retry_after_cap_ms;
	long	cooldown_after;
	long	cooldown_ms;
	long	keepalive_ms;
};

static const char *top_keys[] = { "defaults", "providers", "aliases", NULL };
static const char *tuning_keys[] = { "timeouts", "retries", "backoff_ms",
	"retry_after_cap_ms", "cooldown_after", "cooldown_ms", "keepalive_ms",
	NULL };
static const char *provider_keys[] = { "name", "family", "base_url",
	"api_key_env", "api_key_required", "timeouts", "retries", "backoff_ms",
	"retry_after_cap_ms", "cooldown_after", "cooldown_ms", "keepalive_ms",
	"max_tokens_field", "stream_usage", "chunk_delay_ms", "models",
	"auth", "headers", "query", NULL };
static const char *timeout_keys[] = { "connect_ms", "first_byte_ms",
	"idle_ms", "total_ms", NULL };
static const char *model_keys[] = { "name", "max_output_tokens", "chat",
	"embeddings", "context_length", NULL };

static void	cat_error(struct cat_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	cat_unknown_keys(struct cat_ctx *, const json_t *,
		    const char **, const char *);
static int	cat_int(struct cat_ctx *, const json_t *, const char *,
		    long, long, long *);
static int	cat_bool(struct cat_ctx *, const json_t *, const char *,
		    int *);
static void	cat_tuning(struct cat_ctx *, const json_t *,
		    struct cat_tuning *);
static int	cat_name_valid(const char *, size_t);
static int	cat_model_name_valid(const char *);
static int	cat_env_name_valid(const char *);
static void	cat_env_prefix(const char *, char *, size_t);
static int	cat_url_check(const char *, int *, int *);
static void	cat_provider(struct cat_ctx *, const json_t *, int,
		    const struct cat_tuning *);
static void	cat_max_tokens_field(struct cat_ctx *, const json_t *,
		    struct router_provider *);
static void	cat_provider_env(struct cat_ctx *, struct router_provider *,
		    const char *);
static void	cat_auth(struct cat_ctx *, const json_t *,
		    struct router_provider *);
static void	cat_headers(struct cat_ctx *, const json_t *,
		    struct router_provider *);
static int	cat_header_name_ok(const char *);
static int	cat_header_value_ok(const char *);
static void	cat_query(struct cat_ctx *, const json_t *,
		    struct router_provider *);
static int	cat_model_slots_ok(const char *, const char *);
static void	*cat_malloc(size_t);
static void	cat_models(struct cat_ctx *, const json_t *,
		    const struct router_provider *);
static void	cat_aliases(struct cat_ctx *, const json_t *);
static int	cat_alias(struct cat_ctx *, struct router_alias *,
		    const char *, const json_t *);
static int	cat_tier(struct cat_ctx *, struct router_alias *,
		    const json_t *, size_t);
static int	cat_alias_target(struct cat_ctx *, struct router_alias *,
		    const json_t *, const char *);
static void	cat_alias_route(const struct router_catalog *,
		    const struct router_alias *, int, struct router_route *,
		    int *);
static const struct router_model *cat_model_find(
		    const struct router_catalog *, const char *, size_t,
		    const char *);
static int	cat_route_add(struct router_route *,
		    const struct router_model *, int);

int
router_catalog_load(struct router_catalog *cat, const char *path,
    int production, router_getenv_fn get, struct tg_config_errors *errs)
{
	FILE		*fp;
	char		*text;
	size_t		 len, cap, n;
	int		 ok;

	if ((fp = fopen(path, "r")) == NULL) {
		memset(cat, 0, sizeof(*cat));
		tg_config_error(errs, "%s: cannot read %s: %s", CONF_VAR, path,
		    strerror(errno));
		return (0);
	}

	len = 0;
	cap = 65536;
	text = malloc(cap);
	while (text != NULL && (n = fread(text + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len == cap) {
			char	*t;

			if (cap >= 16 * 1024 * 1024 ||
			    (t = realloc(text, cap * 2)) == NULL) {
				free(text);
				text = NULL;
				break;
			}
			text = t;
			cap *= 2;
		}
	}
	fclose(fp);

	if (text == NULL) {
		memset(cat, 0, sizeof(*cat));
		tg_config_error(errs, "%s: %s is too large (16 MiB at most)",
		    CONF_VAR, path);
		return (0);
	}

	ok = router_catalog_parse(cat, text, len, path, production, get, errs);
	free(text);
	return (ok);
}

int
router_catalog_parse(struct router_catalog *cat, const char *text,
    size_t len, const char *source, int production, router_getenv_fn get,
    struct tg_config_errors *errs)
{
	struct cat_ctx		 ctx;
	struct cat_tuning	 defaults;
	json_error_t		 jerr;
	json_t			*doc, *providers, *p;
	size_t			 i;
	int			 before;

	memset(cat, 0, sizeof(*cat));
	memset(&ctx, 0, sizeof(ctx));
	ctx.cat = cat;
	ctx.source = source;
	ctx.production = production;
	ctx.get = get;
	ctx.errs = errs;
	before = errs->count;
	cat->created = (int64_t)time(NULL);

	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		cat_error(&ctx, "line %d, column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return (0);
	}
	if (!json_is_object(doc)) {
		cat_error(&ctx, "must be a JSON object");
		json_decref(doc);
		return (0);
	}
	cat_unknown_keys(&ctx, doc, top_keys, "");

	defaults.connect_ms = DEF_CONNECT_MS;
	defaults.first_byte_ms = DEF_FIRST_BYTE_MS;
	defaults.idle_ms = DEF_IDLE_MS;
	defaults.total_ms = DEF_TOTAL_MS;
	defaults.retries = DEF_RETRIES;
	defaults.backoff_ms = DEF_BACKOFF_MS;
	defaults.retry_after_cap_ms = DEF_RETRY_AFTER_CAP_MS;
	defaults.cooldown_after = DEF_COOLDOWN_AFTER;
	defaults.cooldown_ms = DEF_COOLDOWN_MS;
	defaults.keepalive_ms = DEF_KEEPALIVE_MS;
	if ((p = json_object_get(doc, "defaults")) != NULL) {
		(void)snprintf(ctx.where, sizeof(ctx.where), "defaults: ");
		if (!json_is_object(p)) {
			cat_error(&ctx, "must be an object");
		} else {
			cat_unknown_keys(&ctx, p, tuning_keys, "");
			cat_tuning(&ctx, p, &defaults);
		}
		ctx.where[0] = '\0';
	}

	providers = json_object_get(doc, "providers");
	if (!json_is_array(providers) || json_array_size(providers) == 0) {
		cat_error(&ctx, "\"providers\" must be a non-empty array");
	} else if (json_array_size(providers) > ROUTER_PROVIDERS_MAX) {
		cat_error(&ctx, "at most %d providers", ROUTER_PROVIDERS_MAX);
	} else {
		json_array_foreach(providers, i, p)
			cat_provider(&ctx, p, (int)i, &defaults);
	}
	ctx.where[0] = '\0';

	if ((p = json_object_get(doc, "aliases")) != NULL)
		cat_aliases(&ctx, p);

	json_decref(doc);

	if (errs->count != before) {
		router_catalog_free(cat);
		return (0);
	}

	return (1);
}

void
router_catalog_free(struct router_catalog *cat)
{
	int	i, j;

	for (i = 0; i < cat->nproviders; i++) {
		free(cat->providers[i].base_url);
		free(cat->providers[i].query);
		for (j = 0; j < cat->providers[i].nheaders; j++)
			free(cat->providers[i].headers[j]);
		if (cat->providers[i].api_key != NULL) {
			explicit_bzero(cat->providers[i].api_key,
			    strlen(cat->providers[i].api_key));
			free(cat->providers[i].api_key);
		}
	}
	for (i = 0; i < cat->naliases; i++)
		free(cat->aliases[i].current);
	memset(cat, 0, sizeof(*cat));
}

const struct router_family *
router_family_find(const char *name)
{
	if (!strcmp(name, "openai"))
		return (&router_family_openai);
	if (!strcmp(name, "echo"))
		return (&router_family_echo);
	if (!strcmp(name, "anthropic"))
		return (&router_family_anthropic);
	if (!strcmp(name, "gemini"))
		return (&router_family_gemini);

	return (NULL);
}

int
router_provider_usable(const struct router_provider *p)
{
	return (p->api_key != NULL || !p->key_required);
}

const struct router_provider *
router_catalog_provider(const struct router_catalog *cat, const char *name)
{
	int	i;

	for (i = 0; i < cat->nproviders; i++) {
		if (!strcmp(cat->providers[i].name, name))
			return (&cat->providers[i]);
	}

	return (NULL);
}

/*
 * name: an alias (exact), else provider and model split at the first
 * ':' or '/'. Only targets of the wanted kind are kept; an alias whose
 * every target is of another kind is WRONG_KIND. An alias's weighted
 * tiers make their pick for this call here (weights.h).
 */
int
router_catalog_resolve(const struct router_catalog *cat, const char *name,
    int kind, struct router_route *route)
{
	const struct router_model	*m;
	const struct router_alias	*a;
	size_t				 plen;
	int				 i, wrong;

	memset(route, 0, sizeof(*route));
	wrong = 0;

	for (i = 0; i < cat->naliases; i++) {
		a = &cat->aliases[i];
		if (strcmp(a->name, name))
			continue;
		cat_alias_route(cat, a, kind, route, &wrong);
		if (route->ntargets > 0)
			return (ROUTER_RESOLVE_OK);
		return (wrong ? ROUTER_RESOLVE_WRONG_KIND :
		    ROUTER_RESOLVE_NOT_FOUND);
	}

	plen = strcspn(name, ":/");
	if (name[plen] == '\0' || plen == 0 || name[plen + 1] == '\0')
		return (ROUTER_RESOLVE_NOT_FOUND);

	if ((m = cat_model_find(cat, name, plen, name + plen + 1)) == NULL)
		return (ROUTER_RESOLVE_NOT_FOUND);
	if (!cat_route_add(route, m, kind))
		return (ROUTER_RESOLVE_WRONG_KIND);
	return (ROUTER_RESOLVE_OK);
}

/*
 * The alias's targets in this call's order. A weighted pick considers
 * the targets that serve kind, can be called (a key) and are not
 * cooling down; *wrong is set when a target of another kind was left
 * out.
 */
static void
cat_alias_route(const struct router_catalog *cat,
    const struct router_alias *a, int kind, struct router_route *route,
    int *wrong)
{
	const struct router_model	*m;
	int				 eligible[ROUTER_CHAIN_MAX];
	int				 order[ROUTER_CHAIN_MAX];
	int				 j, n;

	route->alias = a;
	for (j = 0; j < a->ntargets; j++) {
		order[j] = j;
		if (a->current == NULL)
			continue;
		m = a->targets[j];
		eligible[j] = ((kind == ROUTER_KIND_CHAT && m->chat) ||
		    (kind == ROUTER_KIND_EMBED && m->embeddings)) &&
		    router_provider_usable(m->provider) &&
		    (router_catalog_cooling == NULL ||
		    !router_catalog_cooling(cat, m));
	}
	n = a->ntargets;
	if (a->current != NULL)
		n = router_tiers_order(&a->tiers, a->current, eligible, order);

	for (j = 0; j < n; j++) {
		if (!cat_route_add(route, a->targets[order[j]], kind))
			*wrong = 1;
	}
}

/* Appends m to route when it serves kind; 0 when it does not. */
static int
cat_route_add(struct router_route *route, const struct router_model *m,
    int kind)
{
	struct router_target	*t;

	if ((kind == ROUTER_KIND_CHAT && !m->chat) ||
	    (kind == ROUTER_KIND_EMBED && !m->embeddings))
		return (0);

	route->models[route->ntargets] = m;
	t = &route->targets[route->ntargets++];
	t->provider = m->provider;
	(void)snprintf(t->model, ROUTER_MODEL_MAX, "%s", m->name);
	t->max_output_tokens = m->max_output_tokens;
	return (1);
}

static const struct router_model *
cat_model_find(const struct router_catalog *cat, const char *provider,
    size_t plen, const char *model)
{
	const struct router_model	*m;
	int				 i;

	for (i = 0; i < cat->nmodels; i++) {
		m = &cat->models[i];
		if (strlen(m->provider->name) == plen &&
		    !strncmp(m->provider->name, provider, plen) &&
		    !strcmp(m->name, model))
			return (m);
	}

	return (NULL);
}

static void
cat_error(struct cat_ctx *ctx, const char *fmt, ...)
{
	va_list		ap;
	char		msg[200];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	tg_config_error(ctx->errs, "%s: %s: %s%s", CONF_VAR, ctx->source,
	    ctx->where, msg);
}

static void
cat_unknown_keys(struct cat_ctx *ctx, const json_t *obj, const char **known,
    const char *prefix)
{
	const char	*key;
	json_t		*v;
	int		 i;

	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; known[i] != NULL; i++) {
			if (!strcmp(known[i], key))
				break;
		}
		if (known[i] == NULL)
			cat_error(ctx, "unknown key \"%s%.40s\"", prefix, key);
	}
}

/* Returns 1 when the key is present and valid (out set). */
static int
cat_int(struct cat_ctx *ctx, const json_t *obj, const char *key, long min,
    long max, long *out)
{
	json_t		*v;
	json_int_t	 n;

	if ((v = json_object_get(obj, key)) == NULL)
		return (0);

	if (!json_is_integer(v) || (n = json_integer_value(v)) < min ||
	    n > max) {
		cat_error(ctx, "%s must be an integer from %ld to %ld", key,
		    min, max);
		return (0);
	}

	*out = (long)n;
	return (1);
}

static int
cat_bool(struct cat_ctx *ctx, const json_t *obj, const char *key, int *out)
{
	json_t	*v;

	if ((v = json_object_get(obj, key)) == NULL)
		return (0);

	if (!json_is_boolean(v)) {
		cat_error(ctx, "%s must be true or false", key);
		return (0);
	}

	*out = json_is_true(v);
	return (1);
}

static void
cat_tuning(struct cat_ctx *ctx, const json_t *obj, struct cat_tuning *t)
{
	json_t	*to;
	size_t	 saved;

	if ((to = json_object_get(obj, "timeouts")) != NULL) {
		saved = strlen(ctx->where);
		(void)snprintf(ctx->where + saved, sizeof(ctx->where) - saved,
		    "timeouts.");
		if (!json_is_object(to)) {
			ctx->where[saved] = '\0';
			cat_error(ctx, "timeouts must be an object");
		} else {
			cat_unknown_keys(ctx, to, timeout_keys, "");
			(void)cat_int(ctx, to, "connect_ms", 1, MS_MAX,
			    &t->connect_ms);
			(void)cat_int(ctx, to, "first_byte_ms", 1, MS_MAX,
			    &t->first_byte_ms);
			(void)cat_int(ctx, to, "idle_ms", 1, MS_MAX,
			    &t->idle_ms);
			(void)cat_int(ctx, to, "total_ms", 1, MS_MAX,
			    &t->total_ms);
			ctx->where[saved] = '\0';
		}
	}

	(void)cat_int(ctx, obj, "retries", 0, 10, &t->retries);
	(void)cat_int(ctx, obj, "backoff_ms", 0, 60000, &t->backoff_ms);
	(void)cat_int(ctx, obj, "retry_after_cap_ms", 0, 600000,
	    &t->retry_after_cap_ms);
	(void)cat_int(ctx, obj, "cooldown_after", 0, 1000, &t->cooldown_after);
	(void)cat_int(ctx, obj, "cooldown_ms", 1, MS_MAX, &t->cooldown_ms);
	/* 0: no keepalive comments while a stream waits for content. */
	(void)cat_int(ctx, obj, "keepalive_ms", 0, MS_MAX, &t->keepalive_ms);
}

/* Provider and alias names: [a-z0-9][a-z0-9_.-]*, short. */
static int
cat_name_valid(const char *s, size_t max)
{
	size_t	i;

	if (s[0] == '\0' || strlen(s) >= max)
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]))
			continue;
		if (i > 0 && (s[i] == '-' || s[i] == '_' || s[i] == '.'))
			continue;
		return (0);
	}

	return (1);
}

/* Model names: printable ASCII without spaces; '/' and ':' allowed. */
static int
cat_model_name_valid(const char *s)
{
	size_t	i;

	if (s[0] == '\0' || strlen(s) >= ROUTER_MODEL_MAX)
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			return (0);
	}

	return (1);
}

static int
cat_env_name_valid(const char *s)
{
	size_t	i;

	if (s[0] == '\0' || strlen(s) >= ROUTER_ENV_MAX || isdigit(
	    (unsigned char)s[0]))
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (!isupper((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_')
			return (0);
	}

	return (1);
}

/* "open-router.x" -> "OPEN_ROUTER_X" */
static void
cat_env_prefix(const char *name, char *out, size_t len)
{
	size_t	i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++) {
		out[i] = isalnum((unsigned char)name[i]) ?
		    toupper((unsigned char)name[i]) : '_';
	}
	out[i] = '\0';
}

/* An http(s) URL with a host; *https and *loopback describe it. */
static int
cat_url_check(const char *url, int *https, int *loopback)
{
	const char	*host;
	size_t		 hlen;

	if (!strncmp(url, "https://", 8)) {
		*https = 1;
		host = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		*https = 0;
		host = url + 7;
	} else {
		return (0);
	}

	if (strlen(url) > 1024 || strpbrk(url, " \t\r\n\"\\?#") != NULL)
		return (0);
	if (host[0] == '[')
		hlen = strcspn(host, "]") + 1;
	else
		hlen = strcspn(host, ":/");
	if (hlen == 0 || !cat_model_slots_ok(url, host + strcspn(host, "/")))
		return (0);

	*loopback = (hlen == 9 && !strncasecmp(host, "localhost", 9)) ||
	    (hlen == 10 && !strncasecmp(host, "localhost.", 10)) ||
	    (hlen >= 4 && !strncmp(host, "127.", 4)) ||
	    (hlen == 5 && !strncmp(host, "[::1]", 5));
	return (1);
}

/*
 * Braces only as "{model}" (the upstream model, for providers whose
 * model is in the path, as Azure OpenAI's deployments), and only in the
 * path, never in the host.
 */
static int
cat_model_slots_ok(const char *url, const char *path)
{
	const char	*b;

	for (b = url; (b = strpbrk(b, "{}")) != NULL; b += 7) {
		if (strncmp(b, "{model}", 7) || b < path)
			return (0);
	}

	return (1);
}

static void
cat_provider(struct cat_ctx *ctx, const json_t *obj, int idx,
    const struct cat_tuning *defaults)
{
	struct router_catalog	*cat = ctx->cat;
	struct router_provider	*p;
	struct cat_tuning	 t;
	const char		*name, *family, *s;
	json_t			*v;
	long			 delay;
	int			 b, i;

	(void)snprintf(ctx->where, sizeof(ctx->where), "providers[%d]: ",
	    idx);
	if (!json_is_object(obj)) {
		cat_error(ctx, "must be an object");
		return;
	}

	name = json_string_value(json_object_get(obj, "name"));
	if (name == NULL || !cat_name_valid(name, ROUTER_NAME_MAX)) {
		cat_error(ctx, "\"name\" must be a lowercase name "
		    "([a-z0-9][a-z0-9._-]*, at most %d characters)",
		    ROUTER_NAME_MAX - 1);
		return;
	}
	(void)snprintf(ctx->where, sizeof(ctx->where), "providers[%d] (%s): ",
	    idx, name);
	if (router_catalog_provider(cat, name) != NULL) {
		cat_error(ctx, "a provider of this name is already defined");
		return;
	}
	cat_unknown_keys(ctx, obj, provider_keys, "");

	p = &cat->providers[cat->nproviders];
	memset(p, 0, sizeof(*p));
	(void)snprintf(p->name, sizeof(p->name), "%s", name);
	p->index = cat->nproviders;

	family = json_string_value(json_object_get(obj, "family"));
	if (family == NULL) {
		cat_error(ctx, "\"family\" must be one of openai, anthropic, "
		    "gemini, echo");
		return;
	}
	if ((p->family = router_family_find(family)) == NULL) {
		cat_error(ctx, "family \"%.32s\" is not one of openai, "
		    "anthropic, gemini, echo", family);
		return;
	}

	t = *defaults;
	cat_tuning(ctx, obj, &t);
	if (t.connect_ms > t.total_ms || t.first_byte_ms > t.total_ms ||
	    t.idle_ms > t.total_ms)
		cat_error(ctx, "timeouts: connect_ms, first_byte_ms and idle_ms "
		    "must not exceed total_ms");
	p->connect_ms = t.connect_ms;
	p->first_byte_ms = t.first_byte_ms;
	p->idle_ms = t.idle_ms;
	p->total_ms = t.total_ms;
	p->retries = (int)t.retries;
	p->backoff_ms = t.backoff_ms;
	p->retry_after_cap_ms = t.retry_after_cap_ms;
	p->cooldown_after = (int)t.cooldown_after;
	p->cooldown_ms = t.cooldown_ms;
	p->keepalive_ms = t.keepalive_ms;
	cat_max_tokens_field(ctx, obj, p);
	cat_auth(ctx, obj, p);

	p->stream_usage = 1;
	if (cat_bool(ctx, obj, "stream_usage", &b))
		p->stream_usage = b;

	delay = 0;
	if (cat_int(ctx, obj, "chunk_delay_ms", 0, 10000, &delay) &&
	    p->family->local == NULL)
		cat_error(ctx, "chunk_delay_ms is only for the echo family");
	p->chunk_delay_ms = delay;

	p->key_required = p->family->local == NULL;
	if (cat_bool(ctx, obj, "api_key_required", &b))
		p->key_required = b;

	if ((v = json_object_get(obj, "base_url")) != NULL) {
		if ((s = json_string_value(v)) == NULL) {
			cat_error(ctx, "base_url must be a string");
		} else {
			p->base_url = tg_config_strdup(s);
		}
	}

	if ((v = json_object_get(obj, "api_key_env")) != NULL) {
		s = json_string_value(v);
		if (s == NULL || !cat_env_name_valid(s))
			cat_error(ctx, "api_key_env must be an environment "
			    "variable name ([A-Z_][A-Z0-9_]*)");
		else
			(void)snprintf(p->key_env, sizeof(p->key_env), "%s", s);
	}
	if (p->key_env[0] == '\0') {
		cat_env_prefix(p->name, p->key_env, sizeof(p->key_env) - 8);
		(void)snprintf(p->key_env + strlen(p->key_env),
		    sizeof(p->key_env) - strlen(p->key_env), "_API_KEY");
	}

	/* From here on the provider is counted (and freed on failure). */
	cat->nproviders++;
	cat_headers(ctx, obj, p);
	cat_query(ctx, obj, p);
	cat_provider_env(ctx, p, name);

	v = json_object_get(obj, "models");
	if (!json_is_array(v) || json_array_size(v) == 0) {
		cat_error(ctx, "\"models\" must be a non-empty array");
		return;
	}
	cat_models(ctx, v, p);

	for (i = 0; i < cat->nproviders - 1; i++) {
		if (!strcasecmp(cat->providers[i].key_env, p->key_env) &&
		    strcmp(cat->providers[i].key_env, p->key_env))
			cat_error(ctx, "api_key_env differs from provider %s "
			    "only by case", cat->providers[i].name);
	}
}

/*
 * The field a clamped max_tokens goes in when the client sent none:
 * OpenAI's newer models refuse the legacy max_tokens, many compatible
 * servers know it alone. The other families translate either field.
 */
static void
cat_max_tokens_field(struct cat_ctx *ctx, const json_t *obj,
    struct router_provider *p)
{
	json_t		*v;
	const char	*s;

	p->max_tokens_field = "max_tokens";
	if ((v = json_object_get(obj, "max_tokens_field")) == NULL)
		return;
	s = json_string_value(v);
	if (s == NULL || (strcmp(s, "max_tokens") &&
	    strcmp(s, "max_completion_tokens"))) {
		cat_error(ctx, "max_tokens_field must be \"max_tokens\" or "
		    "\"max_completion_tokens\"");
		return;
	}
	if (p->family != &router_family_openai) {
		cat_error(ctx, "max_tokens_field is only for the openai family");
		return;
	}
	if (!strcmp(s, "max_completion_tokens"))
		p->max_tokens_field = "max_completion_tokens";
}

/* "auth": how the key goes upstream; the family's own by default. */
static void
cat_auth(struct cat_ctx *ctx, const json_t *obj, struct router_provider *p)
{
	static const struct {
		const char	*name;
		int		 auth;
	} schemes[] = {
		{ "bearer", ROUTER_AUTH_BEARER },
		{ "api-key", ROUTER_AUTH_API_KEY },
		{ "x-api-key", ROUTER_AUTH_X_API_KEY },
		{ "none", ROUTER_AUTH_NONE },
	};
	const char	*s;
	json_t		*v;
	size_t		 i;

	p->auth = ROUTER_AUTH_DEFAULT;
	if ((v = json_object_get(obj, "auth")) == NULL)
		return;
	s = json_string_value(v);
	for (i = 0; s != NULL && i < sizeof(schemes) / sizeof(schemes[0]);
	    i++) {
		if (!strcmp(s, schemes[i].name)) {
			p->auth = schemes[i].auth;
			return;
		}
	}
	cat_error(ctx, "auth must be \"bearer\", \"api-key\", \"x-api-key\" "
	    "or \"none\"");
}

/*
 * "headers": extra request headers. Those that belong to the
 * connection or the body (hop-by-hop, Host, Content-Length, ...) are
 * curl's and the family's to send; the key's header is "auth"'s.
 */
static void
cat_headers(struct cat_ctx *ctx, const json_t *obj, struct router_provider *p)
{
	static const char	*refused[] = { "connection", "keep-alive",
	    "proxy-connection", "transfer-encoding", "te", "trailer",
	    "upgrade", "host", "content-length", "content-type", "expect",
	    "accept", "accept-encoding", "authorization", "proxy-authorization",
	    "api-key", "x-api-key", "x-goog-api-key", "cookie", NULL };
	const char		*name, *value;
	json_t			*h, *v;
	size_t			 len;
	int			 i;

	if ((h = json_object_get(obj, "headers")) == NULL)
		return;
	if (!json_is_object(h)) {
		cat_error(ctx, "headers must be an object of strings");
		return;
	}
	if (json_object_size(h) > ROUTER_EXTRA_HEADERS_MAX) {
		cat_error(ctx, "headers: at most %d", ROUTER_EXTRA_HEADERS_MAX);
		return;
	}

	json_object_foreach(h, name, v) {
		if (!cat_header_name_ok(name)) {
			cat_error(ctx, "headers: \"%.40s\" is not a header "
			    "name", name);
			continue;
		}
		for (i = 0; refused[i] != NULL; i++) {
			if (!strcasecmp(refused[i], name))
				break;
		}
		if (refused[i] != NULL) {
			cat_error(ctx, "headers: %s is set by the router%s", name,
			    strstr(name, "uth") != NULL || strstr(name,
			    "key") != NULL ? " (use \"auth\")" : "");
			continue;
		}
		if ((value = json_string_value(v)) == NULL ||
		    !cat_header_value_ok(value)) {
			cat_error(ctx, "headers: %s must be a non-empty string "
			    "of printable characters (at most 1024)", name);
			continue;
		}
		len = strlen(name) + strlen(value) + 3;
		p->headers[p->nheaders] = cat_malloc(len);
		(void)snprintf(p->headers[p->nheaders++], len, "%s: %s", name,
		    value);
	}
}

/* An RFC 9110 token, at most 64 bytes. */
static int
cat_header_name_ok(const char *s)
{
	size_t	i;

	if (s[0] == '\0' || strlen(s) > 64)
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return (0);
	}

	return (1);
}

/* Printable (tabs and UTF-8 allowed), not blank at either end. */
static int
cat_header_value_ok(const char *s)
{
	size_t	i, len;

	len = strlen(s);
	if (len == 0 || len > 1024 || s[0] == ' ' || s[0] == '\t' ||
	    s[len - 1] == ' ' || s[len - 1] == '\t')
		return (0);
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return (0);
	}

	return (1);
}

/* Like tg_config_strdup(): start-up memory, or exit. */
static void *
cat_malloc(size_t len)
{
	void	*p;

	if ((p = malloc(len)) == NULL) {
		fprintf(stderr, "tollgate: out of memory\n");
		exit(1);
	}

	return (p);
}

/* "query": extra query parameters (Azure's api-version), encoded once. */
static void
cat_query(struct cat_ctx *ctx, const json_t *obj, struct router_provider *p)
{
	const char	*name, *value;
	json_t		*q, *v;
	char		*out;
	size_t		 cap, n;

	if ((q = json_object_get(obj, "query")) == NULL)
		return;
	if (!json_is_object(q) || json_object_size(q) == 0 ||
	    json_object_size(q) > 16) {
		cat_error(ctx, "query must be an object of 1 to 16 strings");
		return;
	}

	cap = 1;
	json_object_foreach(q, name, v) {
		if ((value = json_string_value(v)) == NULL || name[0] == '\0' ||
		    strlen(name) > 128 || strlen(value) > 1024) {
			cat_error(ctx, "query: %.40s must be a string (names up "
			    "to 128 bytes, values up to 1024)", name);
			return;
		}
		cap += 3 * (strlen(name) + strlen(value)) + 2;
	}

	out = cat_malloc(cap);
	n = 0;
	json_object_foreach(q, name, v) {
		if (n > 0)
			out[n++] = '&';
		n += router_url_encode(name, out + n, cap - n);
		out[n++] = '=';
		n += router_url_encode(json_string_value(v), out + n, cap - n);
	}
	out[n] = '\0';
	p->query = out;
}

/* <PROVIDER>_BASE_URL overrides the file; the key is read from key_env. */
static void
cat_provider_env(struct cat_ctx *ctx, struct router_provider *p,
    const char *name)
{
	char		 var[ROUTER_ENV_MAX + 16], msg[160];
	const char	*v;
	size_t		 len, i;
	int		 https, loopback;

	cat_env_prefix(name, var, ROUTER_ENV_MAX);
	(void)snprintf(var + strlen(var), sizeof(var) - strlen(var),
	    "_BASE_URL");

	if ((v = ctx->get(var)) != NULL && *v != '\0') {
		free(p->base_url);
		p->base_url = tg_config_strdup(v);
		if (!cat_url_check(v, &https, &loopback)) {
			tg_config_error(ctx->errs, "%s: must be an http:// or "
			    "https:// URL with a host (no query or fragment; "
			    "braces only as {model} in the path)",
			    var);
			return;
		}
	} else {
		var[0] = '\0';
		if (p->family->local != NULL) {
			if (p->base_url != NULL)
				cat_error(ctx, "base_url: the echo family has "
				    "no network");
		} else if (p->base_url == NULL) {
			cat_error(ctx, "base_url is required for family %s",
			    p->family->name);
			return;
		}
		if (p->base_url != NULL &&
		    !cat_url_check(p->base_url, &https, &loopback)) {
			cat_error(ctx, "base_url must be an http:// or https:// "
			    "URL with a host (no query or fragment; braces only "
			    "as {model} in the path)");
			return;
		}
	}

	if (p->base_url != NULL) {
		len = strlen(p->base_url);
		while (len > 0 && p->base_url[len - 1] == '/')
			p->base_url[--len] = '\0';
	}

	if ((v = ctx->get(p->key_env)) != NULL && *v != '\0') {
		for (i = 0; v[i] != '\0'; i++) {
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				break;
		}
		if (v[i] != '\0' || i > 4096) {
			tg_config_error(ctx->errs, "%s: contains control "
			    "characters or is too long", p->key_env);
			return;
		}
		p->api_key = tg_config_strdup(v);
	}

	if (ctx->production && p->base_url != NULL && p->api_key != NULL &&
	    cat_url_check(p->base_url, &https, &loopback) && !https &&
	    !loopback) {
		(void)snprintf(msg, sizeof(msg), "provider %s has a key, so "
		    "its base URL must be https when TOLLGATE_ENV=production",
		    name);
		if (var[0] != '\0')
			tg_config_error(ctx->errs, "%s: %s", var, msg);
		else
			cat_error(ctx, "base_url: %s", msg);
	}
}

static void
cat_models(struct cat_ctx *ctx, const json_t *arr,
    const struct router_provider *p)
{
	struct router_catalog	*cat = ctx->cat;
	struct router_model	*m;
	const char		*name;
	json_t			*obj;
	size_t			 i, saved;
	long			 cap;
	int			 b;

	saved = strlen(ctx->where);
	json_array_foreach((json_t *)arr, i, obj) {
		ctx->where[saved] = '\0';
		(void)snprintf(ctx->where + saved, sizeof(ctx->where) - saved,
		    "models[%zu]: ", i);
		if (!json_is_object(obj)) {
			cat_error(ctx, "must be an object");
			continue;
		}
		cat_unknown_keys(ctx, obj, model_keys, "");
		name = json_string_value(json_object_get(obj, "name"));
		if (name == NULL || !cat_model_name_valid(name)) {
			cat_error(ctx, "\"name\" must be a model name (printable, "
			    "no spaces, at most %d characters)",
			    ROUTER_MODEL_MAX - 1);
			continue;
		}
		if (cat_model_find(cat, p->name, strlen(p->name), name)) {
			cat_error(ctx, "model \"%s\" is listed twice", name);
			continue;
		}
		if (cat->nmodels >= ROUTER_MODELS_MAX) {
			cat_error(ctx, "at most %d models in all",
			    ROUTER_MODELS_MAX);
			return;
		}

		m = &cat->models[cat->nmodels];
		memset(m, 0, sizeof(*m));
		m->provider = p;
		(void)snprintf(m->name, sizeof(m->name), "%s", name);
		(void)snprintf(m->id, sizeof(m->id), "%s:%s", p->name, name);
		m->chat = 1;
		if (cat_bool(ctx, obj, "chat", &b))
			m->chat = b;
		if (cat_bool(ctx, obj, "embeddings", &b))
			m->embeddings = b;
		if (m->embeddings && p->family->embed_request == NULL)
			cat_error(ctx, "family %s has no embeddings",
			    p->family->name);
		if (!m->chat && !m->embeddings)
			cat_error(ctx, "a model must support chat or embeddings");

		cap = 0;
		if (cat_int(ctx, obj, "max_output_tokens", 1, TOKENS_MAX,
		    &cap))
			m->max_output_tokens = cap;
		else if (m->chat && json_object_get(obj,
		    "max_output_tokens") == NULL)
			cat_error(ctx, "max_output_tokens is required for chat "
			    "models (an integer from 1 to %d)", TOKENS_MAX);
		cap = 0;
		if (cat_int(ctx, obj, "context_length", 1, TOKENS_MAX, &cap))
			m->context_length = cap;
		cat->nmodels++;
	}
	ctx->where[saved] = '\0';
}

static void
cat_aliases(struct cat_ctx *ctx, const json_t *obj)
{
	struct router_catalog	*cat = ctx->cat;
	const char		*name;
	json_t			*v;

	if (!json_is_object(obj)) {
		cat_error(ctx, "\"aliases\" must be an object");
		return;
	}

	json_object_foreach((json_t *)obj, name, v) {
		(void)snprintf(ctx->where, sizeof(ctx->where),
		    "aliases.%.64s: ", name);
		if (!cat_name_valid(name, ROUTER_NAME_MAX)) {
			cat_error(ctx, "an alias name is [a-z0-9][a-z0-9._-]* "
			    "(no ':' or '/')");
			continue;
		}
		if (cat->naliases >= ROUTER_ALIASES_MAX) {
			cat_error(ctx, "at most %d aliases", ROUTER_ALIASES_MAX);
			return;
		}
		if (cat_alias(ctx, &cat->aliases[cat->naliases], name, v))
			cat->naliases++;
	}
	ctx->where[0] = '\0';
}

/*
 * One alias: "provider:model", or an array of tiers, each one such
 * target or {"targets": [...], "weights": [...]}. Returns 1 when a is
 * complete (its round-robin state allocated when a tier is weighted).
 */
static int
cat_alias(struct cat_ctx *ctx, struct router_alias *a, const char *name,
    const json_t *v)
{
	json_t	*tier;
	size_t	 i;
	int	 chat, embed, j;

	memset(a, 0, sizeof(*a));
	(void)snprintf(a->name, sizeof(a->name), "%s", name);

	if (json_is_string(v)) {
		if (!cat_alias_target(ctx, a, v, "target 0"))
			return (0);
		a->tiers.end[a->tiers.ntiers++] = a->ntargets;
	} else if (json_is_array(v) && json_array_size(v) > 0 &&
	    json_array_size(v) <= ROUTER_CHAIN_MAX) {
		json_array_foreach((json_t *)v, i, tier) {
			if (!cat_tier(ctx, a, tier, i))
				return (0);
		}
	} else {
		cat_error(ctx, "must be \"provider:model\" or an array of 1 to "
		    "%d tiers, each \"provider:model\" or {\"targets\": [...], "
		    "\"weights\": [...]}", ROUTER_CHAIN_MAX);
		return (0);
	}

	chat = embed = 1;
	for (j = 0; j < a->ntargets; j++) {
		chat &= a->targets[j]->chat;
		embed &= a->targets[j]->embeddings;
	}
	if (!chat && !embed) {
		cat_error(ctx, "targets must all support chat or all support "
		    "embeddings");
		return (0);
	}

	for (j = 0; j < a->tiers.ntiers; j++) {
		if (a->tiers.end[j] - (j > 0 ? a->tiers.end[j - 1] : 0) > 1) {
			a->current = cat_malloc(sizeof(a->current[0]) *
			    ROUTER_CHAIN_MAX);
			memset(a->current, 0, sizeof(a->current[0]) *
			    ROUTER_CHAIN_MAX);
			break;
		}
	}

	return (1);
}

/* Tier i of alias a: a target, or targets with weights. */
static int
cat_tier(struct cat_ctx *ctx, struct router_alias *a, const json_t *tier,
    size_t i)
{
	static const char	*tier_keys[] = { "targets", "weights", NULL };
	json_t			*targets, *weights, *w;
	char			 what[48];
	size_t			 j, saved;
	int			 first, k, ok;

	(void)snprintf(what, sizeof(what), "tier %zu", i);
	if (json_is_string(tier)) {
		if (!cat_alias_target(ctx, a, tier, what))
			return (0);
		a->tiers.end[a->tiers.ntiers++] = a->ntargets;
		return (1);
	}

	saved = strlen(ctx->where);
	(void)snprintf(ctx->where + saved, sizeof(ctx->where) - saved,
	    "tier %zu: ", i);
	ok = 0;
	targets = json_object_get(tier, "targets");
	weights = json_object_get(tier, "weights");
	if (!json_is_object(tier)) {
		cat_error(ctx, "must be \"provider:model\" or {\"targets\": "
		    "[...], \"weights\": [...]}");
		goto out;
	}
	cat_unknown_keys(ctx, tier, tier_keys, "");
	if (!json_is_array(targets) || json_array_size(targets) == 0) {
		cat_error(ctx, "\"targets\" must be a non-empty array of "
		    "\"provider:model\"");
		goto out;
	}
	if (a->ntargets + json_array_size(targets) > ROUTER_CHAIN_MAX) {
		cat_error(ctx, "at most %d targets in all tiers",
		    ROUTER_CHAIN_MAX);
		goto out;
	}
	if (!json_is_array(weights) ||
	    json_array_size(weights) != json_array_size(targets)) {
		cat_error(ctx, "\"weights\" must be an array of as many "
		    "integers as \"targets\"");
		goto out;
	}

	first = a->ntargets;
	json_array_foreach(targets, j, w) {
		(void)snprintf(what, sizeof(what), "target %zu", j);
		if (!cat_alias_target(ctx, a, w, what))
			goto out;
		for (k = first; k < a->ntargets - 1; k++) {
			if (a->targets[k] == a->targets[a->ntargets - 1]) {
				cat_error(ctx, "target %zu is listed twice", j);
				goto out;
			}
		}
	}
	json_array_foreach(weights, j, w) {
		if (!json_is_integer(w) || json_integer_value(w) < 1 ||
		    json_integer_value(w) > ROUTER_WEIGHT_MAX) {
			cat_error(ctx, "weight %zu must be an integer from 1 to "
			    "%d", j, ROUTER_WEIGHT_MAX);
			goto out;
		}
		a->tiers.weight[first + j] = (int)json_integer_value(w);
	}
	a->tiers.end[a->tiers.ntiers++] = a->ntargets;
	ok = 1;
out:
	ctx->where[saved] = '\0';
	return (ok);
}

/* Appends the target named by v to a (weight 1); what names it. */
static int
cat_alias_target(struct cat_ctx *ctx, struct router_alias *a,
    const json_t *v, const char *what)
{
	const struct router_model	*m;
	const char			*s;
	size_t				 plen;

	if (a->ntargets >= ROUTER_CHAIN_MAX) {
		cat_error(ctx, "at most %d targets in all tiers",
		    ROUTER_CHAIN_MAX);
		return (0);
	}

	s = json_string_value(v);
	plen = s != NULL ? strcspn(s, ":/") : 0;
	if (s == NULL || plen == 0 || s[plen] == '\0' ||
	    (m = cat_model_find(ctx->cat, s, plen, s + plen + 1)) == NULL) {
		cat_error(ctx, "%s is not a configured provider:model", what);
		return (0);
	}

	a->tiers.weight[a->ntargets] = 1;
	a->targets[a->ntargets++] = m;
	return (1);
}
