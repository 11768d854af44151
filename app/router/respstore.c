/*
 * Stored /v1/responses (respstore.h): the lookup of a request's
 * previous_response_id and item_reference ids, the save of an answer
 * (the response row and its items in one statement, so one commit), and
 * GET / DELETE /v1/responses/{id}. Tables: sql/0600_responses.sql. A
 * row past its expires_at is never served, whether or not the sweeper
 * has purged it yet (credits/sweeper.c runs responses_purge()).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router.h"
#include "router/respitems.h"
#include "router/respstore.h"

struct respget_state {
	struct tg_db	db;
	char		id[ROUTER_RESPONSES_ID_MAX];
};

static int	respget_start(struct http_request *);
static int	respget_reply(struct http_request *);
static int	respdel_start(struct http_request *);
static int	respdel_reply(struct http_request *);
static int	resp_begin(struct http_request *, const char *);
static void	resp_not_found(struct http_request *, const char *);
static void	resp_free(struct http_request *, void *);

static struct http_state	respget_states[] = {
	KORE_HTTP_STATE(respget_start),
	KORE_HTTP_STATE(respget_reply),
};

static struct http_state	respdel_states[] = {
	KORE_HTTP_STATE(respdel_start),
	KORE_HTTP_STATE(respdel_reply),
};

#define RESP_START	0
#define RESP_REPLY	1

/*
 * The previous response's conversation and output (NULL when none of
 * the user's, or expired) and the referenced items of the user's
 * responses still kept (NULL when none).
 */
static const char	sql_load[] =
	"SELECT (SELECT r.input || coalesce(r.response -> 'output', "
	"'[]'::jsonb) FROM responses r WHERE r.user_id = $1::uuid AND "
	"r.id = $2 AND r.expires_at > now()), "
	"(SELECT jsonb_object_agg(i.id, i.item) FROM response_items i "
	"JOIN responses r ON r.id = i.response_id WHERE "
	"i.user_id = $1::uuid AND i.id = ANY ($3::text[]) AND "
	"r.expires_at > now())";

/* One statement: the row and its items commit together (or not). */
static const char	sql_save[] =
	"WITH r AS (INSERT INTO responses (id, user_id, api_key_id, "
	"expires_at, response, input) VALUES ($1, $2::uuid, $3::uuid, "
	"now() + make_interval(days => $4::int), $5::jsonb, $6::jsonb) "
	"ON CONFLICT (id) DO NOTHING RETURNING id, user_id), "
	"i AS (INSERT INTO response_items (user_id, id, response_id, item) "
	"SELECT r.user_id, e.item ->> 'id', r.id, e.item FROM r, "
	"jsonb_array_elements($7::jsonb) AS e (item) "
	"ON CONFLICT (user_id, id) DO NOTHING RETURNING 1) "
	"SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM i)";

static const char	sql_get[] =
	"SELECT response FROM responses WHERE user_id = $1::uuid AND "
	"id = $2 AND expires_at > now()";

static const char	sql_delete[] =
	"DELETE FROM responses WHERE user_id = $1::uuid AND id = $2 AND "
	"expires_at > now() RETURNING id";

int
router_respstore_needed(const struct router_responses_refs *refs)
{
	return (refs->prev[0] != '\0' || refs->nids > 0);
}

void
router_respstore_load(struct tg_db *db, struct http_request *req,
    const struct router_responses_refs *refs)
{
	struct kore_buf	*ids;
	const char	*params[3], *list[ROUTER_RESPONSES_REFS_MAX];
	char		*s;
	int		 i;

	for (i = 0; i < refs->nids; i++)
		list[i] = refs->ids[i];
	ids = kore_buf_alloc(64);
	tg_db_text_array(ids, list, refs->nids);
	s = kore_buf_stringify(ids, NULL);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = refs->prev;
	params[2] = s;
	tg_db_start(db, req, TG_DB_RETRY, sql_load, 3, params);
	kore_buf_free(ids);
}

int
router_respstore_loaded(struct tg_db *db, struct http_request *req,
    const struct router_responses_refs *refs, json_t **prior)
{
	const char	*prev;
	char		 err[128];

	*prior = NULL;
	if (tg_db_ntuples(db) != 1) {
		tg_error_internal(req, "responses: the lookup had no row");
		return (0);
	}

	prev = tg_db_value(db, 0, 0);
	if (refs->prev[0] != '\0' && prev == NULL) {
		tg_error(req, 400, "previous_response_not_found",
		    "previous_response_id", "Previous response with id "
		    "'%.64s' not found.", refs->prev);
		return (0);
	}

	*prior = router_respitems_prior(refs->prev[0] != '\0' ? prev : NULL,
	    tg_db_value(db, 0, 1), err, sizeof(err));
	if (*prior == NULL) {
		kore_log(LOG_ERR, "rid=%s responses: %s", tg_request_id(req),
		    err);
		tg_error_internal(req, "responses: a stored row is unreadable");
		return (0);
	}

	return (1);
}

void
router_respstore_save(struct tg_db *db, struct http_request *req,
    const char *id, const json_t *response, const json_t *conversation,
    const json_t *index)
{
	struct tg_ctx	*ctx = tg_ctx(req);
	const char	*params[7];
	char		 days[16], *resp, *conv, *items;

	(void)snprintf(days, sizeof(days), "%d",
	    tg_conf.responses_retention_days);
	resp = json_dumps(response, JSON_COMPACT);
	conv = json_dumps(conversation, JSON_COMPACT);
	items = json_dumps(index, JSON_COMPACT);

	params[0] = id;
	params[1] = ctx->who.user_id;
	params[2] = ctx->who.key_id[0] != '\0' ? ctx->who.key_id : NULL;
	params[3] = days;
	params[4] = resp;
	params[5] = conv;
	params[6] = items;
	/* Safe to retry: a second insert of the same id does nothing. */
	tg_db_start(db, req, TG_DB_RETRY, sql_save, 7, params);

	free(resp);
	free(conv);
	free(items);
}

/* --- GET and DELETE /v1/responses/{id} -------------------------------- */

int
router_responses_get(struct http_request *req)
{
	return (http_state_run(respget_states,
	    sizeof(respget_states) / sizeof(respget_states[0]), req));
}

int
router_responses_delete(struct http_request *req)
{
	return (http_state_run(respdel_states,
	    sizeof(respdel_states) / sizeof(respdel_states[0]), req));
}

static int
respget_start(struct http_request *req)
{
	if (!resp_begin(req, sql_get))
		return (HTTP_STATE_COMPLETE);
	req->fsm_state = RESP_REPLY;
	return (HTTP_STATE_CONTINUE);
}

static int
respdel_start(struct http_request *req)
{
	if (!resp_begin(req, sql_delete))
		return (HTTP_STATE_COMPLETE);
	req->fsm_state = RESP_REPLY;
	return (HTTP_STATE_CONTINUE);
}

/*
 * Starts the statement for the id in the path; an id we never make is
 * not looked up (404 at once).
 */
static int
resp_begin(struct http_request *req, const char *query)
{
	struct respget_state	*st;
	const char		*id, *params[2];

	id = tg_param(req, 0);
	if (!router_respitems_id_ok(id)) {
		resp_not_found(req, id);
		return (0);
	}

	st = tg_state_alloc(req, sizeof(*st), resp_free);
	(void)kore_strlcpy(st->id, id, sizeof(st->id));
	params[0] = tg_ctx(req)->who.user_id;
	params[1] = st->id;
	tg_db_start(&st->db, req, TG_DB_RETRY, query, 2, params);
	return (1);
}

static int
respget_reply(struct http_request *req)
{
	struct respget_state	*st = tg_state(req);
	const char		*text;
	json_t			*doc;
	json_error_t		 je;
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	if ((text = tg_db_value(&st->db, 0, 0)) == NULL) {
		resp_not_found(req, st->id);
		return (HTTP_STATE_COMPLETE);
	}
	if ((doc = json_loads(text, 0, &je)) == NULL || !json_is_object(doc)) {
		json_decref(doc);
		tg_error_internal(req, "responses: a stored response is "
		    "unreadable");
		return (HTTP_STATE_COMPLETE);
	}

	tg_http_json_steal(req, 200, doc);
	return (HTTP_STATE_COMPLETE);
}

static int
respdel_reply(struct http_request *req)
{
	struct respget_state	*st = tg_state(req);
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	if (tg_db_ntuples(&st->db) != 1) {
		resp_not_found(req, st->id);
		return (HTTP_STATE_COMPLETE);
	}

	tg_http_json_steal(req, 200, router_respitems_deleted(st->id));
	return (HTTP_STATE_COMPLETE);
}

/* OpenAI's words; the same answer for another user's id. */
static void
resp_not_found(struct http_request *req, const char *id)
{
	tg_error(req, 404, "not_found", NULL, "Response with id '%.64s' not "
	    "found.", id != NULL ? id : "");
}

static void
resp_free(struct http_request *req, void *arg)
{
	struct respget_state	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
}
