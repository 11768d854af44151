/*
 * Checks of the client's OpenAI-shaped requests (chat completions and
 * embeddings) before anything is sent anywhere, and the numbers a hold
 * is sized from: the bytes of prompt text and tool schemas, message and
 * image counts, max_tokens, n. A refused request gets a 400 in the
 * contract's shape with the field at fault in "param".
 *
 * Options whose price the price table cannot bill (service_tier other
 * than auto/default, web_search_options, audio output) are refused.
 * Which of the remaining fields reach a provider is each family's
 * business: the openai family forwards only those of its allowlist
 * (openai.c).
 *
 * Pure C over jansson.
 */

#ifndef ROUTER_REQUEST_H
#define ROUTER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ROUTER_N_MAX		8	/* choices per call */
#define ROUTER_MESSAGES_MAX	4096
#define ROUTER_TOOLS_MAX	128
#define ROUTER_STOP_MAX		4
#define ROUTER_EMBED_INPUTS_MAX	2048
#define ROUTER_REQ_MODEL_MAX	255	/* bytes of the client's "model" */

/* Why a request was refused (always a 400). */
struct router_problem {
	char	code[32];	/* missing_field, invalid_value */
	char	param[96];	/* "messages[2].role", or "" */
	char	message[256];
};

struct router_chat_req {
	const char	*model;		/* borrowed from the request */
	int		 stream;
	int		 include_usage;	/* stream_options.include_usage */
	int64_t		 max_tokens;	/* 0: not given */
	const char	*max_tokens_field;	/* the name the client used */
	int		 n;
	size_t		 prompt_bytes;	/* message text + tool schemas */
	int		 messages;
	int		 images;
};

struct router_embed_req {
	const char	*model;
	size_t		 prompt_bytes;	/* input text bytes (+ token ids) */
	int		 inputs;
};

int	router_chat_check(const json_t *, struct router_chat_req *,
	    struct router_problem *);
int	router_embed_check(const json_t *, struct router_embed_req *,
	    struct router_problem *);

#endif
