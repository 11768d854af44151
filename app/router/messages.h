/*
 * The Anthropic-shaped surface, POST /v1/messages, over any family: pure
 * translation between Anthropic's Messages API and the router's internal
 * OpenAI chat shapes. The handler (router core) does the rest:
 *
 *	oreq = router_messages_request_to_openai(body, &status, err, len);
 *	... route oreq like a /v1/chat/completions request ...
 *	whole:	 msg = router_messages_response_from_openai(completion, &usage);
 *	stream:	 struct router_messages_stream ms; memset(&ms, 0, ...);
 *		 for each OpenAI chunk the family produced:
 *			router_messages_stream_chunk(&ms, chunk, &out);
 *		 at the end: router_messages_stream_finish(&ms, &usage, &out);
 *		 on an upstream failure after bytes went out:
 *			router_messages_stream_error(&ms, "api_error", msg, &out);
 *		 send out.data/out.len as they come; router_xbuf_free(&out).
 *
 * Pure C over jansson; no Kore types.
 */

#ifndef ROUTER_MESSAGES_H
#define ROUTER_MESSAGES_H

#include <jansson.h>

#include "router/provider.h"
#include "router/xlate.h"

#define ROUTER_MESSAGES_TOOLS_MAX	64

/*
 * An Anthropic Messages request -> an OpenAI chat request (a new
 * object; model is copied as given, for the router to resolve). Maps
 * system, content blocks (text, image, PDF document, tool_use,
 * tool_result, thinking), tools, tool_choice, stop_sequences,
 * max_tokens, temperature, top_p, thinking (-> reasoning_effort),
 * metadata.user_id and stream (which also asks for usage in the
 * stream). thinking.budget_tokens goes as reasoning.max_tokens (taken
 * as asked by the anthropic and gemini families) besides an effort;
 * cache_control of system, content blocks and tools stays on the
 * matching OpenAI part or tool; tool_use ids made by
 * router_messages_response_from_openai for a Gemini call carrying a
 * thoughtSignature ("<id>__tsig_<base64url>") are taken apart again
 * into the id and tool_calls[].extra_content.google.thought_signature. On a bad request: NULL, *status (400) and a message in err,
 * written as Anthropic words its validation errors.
 */
json_t	*router_messages_request_to_openai(const json_t *, int *, char *,
	    size_t);

/*
 * An OpenAI chat.completion -> an Anthropic message object: thinking,
 * text and tool_use content blocks, stop_reason (and stop_sequence from
 * choices[0].stop_reason, vLLM's field, which the anthropic family
 * fills), and usage with
 * input_tokens excluding cache reads and writes (as Anthropic counts).
 * usage may be NULL: then the completion's usage object is read (it has
 * no cache-write count). NULL only when the completion has no choice.
 */
json_t	*router_messages_response_from_openai(const json_t *,
	    const struct router_usage *);

/* OpenAI finish_reason -> Anthropic stop_reason. */
const char *router_messages_stop_reason(const char *);

/*
 * Stream translation state: zero it before the first chunk. id and
 * model may be set with router_messages_stream_init; otherwise the
 * first chunk's are used.
 */
struct router_messages_stream {
	char			id[96];
	char			model[ROUTER_MODEL_MAX];
	int			started;	/* message_start went out */
	int			finished;	/* message_stop went out */
	int			open_kind;	/* 0: no block open */
	int			open_index;
	int			nblocks;
	int			tool_block[ROUTER_MESSAGES_TOOLS_MAX];
						/* block index + 1, 0: none */
	char			stop_reason[32];
	char			stop_sequence[256];	/* which one ended it */
	struct router_usage	usage;
};

void	router_messages_stream_init(struct router_messages_stream *,
	    const char *, const char *);

/*
 * One OpenAI chat.completion.chunk -> zero or more Anthropic SSE events
 * appended to out, each exactly "event: <type>\ndata: <json>\n\n".
 * Only choice 0 is translated; a chunk's usage is remembered for the
 * end. Returns 0 on allocation failure or a chunk that is not an object.
 */
int	router_messages_stream_chunk(struct router_messages_stream *,
	    const json_t *, struct router_xbuf *);

/*
 * What the upstream reported of the usage so far (Anthropic's
 * message_start: the input tokens), for message_start; call it before
 * handing over chunks. Only a reported usage counts, and only until
 * message_start went out (usage before that order is harmless: without
 * it message_start says 0 input tokens, as before).
 */
void	router_messages_stream_usage(struct router_messages_stream *,
	    const struct router_usage *);

/*
 * Ends the message: closes the open block, then message_delta (stop
 * reason, usage: input, output and cache tokens; usage NULL uses what
 * the chunks reported) and message_stop. Idempotent.
 */
int	router_messages_stream_finish(struct router_messages_stream *,
	    const struct router_usage *, struct router_xbuf *);

/*
 * An error event ({"type":"error","error":{"type","message"}}) for an
 * upstream failure after the stream began; the stream ends with it.
 */
int	router_messages_stream_error(struct router_messages_stream *,
	    const char *, const char *, struct router_xbuf *);

/* A ping event (keepalive). */
int	router_messages_stream_ping(struct router_xbuf *);

#endif
