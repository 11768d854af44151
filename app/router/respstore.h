/*
 * Stored /v1/responses, the Kore side (respstore.c): the statements the
 * relay runs around a POST /v1/responses call, and the handlers of
 * GET and DELETE /v1/responses/{id}. Every statement is asynchronous
 * (db.h) and names the user: a response or an item of another user is
 * never found. The JSON they carry is shaped by respitems.h.
 *
 * In the relay's state machine:
 *	router_respstore_load(&db, req, &refs);	then, asleep until done,
 *	router_respstore_loaded(&db, req, &refs, &prior)	1: prior set;
 *		0: answered (400 previous_response_not_found, 500, 503)
 *	...
 *	router_respstore_save(&db, req, id, response, conversation, index);
 *	tg_db_poll(&db)	DONE: committed (then the answer goes out)
 */

#ifndef ROUTER_RESPSTORE_H
#define ROUTER_RESPSTORE_H

#include "tollgate.h"
#include "db.h"
#include "router/responses.h"

/* Whether a request needs the store before translation. */
int	router_respstore_needed(const struct router_responses_refs *);

void	router_respstore_load(struct tg_db *, struct http_request *,
	    const struct router_responses_refs *);
int	router_respstore_loaded(struct tg_db *, struct http_request *,
	    const struct router_responses_refs *, json_t **);

void	router_respstore_save(struct tg_db *, struct http_request *,
	    const char *, const json_t *, const json_t *, const json_t *);

/* GET and DELETE /v1/responses/{id} (API key; the key's user only). */
int	router_responses_get(struct http_request *);
int	router_responses_delete(struct http_request *);

#endif
