/*
 * The provider interface of the router: one small vtable per provider
 * family (openai, anthropic, gemini, echo). Everything here is pure C
 * over jansson and bytes (no Kore types), so each family's translation is
 * unit-tested directly.
 *
 * The router's internal language is OpenAI's chat completions: a client
 * request is validated as an OpenAI request (json_t), a family builds its
 * upstream HTTP request from it, and translates the upstream's answer back
 * into an OpenAI chat.completion or, for streams, into OpenAI
 * chat.completion.chunk objects, one upstream event at a time.
 *
 * Ownership: strings and json_t produced by a family are the caller's
 * (free with free()/router_http_free()/json_decref()); inputs are borrowed.
 */

#ifndef ROUTER_PROVIDER_H
#define ROUTER_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "router/family_state.h"

#define ROUTER_NAME_MAX		64
#define ROUTER_MODEL_MAX	128
#define ROUTER_HEADERS_MAX	32	/* the family's, auth, the provider's */
#define ROUTER_EXTRA_HEADERS_MAX	16	/* "headers" of router.json */
#define ROUTER_ERR_MAX		512
#define ROUTER_ENV_MAX		80

/*
 * The largest token count a provider may report for one call. A larger
 * one is garbage (like a negative one): the usage counts as missing and
 * the meter estimates, and sums of counters cannot overflow.
 */
#define ROUTER_TOKENS_MAX	1000000000000LL

/*
 * How the provider's key goes upstream. ROUTER_AUTH_DEFAULT is the
 * family's own: bearer for openai, x-api-key for anthropic,
 * x-goog-api-key for gemini, none for echo.
 */
#define ROUTER_AUTH_DEFAULT	0
#define ROUTER_AUTH_BEARER	1	/* Authorization: Bearer KEY */
#define ROUTER_AUTH_API_KEY	2	/* api-key: KEY (Azure OpenAI) */
#define ROUTER_AUTH_X_API_KEY	3	/* x-api-key: KEY */
#define ROUTER_AUTH_GOOG	4	/* x-goog-api-key: KEY */
#define ROUTER_AUTH_NONE	5	/* the key is never sent */

/* One configured provider (conf/router.json plus its environment). */
struct router_provider {
	char				 name[ROUTER_NAME_MAX];	/* "openai", "groq" */
	const struct router_family	*family;
	char				*base_url;	/* no trailing slash */
	char				*api_key;	/* NULL: none needed/set */
	long				 connect_ms;
	long				 first_byte_ms;
	long				 idle_ms;
	long				 keepalive_ms;	/* while no content; 0: off */
	long				 total_ms;
	int				 retries;	/* same-target retries */
	long				 backoff_ms;
	long				 retry_after_cap_ms;
	int				 stream_usage;	/* send stream_options */
	int				 index;		/* in the catalog */
	char				 key_env[ROUTER_ENV_MAX];	/* OPENAI_API_KEY */
	int				 key_required;	/* refuse calls without one */
	long				 chunk_delay_ms;	/* echo: pause between events */
	int				 cooldown_after;	/* failures; 0: never */
	long				 cooldown_ms;	/* skipped that long */
	const char			*max_tokens_field;	/* when the client sent none */
	int				 auth;		/* ROUTER_AUTH_* */
	char				*headers[ROUTER_EXTRA_HEADERS_MAX];	/* "name: value" */
	int				 nheaders;
	char				*query;		/* "a=b&c=d", encoded; NULL: none */
};

/* Where one call goes: a provider and the model name it knows. */
struct router_target {
	const struct router_provider	*provider;
	char				 model[ROUTER_MODEL_MAX];
	int64_t				 max_output_tokens;	/* model cap */
};

/* An upstream HTTP request, built by a family. */
struct router_http {
	char	*url;
	char	*body;
	size_t	 body_len;
	char	*headers[ROUTER_HEADERS_MAX];	/* "name: value" */
	int	 nheaders;
};

/* Token usage in OpenAI's terms (prompt includes cached and cache writes). */
struct router_usage {
	int64_t	prompt_tokens;
	int64_t	completion_tokens;	/* includes reasoning */
	int64_t	cached_tokens;		/* cache reads, part of prompt */
	int64_t	cache_creation_tokens;	/* cache writes, part of prompt */
	int64_t	reasoning_tokens;	/* part of completion */
	int	reported;		/* the provider said so */
};

/*
 * Per-stream translation state, zeroed before the first event (family
 * included: each family's member of the union starts at zero). id,
 * model and created are set by the router before the first event, so
 * every chunk of one stream carries the same values; a family may
 * replace model with what the upstream reports.
 */
struct router_stream {
	const struct router_target	*target;
	char				 id[64];
	char				 model[ROUTER_MODEL_MAX];
	int64_t				 created;
	int				 sent_role;
	int				 tool_calls;	/* OpenAI tool_call indices used */
	char				 finish_reason[32];
	struct router_usage		 usage;
	int				 done;		/* upstream said it ended */
	int				 failed;	/* upstream error event */
	char				 error[ROUTER_ERR_MAX];
	size_t				 text_bytes;	/* content + reasoning + args streamed */
	union router_family_state	 family;	/* the family's own member */
};

/*
 * The answer of an in-process provider (echo): what a server would have
 * sent for a router_http built by the family's own chat_request or
 * embed_request. body is malloc'd; for a stream it is the whole
 * text/event-stream, which the router replays event by event through
 * stream_event exactly as it would network reads.
 */
struct router_local {
	long	 status;
	char	*body;
	size_t	 body_len;
};

/* An upstream error, mapped for our client (docs/contract.md §3). */
struct router_error {
	int	status;			/* our status to the client */
	char	code[64];
	char	message[ROUTER_ERR_MAX];
	long	retry_after_ms;		/* from Retry-After, 0 if none */
};

struct router_family {
	const char	*name;

	/* Chat: OpenAI request -> upstream request. 0 and err on refusal. */
	int	(*chat_request)(const struct router_target *, const json_t *,
		    int stream, struct router_http *, char *err, size_t);

	/* Whole upstream answer -> OpenAI chat.completion (NULL + err). */
	json_t	*(*chat_response)(const struct router_target *,
		    const char *, size_t, struct router_usage *, char *err,
		    size_t);

	/*
	 * One upstream SSE event (event name may be NULL) -> zero or more
	 * OpenAI chunks appended to the json array chunks. Returns 0 on a
	 * malformed event (err in st->error). Usage, finish_reason and
	 * done are kept in st.
	 */
	int	(*stream_event)(struct router_stream *, const char *,
		    const char *, size_t, json_t *);

	/*
	 * Upstream error answer -> our error. message is the provider's
	 * reason starting with a verb phrase and without the provider's
	 * name, e.g. "rejected the request (400): max_tokens is too large";
	 * the router prefixes the provider ("groq rejected ..."), scrubs
	 * the provider's key out of it, and adds Retry-After from the
	 * headers (families do not see them).
	 */
	void	(*map_error)(long, const char *, size_t, struct router_error *);

	/* Embeddings (NULL when the family has none). */
	int	(*embed_request)(const struct router_target *, const json_t *,
		    struct router_http *, char *err, size_t);
	json_t	*(*embed_response)(const struct router_target *,
		    const char *, size_t, struct router_usage *, char *err,
		    size_t);

	/*
	 * In-process families only (NULL for every network family): answer
	 * the built request without any network, filling out. Returns 0
	 * (err set) when it cannot.
	 */
	int	(*local)(const struct router_target *,
		    const struct router_http *, int stream,
		    struct router_local *, char *err, size_t);

	/*
	 * Token counting (POST /v1/messages/count_tokens), NULL for
	 * families whose provider has no counting endpoint (the router
	 * estimates): the OpenAI request -> the provider's count request,
	 * and its answer -> the prompt's tokens (0 when malformed).
	 */
	int	(*count_request)(const struct router_target *, const json_t *,
		    struct router_http *, char *err, size_t);
	int	(*count_response)(const char *, size_t, int64_t *);
};

extern const struct router_family	router_family_openai;
extern const struct router_family	router_family_anthropic;
extern const struct router_family	router_family_gemini;
extern const struct router_family	router_family_echo;

void	router_http_free(struct router_http *);
int	router_http_header(struct router_http *, const char *, const char *);

/*
 * What every family's request builder does last (upstream.c): "{model}"
 * in the URL becomes the URL-encoded upstream model (Azure deployments),
 * the provider's query parameters are appended, its key goes in the
 * header its auth scheme names, and its extra headers follow. Returns 0
 * when out of memory (http left for the caller to free).
 */
int	router_http_provider(const struct router_target *,
	    struct router_http *);

#endif
