/*
 * Stored /v1/responses, the pure part: what goes into the store and how
 * what comes out of it becomes the prior context responses.h takes.
 * respstore.c runs the statements; these functions only shape JSON.
 *
 * A stored response keeps the conversation up to and including its own
 * input (the previous chain's input and output items, then the request's
 * input items) and the Response object; its output items and the input
 * items that carry an id are indexed by id for item_reference.
 *
 * Pure C over jansson; no Kore types.
 */

#ifndef ROUTER_RESPITEMS_H
#define ROUTER_RESPITEMS_H

#include <stddef.h>

#include <jansson.h>

/* Longest item id indexed (sql/0600_responses.sql checks the same). */
#define ROUTER_RESPITEMS_ID_MAX		64

/* 1 when s is a response id as we make them: "resp_" and 48 hex. */
int	router_respitems_id_ok(const char *);

/*
 * The prior context of a request from what the store answered:
 * previous is the stored conversation plus output of
 * previous_response_id (NULL: the request named none), items the JSON
 * object id -> item of its item_reference ids (NULL or "": none found).
 * Returns {"previous":[...],"items":{...}} (a new reference), or NULL
 * with a reason in err when a text is not JSON of the right shape
 * (previous not an array of objects, items not an object of objects).
 */
json_t	*router_respitems_prior(const char *, const char *, char *, size_t);

/*
 * The conversation to store with a response: prior's previous items
 * (none when prior is NULL) followed by the request's input items. A
 * new array; NULL on allocation failure or when input is not an array.
 */
json_t	*router_respitems_conversation(const json_t *, const json_t *);

/*
 * The items to index for item_reference: the response's output items,
 * then the input items that carry a string id of 1 to
 * ROUTER_RESPITEMS_ID_MAX bytes and are not themselves references. A
 * new array (maybe empty); NULL on allocation failure.
 */
json_t	*router_respitems_index(const json_t *, const json_t *);

/*
 * The body of DELETE /v1/responses/{id}: {"id","object":"response",
 * "deleted":true}. A new reference.
 */
json_t	*router_respitems_deleted(const char *);

#endif
