/*
 * The openai family: OpenAI itself and every server speaking its wire
 * format (groq, mistral, deepseek, together, fireworks, xai,
 * openrouter, ollama, vllm, lmstudio, ...). The router's internal
 * language is already OpenAI's, so requests pass through with the model
 * name replaced and usage asked for in streams, and answers pass back
 * with usage read out:
 *
 *  - only the request fields of OpenAI's reference (the allowlists
 *    below) go upstream; anything else a client sends is dropped, so an
 *    unknown option can neither change what a call costs nor carry a
 *    client's secret (an "api_key" in the body) to a provider;
 *  - every stream asks for stream_options.include_usage (unless the
 *    provider is configured with stream_usage false), whatever the
 *    client asked, so every stream can be billed; usage is removed from
 *    the chunks relayed and the router sends it itself at the end, only
 *    to clients that asked for it;
 *  - every chunk of one stream carries one id, created and model: the
 *    upstream's first ones.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/openai.h"
#include "router/upstream.h"
#include "router/xlate.h"

static int	openai_chat_request(const struct router_target *,
		    const json_t *, int, struct router_http *, char *, size_t);
static int	openai_embed_request(const struct router_target *,
		    const json_t *, struct router_http *, char *, size_t);
static size_t	openai_delta_bytes(const json_t *);
static void	openai_chunk_ids(struct router_stream *, json_t *);
static json_t	*openai_allowed(const json_t *, const char *const *);

/*
 * The fields of OpenAI's chat completions request that are forwarded.
 * Left out: store (it would keep the conversation in the operator's
 * provider account), audio and web_search_options (refused before,
 * request.c: their price cannot be billed), and every extension.
 */
static const char *const	openai_chat_fields[] = {
	"model", "messages", "stream", "stream_options", "max_tokens",
	"max_completion_tokens", "temperature", "top_p", "n", "stop", "seed",
	"user", "presence_penalty", "frequency_penalty", "logprobs",
	"top_logprobs", "logit_bias", "tools", "tool_choice",
	"parallel_tool_calls", "response_format", "reasoning_effort",
	"service_tier", "modalities", "prediction", "prompt_cache_key",
	"safety_identifier", "verbosity", "metadata", "functions",
	"function_call", NULL
};

static const char *const	openai_embed_fields[] = {
	"model", "input", "encoding_format", "dimensions", "user", NULL
};

const struct router_family	router_family_openai = {
	"openai",
	openai_chat_request,
	router_openai_chat_response,
	router_openai_stream_event,
	router_openai_map_error,
	openai_embed_request,
	router_openai_embed_response,
	NULL,
	NULL,		/* count_tokens: the router's estimate */
	NULL,
};

int
router_openai_build(const struct router_target *t, const json_t *req,
    int stream, const char *base, const char *path, struct router_http *http,
    char *err, size_t errlen)
{
	const struct router_provider	*p = t->provider;
	json_t				*body, *so;

	memset(http, 0, sizeof(*http));
	if ((body = openai_allowed(req, strcmp(path, "/embeddings") ?
	    openai_chat_fields : openai_embed_fields)) == NULL)
		goto nomem;

	json_object_set_new(body, "model", json_string(t->model));
	if (!strcmp(path, "/chat/completions")) {
		/* OpenAI-compatible servers cache on their own. */
		if (!router_xlate_drop_cache_control(body)) {
			json_decref(body);
			goto nomem;
		}
		if (stream) {
			json_object_set_new(body, "stream", json_true());
			if (p->stream_usage) {
				so = json_object_get(req, "stream_options");
				so = json_is_object(so) ? json_copy(so) :
				    json_object();
				json_object_set_new(so, "include_usage",
				    json_true());
				json_object_set_new(body, "stream_options", so);
			} else {
				json_object_del(body, "stream_options");
			}
		} else {
			json_object_del(body, "stream");
			json_object_del(body, "stream_options");
		}
	}

	http->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (http->body == NULL)
		goto nomem;
	http->body_len = strlen(http->body);

	if ((http->url = router_xlate_printf("%s%s", base, path)) == NULL)
		goto nomem;

	if (!router_http_header(http, "content-type", "application/json") ||
	    !router_http_header(http, "accept", stream ?
	    "text/event-stream" : "application/json"))
		goto nomem;
	if (!router_http_provider(t, http))
		goto nomem;

	return (1);

nomem:
	router_http_free(http);
	(void)snprintf(err, errlen, "out of memory");
	return (0);
}

static int
openai_chat_request(const struct router_target *t, const json_t *req,
    int stream, struct router_http *http, char *err, size_t errlen)
{
	return (router_openai_build(t, req, stream, t->provider->base_url,
	    "/chat/completions", http, err, errlen));
}

static int
openai_embed_request(const struct router_target *t, const json_t *req,
    struct router_http *http, char *err, size_t errlen)
{
	return (router_openai_build(t, req, 0, t->provider->base_url,
	    "/embeddings", http, err, errlen));
}

json_t *
router_openai_chat_response(const struct router_target *t, const char *body,
    size_t len, struct router_usage *u, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*doc, *choices, *c;
	size_t		 i;

	(void)t;
	memset(u, 0, sizeof(*u));

	if ((doc = json_loadb(body, len, 0, &jerr)) == NULL) {
		(void)snprintf(err, errlen, "malformed JSON in the answer "
		    "(line %d: %s)", jerr.line, jerr.text);
		return (NULL);
	}

	choices = json_object_get(doc, "choices");
	if (!json_is_object(doc) || !json_is_array(choices)) {
		(void)snprintf(err, errlen, "the answer has no choices");
		json_decref(doc);
		return (NULL);
	}
	json_array_foreach(choices, i, c) {
		if (!json_is_object(c) ||
		    !json_is_object(json_object_get(c, "message"))) {
			(void)snprintf(err, errlen, "choice %zu has no message",
			    i);
			json_decref(doc);
			return (NULL);
		}
	}

	(void)router_usage_parse(json_object_get(doc, "usage"), u);
	if (json_object_get(doc, "object") == NULL)
		json_object_set_new(doc, "object",
		    json_string("chat.completion"));

	return (doc);
}

int
router_openai_stream_event(struct router_stream *st, const char *event,
    const char *data, size_t len, json_t *chunks)
{
	json_t		*doc, *e, *choices, *c, *usage;
	const char	*fr, *m;
	size_t		 i;

	(void)event;

	if (len == 6 && !memcmp(data, "[DONE]", 6)) {
		st->done = 1;
		return (1);
	}

	if ((doc = json_loadb(data, len, 0, NULL)) == NULL ||
	    !json_is_object(doc)) {
		json_decref(doc);
		(void)snprintf(st->error, sizeof(st->error),
		    "malformed event in the stream");
		return (0);
	}

	if ((e = json_object_get(doc, "error")) != NULL) {
		st->failed = 1;
		m = json_is_object(e) ?
		    json_string_value(json_object_get(e, "message")) :
		    json_string_value(e);
		(void)snprintf(st->error, sizeof(st->error), "%s",
		    m != NULL ? m : "error event in the stream");
		json_decref(doc);
		return (1);
	}

	if ((usage = json_object_get(doc, "usage")) != NULL) {
		if (json_is_object(usage))
			(void)router_usage_parse(usage, &st->usage);
		json_object_del(doc, "usage");
	}

	choices = json_object_get(doc, "choices");
	if (!json_is_array(choices) || json_array_size(choices) == 0) {
		/*
		 * The usage chunk (the router sends its own), or an event
		 * of some extension we do not relay.
		 */
		json_decref(doc);
		return (1);
	}

	json_array_foreach(choices, i, c) {
		if ((fr = json_string_value(json_object_get(c,
		    "finish_reason"))) != NULL && st->finish_reason[0] == '\0')
			(void)snprintf(st->finish_reason,
			    sizeof(st->finish_reason), "%s", fr);
		st->text_bytes += openai_delta_bytes(json_object_get(c,
		    "delta"));
		if (json_object_get(json_object_get(c, "delta"), "role"))
			st->sent_role = 1;
	}

	openai_chunk_ids(st, doc);
	json_array_append_new(chunks, doc);
	return (1);
}

/* One id, created and model for the whole stream. */
static void
openai_chunk_ids(struct router_stream *st, json_t *doc)
{
	struct openai_state	*fs = &st->family.openai;
	const char		*s;
	json_t			*v;

	if (!fs->adopted) {
		fs->adopted = 1;
		/* Adopted whole or not at all: a cut id is another id. */
		if ((s = json_string_value(json_object_get(doc, "id"))) &&
		    *s != '\0' && strlen(s) < sizeof(st->id))
			(void)snprintf(st->id, sizeof(st->id), "%s", s);
		if ((s = json_string_value(json_object_get(doc, "model"))) &&
		    *s != '\0' && strlen(s) < sizeof(st->model))
			(void)snprintf(st->model, sizeof(st->model), "%s", s);
		if ((v = json_object_get(doc, "created")) != NULL &&
		    json_is_integer(v))
			st->created = json_integer_value(v);
	}

	json_object_set_new(doc, "id", json_string(st->id));
	json_object_set_new(doc, "object",
	    json_string("chat.completion.chunk"));
	json_object_set_new(doc, "created", json_integer(st->created));
	json_object_set_new(doc, "model", json_string(st->model));
}

static size_t
openai_delta_bytes(const json_t *delta)
{
	static const char	*keys[] = { "content", "reasoning_content",
				    "reasoning", "refusal", NULL };
	const json_t		*calls, *c, *f;
	size_t			 n, i;
	int			 k;

	if (!json_is_object(delta))
		return (0);

	n = 0;
	for (k = 0; keys[k] != NULL; k++)
		n += json_string_length(json_object_get(delta, keys[k]));

	calls = json_object_get(delta, "tool_calls");
	json_array_foreach(calls, i, c) {
		f = json_object_get(c, "function");
		n += json_string_length(json_object_get(f, "name"));
		n += json_string_length(json_object_get(f, "arguments"));
	}

	return (n);
}

void
router_openai_map_error(long status, const char *body, size_t len,
    struct router_error *e)
{
	char	msg[ROUTER_ERR_MAX / 2];

	router_error_message(body, len, msg, sizeof(msg));
	router_error_map(status, msg, e);
}

json_t *
router_openai_embed_response(const struct router_target *t, const char *body,
    size_t len, struct router_usage *u, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*doc;

	(void)t;
	memset(u, 0, sizeof(*u));

	if ((doc = json_loadb(body, len, 0, &jerr)) == NULL) {
		(void)snprintf(err, errlen, "malformed JSON in the answer "
		    "(line %d: %s)", jerr.line, jerr.text);
		return (NULL);
	}
	if (!json_is_object(doc) ||
	    !json_is_array(json_object_get(doc, "data"))) {
		(void)snprintf(err, errlen, "the answer has no data");
		json_decref(doc);
		return (NULL);
	}

	(void)router_usage_parse(json_object_get(doc, "usage"), u);
	u->completion_tokens = 0;
	return (doc);
}

/* A new object with the fields of req that are on the list. */
static json_t *
openai_allowed(const json_t *req, const char *const *fields)
{
	json_t	*body, *v;
	int	 i;

	if ((body = json_object()) == NULL)
		return (NULL);
	for (i = 0; fields[i] != NULL; i++) {
		if ((v = json_object_get(req, fields[i])) == NULL)
			continue;
		if (json_object_set(body, fields[i], v) == -1) {
			json_decref(body);
			return (NULL);
		}
	}
	return (body);
}
