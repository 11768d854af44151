/*
 * Helpers shared by the translating families (anthropic, gemini) and the
 * Anthropic-shaped /v1/messages surface: OpenAI chunk building, content
 * part access, data URLs, provider text clean-up, embeddings as base64.
 * The router's own upstream.h has the rest (error mapping, usage JSON,
 * router_http helpers).
 *
 * Pure C over jansson; strings returned are malloc'd (free()).
 */

#ifndef ROUTER_XLATE_H
#define ROUTER_XLATE_H

#include <stddef.h>

#include <jansson.h>

#include "router/provider.h"

/* A growable malloc'd byte buffer (always NUL-terminated when len > 0). */
struct router_xbuf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

int	 router_xbuf_add(struct router_xbuf *, const void *, size_t);
int	 router_xbuf_str(struct router_xbuf *, const char *);
void	 router_xbuf_free(struct router_xbuf *);

/*
 * A provider's count answer: the integer member field of the JSON
 * object body, 0 to ROUTER_TOKENS_MAX, into *n. 0 when it is not one.
 */
int	router_xlate_count(const char *, size_t, const char *, int64_t *);

/* printf into a fresh malloc'd string (NULL on failure). */
char	*router_xlate_printf(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * Appends one chat.completion.chunk for choice 'choice' to chunks: the
 * delta is stolen, finish may be NULL. The role is added to the first
 * delta of choice 0 (st->sent_role). Returns 0 on allocation failure.
 */
int	 router_xlate_chunk(struct router_stream *, json_t *, int, json_t *,
	    const char *);

/*
 * The text of an OpenAI message content (a string, or an array of parts
 * whose "text" parts are joined with sep). NULL content gives "".
 * Returns a malloc'd string, or NULL when content has another shape.
 */
char	*router_xlate_content_text(const json_t *, const char *);

/*
 * Splits "data:<mime>;base64,<data>". Returns 1 and points *data into
 * url; 0 when url is not a base64 data URL or mime is too long.
 */
int	 router_xlate_data_url(const char *, char *, size_t, const char **);

/*
 * Provider text made safe to pass on: control characters become
 * spaces (the router scrubs keys and maps the status, upstream.h).
 */
void	 router_xlate_clean(char *);

/* Copies s into a fixed buffer, always terminated. */
void	 router_xlate_copy(char *, size_t, const char *);

/*
 * The choice with index 0 of a chat.completion or chunk (a missing
 * index counts as 0), or NULL: the one choice the other surfaces
 * translate.
 */
const json_t	*router_xlate_choice0(const json_t *);

/*
 * The reasoning text of a chat message or delta ("reasoning", else
 * DeepSeek's and vLLM's "reasoning_content"), or NULL when it has none
 * or an empty one.
 */
const json_t	*router_xlate_reasoning(const json_t *);

/* Integer member of o, or def when absent or not an integer. */
json_int_t	router_xlate_int(const json_t *, const char *, json_int_t);

/*
 * A usage counter of o: the value when an integer from 0 to
 * ROUTER_TOKENS_MAX, -1 when absent or null, -2 when anything else (which makes a provider's whole
 * usage meaningless: it then counts as missing and the meter
 * estimates).
 */
json_int_t	router_xlate_counter(const json_t *, const char *);

/* Standard base64 (with padding) of len bytes, malloc'd (NULL on failure). */
char	*router_xlate_base64(const unsigned char *, size_t);

/*
 * Converts each data[].embedding float array of an OpenAI embeddings
 * list into the base64 of its little-endian float32 values, as OpenAI
 * answers encoding_format "base64". Returns 0 on a malformed list.
 */
int	 router_xlate_embeddings_base64(json_t *);

/*
 * A client's cache_control (Anthropic's prompt-cache marker): absent,
 * null, or {"type":"ephemeral"} with an optional "ttl":"5m" (the 1-hour
 * TTL is refused: its price is not billed). Returns 1 when valid; 0
 * with a message in why and the offending member in *member
 * ("cache_control" or "cache_control.ttl").
 */
int	 router_xlate_cache_check(const json_t *, const char **, char *,
	    size_t);

/*
 * Copies holder's cache_control, when present, onto dst. Returns 0
 * with the reason in err when it is malformed (or on allocation
 * failure).
 */
int	 router_xlate_cache_copy(json_t *, const json_t *, char *, size_t);

/*
 * Removes every cache_control of an upstream body built from an OpenAI
 * chat request (content parts of messages, tools and their functions),
 * for families that cache on their own and whose upstreams would refuse
 * the unknown member. The body's top-level values may be shared with the
 * client's request, which keeps its markers: arrays holding one are
 * copied first. 0 when out of memory.
 */
int	 router_xlate_drop_cache_control(json_t *);

/*
 * URL-safe base64 (no padding) of a string, and back: the decoding is
 * NULL for anything that is not such a base64 of a string without NUL.
 * Both malloc'd.
 */
char	*router_xlate_b64url(const char *);
char	*router_xlate_unb64url(const char *);

#endif
