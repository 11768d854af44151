/*
 * Pure helpers around upstream calls that every family and the relay
 * share: the error mapping of docs/contract.md §3, Retry-After, pulling a
 * provider's error message out of its answer, scrubbing secrets out of
 * text we pass on, and OpenAI usage objects.
 */

#ifndef ROUTER_UPSTREAM_H
#define ROUTER_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "router/provider.h"

/*
 * status -> our status and code: 400/413/422 -> 400 invalid_value,
 * 429 -> 429 rate_limited, 408/504 -> 504 upstream_timeout, anything
 * else (401/403 included: their key is ours, not the client's) -> 502
 * upstream_error. For 401/403 the provider's message is not passed on.
 */
void	router_error_map(long, const char *, struct router_error *);

/* The provider's message from an error body (OpenAI, Anthropic, ...). */
void	router_error_message(const char *, size_t, char *, size_t);

/* Retry-After (delta-seconds or an HTTP-date) in ms; -1 when invalid. */
long	router_retry_after_ms(const char *, time_t);

/*
 * An upstream's error text made fit for a client and a log line, in
 * place: every occurrence of secret becomes "***", control characters
 * and broken UTF-8 go (redact.h, clean.h).
 */
void	router_scrub(char *, const char *);

/* s percent-encoded (RFC 3986 unreserved kept); out: 3 bytes a byte + 1. */
size_t	router_url_encode(const char *, char *, size_t);

/* Whether the client should see a retry / fallback for this failure. */
int	router_error_retryable(long);

/*
 * OpenAI usage fields -> u (cache writes from prompt_tokens_details
 * .cache_write_tokens). Returns 0 and leaves u untouched when o is not
 * an object; returns 0 with u zeroed (reported 0: missing, the meter
 * estimates) when it is empty or a counter is negative or no integer.
 */
int	router_usage_parse(const json_t *, struct router_usage *);

/*
 * u as an OpenAI usage object (with the details objects; cache writes,
 * when any, as prompt_tokens_details.cache_write_tokens).
 */
json_t	*router_usage_json(const struct router_usage *);

#endif
