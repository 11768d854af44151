/*
 * The anthropic family: OpenAI chat requests to Anthropic's Messages API
 * (POST {base}/v1/messages) and its answers back to OpenAI shapes.
 *
 * Request rules (docs/router.md, "The anthropic family"):
 *   - system/developer messages are lifted into the top-level "system";
 *   - max_tokens is always sent (request, else the model's cap, else
 *     ANTH_DEFAULT_MAX_TOKENS);
 *   - roles alternate strictly: consecutive same-role messages merge, and
 *     role "tool" messages become tool_result blocks of one user turn,
 *     always ahead of any other block in that turn;
 *   - assistant tool_calls become tool_use blocks (arguments must be a
 *     JSON object; anything else is refused as a bad request);
 *   - reasoning_details of earlier assistant turns (OpenRouter's shape,
 *     which our answers carry) are replayed as thinking blocks, so tool
 *     loops with extended thinking keep their signatures.
 *
 * Stream invariants: OpenAI tool_calls[].index counts tool calls only,
 * from 0, independent of Anthropic's block index (which also counts text
 * and thinking blocks); a tool call's id and name go out only in its
 * first delta; a tool call whose block ended without argument bytes gets
 * "{}", as in the whole answer. The block table in st->family.anthropic maps
 * block index -> kind.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/provider.h"
#include "router/upstream.h"
#include "router/xlate.h"

#define ANTH_VERSION		"2023-06-01"
#define ANTH_DEFAULT_MAX_TOKENS	8192
#define ANTH_THINKING_MIN	1024

#define BLOCK_IGNORE		0
#define BLOCK_TEXT		1
#define BLOCK_TOOL		2
#define BLOCK_THINKING		3

static int	anth_chat_request(const struct router_target *, const json_t *,
		    int, struct router_http *, char *, size_t);
static int	anth_build(const struct router_target *, const json_t *,
		    int, int, struct router_http *, char *, size_t);
static int	anth_count_request(const struct router_target *,
		    const json_t *, struct router_http *, char *, size_t);
static int	anth_count_response(const char *, size_t, int64_t *);
static int	anth_count_body(json_t *);
static json_t	*anth_chat_response(const struct router_target *,
		    const char *, size_t, struct router_usage *, char *,
		    size_t);
static int	anth_stream_event(struct router_stream *, const char *,
		    const char *, size_t, json_t *);
static void	anth_map_error(long, const char *, size_t,
		    struct router_error *);

static int	anth_system(const json_t *, struct router_xbuf *, json_t *,
		    char *, size_t);
static int	anth_system_set(json_t *, struct router_xbuf *, json_t *,
		    int, const json_t *);
static int	anth_messages(json_t *, const json_t *, char *, size_t);
static json_t	*anth_user_blocks(const json_t *, char *, size_t);
static json_t	*anth_assistant_blocks(const json_t *, char *, size_t);
static json_t	*anth_tool_result(const json_t *, char *, size_t);
static json_t	*anth_image_block(const json_t *, char *, size_t);
static int	anth_part_cache(json_t *, const json_t *, size_t, char *,
		    size_t);
static int	anth_assistant_text(json_t *, const json_t *, char *,
		    size_t);
static int	anth_replay(json_t *, const json_t *);
static json_t	*anth_file_block(const json_t *, char *, size_t);
static int	anth_push(json_t *, const char *, json_t *);
static int	anth_tools(json_t *, const json_t *, char *, size_t);
static int	anth_tool_choice(json_t *, const json_t *, char *, size_t);
static int	anth_sampling(json_t *, const json_t *,
		    const struct router_target *, char *, size_t);
static json_int_t anth_budget(const char *);
static const char *anth_finish(const char *);
static void	anth_stop_sequence(json_t *, const json_t *);
static int	anth_usage(const json_t *, struct router_usage *);
static void	anth_stream_usage(struct router_stream *, struct anth_state *,
		    const json_t *);
static int	anth_detail_chunk(struct router_stream *, json_t *,
		    const char *, const json_t *, int);
static struct anth_block *anth_block_find(struct anth_state *, int);
static struct anth_block *anth_block_add(struct anth_state *, int, int);
static int	anth_ev_block_start(struct router_stream *,
		    struct anth_state *, const json_t *, json_t *);
static int	anth_ev_block_delta(struct router_stream *,
		    struct anth_state *, const json_t *, json_t *);
static int	anth_ev_block_stop(struct router_stream *,
		    struct anth_state *, const json_t *, json_t *);
static int	anth_ev_message_delta(struct router_stream *,
		    struct anth_state *, const json_t *, json_t *);
static int	anth_error_text(const json_t *, char *, size_t);

const struct router_family	router_family_anthropic = {
	.name = "anthropic",
	.chat_request = anth_chat_request,
	.chat_response = anth_chat_response,
	.stream_event = anth_stream_event,
	.map_error = anth_map_error,
	.count_request = anth_count_request,
	.count_response = anth_count_response,
};

static int
anth_chat_request(const struct router_target *t, const json_t *req,
    int stream, struct router_http *http, char *err, size_t errlen)
{
	return (anth_build(t, req, stream, 0, http, err, errlen));
}

/* POST /v1/messages/count_tokens: the Messages request it would send. */
static int
anth_count_request(const struct router_target *t, const json_t *req,
    struct router_http *http, char *err, size_t errlen)
{
	return (anth_build(t, req, 0, 1, http, err, errlen));
}

/* {"input_tokens": N}, N an integer within ROUTER_TOKENS_MAX. */
static int
anth_count_response(const char *body, size_t len, int64_t *n)
{
	return (router_xlate_count(body, len, "input_tokens", n));
}

/*
 * Anthropic's count_tokens takes the prompt's fields only and refuses
 * the rest (max_tokens, sampling, metadata, stream).
 */
static int
anth_count_body(json_t *body)
{
	static const char	*keep[] = { "model", "messages", "system",
	    "tools", "tool_choice", "thinking", NULL };
	const char		*key;
	json_t			*v;
	void			*tmp;
	int			 i;

	json_object_foreach_safe(body, tmp, key, v) {
		for (i = 0; keep[i] != NULL; i++) {
			if (!strcmp(keep[i], key))
				break;
		}
		if (keep[i] == NULL && json_object_del(body, key) == -1)
			return (0);
	}

	return (1);
}

static int
anth_build(const struct router_target *t, const json_t *req, int stream,
    int count, struct router_http *http, char *err, size_t errlen)
{
	struct router_xbuf	 sys = { NULL, 0, 0 };
	json_t			*body = NULL, *msgs, *sysblocks;
	const json_t		*v;
	char			*s;
	int			 parts;

	memset(http, 0, sizeof(*http));
	msgs = json_object_get(req, "messages");
	if (!json_is_array(msgs)) {
		snprintf(err, errlen, "messages must be an array");
		return (0);
	}
	v = json_object_get(req, "n");
	if (json_is_integer(v) && json_integer_value(v) != 1) {
		snprintf(err, errlen, "n other than 1 is not supported by "
		    "anthropic models");
		return (0);
	}

	if ((sysblocks = json_array()) == NULL)
		goto nomem;
	if ((body = json_object()) == NULL) {
		json_decref(sysblocks);
		goto nomem;
	}
	json_object_set_new(body, "model", json_string(t->model));
	json_object_set_new(body, "system", sysblocks);
	if (!(parts = anth_system(msgs, &sys, sysblocks, err, errlen)))
		goto fail;
	if (!anth_messages(body, msgs, err, errlen))
		goto fail;
	if (!anth_tools(body, req, err, errlen) ||
	    !anth_tool_choice(body, req, err, errlen) ||
	    !anth_sampling(body, req, t, err, errlen))
		goto fail;
	if (!anth_system_set(body, &sys, sysblocks, parts == 2,
	    json_object_get(req, "response_format")))
		goto nomem;
	router_xbuf_free(&sys);

	v = json_object_get(req, "user");
	if (json_is_string(v)) {
		json_object_set_new(body, "metadata", json_pack("{s:O}",
		    "user_id", v));
	}
	if (stream)
		json_object_set_new(body, "stream", json_true());
	if (count && !anth_count_body(body))
		goto nomem;

	if ((s = json_dumps(body, JSON_COMPACT)) == NULL)
		goto nomem;
	json_decref(body);
	body = NULL;
	http->body = s;
	http->body_len = strlen(s);
	http->url = router_xlate_printf("%s/v1/messages%s",
	    t->provider->base_url, count ? "/count_tokens" : "");
	if (http->url == NULL)
		goto nomem;
	if (!router_http_header(http, "content-type", "application/json") ||
	    !router_http_header(http, "anthropic-version", ANTH_VERSION))
		goto nomem;
	if (!router_http_provider(t, http))
		goto nomem;
	if (stream && !router_http_header(http, "accept",
	    "text/event-stream"))
		goto nomem;
	return (1);

nomem:
	snprintf(err, errlen, "out of memory");
fail:
	router_xbuf_free(&sys);
	json_decref(body);
	router_http_free(http);
	return (0);
}

/*
 * Sets body's system: the blocks when the client gave parts, else the
 * joined string; response_format adds its instruction (Anthropic has no
 * JSON mode) as a last paragraph or block.
 */
static int
anth_system_set(json_t *body, struct router_xbuf *sys, json_t *blocks,
    int parts, const json_t *rf)
{
	const char	*type;
	char		*schema, *note = NULL;
	int		 ok = 1;

	type = json_string_value(json_object_get(rf, "type"));
	if (type != NULL && !strcmp(type, "json_object")) {
		note = strdup("Respond with a single JSON object and nothing "
		    "else.");
	} else if (type != NULL && !strcmp(type, "json_schema")) {
		schema = json_dumps(json_object_get(json_object_get(rf,
		    "json_schema"), "schema"), JSON_COMPACT);
		note = router_xlate_printf("Respond with a single JSON value "
		    "that conforms to this JSON schema, and nothing else: %s",
		    schema ? schema : "{}");
		free(schema);
	}
	if (type != NULL && note == NULL)
		return (0);
	if (note != NULL) {
		ok = (!sys->len || router_xbuf_str(sys, "\n\n")) &&
		    router_xbuf_str(sys, note) &&
		    json_array_append_new(blocks, json_pack("{s:s, s:s}",
		    "type", "text", "text", note)) == 0;
		free(note);
	}
	if (!ok)
		return (0);
	if (parts && json_array_size(blocks) > 0)
		return (1);
	if (sys->len > 0)
		return (json_object_set_new(body, "system",
		    json_string(sys->data)) == 0);
	return (json_object_del(body, "system") == 0);
}

/*
 * Every system/developer message's text, in order: joined into sys, and
 * as text blocks (with their cache_control) into blocks. Returns 2 when
 * some message gave content parts (system then goes as those blocks,
 * which is what carries cache_control), 1 when all were strings.
 */
static int
anth_system(const json_t *msgs, struct router_xbuf *sys, json_t *blocks,
    char *err, size_t errlen)
{
	const json_t	*m, *content, *part;
	const char	*role;
	char		*text, tmp[ROUTER_ERR_MAX];
	size_t		 i, j;
	int		 parts = 0;
	json_t		*b;

	json_array_foreach(msgs, i, m) {
		role = json_string_value(json_object_get(m, "role"));
		if (role == NULL || (strcmp(role, "system") &&
		    strcmp(role, "developer")))
			continue;
		content = json_object_get(m, "content");
		text = router_xlate_content_text(content, "\n");
		if (text == NULL) {
			snprintf(err, errlen, "messages[%zu]: content must be "
			    "a string or an array of text parts", i);
			return (0);
		}
		if (*text != '\0' && ((sys->len > 0 &&
		    !router_xbuf_str(sys, "\n\n")) ||
		    !router_xbuf_str(sys, text))) {
			free(text);
			snprintf(err, errlen, "out of memory");
			return (0);
		}
		if (json_is_string(content) && *text != '\0')
			json_array_append_new(blocks, json_pack("{s:s, s:s}",
			    "type", "text", "text", text));
		free(text);
		if (!json_is_array(content))
			continue;
		parts = 1;
		json_array_foreach(content, j, part) {
			if (!json_is_string(json_object_get(part, "text")) ||
			    json_string_length(json_object_get(part,
			    "text")) == 0)
				continue;
			b = json_pack("{s:s, s:O}", "type", "text", "text",
			    json_object_get(part, "text"));
			if (b == NULL || json_array_append_new(blocks, b))
				goto nomem;
			if (!router_xlate_cache_copy(b, part, tmp,
			    sizeof(tmp))) {
				snprintf(err, errlen, "messages[%zu].content"
				    "[%zu]: %s", i, j, tmp);
				return (0);
			}
		}
	}
	return (parts ? 2 : 1);
nomem:
	snprintf(err, errlen, "out of memory");
	return (0);
}

static int
anth_messages(json_t *body, const json_t *msgs, char *err, size_t errlen)
{
	json_t		*out, *blocks;
	const json_t	*m;
	const char	*role, *arole;
	size_t		 i;

	if ((out = json_array()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (0);
	}
	json_object_set_new(body, "messages", out);

	json_array_foreach(msgs, i, m) {
		if (!json_is_object(m)) {
			snprintf(err, errlen, "messages[%zu] must be an "
			    "object", i);
			return (0);
		}
		role = json_string_value(json_object_get(m, "role"));
		if (role == NULL) {
			snprintf(err, errlen, "messages[%zu].role is missing",
			    i);
			return (0);
		}
		if (!strcmp(role, "system") || !strcmp(role, "developer"))
			continue;
		if (!strcmp(role, "user")) {
			arole = "user";
			blocks = anth_user_blocks(m, err, errlen);
		} else if (!strcmp(role, "assistant")) {
			arole = "assistant";
			blocks = anth_assistant_blocks(m, err, errlen);
		} else if (!strcmp(role, "tool")) {
			arole = "user";
			blocks = anth_tool_result(m, err, errlen);
		} else {
			snprintf(err, errlen, "messages[%zu].role '%.32s' is "
			    "not supported", i, role);
			return (0);
		}
		if (blocks == NULL) {
			/* err names the problem; prefix the position */
			char	tmp[ROUTER_ERR_MAX];

			snprintf(tmp, sizeof(tmp), "messages[%zu]: %s", i,
			    err);
			router_xlate_copy(err, errlen, tmp);
			return (0);
		}
		if (!anth_push(out, arole, blocks)) {
			snprintf(err, errlen, "out of memory");
			return (0);
		}
	}
	if (json_array_size(out) == 0) {
		snprintf(err, errlen, "messages must hold at least one user "
		    "or assistant message");
		return (0);
	}
	return (1);
}

/*
 * Appends blocks (stolen) as a turn of role, merging into the previous
 * turn when it has the same role. tool_result blocks always go ahead of
 * the turn's other blocks, as Anthropic requires. Empty turns are
 * dropped.
 */
static int
anth_push(json_t *out, const char *role, json_t *blocks)
{
	json_t		*last, *content, *b;
	const char	*lrole, *type;
	size_t		 i, at, n;

	if (json_array_size(blocks) == 0) {
		json_decref(blocks);
		return (1);
	}
	n = json_array_size(out);
	last = n > 0 ? json_array_get(out, n - 1) : NULL;
	lrole = last ? json_string_value(json_object_get(last, "role")) : NULL;
	if (lrole == NULL || strcmp(lrole, role)) {
		return (json_array_append_new(out, json_pack("{s:s, s:o}",
		    "role", role, "content", blocks)) == 0);
	}

	content = json_object_get(last, "content");
	at = 0;
	json_array_foreach(content, i, b) {
		type = json_string_value(json_object_get(b, "type"));
		if (type != NULL && !strcmp(type, "tool_result"))
			at = i + 1;
	}
	json_array_foreach(blocks, i, b) {
		type = json_string_value(json_object_get(b, "type"));
		if (type != NULL && !strcmp(type, "tool_result")) {
			if (json_array_insert(content, at++, b) != 0)
				goto fail;
		} else if (json_array_append(content, b) != 0)
			goto fail;
	}
	json_decref(blocks);
	return (1);
fail:
	json_decref(blocks);
	return (0);
}

static json_t *
anth_user_blocks(const json_t *m, char *err, size_t errlen)
{
	json_t		*blocks, *b;
	const json_t	*content, *part, *text;
	const char	*type;
	size_t		 i;

	if ((blocks = json_array()) == NULL)
		return (NULL);
	content = json_object_get(m, "content");
	if (json_is_string(content)) {
		if (*json_string_value(content) != '\0')
			json_array_append_new(blocks, json_pack("{s:s, s:O}",
			    "type", "text", "text", content));
		return (blocks);
	}
	if (!json_is_array(content)) {
		snprintf(err, errlen, "content must be a string or an array "
		    "of parts");
		goto fail;
	}
	json_array_foreach(content, i, part) {
		type = json_string_value(json_object_get(part, "type"));
		if (type == NULL) {
			snprintf(err, errlen, "content[%zu].type is missing",
			    i);
			goto fail;
		}
		if (!strcmp(type, "text")) {
			text = json_object_get(part, "text");
			if (!json_is_string(text)) {
				snprintf(err, errlen, "content[%zu].text must "
				    "be a string", i);
				goto fail;
			}
			if (*json_string_value(text) == '\0')
				continue;
			b = json_pack("{s:s, s:O}", "type", "text", "text",
			    text);
		} else if (!strcmp(type, "image_url")) {
			b = anth_image_block(part, err, errlen);
		} else if (!strcmp(type, "file")) {
			b = anth_file_block(part, err, errlen);
		} else {
			snprintf(err, errlen, "content part type '%.32s' is "
			    "not supported by anthropic models", type);
			goto fail;
		}
		if (b == NULL || json_array_append_new(blocks, b) != 0)
			goto fail;
		if (!anth_part_cache(b, part, i, err, errlen))
			goto fail;
	}
	return (blocks);
fail:
	json_decref(blocks);
	return (NULL);
}

/* A content part's cache_control onto its block (err names the part). */
static int
anth_part_cache(json_t *b, const json_t *part, size_t i, char *err,
    size_t errlen)
{
	char	why[ROUTER_ERR_MAX];

	if (router_xlate_cache_copy(b, part, why, sizeof(why)))
		return (1);
	snprintf(err, errlen, "content[%zu].%s", i, why);
	return (0);
}

static json_t *
anth_image_block(const json_t *part, char *err, size_t errlen)
{
	const json_t	*iu;
	const char	*url, *data;
	char		 mime[64];

	iu = json_object_get(part, "image_url");
	url = json_is_string(iu) ? json_string_value(iu) :
	    json_string_value(json_object_get(iu, "url"));
	if (url == NULL) {
		snprintf(err, errlen, "image_url.url is missing");
		return (NULL);
	}
	if (router_xlate_data_url(url, mime, sizeof(mime), &data)) {
		return (json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "image",
		    "source", "type", "base64", "media_type", mime,
		    "data", data));
	}
	if (!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7)) {
		return (json_pack("{s:s, s:{s:s, s:s}}", "type", "image",
		    "source", "type", "url", "url", url));
	}
	snprintf(err, errlen, "image_url.url must be an http(s) URL or a "
	    "base64 data URL");
	return (NULL);
}

static json_t *
anth_file_block(const json_t *part, char *err, size_t errlen)
{
	const char	*fd, *data;
	char		 mime[64];

	fd = json_string_value(json_object_get(json_object_get(part, "file"),
	    "file_data"));
	if (fd == NULL || !router_xlate_data_url(fd, mime, sizeof(mime),
	    &data) || strcmp(mime, "application/pdf")) {
		snprintf(err, errlen, "file parts must carry file_data as a "
		    "base64 data URL of a PDF");
		return (NULL);
	}
	return (json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "document",
	    "source", "type", "base64", "media_type", mime, "data", data));
}

/*
 * reasoning_details of an earlier assistant turn -> thinking and
 * redacted_thinking blocks. A thinking block may come back in fragments
 * (a streamed answer as its client kept it: entries sharing an index,
 * or unsigned entries ahead of the signed one); they are joined, and a
 * block goes out only with its signature (Anthropic refuses unsigned
 * thinking; the model then simply thinks afresh).
 */
static int
anth_replay(json_t *blocks, const json_t *rd)
{
	struct router_xbuf	 text = { NULL, 0, 0 };
	const json_t		*d, *v, *sig = NULL;
	const char		*type;
	json_int_t		 idx, cur = -1;
	size_t			 i;
	int			 open = 0, ok = 1;

	for (i = 0; ok && i <= json_array_size(rd); i++) {
		d = json_array_get(rd, i);	/* NULL past the end: flush */
		type = json_string_value(json_object_get(d, "type"));
		if (d != NULL && type == NULL)
			continue;
		idx = router_xlate_int(d, "index", -1);
		if (open && (d == NULL || strcmp(type, "reasoning.text") ||
		    idx != cur || (idx < 0 && sig != NULL))) {
			if (sig != NULL)
				ok = json_array_append_new(blocks, json_pack(
				    "{s:s, s:s%, s:O}", "type", "thinking",
				    "thinking", text.data ? text.data : "",
				    text.len, "signature", sig)) == 0;
			text.len = 0;
			sig = NULL;
			open = 0;
		}
		if (d == NULL || !ok)
			break;
		if (!strcmp(type, "reasoning.encrypted")) {
			v = json_object_get(d, "data");
			if (json_is_string(v))
				ok = json_array_append_new(blocks, json_pack(
				    "{s:s, s:O}", "type", "redacted_thinking",
				    "data", v)) == 0;
			continue;
		}
		if (strcmp(type, "reasoning.text"))
			continue;
		open = 1;
		cur = idx;
		v = json_object_get(d, "text");
		if (json_is_string(v))
			ok = router_xbuf_add(&text, json_string_value(v),
			    json_string_length(v));
		v = json_object_get(d, "signature");
		if (json_is_string(v) && json_string_length(v) > 0)
			sig = v;
	}
	router_xbuf_free(&text);
	return (ok);
}

/*
 * An assistant turn's text: one block, or one block per text part when
 * a part carries cache_control (the marker belongs to its block).
 */
static int
anth_assistant_text(json_t *blocks, const json_t *content, char *err,
    size_t errlen)
{
	const json_t	*part, *v;
	char		*text;
	json_t		*b;
	size_t		 i;
	int		 marked = 0;

	json_array_foreach(content, i, part)
		marked |= json_object_get(part, "cache_control") != NULL;
	if (marked) {
		json_array_foreach(content, i, part) {
			v = json_object_get(part, "text");
			if (!json_is_string(v) || json_string_length(v) == 0)
				continue;
			b = json_pack("{s:s, s:O}", "type", "text", "text", v);
			if (b == NULL || json_array_append_new(blocks, b))
				return (0);
			if (!anth_part_cache(b, part, i, err, errlen))
				return (0);
		}
		return (1);
	}
	text = router_xlate_content_text(content, "");
	if (text == NULL) {
		snprintf(err, errlen, "content must be a string, null or an "
		    "array of text parts");
		return (0);
	}
	b = NULL;
	if (*text != '\0')
		b = json_pack("{s:s, s:s}", "type", "text", "text", text);
	free(text);
	if (b != NULL && json_array_append_new(blocks, b) != 0)
		return (0);
	return (1);
}

static json_t *
anth_assistant_blocks(const json_t *m, char *err, size_t errlen)
{
	json_t		*blocks, *input, *b;
	const json_t	*calls, *c, *fn;
	const char	*args, *id, *name;
	json_error_t	 jerr;
	size_t		 i;

	if ((blocks = json_array()) == NULL)
		return (NULL);

	/* Thinking first: Anthropic wants it ahead of text and tool_use. */
	if (!anth_replay(blocks, json_object_get(m, "reasoning_details")))
		goto nomem;
	if (!anth_assistant_text(blocks, json_object_get(m, "content"), err,
	    errlen))
		goto fail;

	calls = json_object_get(m, "tool_calls");
	if (calls != NULL && !json_is_array(calls) && !json_is_null(calls)) {
		snprintf(err, errlen, "tool_calls must be an array");
		goto fail;
	}
	json_array_foreach(calls, i, c) {
		fn = json_object_get(c, "function");
		id = json_string_value(json_object_get(c, "id"));
		name = json_string_value(json_object_get(fn, "name"));
		args = json_string_value(json_object_get(fn, "arguments"));
		if (id == NULL || name == NULL) {
			snprintf(err, errlen, "tool_calls[%zu] needs an id and "
			    "function.name", i);
			goto fail;
		}
		if (args == NULL || *args == '\0')
			input = json_object();
		else
			input = json_loads(args, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(input)) {
			json_decref(input);
			snprintf(err, errlen, "tool_calls[%zu].function."
			    "arguments is not a JSON object", i);
			goto fail;
		}
		b = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use",
		    "id", id, "name", name, "input", input);
		if (b == NULL || json_array_append_new(blocks, b) != 0)
			goto nomem;
	}
	return (blocks);
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(blocks);
	return (NULL);
}

static json_t *
anth_tool_result(const json_t *m, char *err, size_t errlen)
{
	const json_t	*id, *content, *part;
	json_t		*blocks, *inner, *b;
	const char	*type;
	size_t		 i;

	id = json_object_get(m, "tool_call_id");
	if (!json_is_string(id)) {
		snprintf(err, errlen, "tool messages need a tool_call_id");
		return (NULL);
	}
	content = json_object_get(m, "content");
	if ((inner = json_array()) == NULL)
		return (NULL);
	if (json_is_string(content)) {
		if (*json_string_value(content) != '\0')
			json_array_append_new(inner, json_pack("{s:s, s:O}",
			    "type", "text", "text", content));
	} else if (json_is_array(content)) {
		json_array_foreach(content, i, part) {
			type = json_string_value(json_object_get(part,
			    "type"));
			if (type != NULL && !strcmp(type, "text") &&
			    json_is_string(json_object_get(part, "text"))) {
				if (*json_string_value(json_object_get(part,
				    "text")) == '\0')
					continue;
				b = json_pack("{s:s, s:O}", "type", "text",
				    "text", json_object_get(part, "text"));
			} else if (type != NULL &&
			    !strcmp(type, "image_url")) {
				b = anth_image_block(part, err, errlen);
			} else {
				snprintf(err, errlen, "tool content parts must "
				    "be text or image_url");
				json_decref(inner);
				return (NULL);
			}
			if (b == NULL || json_array_append_new(inner, b) ||
			    !anth_part_cache(b, part, i, err, errlen)) {
				json_decref(inner);
				return (NULL);
			}
		}
	} else if (content != NULL && !json_is_null(content)) {
		snprintf(err, errlen, "tool content must be a string or an "
		    "array of parts");
		json_decref(inner);
		return (NULL);
	}
	b = json_pack("{s:s, s:O, s:o}", "type", "tool_result",
	    "tool_use_id", id, "content", inner);
	if (b == NULL)
		return (NULL);
	if ((blocks = json_array()) == NULL) {
		json_decref(b);
		return (NULL);
	}
	json_array_append_new(blocks, b);
	return (blocks);
}

static int
anth_tools(json_t *body, const json_t *req, char *err, size_t errlen)
{
	const json_t	*tools, *tool, *fn, *params, *desc;
	json_t		*out, *t;
	const char	*type, *name;
	char		 why[ROUTER_ERR_MAX];
	size_t		 i;

	tools = json_object_get(req, "tools");
	if (tools == NULL || json_is_null(tools))
		return (1);
	if (!json_is_array(tools)) {
		snprintf(err, errlen, "tools must be an array");
		return (0);
	}
	if (json_array_size(tools) == 0)
		return (1);
	if ((out = json_array()) == NULL)
		return (0);
	json_object_set_new(body, "tools", out);
	json_array_foreach(tools, i, tool) {
		type = json_string_value(json_object_get(tool, "type"));
		fn = json_object_get(tool, "function");
		name = json_string_value(json_object_get(fn, "name"));
		if (type == NULL || strcmp(type, "function") || name == NULL) {
			snprintf(err, errlen, "tools[%zu] must be a function "
			    "with a name", i);
			return (0);
		}
		params = json_object_get(fn, "parameters");
		if (params != NULL && !json_is_object(params)) {
			snprintf(err, errlen, "tools[%zu].function.parameters "
			    "must be an object", i);
			return (0);
		}
		if (params == NULL)
			t = json_pack("{s:s, s:{s:s, s:{}}}", "name", name,
			    "input_schema", "type", "object", "properties");
		else
			t = json_pack("{s:s, s:O}", "name", name,
			    "input_schema", params);
		if (t == NULL)
			return (0);
		desc = json_object_get(fn, "description");
		if (json_is_string(desc))
			json_object_set(t, "description", (json_t *)desc);
		json_array_append_new(out, t);
		/* LiteLLM's place for it, and inside the function. */
		if (!router_xlate_cache_copy(t, tool, why, sizeof(why)) ||
		    !router_xlate_cache_copy(t, fn, why, sizeof(why))) {
			snprintf(err, errlen, "tools[%zu].%s", i, why);
			return (0);
		}
	}
	return (1);
}

static int
anth_tool_choice(json_t *body, const json_t *req, char *err, size_t errlen)
{
	const json_t	*tc, *ptc;
	const char	*s, *name;
	json_t		*out = NULL;

	if (json_object_get(body, "tools") == NULL)
		return (1);
	tc = json_object_get(req, "tool_choice");
	ptc = json_object_get(req, "parallel_tool_calls");
	if (json_is_string(tc)) {
		s = json_string_value(tc);
		if (!strcmp(s, "auto"))
			out = json_pack("{s:s}", "type", "auto");
		else if (!strcmp(s, "required"))
			out = json_pack("{s:s}", "type", "any");
		else if (!strcmp(s, "none"))
			out = json_pack("{s:s}", "type", "none");
		else {
			snprintf(err, errlen, "tool_choice '%.32s' is not "
			    "supported", s);
			return (0);
		}
	} else if (json_is_object(tc)) {
		name = json_string_value(json_object_get(json_object_get(tc,
		    "function"), "name"));
		if (name == NULL) {
			snprintf(err, errlen, "tool_choice.function.name is "
			    "missing");
			return (0);
		}
		out = json_pack("{s:s, s:s}", "type", "tool", "name", name);
	} else if (tc != NULL && !json_is_null(tc)) {
		snprintf(err, errlen, "tool_choice must be a string or an "
		    "object");
		return (0);
	}
	if (json_is_false(ptc)) {
		if (out == NULL)
			out = json_pack("{s:s}", "type", "auto");
		s = json_string_value(json_object_get(out, "type"));
		if (s != NULL && strcmp(s, "none"))
			json_object_set_new(out, "disable_parallel_tool_use",
			    json_true());
	}
	if (out != NULL)
		json_object_set_new(body, "tool_choice", out);
	return (1);
}

static json_int_t
anth_budget(const char *effort)
{
	if (!strcmp(effort, "minimal"))
		return (1024);
	if (!strcmp(effort, "low"))
		return (2048);
	if (!strcmp(effort, "medium"))
		return (8192);
	if (!strcmp(effort, "high"))
		return (16384);
	if (!strcmp(effort, "xhigh") || !strcmp(effort, "max"))
		return (32768);
	return (0);	/* none, auto, unknown: no extended thinking */
}

static int
anth_sampling(json_t *body, const json_t *req, const struct router_target *t,
    char *err, size_t errlen)
{
	const json_t	*v, *s;
	const char	*tct;
	json_int_t	 max, budget;
	json_t		*stops;
	size_t		 i;
	double		 temp;

	max = router_xlate_int(req, "max_completion_tokens", -1);
	if (max < 0)
		max = router_xlate_int(req, "max_tokens", -1);
	if (max == 0 || max < -1) {
		snprintf(err, errlen, "max_tokens must be a positive integer");
		return (0);
	}
	if (max < 0)
		max = t->max_output_tokens > 0 ? t->max_output_tokens :
		    ANTH_DEFAULT_MAX_TOKENS;
	json_object_set_new(body, "max_tokens", json_integer(max));

	/*
	 * Extended thinking: a budget below max_tokens, at least 1024, and
	 * only with tool_choice auto/none (Anthropic refuses others); it
	 * rules out temperature and top_p changes. reasoning.max_tokens
	 * (OpenRouter's field; /v1/messages sends budget_tokens there) is
	 * taken as asked, within those limits; reasoning_effort is bucketed.
	 */
	budget = 0;
	v = json_object_get(req, "reasoning_effort");
	if (json_is_string(v))
		budget = anth_budget(json_string_value(v));
	v = json_object_get(json_object_get(req, "reasoning"), "max_tokens");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		budget = json_integer_value(v) < ANTH_THINKING_MIN ?
		    ANTH_THINKING_MIN : json_integer_value(v);
	if (budget >= max)
		budget = max - 1;
	tct = json_string_value(json_object_get(json_object_get(body,
	    "tool_choice"), "type"));
	if (tct != NULL && (!strcmp(tct, "any") || !strcmp(tct, "tool")))
		budget = 0;
	if (budget >= ANTH_THINKING_MIN) {
		json_object_set_new(body, "thinking", json_pack("{s:s, s:I}",
		    "type", "enabled", "budget_tokens", budget));
	} else {
		v = json_object_get(req, "temperature");
		if (json_is_number(v)) {
			/* OpenAI's range is 0..2, Anthropic's 0..1. */
			temp = json_number_value(v);
			json_object_set_new(body, "temperature",
			    json_real(temp > 1.0 ? 1.0 : temp < 0 ? 0 : temp));
		}
		v = json_object_get(req, "top_p");
		if (json_is_number(v))
			json_object_set_new(body, "top_p",
			    json_real(json_number_value(v)));
	}

	v = json_object_get(req, "stop");
	if (json_is_string(v)) {
		json_object_set_new(body, "stop_sequences", json_pack("[O]",
		    v));
	} else if (json_is_array(v) && json_array_size(v) > 0) {
		if ((stops = json_array()) == NULL)
			return (0);
		json_array_foreach(v, i, s) {
			if (!json_is_string(s)) {
				json_decref(stops);
				snprintf(err, errlen, "stop must be a string or "
				    "an array of strings");
				return (0);
			}
			json_array_append(stops, (json_t *)s);
		}
		json_object_set_new(body, "stop_sequences", stops);
	} else if (v != NULL && !json_is_null(v) && !json_is_array(v)) {
		snprintf(err, errlen, "stop must be a string or an array of "
		    "strings");
		return (0);
	}
	return (1);
}

static const char *
anth_finish(const char *reason)
{
	if (reason == NULL)
		return ("stop");
	if (!strcmp(reason, "max_tokens") ||
	    !strcmp(reason, "model_context_window_exceeded"))
		return ("length");
	if (!strcmp(reason, "tool_use"))
		return ("tool_calls");
	if (!strcmp(reason, "refusal"))
		return ("content_filter");
	/* end_turn, stop_sequence, pause_turn and anything new */
	return ("stop");
}

/*
 * The stop sequence that ended an answer, as choices[0].stop_reason
 * (vLLM's field for it; finish_reason stays "stop"), so /v1/messages
 * can give its client stop_reason "stop_sequence" and the sequence.
 */
static void
anth_stop_sequence(json_t *out, const json_t *doc)
{
	const char	*reason;
	const json_t	*seq;

	reason = json_string_value(json_object_get(doc, "stop_reason"));
	seq = json_object_get(doc, "stop_sequence");
	if (reason == NULL || strcmp(reason, "stop_sequence") ||
	    !json_is_string(seq))
		return;
	json_object_set(json_array_get(json_object_get(out, "choices"), 0),
	    "stop_reason", (json_t *)seq);
}

/*
 * Anthropic usage (message or message_delta) into u; absent fields
 * kept. An empty usage reports nothing; a garbage one (a negative or
 * non-integer counter) makes the call's usage missing (zeroed,
 * reported 0), so the meter estimates it. Returns 0 for garbage.
 */
static int
anth_usage(const json_t *usage, struct router_usage *u)
{
	json_int_t	in, cr, cc, out;

	if (usage == NULL || json_is_null(usage))
		return (1);
	in = router_xlate_counter(usage, "input_tokens");
	cr = router_xlate_counter(usage, "cache_read_input_tokens");
	cc = router_xlate_counter(usage, "cache_creation_input_tokens");
	out = router_xlate_counter(usage, "output_tokens");
	if (!json_is_object(usage) || in == -2 || cr == -2 || cc == -2 ||
	    out == -2) {
		memset(u, 0, sizeof(*u));
		return (0);
	}
	if (in < 0 && cr < 0 && cc < 0 && out < 0)
		return (1);
	if (cr >= 0)
		u->cached_tokens = cr;
	if (cc >= 0)
		u->cache_creation_tokens = cc;
	if (in >= 0 || cr >= 0 || cc >= 0) {
		if (in < 0)
			in = u->prompt_tokens - u->cached_tokens -
			    u->cache_creation_tokens;
		u->prompt_tokens = (in > 0 ? in : 0) + u->cached_tokens +
		    u->cache_creation_tokens;
	}
	if (out >= 0)
		u->completion_tokens = out;
	u->reported = 1;
	return (1);
}

static json_t *
anth_chat_response(const struct router_target *t, const char *body,
    size_t len, struct router_usage *u, char *err, size_t errlen)
{
	struct router_xbuf	 text = { NULL, 0, 0 }, think = { NULL, 0, 0 };
	json_t			*doc, *msg, *calls, *details, *out, *c;
	const json_t		*content, *b, *v;
	const char		*type, *model;
	json_error_t		 jerr;
	char			*args;
	size_t			 i;

	memset(u, 0, sizeof(*u));
	doc = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "anthropic answer is not JSON: %s",
		    jerr.text);
		json_decref(doc);
		return (NULL);
	}
	content = json_object_get(doc, "content");
	type = json_string_value(json_object_get(doc, "type"));
	if (!json_is_array(content) || (type && strcmp(type, "message"))) {
		snprintf(err, errlen, "anthropic answer is not a message");
		json_decref(doc);
		return (NULL);
	}

	calls = json_array();
	details = json_array();
	json_array_foreach(content, i, b) {
		type = json_string_value(json_object_get(b, "type"));
		if (type == NULL)
			continue;
		if (!strcmp(type, "text")) {
			v = json_object_get(b, "text");
			if (json_is_string(v))
				router_xbuf_str(&text, json_string_value(v));
		} else if (!strcmp(type, "tool_use")) {
			v = json_object_get(b, "input");
			args = json_is_object(v) ? json_dumps(v, JSON_COMPACT) :
			    NULL;
			c = json_pack("{s:O?, s:s, s:{s:O?, s:s}}",
			    "id", json_object_get(b, "id"), "type", "function",
			    "function", "name", json_object_get(b, "name"),
			    "arguments", args ? args : "{}");
			free(args);
			if (c != NULL)
				json_array_append_new(calls, c);
		} else if (!strcmp(type, "thinking")) {
			v = json_object_get(b, "thinking");
			if (json_is_string(v))
				router_xbuf_str(&think, json_string_value(v));
			json_array_append_new(details, json_pack(
			    "{s:s, s:O?, s:O?, s:s}", "type", "reasoning.text",
			    "text", v, "signature",
			    json_object_get(b, "signature"),
			    "format", "anthropic-claude-v1"));
		} else if (!strcmp(type, "redacted_thinking")) {
			json_array_append_new(details, json_pack(
			    "{s:s, s:O?, s:s}", "type", "reasoning.encrypted",
			    "data", json_object_get(b, "data"),
			    "format", "anthropic-claude-v1"));
		}
		/* server_tool_use, web results, ...: not for OpenAI clients */
	}

	msg = json_pack("{s:s, s:o, s:n}", "role", "assistant",
	    "content", text.data ? json_string(text.data) :
	    (json_array_size(calls) ? json_null() : json_string("")),
	    "refusal");
	if (json_array_size(calls) > 0)
		json_object_set(msg, "tool_calls", calls);
	if (think.data != NULL)
		json_object_set_new(msg, "reasoning", json_string(think.data));
	if (json_array_size(details) > 0)
		json_object_set(msg, "reasoning_details", details);
	json_decref(calls);
	json_decref(details);
	router_xbuf_free(&text);
	router_xbuf_free(&think);

	anth_usage(json_object_get(doc, "usage"), u);
	model = json_string_value(json_object_get(doc, "model"));
	out = json_pack("{s:O?, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}]}",
	    "id", json_object_get(doc, "id"), "object", "chat.completion",
	    "created", (json_int_t)time(NULL),
	    "model", model ? model : t->model,
	    "choices", "index", 0, "message", msg, "logprobs",
	    "finish_reason", anth_finish(json_string_value(
	    json_object_get(doc, "stop_reason"))));
	if (out != NULL)
		anth_stop_sequence(out, doc);
	json_decref(doc);
	if (out == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	json_object_set_new(out, "usage", router_usage_json(u));
	return (out);
}

/*
 * Usage of a stream event: message_start's is a placeholder (its
 * output_tokens counts nothing yet), message_delta's is cumulative; a
 * stream that ends early keeps what it saw as a lower bound for the
 * meter. Once a garbage usage was seen the call's usage stays missing.
 */
static void
anth_stream_usage(struct router_stream *st, struct anth_state *as,
    const json_t *usage)
{
	if (as->bad_usage)
		return;
	if (!anth_usage(usage, &st->usage))
		as->bad_usage = 1;
}

/*
 * A chunk whose delta carries one reasoning_details entry of type for
 * the thinking block numbered index, with member key = v (and, for
 * thinking text, the same text as "reasoning"). Every fragment of one
 * block has the same index, so a client that merges entries by index
 * (as OpenRouter's clients do) or one that keeps them all in order
 * gets the block's whole text and its signature back for the replay.
 */
static int
anth_detail_chunk(struct router_stream *st, json_t *chunks, const char *key,
    const json_t *v, int index)
{
	json_t	*delta;

	delta = json_pack("{s:[{s:s, s:O, s:i, s:s}]}", "reasoning_details",
	    "type", strcmp(key, "data") ? "reasoning.text" :
	    "reasoning.encrypted", key, v, "index", index, "format",
	    "anthropic-claude-v1");
	if (delta != NULL && !strcmp(key, "text"))
		json_object_set(delta, "reasoning", (json_t *)v);
	return (router_xlate_chunk(st, chunks, 0, delta, NULL));
}

static struct anth_block *
anth_block_find(struct anth_state *as, int index)
{
	int	i, n;

	n = as->nblocks < ANTH_BLOCKS_MAX ? as->nblocks : ANTH_BLOCKS_MAX;
	for (i = 0; i < n; i++) {
		if (as->blocks[i].index == index)
			return (&as->blocks[i]);
	}
	return (NULL);
}

/* Blocks stream one after another; past the table, reuse the oldest. */
static struct anth_block *
anth_block_add(struct anth_state *as, int index, int kind)
{
	struct anth_block	*b;

	if ((b = anth_block_find(as, index)) == NULL)
		b = &as->blocks[as->nblocks++ % ANTH_BLOCKS_MAX];
	memset(b, 0, sizeof(*b));
	b->index = index;
	b->kind = kind;
	return (b);
}

static int
anth_stream_event(struct router_stream *st, const char *event,
    const char *data, size_t len, json_t *chunks)
{
	struct anth_state	*as = &st->family.anthropic;
	json_t			*doc;
	const json_t		*msg;
	const char		*type, *model;
	json_error_t		 jerr;
	int			 ok = 1;

	doc = json_loadb(data, len, 0, &jerr);
	if (!json_is_object(doc)) {
		json_decref(doc);
		snprintf(st->error, sizeof(st->error), "anthropic sent a "
		    "malformed event: %s", jerr.text);
		return (0);
	}
	type = json_string_value(json_object_get(doc, "type"));
	if (type == NULL)
		type = event;
	if (type == NULL) {
		json_decref(doc);
		snprintf(st->error, sizeof(st->error), "anthropic sent an "
		    "event without a type");
		return (0);
	}

	if (!strcmp(type, "message_start")) {
		msg = json_object_get(doc, "message");
		model = json_string_value(json_object_get(msg, "model"));
		if (model != NULL && *model != '\0')
			router_xlate_copy(st->model, sizeof(st->model), model);
		anth_stream_usage(st, as, json_object_get(msg, "usage"));
		if (!st->sent_role)
			ok = router_xlate_chunk(st, chunks, 0, json_object(),
			    NULL);
	} else if (!strcmp(type, "content_block_start")) {
		ok = anth_ev_block_start(st, as, doc, chunks);
	} else if (!strcmp(type, "content_block_delta")) {
		ok = anth_ev_block_delta(st, as, doc, chunks);
	} else if (!strcmp(type, "content_block_stop")) {
		ok = anth_ev_block_stop(st, as, doc, chunks);
	} else if (!strcmp(type, "message_delta")) {
		ok = anth_ev_message_delta(st, as, doc, chunks);
	} else if (!strcmp(type, "message_stop")) {
		if (!as->finished) {
			as->finished = 1;
			ok = router_xlate_chunk(st, chunks, 0, json_object(),
			    "stop");
		}
		st->done = 1;
	} else if (!strcmp(type, "error")) {
		st->failed = 1;
		anth_error_text(doc, st->error, sizeof(st->error));
	}
	/* ping and future events carry nothing for us */
	json_decref(doc);
	if (!ok && st->error[0] == '\0')
		snprintf(st->error, sizeof(st->error), "out of memory");
	return (ok);
}

static int
anth_ev_block_start(struct router_stream *st, struct anth_state *as,
    const json_t *doc, json_t *chunks)
{
	struct anth_block	*b;
	const json_t		*cb, *v;
	const char		*type;
	json_t			*delta, *input;
	json_int_t		 index;
	char			*args;

	index = router_xlate_int(doc, "index", -1);
	cb = json_object_get(doc, "content_block");
	type = json_string_value(json_object_get(cb, "type"));
	if (index < 0 || index > INT32_MAX || type == NULL) {
		snprintf(st->error, sizeof(st->error), "anthropic sent a "
		    "content_block_start without index or type");
		return (0);
	}

	if (!strcmp(type, "text")) {
		anth_block_add(as, (int)index, BLOCK_TEXT);
		v = json_object_get(cb, "text");
		if (json_is_string(v) && *json_string_value(v) != '\0') {
			st->text_bytes += json_string_length(v);
			return (router_xlate_chunk(st, chunks, 0,
			    json_pack("{s:O}", "content", v), NULL));
		}
		return (1);
	}
	if (!strcmp(type, "thinking")) {
		b = anth_block_add(as, (int)index, BLOCK_THINKING);
		b->detail = as->ndetails++;
		v = json_object_get(cb, "thinking");
		if (json_is_string(v) && *json_string_value(v) != '\0') {
			st->text_bytes += json_string_length(v);
			if (!anth_detail_chunk(st, chunks, "text", v, b->detail))
				return (0);
		}
		v = json_object_get(cb, "signature");
		if (json_is_string(v) && *json_string_value(v) != '\0')
			return (anth_detail_chunk(st, chunks, "signature", v,
			    b->detail));
		return (1);
	}
	if (!strcmp(type, "redacted_thinking")) {
		anth_block_add(as, (int)index, BLOCK_IGNORE);
		v = json_object_get(cb, "data");
		if (!json_is_string(v))
			return (1);
		return (anth_detail_chunk(st, chunks, "data", v,
		    as->ndetails++));
	}
	if (strcmp(type, "tool_use")) {
		/* server_tool_use, web_search_tool_result, ... */
		anth_block_add(as, (int)index, BLOCK_IGNORE);
		return (1);
	}

	b = anth_block_add(as, (int)index, BLOCK_TOOL);
	b->tool = st->tool_calls++;
	input = json_object_get(cb, "input");
	args = NULL;
	if (json_is_object(input) && json_object_size(input) > 0)
		args = json_dumps(input, JSON_COMPACT);
	b->args = args != NULL;
	delta = json_pack("{s:[{s:i, s:O?, s:s, s:{s:O?, s:s}}]}",
	    "tool_calls", "index", b->tool, "id", json_object_get(cb, "id"),
	    "type", "function", "function", "name",
	    json_object_get(cb, "name"), "arguments", args ? args : "");
	if (args != NULL)
		st->text_bytes += strlen(args);
	free(args);
	return (router_xlate_chunk(st, chunks, 0, delta, NULL));
}

static int
anth_ev_block_delta(struct router_stream *st, struct anth_state *as,
    const json_t *doc, json_t *chunks)
{
	struct anth_block	*b;
	const json_t		*d, *v;
	const char		*type;
	json_int_t		 index;

	index = router_xlate_int(doc, "index", -1);
	d = json_object_get(doc, "delta");
	type = json_string_value(json_object_get(d, "type"));
	if (type == NULL) {
		snprintf(st->error, sizeof(st->error), "anthropic sent a "
		    "content_block_delta without a type");
		return (0);
	}
	b = (index >= 0 && index <= INT32_MAX) ?
	    anth_block_find(as, (int)index) : NULL;

	if (!strcmp(type, "text_delta")) {
		v = json_object_get(d, "text");
		if (!json_is_string(v) || *json_string_value(v) == '\0')
			return (1);
		st->text_bytes += json_string_length(v);
		return (router_xlate_chunk(st, chunks, 0,
		    json_pack("{s:O}", "content", v), NULL));
	}
	if (!strcmp(type, "thinking_delta") ||
	    !strcmp(type, "signature_delta")) {
		v = json_object_get(d, type[0] == 't' ? "thinking" :
		    "signature");
		if (!json_is_string(v) || *json_string_value(v) == '\0')
			return (1);
		if (type[0] == 't')
			st->text_bytes += json_string_length(v);
		return (anth_detail_chunk(st, chunks, type[0] == 't' ?
		    "text" : "signature", v, b != NULL &&
		    b->kind == BLOCK_THINKING ? b->detail : as->ndetails));
	}
	if (!strcmp(type, "input_json_delta")) {
		if (b == NULL) {
			snprintf(st->error, sizeof(st->error), "anthropic sent "
			    "tool input for unknown block %lld",
			    (long long)index);
			return (0);
		}
		if (b->kind != BLOCK_TOOL)
			return (1);
		v = json_object_get(d, "partial_json");
		if (!json_is_string(v) || *json_string_value(v) == '\0')
			return (1);
		b->args = 1;
		st->text_bytes += json_string_length(v);
		return (router_xlate_chunk(st, chunks, 0, json_pack(
		    "{s:[{s:i, s:{s:O}}]}", "tool_calls", "index", b->tool,
		    "function", "arguments", v), NULL));
	}
	/* citations_delta and future kinds: nothing OpenAI can carry */
	return (1);
}

/*
 * A tool without arguments streams no partial_json at all (or only an
 * empty one): its arguments become "{}", as in the whole answer, so
 * that clients can parse them.
 */
static int
anth_ev_block_stop(struct router_stream *st, struct anth_state *as,
    const json_t *doc, json_t *chunks)
{
	struct anth_block	*b;
	json_int_t		 index;

	index = router_xlate_int(doc, "index", -1);
	if (index < 0 || index > INT32_MAX ||
	    (b = anth_block_find(as, (int)index)) == NULL ||
	    b->kind != BLOCK_TOOL || b->args)
		return (1);
	b->args = 1;
	return (router_xlate_chunk(st, chunks, 0, json_pack(
	    "{s:[{s:i, s:{s:s}}]}", "tool_calls", "index", b->tool,
	    "function", "arguments", "{}"), NULL));
}

static int
anth_ev_message_delta(struct router_stream *st, struct anth_state *as,
    const json_t *doc, json_t *chunks)
{
	const json_t	*seq;
	const char	*reason;
	json_t		*c;

	anth_stream_usage(st, as, json_object_get(doc, "usage"));
	reason = json_string_value(json_object_get(json_object_get(doc,
	    "delta"), "stop_reason"));
	if (reason == NULL || as->finished)
		return (1);
	as->finished = 1;
	if (!router_xlate_chunk(st, chunks, 0, json_object(),
	    anth_finish(reason)))
		return (0);
	seq = json_object_get(json_object_get(doc, "delta"), "stop_sequence");
	if (!strcmp(reason, "stop_sequence") && json_is_string(seq)) {
		c = json_array_get(chunks, json_array_size(chunks) - 1);
		json_object_set(json_array_get(json_object_get(c, "choices"),
		    0), "stop_reason", (json_t *)seq);
	}
	return (1);
}

/* "type: message" of an Anthropic error document; 0 if it is none. */
static int
anth_error_text(const json_t *doc, char *buf, size_t len)
{
	const json_t	*e;
	const char	*type, *msg;

	e = json_object_get(doc, "error");
	if (!json_is_object(e)) {
		router_xlate_copy(buf, len, "anthropic reported an error");
		return (0);
	}
	type = json_string_value(json_object_get(e, "type"));
	msg = json_string_value(json_object_get(e, "message"));
	snprintf(buf, len, "%s: %s", type ? type : "error",
	    msg ? msg : "no message");
	router_xlate_clean(buf);
	return (1);
}

static void
anth_map_error(long status, const char *body, size_t len,
    struct router_error *e)
{
	json_t		*doc;
	json_error_t	 jerr;
	char		 msg[ROUTER_ERR_MAX];

	doc = body != NULL ? json_loadb(body, len, 0, &jerr) : NULL;
	if (!anth_error_text(doc, msg, sizeof(msg)))
		snprintf(msg, sizeof(msg), "no error details");
	json_decref(doc);
	router_error_map(status, msg, e);
}
