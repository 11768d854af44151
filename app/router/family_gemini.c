/*
 * The gemini family: OpenAI chat and embeddings requests to Google's
 * Generative Language API (generateContent, streamGenerateContent with
 * alt=sse, batchEmbedContents; key in x-goog-api-key) and the answers
 * back to OpenAI shapes.
 *
 * Invariants:
 *   - Gemini has no tool-call ids. Ours are derived from the response id,
 *     the choice and the call's position among that choice's calls
 *     (gem_call_id), so a streamed answer and a whole answer name the
 *     same calls the same way.
 *   - A tool result goes back as a functionResponse under the *name* of
 *     the call it answers, found by tool_call_id among the earlier
 *     assistant tool_calls (nearest first).
 *   - A functionCall's thoughtSignature travels to the client as
 *     tool_calls[].extra_content.google.thought_signature (the shape of
 *     Google's own OpenAI endpoint) and is echoed back on later turns,
 *     which thinking models require.
 *   - Schemas go as parametersJsonSchema / responseJsonSchema, which take
 *     JSON Schema as clients write it.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/provider.h"
#include "router/upstream.h"
#include "router/xlate.h"

#define GEM_RID_MAX		48
#define GEM_BUDGET_MAX		32768	/* the largest any model takes */

static int	gem_chat_request(const struct router_target *, const json_t *,
		    int, struct router_http *, char *, size_t);
static json_t	*gem_chat_response(const struct router_target *,
		    const char *, size_t, struct router_usage *, char *,
		    size_t);
static int	gem_stream_event(struct router_stream *, const char *,
		    const char *, size_t, json_t *);
static void	gem_map_error(long, const char *, size_t,
		    struct router_error *);
static int	gem_embed_request(const struct router_target *,
		    const json_t *, struct router_http *, char *, size_t);
static json_t	*gem_embed_response(const struct router_target *,
		    const char *, size_t, struct router_usage *, char *,
		    size_t);

static int	gem_model_ok(const char *);
static int	gem_count_request(const struct router_target *,
		    const json_t *, struct router_http *, char *, size_t);
static int	gem_count_response(const char *, size_t, int64_t *);
static int	gem_http(const struct router_target *, const char *, int,
		    json_t *, struct router_http *, char *, size_t);
static int	gem_contents(json_t *, const json_t *, char *, size_t);
static json_t	*gem_user_parts(const json_t *, char *, size_t);
static json_t	*gem_model_parts(const json_t *, char *, size_t);
static json_t	*gem_tool_part(const json_t *, size_t, const json_t *, char *,
		    size_t);
static json_t	*gem_media_part(const char *, char *, size_t);
static int	gem_push(json_t *, const char *, json_t *);
static int	gem_tools(json_t *, const json_t *, char *, size_t);
static int	gem_config(json_t *, const json_t *,
		    const struct router_target *, char *, size_t);
static const char *gem_finish(const char *, int);
static int	gem_usage(const json_t *, struct router_usage *);
static int	gem_cand_index(const json_t *, size_t);
static void	gem_call_id(char *, size_t, const char *, int, int);
static json_t	*gem_tool_call(const json_t *, const char *, int, int);
static int	gem_error_text(const json_t *, char *, size_t, long *);

const struct router_family	router_family_gemini = {
	.name = "gemini",
	.chat_request = gem_chat_request,
	.chat_response = gem_chat_response,
	.stream_event = gem_stream_event,
	.map_error = gem_map_error,
	.embed_request = gem_embed_request,
	.embed_response = gem_embed_response,
	.count_request = gem_count_request,
	.count_response = gem_count_response,
};

/* Model names go into the URL path: keep them to a safe alphabet. */
static int
gem_model_ok(const char *m)
{
	if (*m == '\0')
		return (0);
	for (; *m != '\0'; m++) {
		if (!isalnum((unsigned char)*m) && *m != '-' && *m != '.' &&
		    *m != '_')
			return (0);
	}
	return (1);
}

/* The upstream request for body (stolen) at models/{model}:{method}. */
static int
gem_http(const struct router_target *t, const char *method, int sse,
    json_t *body, struct router_http *http, char *err, size_t errlen)
{
	const char	*model = t->model;
	char		*s;

	if (!strncmp(model, "models/", 7))
		model += 7;
	if (!gem_model_ok(model)) {
		json_decref(body);
		snprintf(err, errlen, "model name '%.64s' is not valid for "
		    "gemini", t->model);
		return (0);
	}
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL)
		goto nomem;
	http->body = s;
	http->body_len = strlen(s);
	http->url = router_xlate_printf("%s/v1beta/models/%s:%s%s",
	    t->provider->base_url, model, method, sse ? "?alt=sse" : "");
	if (http->url == NULL ||
	    !router_http_header(http, "content-type", "application/json"))
		goto nomem;
	if (!router_http_provider(t, http))
		goto nomem;
	return (1);
nomem:
	snprintf(err, errlen, "out of memory");
	router_http_free(http);
	return (0);
}

static int
gem_chat_request(const struct router_target *t, const json_t *req,
    int stream, struct router_http *http, char *err, size_t errlen)
{
	json_t		*body;
	const json_t	*msgs;

	memset(http, 0, sizeof(*http));
	msgs = json_object_get(req, "messages");
	if (!json_is_array(msgs)) {
		snprintf(err, errlen, "messages must be an array");
		return (0);
	}
	if ((body = json_object()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (0);
	}
	if (!gem_contents(body, msgs, err, errlen) ||
	    !gem_tools(body, req, err, errlen) ||
	    !gem_config(body, req, t, err, errlen)) {
		json_decref(body);
		return (0);
	}
	return (gem_http(t, stream ? "streamGenerateContent" :
	    "generateContent", stream, body, http, err, errlen));
}

/*
 * models/{m}:countTokens of the generateContent request the chat would
 * send (system instruction and tools count too), as Google documents
 * it: {"generateContentRequest": {"model": "models/{m}", ...}}.
 */
static int
gem_count_request(const struct router_target *t, const json_t *req,
    struct router_http *http, char *err, size_t errlen)
{
	json_t		*body, *wrap;
	const json_t	*msgs;
	const char	*model = t->model;

	memset(http, 0, sizeof(*http));
	msgs = json_object_get(req, "messages");
	if (!json_is_array(msgs)) {
		snprintf(err, errlen, "messages must be an array");
		return (0);
	}
	if (!strncmp(model, "models/", 7))
		model += 7;
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "model", json_sprintf("models/%s",
	    model)) == -1 || (wrap = json_pack("{s:o}",
	    "generateContentRequest", body)) == NULL) {
		json_decref(body);
		snprintf(err, errlen, "out of memory");
		return (0);
	}
	if (!gem_contents(body, msgs, err, errlen) ||
	    !gem_tools(body, req, err, errlen) ||
	    !gem_config(body, req, t, err, errlen)) {
		json_decref(wrap);
		return (0);
	}
	return (gem_http(t, "countTokens", 0, wrap, http, err, errlen));
}

/* {"totalTokens": N}, N an integer within ROUTER_TOKENS_MAX. */
static int
gem_count_response(const char *body, size_t len, int64_t *n)
{
	return (router_xlate_count(body, len, "totalTokens", n));
}

static int
gem_contents(json_t *body, const json_t *msgs, char *err, size_t errlen)
{
	json_t		*contents, *sys, *parts;
	const json_t	*m;
	const char	*role, *grole;
	char		*text, tmp[ROUTER_ERR_MAX];
	size_t		 i;

	if ((contents = json_array()) == NULL || (sys = json_array()) ==
	    NULL) {
		json_decref(contents);
		return (0);
	}
	json_object_set_new(body, "contents", contents);

	json_array_foreach(msgs, i, m) {
		role = json_string_value(json_object_get(m, "role"));
		if (!json_is_object(m) || role == NULL) {
			snprintf(err, errlen, "messages[%zu] needs a role", i);
			goto fail;
		}
		if (!strcmp(role, "system") || !strcmp(role, "developer")) {
			text = router_xlate_content_text(json_object_get(m,
			    "content"), "\n");
			if (text == NULL) {
				snprintf(err, errlen, "messages[%zu]: content "
				    "must be a string or text parts", i);
				goto fail;
			}
			if (*text != '\0')
				json_array_append_new(sys, json_pack("{s:s}",
				    "text", text));
			free(text);
			continue;
		}
		if (!strcmp(role, "user")) {
			grole = "user";
			parts = gem_user_parts(m, err, errlen);
		} else if (!strcmp(role, "assistant")) {
			grole = "model";
			parts = gem_model_parts(m, err, errlen);
		} else if (!strcmp(role, "tool")) {
			grole = "user";
			parts = gem_tool_part(msgs, i, m, err, errlen);
		} else {
			snprintf(err, errlen, "messages[%zu].role '%.32s' is "
			    "not supported", i, role);
			goto fail;
		}
		if (parts == NULL) {
			snprintf(tmp, sizeof(tmp), "messages[%zu]: %s", i, err);
			router_xlate_copy(err, errlen, tmp);
			goto fail;
		}
		if (!gem_push(contents, grole, parts)) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (json_array_size(contents) == 0) {
		snprintf(err, errlen, "messages must hold at least one user "
		    "or assistant message");
		goto fail;
	}
	if (json_array_size(sys) > 0)
		json_object_set_new(body, "systemInstruction",
		    json_pack("{s:o}", "parts", sys));
	else
		json_decref(sys);
	return (1);
fail:
	json_decref(sys);
	return (0);
}

/* Appends parts (stolen) as a turn, merging same-role neighbours. */
static int
gem_push(json_t *contents, const char *role, json_t *parts)
{
	json_t		*last;
	const char	*lrole;
	size_t		 n;

	if (json_array_size(parts) == 0) {
		json_decref(parts);
		return (1);
	}
	n = json_array_size(contents);
	last = n ? json_array_get(contents, n - 1) : NULL;
	lrole = json_string_value(json_object_get(last, "role"));
	if (lrole != NULL && !strcmp(lrole, role)) {
		n = json_array_extend(json_object_get(last, "parts"), parts);
		json_decref(parts);
		return (n == 0);
	}
	return (json_array_append_new(contents, json_pack("{s:s, s:o}",
	    "role", role, "parts", parts)) == 0);
}

static json_t *
gem_media_part(const char *url, char *err, size_t errlen)
{
	const char	*data, *ext;
	char		 mime[64];

	if (router_xlate_data_url(url, mime, sizeof(mime), &data))
		return (json_pack("{s:{s:s, s:s}}", "inlineData", "mimeType",
		    mime, "data", data));
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
		snprintf(err, errlen, "image_url.url must be an http(s) URL "
		    "or a base64 data URL");
		return (NULL);
	}
	ext = strrchr(url, '.');
	if (ext != NULL && !strcasecmp(ext, ".png"))
		ext = "image/png";
	else if (ext != NULL && !strcasecmp(ext, ".webp"))
		ext = "image/webp";
	else if (ext != NULL && !strcasecmp(ext, ".gif"))
		ext = "image/gif";
	else if (ext != NULL && !strcasecmp(ext, ".pdf"))
		ext = "application/pdf";
	else
		ext = "image/jpeg";
	return (json_pack("{s:{s:s, s:s}}", "fileData", "mimeType", ext,
	    "fileUri", url));
}

static json_t *
gem_user_parts(const json_t *m, char *err, size_t errlen)
{
	json_t		*parts, *p;
	const json_t	*content, *part, *text, *iu;
	const char	*type, *url;
	size_t		 i;

	if ((parts = json_array()) == NULL)
		return (NULL);
	content = json_object_get(m, "content");
	if (json_is_string(content)) {
		if (*json_string_value(content) != '\0')
			json_array_append_new(parts, json_pack("{s:O}",
			    "text", content));
		return (parts);
	}
	if (!json_is_array(content)) {
		snprintf(err, errlen, "content must be a string or an array "
		    "of parts");
		goto fail;
	}
	json_array_foreach(content, i, part) {
		type = json_string_value(json_object_get(part, "type"));
		if (type != NULL && !strcmp(type, "text")) {
			text = json_object_get(part, "text");
			if (!json_is_string(text)) {
				snprintf(err, errlen, "content[%zu].text must "
				    "be a string", i);
				goto fail;
			}
			if (*json_string_value(text) == '\0')
				continue;
			p = json_pack("{s:O}", "text", text);
		} else if (type != NULL && !strcmp(type, "image_url")) {
			iu = json_object_get(part, "image_url");
			url = json_is_string(iu) ? json_string_value(iu) :
			    json_string_value(json_object_get(iu, "url"));
			if (url == NULL) {
				snprintf(err, errlen, "content[%zu].image_url."
				    "url is missing", i);
				goto fail;
			}
			p = gem_media_part(url, err, errlen);
		} else if (type != NULL && !strcmp(type, "file")) {
			url = json_string_value(json_object_get(
			    json_object_get(part, "file"), "file_data"));
			if (url == NULL || strncmp(url, "data:", 5)) {
				snprintf(err, errlen, "content[%zu].file needs "
				    "file_data as a data URL", i);
				goto fail;
			}
			p = gem_media_part(url, err, errlen);
		} else {
			snprintf(err, errlen, "content part type '%.32s' is "
			    "not supported by gemini models",
			    type ? type : "(none)");
			goto fail;
		}
		if (p == NULL || json_array_append_new(parts, p) != 0)
			goto fail;
	}
	return (parts);
fail:
	json_decref(parts);
	return (NULL);
}

static json_t *
gem_model_parts(const json_t *m, char *err, size_t errlen)
{
	json_t		*parts, *args, *p;
	const json_t	*calls, *c, *fn, *sig;
	const char	*name, *a;
	json_error_t	 jerr;
	char		*text;
	size_t		 i;

	if ((parts = json_array()) == NULL)
		return (NULL);
	text = router_xlate_content_text(json_object_get(m, "content"), "");
	if (text == NULL) {
		snprintf(err, errlen, "content must be a string, null or text "
		    "parts");
		goto fail;
	}
	if (*text != '\0')
		json_array_append_new(parts, json_pack("{s:s}", "text", text));
	free(text);

	calls = json_object_get(m, "tool_calls");
	json_array_foreach(calls, i, c) {
		fn = json_object_get(c, "function");
		name = json_string_value(json_object_get(fn, "name"));
		a = json_string_value(json_object_get(fn, "arguments"));
		if (name == NULL) {
			snprintf(err, errlen, "tool_calls[%zu].function.name "
			    "is missing", i);
			goto fail;
		}
		args = (a == NULL || *a == '\0') ? json_object() :
		    json_loads(a, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(args)) {
			json_decref(args);
			snprintf(err, errlen, "tool_calls[%zu].function."
			    "arguments is not a JSON object", i);
			goto fail;
		}
		p = json_pack("{s:{s:s, s:o}}", "functionCall", "name", name,
		    "args", args);
		if (p == NULL)
			goto fail;
		sig = json_object_get(json_object_get(json_object_get(c,
		    "extra_content"), "google"), "thought_signature");
		if (json_is_string(sig))
			json_object_set(p, "thoughtSignature", (json_t *)sig);
		json_array_append_new(parts, p);
	}
	return (parts);
fail:
	json_decref(parts);
	return (NULL);
}

/* A tool message, answered under the name of the call it answers. */
static json_t *
gem_tool_part(const json_t *msgs, size_t at, const json_t *m, char *err,
    size_t errlen)
{
	const json_t	*prev, *calls, *c;
	const char	*id, *name, *cid, *role;
	json_t		*resp, *parsed;
	json_error_t	 jerr;
	char		*text;
	size_t		 i, j;

	id = json_string_value(json_object_get(m, "tool_call_id"));
	if (id == NULL) {
		snprintf(err, errlen, "tool messages need a tool_call_id");
		return (NULL);
	}
	name = NULL;
	for (i = at; i-- > 0 && name == NULL; ) {
		prev = json_array_get(msgs, i);
		role = json_string_value(json_object_get(prev, "role"));
		if (role == NULL || strcmp(role, "assistant"))
			continue;
		calls = json_object_get(prev, "tool_calls");
		json_array_foreach(calls, j, c) {
			cid = json_string_value(json_object_get(c, "id"));
			if (cid != NULL && !strcmp(cid, id)) {
				name = json_string_value(json_object_get(
				    json_object_get(c, "function"), "name"));
				break;
			}
		}
	}
	if (name == NULL)
		name = json_string_value(json_object_get(m, "name"));
	if (name == NULL) {
		snprintf(err, errlen, "tool_call_id '%.64s' answers no earlier "
		    "tool call", id);
		return (NULL);
	}

	text = router_xlate_content_text(json_object_get(m, "content"), "");
	if (text == NULL) {
		snprintf(err, errlen, "tool content must be a string or text "
		    "parts");
		return (NULL);
	}
	/* A JSON object result goes as is; anything else under "result". */
	parsed = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (json_is_object(parsed))
		resp = parsed;
	else {
		json_decref(parsed);
		resp = json_pack("{s:s}", "result", text);
	}
	free(text);
	return (json_pack("[{s:{s:s, s:o}}]", "functionResponse", "name",
	    name, "response", resp));
}

static int
gem_tools(json_t *body, const json_t *req, char *err, size_t errlen)
{
	const json_t	*tools, *tool, *fn, *params, *desc, *tc;
	json_t		*decls, *d, *fcc;
	const char	*type, *name, *s;
	size_t		 i;

	tools = json_object_get(req, "tools");
	if (json_is_array(tools) && json_array_size(tools) > 0) {
		if ((decls = json_array()) == NULL)
			return (0);
		json_object_set_new(body, "tools", json_pack("[{s:o}]",
		    "functionDeclarations", decls));
		json_array_foreach(tools, i, tool) {
			type = json_string_value(json_object_get(tool, "type"));
			fn = json_object_get(tool, "function");
			name = json_string_value(json_object_get(fn, "name"));
			if (type == NULL || strcmp(type, "function") ||
			    name == NULL) {
				snprintf(err, errlen, "tools[%zu] must be a "
				    "function with a name", i);
				return (0);
			}
			d = json_pack("{s:s}", "name", name);
			if (d == NULL)
				return (0);
			desc = json_object_get(fn, "description");
			if (json_is_string(desc))
				json_object_set(d, "description",
				    (json_t *)desc);
			params = json_object_get(fn, "parameters");
			if (json_is_object(params))
				json_object_set(d, "parametersJsonSchema",
				    (json_t *)params);
			json_array_append_new(decls, d);
		}
	} else if (tools != NULL && !json_is_null(tools) &&
	    !json_is_array(tools)) {
		snprintf(err, errlen, "tools must be an array");
		return (0);
	}

	tc = json_object_get(req, "tool_choice");
	if (tc == NULL || json_is_null(tc) ||
	    json_object_get(body, "tools") == NULL)
		return (1);
	if (json_is_string(tc)) {
		s = json_string_value(tc);
		if (!strcmp(s, "auto"))
			fcc = json_pack("{s:s}", "mode", "AUTO");
		else if (!strcmp(s, "required"))
			fcc = json_pack("{s:s}", "mode", "ANY");
		else if (!strcmp(s, "none"))
			fcc = json_pack("{s:s}", "mode", "NONE");
		else {
			snprintf(err, errlen, "tool_choice '%.32s' is not "
			    "supported", s);
			return (0);
		}
	} else {
		name = json_string_value(json_object_get(json_object_get(tc,
		    "function"), "name"));
		if (name == NULL) {
			snprintf(err, errlen, "tool_choice.function.name is "
			    "missing");
			return (0);
		}
		fcc = json_pack("{s:s, s:[s]}", "mode", "ANY",
		    "allowedFunctionNames", name);
	}
	json_object_set_new(body, "toolConfig", json_pack("{s:o}",
	    "functionCallingConfig", fcc));
	return (1);
}

static int
gem_config(json_t *body, const json_t *req, const struct router_target *t,
    char *err, size_t errlen)
{
	const json_t	*v, *s, *rf;
	const char	*type, *effort;
	json_t		*gc, *stops;
	json_int_t	 max, budget;
	size_t		 i;

	if ((gc = json_object()) == NULL)
		return (0);
	json_object_set_new(body, "generationConfig", gc);

	max = router_xlate_int(req, "max_completion_tokens", -1);
	if (max < 0)
		max = router_xlate_int(req, "max_tokens", -1);
	if (max == 0 || max < -1) {
		snprintf(err, errlen, "max_tokens must be a positive integer");
		return (0);
	}
	if (max < 0 && t->max_output_tokens > 0)
		max = t->max_output_tokens;
	if (max > 0)
		json_object_set_new(gc, "maxOutputTokens", json_integer(max));

	if (json_is_number(v = json_object_get(req, "temperature")))
		json_object_set_new(gc, "temperature",
		    json_real(json_number_value(v)));
	if (json_is_number(v = json_object_get(req, "top_p")))
		json_object_set_new(gc, "topP", json_real(json_number_value(v)));
	if (json_is_number(v = json_object_get(req, "presence_penalty")))
		json_object_set_new(gc, "presencePenalty",
		    json_real(json_number_value(v)));
	if (json_is_number(v = json_object_get(req, "frequency_penalty")))
		json_object_set_new(gc, "frequencyPenalty",
		    json_real(json_number_value(v)));
	if (json_is_integer(v = json_object_get(req, "seed")))
		json_object_set(gc, "seed", (json_t *)v);
	if (json_is_integer(v = json_object_get(req, "n"))) {
		if (json_integer_value(v) < 1 ||
		    json_integer_value(v) > GEM_CANDS_MAX) {
			snprintf(err, errlen, "n must be between 1 and %d for "
			    "gemini models", GEM_CANDS_MAX);
			return (0);
		}
		if (json_integer_value(v) > 1)
			json_object_set(gc, "candidateCount", (json_t *)v);
	}

	v = json_object_get(req, "stop");
	if (json_is_string(v)) {
		json_object_set_new(gc, "stopSequences", json_pack("[O]", v));
	} else if (json_is_array(v) && json_array_size(v) > 0) {
		if ((stops = json_array()) == NULL)
			return (0);
		json_object_set_new(gc, "stopSequences", stops);
		json_array_foreach(v, i, s) {
			if (!json_is_string(s)) {
				snprintf(err, errlen, "stop must be a string or "
				    "an array of strings");
				return (0);
			}
			json_array_append(stops, (json_t *)s);
		}
	}

	rf = json_object_get(req, "response_format");
	type = json_string_value(json_object_get(rf, "type"));
	if (type != NULL && !strcmp(type, "json_object")) {
		json_object_set_new(gc, "responseMimeType",
		    json_string("application/json"));
	} else if (type != NULL && !strcmp(type, "json_schema")) {
		json_object_set_new(gc, "responseMimeType",
		    json_string("application/json"));
		v = json_object_get(json_object_get(rf, "json_schema"),
		    "schema");
		if (json_is_object(v))
			json_object_set(gc, "responseJsonSchema", (json_t *)v);
	}

	/* reasoning.max_tokens (OpenRouter's; /v1/messages' budget_tokens). */
	v = json_object_get(json_object_get(req, "reasoning"), "max_tokens");
	if (json_is_integer(v) && json_integer_value(v) > 0) {
		budget = json_integer_value(v);
		json_object_set_new(gc, "thinkingConfig",
		    json_pack("{s:I, s:b}", "thinkingBudget",
		    budget > GEM_BUDGET_MAX ? GEM_BUDGET_MAX : budget,
		    "includeThoughts", 1));
		return (1);
	}
	effort = json_string_value(json_object_get(req, "reasoning_effort"));
	if (effort != NULL) {
		if (!strcmp(effort, "none"))
			budget = 0;
		else if (!strcmp(effort, "minimal"))
			budget = 512;
		else if (!strcmp(effort, "low"))
			budget = 1024;
		else if (!strcmp(effort, "medium"))
			budget = 8192;
		else if (!strcmp(effort, "high"))
			budget = 24576;
		else if (!strcmp(effort, "xhigh") || !strcmp(effort, "max"))
			budget = 32768;
		else
			budget = -1;	/* auto: the model decides */
		json_object_set_new(gc, "thinkingConfig",
		    json_pack("{s:I, s:b}", "thinkingBudget", budget,
		    "includeThoughts", budget != 0));
	}
	return (1);
}

static const char *
gem_finish(const char *reason, int tools)
{
	if (reason == NULL)
		return (tools ? "tool_calls" : "stop");
	if (!strcmp(reason, "MAX_TOKENS"))
		return ("length");
	if (!strcmp(reason, "SAFETY") || !strcmp(reason, "RECITATION") ||
	    !strcmp(reason, "PROHIBITED_CONTENT") ||
	    !strcmp(reason, "BLOCKLIST") || !strcmp(reason, "SPII") ||
	    !strncmp(reason, "IMAGE_", 6))
		return ("content_filter");
	/* Gemini says STOP after function calls: OpenAI says tool_calls. */
	return (tools ? "tool_calls" : "stop");
}

/*
 * usageMetadata into u. Interim stream chunks carry only
 * promptTokenCount: reported, but a lower bound until the last chunk
 * (the meter settles a call that ended early at no less than its
 * estimate). Empty counts as absent; a negative or non-integer count
 * makes the usage missing (zeroed, reported 0) and returns 0.
 */
static int
gem_usage(const json_t *um, struct router_usage *u)
{
	static const char	*keys[] = { "promptTokenCount",
				    "toolUsePromptTokenCount",
				    "cachedContentTokenCount",
				    "candidatesTokenCount",
				    "thoughtsTokenCount" };
	json_int_t		 n[5];
	size_t			 i;
	int			 seen = 0;

	if (um == NULL || json_is_null(um))
		return (1);
	for (i = 0; i < 5; i++) {
		n[i] = router_xlate_counter(um, keys[i]);
		if (n[i] == -2 || !json_is_object(um)) {
			memset(u, 0, sizeof(*u));
			return (0);
		}
		seen |= n[i] >= 0;
		if (n[i] < 0)
			n[i] = 0;
	}
	if (!seen)
		return (1);
	u->prompt_tokens = n[0] + n[1];		/* includes cached */
	u->cached_tokens = n[2] <= u->prompt_tokens ? n[2] : 0;
	u->completion_tokens = n[3] + n[4];
	u->reasoning_tokens = n[4];
	u->reported = 1;
	return (1);
}

/*
 * A candidate's index: its place in the array when absent, else an
 * integer below GEM_CANDS_MAX (we never ask for more candidates).
 * Anything else is -1: the answer is malformed, never candidate 0.
 */
static int
gem_cand_index(const json_t *cand, size_t i)
{
	const json_t	*v;

	if ((v = json_object_get(cand, "index")) == NULL)
		return (i < GEM_CANDS_MAX ? (int)i : -1);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) >= GEM_CANDS_MAX)
		return (-1);
	return ((int)json_integer_value(v));
}

/* call_<response id>[_c<choice>]_<n>: the same whole or streamed. */
static void
gem_call_id(char *buf, size_t len, const char *rid, int choice, int n)
{
	char	safe[GEM_RID_MAX + 1];
	size_t	i, j;

	j = 0;
	for (i = 0; rid != NULL && rid[i] != '\0' && j < GEM_RID_MAX; i++) {
		if (isalnum((unsigned char)rid[i]) || rid[i] == '-' ||
		    rid[i] == '_')
			safe[j++] = rid[i];
	}
	safe[j] = '\0';
	if (choice > 0)
		snprintf(buf, len, "call_%s%sc%d_%d", safe, j ? "_" : "",
		    choice, n);
	else
		snprintf(buf, len, "call_%s%s%d", safe, j ? "_" : "", n);
}

/* An OpenAI tool call (with index) for a functionCall part. */
static json_t *
gem_tool_call(const json_t *part, const char *rid, int choice, int n)
{
	const json_t	*fc, *args, *sig;
	json_t		*c;
	char		 id[96], *a;

	fc = json_object_get(part, "functionCall");
	args = json_object_get(fc, "args");
	a = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
	gem_call_id(id, sizeof(id), rid, choice, n);
	c = json_pack("{s:i, s:s, s:s, s:{s:O?, s:s}}", "index", n,
	    "id", id, "type", "function", "function",
	    "name", json_object_get(fc, "name"), "arguments", a ? a : "{}");
	free(a);
	sig = json_object_get(part, "thoughtSignature");
	if (c != NULL && json_is_string(sig))
		json_object_set_new(c, "extra_content", json_pack(
		    "{s:{s:O}}", "google", "thought_signature", sig));
	return (c);
}

static json_t *
gem_chat_response(const struct router_target *t, const char *body,
    size_t len, struct router_usage *u, char *err, size_t errlen)
{
	struct router_xbuf	 text, think;
	json_t			*doc, *out, *choices, *calls, *msg, *c;
	const json_t		*cands, *cand, *parts, *p, *v;
	const char		*rid, *model, *reason;
	json_error_t		 jerr;
	size_t			 i, j;
	int			 n, choice;

	memset(u, 0, sizeof(*u));
	doc = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "gemini answer is not JSON: %s",
		    jerr.text);
		json_decref(doc);
		return (NULL);
	}
	rid = json_string_value(json_object_get(doc, "responseId"));
	cands = json_object_get(doc, "candidates");
	if ((choices = json_array()) == NULL)
		goto nomem;

	json_array_foreach(cands, i, cand) {
		if ((choice = gem_cand_index(cand, i)) < 0) {
			snprintf(err, errlen, "gemini answered a candidate "
			    "without a valid index");
			json_decref(choices);
			json_decref(doc);
			return (NULL);
		}
		memset(&text, 0, sizeof(text));
		memset(&think, 0, sizeof(think));
		calls = json_array();
		n = 0;
		parts = json_object_get(json_object_get(cand, "content"),
		    "parts");
		json_array_foreach(parts, j, p) {
			v = json_object_get(p, "text");
			if (json_is_string(v)) {
				router_xbuf_str(json_is_true(json_object_get(p,
				    "thought")) ? &think : &text,
				    json_string_value(v));
			} else if (json_is_object(json_object_get(p,
			    "functionCall"))) {
				c = gem_tool_call(p, rid, choice, n++);
				json_object_del(c, "index");
				json_array_append_new(calls, c);
			}
		}
		reason = json_string_value(json_object_get(cand,
		    "finishReason"));
		msg = json_pack("{s:s, s:o, s:n}", "role", "assistant",
		    "content", text.data ? json_string(text.data) :
		    (n ? json_null() : json_string("")), "refusal");
		if (n > 0)
			json_object_set(msg, "tool_calls", calls);
		if (think.data != NULL)
			json_object_set_new(msg, "reasoning",
			    json_string(think.data));
		json_decref(calls);
		router_xbuf_free(&text);
		router_xbuf_free(&think);
		json_array_append_new(choices, json_pack(
		    "{s:i, s:o, s:n, s:s}", "index", choice, "message", msg,
		    "logprobs", "finish_reason", gem_finish(reason, n > 0)));
	}

	/* A prompt blocked before any candidate: an empty, filtered answer. */
	if (json_array_size(choices) == 0) {
		reason = json_string_value(json_object_get(json_object_get(doc,
		    "promptFeedback"), "blockReason"));
		json_array_append_new(choices, json_pack(
		    "{s:i, s:{s:s, s:s, s:n}, s:n, s:s}", "index", 0,
		    "message", "role", "assistant", "content", "", "refusal",
		    "logprobs", "finish_reason", reason ? "content_filter" :
		    "stop"));
	}

	gem_usage(json_object_get(doc, "usageMetadata"), u);
	model = json_string_value(json_object_get(doc, "modelVersion"));
	out = json_pack("{s:s, s:s, s:I, s:s, s:o}",
	    "id", rid ? rid : "gemini", "object", "chat.completion",
	    "created", (json_int_t)time(NULL), "model", model ? model :
	    t->model, "choices", choices);
	json_decref(doc);
	if (out == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	json_object_set_new(out, "usage", router_usage_json(u));
	return (out);
nomem:
	json_decref(doc);
	snprintf(err, errlen, "out of memory");
	return (NULL);
}

static int
gem_stream_event(struct router_stream *st, const char *event,
    const char *data, size_t len, json_t *chunks)
{
	struct gem_state	*gs = &st->family.gemini;
	struct gem_cand		*gc;
	json_t			*doc, *delta, *c;
	const json_t		*cands, *cand, *parts, *p, *v;
	const char		*rid, *model, *reason;
	json_error_t		 jerr;
	size_t			 i, j;
	int			 choice, ok = 1, all;

	(void)event;
	doc = json_loadb(data, len, 0, &jerr);
	if (json_is_array(doc) && json_array_size(doc) == 1) {
		/* errors on stream endpoints may come as a one-item array */
		json_t	*inner = json_incref(json_array_get(doc, 0));

		json_decref(doc);
		doc = inner;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		snprintf(st->error, sizeof(st->error), "gemini sent a "
		    "malformed event: %s", jerr.text);
		return (0);
	}
	if (json_object_get(doc, "error") != NULL) {
		st->failed = 1;
		gem_error_text(doc, st->error, sizeof(st->error), NULL);
		json_decref(doc);
		return (1);
	}

	model = json_string_value(json_object_get(doc, "modelVersion"));
	if (model != NULL && *model != '\0')
		router_xlate_copy(st->model, sizeof(st->model), model);
	rid = json_string_value(json_object_get(doc, "responseId"));
	if (!gs->bad_usage && !gem_usage(json_object_get(doc,
	    "usageMetadata"), &st->usage))
		gs->bad_usage = 1;

	cands = json_object_get(doc, "candidates");
	json_array_foreach(cands, i, cand) {
		if ((choice = gem_cand_index(cand, i)) < 0) {
			snprintf(st->error, sizeof(st->error), "gemini sent a "
			    "candidate without a valid index");
			json_decref(doc);
			return (0);
		}
		gc = &gs->cands[choice];
		if (choice >= gs->ncands)
			gs->ncands = choice + 1;
		parts = json_object_get(json_object_get(cand, "content"),
		    "parts");
		json_array_foreach(parts, j, p) {
			v = json_object_get(p, "text");
			if (json_is_string(v)) {
				if (*json_string_value(v) == '\0')
					continue;
				st->text_bytes += json_string_length(v);
				delta = json_pack("{s:O}", json_is_true(
				    json_object_get(p, "thought")) ?
				    "reasoning" : "content", v);
			} else if (json_is_object(json_object_get(p,
			    "functionCall"))) {
				c = gem_tool_call(p, rid, choice,
				    gc->tools++);
				if (choice == 0)
					st->tool_calls = gc->tools;
				v = json_object_get(json_object_get(c,
				    "function"), "arguments");
				st->text_bytes += json_string_length(v);
				delta = json_pack("{s:[o]}", "tool_calls", c);
			} else
				continue;
			if (delta != NULL && choice > 0 && !gc->sent_role)
				json_object_set_new(delta, "role",
				    json_string("assistant"));
			gc->sent_role = 1;
			if (!(ok = router_xlate_chunk(st, chunks, choice,
			    delta, NULL)))
				goto out;
		}
		reason = json_string_value(json_object_get(cand,
		    "finishReason"));
		if (reason != NULL && !gc->finished) {
			gc->finished = 1;
			delta = json_object();
			if (delta != NULL && choice > 0 && !gc->sent_role)
				json_object_set_new(delta, "role",
				    json_string("assistant"));
			gc->sent_role = 1;
			if (!(ok = router_xlate_chunk(st, chunks, choice,
			    delta, gem_finish(reason, gc->tools > 0))))
				goto out;
		}
	}

	if (json_array_size(cands) == 0 && json_is_string(json_object_get(
	    json_object_get(doc, "promptFeedback"), "blockReason")) &&
	    !gs->cands[0].finished) {
		gs->cands[0].finished = 1;
		gs->ncands = gs->ncands ? gs->ncands : 1;
		ok = router_xlate_chunk(st, chunks, 0, json_object(),
		    "content_filter");
	}

	all = gs->ncands > 0;
	for (i = 0; i < (size_t)gs->ncands; i++)
		all = all && gs->cands[i].finished;
	if (all)
		st->done = 1;
out:
	json_decref(doc);
	if (!ok && st->error[0] == '\0')
		snprintf(st->error, sizeof(st->error), "out of memory");
	return (ok);
}

/*
 * "STATUS: message" of a Google error; *status (when given) becomes 401
 * for a refused API key, which Google reports as a 400.
 */
static int
gem_error_text(const json_t *doc, char *buf, size_t len, long *status)
{
	const json_t	*e, *details, *d;
	const char	*st, *msg, *reason;
	size_t		 i;

	if (json_is_array(doc))
		doc = json_array_get(doc, 0);
	e = json_object_get(doc, "error");
	if (!json_is_object(e)) {
		router_xlate_copy(buf, len, "gemini reported an error");
		return (0);
	}
	st = json_string_value(json_object_get(e, "status"));
	msg = json_string_value(json_object_get(e, "message"));
	snprintf(buf, len, "%s: %s", st ? st : "ERROR", msg ? msg :
	    "no message");
	router_xlate_clean(buf);
	details = json_object_get(e, "details");
	json_array_foreach(details, i, d) {
		reason = json_string_value(json_object_get(d, "reason"));
		if (status != NULL && reason != NULL &&
		    !strcmp(reason, "API_KEY_INVALID"))
			*status = 401;
	}
	return (1);
}

static void
gem_map_error(long status, const char *body, size_t len,
    struct router_error *e)
{
	json_t		*doc;
	json_error_t	 jerr;
	char		 msg[ROUTER_ERR_MAX];

	doc = body != NULL ? json_loadb(body, len, 0, &jerr) : NULL;
	if (!gem_error_text(doc, msg, sizeof(msg), &status))
		snprintf(msg, sizeof(msg), "no error details");
	json_decref(doc);
	router_error_map(status, msg, e);
}

static int
gem_embed_request(const struct router_target *t, const json_t *req,
    struct router_http *http, char *err, size_t errlen)
{
	const json_t	*input, *v, *dims;
	json_t		*body, *reqs, *r;
	const char	*model;
	char		 name[ROUTER_MODEL_MAX + 8];
	size_t		 i;

	memset(http, 0, sizeof(*http));
	input = json_object_get(req, "input");
	if (!json_is_string(input) && !(json_is_array(input) &&
	    json_array_size(input) > 0)) {
		snprintf(err, errlen, "input must be a string or a non-empty "
		    "array of strings");
		return (0);
	}
	dims = json_object_get(req, "dimensions");
	if (dims != NULL && !json_is_null(dims) && (!json_is_integer(dims) ||
	    json_integer_value(dims) < 1)) {
		snprintf(err, errlen, "dimensions must be a positive integer");
		return (0);
	}
	model = t->model;
	if (!strncmp(model, "models/", 7))
		model += 7;
	snprintf(name, sizeof(name), "models/%s", model);

	if ((reqs = json_array()) == NULL)
		return (0);
	body = json_pack("{s:o}", "requests", reqs);
	for (i = 0; i < (json_is_string(input) ? 1 : json_array_size(input));
	    i++) {
		v = json_is_string(input) ? input : json_array_get(input, i);
		if (!json_is_string(v)) {
			json_decref(body);
			snprintf(err, errlen, "input must be text: token arrays "
			    "are not supported by gemini models");
			return (0);
		}
		r = json_pack("{s:s, s:{s:[{s:O}]}}", "model", name,
		    "content", "parts", "text", v);
		if (r == NULL) {
			json_decref(body);
			return (0);
		}
		if (json_is_integer(dims))
			json_object_set(r, "outputDimensionality",
			    (json_t *)dims);
		json_array_append_new(reqs, r);
	}
	return (gem_http(t, "batchEmbedContents", 0, body, http, err,
	    errlen));
}

/*
 * batchEmbedContents reports no usage: the caller's estimate already in
 * u->prompt_tokens stays (reported 0) unless the answer carries one.
 */
static json_t *
gem_embed_response(const struct router_target *t, const char *body,
    size_t len, struct router_usage *u, char *err, size_t errlen)
{
	json_t		*doc, *data, *out;
	const json_t	*embs, *e, *values;
	json_error_t	 jerr;
	json_int_t	 n;
	size_t		 i;

	doc = json_loadb(body, len, 0, &jerr);
	embs = json_object_get(doc, "embeddings");
	if (!json_is_array(embs)) {
		snprintf(err, errlen, "gemini answer holds no embeddings");
		json_decref(doc);
		return (NULL);
	}
	if ((data = json_array()) == NULL) {
		json_decref(doc);
		return (NULL);
	}
	json_array_foreach(embs, i, e) {
		values = json_object_get(e, "values");
		if (!json_is_array(values)) {
			snprintf(err, errlen, "gemini embedding %zu has no "
			    "values", i);
			json_decref(data);
			json_decref(doc);
			return (NULL);
		}
		json_array_append_new(data, json_pack("{s:s, s:i, s:O}",
		    "object", "embedding", "index", (int)i, "embedding",
		    values));
	}
	n = router_xlate_int(json_object_get(doc, "usageMetadata"),
	    "promptTokenCount", -1);
	if (n >= 0) {
		u->prompt_tokens = n;
		u->reported = 1;
	}
	u->completion_tokens = 0;
	out = json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list",
	    "data", data, "model", t->model, "usage", "prompt_tokens",
	    (json_int_t)u->prompt_tokens, "total_tokens",
	    (json_int_t)u->prompt_tokens);
	json_decref(doc);
	return (out);
}
