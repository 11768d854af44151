/*
 * The router catalog: conf/router.json parsing and checks, the
 * environment overrides, and model addressing.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tg_test.h"
#include "router/catalog.h"

static const char	*env_names[8];
static const char	*env_values[8];
static int		 env_n;

static const char *
fake_getenv(const char *name)
{
	int	i;

	for (i = 0; i < env_n; i++) {
		if (!strcmp(env_names[i], name))
			return (env_values[i]);
	}
	return (NULL);
}

static void
env_set(const char *name, const char *value)
{
	env_names[env_n] = name;
	env_values[env_n++] = value;
}

static const char good[] =
    "{\"defaults\":{\"timeouts\":{\"connect_ms\":1000,\"total_ms\":500000},"
    "\"retries\":2,\"cooldown_after\":3,\"keepalive_ms\":5000},"
    "\"providers\":["
    "{\"name\":\"echo\",\"family\":\"echo\",\"chunk_delay_ms\":5,"
    "\"models\":[{\"name\":\"echo-1\",\"max_output_tokens\":100},"
    "{\"name\":\"echo-embed\",\"chat\":false,\"embeddings\":true}]},"
    "{\"name\":\"openai\",\"family\":\"openai\","
    "\"base_url\":\"https://api.openai.com/v1/\","
    "\"timeouts\":{\"idle_ms\":3000},\"stream_usage\":false,"
    "\"cooldown_ms\":2500,\"max_tokens_field\":\"max_completion_tokens\","
    "\"keepalive_ms\":0,"
    "\"models\":[{\"name\":\"gpt-4o-mini\",\"max_output_tokens\":16384}]},"
    "{\"name\":\"open-router\",\"family\":\"openai\","
    "\"base_url\":\"https://openrouter.ai/api/v1\","
    "\"api_key_env\":\"OR_KEY\","
    "\"models\":[{\"name\":\"openai/gpt-4o\",\"max_output_tokens\":9}]},"
    "{\"name\":\"ollama\",\"family\":\"openai\",\"api_key_required\":false,"
    "\"base_url\":\"http://localhost:11434/v1\","
    "\"models\":[{\"name\":\"llama3.1:8b\",\"max_output_tokens\":8}]}],"
    "\"aliases\":{\"default\":\"echo:echo-1\","
    "\"fast\":[\"ollama:llama3.1:8b\",\"openai/gpt-4o-mini\"],"
    "\"vec\":\"echo:echo-embed\"}}";

static struct router_catalog *
load(const char *text, int production, struct tg_config_errors *errs,
    int *ok)
{
	struct router_catalog	*cat;

	cat = calloc(1, sizeof(*cat));
	memset(errs, 0, sizeof(*errs));
	*ok = router_catalog_parse(cat, text, strlen(text), "test.json",
	    production, fake_getenv, errs);
	return (cat);
}

static void
unload(struct router_catalog *cat)
{
	router_catalog_free(cat);
	free(cat);
}

START_TEST(parses_good)
{
	struct tg_config_errors		 errs;
	struct router_catalog		*cat;
	const struct router_provider	*p;
	int				 ok;

	env_n = 0;
	env_set("OPENAI_API_KEY", "sk-test");
	env_set("OLLAMA_BASE_URL", "http://127.0.0.1:9/v1");
	cat = load(good, 0, &errs, &ok);
	ck_assert_msg(ok, "%s", errs.line[0]);
	ck_assert_int_eq(cat->nproviders, 4);
	ck_assert_int_eq(cat->nmodels, 5);
	ck_assert_int_eq(cat->naliases, 3);

	p = router_catalog_provider(cat, "openai");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->base_url, "https://api.openai.com/v1");
	ck_assert_str_eq(p->api_key, "sk-test");
	ck_assert_str_eq(p->key_env, "OPENAI_API_KEY");
	ck_assert_int_eq(p->connect_ms, 1000);
	ck_assert_int_eq(p->idle_ms, 3000);
	ck_assert_int_eq(p->total_ms, 500000);
	ck_assert_int_eq(p->first_byte_ms, 60000);
	ck_assert_int_eq(p->retries, 2);
	ck_assert_int_eq(p->stream_usage, 0);
	ck_assert_int_eq(p->cooldown_after, 3);
	ck_assert_int_eq(p->cooldown_ms, 2500);
	ck_assert_int_eq(p->keepalive_ms, 0);	/* its own: off */
	ck_assert_str_eq(p->max_tokens_field, "max_completion_tokens");
	ck_assert(router_provider_usable(p));

	p = router_catalog_provider(cat, "open-router");
	ck_assert_str_eq(p->key_env, "OR_KEY");
	ck_assert_ptr_null(p->api_key);
	ck_assert(!router_provider_usable(p));

	p = router_catalog_provider(cat, "ollama");
	ck_assert_str_eq(p->base_url, "http://127.0.0.1:9/v1");
	ck_assert(router_provider_usable(p));
	ck_assert_int_eq(p->cooldown_after, 3);
	ck_assert_int_eq(p->cooldown_ms, 30000);
	ck_assert_int_eq(p->keepalive_ms, 5000);	/* from defaults */
	ck_assert_str_eq(p->max_tokens_field, "max_tokens");

	p = router_catalog_provider(cat, "echo");
	ck_assert_int_eq(p->chunk_delay_ms, 5);
	ck_assert(router_provider_usable(p));
	ck_assert_ptr_null(p->base_url);
	unload(cat);
}
END_TEST

START_TEST(addressing)
{
	struct tg_config_errors	 errs;
	struct router_catalog	*cat;
	struct router_route	 r;
	int			 ok;

	env_n = 0;
	cat = load(good, 0, &errs, &ok);
	ck_assert(ok);

	ck_assert_int_eq(router_catalog_resolve(cat, "openai:gpt-4o-mini",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	ck_assert_int_eq(r.ntargets, 1);
	ck_assert_str_eq(r.targets[0].provider->name, "openai");
	ck_assert_str_eq(r.targets[0].model, "gpt-4o-mini");
	ck_assert_int_eq(r.targets[0].max_output_tokens, 16384);
	ck_assert_ptr_null(r.alias);

	ck_assert_int_eq(router_catalog_resolve(cat, "openai/gpt-4o-mini",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	ck_assert_str_eq(r.models[0]->id, "openai:gpt-4o-mini");

	/* The first ':' or '/' splits; the rest is the model's. */
	ck_assert_int_eq(router_catalog_resolve(cat,
	    "open-router/openai/gpt-4o", ROUTER_KIND_CHAT, &r),
	    ROUTER_RESOLVE_OK);
	ck_assert_str_eq(r.targets[0].model, "openai/gpt-4o");
	ck_assert_int_eq(router_catalog_resolve(cat,
	    "open-router:openai/gpt-4o", ROUTER_KIND_CHAT, &r),
	    ROUTER_RESOLVE_OK);
	ck_assert_int_eq(router_catalog_resolve(cat, "ollama:llama3.1:8b",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	ck_assert_str_eq(r.targets[0].model, "llama3.1:8b");
	ck_assert_int_eq(router_catalog_resolve(cat, "ollama/llama3.1:8b",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);

	/* Aliases and chains. */
	ck_assert_int_eq(router_catalog_resolve(cat, "fast", ROUTER_KIND_CHAT,
	    &r), ROUTER_RESOLVE_OK);
	ck_assert_int_eq(r.ntargets, 2);
	ck_assert_str_eq(r.targets[0].provider->name, "ollama");
	ck_assert_str_eq(r.targets[1].model, "gpt-4o-mini");
	ck_assert_str_eq(r.alias->name, "fast");
	ck_assert_int_eq(router_catalog_resolve(cat, "default",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	ck_assert_str_eq(r.targets[0].provider->name, "echo");

	/* Unknown things and the wrong kind. */
	ck_assert_int_eq(router_catalog_resolve(cat, "openai:gpt-5",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_NOT_FOUND);
	ck_assert_int_eq(router_catalog_resolve(cat, "nobody:gpt-4o-mini",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_NOT_FOUND);
	ck_assert_int_eq(router_catalog_resolve(cat, "gpt-4o-mini",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_NOT_FOUND);
	ck_assert_int_eq(router_catalog_resolve(cat, "openai:",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_NOT_FOUND);
	ck_assert_int_eq(router_catalog_resolve(cat, ":gpt-4o-mini",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_NOT_FOUND);
	ck_assert_int_eq(router_catalog_resolve(cat, "",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_NOT_FOUND);
	ck_assert_int_eq(router_catalog_resolve(cat, "echo:echo-embed",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_WRONG_KIND);
	ck_assert_int_eq(router_catalog_resolve(cat, "echo:echo-embed",
	    ROUTER_KIND_EMBED, &r), ROUTER_RESOLVE_OK);
	ck_assert_int_eq(router_catalog_resolve(cat, "vec",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_WRONG_KIND);
	ck_assert_int_eq(router_catalog_resolve(cat, "vec",
	    ROUTER_KIND_EMBED, &r), ROUTER_RESOLVE_OK);
	unload(cat);
}
END_TEST

static const char weighted[] =
    "{\"providers\":["
    "{\"name\":\"echo\",\"family\":\"echo\",\"models\":["
    "{\"name\":\"e\",\"max_output_tokens\":5},"
    "{\"name\":\"f\",\"max_output_tokens\":6},"
    "{\"name\":\"g\",\"max_output_tokens\":7},"
    "{\"name\":\"v\",\"chat\":false,\"embeddings\":true},"
    "{\"name\":\"v2\",\"chat\":false,\"embeddings\":true}]},"
    "{\"name\":\"nokey\",\"family\":\"openai\","
    "\"base_url\":\"https://a.example/v1\","
    "\"models\":[{\"name\":\"k\",\"max_output_tokens\":8}]}],"
    "\"aliases\":{"
    "\"w\":[{\"targets\":[\"echo:e\",\"echo:f\",\"nokey:k\"],"
    "\"weights\":[3,1,5]},\"echo:g\"],"
    "\"vec\":[{\"targets\":[\"echo:v\",\"echo:v2\"],"
    "\"weights\":[1,1]}]}}";

/* The route's model names, joined ("e f k g"). */
static const char *
route_str(const struct router_route *r)
{
	static char	buf[128];
	size_t		n;
	int		i;

	buf[0] = '\0';
	n = 0;
	for (i = 0; i < r->ntargets && n < sizeof(buf); i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s", i > 0 ? " " :
		    "", r->targets[i].model);
	return (buf);
}

static int
e_cools(const struct router_catalog *cat, const struct router_model *m)
{
	(void)cat;
	return (!strcmp(m->id, "echo:e"));
}

START_TEST(weighted_tiers)
{
	static const char	*cycle[] = { "e f k g", "e f k g", "f e k g",
				    "e f k g" };
	struct tg_config_errors	 errs;
	struct router_catalog	*cat;
	struct router_route	 r;
	int			 i, ok;

	env_n = 0;
	cat = load(weighted, 0, &errs, &ok);
	ck_assert_msg(ok, "%s", errs.line[0]);
	ck_assert_int_eq(cat->aliases[0].ntargets, 4);
	ck_assert_int_eq(cat->aliases[0].tiers.ntiers, 2);

	/* 3:1 by round-robin; k has no key: last in its tier. */
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(router_catalog_resolve(cat, "w",
		    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
		ck_assert_str_eq(route_str(&r), cycle[i % 4]);
		ck_assert_str_eq(r.alias->name, "w");
	}
	ck_assert_int_eq(r.targets[0].max_output_tokens, 5);
	ck_assert_str_eq(r.models[1]->id, "echo:f");

	/* A cooling target is passed over, and comes back where it was. */
	router_catalog_cooling = e_cools;
	for (i = 0; i < 3; i++) {
		(void)router_catalog_resolve(cat, "w", ROUTER_KIND_CHAT, &r);
		ck_assert_str_eq(route_str(&r), "f e k g");
	}
	router_catalog_cooling = NULL;
	for (i = 0; i < 4; i++) {
		(void)router_catalog_resolve(cat, "w", ROUTER_KIND_CHAT, &r);
		ck_assert_str_eq(route_str(&r), cycle[i]);
	}

	/* Embeddings: an even share; the wrong kind is refused. */
	(void)router_catalog_resolve(cat, "vec", ROUTER_KIND_EMBED, &r);
	ck_assert_str_eq(route_str(&r), "v v2");
	(void)router_catalog_resolve(cat, "vec", ROUTER_KIND_EMBED, &r);
	ck_assert_str_eq(route_str(&r), "v2 v");
	ck_assert_int_eq(router_catalog_resolve(cat, "vec", ROUTER_KIND_CHAT,
	    &r), ROUTER_RESOLVE_WRONG_KIND);
	ck_assert_int_eq(router_catalog_resolve(cat, "w", ROUTER_KIND_EMBED,
	    &r), ROUTER_RESOLVE_WRONG_KIND);
	unload(cat);
}
END_TEST

struct bad_case {
	const char	*text;
	const char	*expect;	/* in the one error line */
};

#define P(x)	"{\"providers\":[" x "]}"
#define ECHO	"{\"name\":\"echo\",\"family\":\"echo\",\"models\":" \
		"[{\"name\":\"e\",\"max_output_tokens\":5}]}"
#define ECHO3	"{\"name\":\"echo\",\"family\":\"echo\",\"models\":" \
		"[{\"name\":\"e\",\"max_output_tokens\":5}," \
		"{\"name\":\"f\",\"max_output_tokens\":5}," \
		"{\"name\":\"v\",\"chat\":false,\"embeddings\":true}]}"
#define TIERS(x) "{\"providers\":[" ECHO3 "],\"aliases\":{\"a\":" x "}}"

static const struct bad_case bad_cases[] = {
	{ "not json", "line 1" },
	{ "[]", "must be a JSON object" },
	{ "{}", "\"providers\" must be a non-empty array" },
	{ "{\"providers\":[" ECHO "],\"x\":1}", "unknown key \"x\"" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":"
	    "\"https://a.example/v1\",\"max_tokens_field\":\"max_len\","
	    "\"models\":[{\"name\":\"m\",\"max_output_tokens\":5}]}"),
	  "max_tokens_field must be" },
	{ P("{\"name\":\"g\",\"family\":\"gemini\",\"base_url\":"
	    "\"https://a.example\",\"max_tokens_field\":\"max_tokens\","
	    "\"models\":[{\"name\":\"m\",\"max_output_tokens\":5}]}"),
	  "only for the openai family" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"cooldown_ms\":0,"
	    "\"models\":[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "cooldown_ms" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"keepalive_ms\":-1,"
	    "\"models\":[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "keepalive_ms" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\","
	    "\"cooldown_after\":-1,"
	    "\"models\":[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "cooldown_after" },
	{ P("{\"name\":\"Bad Name\",\"family\":\"echo\"}"), "\"name\"" },
	{ P("{\"name\":\"x\",\"family\":\"cohere\",\"models\":[]}"),
	  "family \"cohere\"" },
	{ P(ECHO "," ECHO), "already defined" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"modles\":[],"
	    "\"models\":[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "unknown key \"modles\"" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"models\":[]}"),
	  "\"models\" must be a non-empty array" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"models\":"
	    "[{\"name\":\"e\"}]}"), "max_output_tokens is required" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":0}]}"),
	  "max_output_tokens must be an integer" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"models\":"
	    "[{\"name\":\"has space\",\"max_output_tokens\":5}]}"),
	  "models[0]: \"name\"" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5},"
	    "{\"name\":\"e\",\"max_output_tokens\":5}]}"), "listed twice" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"timeouts\":"
	    "{\"connect_ms\":-1},\"models\":[{\"name\":\"e\","
	    "\"max_output_tokens\":5}]}"), "timeouts.connect_ms must be" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"timeouts\":"
	    "{\"idle_ms\":9,\"total_ms\":5},\"models\":[{\"name\":\"e\","
	    "\"max_output_tokens\":5}]}"), "must not exceed total_ms" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"retries\":99,"
	    "\"models\":[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "retries must be" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"stream_usage\":1,"
	    "\"models\":[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "stream_usage must be true or false" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "base_url is required" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"ftp://x\","
	    "\"models\":[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "base_url must be" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"chunk_delay_ms\":5,\"models\":[{\"name\":\"e\","
	    "\"max_output_tokens\":5}]}"), "only for the echo family" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"api_key_env\":\"lower\",\"models\":[{\"name\":\"e\","
	    "\"max_output_tokens\":5}]}"), "api_key_env must be" },
	{ P("{\"name\":\"echo\",\"family\":\"echo\",\"models\":"
	    "[{\"name\":\"e\",\"chat\":false}]}"), "chat or embeddings" },
	{ "{\"providers\":[" ECHO "],\"aliases\":{\"a\":\"echo:nope\"}}",
	  "aliases.a: target 0" },
	{ "{\"providers\":[" ECHO "],\"aliases\":{\"a:b\":\"echo:e\"}}",
	  "an alias name" },
	{ "{\"providers\":[" ECHO "],\"aliases\":{\"a\":[]}}",
	  "aliases.a: must be" },
	{ "{\"providers\":[" ECHO "],\"aliases\":{\"a\":[\"echo:e\","
	  "\"echo:e\",\"echo:e\",\"echo:e\",\"echo:e\",\"echo:e\","
	  "\"echo:e\",\"echo:e\",\"echo:e\"]}}", "aliases.a: must be" },
	{ "{\"providers\":[" ECHO "],\"aliases\":{\"a\":\"default\","
	  "\"default\":\"echo:e\"}}", "target 0" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"auth\":\"basic\",\"models\":[{\"name\":\"e\","
	    "\"max_output_tokens\":5}]}"), "auth must be" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"headers\":{\"Host\":\"y\"},\"models\":[{\"name\":\"e\","
	    "\"max_output_tokens\":5}]}"), "headers: Host is set by the router" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"headers\":{\"Authorization\":\"y\"},\"models\":[{\"name\":"
	    "\"e\",\"max_output_tokens\":5}]}"), "(use \"auth\")" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"headers\":{\"Transfer-Encoding\":\"chunked\"},\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"), "set by the router" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"headers\":{\"X-Title\":\"a\\r\\nb: c\"},\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "headers: X-Title must be" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"headers\":{\"a b\":\"c\"},\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "is not a header name" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"headers\":[\"a\"],\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "headers must be an object" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":\"http://x\","
	    "\"query\":{\"api-version\":1},\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"),
	  "query: api-version must be a string" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":"
	    "\"http://{model}.x/v1\",\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"), "braces only" },
	{ P("{\"name\":\"o\",\"family\":\"openai\",\"base_url\":"
	    "\"http://x/d/{deployment}\",\"models\":"
	    "[{\"name\":\"e\",\"max_output_tokens\":5}]}"), "braces only" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:f\"]}]"),
	  "aliases.a: tier 0: \"weights\" must be an array of as many" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:f\"],\"weights\":[1]}]"),
	  "aliases.a: tier 0: \"weights\" must be" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:f\"],"
	    "\"weights\":[3,0]}]"),
	  "aliases.a: tier 0: weight 1 must be an integer from 1 to 10000" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:f\"],"
	    "\"weights\":[\"3\",1]}]"), "tier 0: weight 0 must be" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:f\"],"
	    "\"weights\":[1.5,1]}]"), "tier 0: weight 0 must be" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:f\"],"
	    "\"weights\":[3,1],\"weight\":2}]"),
	  "aliases.a: tier 0: unknown key \"weight\"" },
	{ TIERS("[\"echo:e\",{\"targets\":[],\"weights\":[]}]"),
	  "aliases.a: tier 1: \"targets\" must be a non-empty array" },
	{ TIERS("[\"echo:e\",7]"), "aliases.a: tier 1: must be" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:g\"],"
	    "\"weights\":[3,1]}]"),
	  "aliases.a: tier 0: target 1 is not a configured provider:model" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo/e\"],"
	    "\"weights\":[3,1]}]"), "tier 0: target 1 is listed twice" },
	{ TIERS("[\"echo:e\",\"echo:nope\"]"),
	  "aliases.a: tier 1 is not a configured provider:model" },
#define EF	"{\"targets\":[\"echo:e\",\"echo:f\"],\"weights\":[1,1]}"
	{ TIERS("[" EF "," EF "," EF "," EF "," EF "]"),
	  "tier 4: at most 8 targets in all tiers" },
	{ TIERS("[" EF "," EF "," EF "," EF ",\"echo:e\"]"),
	  "aliases.a: at most 8 targets in all tiers" },
	{ TIERS("[{\"targets\":[\"echo:e\",\"echo:v\"],"
	    "\"weights\":[1,1]}]"), "aliases.a: targets must all support" },
	{ TIERS("{\"targets\":[\"echo:e\",\"echo:f\"],\"weights\":[1,1]}"),
	  "aliases.a: must be \"provider:model\" or an array of 1 to 8 tiers" },
	{ "{\"providers\":[" ECHO "," ECHO "]", "line" },
	{ "{\"providers\":[" ECHO "],\"providers\":[]}", "duplicate" },
};

START_TEST(refuses_bad)
{
	struct tg_config_errors	 errs;
	struct router_catalog	*cat;
	int			 ok;

	env_n = 0;
	cat = load(bad_cases[_i].text, 0, &errs, &ok);
	ck_assert_msg(!ok, "case %d accepted", _i);
	ck_assert_msg(errs.count == 1, "case %d: %d errors: %s / %s", _i,
	    errs.count, errs.line[0], errs.line[1]);
	ck_assert_msg(strstr(errs.line[0], "TOLLGATE_ROUTER_CONFIG: "
	    "test.json: ") == errs.line[0], "case %d: %s", _i, errs.line[0]);
	ck_assert_msg(strstr(errs.line[0], bad_cases[_i].expect) != NULL,
	    "case %d: \"%s\" not in \"%s\"", _i, bad_cases[_i].expect,
	    errs.line[0]);
	ck_assert_int_eq(cat->nproviders, 0);
	unload(cat);
}
END_TEST

START_TEST(environment_problems_name_the_variable)
{
	struct tg_config_errors	 errs;
	struct router_catalog	*cat;
	int			 ok;

	env_n = 0;
	env_set("OPENAI_BASE_URL", "not a url");
	cat = load(good, 0, &errs, &ok);
	ck_assert(!ok);
	ck_assert_msg(errs.count == 1, "%s / %s", errs.line[0], errs.line[1]);
	ck_assert_msg(!strncmp(errs.line[0], "OPENAI_BASE_URL: ", 17), "%s",
	    errs.line[0]);
	unload(cat);

	env_n = 0;
	env_set("OR_KEY", "sk-secret\r\nx-injected: 1");
	cat = load(good, 0, &errs, &ok);
	ck_assert(!ok);
	ck_assert_int_eq(errs.count, 1);
	ck_assert(!strncmp(errs.line[0], "OR_KEY: ", 8));
	ck_assert_ptr_null(strstr(errs.line[0], "sk-secret"));
	unload(cat);

	/* Production: a key over plain http to a remote host. */
	env_n = 0;
	env_set("OPENAI_API_KEY", "sk-test");
	env_set("OPENAI_BASE_URL", "http://api.example.com/v1");
	cat = load(good, 1, &errs, &ok);
	ck_assert(!ok);
	ck_assert_int_eq(errs.count, 1);
	ck_assert_msg(strstr(errs.line[0], "OPENAI_BASE_URL: ") ==
	    errs.line[0], "%s", errs.line[0]);
	unload(cat);

	/* ... but loopback, or no key (ollama), is fine. */
	env_n = 0;
	env_set("OPENAI_API_KEY", "sk-test");
	env_set("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1");
	cat = load(good, 1, &errs, &ok);
	ck_assert_msg(ok, "%s", errs.line[0]);
	unload(cat);
}
END_TEST

START_TEST(every_problem_at_once)
{
	struct tg_config_errors	 errs;
	struct router_catalog	*cat;
	int			 ok;

	env_n = 0;
	cat = load(P("{\"name\":\"echo\",\"family\":\"echo\",\"retries\":-1,"
	    "\"backoff_ms\":\"x\",\"models\":[{\"name\":\"e\"}]}"), 0,
	    &errs, &ok);
	ck_assert(!ok);
	ck_assert_int_eq(errs.count, 3);
	unload(cat);
}
END_TEST

START_TEST(shipped_config_loads)
{
	struct tg_config_errors	 errs;
	struct router_catalog	*cat;
	struct router_route	 r;
	int			 ok;

	env_n = 0;
	cat = calloc(1, sizeof(*cat));
	memset(&errs, 0, sizeof(errs));
	ok = router_catalog_load(cat, "conf/router.json", 1, fake_getenv,
	    &errs);
	ck_assert_msg(ok, "%s", errs.line[0]);
	ck_assert_int_eq(router_catalog_resolve(cat, "default",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	ck_assert_str_eq(r.targets[0].provider->name, "echo");
	ck_assert_int_eq(router_catalog_resolve(cat, "fast",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	ck_assert_int_eq(r.ntargets, 2);
	/* Azure's deployment has no key here: openai takes its share. */
	env_set("OPENAI_API_KEY", "sk-test");
	unload(cat);
	cat = calloc(1, sizeof(*cat));
	ok = router_catalog_load(cat, "conf/router.json", 1, fake_getenv,
	    &errs);
	ck_assert_msg(ok, "%s", errs.line[0]);
	ck_assert_int_eq(router_catalog_resolve(cat, "chat",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	ck_assert_str_eq(route_str(&r), "gpt-4o gpt-4o claude-sonnet-4-5");
	ck_assert_str_eq(r.models[0]->id, "openai:gpt-4o");
	ck_assert_str_eq(r.models[1]->id, "azure:gpt-4o");
	ck_assert_str_eq(router_catalog_provider(cat, "openai")->
	    max_tokens_field, "max_completion_tokens");
	unload(cat);

	cat = calloc(1, sizeof(*cat));
	memset(&errs, 0, sizeof(errs));
	ok = router_catalog_load(cat, "/nonexistent/router.json", 0,
	    fake_getenv, &errs);
	ck_assert(!ok);
	ck_assert_int_eq(errs.count, 1);
	ck_assert(strstr(errs.line[0], "TOLLGATE_ROUTER_CONFIG") != NULL);
	unload(cat);
}
END_TEST

/*
 * An Azure-style provider: the deployment in the path, api-version in
 * the query, the key in api-key; extra headers after the family's.
 */
START_TEST(provider_http_azure)
{
	struct tg_config_errors	 errs;
	struct router_catalog	*cat;
	struct router_route	 r;
	struct router_http	 h;
	json_t			*req;
	char			 err[128];
	int			 ok, i, auth, title;

	env_n = 0;
	env_set("AZ_API_KEY", "az-secret");
	cat = load("{\"providers\":[{\"name\":\"az\",\"family\":\"openai\","
	    "\"base_url\":\"https://x.openai.azure.com/openai/deployments/"
	    "{model}\",\"auth\":\"api-key\",\"query\":{\"api-version\":"
	    "\"2024-10-21\",\"a b\":\"c&d\"},\"headers\":{\"X-Title\":"
	    "\"Tollgate\"},\"models\":[{\"name\":\"gpt 4o/x\","
	    "\"max_output_tokens\":5}]}]}", 0, &errs, &ok);
	ck_assert_msg(!ok, "a model name with a space");
	unload(cat);

	cat = load("{\"providers\":[{\"name\":\"az\",\"family\":\"openai\","
	    "\"base_url\":\"https://x.openai.azure.com/openai/deployments/"
	    "{model}\",\"auth\":\"api-key\",\"query\":{\"api-version\":"
	    "\"2024-10-21\",\"a b\":\"c&d\"},\"headers\":{\"X-Title\":"
	    "\"Tollgate\"},\"models\":[{\"name\":\"gpt-4o:x/y\","
	    "\"max_output_tokens\":5}]}]}", 0, &errs, &ok);
	ck_assert_msg(ok, "%s", errs.line[0]);
	ck_assert_int_eq(router_catalog_resolve(cat, "az:gpt-4o:x/y",
	    ROUTER_KIND_CHAT, &r), ROUTER_RESOLVE_OK);
	req = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "az:gpt-4o:x/y",
	    "messages", "role", "user", "content", "hi");
	ck_assert(router_family_openai.chat_request(&r.targets[0], req, 0, &h,
	    err, sizeof(err)));
	ck_assert_str_eq(h.url, "https://x.openai.azure.com/openai/deployments/"
	    "gpt-4o%3Ax%2Fy/chat/completions?api-version=2024-10-21&"
	    "a%20b=c%26d");
	auth = title = 0;
	for (i = 0; i < h.nheaders; i++) {
		ck_assert(strncasecmp(h.headers[i], "authorization:", 14));
		if (!strcmp(h.headers[i], "api-key: az-secret"))
			auth++;
		if (!strcmp(h.headers[i], "X-Title: Tollgate"))
			title++;
	}
	ck_assert_int_eq(auth, 1);
	ck_assert_int_eq(title, 1);
	router_http_free(&h);
	json_decref(req);
	unload(cat);

	/* auth "none": the key is never sent. */
	cat = load("{\"providers\":[{\"name\":\"az\",\"family\":\"anthropic\","
	    "\"base_url\":\"http://127.0.0.1:1\",\"auth\":\"none\","
	    "\"models\":[{\"name\":\"c\",\"max_output_tokens\":5}]}]}", 0,
	    &errs, &ok);
	ck_assert_msg(ok, "%s", errs.line[0]);
	ck_assert_int_eq(router_catalog_resolve(cat, "az:c", ROUTER_KIND_CHAT,
	    &r), ROUTER_RESOLVE_OK);
	req = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "az:c",
	    "messages", "role", "user", "content", "hi");
	ck_assert(router_family_anthropic.chat_request(&r.targets[0], req, 0,
	    &h, err, sizeof(err)));
	for (i = 0; i < h.nheaders; i++)
		ck_assert_ptr_null(strstr(h.headers[i], "az-secret"));
	router_http_free(&h);
	json_decref(req);
	unload(cat);
}
END_TEST

static Suite *
catalog_suite(void)
{
	Suite	*s = suite_create("catalog");
	TCase	*tc = tcase_create("catalog");

	tcase_add_test(tc, parses_good);
	tcase_add_test(tc, addressing);
	tcase_add_test(tc, weighted_tiers);
	tcase_add_loop_test(tc, refuses_bad, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, environment_problems_name_the_variable);
	tcase_add_test(tc, every_problem_at_once);
	tcase_add_test(tc, shipped_config_loads);
	tcase_add_test(tc, provider_http_azure);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(catalog_suite)
