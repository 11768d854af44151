/*
 * /v1/responses translation (see responses.h): OpenAI Responses
 * requests to OpenAI chat requests, and chat answers and chunks back to
 * Response objects and the Responses event stream.
 *
 * Request invariants: the chat messages come in the order instructions,
 * the previous response chain (prior "previous"), then input. An
 * assistant message item and the function_call items right after it
 * make one chat assistant message with tool_calls; any other item
 * (except a dropped reasoning item) ends that message. Nothing of the
 * client's request is forwarded unless mapped here: the chat request is
 * built from scratch, so unknown fields cannot leak upstream.
 *
 * Stream invariants: phase NEW -> OPEN (response.created and
 * response.in_progress sent) -> ENDED (exactly one terminal event
 * sent; later calls add nothing). At most one output item is open at a
 * time; opening one closes the open one first (its *.done events and
 * output_item.done), so each item's events are contiguous and
 * output_index is the item's position in output. Each chat tool-call
 * index gets one function_call item (keyed by tool_calls[].index: only
 * the first chunk of a call has its id and name). Item ids are made
 * from the response id and the output index, so the stream and the
 * whole answer name items the same way and ids are unique per
 * response. sequence_number rises by one per event from 0.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/responses.h"
#include "router/upstream.h"

#define KIND_REASONING	1
#define KIND_MESSAGE	2
#define KIND_CALL	3

/* The event types this surface sends, and nothing else. */
enum resp_ev {
	EV_CREATED,
	EV_IN_PROGRESS,
	EV_ITEM_ADDED,
	EV_ITEM_DONE,
	EV_PART_ADDED,
	EV_PART_DONE,
	EV_TEXT_DELTA,
	EV_TEXT_DONE,
	EV_ARGS_DELTA,
	EV_ARGS_DONE,
	EV_SUMMARY_PART_ADDED,
	EV_SUMMARY_PART_DONE,
	EV_SUMMARY_DELTA,
	EV_SUMMARY_DONE,
	EV_COMPLETED,
	EV_INCOMPLETE,
	EV_FAILED,
	EV_MAX
};

static const char *const resp_ev_names[EV_MAX] = {
	[EV_CREATED] = "response.created",
	[EV_IN_PROGRESS] = "response.in_progress",
	[EV_ITEM_ADDED] = "response.output_item.added",
	[EV_ITEM_DONE] = "response.output_item.done",
	[EV_PART_ADDED] = "response.content_part.added",
	[EV_PART_DONE] = "response.content_part.done",
	[EV_TEXT_DELTA] = "response.output_text.delta",
	[EV_TEXT_DONE] = "response.output_text.done",
	[EV_ARGS_DELTA] = "response.function_call_arguments.delta",
	[EV_ARGS_DONE] = "response.function_call_arguments.done",
	[EV_SUMMARY_PART_ADDED] = "response.reasoning_summary_part.added",
	[EV_SUMMARY_PART_DONE] = "response.reasoning_summary_part.done",
	[EV_SUMMARY_DELTA] = "response.reasoning_summary_text.delta",
	[EV_SUMMARY_DONE] = "response.reasoning_summary_text.done",
	[EV_COMPLETED] = "response.completed",
	[EV_INCOMPLETE] = "response.incomplete",
	[EV_FAILED] = "response.failed",
};

/*
 * Top-level request fields: mapped below, or harmless and dropped
 * (storage is the store's, the rest has no chat meaning we keep).
 * Anything else is refused, as OpenAI refuses unknown parameters.
 */
static const char *const resp_fields[] = {
	"model", "input", "instructions", "tools", "tool_choice",
	"parallel_tool_calls", "max_output_tokens", "temperature", "top_p",
	"reasoning", "text", "stream", "background",
	/* dropped */
	"store", "previous_response_id", "include", "truncation",
	"service_tier", "metadata", "prompt_cache_key",
	"prompt_cache_retention", "user", "safety_identifier",
	"stream_options", NULL
};

/* A request being translated, and where its errors go. */
struct resp_req {
	json_t		*msgs;
	json_t		*asst;		/* open to tool calls, borrowed */
	const json_t	*items;		/* prior's item_reference table */
	int		*status;
	const char	**code;
	const char	**param;
	char		*err;
	size_t		 errlen;
};

/* The param of the last refusal: valid until the next call. */
static char	resp_param[96];

static int	resp_bad(struct resp_req *, const char *, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static int	resp_known(const json_t *, struct resp_req *);
static int	resp_instructions(struct resp_req *, const json_t *);
static int	resp_input(struct resp_req *, const json_t *, const char *);
static int	resp_item(struct resp_req *, const json_t *, const char *);
static int	resp_message(struct resp_req *, const json_t *,
		    const char *);
static int	resp_text_of(struct resp_req *, const json_t *, const char *,
		    struct router_xbuf *);
static json_t	*resp_part(struct resp_req *, const json_t *, const char *);
static json_t	*resp_image(struct resp_req *, const json_t *, const char *);
static json_t	*resp_file(struct resp_req *, const json_t *, const char *);
static int	resp_call(struct resp_req *, const json_t *, const char *);
static int	resp_call_output(struct resp_req *, const json_t *,
		    const char *);
static int	resp_tools(json_t *, const json_t *, struct resp_req *);
static int	resp_tool_choice(json_t *, const json_t *,
		    struct resp_req *);
static int	resp_options(json_t *, const json_t *, struct resp_req *);
static int	resp_format(json_t *, const json_t *, struct resp_req *);
static int	resp_is_text(const char *);
static void	resp_item_id(char *, size_t, const char *, const char *,
		    size_t);
static json_t	*resp_echo(const json_t *, const char *, json_t *);
static json_t	*resp_shell(const char *, const char *, int64_t,
		    const char *, const json_t *);
static json_t	*resp_usage_json(const struct router_usage *);
static const char *resp_incomplete(const char *);
static int	resp_finish(json_t *, const char *, json_t *, json_t *);
static json_t	*resp_reasoning_item(const char *, const char *);
static json_t	*resp_message_item(const char *, const char *,
		    const char *);
static json_t	*resp_call_item(const char *, const char *, const char *,
		    const char *, const char *);
static int	resp_emit(struct router_responses_stream *, enum resp_ev,
		    json_t *, struct router_xbuf *);
static int	resp_open(struct router_responses_stream *, int, json_t *,
		    struct router_xbuf *);
static int	resp_close(struct router_responses_stream *,
		    struct router_xbuf *);
static int	resp_delta(struct router_responses_stream *, int,
		    const char *, struct router_xbuf *);
static int	resp_tool_delta(struct router_responses_stream *,
		    const json_t *, size_t, struct router_xbuf *);
static int	resp_late_args(struct router_responses_stream *, int,
		    const char *);
static json_t	*resp_stream_response(struct router_responses_stream *,
		    const char *);

static int
resp_bad(struct resp_req *rq, const char *code, const char *param,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(rq->err, rq->errlen, fmt, ap);
	va_end(ap);
	router_xlate_copy(resp_param, sizeof(resp_param), param);
	*rq->status = 400;
	*rq->code = code;
	*rq->param = param != NULL ? resp_param : NULL;
	return (0);
}

/* Request: references for the store. */

int
router_responses_refs(const json_t *req, struct router_responses_refs *refs,
    int *status, const char **param, char *err, size_t errlen)
{
	const json_t	*in, *it, *v;
	const char	*code, *type;
	struct resp_req	 rq;
	char		 where[64];
	size_t		 i;

	memset(refs, 0, sizeof(*refs));
	memset(&rq, 0, sizeof(rq));
	rq.status = status;
	rq.code = &code;
	rq.param = param;
	rq.err = err;
	rq.errlen = errlen;
	*status = 500;
	*param = NULL;

	v = json_object_get(req, "previous_response_id");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) >= sizeof(refs->prev))
			return (resp_bad(&rq, "invalid_value",
			    "previous_response_id", "previous_response_id "
			    "must be a response id"));
		router_xlate_copy(refs->prev, sizeof(refs->prev),
		    json_string_value(v));
	}
	in = json_object_get(req, "input");
	if (in == NULL || json_is_string(in))
		return (1);
	if (!json_is_array(in))
		return (resp_bad(&rq, "invalid_value", "input", "input must "
		    "be a string or an array of items"));
	json_array_foreach(in, i, it) {
		type = json_string_value(json_object_get(it, "type"));
		if (type == NULL || strcmp(type, "item_reference"))
			continue;
		snprintf(where, sizeof(where), "input[%zu].id", i);
		v = json_object_get(it, "id");
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) >= sizeof(refs->ids[0]))
			return (resp_bad(&rq, "invalid_value", where, "%s must "
			    "be an item id", where));
		if (refs->nids == ROUTER_RESPONSES_REFS_MAX)
			return (resp_bad(&rq, "invalid_value", "input",
			    "input has more than %d item references",
			    ROUTER_RESPONSES_REFS_MAX));
		router_xlate_copy(refs->ids[refs->nids++],
		    sizeof(refs->ids[0]), json_string_value(v));
	}
	return (1);
}

/* Request: the chat request. */

json_t *
router_responses_request_to_openai(const json_t *req, const json_t *prior,
    int *status, const char **code, const char **param, char *err,
    size_t errlen)
{
	struct resp_req	 rq;
	const json_t	*model, *in, *it;
	json_t		*out;
	size_t		 i;

	memset(&rq, 0, sizeof(rq));
	rq.status = status;
	rq.code = code;
	rq.param = param;
	rq.err = err;
	rq.errlen = errlen;
	rq.items = json_object_get(prior, "items");
	*status = 500;
	*code = "internal";
	*param = NULL;

	if (!json_is_object(req)) {
		resp_bad(&rq, "invalid_value", NULL, "the request body must "
		    "be a JSON object");
		return (NULL);
	}
	if (!resp_known(req, &rq))
		return (NULL);
	model = json_object_get(req, "model");
	if (model == NULL || json_is_null(model)) {
		resp_bad(&rq, "missing_field", "model", "model is required");
		return (NULL);
	}
	if (!json_is_string(model) || json_string_length(model) == 0) {
		resp_bad(&rq, "invalid_value", "model", "model must be a "
		    "non-empty string");
		return (NULL);
	}
	if (json_is_true(json_object_get(req, "background"))) {
		resp_bad(&rq, "unsupported_value", "background", "background "
		    "responses are not supported");
		return (NULL);
	}
	in = json_object_get(req, "input");
	if (in == NULL || json_is_null(in)) {
		resp_bad(&rq, "missing_field", "input", "input is required");
		return (NULL);
	}
	if (!json_is_string(in) && !json_is_array(in)) {
		resp_bad(&rq, "invalid_value", "input", "input must be a "
		    "string or an array of items");
		return (NULL);
	}

	if ((rq.msgs = json_array()) == NULL)
		return (NULL);
	if ((out = json_pack("{s:O, s:o}", "model", model, "messages",
	    rq.msgs)) == NULL)
		return (NULL);
	if (!resp_instructions(&rq, json_object_get(req, "instructions")))
		goto fail;
	json_array_foreach(json_object_get(prior, "previous"), i, it) {
		if (!resp_item(&rq, it, "input"))
			goto fail;
	}
	rq.asst = NULL;
	if (!resp_input(&rq, in, "input"))
		goto fail;
	if (json_array_size(rq.msgs) == 0) {
		resp_bad(&rq, "invalid_value", "input", "input must not be "
		    "empty");
		goto fail;
	}
	if (!resp_tools(out, req, &rq) || !resp_options(out, req, &rq))
		goto fail;
	return (out);
fail:
	json_decref(out);
	return (NULL);
}

static int
resp_known(const json_t *req, struct resp_req *rq)
{
	const char	*key;
	const json_t	*v;
	size_t		 i;

	json_object_foreach((json_t *)req, key, v) {
		for (i = 0; resp_fields[i] != NULL; i++) {
			if (!strcmp(resp_fields[i], key))
				break;
		}
		if (resp_fields[i] == NULL)
			return (resp_bad(rq, "unknown_parameter", key,
			    "Unknown parameter: '%.64s'.", key));
	}
	return (1);
}

/* instructions: a system message first (never inherited). */
static int
resp_instructions(struct resp_req *rq, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return (1);
	if (!json_is_string(v))
		return (resp_bad(rq, "invalid_value", "instructions",
		    "instructions must be a string"));
	if (json_string_length(v) == 0)
		return (1);
	return (json_array_append_new(rq->msgs, json_pack("{s:s, s:O}",
	    "role", "system", "content", v)) == 0);
}

/* input: a string is one user message; an array, items in order. */
static int
resp_input(struct resp_req *rq, const json_t *in, const char *name)
{
	const json_t	*it;
	char		 where[64];
	size_t		 i;

	if (json_is_string(in))
		return (json_array_append_new(rq->msgs, json_pack("{s:s, s:O}",
		    "role", "user", "content", in)) == 0);
	json_array_foreach(in, i, it) {
		snprintf(where, sizeof(where), "%s[%zu]", name, i);
		if (!resp_item(rq, it, where))
			return (0);
	}
	return (1);
}

static int
resp_item(struct resp_req *rq, const json_t *it, const char *where)
{
	const json_t	*ref;
	const char	*type, *id;

	if (!json_is_object(it))
		return (resp_bad(rq, "invalid_value", where, "%s must be an "
		    "object", where));
	type = json_string_value(json_object_get(it, "type"));
	if (type == NULL) {
		/* Message items may leave "type" out (the AI SDK does). */
		if (json_object_get(it, "role") != NULL)
			return (resp_message(rq, it, where));
		return (resp_bad(rq, "missing_field", where, "%s.type is "
		    "required", where));
	}
	if (!strcmp(type, "message"))
		return (resp_message(rq, it, where));
	if (!strcmp(type, "function_call"))
		return (resp_call(rq, it, where));
	if (!strcmp(type, "function_call_output"))
		return (resp_call_output(rq, it, where));
	if (!strcmp(type, "reasoning"))
		return (1);	/* the chat shape has no place for it */
	if (!strcmp(type, "item_reference")) {
		id = json_string_value(json_object_get(it, "id"));
		ref = id != NULL ? json_object_get(rq->items, id) : NULL;
		if (ref == NULL || !json_is_object(ref) || !strcmp(
		    json_string_value(json_object_get(ref, "type")) ?
		    json_string_value(json_object_get(ref, "type")) : "",
		    "item_reference"))
			return (resp_bad(rq, "previous_response_not_found",
			    "input", "Item with id '%.64s' not found.",
			    id != NULL ? id : ""));
		return (resp_item(rq, ref, where));
	}
	return (resp_bad(rq, "invalid_value", where, "%s.type: item type "
	    "'%.48s' is not supported", where, type));
}

static int
resp_message(struct resp_req *rq, const json_t *it, const char *where)
{
	struct router_xbuf	 b = { NULL, 0, 0 };
	const json_t		*content, *p;
	const char		*role;
	json_t			*parts, *m, *cp;
	char			 at[96];
	size_t			 i;

	role = json_string_value(json_object_get(it, "role"));
	snprintf(at, sizeof(at), "%s.role", where);
	if (role == NULL || (strcmp(role, "user") && strcmp(role,
	    "assistant") && strcmp(role, "system") && strcmp(role,
	    "developer")))
		return (resp_bad(rq, "invalid_value", at, "%s must be one of "
		    "user, assistant, system, developer", at));
	content = json_object_get(it, "content");
	snprintf(at, sizeof(at), "%s.content", where);
	if (!json_is_string(content) && !json_is_array(content))
		return (resp_bad(rq, "invalid_value", at, "%s must be a "
		    "string or an array of content parts", at));

	if (strcmp(role, "user") && json_is_array(content)) {
		/* Assistant, system and developer turns are text. */
		if (!resp_text_of(rq, content, at, &b))
			return (0);
		m = json_pack("{s:s, s:s}", "role", role, "content",
		    b.data != NULL ? b.data : "");
		router_xbuf_free(&b);
	} else if (json_is_string(content)) {
		m = json_pack("{s:s, s:O}", "role", role, "content", content);
	} else {
		if ((parts = json_array()) == NULL)
			return (0);
		json_array_foreach(content, i, p) {
			snprintf(at, sizeof(at), "%s.content[%zu]", where, i);
			if ((cp = resp_part(rq, p, at)) == NULL ||
			    json_array_append_new(parts, cp) != 0) {
				json_decref(parts);
				return (0);
			}
		}
		m = json_pack("{s:s, s:o}", "role", role, "content", parts);
	}
	if (m == NULL || json_array_append_new(rq->msgs, m) != 0)
		return (0);
	rq->asst = !strcmp(role, "assistant") ? m : NULL;
	return (1);
}

static int
resp_is_text(const char *type)
{
	return (type != NULL && (!strcmp(type, "input_text") ||
	    !strcmp(type, "output_text") || !strcmp(type, "text")));
}

/* The text parts of content joined into b (refusals count as text). */
static int
resp_text_of(struct resp_req *rq, const json_t *content, const char *at,
    struct router_xbuf *b)
{
	const json_t	*p, *text;
	const char	*type;
	size_t		 i;

	json_array_foreach(content, i, p) {
		type = json_string_value(json_object_get(p, "type"));
		text = json_object_get(p, resp_is_text(type) ? "text" :
		    "refusal");
		if ((!resp_is_text(type) && (type == NULL ||
		    strcmp(type, "refusal"))) || !json_is_string(text)) {
			router_xbuf_free(b);
			return (resp_bad(rq, "invalid_value", at, "%s[%zu] "
			    "must be a text part", at, i));
		}
		if (!router_xbuf_str(b, json_string_value(text))) {
			router_xbuf_free(b);
			return (0);
		}
	}
	return (1);
}

/* One part of a user message -> a chat content part. */
static json_t *
resp_part(struct resp_req *rq, const json_t *p, const char *at)
{
	const char	*type;
	const json_t	*text;

	type = json_string_value(json_object_get(p, "type"));
	if (resp_is_text(type) || (type != NULL && !strcmp(type,
	    "refusal"))) {
		text = json_object_get(p, resp_is_text(type) ? "text" :
		    "refusal");
		if (!json_is_string(text)) {
			resp_bad(rq, "invalid_value", at, "%s.text must be a "
			    "string", at);
			return (NULL);
		}
		return (json_pack("{s:s, s:O}", "type", "text", "text", text));
	}
	if (type != NULL && !strcmp(type, "input_image"))
		return (resp_image(rq, p, at));
	if (type != NULL && !strcmp(type, "input_file"))
		return (resp_file(rq, p, at));
	resp_bad(rq, "invalid_value", at, "%s.type: content type '%.48s' is "
	    "not supported", at, type != NULL ? type : "");
	return (NULL);
}

static json_t *
resp_image(struct resp_req *rq, const json_t *p, const char *at)
{
	const json_t	*url, *detail;
	json_t		*img;

	url = json_object_get(p, "image_url");
	if (json_is_object(url))
		url = json_object_get(url, "url");
	if (!json_is_string(url) || json_string_length(url) == 0) {
		if (json_object_get(p, "file_id") != NULL)
			resp_bad(rq, "unsupported_value", at, "%s: file_id is "
			    "not supported; send the image as image_url", at);
		else
			resp_bad(rq, "missing_field", at, "%s.image_url is "
			    "required", at);
		return (NULL);
	}
	if ((img = json_pack("{s:O}", "url", url)) == NULL)
		return (NULL);
	detail = json_object_get(p, "detail");
	if (json_is_string(detail))
		json_object_set(img, "detail", (json_t *)detail);
	return (json_pack("{s:s, s:o}", "type", "image_url", "image_url",
	    img));
}

static json_t *
resp_file(struct resp_req *rq, const json_t *p, const char *at)
{
	const char	*data, *name, *rest;
	char		 mime[128];

	if (json_object_get(p, "file_id") != NULL ||
	    json_object_get(p, "file_url") != NULL) {
		resp_bad(rq, "unsupported_value", at, "%s: file_id and "
		    "file_url are not supported; send the file as file_data",
		    at);
		return (NULL);
	}
	data = json_string_value(json_object_get(p, "file_data"));
	if (data == NULL || !router_xlate_data_url(data, mime, sizeof(mime),
	    &rest)) {
		resp_bad(rq, "invalid_value", at, "%s.file_data must be a "
		    "base64 data URL", at);
		return (NULL);
	}
	name = json_string_value(json_object_get(p, "filename"));
	return (json_pack("{s:s, s:{s:s, s:s}}", "type", "file", "file",
	    "filename", name != NULL ? name : "document", "file_data", data));
}

/* A function_call joins the assistant message before it, or starts one. */
static int
resp_call(struct resp_req *rq, const json_t *it, const char *where)
{
	const json_t	*id, *name, *args;
	json_t		*calls;

	id = json_object_get(it, "call_id");
	name = json_object_get(it, "name");
	args = json_object_get(it, "arguments");
	if (!json_is_string(id) || !json_is_string(name) ||
	    !json_is_string(args))
		return (resp_bad(rq, "invalid_value", where, "%s: a "
		    "function_call needs call_id, name and arguments strings",
		    where));
	if (rq->asst == NULL) {
		rq->asst = json_pack("{s:s, s:n}", "role", "assistant",
		    "content");
		if (rq->asst == NULL ||
		    json_array_append_new(rq->msgs, rq->asst) != 0)
			return (0);
	}
	if ((calls = json_object_get(rq->asst, "tool_calls")) == NULL) {
		if ((calls = json_array()) == NULL ||
		    json_object_set_new(rq->asst, "tool_calls", calls) != 0)
			return (0);
	}
	return (json_array_append_new(calls, json_pack(
	    "{s:O, s:s, s:{s:O, s:O}}", "id", id, "type", "function",
	    "function", "name", name, "arguments", args)) == 0);
}

static int
resp_call_output(struct resp_req *rq, const json_t *it, const char *where)
{
	struct router_xbuf	 b = { NULL, 0, 0 };
	const json_t		*id, *output;
	char			 at[96];
	int			 ok;

	rq->asst = NULL;
	id = json_object_get(it, "call_id");
	output = json_object_get(it, "output");
	if (!json_is_string(id))
		return (resp_bad(rq, "invalid_value", where, "%s.call_id must "
		    "be a string", where));
	snprintf(at, sizeof(at), "%s.output", where);
	if (json_is_string(output))
		return (json_array_append_new(rq->msgs, json_pack(
		    "{s:s, s:O, s:O}", "role", "tool", "tool_call_id", id,
		    "content", output)) == 0);
	if (!json_is_array(output))
		return (resp_bad(rq, "invalid_value", at, "%s must be a "
		    "string or an array of text parts", at));
	if (!resp_text_of(rq, output, at, &b))
		return (0);
	ok = json_array_append_new(rq->msgs, json_pack("{s:s, s:O, s:s}",
	    "role", "tool", "tool_call_id", id, "content",
	    b.data != NULL ? b.data : "")) == 0;
	router_xbuf_free(&b);
	return (ok);
}

/* Flat function tools -> chat tools; any other tool type is refused. */
static int
resp_tools(json_t *out, const json_t *req, struct resp_req *rq)
{
	const json_t	*tools, *t, *v;
	const char	*type;
	json_t		*o, *fn;
	char		 at[64];
	size_t		 i;

	tools = json_object_get(req, "tools");
	if (tools == NULL || json_is_null(tools))
		return (resp_tool_choice(out, req, rq));
	if (!json_is_array(tools))
		return (resp_bad(rq, "invalid_value", "tools", "tools must be "
		    "an array"));
	if ((o = json_array()) == NULL ||
	    json_object_set_new(out, "tools", o) != 0)
		return (0);
	json_array_foreach(tools, i, t) {
		type = json_string_value(json_object_get(t, "type"));
		snprintf(at, sizeof(at), "tools[%zu].type", i);
		if (type == NULL || strcmp(type, "function"))
			return (resp_bad(rq, "unsupported_tool", at, "tool "
			    "type '%.48s' is not supported: only function "
			    "tools are", type != NULL ? type : ""));
		snprintf(at, sizeof(at), "tools[%zu].name", i);
		v = json_object_get(t, "name");
		if (!json_is_string(v) || json_string_length(v) == 0)
			return (resp_bad(rq, "missing_field", at, "%s is "
			    "required", at));
		if ((fn = json_pack("{s:O}", "name", v)) == NULL ||
		    json_array_append_new(o, json_pack("{s:s, s:o}", "type",
		    "function", "function", fn)) != 0)
			return (0);
		v = json_object_get(t, "description");
		if (json_is_string(v))
			json_object_set(fn, "description", (json_t *)v);
		v = json_object_get(t, "parameters");
		if (json_is_object(v))
			json_object_set(fn, "parameters", (json_t *)v);
		v = json_object_get(t, "strict");
		if (json_is_boolean(v))
			json_object_set(fn, "strict", (json_t *)v);
	}
	if (json_array_size(o) == 0)
		json_object_del(out, "tools");
	return (resp_tool_choice(out, req, rq));
}

static int
resp_tool_choice(json_t *out, const json_t *req, struct resp_req *rq)
{
	const json_t	*tc, *v;
	const char	*s, *type, *name;

	v = json_object_get(req, "parallel_tool_calls");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return (resp_bad(rq, "invalid_value", "parallel_tool_calls",
		    "parallel_tool_calls must be a boolean"));
	if (json_is_boolean(v) && json_object_get(out, "tools") != NULL)
		json_object_set(out, "parallel_tool_calls", (json_t *)v);

	tc = json_object_get(req, "tool_choice");
	if (tc == NULL || json_is_null(tc))
		return (1);
	if ((s = json_string_value(tc)) != NULL) {
		if (strcmp(s, "none") && strcmp(s, "auto") &&
		    strcmp(s, "required"))
			return (resp_bad(rq, "invalid_value", "tool_choice",
			    "tool_choice must be none, auto, required or a "
			    "function"));
		if (json_object_get(out, "tools") != NULL)
			json_object_set(out, "tool_choice", (json_t *)tc);
		return (1);
	}
	type = json_string_value(json_object_get(tc, "type"));
	name = json_string_value(json_object_get(tc, "name"));
	if (type == NULL || strcmp(type, "function"))
		return (resp_bad(rq, "unsupported_tool", "tool_choice.type",
		    "tool_choice type '%.48s' is not supported",
		    type != NULL ? type : ""));
	if (name == NULL)
		return (resp_bad(rq, "missing_field", "tool_choice.name",
		    "tool_choice.name is required"));
	if (json_object_get(out, "tools") == NULL)
		return (resp_bad(rq, "invalid_value", "tool_choice",
		    "tool_choice names a function but tools has none"));
	return (json_object_set_new(out, "tool_choice", json_pack(
	    "{s:s, s:{s:s}}", "type", "function", "function", "name",
	    name)) == 0);
}

static int
resp_options(json_t *out, const json_t *req, struct resp_req *rq)
{
	static const char *const	 numbers[] = { "temperature", "top_p",
					    NULL };
	const json_t			*v, *e;
	size_t				 i;

	for (i = 0; numbers[i] != NULL; i++) {
		v = json_object_get(req, numbers[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_number(v))
			return (resp_bad(rq, "invalid_value", numbers[i],
			    "%s must be a number", numbers[i]));
		json_object_set(out, numbers[i], (json_t *)v);
	}

	v = json_object_get(req, "max_output_tokens");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return (resp_bad(rq, "invalid_value",
			    "max_output_tokens", "max_output_tokens must be a "
			    "positive integer"));
		json_object_set(out, "max_completion_tokens", (json_t *)v);
	}

	v = json_object_get(req, "reasoning");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v))
			return (resp_bad(rq, "invalid_value", "reasoning",
			    "reasoning must be an object"));
		e = json_object_get(v, "effort");
		if (e != NULL && !json_is_null(e) && !json_is_string(e))
			return (resp_bad(rq, "invalid_value",
			    "reasoning.effort", "reasoning.effort must be a "
			    "string"));
		if (json_is_string(e))
			json_object_set(out, "reasoning_effort", (json_t *)e);
	}

	v = json_object_get(req, "text");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v))
			return (resp_bad(rq, "invalid_value", "text", "text "
			    "must be an object"));
		if (!resp_format(out, json_object_get(v, "format"), rq))
			return (0);
	}

	v = json_object_get(req, "stream");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return (resp_bad(rq, "invalid_value", "stream", "stream must "
		    "be a boolean"));
	if (json_is_true(v)) {
		json_object_set_new(out, "stream", json_true());
		json_object_set_new(out, "stream_options", json_pack("{s:b}",
		    "include_usage", 1));
	}

	v = json_object_get(req, "store");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return (resp_bad(rq, "invalid_value", "store", "store must be "
		    "a boolean"));
	v = json_object_get(req, "metadata");
	if (v != NULL && !json_is_null(v) && !json_is_object(v))
		return (resp_bad(rq, "invalid_value", "metadata", "metadata "
		    "must be an object"));
	return (1);
}

/* text.format -> response_format (flat json_schema nests). */
static int
resp_format(json_t *out, const json_t *f, struct resp_req *rq)
{
	const json_t	*name, *schema, *v;
	const char	*type;
	json_t		*js;

	if (f == NULL || json_is_null(f))
		return (1);
	type = json_string_value(json_object_get(f, "type"));
	if (type != NULL && !strcmp(type, "text"))
		return (1);
	if (type != NULL && !strcmp(type, "json_object"))
		return (json_object_set_new(out, "response_format",
		    json_pack("{s:s}", "type", "json_object")) == 0);
	if (type == NULL || strcmp(type, "json_schema"))
		return (resp_bad(rq, "invalid_value", "text.format.type",
		    "text.format.type must be text, json_object or "
		    "json_schema"));
	name = json_object_get(f, "name");
	schema = json_object_get(f, "schema");
	if (!json_is_string(name) || json_string_length(name) == 0)
		return (resp_bad(rq, "missing_field", "text.format.name",
		    "text.format.name is required"));
	if (!json_is_object(schema))
		return (resp_bad(rq, "missing_field", "text.format.schema",
		    "text.format.schema must be an object"));
	if ((js = json_pack("{s:O, s:O}", "name", name, "schema", schema)) ==
	    NULL)
		return (0);
	v = json_object_get(f, "description");
	if (json_is_string(v))
		json_object_set(js, "description", (json_t *)v);
	v = json_object_get(f, "strict");
	if (json_is_boolean(v))
		json_object_set(js, "strict", (json_t *)v);
	return (json_object_set_new(out, "response_format", json_pack(
	    "{s:s, s:o}", "type", "json_schema", "json_schema", js)) == 0);
}

json_t *
router_responses_input_items(const json_t *req, const json_t *prior)
{
	const json_t	*in, *it, *ref;
	const char	*type, *id;
	json_t		*items;
	size_t		 i;

	in = json_object_get(req, "input");
	if (json_is_string(in))
		return (json_pack("[{s:s, s:s, s:[{s:s, s:O}]}]", "type",
		    "message", "role", "user", "content", "type",
		    "input_text", "text", in));
	if ((items = json_array()) == NULL)
		return (NULL);
	json_array_foreach(in, i, it) {
		type = json_string_value(json_object_get(it, "type"));
		id = json_string_value(json_object_get(it, "id"));
		ref = NULL;
		if (type != NULL && !strcmp(type, "item_reference") &&
		    id != NULL)
			ref = json_object_get(json_object_get(prior, "items"),
			    id);
		if (json_array_append_new(items, json_deep_copy(
		    json_is_object(ref) ? ref : it)) != 0) {
			json_decref(items);
			return (NULL);
		}
	}
	return (items);
}

/* Answers: items and the Response object. */

/* "<prefix><the response id's hex>_<index>", e.g. "msg_4f2a…_1". */
static void
resp_item_id(char *buf, size_t len, const char *prefix, const char *seed,
    size_t index)
{
	if (seed == NULL)
		seed = "";
	if (!strncmp(seed, "resp_", 5))
		seed += 5;
	/* Ids made by router_responses_make_id fit; others are cut. */
	if (snprintf(buf, len, "%s%s_%zu", prefix, seed, index) < 0)
		router_xlate_copy(buf, len, prefix);
}

static json_t *
resp_reasoning_item(const char *id, const char *text)
{
	if (text == NULL)
		return (json_pack("{s:s, s:s, s:[]}", "type", "reasoning",
		    "id", id, "summary"));
	return (json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "type", "reasoning",
	    "id", id, "summary", "type", "summary_text", "text", text));
}

static json_t *
resp_message_item(const char *id, const char *status, const char *text)
{
	if (text == NULL)
		return (json_pack("{s:s, s:s, s:s, s:s, s:[]}", "type",
		    "message", "id", id, "status", status, "role",
		    "assistant", "content"));
	return (json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:[]}]}",
	    "type", "message", "id", id, "status", status, "role",
	    "assistant", "content", "type", "output_text", "text", text,
	    "annotations"));
}

static json_t *
resp_call_item(const char *id, const char *status, const char *call_id,
    const char *name, const char *args)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type",
	    "function_call", "id", id, "status", status, "call_id", call_id,
	    "name", name, "arguments", args));
}

/* req[key] when given (not null), else def; a new reference. */
static json_t *
resp_echo(const json_t *req, const char *key, json_t *def)
{
	json_t	*v;

	v = json_object_get(req, key);
	if (v == NULL || json_is_null(v))
		return (def);
	json_decref(def);
	return (json_incref(v));
}

/*
 * A Response with no output yet: what the request asked echoed back
 * (the SDKs read these fields of a Response), status as given.
 */
static json_t *
resp_shell(const char *id, const char *model, int64_t created,
    const char *status, const json_t *req)
{
	return (json_pack("{s:s, s:s, s:I, s:s, s:n, s:n, s:o, s:s, s:[], "
	    "s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:n}",
	    "id", id, "object", "response", "created_at", (json_int_t)created,
	    "status", status, "error", "incomplete_details",
	    "instructions", resp_echo(req, "instructions", json_null()),
	    "model", model, "output",
	    "parallel_tool_calls", resp_echo(req, "parallel_tool_calls",
	    json_true()),
	    "previous_response_id", resp_echo(req, "previous_response_id",
	    json_null()),
	    "reasoning", resp_echo(req, "reasoning", json_pack("{s:n, s:n}",
	    "effort", "summary")),
	    "store", resp_echo(req, "store", json_true()),
	    "temperature", resp_echo(req, "temperature", json_null()),
	    "text", resp_echo(req, "text", json_pack("{s:{s:s}}", "format",
	    "type", "text")),
	    "tool_choice", resp_echo(req, "tool_choice", json_string("auto")),
	    "tools", resp_echo(req, "tools", json_array()),
	    "top_p", resp_echo(req, "top_p", json_null()),
	    "max_output_tokens", resp_echo(req, "max_output_tokens",
	    json_null()),
	    "metadata", resp_echo(req, "metadata", json_object()),
	    "usage"));
}

static json_t *
resp_usage_json(const struct router_usage *u)
{
	return (json_pack("{s:I, s:{s:I}, s:I, s:{s:I}, s:I}",
	    "input_tokens", (json_int_t)u->prompt_tokens,
	    "input_tokens_details", "cached_tokens",
	    (json_int_t)u->cached_tokens,
	    "output_tokens", (json_int_t)u->completion_tokens,
	    "output_tokens_details", "reasoning_tokens",
	    (json_int_t)u->reasoning_tokens,
	    "total_tokens", (json_int_t)(u->prompt_tokens +
	    u->completion_tokens)));
}

/* The incomplete_details reason of a chat finish_reason, or NULL. */
static const char *
resp_incomplete(const char *finish)
{
	if (finish == NULL)
		return (NULL);
	if (!strcmp(finish, "length"))
		return ("max_output_tokens");
	if (!strcmp(finish, "content_filter"))
		return ("content_filter");
	return (NULL);
}

/*
 * A shell made whole: its output (stolen), usage (stolen) and the
 * status the finish reason gives. Returns 0 on allocation failure.
 */
static int
resp_finish(json_t *resp, const char *finish, json_t *output,
    json_t *usage)
{
	const char	*why;
	int		 ok;

	why = resp_incomplete(finish);
	ok = resp != NULL && output != NULL && usage != NULL &&
	    json_object_set(resp, "output", output) == 0 &&
	    json_object_set(resp, "usage", usage) == 0;
	json_decref(output);
	json_decref(usage);
	if (ok && why != NULL) {
		ok = json_object_set_new(resp, "status",
		    json_string("incomplete")) == 0 &&
		    json_object_set_new(resp, "incomplete_details",
		    json_pack("{s:s}", "reason", why)) == 0;
	}
	return (ok);
}

json_t *
router_responses_from_openai(const json_t *comp,
    const struct router_usage *usage, const char *id, const char *model,
    int64_t created, const json_t *req)
{
	struct router_usage	 u;
	const json_t		*choice, *msg, *v, *c, *fn;
	const char		*call_id, *name, *args;
	json_t			*output, *resp;
	char			 iid[ROUTER_RESPONSES_ID_MAX];
	char			*text;
	size_t			 i;

	choice = json_array_get(json_object_get(comp, "choices"), 0);
	msg = json_object_get(choice, "message");
	if (!json_is_object(msg))
		return (NULL);
	if ((output = json_array()) == NULL)
		return (NULL);

	v = json_object_get(msg, "reasoning");
	if (!json_is_string(v))
		v = json_object_get(msg, "reasoning_content");
	if (json_is_string(v) && json_string_length(v) > 0) {
		resp_item_id(iid, sizeof(iid), "rs_", id,
		    json_array_size(output));
		json_array_append_new(output, resp_reasoning_item(iid,
		    json_string_value(v)));
	}
	text = router_xlate_content_text(json_object_get(msg, "content"),
	    "");
	if (text != NULL && *text != '\0') {
		resp_item_id(iid, sizeof(iid), "msg_", id,
		    json_array_size(output));
		json_array_append_new(output, resp_message_item(iid,
		    "completed", text));
	}
	free(text);
	json_array_foreach(json_object_get(msg, "tool_calls"), i, c) {
		if (json_array_size(output) >= ROUTER_RESPONSES_ITEMS_MAX)
			break;
		fn = json_object_get(c, "function");
		resp_item_id(iid, sizeof(iid), "fc_", id,
		    json_array_size(output));
		call_id = json_string_value(json_object_get(c, "id"));
		name = json_string_value(json_object_get(fn, "name"));
		args = json_string_value(json_object_get(fn, "arguments"));
		json_array_append_new(output, resp_call_item(iid, "completed",
		    call_id != NULL ? call_id : iid, name != NULL ? name : "",
		    args != NULL ? args : ""));
	}

	memset(&u, 0, sizeof(u));
	if (usage != NULL)
		u = *usage;
	else
		(void)router_usage_parse(json_object_get(comp, "usage"), &u);
	resp = resp_shell(id, model, created, "completed", req);
	if (!resp_finish(resp, json_string_value(json_object_get(choice,
	    "finish_reason")), output, resp_usage_json(&u))) {
		json_decref(resp);
		return (NULL);
	}
	return (resp);
}

void
router_responses_make_id(const char *prefix, const unsigned char *rnd,
    size_t len, char *buf, size_t buflen)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, n;

	if (buflen == 0)
		return;
	router_xlate_copy(buf, buflen, prefix != NULL ? prefix : "resp_");
	n = strlen(buf);
	for (i = 0; i < len && n + 2 < buflen; i++) {
		buf[n++] = hex[rnd[i] >> 4];
		buf[n++] = hex[rnd[i] & 0x0f];
	}
	buf[n] = '\0';
}

/* Streaming. */

int
router_responses_stream_init(struct router_responses_stream *rs,
    const char *id, const char *model, int64_t created, const json_t *req)
{
	memset(rs, 0, sizeof(*rs));
	rs->phase = ROUTER_RESPONSES_NEW;
	router_xlate_copy(rs->id, sizeof(rs->id), id);
	router_xlate_copy(rs->model, sizeof(rs->model), model);
	rs->created = created;
	rs->request = req;
	rs->output = json_array();
	return (rs->output != NULL);
}

void
router_responses_stream_free(struct router_responses_stream *rs)
{
	json_decref(rs->output);
	rs->output = NULL;
	router_xbuf_free(&rs->text);
}

/*
 * "event: <type>\ndata: {"type":<type>,<obj's members>,
 * "sequence_number":n}\n\n" (obj stolen).
 */
static int
resp_emit(struct router_responses_stream *rs, enum resp_ev ev, json_t *obj,
    struct router_xbuf *out)
{
	json_t	*e;
	char	*s;
	int	 ok;

	if (obj == NULL)
		return (0);
	e = json_pack("{s:s}", "type", resp_ev_names[ev]);
	ok = e != NULL && json_object_update(e, obj) == 0 &&
	    json_object_set_new(e, "sequence_number",
	    json_integer(rs->seq)) == 0;
	json_decref(obj);
	s = ok ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	if (s == NULL)
		return (0);
	rs->seq++;
	ok = router_xbuf_str(out, "event: ") &&
	    router_xbuf_str(out, resp_ev_names[ev]) &&
	    router_xbuf_str(out, "\ndata: ") && router_xbuf_str(out, s) &&
	    router_xbuf_str(out, "\n\n");
	free(s);
	return (ok);
}

/* The stream's Response so far: status given, output a copy. */
static json_t *
resp_stream_response(struct router_responses_stream *rs, const char *status)
{
	json_t	*resp;

	resp = resp_shell(rs->id, rs->model, rs->created, status,
	    rs->request);
	if (resp != NULL && json_object_set_new(resp, "output",
	    json_deep_copy(rs->output)) != 0) {
		json_decref(resp);
		return (NULL);
	}
	return (resp);
}

int
router_responses_stream_start(struct router_responses_stream *rs,
    struct router_xbuf *out)
{
	if (rs->phase != ROUTER_RESPONSES_NEW)
		return (1);
	rs->phase = ROUTER_RESPONSES_OPEN;
	return (resp_emit(rs, EV_CREATED, json_pack("{s:o}", "response",
	    resp_stream_response(rs, "in_progress")), out) &&
	    resp_emit(rs, EV_IN_PROGRESS, json_pack("{s:o}", "response",
	    resp_stream_response(rs, "in_progress")), out));
}

int
router_responses_stream_ping(struct router_xbuf *out)
{
	return (router_xbuf_str(out, ": keepalive\n\n"));
}

/* Opens item (stolen) of kind at the end of output, closing the open one. */
static int
resp_open(struct router_responses_stream *rs, int kind, json_t *item,
    struct router_xbuf *out)
{
	const char	*id;
	int		 idx;

	if (item == NULL)
		return (0);
	if (!resp_close(rs, out)) {
		json_decref(item);
		return (0);
	}
	if (json_array_append_new(rs->output, item) != 0)
		return (0);
	idx = (int)json_array_size(rs->output) - 1;
	rs->open_item = idx + 1;
	rs->open_kind = kind;
	id = json_string_value(json_object_get(item, "id"));
	if (!resp_emit(rs, EV_ITEM_ADDED, json_pack("{s:i, s:O}",
	    "output_index", idx, "item", item), out))
		return (0);
	if (kind == KIND_REASONING)
		return (resp_emit(rs, EV_SUMMARY_PART_ADDED, json_pack(
		    "{s:s, s:i, s:i, s:{s:s, s:s}}", "item_id", id,
		    "output_index", idx, "summary_index", 0, "part", "type",
		    "summary_text", "text", ""), out));
	if (kind == KIND_MESSAGE)
		return (resp_emit(rs, EV_PART_ADDED, json_pack(
		    "{s:s, s:i, s:i, s:{s:s, s:s, s:[]}}", "item_id", id,
		    "output_index", idx, "content_index", 0, "part", "type",
		    "output_text", "text", "", "annotations"), out));
	return (1);
}

/* Closes the open item: its text goes in, its *.done events out. */
static int
resp_close(struct router_responses_stream *rs, struct router_xbuf *out)
{
	json_t		*item, *part;
	const char	*id, *text;
	int		 idx, kind, ok;

	if (rs->open_item == 0)
		return (1);
	idx = rs->open_item - 1;
	kind = rs->open_kind;
	rs->open_item = 0;
	rs->open_kind = 0;
	item = json_array_get(rs->output, idx);
	id = json_string_value(json_object_get(item, "id"));
	text = rs->text.data != NULL ? rs->text.data : "";
	ok = 0;
	switch (kind) {
	case KIND_REASONING:
		part = json_pack("{s:s, s:s}", "type", "summary_text", "text",
		    text);
		ok = part != NULL && json_object_set_new(item, "summary",
		    json_pack("[O]", part)) == 0 &&
		    resp_emit(rs, EV_SUMMARY_DONE, json_pack(
		    "{s:s, s:i, s:i, s:s}", "item_id", id, "output_index", idx,
		    "summary_index", 0, "text", text), out) &&
		    resp_emit(rs, EV_SUMMARY_PART_DONE, json_pack(
		    "{s:s, s:i, s:i, s:O}", "item_id", id, "output_index", idx,
		    "summary_index", 0, "part", part), out);
		json_decref(part);
		break;
	case KIND_MESSAGE:
		part = json_pack("{s:s, s:s, s:[]}", "type", "output_text",
		    "text", text, "annotations");
		ok = part != NULL && json_object_set_new(item, "content",
		    json_pack("[O]", part)) == 0 &&
		    json_object_set_new(item, "status",
		    json_string("completed")) == 0 &&
		    resp_emit(rs, EV_TEXT_DONE, json_pack(
		    "{s:s, s:i, s:i, s:s}", "item_id", id, "output_index", idx,
		    "content_index", 0, "text", text), out) &&
		    resp_emit(rs, EV_PART_DONE, json_pack(
		    "{s:s, s:i, s:i, s:O}", "item_id", id, "output_index", idx,
		    "content_index", 0, "part", part), out);
		json_decref(part);
		break;
	case KIND_CALL:
		ok = json_object_set_new(item, "arguments",
		    json_string(text)) == 0 &&
		    json_object_set_new(item, "status",
		    json_string("completed")) == 0 &&
		    resp_emit(rs, EV_ARGS_DONE, json_pack(
		    "{s:s, s:i, s:s, s:O}", "item_id", id, "output_index", idx,
		    "arguments", text, "name", json_object_get(item, "name")),
		    out);
		break;
	}
	router_xbuf_free(&rs->text);
	return (ok && resp_emit(rs, EV_ITEM_DONE, json_pack("{s:i, s:O}",
	    "output_index", idx, "item", item), out));
}

/* A text delta for the open item of kind, opening one when needed. */
static int
resp_delta(struct router_responses_stream *rs, int kind, const char *delta,
    struct router_xbuf *out)
{
	char		 iid[ROUTER_RESPONSES_ID_MAX];
	const char	*id;
	size_t		 idx;

	if (rs->open_kind != kind) {
		idx = json_array_size(rs->output);
		if (idx >= ROUTER_RESPONSES_ITEMS_MAX)
			return (1);	/* beyond what an answer carries */
		resp_item_id(iid, sizeof(iid), kind == KIND_REASONING ?
		    "rs_" : "msg_", rs->id, idx);
		if (!resp_open(rs, kind, kind == KIND_REASONING ?
		    resp_reasoning_item(iid, NULL) :
		    resp_message_item(iid, "in_progress", NULL), out))
			return (0);
	}
	if (!router_xbuf_str(&rs->text, delta))
		return (0);
	idx = rs->open_item - 1;
	id = json_string_value(json_object_get(json_array_get(rs->output,
	    idx), "id"));
	if (kind == KIND_REASONING)
		return (resp_emit(rs, EV_SUMMARY_DELTA, json_pack(
		    "{s:s, s:i, s:i, s:s}", "item_id", id, "output_index",
		    (int)idx, "summary_index", 0, "delta", delta), out));
	return (resp_emit(rs, EV_TEXT_DELTA, json_pack("{s:s, s:i, s:i, s:s}",
	    "item_id", id, "output_index", (int)idx, "content_index", 0,
	    "delta", delta), out));
}

/*
 * Arguments for a call whose item was already closed (an upstream that
 * interleaves parallel calls): kept in the item for the terminal event,
 * since no delta may follow its output_item.done.
 */
static int
resp_late_args(struct router_responses_stream *rs, int idx, const char *args)
{
	json_t	*item;
	char	*s;
	int	 ok;

	item = json_array_get(rs->output, idx);
	s = router_xlate_printf("%s%s", json_string_value(json_object_get(item,
	    "arguments")), args);
	if (s == NULL)
		return (0);
	ok = json_object_set_new(item, "arguments", json_string(s)) == 0;
	free(s);
	return (ok);
}

static int
resp_tool_delta(struct router_responses_stream *rs, const json_t *tc,
    size_t pos, struct router_xbuf *out)
{
	char		 iid[ROUTER_RESPONSES_ID_MAX], gen[ROUTER_RESPONSES_ID_MAX];
	const json_t	*fn;
	const char	*id, *name, *args;
	json_int_t	 k;
	size_t		 idx;

	k = router_xlate_int(tc, "index", (json_int_t)pos);
	if (k < 0 || k >= ROUTER_RESPONSES_ITEMS_MAX)
		return (1);	/* beyond what an answer carries: dropped */
	fn = json_object_get(tc, "function");
	if (rs->tool_item[k] == 0) {
		idx = json_array_size(rs->output);
		if (idx >= ROUTER_RESPONSES_ITEMS_MAX)
			return (1);
		resp_item_id(iid, sizeof(iid), "fc_", rs->id, idx);
		resp_item_id(gen, sizeof(gen), "call_", rs->id, idx);
		id = json_string_value(json_object_get(tc, "id"));
		name = json_string_value(json_object_get(fn, "name"));
		if (!resp_open(rs, KIND_CALL, resp_call_item(iid,
		    "in_progress", id != NULL ? id : gen,
		    name != NULL ? name : "", ""), out))
			return (0);
		rs->tool_item[k] = rs->open_item;
		rs->ntools++;
	}
	args = json_string_value(json_object_get(fn, "arguments"));
	if (args == NULL || *args == '\0')
		return (1);
	idx = rs->tool_item[k] - 1;
	if (rs->open_item != rs->tool_item[k])
		return (resp_late_args(rs, (int)idx, args));
	if (!router_xbuf_str(&rs->text, args))
		return (0);
	return (resp_emit(rs, EV_ARGS_DELTA, json_pack("{s:s, s:i, s:s}",
	    "item_id", json_string_value(json_object_get(json_array_get(
	    rs->output, idx), "id")), "output_index", (int)idx, "delta", args),
	    out));
}

int
router_responses_stream_chunk(struct router_responses_stream *rs,
    const json_t *chunk, struct router_xbuf *out)
{
	const json_t	*choice, *delta, *v, *tc;
	const char	*finish;
	size_t		 i;

	if (!json_is_object(chunk))
		return (0);
	if (rs->phase == ROUTER_RESPONSES_ENDED)
		return (1);
	if (!router_responses_stream_start(rs, out))
		return (0);

	v = json_object_get(chunk, "usage");
	if (json_is_object(v))
		(void)router_usage_parse(v, &rs->usage);

	choice = NULL;
	json_array_foreach(json_object_get(chunk, "choices"), i, v) {
		if (router_xlate_int(v, "index", 0) == 0) {
			choice = v;
			break;
		}
	}
	if (choice == NULL)
		return (1);
	delta = json_object_get(choice, "delta");

	v = json_object_get(delta, "reasoning");
	if (!json_is_string(v))
		v = json_object_get(delta, "reasoning_content");
	if (json_is_string(v) && json_string_length(v) > 0 &&
	    !resp_delta(rs, KIND_REASONING, json_string_value(v), out))
		return (0);
	v = json_object_get(delta, "content");
	if (json_is_string(v) && json_string_length(v) > 0 &&
	    !resp_delta(rs, KIND_MESSAGE, json_string_value(v), out))
		return (0);
	json_array_foreach(json_object_get(delta, "tool_calls"), i, tc) {
		if (!resp_tool_delta(rs, tc, i, out))
			return (0);
	}

	finish = json_string_value(json_object_get(choice, "finish_reason"));
	if (finish != NULL)
		router_xlate_copy(rs->finish, sizeof(rs->finish), finish);
	return (1);
}

json_t *
router_responses_stream_result(struct router_responses_stream *rs,
    const struct router_usage *usage, struct router_xbuf *out)
{
	json_t	*resp;

	if (!router_responses_stream_start(rs, out) || !resp_close(rs, out))
		return (NULL);
	resp = resp_shell(rs->id, rs->model, rs->created, "completed",
	    rs->request);
	if (!resp_finish(resp, rs->finish, json_deep_copy(rs->output),
	    resp_usage_json(usage != NULL ? usage : &rs->usage))) {
		json_decref(resp);
		return (NULL);
	}
	return (resp);
}

int
router_responses_stream_finish(struct router_responses_stream *rs,
    const json_t *resp, struct router_xbuf *out)
{
	const char	*status;
	enum resp_ev	 ev;

	if (rs->phase == ROUTER_RESPONSES_ENDED)
		return (1);
	if (!router_responses_stream_start(rs, out))
		return (0);
	status = json_string_value(json_object_get(resp, "status"));
	if (status != NULL && !strcmp(status, "incomplete"))
		ev = EV_INCOMPLETE;
	else if (status != NULL && !strcmp(status, "failed"))
		ev = EV_FAILED;
	else
		ev = EV_COMPLETED;
	rs->phase = ROUTER_RESPONSES_ENDED;
	return (resp_emit(rs, ev, json_pack("{s:O}", "response", resp), out));
}

int
router_responses_stream_fail(struct router_responses_stream *rs,
    const char *code, const char *message, struct router_xbuf *out)
{
	json_t	*resp;

	if (rs->phase == ROUTER_RESPONSES_ENDED)
		return (1);
	if (!router_responses_stream_start(rs, out) || !resp_close(rs, out))
		return (0);
	rs->phase = ROUTER_RESPONSES_ENDED;
	resp = resp_stream_response(rs, "failed");
	if (resp == NULL || json_object_set_new(resp, "error", json_pack(
	    "{s:s, s:s}", "code", code != NULL ? code : "server_error",
	    "message", message != NULL ? message : "upstream error")) != 0 ||
	    json_object_set_new(resp, "usage",
	    resp_usage_json(&rs->usage)) != 0) {
		json_decref(resp);
		return (0);
	}
	return (resp_emit(rs, EV_FAILED, json_pack("{s:o}", "response", resp),
	    out));
}
