/*
 * What the relay holds back at the start of a stream: chunks without
 * content (OpenAI's role-only first chunk, the chunk an Anthropic
 * message_start becomes, finish or usage chunks of an empty answer).
 * Until the first chunk with content goes out, an upstream failure may
 * still fall back to another target (docs/router.md). Pure (jansson).
 */

#ifndef ROUTER_HOLDBACK_H
#define ROUTER_HOLDBACK_H

#include <jansson.h>

/* 1 when a chunk of the array carries text, a tool call or reasoning. */
int	router_chunks_have_content(const json_t *);

#endif
