/*
 * /v1/messages translation (see messages.h): Anthropic Messages requests
 * to OpenAI chat requests, and OpenAI answers and chunks back to
 * Anthropic's message object and SSE events.
 *
 * Request invariants: a user turn's tool_result blocks become role
 * "tool" messages placed before the rest of that turn (OpenAI wants
 * tool answers right after the assistant's calls); images inside a tool
 * result follow as a user message, since OpenAI tool messages hold text.
 *
 * Stream invariants: blocks are opened and closed in order, one at a
 * time (text, thinking, tool_use), indices counting from 0; each OpenAI
 * tool call index gets one tool_use block, and argument fragments for
 * it become input_json_delta events on that block. message_start goes
 * out with the first chunk, message_delta and message_stop only at
 * finish, so the usage that OpenAI streams last can be reported.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/messages.h"
#include "router/upstream.h"

#define KIND_TEXT	1
#define KIND_THINKING	2
#define KIND_TOOL	3

static int	msg_bad(int *, char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	msg_system(json_t *, const json_t *, int *, char *, size_t);
static int	msg_cache(json_t *, const json_t *, const char *, int *, char *,
		    size_t);
static char	*msg_tool_id_out(const char *, const json_t *);
static json_t	*msg_tool_id_in(const char *, json_t **);
static const char *msg_stop_sequence(const json_t *);
static int	msg_turn(json_t *, const json_t *, size_t, int *, char *,
		    size_t);
static int	msg_user(json_t *, const json_t *, size_t, int *, char *,
		    size_t);
static int	msg_assistant(json_t *, const json_t *, size_t, int *, char *,
		    size_t);
static json_t	*msg_image(const json_t *, const char *, int *, char *,
		    size_t);
static json_t	*msg_document(const json_t *, const char *, int *, char *,
		    size_t);
static int	msg_tool_result(json_t *, json_t *, const json_t *,
		    const char *, int *, char *, size_t);
static int	msg_tools(json_t *, const json_t *, int *, char *, size_t);
static int	msg_options(json_t *, const json_t *, int *, char *, size_t);
static int	msg_event(struct router_xbuf *, const char *, json_t *);
static int	msg_open(struct router_messages_stream *, int, json_t *,
		    struct router_xbuf *);
static int	msg_close(struct router_messages_stream *,
		    struct router_xbuf *);
static int	msg_start(struct router_messages_stream *, const json_t *,
		    struct router_xbuf *);
static int	msg_delta(struct router_messages_stream *, int, json_t *,
		    struct router_xbuf *);
static int	msg_tool_delta(struct router_messages_stream *, const json_t *,
		    size_t, struct router_xbuf *);
static json_t	*msg_usage_json(const struct router_usage *);

static int
msg_bad(int *status, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	*status = 400;
	return (0);
}

json_t *
router_messages_request_to_openai(const json_t *req, int *status, char *err,
    size_t errlen)
{
	json_t		*out, *msgs;
	const json_t	*model, *in, *m;
	size_t		 i;

	*status = 500;
	if (!json_is_object(req)) {
		msg_bad(status, err, errlen, "the request body must be a JSON "
		    "object");
		return (NULL);
	}
	model = json_object_get(req, "model");
	if (!json_is_string(model) || json_string_length(model) == 0) {
		msg_bad(status, err, errlen, "model: Field required");
		return (NULL);
	}
	in = json_object_get(req, "messages");
	if (!json_is_array(in)) {
		msg_bad(status, err, errlen, "messages: Field required");
		return (NULL);
	}
	if (json_array_size(in) == 0) {
		msg_bad(status, err, errlen, "messages: at least one message "
		    "is required");
		return (NULL);
	}
	if ((msgs = json_array()) == NULL)
		return (NULL);
	out = json_pack("{s:O, s:o}", "model", model, "messages", msgs);
	if (out == NULL)
		return (NULL);

	if (!msg_system(msgs, json_object_get(req, "system"), status, err,
	    errlen))
		goto fail;
	json_array_foreach(in, i, m) {
		if (!msg_turn(msgs, m, i, status, err, errlen))
			goto fail;
	}
	if (!msg_tools(out, req, status, err, errlen) ||
	    !msg_options(out, req, status, err, errlen))
		goto fail;
	return (out);
fail:
	json_decref(out);
	return (NULL);
}

/*
 * system: a string stays one system message; blocks stay blocks (text
 * parts of one system message, each with its cache_control), so that
 * an Anthropic upstream gets them back as they were given.
 */
static int
msg_system(json_t *msgs, const json_t *sys, int *status, char *err,
    size_t errlen)
{
	const json_t	*blk, *text;
	json_t		*parts, *p;
	char		 where[32];
	size_t		 i;

	if (sys == NULL || json_is_null(sys))
		return (1);
	if (json_is_string(sys)) {
		if (json_string_length(sys) == 0)
			return (1);
		return (json_array_append_new(msgs, json_pack("{s:s, s:O}",
		    "role", "system", "content", sys)) == 0);
	}
	if (!json_is_array(sys))
		return (msg_bad(status, err, errlen, "system: Input should be "
		    "a valid string or a list of text blocks"));
	if ((parts = json_array()) == NULL)
		return (0);
	json_array_foreach(sys, i, blk) {
		text = json_object_get(blk, "text");
		if (!json_is_string(text)) {
			json_decref(parts);
			return (msg_bad(status, err, errlen, "system.%zu: "
			    "Input should be a text block", i));
		}
		if (json_string_length(text) == 0)
			continue;
		p = json_pack("{s:s, s:O}", "type", "text", "text", text);
		snprintf(where, sizeof(where), "system.%zu", i);
		if (p == NULL || json_array_append_new(parts, p) != 0 ||
		    !msg_cache(p, blk, where, status, err, errlen)) {
			json_decref(parts);
			return (0);
		}
	}
	if (json_array_size(parts) == 0) {
		json_decref(parts);
		return (1);
	}
	return (json_array_append_new(msgs, json_pack("{s:s, s:o}", "role",
	    "system", "content", parts)) == 0);
}

/*
 * blk's cache_control onto the OpenAI part p (the anthropic family
 * forwards it; the others drop it, as they cache on their own).
 */
static int
msg_cache(json_t *p, const json_t *blk, const char *where, int *status,
    char *err, size_t errlen)
{
	char	why[ROUTER_ERR_MAX];

	if (router_xlate_cache_copy(p, blk, why, sizeof(why)))
		return (1);
	return (msg_bad(status, err, errlen, "%s.%s", where, why));
}

static int
msg_turn(json_t *msgs, const json_t *m, size_t i, int *status, char *err,
    size_t errlen)
{
	const char	*role;
	const json_t	*content;

	if (!json_is_object(m))
		return (msg_bad(status, err, errlen, "messages.%zu: Input "
		    "should be an object", i));
	role = json_string_value(json_object_get(m, "role"));
	content = json_object_get(m, "content");
	if (role == NULL)
		return (msg_bad(status, err, errlen, "messages.%zu.role: "
		    "Field required", i));
	if (!json_is_string(content) && !json_is_array(content))
		return (msg_bad(status, err, errlen, "messages.%zu.content: "
		    "Input should be a valid string or a list of content "
		    "blocks", i));
	if (!strcmp(role, "user"))
		return (msg_user(msgs, content, i, status, err, errlen));
	if (!strcmp(role, "assistant"))
		return (msg_assistant(msgs, content, i, status, err, errlen));
	return (msg_bad(status, err, errlen, "messages.%zu.role: Input "
	    "should be 'user' or 'assistant'", i));
}

static json_t *
msg_image(const json_t *blk, const char *where, int *status, char *err,
    size_t errlen)
{
	const json_t	*src;
	const char	*type, *mt, *data, *url;
	char		*durl;
	json_t		*p;

	src = json_object_get(blk, "source");
	type = json_string_value(json_object_get(src, "type"));
	if (type != NULL && !strcmp(type, "base64")) {
		mt = json_string_value(json_object_get(src, "media_type"));
		data = json_string_value(json_object_get(src, "data"));
		if (mt == NULL || data == NULL) {
			msg_bad(status, err, errlen, "%s.source: media_type "
			    "and data are required", where);
			return (NULL);
		}
		if ((durl = router_xlate_printf("data:%s;base64,%s", mt,
		    data)) == NULL)
			return (NULL);
		p = json_pack("{s:s, s:{s:s}}", "type", "image_url",
		    "image_url", "url", durl);
		free(durl);
		return (p);
	}
	if (type != NULL && !strcmp(type, "url")) {
		url = json_string_value(json_object_get(src, "url"));
		if (url == NULL) {
			msg_bad(status, err, errlen, "%s.source.url: Field "
			    "required", where);
			return (NULL);
		}
		return (json_pack("{s:s, s:{s:s}}", "type", "image_url",
		    "image_url", "url", url));
	}
	msg_bad(status, err, errlen, "%s.source.type: Input should be "
	    "'base64' or 'url'", where);
	return (NULL);
}

static json_t *
msg_document(const json_t *blk, const char *where, int *status, char *err,
    size_t errlen)
{
	const json_t	*src;
	const char	*type, *mt, *data;
	char		*durl;
	json_t		*p;

	src = json_object_get(blk, "source");
	type = json_string_value(json_object_get(src, "type"));
	mt = json_string_value(json_object_get(src, "media_type"));
	data = json_string_value(json_object_get(src, "data"));
	if (type != NULL && !strcmp(type, "text") && data != NULL)
		return (json_pack("{s:s, s:s}", "type", "text", "text", data));
	if (type == NULL || strcmp(type, "base64") || mt == NULL ||
	    strcmp(mt, "application/pdf") || data == NULL) {
		msg_bad(status, err, errlen, "%s: only base64 PDF and plain "
		    "text documents are supported", where);
		return (NULL);
	}
	if ((durl = router_xlate_printf("data:%s;base64,%s", mt, data)) ==
	    NULL)
		return (NULL);
	p = json_pack("{s:s, s:{s:s, s:s}}", "type", "file", "file",
	    "filename", "document.pdf", "file_data", durl);
	free(durl);
	return (p);
}

/* A tool_result block -> a tool message, and its images into extra. */
static int
msg_tool_result(json_t *msgs, json_t *extra, const json_t *blk,
    const char *where, int *status, char *err, size_t errlen)
{
	struct router_xbuf	 b = { NULL, 0, 0 };
	const json_t		*id, *content, *c, *text;
	const char		*type;
	json_t			*img, *tid, *m, *p;
	size_t			 i;
	int			 ok;

	id = json_object_get(blk, "tool_use_id");
	if (!json_is_string(id))
		return (msg_bad(status, err, errlen, "%s.tool_use_id: Field "
		    "required", where));
	content = json_object_get(blk, "content");
	if (json_is_string(content)) {
		if (!router_xbuf_str(&b, json_string_value(content)))
			return (0);
	} else if (json_is_array(content)) {
		json_array_foreach(content, i, c) {
			type = json_string_value(json_object_get(c, "type"));
			text = json_object_get(c, "text");
			if (type != NULL && !strcmp(type, "text") &&
			    json_is_string(text)) {
				if ((b.len && !router_xbuf_str(&b, "\n")) ||
				    !router_xbuf_str(&b,
				    json_string_value(text)))
					goto fail;
			} else if (type != NULL && !strcmp(type, "image")) {
				if ((img = msg_image(c, where, status, err,
				    errlen)) == NULL)
					goto fail;
				json_array_append_new(extra, img);
			} else {
				msg_bad(status, err, errlen, "%s.content.%zu: "
				    "only text and image blocks are supported",
				    where, i);
				goto fail;
			}
		}
	} else if (content != NULL && !json_is_null(content)) {
		return (msg_bad(status, err, errlen, "%s.content: Input should "
		    "be a string or a list of blocks", where));
	}
	if ((tid = msg_tool_id_in(json_string_value(id), NULL)) == NULL)
		goto fail;
	ok = json_array_append_new(msgs, json_pack("{s:s, s:o, s:s}",
	    "role", "tool", "tool_call_id", tid, "content",
	    b.data ? b.data : "")) == 0;
	router_xbuf_free(&b);
	/* A cache marker on the result: its text goes as a marked part. */
	m = json_array_get(msgs, json_array_size(msgs) - 1);
	if (ok && json_object_get(blk, "cache_control") != NULL) {
		p = json_pack("{s:s, s:O}", "type", "text", "text",
		    json_object_get(m, "content"));
		if (p == NULL || json_object_set_new(m, "content",
		    json_pack("[o]", p)) != 0)
			return (0);
		return (msg_cache(p, blk, where, status, err, errlen));
	}
	return (ok);
fail:
	router_xbuf_free(&b);
	return (0);
}

static int
msg_user(json_t *msgs, const json_t *content, size_t mi, int *status,
    char *err, size_t errlen)
{
	json_t		*parts, *extra, *p;
	const json_t	*blk, *text;
	const char	*type;
	char		 where[64];
	size_t		 i;

	if (json_is_string(content))
		return (json_array_append_new(msgs, json_pack("{s:s, s:O}",
		    "role", "user", "content", content)) == 0);

	parts = json_array();
	extra = json_array();
	if (parts == NULL || extra == NULL)
		goto fail;
	json_array_foreach(content, i, blk) {
		snprintf(where, sizeof(where), "messages.%zu.content.%zu", mi,
		    i);
		type = json_string_value(json_object_get(blk, "type"));
		if (type == NULL) {
			msg_bad(status, err, errlen, "%s.type: Field required",
			    where);
			goto fail;
		}
		p = NULL;
		if (!strcmp(type, "text")) {
			text = json_object_get(blk, "text");
			if (!json_is_string(text)) {
				msg_bad(status, err, errlen, "%s.text: Field "
				    "required", where);
				goto fail;
			}
			p = json_pack("{s:s, s:O}", "type", "text", "text",
			    text);
		} else if (!strcmp(type, "image")) {
			p = msg_image(blk, where, status, err, errlen);
		} else if (!strcmp(type, "document")) {
			p = msg_document(blk, where, status, err, errlen);
		} else if (!strcmp(type, "tool_result")) {
			if (!msg_tool_result(msgs, extra, blk, where, status,
			    err, errlen))
				goto fail;
			continue;
		} else {
			msg_bad(status, err, errlen, "%s: block type '%.32s' "
			    "is not supported", where, type);
			goto fail;
		}
		if (p == NULL || json_array_append_new(parts, p) != 0 ||
		    !msg_cache(p, blk, where, status, err, errlen))
			goto fail;
	}
	/* Images from tool results first, then the turn's own blocks. */
	if (json_array_extend(extra, parts) != 0)
		goto fail;
	json_decref(parts);
	if (json_array_size(extra) > 0)
		return (json_array_append_new(msgs, json_pack("{s:s, s:o}",
		    "role", "user", "content", extra)) == 0);
	json_decref(extra);
	return (1);
fail:
	json_decref(parts);
	json_decref(extra);
	return (0);
}

static int
msg_assistant(json_t *msgs, const json_t *content, size_t mi, int *status,
    char *err, size_t errlen)
{
	struct router_xbuf	 text = { NULL, 0, 0 }, think = { NULL, 0, 0 };
	json_t			*m, *calls, *details, *c, *sig, *parts, *p;
	const json_t		*blk, *v, *input;
	const char		*type, *id, *name;
	char			*args, where[64];
	size_t			 i;
	int			 marked = 0;

	if (json_is_string(content))
		return (json_array_append_new(msgs, json_pack("{s:s, s:O}",
		    "role", "assistant", "content", content)) == 0);

	calls = json_array();
	details = json_array();
	parts = json_array();
	json_array_foreach(content, i, blk) {
		type = json_string_value(json_object_get(blk, "type"));
		if (type == NULL) {
			msg_bad(status, err, errlen, "messages.%zu.content.%zu"
			    ".type: Field required", mi, i);
			goto fail;
		}
		if (!strcmp(type, "text")) {
			v = json_object_get(blk, "text");
			if (!json_is_string(v)) {
				msg_bad(status, err, errlen, "messages.%zu."
				    "content.%zu.text: Field required", mi, i);
				goto fail;
			}
			router_xbuf_str(&text, json_string_value(v));
			p = json_pack("{s:s, s:O}", "type", "text", "text", v);
			if (p == NULL || json_array_append_new(parts, p) != 0)
				goto fail;
			marked |= json_object_get(blk, "cache_control") != NULL;
			snprintf(where, sizeof(where), "messages.%zu.content.%zu",
			    mi, i);
			if (!msg_cache(p, blk, where, status, err, errlen))
				goto fail;
		} else if (!strcmp(type, "tool_use")) {
			id = json_string_value(json_object_get(blk, "id"));
			name = json_string_value(json_object_get(blk, "name"));
			input = json_object_get(blk, "input");
			if (id == NULL || name == NULL ||
			    !json_is_object(input)) {
				msg_bad(status, err, errlen, "messages.%zu."
				    "content.%zu: tool_use needs id, name and "
				    "an input object", mi, i);
				goto fail;
			}
			args = json_dumps(input, JSON_COMPACT);
			sig = NULL;
			c = json_pack("{s:o?, s:s, s:{s:s, s:s}}", "id",
			    msg_tool_id_in(id, &sig), "type", "function",
			    "function", "name", name,
			    "arguments", args ? args : "{}");
			free(args);
			if (c != NULL && sig != NULL)
				json_object_set_new(c, "extra_content",
				    json_pack("{s:{s:o}}", "google",
				    "thought_signature", sig));
			else
				json_decref(sig);
			json_array_append_new(calls, c);
		} else if (!strcmp(type, "thinking")) {
			v = json_object_get(blk, "thinking");
			if (json_is_string(v))
				router_xbuf_str(&think, json_string_value(v));
			json_array_append_new(details, json_pack(
			    "{s:s, s:s, s:O?, s:s}", "type", "reasoning.text",
			    "text", json_is_string(v) ? json_string_value(v) :
			    "", "signature", json_object_get(blk, "signature"),
			    "format", "anthropic-claude-v1"));
		} else if (!strcmp(type, "redacted_thinking")) {
			json_array_append_new(details, json_pack(
			    "{s:s, s:O?, s:s}", "type", "reasoning.encrypted",
			    "data", json_object_get(blk, "data"), "format",
			    "anthropic-claude-v1"));
		} else {
			msg_bad(status, err, errlen, "messages.%zu.content.%zu:"
			    " block type '%.32s' is not supported in assistant "
			    "turns", mi, i, type);
			goto fail;
		}
	}

	m = json_pack("{s:s, s:o}", "role", "assistant", "content",
	    text.data ? json_string(text.data) : (json_array_size(calls) ?
	    json_null() : json_string("")));
	if (m == NULL)
		goto fail;
	if (json_array_size(calls) > 0)
		json_object_set(m, "tool_calls", calls);
	if (marked)	/* text blocks with cache markers stay parts */
		json_object_set(m, "content", parts);
	if (think.data != NULL)
		json_object_set_new(m, "reasoning", json_string(think.data));
	if (json_array_size(details) > 0)
		json_object_set(m, "reasoning_details", details);
	json_decref(calls);
	json_decref(details);
	json_decref(parts);
	router_xbuf_free(&text);
	router_xbuf_free(&think);
	return (json_array_append_new(msgs, m) == 0);
fail:
	json_decref(calls);
	json_decref(details);
	json_decref(parts);
	router_xbuf_free(&text);
	router_xbuf_free(&think);
	return (0);
}

static int
msg_tools(json_t *out, const json_t *req, int *status, char *err,
    size_t errlen)
{
	const json_t	*tools, *t, *tc, *schema, *desc;
	json_t		*o, *fn, *p;
	const char	*name, *type;
	char		 where[32];
	size_t		 i;

	tools = json_object_get(req, "tools");
	if (tools != NULL && !json_is_null(tools)) {
		if (!json_is_array(tools))
			return (msg_bad(status, err, errlen, "tools: Input "
			    "should be a valid list"));
		if ((o = json_array()) == NULL)
			return (0);
		json_object_set_new(out, "tools", o);
		json_array_foreach(tools, i, t) {
			type = json_string_value(json_object_get(t, "type"));
			name = json_string_value(json_object_get(t, "name"));
			schema = json_object_get(t, "input_schema");
			if (type != NULL && strcmp(type, "custom"))
				return (msg_bad(status, err, errlen, "tools.%zu:"
				    " tool type '%.48s' is not supported", i,
				    type));
			if (name == NULL || !json_is_object(schema))
				return (msg_bad(status, err, errlen, "tools.%zu:"
				    " name and input_schema are required", i));
			fn = json_pack("{s:s, s:O}", "name", name,
			    "parameters", schema);
			if (fn == NULL)
				return (0);
			desc = json_object_get(t, "description");
			if (json_is_string(desc))
				json_object_set(fn, "description",
				    (json_t *)desc);
			p = json_pack("{s:s, s:o}", "type", "function",
			    "function", fn);
			snprintf(where, sizeof(where), "tools.%zu", i);
			if (p == NULL || json_array_append_new(o, p) != 0 ||
			    !msg_cache(p, t, where, status, err, errlen))
				return (0);
		}
		if (json_array_size(o) == 0)
			json_object_del(out, "tools");
	}

	tc = json_object_get(req, "tool_choice");
	if (tc == NULL || json_is_null(tc))
		return (1);
	type = json_string_value(json_object_get(tc, "type"));
	if (type == NULL)
		return (msg_bad(status, err, errlen, "tool_choice.type: Field "
		    "required"));
	if (json_object_get(out, "tools") == NULL)
		return (1);
	if (!strcmp(type, "auto"))
		json_object_set_new(out, "tool_choice", json_string("auto"));
	else if (!strcmp(type, "any"))
		json_object_set_new(out, "tool_choice",
		    json_string("required"));
	else if (!strcmp(type, "none"))
		json_object_set_new(out, "tool_choice", json_string("none"));
	else if (!strcmp(type, "tool")) {
		name = json_string_value(json_object_get(tc, "name"));
		if (name == NULL)
			return (msg_bad(status, err, errlen, "tool_choice.name:"
			    " Field required"));
		json_object_set_new(out, "tool_choice", json_pack(
		    "{s:s, s:{s:s}}", "type", "function", "function", "name",
		    name));
	} else
		return (msg_bad(status, err, errlen, "tool_choice.type: Input "
		    "should be 'auto', 'any', 'tool' or 'none'"));
	if (json_is_true(json_object_get(tc, "disable_parallel_tool_use")))
		json_object_set_new(out, "parallel_tool_calls", json_false());
	return (1);
}

static int
msg_options(json_t *out, const json_t *req, int *status, char *err,
    size_t errlen)
{
	const json_t	*v, *s;
	const char	*type;
	json_int_t	 budget;
	size_t		 i;

	v = json_object_get(req, "max_tokens");
	if (!json_is_integer(v))
		return (msg_bad(status, err, errlen, "max_tokens: Field "
		    "required"));
	if (json_integer_value(v) < 1)
		return (msg_bad(status, err, errlen, "max_tokens: Input should "
		    "be greater than or equal to 1"));
	json_object_set(out, "max_tokens", (json_t *)v);

	v = json_object_get(req, "temperature");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) > 1)
			return (msg_bad(status, err, errlen, "temperature: "
			    "Input should be a number between 0 and 1"));
		json_object_set(out, "temperature", (json_t *)v);
	}
	v = json_object_get(req, "top_p");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_number(v))
			return (msg_bad(status, err, errlen, "top_p: Input "
			    "should be a valid number"));
		json_object_set(out, "top_p", (json_t *)v);
	}

	v = json_object_get(req, "stop_sequences");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_array(v))
			return (msg_bad(status, err, errlen, "stop_sequences: "
			    "Input should be a valid list"));
		json_array_foreach(v, i, s) {
			if (!json_is_string(s))
				return (msg_bad(status, err, errlen,
				    "stop_sequences.%zu: Input should be a "
				    "valid string", i));
		}
		if (json_array_size(v) > 0)
			json_object_set(out, "stop", (json_t *)v);
	}

	v = json_object_get(req, "stream");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return (msg_bad(status, err, errlen, "stream: Input should be "
		    "a valid boolean"));
	if (json_is_true(v)) {
		json_object_set_new(out, "stream", json_true());
		json_object_set_new(out, "stream_options", json_pack("{s:b}",
		    "include_usage", 1));
	}

	v = json_object_get(req, "thinking");
	if (json_is_object(v)) {
		type = json_string_value(json_object_get(v, "type"));
		budget = router_xlate_int(v, "budget_tokens", 0);
		if (type != NULL && !strcmp(type, "enabled")) {
			if (budget < 1024)
				return (msg_bad(status, err, errlen, "thinking."
				    "budget_tokens: Input should be greater "
				    "than or equal to 1024"));
			/*
			 * The budget as asked (OpenRouter's field; the
			 * anthropic and gemini families clamp it to the
			 * model), and an effort for OpenAI models.
			 */
			json_object_set_new(out, "reasoning", json_pack(
			    "{s:I}", "max_tokens", budget));
			json_object_set_new(out, "reasoning_effort",
			    json_string(budget <= 2048 ? "low" :
			    budget <= 8192 ? "medium" : "high"));
		}
	}

	v = json_object_get(json_object_get(req, "metadata"), "user_id");
	if (json_is_string(v))
		json_object_set(out, "user", (json_t *)v);
	return (1);
}

/*
 * Tool-use ids carry a Gemini thoughtSignature through Anthropic
 * clients, which echo ids but rebuild tool_use blocks as they like:
 * "<id>__tsig_<base64url of the signature>". msg_tool_id_out makes one
 * (a plain copy without a signature); msg_tool_id_in takes it apart,
 * giving the original id and (when sig is given) the signature.
 */
#define TOOL_ID_SIG	"__tsig_"

static char *
msg_tool_id_out(const char *id, const json_t *call)
{
	const json_t	*sig;
	char		*enc, *out;

	sig = json_object_get(json_object_get(json_object_get(call,
	    "extra_content"), "google"), "thought_signature");
	if (!json_is_string(sig) || json_string_length(sig) == 0)
		return (strdup(id));
	if ((enc = router_xlate_b64url(json_string_value(sig))) == NULL)
		return (NULL);
	out = router_xlate_printf("%s%s%s", id, TOOL_ID_SIG, enc);
	free(enc);
	return (out);
}

static json_t *
msg_tool_id_in(const char *id, json_t **sig)
{
	const char	*at;
	char		*dec;

	if ((at = strstr(id, TOOL_ID_SIG)) == NULL || at == id ||
	    (dec = router_xlate_unb64url(at + strlen(TOOL_ID_SIG))) == NULL)
		return (json_string(id));
	if (sig != NULL)
		*sig = json_string(dec);
	free(dec);
	return (json_stringn(id, (size_t)(at - id)));
}

/* The stop sequence that ended a choice (choices[].stop_reason), or NULL. */
static const char *
msg_stop_sequence(const json_t *choice)
{
	const char	*finish;

	finish = json_string_value(json_object_get(choice, "finish_reason"));
	if (finish == NULL || strcmp(finish, "stop"))
		return (NULL);
	return (json_string_value(json_object_get(choice, "stop_reason")));
}

const char *
router_messages_stop_reason(const char *finish)
{
	if (finish == NULL || *finish == '\0')
		return ("end_turn");
	if (!strcmp(finish, "length"))
		return ("max_tokens");
	if (!strcmp(finish, "tool_calls") || !strcmp(finish, "function_call"))
		return ("tool_use");
	if (!strcmp(finish, "content_filter"))
		return ("refusal");
	return ("end_turn");
}

static json_t *
msg_usage_json(const struct router_usage *u)
{
	int64_t	in;

	in = u->prompt_tokens - u->cached_tokens - u->cache_creation_tokens;
	return (json_pack("{s:I, s:I, s:I, s:I}",
	    "input_tokens", (json_int_t)(in > 0 ? in : 0),
	    "output_tokens", (json_int_t)u->completion_tokens,
	    "cache_creation_input_tokens",
	    (json_int_t)u->cache_creation_tokens,
	    "cache_read_input_tokens", (json_int_t)u->cached_tokens));
}

json_t *
router_messages_response_from_openai(const json_t *comp,
    const struct router_usage *usage)
{
	struct router_usage	 u;
	json_t			*content, *input, *out;
	const json_t		*choice, *msg, *v, *d, *calls, *c, *fn;
	const char		*id, *type, *args, *seq;
	char			*mid, *tid;
	json_error_t		 jerr;
	size_t			 i;

	choice = json_array_get(json_object_get(comp, "choices"), 0);
	msg = json_object_get(choice, "message");
	if (!json_is_object(msg))
		return (NULL);
	if ((content = json_array()) == NULL)
		return (NULL);

	v = json_object_get(msg, "reasoning_details");
	if (json_is_array(v) && json_array_size(v) > 0) {
		json_array_foreach(v, i, d) {
			type = json_string_value(json_object_get(d, "type"));
			if (type != NULL && !strcmp(type, "reasoning.text"))
				json_array_append_new(content, json_pack(
				    "{s:s, s:s, s:s}", "type", "thinking",
				    "thinking", json_is_string(json_object_get(
				    d, "text")) ? json_string_value(
				    json_object_get(d, "text")) : "",
				    "signature", json_is_string(json_object_get(
				    d, "signature")) ? json_string_value(
				    json_object_get(d, "signature")) : ""));
			else if (type != NULL &&
			    !strcmp(type, "reasoning.encrypted") &&
			    json_is_string(json_object_get(d, "data")))
				json_array_append_new(content, json_pack(
				    "{s:s, s:O}", "type", "redacted_thinking",
				    "data", json_object_get(d, "data")));
		}
	} else if ((v = router_xlate_reasoning(msg)) != NULL) {
		json_array_append_new(content, json_pack("{s:s, s:O, s:s}",
		    "type", "thinking", "thinking", v, "signature", ""));
	}

	v = json_object_get(msg, "content");
	if (json_is_string(v) && json_string_length(v) > 0)
		json_array_append_new(content, json_pack("{s:s, s:O}",
		    "type", "text", "text", v));

	calls = json_object_get(msg, "tool_calls");
	json_array_foreach(calls, i, c) {
		fn = json_object_get(c, "function");
		args = json_string_value(json_object_get(fn, "arguments"));
		input = args ? json_loads(args, 0, &jerr) : NULL;
		if (!json_is_object(input)) {
			json_decref(input);
			input = json_object();
		}
		tid = json_is_string(json_object_get(c, "id")) ?
		    msg_tool_id_out(json_string_value(json_object_get(c, "id")),
		    c) : NULL;
		json_array_append_new(content, json_pack(
		    "{s:s, s:s?, s:O?, s:o}", "type", "tool_use",
		    "id", tid, "name", json_object_get(fn, "name"),
		    "input", input));
		free(tid);
	}

	memset(&u, 0, sizeof(u));
	if (usage != NULL)
		u = *usage;
	else
		(void)router_usage_parse(json_object_get(comp, "usage"), &u);

	id = json_string_value(json_object_get(comp, "id"));
	if (id == NULL)
		id = "";
	mid = strncmp(id, "msg_", 4) ? router_xlate_printf("msg_%s", id) :
	    strdup(id);
	seq = msg_stop_sequence(choice);
	out = json_pack("{s:s?, s:s, s:s, s:O?, s:o, s:s, s:s?, s:o}",
	    "id", mid, "type", "message", "role", "assistant",
	    "model", json_object_get(comp, "model"), "content", content,
	    "stop_reason", seq != NULL ? "stop_sequence" :
	    router_messages_stop_reason(json_string_value(
	    json_object_get(choice, "finish_reason"))), "stop_sequence",
	    seq, "usage", msg_usage_json(&u));
	free(mid);
	return (out);
}

/* Streaming. */

void
router_messages_stream_init(struct router_messages_stream *ms,
    const char *id, const char *model)
{
	char	buf[sizeof(ms->id)];

	if (id != NULL) {
		if (strncmp(id, "msg_", 4))
			snprintf(buf, sizeof(buf), "msg_%s", id);
		else
			router_xlate_copy(buf, sizeof(buf), id);
		router_xlate_copy(ms->id, sizeof(ms->id), buf);
	}
	if (model != NULL)
		router_xlate_copy(ms->model, sizeof(ms->model), model);
}

/* "event: <type>\ndata: <obj>\n\n" (obj stolen). */
static int
msg_event(struct router_xbuf *out, const char *type, json_t *obj)
{
	char	*s;
	int	 ok;

	if (obj == NULL)
		return (0);
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return (0);
	ok = router_xbuf_str(out, "event: ") && router_xbuf_str(out, type) &&
	    router_xbuf_str(out, "\ndata: ") && router_xbuf_str(out, s) &&
	    router_xbuf_str(out, "\n\n");
	free(s);
	return (ok);
}

static int
msg_start(struct router_messages_stream *ms, const json_t *chunk,
    struct router_xbuf *out)
{
	const char	*v;

	if (ms->started)
		return (1);
	if (ms->id[0] == '\0') {
		v = json_string_value(json_object_get(chunk, "id"));
		router_messages_stream_init(ms, v ? v : "stream", NULL);
	}
	/* The upstream's model id, as the whole answer names it. */
	v = json_string_value(json_object_get(chunk, "model"));
	if (v != NULL && *v != '\0')
		router_xlate_copy(ms->model, sizeof(ms->model), v);
	ms->started = 1;
	return (msg_event(out, "message_start", json_pack(
	    "{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:o}}",
	    "type", "message_start", "message", "id", ms->id,
	    "type", "message", "role", "assistant", "model", ms->model,
	    "content", "stop_reason", "stop_sequence",
	    "usage", msg_usage_json(&ms->usage))));
}

static int
msg_close(struct router_messages_stream *ms, struct router_xbuf *out)
{
	if (ms->open_kind == 0)
		return (1);
	ms->open_kind = 0;
	return (msg_event(out, "content_block_stop", json_pack("{s:s, s:i}",
	    "type", "content_block_stop", "index", ms->open_index)));
}

/* Opens a new block (block stolen) after closing the open one. */
static int
msg_open(struct router_messages_stream *ms, int kind, json_t *block,
    struct router_xbuf *out)
{
	if (!msg_close(ms, out)) {
		json_decref(block);
		return (0);
	}
	ms->open_kind = kind;
	ms->open_index = ms->nblocks++;
	return (msg_event(out, "content_block_start", json_pack(
	    "{s:s, s:i, s:o}", "type", "content_block_start", "index",
	    ms->open_index, "content_block", block)));
}

/* A delta (stolen) for the block at index. */
static int
msg_delta(struct router_messages_stream *ms, int index, json_t *delta,
    struct router_xbuf *out)
{
	(void)ms;
	return (msg_event(out, "content_block_delta", json_pack(
	    "{s:s, s:i, s:o}", "type", "content_block_delta", "index", index,
	    "delta", delta)));
}

static int
msg_tool_delta(struct router_messages_stream *ms, const json_t *tc,
    size_t pos, struct router_xbuf *out)
{
	const json_t	*fn, *args;
	const char	*id, *name;
	json_int_t	 k;
	char		 gen[160], *tid;
	int		 ok;

	k = router_xlate_int(tc, "index", (json_int_t)pos);
	if (k < 0 || k >= ROUTER_MESSAGES_TOOLS_MAX)
		return (1);	/* beyond what a turn carries: dropped */
	fn = json_object_get(tc, "function");
	if (ms->tool_block[k] == 0) {
		id = json_string_value(json_object_get(tc, "id"));
		if (id == NULL) {
			snprintf(gen, sizeof(gen), "toolu_%s_%d", ms->id,
			    (int)k);
			id = gen;
		}
		name = json_string_value(json_object_get(fn, "name"));
		if ((tid = msg_tool_id_out(id, tc)) == NULL)
			return (0);
		ok = msg_open(ms, KIND_TOOL, json_pack("{s:s, s:s, s:s, s:{}}",
		    "type", "tool_use", "id", tid, "name", name ? name : "",
		    "input"), out);
		free(tid);
		if (!ok)
			return (0);
		ms->tool_block[k] = ms->open_index + 1;
	}
	args = json_object_get(fn, "arguments");
	if (!json_is_string(args) || json_string_length(args) == 0)
		return (1);
	return (msg_delta(ms, ms->tool_block[k] - 1, json_pack("{s:s, s:O}",
	    "type", "input_json_delta", "partial_json", args), out));
}

int
router_messages_stream_chunk(struct router_messages_stream *ms,
    const json_t *chunk, struct router_xbuf *out)
{
	const json_t	*choice, *delta, *v, *d, *tcs, *tc;
	const char	*finish, *type;
	size_t		 i;

	if (!json_is_object(chunk))
		return (0);
	if (ms->finished)
		return (1);
	if (!msg_start(ms, chunk, out))
		return (0);

	v = json_object_get(chunk, "usage");
	if (json_is_object(v))
		(void)router_usage_parse(v, &ms->usage);

	if ((choice = router_xlate_choice0(chunk)) == NULL)
		return (1);
	delta = json_object_get(choice, "delta");

	if ((v = router_xlate_reasoning(delta)) != NULL) {
		if (ms->open_kind != KIND_THINKING && !msg_open(ms,
		    KIND_THINKING, json_pack("{s:s, s:s, s:s}", "type",
		    "thinking", "thinking", "", "signature", ""), out))
			return (0);
		if (!msg_delta(ms, ms->open_index, json_pack("{s:s, s:O}",
		    "type", "thinking_delta", "thinking", v), out))
			return (0);
	}
	json_array_foreach(json_object_get(delta, "reasoning_details"), i,
	    d) {
		type = json_string_value(json_object_get(d, "type"));
		v = json_object_get(d, "signature");
		if (json_is_string(v) && ms->open_kind == KIND_THINKING) {
			if (!msg_delta(ms, ms->open_index, json_pack(
			    "{s:s, s:O}", "type", "signature_delta",
			    "signature", v), out))
				return (0);
		} else if (type != NULL &&
		    !strcmp(type, "reasoning.encrypted") &&
		    json_is_string(json_object_get(d, "data"))) {
			if (!msg_open(ms, KIND_THINKING, json_pack(
			    "{s:s, s:O}", "type", "redacted_thinking", "data",
			    json_object_get(d, "data")), out) ||
			    !msg_close(ms, out))
				return (0);
		}
	}

	v = json_object_get(delta, "content");
	if (json_is_string(v) && json_string_length(v) > 0) {
		if (ms->open_kind != KIND_TEXT && !msg_open(ms, KIND_TEXT,
		    json_pack("{s:s, s:s}", "type", "text", "text", ""), out))
			return (0);
		if (!msg_delta(ms, ms->open_index, json_pack("{s:s, s:O}",
		    "type", "text_delta", "text", v), out))
			return (0);
	}

	tcs = json_object_get(delta, "tool_calls");
	json_array_foreach(tcs, i, tc) {
		if (!msg_tool_delta(ms, tc, i, out))
			return (0);
	}

	finish = json_string_value(json_object_get(choice, "finish_reason"));
	if (finish != NULL)
		router_xlate_copy(ms->stop_reason, sizeof(ms->stop_reason),
		    router_messages_stop_reason(finish));
	if ((finish = msg_stop_sequence(choice)) != NULL) {
		router_xlate_copy(ms->stop_reason, sizeof(ms->stop_reason),
		    "stop_sequence");
		router_xlate_copy(ms->stop_sequence,
		    sizeof(ms->stop_sequence), finish);
	}
	return (1);
}

void
router_messages_stream_usage(struct router_messages_stream *ms,
    const struct router_usage *u)
{
	if (!ms->started && u != NULL && u->reported)
		ms->usage = *u;
}

int
router_messages_stream_finish(struct router_messages_stream *ms,
    const struct router_usage *usage, struct router_xbuf *out)
{
	if (ms->finished)
		return (1);
	if (usage != NULL)
		ms->usage = *usage;
	if (!msg_start(ms, NULL, out) || !msg_close(ms, out))
		return (0);
	ms->finished = 1;
	return (msg_event(out, "message_delta", json_pack(
	    "{s:s, s:{s:s, s:s?}, s:o}", "type", "message_delta", "delta",
	    "stop_reason", ms->stop_reason[0] ? ms->stop_reason : "end_turn",
	    "stop_sequence", !strcmp(ms->stop_reason, "stop_sequence") ?
	    ms->stop_sequence : NULL, "usage", msg_usage_json(&ms->usage))) &&
	    msg_event(out, "message_stop", json_pack("{s:s}", "type",
	    "message_stop")));
}

int
router_messages_stream_error(struct router_messages_stream *ms,
    const char *type, const char *message, struct router_xbuf *out)
{
	ms->finished = 1;
	return (msg_event(out, "error", json_pack("{s:s, s:{s:s, s:s}}",
	    "type", "error", "error", "type", type ? type : "api_error",
	    "message", message ? message : "upstream error")));
}

int
router_messages_stream_ping(struct router_xbuf *out)
{
	return (msg_event(out, "ping", json_pack("{s:s}", "type", "ping")));
}
