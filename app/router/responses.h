/*
 * The Responses surface, POST /v1/responses, over any family: pure
 * translation between OpenAI's Responses API and the router's internal
 * OpenAI chat shapes, as messages.h does for Anthropic's Messages API.
 * Storage (previous_response_id, item_reference, GET/DELETE) is
 * respstore.c's; this file only sees items already resolved. The
 * handler (router core) does the rest:
 *
 *	input = what router_responses_refs() named, looked up and inlined
 *	oreq = router_responses_request_to_openai(body, prior, &status,
 *	    &code, err, len);
 *	... route oreq like a /v1/chat/completions request ...
 *	whole:	 resp = router_responses_from_openai(completion, &usage,
 *		     id, model, created, body);
 *	stream:	 struct router_responses_stream rs;
 *		 router_responses_stream_init(&rs, id, model, created,
 *		     body);
 *		 router_responses_stream_start(&rs, &out);	(created,
 *							 in_progress)
 *		 for each OpenAI chunk the family produced:
 *			router_responses_stream_chunk(&rs, chunk, &out);
 *		 at the end: resp = router_responses_stream_result(&rs,
 *		     &usage, &out);	(the full response, for storing)
 *		     router_responses_stream_finish(&rs, resp, &out);
 *		 on an upstream failure after bytes went out:
 *			router_responses_stream_fail(&rs, code, msg, &out);
 *		 send out.data/out.len as they come; router_xbuf_free(&out);
 *		 router_responses_stream_free(&rs).
 *
 * Every event is "event: <type>\ndata: <json>\n\n" with a rising
 * sequence_number from 0; only the documented event types, in the
 * documented order (created, in_progress, then per output item added ...
 * done, then exactly one terminal event: completed, incomplete or
 * failed). No [DONE]. Output order: reasoning, message (skipped when
 * empty), then one function_call per tool call.
 *
 * Pure C over jansson; no Kore types.
 */

#ifndef ROUTER_RESPONSES_H
#define ROUTER_RESPONSES_H

#include <stdint.h>

#include <jansson.h>

#include "router/provider.h"
#include "router/xlate.h"

#define ROUTER_RESPONSES_ID_MAX		64	/* "resp_" + 48 hex, "msg_…" */
#define ROUTER_RESPONSES_ITEMS_MAX	64	/* output items of one answer */
#define ROUTER_RESPONSES_REFS_MAX	256	/* item_reference per request */

/*
 * Item ids a request refers to, for the store to look up before
 * translation: previous_response_id (prev, "" when absent) and the ids
 * of every {"type":"item_reference","id"} in input. Returns 0 with
 * *status 400, a message in err and the offending param in *param when
 * the request is malformed in a way that stops the lookup (input not a
 * string or array, a reference without a string id, more than
 * ROUTER_RESPONSES_REFS_MAX references). *param points to a static
 * buffer, valid until the next call of this file's functions.
 */
struct router_responses_refs {
	char	prev[ROUTER_RESPONSES_ID_MAX];
	int	nids;
	char	ids[ROUTER_RESPONSES_REFS_MAX][ROUTER_RESPONSES_ID_MAX];
};

int	router_responses_refs(const json_t *, struct router_responses_refs *,
	    int *, const char **, char *, size_t);

/*
 * A Responses request -> an OpenAI chat request (a new object; model
 * copied as given, for the router to resolve). prior is the resolved
 * context, or NULL:
 *	{"previous": [items...],	the previous response chain's input
 *					and output items, oldest first
 *	 "items": {"<id>": item, ...}}	item_reference id -> stored item
 * Maps instructions (system, first; not inherited), input (string or
 * items: message with any role incl. developer, input_text,
 * input_image, input_file, output_text, refusal, function_call,
 * function_call_output, reasoning (dropped: the chat shape has no place
 * for it), item_reference (replaced by prior's item), items without
 * "type", output items sent back with id and status),
 * tools (function only; anything else 400 code "unsupported_tool"
 * param "tools[i].type"), tool_choice, parallel_tool_calls,
 * max_output_tokens (-> max_completion_tokens), temperature, top_p,
 * reasoning.effort (-> reasoning_effort), text.format (json_schema ->
 * response_format), and stream (which also asks for usage in the
 * stream). store, previous_response_id, include, truncation,
 * service_tier, metadata, prompt_cache_key, prompt_cache_retention,
 * user, safety_identifier, stream_options and background false are
 * dropped; background true and any other field are refused. On a bad
 * request: NULL, *status 400, *code ("invalid_value", "missing_field",
 * "unknown_parameter", "unsupported_value", "unsupported_tool",
 * "previous_response_not_found" when a reference is not in prior, ...),
 * *param (a static buffer, valid until the next call, or NULL), and a
 * message in err. On allocation failure: NULL with *status 500.
 */
json_t	*router_responses_request_to_openai(const json_t *, const json_t *,
	    int *, const char **, const char **, char *, size_t);

/*
 * The input items of a request as they will be stored (a new array:
 * a string input becomes one user message item; item_reference items
 * are kept as references resolved through prior when present). Used by
 * the store to keep the conversation for a later previous_response_id.
 */
json_t	*router_responses_input_items(const json_t *, const json_t *);

/*
 * An OpenAI chat.completion -> a Response object (status completed, or
 * incomplete with incomplete_details for length / content_filter),
 * output items with fresh ids made from id_seed (the response id), and
 * usage {input_tokens (incl. cached), input_tokens_details
 * {cached_tokens}, output_tokens, output_tokens_details
 * {reasoning_tokens}, total_tokens}. usage may be NULL: then the
 * completion's usage is read. id, model and created_at as given. NULL
 * only when the completion has no choice.
 */
json_t	*router_responses_from_openai(const json_t *,
	    const struct router_usage *, const char *, const char *, int64_t,
	    const json_t *);

/*
 * Stream translation state. Zero-initialised by _init; the items are
 * built as chunks come and kept for the terminal event.
 */
enum router_responses_phase {
	ROUTER_RESPONSES_NEW = 0,	/* nothing sent */
	ROUTER_RESPONSES_OPEN,		/* created + in_progress sent */
	ROUTER_RESPONSES_ENDED		/* terminal event sent */
};

struct router_responses_stream {
	enum router_responses_phase	 phase;
	char				 id[ROUTER_RESPONSES_ID_MAX];
	char				 model[ROUTER_MODEL_MAX];
	int64_t				 created;
	int64_t				 seq;		/* next sequence_number */
	const json_t			*request;	/* echoed fields, borrowed */
	json_t				*output;	/* items so far (owned) */
	int				 open_item;	/* output index + 1, 0: none */
	int				 open_kind;	/* what open_item is */
	int				 ntools;
	int				 tool_item[ROUTER_RESPONSES_ITEMS_MAX];
						/* chat tool index -> item + 1 */
	char				 finish[32];	/* last finish_reason */
	struct router_usage		 usage;		/* reported in chunks */
	struct router_xbuf		 text;		/* open item's text or
							   arguments so far */
};

/*
 * id ("resp_…"), model as the client named it, created_at; request is
 * the client's request body (borrowed; echoed fields such as
 * instructions, tools, text, metadata come from it). 0 on allocation
 * failure.
 */
int	router_responses_stream_init(struct router_responses_stream *,
	    const char *, const char *, int64_t, const json_t *);

/* response.created and response.in_progress. */
int	router_responses_stream_start(struct router_responses_stream *,
	    struct router_xbuf *);

/* A comment line (": keepalive\n\n") while waiting for the upstream. */
int	router_responses_stream_ping(struct router_xbuf *);

/*
 * One OpenAI chat.completion.chunk -> zero or more events appended to
 * out (starting the stream first if needed). Only choice 0 counts; a
 * chunk's usage is remembered. 0 on allocation failure or a chunk that
 * is not an object.
 */
int	router_responses_stream_chunk(struct router_responses_stream *,
	    const json_t *, struct router_xbuf *);

/*
 * Closes the open item (its *.done events go to out) and returns the
 * full Response as the terminal event will carry it (status completed
 * or incomplete, all output items, usage: the given one or, NULL, what
 * the chunks reported). A new reference; the store saves it before
 * router_responses_stream_finish sends it.
 */
json_t	*router_responses_stream_result(struct router_responses_stream *,
	    const struct router_usage *, struct router_xbuf *);

/* The terminal event (response.completed or response.incomplete). */
int	router_responses_stream_finish(struct router_responses_stream *,
	    const json_t *, struct router_xbuf *);

/*
 * A failure after the stream began: closes what is open and ends with
 * response.failed (response.error {code, message}, status failed).
 * Idempotent once ENDED.
 */
int	router_responses_stream_fail(struct router_responses_stream *,
	    const char *, const char *, struct router_xbuf *);

void	router_responses_stream_free(struct router_responses_stream *);

/*
 * A fresh id: prefix (NULL: "resp_") and the hex of the random bytes
 * given, e.g. "resp_<48 hex>" from 24 bytes (pure), cut to fit.
 */
void	router_responses_make_id(const char *, const unsigned char *,
	    size_t, char *, size_t);

#endif
