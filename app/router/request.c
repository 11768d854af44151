/*
 * Client request checks (see request.h). Each check names the field at
 * fault the way OpenAI does ("messages[1].content") so SDK users see
 * where their request went wrong. The byte counts are upper bounds for
 * billing: for byte-level BPE tokenizers a text never has more tokens
 * than bytes, and tool schemas are counted as the JSON sent upstream.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "router/request.h"
#include "router/xlate.h"

static int	bad(struct router_problem *, const char *, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static const char *check_model(const json_t *, struct router_problem *);
static int	check_number(const json_t *, const char *, double, double,
		    struct router_problem *);
static int	check_type(const json_t *, const char *, int,
		    struct router_problem *);
static int	check_message(const json_t *, size_t,
		    struct router_chat_req *, struct router_problem *);
static int	check_cache(const json_t *, const char *,
		    struct router_problem *);
static int	check_content(const json_t *, const char *, size_t,
		    struct router_chat_req *, struct router_problem *);
static int	check_tool_calls(const json_t *, size_t,
		    struct router_chat_req *, struct router_problem *);
static int	check_tools(const json_t *, struct router_chat_req *,
		    struct router_problem *);
static int	check_stop(const json_t *, struct router_problem *);
static int	check_unbillable(const json_t *, struct router_problem *);
static int	check_max_tokens(const json_t *, struct router_chat_req *,
		    struct router_problem *);
static size_t	json_size(const json_t *);

/* JSON types for check_type(). */
#define T_STRING	0x01
#define T_BOOL		0x02
#define T_INT		0x04
#define T_NUMBER	0x08
#define T_OBJECT	0x10
#define T_ARRAY		0x20
#define T_NULL		0x40

int
router_chat_check(const json_t *req, struct router_chat_req *out,
    struct router_problem *pb)
{
	const json_t	*v, *msgs, *m;
	json_int_t	 n;
	size_t		 i;

	memset(out, 0, sizeof(*out));
	memset(pb, 0, sizeof(*pb));
	out->n = 1;

	if ((out->model = check_model(req, pb)) == NULL)
		return (0);

	msgs = json_object_get(req, "messages");
	if (msgs == NULL || json_is_null(msgs))
		return (bad(pb, "missing_field", "messages",
		    "messages is required"));
	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return (bad(pb, "invalid_value", "messages",
		    "messages must be a non-empty array"));
	if (json_array_size(msgs) > ROUTER_MESSAGES_MAX)
		return (bad(pb, "invalid_value", "messages",
		    "at most %d messages", ROUTER_MESSAGES_MAX));
	json_array_foreach(msgs, i, m) {
		if (!check_message(m, i, out, pb))
			return (0);
	}
	out->messages = (int)json_array_size(msgs);

	if (!check_type(req, "stream", T_BOOL | T_NULL, pb))
		return (0);
	out->stream = json_is_true(json_object_get(req, "stream"));
	if (!check_type(req, "stream_options", T_OBJECT | T_NULL, pb))
		return (0);
	if ((v = json_object_get(req, "stream_options")) != NULL &&
	    json_is_object(v)) {
		if (!check_type(v, "include_usage", T_BOOL, pb)) {
			(void)snprintf(pb->param, sizeof(pb->param),
			    "stream_options.include_usage");
			return (0);
		}
		out->include_usage =
		    json_is_true(json_object_get(v, "include_usage"));
	}

	if ((v = json_object_get(req, "n")) != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || (n = json_integer_value(v)) < 1 ||
		    n > ROUTER_N_MAX)
			return (bad(pb, "invalid_value", "n",
			    "n must be an integer from 1 to %d", ROUTER_N_MAX));
		out->n = (int)n;
	}

	if (!check_max_tokens(req, out, pb))
		return (0);
	if (!check_number(req, "temperature", 0, 2, pb) ||
	    !check_number(req, "top_p", 0, 1, pb) ||
	    !check_number(req, "presence_penalty", -2, 2, pb) ||
	    !check_number(req, "frequency_penalty", -2, 2, pb))
		return (0);
	if (!check_type(req, "seed", T_INT | T_NULL, pb) ||
	    !check_type(req, "user", T_STRING | T_NULL, pb) ||
	    !check_type(req, "logprobs", T_BOOL | T_NULL, pb) ||
	    !check_type(req, "top_logprobs", T_INT | T_NULL, pb) ||
	    !check_type(req, "parallel_tool_calls", T_BOOL | T_NULL, pb) ||
	    !check_type(req, "reasoning_effort", T_STRING | T_NULL, pb) ||
	    !check_type(req, "metadata", T_OBJECT | T_NULL, pb) ||
	    !check_type(req, "logit_bias", T_OBJECT | T_NULL, pb) ||
	    !check_type(req, "response_format", T_OBJECT | T_NULL, pb) ||
	    !check_type(req, "tool_choice", T_STRING | T_OBJECT | T_NULL,
	    pb))
		return (0);

	if ((v = json_object_get(req, "response_format")) != NULL &&
	    json_is_object(v)) {
		const char	*t = json_string_value(json_object_get(v, "type"));

		if (t == NULL || (strcmp(t, "text") &&
		    strcmp(t, "json_object") && strcmp(t, "json_schema")))
			return (bad(pb, "invalid_value", "response_format.type",
			    "response_format.type must be text, json_object "
			    "or json_schema"));
		out->prompt_bytes += json_size(json_object_get(v,
		    "json_schema"));
	}
	if ((v = json_object_get(req, "tool_choice")) != NULL &&
	    json_is_string(v) && strcmp(json_string_value(v), "none") &&
	    strcmp(json_string_value(v), "auto") &&
	    strcmp(json_string_value(v), "required"))
		return (bad(pb, "invalid_value", "tool_choice",
		    "tool_choice must be none, auto, required or an object"));

	if (!check_stop(req, pb) || !check_tools(req, out, pb) ||
	    !check_unbillable(req, pb))
		return (0);
	/* Legacy function definitions, passed on like tools. */
	out->prompt_bytes += json_size(json_object_get(req, "functions"));

	return (1);
}

int
router_embed_check(const json_t *req, struct router_embed_req *out,
    struct router_problem *pb)
{
	const json_t	*v, *in, *e, *t;
	const char	*fmt;
	size_t		 i, j;

	memset(out, 0, sizeof(*out));
	memset(pb, 0, sizeof(*pb));

	if ((out->model = check_model(req, pb)) == NULL)
		return (0);

	in = json_object_get(req, "input");
	if (in == NULL || json_is_null(in))
		return (bad(pb, "missing_field", "input", "input is required"));

	if (json_is_string(in)) {
		if (json_string_length(in) == 0)
			return (bad(pb, "invalid_value", "input",
			    "input must not be empty"));
		out->prompt_bytes = json_string_length(in);
		out->inputs = 1;
	} else if (json_is_array(in) && json_array_size(in) > 0 &&
	    json_array_size(in) <= ROUTER_EMBED_INPUTS_MAX) {
		json_array_foreach(in, i, e) {
			if (json_is_string(e) && json_string_length(e) > 0) {
				out->prompt_bytes += json_string_length(e);
				out->inputs++;
				continue;
			}
			if (json_is_integer(e) && json_integer_value(e) >= 0) {
				/* One array of token ids is one input. */
				out->prompt_bytes++;
				out->inputs = 1;
				continue;
			}
			if (!json_is_array(e) || json_array_size(e) == 0)
				goto badinput;
			json_array_foreach(e, j, t) {
				if (!json_is_integer(t) ||
				    json_integer_value(t) < 0)
					goto badinput;
			}
			out->prompt_bytes += json_array_size(e);
			out->inputs++;
		}
	} else {
		goto badinput;
	}

	fmt = json_string_value(json_object_get(req, "encoding_format"));
	if (json_object_get(req, "encoding_format") != NULL &&
	    !json_is_null(json_object_get(req, "encoding_format")) &&
	    (fmt == NULL || (strcmp(fmt, "float") && strcmp(fmt, "base64"))))
		return (bad(pb, "invalid_value", "encoding_format",
		    "encoding_format must be float or base64"));
	if ((v = json_object_get(req, "dimensions")) != NULL &&
	    !json_is_null(v) && (!json_is_integer(v) ||
	    json_integer_value(v) < 1 || json_integer_value(v) > 65536))
		return (bad(pb, "invalid_value", "dimensions",
		    "dimensions must be a positive integer"));
	if (!check_type(req, "user", T_STRING | T_NULL, pb))
		return (0);

	return (1);

badinput:
	return (bad(pb, "invalid_value", "input", "input must be a non-empty "
	    "string, an array of 1 to %d non-empty strings, or token ids",
	    ROUTER_EMBED_INPUTS_MAX));
}

static int
bad(struct router_problem *pb, const char *code, const char *param,
    const char *fmt, ...)
{
	va_list	ap;

	(void)snprintf(pb->code, sizeof(pb->code), "%s", code);
	(void)snprintf(pb->param, sizeof(pb->param), "%s",
	    param != NULL ? param : "");
	va_start(ap, fmt);
	(void)vsnprintf(pb->message, sizeof(pb->message), fmt, ap);
	va_end(ap);

	return (0);
}

/* The model name, or NULL with the problem set. */
static const char *
check_model(const json_t *req, struct router_problem *pb)
{
	const json_t	*v;

	v = json_object_get(req, "model");
	if (v == NULL || json_is_null(v)) {
		(void)bad(pb, "missing_field", "model", "model is required");
		return (NULL);
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > ROUTER_REQ_MODEL_MAX) {
		(void)bad(pb, "invalid_value", "model",
		    "model must be a non-empty string");
		return (NULL);
	}

	return (json_string_value(v));
}

static int
check_type(const json_t *obj, const char *key, int types,
    struct router_problem *pb)
{
	const json_t	*v;
	const char	*want;

	if ((v = json_object_get(obj, key)) == NULL)
		return (1);

	if (((types & T_STRING) && json_is_string(v)) ||
	    ((types & T_BOOL) && json_is_boolean(v)) ||
	    ((types & T_INT) && json_is_integer(v)) ||
	    ((types & T_NUMBER) && json_is_number(v)) ||
	    ((types & T_OBJECT) && json_is_object(v)) ||
	    ((types & T_ARRAY) && json_is_array(v)) ||
	    ((types & T_NULL) && json_is_null(v)))
		return (1);

	if (types & T_OBJECT)
		want = (types & T_STRING) ? "a string or an object" :
		    "an object";
	else if (types & T_STRING)
		want = "a string";
	else if (types & T_BOOL)
		want = "a boolean";
	else if (types & T_INT)
		want = "an integer";
	else if (types & T_ARRAY)
		want = "an array";
	else
		want = "a number";

	return (bad(pb, "invalid_value", key, "%s must be %s", key, want));
}

static int
check_number(const json_t *obj, const char *key, double min, double max,
    struct router_problem *pb)
{
	const json_t	*v;
	double		 d;

	if ((v = json_object_get(obj, key)) == NULL || json_is_null(v))
		return (1);

	if (!json_is_number(v) || (d = json_number_value(v)) < min || d > max)
		return (bad(pb, "invalid_value", key,
		    "%s must be a number from %g to %g", key, min, max));

	return (1);
}

static int
check_max_tokens(const json_t *req, struct router_chat_req *out,
    struct router_problem *pb)
{
	static const char	*names[] = { "max_completion_tokens",
				    "max_tokens" };
	const json_t		*v;
	json_int_t		 n;
	int			 i;

	for (i = 0; i < 2; i++) {
		if ((v = json_object_get(req, names[i])) == NULL ||
		    json_is_null(v))
			continue;
		if (!json_is_integer(v) || (n = json_integer_value(v)) < 1 ||
		    n > 100000000)
			return (bad(pb, "invalid_value", names[i],
			    "%s must be a positive integer", names[i]));
		if (out->max_tokens != 0 && out->max_tokens != n)
			return (bad(pb, "invalid_value", names[i],
			    "max_tokens and max_completion_tokens differ"));
		if (out->max_tokens == 0) {
			out->max_tokens = n;
			out->max_tokens_field = names[i];
		}
	}

	return (1);
}

static int
check_message(const json_t *m, size_t i, struct router_chat_req *out,
    struct router_problem *pb)
{
	static const char	*roles[] = { "system", "developer", "user",
				    "assistant", "tool", "function", NULL };
	const json_t		*content, *v;
	const char		*role;
	char			 param[64];
	int			 r;

	if (!json_is_object(m))
		return (bad(pb, "invalid_value", "messages",
		    "messages[%zu] must be an object", i));

	(void)snprintf(param, sizeof(param), "messages[%zu].role", i);
	if ((role = json_string_value(json_object_get(m, "role"))) == NULL)
		return (bad(pb, json_object_get(m, "role") == NULL ?
		    "missing_field" : "invalid_value", param,
		    "%s must be a string", param));
	for (r = 0; roles[r] != NULL; r++) {
		if (!strcmp(roles[r], role))
			break;
	}
	if (roles[r] == NULL)
		return (bad(pb, "invalid_value", param, "%s must be one of "
		    "system, developer, user, assistant, tool", param));

	(void)snprintf(param, sizeof(param), "messages[%zu].name", i);
	if ((v = json_object_get(m, "name")) != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			return (bad(pb, "invalid_value", param,
			    "%s must be a string", param));
		out->prompt_bytes += json_string_length(v);
	}

	content = json_object_get(m, "content");
	if (!strcmp(role, "assistant")) {
		/* Passed on too: a legacy call, earlier turns' reasoning. */
		out->prompt_bytes += json_size(json_object_get(m,
		    "function_call")) + json_size(json_object_get(m,
		    "reasoning_details"));
		v = json_object_get(m, "tool_calls");
		if (v != NULL && !json_is_null(v) &&
		    !check_tool_calls(v, i, out, pb))
			return (0);
		if ((content == NULL || json_is_null(content)) &&
		    (v == NULL || json_is_null(v)) &&
		    json_object_get(m, "function_call") == NULL)
			return (bad(pb, "missing_field", "messages",
			    "messages[%zu]: an assistant message needs "
			    "content or tool_calls", i));
	} else if (content == NULL || json_is_null(content)) {
		(void)snprintf(param, sizeof(param), "messages[%zu].content",
		    i);
		return (bad(pb, "missing_field", param, "%s is required",
		    param));
	}

	if (!strcmp(role, "tool")) {
		(void)snprintf(param, sizeof(param),
		    "messages[%zu].tool_call_id", i);
		if (!json_is_string(json_object_get(m, "tool_call_id")))
			return (bad(pb, "missing_field", param,
			    "%s is required (a string) on tool messages",
			    param));
		out->prompt_bytes += json_string_length(json_object_get(m,
		    "tool_call_id"));
	}

	if (content != NULL && !json_is_null(content))
		return (check_content(content, role, i, out, pb));
	return (1);
}

static int
check_content(const json_t *content, const char *role, size_t i,
    struct router_chat_req *out, struct router_problem *pb)
{
	const json_t	*part, *v;
	const char	*type;
	char		 param[64];
	size_t		 j;

	(void)snprintf(param, sizeof(param), "messages[%zu].content", i);
	if (json_is_string(content)) {
		out->prompt_bytes += json_string_length(content);
		return (1);
	}
	if (!json_is_array(content))
		return (bad(pb, "invalid_value", param,
		    "%s must be a string or an array of parts", param));

	json_array_foreach(content, j, part) {
		(void)snprintf(param, sizeof(param),
		    "messages[%zu].content[%zu]", i, j);
		type = json_string_value(json_object_get(part, "type"));
		if (!json_is_object(part) || type == NULL)
			return (bad(pb, "invalid_value", param,
			    "%s must be an object with a type", param));
		if (!strcmp(type, "text") || !strcmp(type, "refusal")) {
			v = json_object_get(part, type);
			if (!json_is_string(v))
				return (bad(pb, "invalid_value", param,
				    "%s.%s must be a string", param, type));
			out->prompt_bytes += json_string_length(v);
		} else if (!strcmp(type, "image_url")) {
			v = json_object_get(part, "image_url");
			if (json_is_object(v))
				v = json_object_get(v, "url");
			if (!json_is_string(v) || strcmp(role, "user"))
				return (bad(pb, "invalid_value", param,
				    "%s: image_url.url must be a string, in a "
				    "user message", param));
			out->images++;
		} else if (!strcmp(type, "input_audio") ||
		    !strcmp(type, "file")) {
			if (!json_is_object(json_object_get(part, type)))
				return (bad(pb, "invalid_value", param,
				    "%s.%s must be an object", param, type));
			out->images++;
		} else {
			return (bad(pb, "invalid_value", param,
			    "%s: unknown content part type \"%.32s\"", param,
			    type));
		}
		if (!check_cache(part, param, pb))
			return (0);
	}

	return (1);
}

/* A prompt-cache marker (Anthropic's, forwarded there; xlate.h). */
static int
check_cache(const json_t *holder, const char *where,
    struct router_problem *pb)
{
	const char	*member;
	char		 why[160], param[96];

	if (router_xlate_cache_check(json_object_get(holder, "cache_control"),
	    &member, why, sizeof(why)))
		return (1);
	(void)snprintf(param, sizeof(param), "%s.%s", where, member);
	return (bad(pb, "invalid_value", param, "%s.%s", where, why));
}

static int
check_tool_calls(const json_t *calls, size_t i, struct router_chat_req *out,
    struct router_problem *pb)
{
	const json_t	*c, *f;
	char		 param[64];
	size_t		 j;

	(void)snprintf(param, sizeof(param), "messages[%zu].tool_calls", i);
	if (!json_is_array(calls))
		return (bad(pb, "invalid_value", param, "%s must be an array",
		    param));

	json_array_foreach(calls, j, c) {
		(void)snprintf(param, sizeof(param),
		    "messages[%zu].tool_calls[%zu]", i, j);
		f = json_object_get(c, "function");
		if (!json_is_object(c) ||
		    !json_is_string(json_object_get(c, "id")) ||
		    !json_is_object(f) ||
		    !json_is_string(json_object_get(f, "name")) ||
		    !json_is_string(json_object_get(f, "arguments")))
			return (bad(pb, "invalid_value", param, "%s must have "
			    "an id and a function with a name and arguments "
			    "(a string)", param));
		out->prompt_bytes += json_string_length(json_object_get(c,
		    "id")) + json_string_length(json_object_get(f, "name")) +
		    json_string_length(json_object_get(f, "arguments"));
	}

	return (1);
}

static int
check_tools(const json_t *req, struct router_chat_req *out,
    struct router_problem *pb)
{
	const json_t	*tools, *t, *f, *v;
	char		 param[48];
	size_t		 i;

	if ((tools = json_object_get(req, "tools")) == NULL ||
	    json_is_null(tools))
		return (1);
	if (!json_is_array(tools) || json_array_size(tools) > ROUTER_TOOLS_MAX)
		return (bad(pb, "invalid_value", "tools",
		    "tools must be an array of at most %d tools",
		    ROUTER_TOOLS_MAX));

	json_array_foreach(tools, i, t) {
		(void)snprintf(param, sizeof(param), "tools[%zu]", i);
		f = json_object_get(t, "function");
		if (!json_is_object(t) || !json_is_object(f) ||
		    !json_is_string(json_object_get(f, "name")) ||
		    json_string_length(json_object_get(f, "name")) == 0)
			return (bad(pb, "invalid_value", param, "%s must be "
			    "{\"type\":\"function\",\"function\":{\"name\":"
			    "...}}", param));
		v = json_object_get(t, "type");
		if (v != NULL && (!json_is_string(v) ||
		    strcmp(json_string_value(v), "function")))
			return (bad(pb, "invalid_value", param,
			    "%s.type must be \"function\"", param));
		v = json_object_get(f, "parameters");
		if (v != NULL && !json_is_object(v))
			return (bad(pb, "invalid_value", param,
			    "%s.function.parameters must be an object",
			    param));
		if (!check_cache(t, param, pb))
			return (0);
		(void)snprintf(param, sizeof(param), "tools[%zu].function", i);
		if (!check_cache(f, param, pb))
			return (0);
	}
	out->prompt_bytes += json_size(tools);

	return (1);
}

static int
check_stop(const json_t *req, struct router_problem *pb)
{
	const json_t	*stop, *s;
	size_t		 i;

	if ((stop = json_object_get(req, "stop")) == NULL ||
	    json_is_null(stop) || json_is_string(stop))
		return (1);

	if (!json_is_array(stop) || json_array_size(stop) > ROUTER_STOP_MAX)
		goto fail;
	json_array_foreach(stop, i, s) {
		if (!json_is_string(s) || json_string_length(s) == 0)
			goto fail;
	}
	return (1);

fail:
	return (bad(pb, "invalid_value", "stop", "stop must be a string or "
	    "an array of at most %d non-empty strings", ROUTER_STOP_MAX));
}

/*
 * Options that change what a call costs in ways the price table cannot
 * bill (a priority or flex tier, web search, audio output) are refused
 * rather than forwarded: the call would be charged at the wrong price.
 */
static int
check_unbillable(const json_t *req, struct router_problem *pb)
{
	const json_t	*v, *m;
	const char	*s;
	size_t		 i;

	v = json_object_get(req, "service_tier");
	if (v != NULL && !json_is_null(v)) {
		s = json_string_value(v);
		if (s == NULL || (strcmp(s, "auto") && strcmp(s, "default")))
			return (bad(pb, "invalid_value", "service_tier",
			    "service_tier may only be \"auto\" or \"default\":"
			    " other tiers are priced differently and cannot be "
			    "billed here"));
	}
	v = json_object_get(req, "web_search_options");
	if (v != NULL && !json_is_null(v))
		return (bad(pb, "invalid_value", "web_search_options",
		    "web search is not supported: its price cannot be billed "
		    "here"));
	v = json_object_get(req, "audio");
	if (v != NULL && !json_is_null(v))
		return (bad(pb, "invalid_value", "audio", "audio output is not "
		    "supported: its price cannot be billed here"));

	v = json_object_get(req, "modalities");
	if (v == NULL || json_is_null(v))
		return (1);
	if (!json_is_array(v))
		return (bad(pb, "invalid_value", "modalities",
		    "modalities must be an array"));
	json_array_foreach(v, i, m) {
		if (!json_is_string(m) || strcmp(json_string_value(m), "text"))
			return (bad(pb, "invalid_value", "modalities",
			    "only the \"text\" modality is supported: audio "
			    "output cannot be billed here"));
	}
	return (1);
}

/* Bytes of o's compact JSON (0 for NULL), without building it. */
static size_t
json_size(const json_t *o)
{
	if (o == NULL)
		return (0);
	return (json_dumpb(o, NULL, 0, JSON_COMPACT));
}
