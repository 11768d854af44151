/*
 * Call records for the meter (see meter.h). A record has two owners:
 * the request that made it, and the meter while it settles. Settling
 * may outlive the request (the client left), so the record is counted:
 * it is freed, after the meter's cleanup, when both have let go. The
 * request is woken when settling ends only while it still waits for
 * the cost (call->waiter, cleared when the request goes away).
 */

#include <string.h>

#include "router/router.h"

/* The ids are copied from the request context whole. */
_Static_assert(sizeof(((struct router_call *)0)->request_id) >=
    sizeof(((struct tg_ctx *)0)->request_id), "request id too short");
_Static_assert(sizeof(((struct router_call *)0)->user_id) >=
    sizeof(((struct tg_ctx *)0)->who.user_id), "user id too short");
_Static_assert(sizeof(((struct router_call *)0)->key_id) >=
    sizeof(((struct tg_ctx *)0)->who.key_id), "key id too short");

const struct router_meter	*router_meter = NULL;

static void	call_unref(struct router_call *);

struct router_call *
router_call_new(struct http_request *req, int endpoint)
{
	struct router_call	*call;
	struct tg_ctx		*ctx = tg_ctx(req);

	call = kore_calloc(1, sizeof(*call));
	call->refs = 1;
	call->endpoint = endpoint;
	call->target_used = -1;
	(void)kore_strlcpy(call->request_id, ctx->request_id,
	    sizeof(call->request_id));
	(void)kore_strlcpy(call->user_id, ctx->who.user_id,
	    sizeof(call->user_id));
	(void)kore_strlcpy(call->key_id, ctx->who.key_id,
	    sizeof(call->key_id));

	return (call);
}

/*
 * Hands the finished call to the meter (once). Without a meter the call
 * is settled at once, for nothing.
 */
void
router_call_settle(struct router_call *call)
{
	if (call->settling)
		return;
	call->settling = 1;

	if (router_meter == NULL || router_meter->settle == NULL) {
		call->cost_micros = 0;
		call->settled = 1;
		return;
	}

	call->refs++;
	router_meter->settle(call);
}

void
router_call_settled(struct router_call *call, int64_t cost_micros)
{
	if (call->settled) {
		kore_log(LOG_ERR, "rid=%s meter settled a call twice",
		    call->request_id);
		return;
	}

	call->cost_micros = cost_micros;
	call->settled = 1;
	if (call->waiter != NULL)
		http_request_wakeup(call->waiter);
	call_unref(call);
}

/* The request lets go (it is done, or being freed). */
void
router_call_release(struct router_call *call)
{
	call->waiter = NULL;
	call_unref(call);
}

static void
call_unref(struct router_call *call)
{
	if (--call->refs > 0)
		return;

	if (router_meter != NULL && router_meter->cleanup != NULL)
		router_meter->cleanup(call);
	kore_free(call);
}
