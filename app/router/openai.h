/*
 * The openai family's request builder, shared with echo (which answers
 * the very same wire format in process). Pure C.
 */

#ifndef ROUTER_OPENAI_H
#define ROUTER_OPENAI_H

#include "router/provider.h"

/* path: "/chat/completions" (stream honoured) or "/embeddings". */
int	router_openai_build(const struct router_target *, const json_t *,
	    int, const char *, const char *, struct router_http *, char *,
	    size_t);

/* The openai family's parsers (echo answers in the same format). */
json_t	*router_openai_chat_response(const struct router_target *,
	    const char *, size_t, struct router_usage *, char *, size_t);
int	 router_openai_stream_event(struct router_stream *, const char *,
	    const char *, size_t, json_t *);
void	 router_openai_map_error(long, const char *, size_t,
	    struct router_error *);
json_t	*router_openai_embed_response(const struct router_target *,
	    const char *, size_t, struct router_usage *, char *, size_t);

#endif
