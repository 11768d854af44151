/*
 * The relay: one client call (chat completion or embeddings) through
 * the meter, retries and fallbacks, the upstream transfer and, for
 * streams, the relaying of each upstream event to the client as it
 * arrives (docs/kore.md, "Streaming"). A state machine over http_state_run():
 *
 *   START    parse, check, resolve the model, check the key may use it
 *   CONTEXT  /v1/responses: the stored items the request refers to
 *            (respstore.c; may sleep on PostgreSQL), then translation
 *   RESERVE  the meter's hold (may sleep on PostgreSQL)
 *   ATTEMPT  skip the target while it cools down (cooldown.h); build
 *            the upstream request for it; start the curl transfer (or
 *            the in-process echo answer)
 *   WAIT     asleep until curl is done or the watchdog aborted it
 *   LOCAL    the echo answer, replayed event by event (paced)
 *   DONE     judge the attempt: success, retry the same target after a
 *            backoff, the next target, or the final error
 *   BACKOFF  asleep on a timer
 *   SETTLE   hand the call to the meter; wait for the cost if the
 *            answer carries it
 *   REPLY    the whole answer, or the stream's last events
 *   STORE    /v1/responses: the answer is saved (asleep until the
 *            commit) before the whole answer or the terminal event goes
 *            out, so the client's next turn can refer to it at once
 *
 * Invariants:
 *  - Nothing but keepalive comments reaches the client before the
 *    first content (text, tool call, reasoning) of a stream, or the
 *    whole answer: the preamble (role chunk, message_start) is held
 *    back, and until then every failure may still fall back to another
 *    target. Once content went out, an upstream failure ends the stream with an error event and
 *    [DONE], and the call is settled as ended early for the text
 *    relayed (call->ended_early, call->text_bytes).
 *  - While a stream waits for its first content, an SSE comment goes
 *    out every keepalive_ms (relay_keepalive, from the watchdog). It
 *    commits the 200 (r->committed) but not the answer (r->headers_sent):
 *    fallbacks go on, and if every target fails the stream ends with
 *    its error event instead of an error status (relay_fail).
 *  - A target's breaker (per worker, in the catalog: router_conf_cooler)
 *    hears the verdict of every attempt that went upstream: failures
 *    before content open it, answers close it.
 *  - A call holds the catalog it resolved its model in (r->conf) until
 *    relay_free: a reload (SIGHUP) never changes or frees it under it.
 *  - Every call that reached the meter is settled exactly once, also
 *    when the client leaves (relay_free runs when Kore frees the
 *    request; the core cleans the curl handle still bound to it right
 *    after, which closes the upstream connection).
 *  - Timeouts: curl enforces connect and total; a watchdog timer
 *    enforces first byte (no body byte yet), then, from the first body
 *    byte on, idle (silence between stream bytes) and aborts the
 *    transfer itself.
 *  - While streaming, Kore's header timer is off (P1), a client's
 *    Connection: close is honoured only at the end (P3), and curl
 *    always has a finite timeout (P4, P5).
 *  - Provider keys are scrubbed from every message we pass on or log.
 *  - A stop (core/drain.c) ends, at its deadline, every call of the
 *    worker still open (relay_drain): a stream that sent bytes with its
 *    surface's error event (and [DONE] on chat completions), any other
 *    with 503 and Retry-After; each is settled as a call the client
 *    left (by estimate), never left to its hold's expiry. A call
 *    already answering (SETTLE, REPLY) finishes as it would have.
 */

#include <sys/types.h>

#include <curl/curl.h>
#include <sodium.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "router/router.h"
#include "router/cooldown.h"
#include "router/holdback.h"
#include "router/messages.h"
#include "router/respitems.h"
#include "router/respstore.h"
#include "router/responses.h"
#include "router/request.h"
#include "router/sse.h"
#include "router/upstream.h"
#include "router/xlate.h"
#include "drain.h"
#include "drain_plan.h"
#include "fetch.h"
#include "metrics.h"

/* The call record holds what the relay copies into it, uncut. */
_Static_assert(sizeof(((struct router_call *)0)->model) >
    ROUTER_REQ_MODEL_MAX, "call model shorter than a request's");
_Static_assert(sizeof(((struct router_call_target *)0)->id) >=
    sizeof(((struct router_model *)0)->id), "call target id too short");
_Static_assert(sizeof(((struct router_stream *)0)->model) >=
    sizeof(((struct router_target *)0)->model), "stream model too short");

#define R_START		0
#define R_CONTEXT	1
#define R_RESERVE	2
#define R_ATTEMPT	3
#define R_WAIT		4
#define R_LOCAL		5
#define R_DONE		6
#define R_BACKOFF	7
#define R_SETTLE	8
#define R_REPLY		9
#define R_STORE		10

/* Why we stopped a transfer ourselves. */
#define ABORT_NONE		0
#define ABORT_FIRST_BYTE	1
#define ABORT_IDLE		2
#define ABORT_TOO_LARGE		3
#define ABORT_BAD_STREAM	4
#define ABORT_UPSTREAM_ERROR	5	/* an error event in the stream */
#define ABORT_CLIENT		6
#define ABORT_DRAIN		7	/* the process is stopping */

#define TIMER_NONE	0
#define TIMER_WATCHDOG	1
#define TIMER_WAKE	2	/* backoff, pacing */
#define TIMER_SETTLE	3

#define ANSWER_MAX	(32 * 1024 * 1024)
#define ERROR_BODY_MAX	(64 * 1024)
#define SETTLE_WAIT_MS	10000
#define DRAIN_RETRY_SECS	1	/* another process takes the retry */

struct relay {
	TAILQ_ENTRY(relay)	 open;		/* relay_open */
	struct http_request	*req;
	struct router_conf	*conf;		/* held from resolve to free */
	int			 kind;
	int			 surface;
	json_t			*body;
	struct router_chat_req	 chat;
	struct router_route	 route;
	struct router_call	*call;
	int			 stream;
	int			 reserving;	/* reserve() called, not denied */
	int			 settle_called;
	int			 drained;	/* ended by the stop */

	/* The current attempt. */
	int			 target;
	int			 tries;
	long			 wait_ms;
	struct kore_curl	 curl;
	int			 curl_live;	/* bound: needs kore_curl_cleanup */
	struct router_http	 http;
	struct router_local	 local;
	size_t			 local_off;
	u_int64_t		 attempt_start;
	u_int64_t		 last_byte;
	int			 started;	/* a first upstream byte came */
	int			 body_started;	/* a first byte of the body */
	long			 status;
	long			 retry_after_ms;
	int			 no_retry;	/* next target, not this one */
	int			 called;	/* the attempt went upstream */
	u_int64_t		 cool_wait_ms;	/* shortest cooldown skipped */
	struct kore_buf		*body_buf;
	int			 abort_reason;
	struct kore_timer	*timer;
	int			 timer_kind;
	int			 settle_timed_out;

	/* The stream. */
	struct router_sse	 sse;
	struct router_stream	 st;
	json_t			*chunks;
	struct kore_buf		*out;
	int			 headers_sent;	/* content went out: no fallback */
	int			 committed;	/* the 200 and SSE headers went out */
	u_int64_t		 keepalive_at;	/* next keepalive comment (us) */
	int			 chunked;
	int			 close_after;

	/* The Anthropic surface (/v1/messages). */
	struct router_messages_stream	 ms;
	struct router_xbuf		 xout;

	/* The Responses surface (/v1/responses). */
	json_t				*rbody;		/* the client's request */
	struct router_responses_refs	*refs;		/* 16 KiB: only here */
	json_t				*prior;		/* stored context, or NULL */
	json_t				*rinput;	/* its input items */
	char				 rid[ROUTER_RESPONSES_ID_MAX];
	int64_t				 rcreated;
	int				 store;		/* not "store": false */
	struct router_responses_stream	 rs;
	json_t				*rresult;	/* the Response to send */
	struct tg_db			 db;

	/* The result. */
	struct router_error	 err;
	json_t			*answer;
	struct router_usage	 usage;
};

static int	relay_start(struct http_request *);
static int	relay_context(struct http_request *);
static int	relay_reserve(struct http_request *);
static int	relay_attempt(struct http_request *);
static int	relay_wait(struct http_request *);
static int	relay_local(struct http_request *);
static int	relay_done(struct http_request *);
static int	relay_backoff(struct http_request *);
static int	relay_settle(struct http_request *);
static int	relay_reply(struct http_request *);
static int	relay_store(struct http_request *);
static int	relay_reply_messages(struct relay *, int64_t);
static int	relay_reply_responses(struct relay *, int64_t);
static int	relay_responses_send(struct relay *);
static int	relay_from_responses(struct relay *);
static int	relay_responses_translate(struct relay *);
static void	relay_responses_cut(struct relay *);
static void	relay_xout_last(struct relay *);
static void	relay_cost_header(struct relay *, int64_t);

static struct http_state	relay_states[] = {
	KORE_HTTP_STATE(relay_start),
	KORE_HTTP_STATE(relay_context),
	KORE_HTTP_STATE(relay_reserve),
	KORE_HTTP_STATE(relay_attempt),
	KORE_HTTP_STATE(relay_wait),
	KORE_HTTP_STATE(relay_local),
	KORE_HTTP_STATE(relay_done),
	KORE_HTTP_STATE(relay_backoff),
	KORE_HTTP_STATE(relay_settle),
	KORE_HTTP_STATE(relay_reply),
	KORE_HTTP_STATE(relay_store),
};

static void	relay_free(struct http_request *, void *);
static int	relay_from_messages(struct relay *);
static int	relay_check_chat(struct relay *);
static int	relay_check_embed(struct relay *);
static int	relay_resolve(struct relay *, const char *);
static void	relay_call_setup(struct relay *);
static void	relay_max_tokens(struct relay *,
		    const struct router_target *);
static int	relay_build(struct relay *, const struct router_target *,
		    char *, size_t);
static int	relay_curl_start(struct relay *, const struct router_target *);
static void	relay_curl_body(struct relay *);
static size_t	relay_write(char *, size_t, size_t, void *);
static size_t	relay_header(char *, size_t, size_t, void *);
static int	relay_feed(struct relay *, const char *, size_t);
static int	relay_emit(struct relay *);
static int	relay_send(struct relay *, const void *, size_t);
static int	relay_write_client(struct relay *, const void *, size_t);
static void	relay_keepalive(struct relay *);
static void	relay_watch(struct relay *, u_int64_t);
static void	relay_headers(struct relay *);
static void	relay_stream_end(struct relay *);
static int	relay_judge(struct relay *, const struct router_target *);
static int	relay_embed_format(struct relay *);
static void	relay_attempt_clear(struct relay *);
static void	relay_error(struct relay *, const struct router_provider *,
		    int, const char *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
static int	relay_fail(struct relay *);
static void	relay_cut(struct relay *, int);
static int	relay_drained(struct relay *);
static void	relay_drain(void);
static void	relay_drain_one(struct relay *);
static void	relay_outcome(struct relay *, int, int);
static void	relay_access(struct relay *);
static void	relay_timer(struct relay *, int, u_int64_t);
static void	relay_timer_stop(struct relay *);
static void	relay_timer_fire(void *, u_int64_t);
static void	relay_abort(struct relay *, int);
static const struct router_provider *relay_provider(struct relay *);
static int	relay_emit_all(struct relay *);
static struct router_cooldown *relay_cooler(struct relay *);
static int	relay_admit(struct relay *);
static void	relay_verdict(struct relay *, int);

/*
 * Per-target circuit breakers (one per catalog model), per worker: the
 * memory of a process, like the curl connection cache, and reset when
 * the worker restarts.
 */

/* Every call of this worker still open, for the stop's deadline. */
static TAILQ_HEAD(, relay)	relay_open = TAILQ_HEAD_INITIALIZER(relay_open);
static int			relay_watched;

int
router_relay(struct http_request *req, int surface, int kind)
{
	struct relay	*r;

	if ((r = tg_state(req)) == NULL) {
		r = tg_state_alloc(req, sizeof(*r), relay_free);
		r->req = req;
		r->surface = surface;
		r->kind = kind;
		r->target = 0;
		TAILQ_INSERT_TAIL(&relay_open, r, open);
		if (!relay_watched) {
			tg_drain_watch(NULL, relay_drain);
			relay_watched = 1;
		}
	}

	return (http_state_run(relay_states,
	    sizeof(relay_states) / sizeof(relay_states[0]), req));
}

static int
relay_start(struct http_request *req)
{
	struct relay	*r = tg_state(req);
	int		 ok;

	if ((r->body = tg_http_body_json(req)) == NULL)
		return (HTTP_STATE_COMPLETE);
	if (r->surface == ROUTER_SURFACE_ANTHROPIC && !relay_from_messages(r))
		return (HTTP_STATE_COMPLETE);
	if (r->surface == ROUTER_SURFACE_RESPONSES) {
		if (!relay_from_responses(r))
			return (HTTP_STATE_COMPLETE);
		if (router_respstore_needed(r->refs)) {
			router_respstore_load(&r->db, req, r->refs);
			req->fsm_state = R_CONTEXT;
			return (HTTP_STATE_CONTINUE);
		}
		if (!relay_responses_translate(r))
			return (HTTP_STATE_COMPLETE);
	}

	ok = r->kind == ROUTER_KIND_CHAT ? relay_check_chat(r) :
	    relay_check_embed(r);
	if (!ok)
		return (HTTP_STATE_COMPLETE);

	relay_call_setup(r);
	req->fsm_state = R_RESERVE;
	return (HTTP_STATE_CONTINUE);
}

/*
 * /v1/messages: the Anthropic request becomes the OpenAI request the
 * rest of the relay routes (errors in Anthropic's shape and words).
 */
static int
relay_from_messages(struct relay *r)
{
	json_t	*oreq;
	char	 err[ROUTER_ERR_MAX];
	int	 status;

	err[0] = '\0';
	oreq = router_messages_request_to_openai(r->body, &status, err,
	    sizeof(err));
	if (oreq == NULL) {
		if (status == 400)
			tg_error(r->req, 400, "invalid_value", NULL, "%s", err);
		else
			tg_error_internal(r->req, "messages translation failed");
		return (0);
	}

	json_decref(r->body);
	r->body = oreq;
	return (1);
}

/*
 * /v1/responses: the request's references to stored items, its id and
 * whether it is stored; translation waits for the store when it names
 * any (relay_context).
 */
static int
relay_from_responses(struct relay *r)
{
	unsigned char	 rnd[24];
	const char	*param;
	char		 err[ROUTER_ERR_MAX];
	int		 status;

	r->rbody = r->body;
	r->body = NULL;
	if (!json_is_object(r->rbody)) {
		tg_error(r->req, 400, "invalid_value", NULL, "the request body "
		    "must be a JSON object");
		return (0);
	}

	err[0] = '\0';
	param = NULL;
	status = 0;
	r->refs = kore_calloc(1, sizeof(*r->refs));
	if (!router_responses_refs(r->rbody, r->refs, &status, &param, err,
	    sizeof(err))) {
		tg_error(r->req, status ? status : 400, "invalid_value", param,
		    "%s", err);
		return (0);
	}

	r->store = !json_is_false(json_object_get(r->rbody, "store"));
	randombytes_buf(rnd, sizeof(rnd));
	router_responses_make_id(NULL, rnd, sizeof(rnd), r->rid,
	    sizeof(r->rid));
	r->rcreated = (int64_t)time(NULL);
	return (1);
}

/* The stored context came: translate, then go on as chat does. */
static int
relay_context(struct http_request *req)
{
	struct relay	*r = tg_state(req);
	int		 rc;

	if ((rc = tg_db_wait(req, &r->db)) != HTTP_STATE_CONTINUE)
		return (rc);
	if (!router_respstore_loaded(&r->db, req, r->refs, &r->prior))
		return (HTTP_STATE_COMPLETE);
	tg_db_clear(&r->db);

	if (!relay_responses_translate(r) || !relay_check_chat(r))
		return (HTTP_STATE_COMPLETE);

	relay_call_setup(r);
	req->fsm_state = R_RESERVE;
	return (HTTP_STATE_CONTINUE);
}

/* The Responses request (with its prior context) -> r->body, chat. */
static int
relay_responses_translate(struct relay *r)
{
	const char	*code, *param;
	char		 err[ROUTER_ERR_MAX];
	int		 status;

	err[0] = '\0';
	code = param = NULL;
	status = 0;
	r->body = router_responses_request_to_openai(r->rbody, r->prior,
	    &status, &code, &param, err, sizeof(err));
	if (r->body == NULL) {
		if (status == 400)
			tg_error(r->req, 400, code != NULL ? code :
			    "invalid_value", param, "%s", err);
		else
			tg_error_internal(r->req, "responses translation "
			    "failed");
		return (0);
	}

	if (r->store && (r->rinput = router_responses_input_items(r->rbody,
	    r->prior)) == NULL) {
		tg_error_internal(r->req, "responses: the input did not "
		    "translate");
		return (0);
	}

	return (1);
}

static int
relay_check_chat(struct relay *r)
{
	struct router_problem	pb;

	if (!router_chat_check(r->body, &r->chat, &pb)) {
		tg_error(r->req, 400, pb.code, pb.param[0] ? pb.param : NULL,
		    "%s", pb.message);
		return (0);
	}
	r->stream = r->chat.stream;

	return (relay_resolve(r, r->chat.model));
}

static int
relay_check_embed(struct relay *r)
{
	struct router_embed_req	e;
	struct router_problem	pb;

	if (!router_embed_check(r->body, &e, &pb)) {
		tg_error(r->req, 400, pb.code, pb.param[0] ? pb.param : NULL,
		    "%s", pb.message);
		return (0);
	}
	r->chat.model = e.model;
	r->chat.prompt_bytes = e.prompt_bytes;
	r->chat.n = 1;

	return (relay_resolve(r, e.model));
}

static int
relay_resolve(struct relay *r, const char *model)
{
	struct tg_ctx	*ctx = tg_ctx(r->req);

	if (r->conf == NULL)
		r->conf = router_conf_hold();
	switch (router_catalog_resolve(r->conf->cat, model, r->kind,
	    &r->route)) {
	case ROUTER_RESOLVE_OK:
		break;
	case ROUTER_RESOLVE_WRONG_KIND:
		tg_error(r->req, 400, "invalid_value", "model",
		    "the model `%.200s` does not support %s", model,
		    r->kind == ROUTER_KIND_CHAT ? "chat completions" :
		    "embeddings");
		return (0);
	default:
		tg_error(r->req, 404, "model_not_found", "model",
		    "the model `%.200s` does not exist", model);
		return (0);
	}

	if (!router_route_allowed(&ctx->who, model, &r->route)) {
		tg_error(r->req, 403, "model_not_allowed", "model",
		    "this API key may not use the model `%.200s`", model);
		return (0);
	}

	return (1);
}

/* The record the meter reads, filled before reserve. */
static void
relay_call_setup(struct relay *r)
{
	struct router_call	*call;
	int			 i, endpoint;

	if (r->kind == ROUTER_KIND_EMBED)
		endpoint = ROUTER_ENDPOINT_EMBEDDINGS;
	else if (r->surface == ROUTER_SURFACE_ANTHROPIC)
		endpoint = ROUTER_ENDPOINT_MESSAGES;
	else if (r->surface == ROUTER_SURFACE_RESPONSES)
		endpoint = ROUTER_ENDPOINT_RESPONSES;
	else
		endpoint = ROUTER_ENDPOINT_CHAT;

	call = r->call = router_call_new(r->req, endpoint);
	(void)kore_strlcpy(call->model, r->chat.model, sizeof(call->model));
	call->ntargets = r->route.ntargets;
	for (i = 0; i < r->route.ntargets; i++) {
		(void)kore_strlcpy(call->targets[i].id, r->route.models[i]->id,
		    sizeof(call->targets[i].id));
		call->targets[i].max_output_tokens =
		    r->route.targets[i].max_output_tokens;
		if (r->chat.max_tokens == 0 && r->kind == ROUTER_KIND_CHAT &&
		    call->max_tokens < r->route.targets[i].max_output_tokens)
			call->max_tokens =
			    r->route.targets[i].max_output_tokens;
	}
	call->prompt_bytes = r->chat.prompt_bytes;
	call->messages = r->chat.messages;
	call->images = r->chat.images;
	call->n = r->chat.n;
	call->stream = r->stream;
	call->requested_max_tokens = r->chat.max_tokens;
	if (r->chat.max_tokens != 0)
		call->max_tokens = r->chat.max_tokens;
}

static int
relay_reserve(struct http_request *req)
{
	struct relay	*r = tg_state(req);

	if (router_meter != NULL && router_meter->reserve != NULL) {
		r->reserving = 1;
		switch (router_meter->reserve(req, r->call)) {
		case ROUTER_METER_WAIT:
			return (HTTP_STATE_RETRY);
		case ROUTER_METER_OK:
			break;
		default:
			r->reserving = 0;
			return (HTTP_STATE_COMPLETE);
		}
		if (r->call->max_tokens < 1 && r->kind == ROUTER_KIND_CHAT)
			r->call->max_tokens = 1;
	}

	req->fsm_state = R_ATTEMPT;
	return (HTTP_STATE_CONTINUE);
}

static const struct router_provider *
relay_provider(struct relay *r)
{
	return (r->route.targets[r->target].provider);
}

static int
relay_attempt(struct http_request *req)
{
	struct relay			*r = tg_state(req);
	const struct router_target	*t = &r->route.targets[r->target];
	const struct router_provider	*p = t->provider;
	char				 err[ROUTER_ERR_MAX];

	/* The stop's deadline came during reserve or a backoff. */
	if (r->drained) {
		r->abort_reason = ABORT_DRAIN;
		req->fsm_state = R_DONE;
		return (HTTP_STATE_CONTINUE);
	}

	relay_attempt_clear(r);

	/* Cooling: skipped, not failed; an earlier target's error stands. */
	if (!relay_admit(r)) {
		if (r->target + 1 < r->route.ntargets) {
			r->target++;
			r->tries = 0;
			return (HTTP_STATE_CONTINUE);
		}
		return (relay_fail(r));
	}

	memset(&r->err, 0, sizeof(r->err));
	r->status = 0;
	r->retry_after_ms = -1;
	r->no_retry = 0;
	r->called = 0;
	r->attempt_start = tg_now_us();

	if (!router_provider_usable(p)) {
		relay_error(r, p, 502, "upstream_error", "%s is not configured "
		    "(set %s)", p->name, p->key_env);
		r->status = 0;
		r->no_retry = 1;
		req->fsm_state = R_DONE;
		return (HTTP_STATE_CONTINUE);
	}

	relay_max_tokens(r, t);
	if (!relay_build(r, t, err, sizeof(err))) {
		/* The family cannot express this request: the client's. */
		r->err.status = 400;
		(void)kore_strlcpy(r->err.code, "invalid_value",
		    sizeof(r->err.code));
		(void)snprintf(r->err.message, sizeof(r->err.message),
		    "%s cannot take this request: %.400s", p->name, err);
		r->status = 400;
		req->fsm_state = R_DONE;
		return (HTTP_STATE_CONTINUE);
	}

	r->call->attempts++;
	r->call->target_used = r->target;
	r->called = 1;

	if (p->family->local != NULL) {
		if (!p->family->local(t, &r->http, r->stream, &r->local, err,
		    sizeof(err))) {
			relay_error(r, p, 502, "upstream_error", "%s failed: %s",
			    p->name, err);
			r->status = 500;
			req->fsm_state = R_DONE;
			return (HTTP_STATE_CONTINUE);
		}
		r->status = r->local.status;
		r->started = 1;
		r->last_byte = tg_now_us();
		req->fsm_state = R_LOCAL;
		return (HTTP_STATE_CONTINUE);
	}

	if (!relay_curl_start(r, t)) {
		relay_error(r, p, 502, "upstream_error", "%s could not be "
		    "called", p->name);
		req->fsm_state = R_DONE;
		return (HTTP_STATE_CONTINUE);
	}

	/*
	 * Not RETRY: a fast upstream on a kept-alive connection may have
	 * answered inside tg_curl_run(), waking this request while it
	 * ran; asleep or not, relay_wait() decides. A RETRY would leave
	 * a woken request unseen until Kore's loop next wakes up (the
	 * next timer, up to 100 ms later). The watchdog was armed in
	 * relay_curl_start() and re-armed by the first byte.
	 */
	req->fsm_state = R_WAIT;
	return (HTTP_STATE_CONTINUE);
}

/*
 * max_tokens for this target: the call's bound (the meter may have
 * lowered it) within the model's cap. Sent when the client set one or
 * when it is below the cap (a clamp is never dropped); otherwise the
 * provider's default stands.
 */
static void
relay_max_tokens(struct relay *r, const struct router_target *t)
{
	const char	*field;
	int64_t		 eff;

	if (r->kind != ROUTER_KIND_CHAT)
		return;

	eff = r->call->max_tokens;
	if (t->max_output_tokens > 0 && eff > t->max_output_tokens)
		eff = t->max_output_tokens;

	/*
	 * The client's own field on /v1/chat/completions; otherwise (it
	 * sent none, or it spoke Anthropic's API, whose max_tokens means
	 * nothing to an OpenAI server) the provider's max_tokens_field.
	 */
	field = t->provider->max_tokens_field != NULL ?
	    t->provider->max_tokens_field : "max_tokens";
	if (r->chat.max_tokens_field != NULL &&
	    r->surface == ROUTER_SURFACE_OPENAI)
		field = r->chat.max_tokens_field;
	if (r->chat.max_tokens != 0 || eff < t->max_output_tokens) {
		json_object_del(r->body, !strcmp(field, "max_tokens") ?
		    "max_completion_tokens" : "max_tokens");
		json_object_set_new(r->body, field, json_integer(eff));
	} else {
		json_object_del(r->body, "max_tokens");
		json_object_del(r->body, "max_completion_tokens");
	}
}

static int
relay_build(struct relay *r, const struct router_target *t, char *err,
    size_t errlen)
{
	const struct router_family	*f = t->provider->family;

	err[0] = '\0';
	if (r->kind == ROUTER_KIND_EMBED) {
		if (f->embed_request == NULL) {
			(void)snprintf(err, errlen, "no embeddings");
			return (0);
		}
		return (f->embed_request(t, r->body, &r->http, err, errlen));
	}

	return (f->chat_request(t, r->body, r->stream, &r->http, err,
	    errlen));
}

static int
relay_curl_start(struct relay *r, const struct router_target *t)
{
	const struct router_provider	*p = t->provider;
	int				 i;

	if (!kore_curl_init(&r->curl, r->http.url, KORE_CURL_ASYNC)) {
		kore_log(LOG_ERR, "rid=%s curl init for %s failed",
		    tg_request_id(r->req), p->name);
		return (0);
	}

	tg_curl_defaults(r->curl.handle, p->connect_ms, p->total_ms);
	kore_curl_http_setup(&r->curl, HTTP_METHOD_POST, NULL, 0);
	relay_curl_body(r);
	for (i = 0; i < r->http.nheaders; i++)
		tg_curl_header(&r->curl, r->http.headers[i]);

	curl_easy_setopt(r->curl.handle, CURLOPT_WRITEFUNCTION, relay_write);
	curl_easy_setopt(r->curl.handle, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->curl.handle, CURLOPT_HEADERFUNCTION, relay_header);
	curl_easy_setopt(r->curl.handle, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->curl.handle, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(r->curl.handle, CURLOPT_USERAGENT, "tollgate");

	kore_curl_bind_request(&r->curl, r->req);
	r->curl_live = 1;
	/* Keepalives count from the call's start, across attempts. */
	if (r->keepalive_at == 0)
		r->keepalive_at = tg_ctx(r->req)->start_us +
		    (u_int64_t)p->keepalive_ms * 1000;
	/* Armed first: the first byte may come inside tg_curl_run(). */
	relay_watch(r, p->first_byte_ms);
	tg_curl_run(&r->curl);

	return (1);
}

/*
 * The body straight from r->http (which outlives the transfer: it is
 * freed after kore_curl_cleanup, in relay_attempt_clear and relay_free)
 * rather than through Kore's read callback: no copy, and curl sends a
 * small body in the same write as the headers, one segment instead of
 * two. The bytes on the wire are the same.
 */
static void
relay_curl_body(struct relay *r)
{
	curl_easy_setopt(r->curl.handle, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)r->http.body_len);
	curl_easy_setopt(r->curl.handle, CURLOPT_POSTFIELDS, r->http.body);
}

/* Response header lines: the first byte, and Retry-After. */
static size_t
relay_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct relay	*r = arg;
	size_t		 len = size * nmemb;
	char		 v[64];
	size_t		 n;
	u_int64_t	 now;
	const struct router_provider *p;

	/* One clock read per line: curl calls this for every header. */
	now = tg_now_us();
	if (!r->started) {
		r->started = 1;
		p = relay_provider(r);
		tg_metrics_observe(router_metric_first_byte[p->index],
		    (double)(now - r->attempt_start) / 1e6);
		if (r->call->first_byte_ms == 0)
			r->call->first_byte_ms = (now -
			    tg_ctx(r->req)->start_us) / 1000;
	}
	r->last_byte = now;

	if (len >= 5 && !strncmp(ptr, "HTTP/", 5))
		r->retry_after_ms = -1;
	if (len > 12 && len < 12 + sizeof(v) &&
	    !strncasecmp(ptr, "retry-after:", 12)) {
		n = len - 12;
		memcpy(v, ptr + 12, n);
		while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n'))
			n--;
		/* A NUL inside the value is garbage, not its end. */
		if (memchr(v, '\0', n) == NULL) {
			v[n] = '\0';
			r->retry_after_ms = router_retry_after_ms(v,
			    time(NULL));
		}
	}

	return (len);
}

/*
 * Body bytes. A streamed 2xx answer is parsed and relayed right here;
 * anything else (whole answers, error answers) is buffered. Returning
 * less than len aborts the transfer (CURLE_WRITE_ERROR).
 */
static size_t
relay_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct relay	*r = arg;
	size_t		 len = size * nmemb;
	size_t		 max;

	r->last_byte = tg_now_us();
	if (r->status == 0)
		curl_easy_getinfo(r->curl.handle, CURLINFO_RESPONSE_CODE,
		    &r->status);

	/*
	 * The first byte of the answer (headers alone are no progress: a
	 * reasoning model may send them long before its first event).
	 * From now on a stream may be silent idle_ms at most; a whole
	 * answer has curl's total.
	 */
	if (!r->body_started) {
		r->body_started = 1;
		if (r->stream)
			relay_watch(r, relay_provider(r)->idle_ms);
		else
			relay_timer_stop(r);
	}

	if (!r->stream || r->status < 200 || r->status > 299) {
		max = (r->status >= 200 && r->status <= 299) ? ANSWER_MAX :
		    ERROR_BODY_MAX;
		if (r->body_buf == NULL)
			r->body_buf = kore_buf_alloc(len > 4096 ? len : 4096);
		if (r->body_buf->offset + len > max) {
			r->abort_reason = ABORT_TOO_LARGE;
			return (0);
		}
		kore_buf_append(r->body_buf, ptr, len);
		return (len);
	}

	if (!relay_feed(r, ptr, len))
		return (0);
	return (len);
}

/*
 * Stream bytes from the upstream (network or echo): parse events,
 * translate them, send what came out to the client in one write.
 * Returns 0 to stop the transfer (abort_reason says why).
 */
static int
relay_feed(struct relay *r, const char *p, size_t len)
{
	const struct router_family	*f = relay_provider(r)->family;
	struct router_sse_event		 ev;
	ssize_t				 n;
	int				 ok;

	ok = 1;
	while (len > 0) {
		n = router_sse_parse(&r->sse, p, len, &ev);
		if (n == ROUTER_SSE_NEED_MORE)
			break;
		if (n == ROUTER_SSE_BAD) {
			(void)kore_strlcpy(r->st.error, "an event over the size "
			    "limit", sizeof(r->st.error));
			r->abort_reason = ABORT_BAD_STREAM;
			ok = 0;
			break;
		}
		p += n;
		len -= n;
		if (!f->stream_event(&r->st, ev.event[0] ? ev.event : NULL,
		    ev.data, ev.data_len, r->chunks)) {
			r->abort_reason = ABORT_BAD_STREAM;
			ok = 0;
			break;
		}
		if (r->st.failed) {
			r->abort_reason = ABORT_UPSTREAM_ERROR;
			ok = 0;
			break;
		}
	}

	if (!relay_emit(r)) {
		r->abort_reason = ABORT_CLIENT;
		return (0);
	}

	return (ok);
}

/*
 * The translated chunks, as the client's surface wants them. Until the
 * first content the preamble (OpenAI's role chunk, what message_start
 * became, anything without content) is held back in r->chunks: no byte
 * has gone out, so an upstream failure before any content still falls
 * back to the next target (relay_done) and costs nothing. The held
 * chunks go out ahead of the first content, or at the end of a stream
 * that had none (relay_done).
 */
static int
relay_emit(struct relay *r)
{
	if (json_array_size(r->chunks) == 0)
		return (1);
	if (!r->headers_sent && !router_chunks_have_content(r->chunks))
		return (1);

	return (relay_emit_all(r));
}

/* Sends every chunk in r->chunks (the headers first). */
static int
relay_emit_all(struct relay *r)
{
	json_t	*c;
	size_t	 i;
	char	*s;
	int	 ok;

	if (json_array_size(r->chunks) == 0)
		return (1);

	if (r->surface == ROUTER_SURFACE_ANTHROPIC) {
		r->xout.len = 0;
		/* message_start carries the input tokens known so far */
		router_messages_stream_usage(&r->ms, &r->st.usage);
		json_array_foreach(r->chunks, i, c) {
			if (!router_messages_stream_chunk(&r->ms, c, &r->xout))
				kore_log(LOG_ERR, "rid=%s messages: a chunk did "
				    "not translate", tg_request_id(r->req));
		}
		json_array_clear(r->chunks);
		ok = relay_send(r, r->xout.data, r->xout.len);
		r->xout.len = 0;
		return (ok);
	}

	if (r->surface == ROUTER_SURFACE_RESPONSES) {
		r->xout.len = 0;
		json_array_foreach(r->chunks, i, c) {
			if (!router_responses_stream_chunk(&r->rs, c, &r->xout))
				kore_log(LOG_ERR, "rid=%s responses: a chunk "
				    "did not translate", tg_request_id(r->req));
		}
		json_array_clear(r->chunks);
		ok = relay_send(r, r->xout.data, r->xout.len);
		r->xout.len = 0;
		return (ok);
	}

	kore_buf_reset(r->out);
	json_array_foreach(r->chunks, i, c) {
		if ((s = json_dumps(c, JSON_COMPACT)) == NULL)
			continue;
		kore_buf_append(r->out, "data: ", 6);
		kore_buf_append(r->out, s, strlen(s));
		kore_buf_append(r->out, "\n\n", 2);
		free(s);
	}
	json_array_clear(r->chunks);

	ok = relay_send(r, r->out->data, r->out->offset);
	kore_buf_reset(r->out);
	return (ok);
}

/*
 * One write of stream events to the client (headers first): from now
 * on a failure can no longer fall back to another target.
 */
static int
relay_send(struct relay *r, const void *data, size_t len)
{
	struct connection	*c = r->req->owner;

	if (c == NULL || c->state != CONN_STATE_ESTABLISHED ||
	    (r->req->flags & HTTP_REQUEST_DELETE))
		return (0);
	r->headers_sent = 1;

	return (relay_write_client(r, data, len));
}

/*
 * An SSE comment while the stream waits for its first content, so that
 * a proxy does not cut a silent connection. It commits the 200 and the
 * SSE headers but not the answer: the fallback window stays open, and
 * a failure of every target ends the stream with its error event
 * (relay_fail).
 */
static void
relay_keepalive(struct relay *r)
{
	const struct router_provider	*p = relay_provider(r);
	struct connection		*c = r->req->owner;
	u_int64_t			 now;

	if (!r->stream || r->headers_sent || p->keepalive_ms <= 0)
		return;
	now = tg_now_us();
	if (now < r->keepalive_at)
		return;
	r->keepalive_at = now + (u_int64_t)p->keepalive_ms * 1000;

	if (c == NULL || c->state != CONN_STATE_ESTABLISHED ||
	    (r->req->flags & HTTP_REQUEST_DELETE))
		return;
	if (r->surface == ROUTER_SURFACE_RESPONSES) {
		r->xout.len = 0;
		if (router_responses_stream_ping(&r->xout))
			(void)relay_write_client(r, r->xout.data, r->xout.len);
		r->xout.len = 0;
		return;
	}
	(void)relay_write_client(r, ": keepalive\n\n", 13);
}

/* Bytes to the client, after the status line and headers once. */
static int
relay_write_client(struct relay *r, const void *data, size_t len)
{
	struct connection	*c = r->req->owner;
	char			 hdr[24];
	int			 n;

	if (!r->committed)
		relay_headers(r);
	if (len == 0)
		return (1);

	if (r->chunked) {
		n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
		net_send_queue(c, hdr, n);
		net_send_queue(c, data, len);
		net_send_queue(c, "\r\n", 2);
	} else {
		net_send_queue(c, data, len);
	}
	tg_ctx(r->req)->bytes_out += len;

	if (!net_send_flush(c)) {
		kore_connection_disconnect(c);
		return (0);
	}

	return (1);
}

/* The stream's status line and headers (docs/kore.md, "Streaming" 1 and 3). */
static void
relay_headers(struct relay *r)
{
	struct http_request	*req = r->req;
	struct connection	*c = req->owner;

	r->committed = 1;
	http_response_header(req, "content-type", "text/event-stream");
	http_response_header(req, "cache-control", "no-cache");
	http_response_header(req, "x-accel-buffering", "no");
	if (!(req->flags & HTTP_VERSION_1_0)) {
		http_response_header(req, "transfer-encoding", "chunked");
		r->chunked = 1;
	}
	req->flags |= HTTP_REQUEST_NO_CONTENT_LENGTH;
	http_response(req, 200, NULL, 0);
	tg_stream_opened(req);

	c->http_timeout = 0;
	if (c->flags & CONN_CLOSE_EMPTY) {
		r->close_after = 1;
		c->flags &= ~CONN_CLOSE_EMPTY;
	}
}

/* The stream's end: the last chunk frame; keep-alive as before. */
static void
relay_stream_end(struct relay *r)
{
	struct connection	*c = r->req->owner;

	if (c == NULL || !r->committed)
		return;

	if (r->chunked)
		net_send_queue(c, "0\r\n\r\n", 5);
	if (r->close_after || !r->chunked)
		c->flags |= CONN_CLOSE_EMPTY;
	c->http_start = kore_time_ms();
	c->http_timeout = http_header_timeout * 1000;
}

static int
relay_wait(struct http_request *req)
{
	struct relay	*r = tg_state(req);

	if (r->curl_live && r->curl.handle != NULL) {
		/* Not done yet (a stray wakeup): sleep again. */
		http_request_sleep(req);
		return (HTTP_STATE_RETRY);
	}

	req->fsm_state = R_DONE;
	return (HTTP_STATE_CONTINUE);
}

/*
 * The echo answer: a whole answer at once; a stream one event at a
 * time, paced by the provider's chunk_delay_ms (none: all at once).
 */
static int
relay_local(struct http_request *req)
{
	struct relay			*r = tg_state(req);
	const struct router_provider	*p = relay_provider(r);
	const char			*base, *end;
	size_t				 n;

	if (!r->stream || r->status < 200 || r->status > 299) {
		r->body_buf = kore_buf_alloc(r->local.body_len + 1);
		kore_buf_append(r->body_buf, r->local.body, r->local.body_len);
		req->fsm_state = R_DONE;
		return (HTTP_STATE_CONTINUE);
	}

	while (r->local_off < r->local.body_len) {
		if (r->drained) {
			r->abort_reason = ABORT_DRAIN;
			break;
		}
		base = r->local.body + r->local_off;
		n = r->local.body_len - r->local_off;
		if (p->chunk_delay_ms > 0 &&
		    (end = memmem(base, n, "\n\n", 2)) != NULL)
			n = end + 2 - base;
		r->local_off += n;
		r->last_byte = tg_now_us();
		if (!relay_feed(r, base, n)) {
			r->local_off = r->local.body_len;
			break;
		}
		if (p->chunk_delay_ms > 0 &&
		    r->local_off < r->local.body_len) {
			relay_timer(r, TIMER_WAKE, p->chunk_delay_ms);
			http_request_sleep(req);
			return (HTTP_STATE_RETRY);
		}
	}

	req->fsm_state = R_DONE;
	return (HTTP_STATE_CONTINUE);
}

/*
 * Judges the attempt that just ended and decides what comes next:
 * success, the same target again, the next target, or the end.
 */
static int
relay_done(struct http_request *req)
{
	struct relay			*r = tg_state(req);
	const struct router_target	*t = &r->route.targets[r->target];
	const struct router_provider	*p = t->provider;
	long				 wait;
	int				 ok;

	relay_timer_stop(r);

	/* The client left mid-stream: nobody to answer, settle and end. */
	if (r->abort_reason == ABORT_CLIENT) {
		r->usage = r->st.usage;
		relay_outcome(r, ROUTER_OUTCOME_CLIENT_GONE, 499);
		relay_attempt_clear(r);
		if (!r->committed)
			req->status = 499;
		return (HTTP_STATE_COMPLETE);
	}

	if (r->abort_reason == ABORT_DRAIN)
		return (relay_drained(r));

	ok = relay_judge(r, t);
	tg_metrics_observe(router_metric_latency[p->index],
	    (double)(tg_now_us() - r->attempt_start) / 1e6);
	if (!ok)
		tg_metrics_add(router_metric_errors[p->index], 1);
	relay_verdict(r, ok);

	/* A stream without content: its held-back preamble goes now. */
	if (ok && r->stream)
		(void)relay_emit_all(r);
	relay_attempt_clear(r);

	if (ok) {
		req->fsm_state = R_SETTLE;
		return (HTTP_STATE_CONTINUE);
	}

	router_scrub(r->err.message, p->api_key);
	kore_log(LOG_NOTICE, "rid=%s upstream %s:%s attempt %d: %d %s",
	    tg_request_id(req), p->name, t->model, r->call->attempts,
	    r->err.status, r->err.message);

	/* Bytes went out: no fallback, the stream ends with the error. */
	if (r->headers_sent) {
		relay_cut(r, ROUTER_OUTCOME_STREAM_CUT);
		return (HTTP_STATE_COMPLETE);
	}

	if (!router_error_retryable(r->status) || r->err.status == 400) {
		return (relay_fail(r));
	}

	/*
	 * The same target again, after a backoff (Retry-After first),
	 * unless this failure made it cool down.
	 */
	if (r->tries < p->retries && !r->no_retry &&
	    !relay_cooler(r)->cooling) {
		wait = p->backoff_ms << r->tries;
		if (r->retry_after_ms >= 0 && r->status == 429)
			wait = r->retry_after_ms;
		if (wait <= p->retry_after_cap_ms) {
			r->tries++;
			r->wait_ms = wait;
			req->fsm_state = R_BACKOFF;
			return (HTTP_STATE_CONTINUE);
		}
	}

	if (r->target + 1 < r->route.ntargets) {
		r->target++;
		r->tries = 0;
		req->fsm_state = R_ATTEMPT;
		return (HTTP_STATE_CONTINUE);
	}

	return (relay_fail(r));
}

/*
 * Returns 1 when the attempt produced a good answer (r->answer for a
 * whole one, a finished stream otherwise), else fills r->err.
 */
static int
relay_judge(struct relay *r, const struct router_target *t)
{
	const struct router_provider	*p = t->provider;
	const struct router_family	*f = p->family;
	const u_int8_t			*body;
	size_t				 len;
	char				 err[ROUTER_ERR_MAX];

	if (r->err.status != 0)
		return (0);	/* decided in relay_attempt */

	switch (r->abort_reason) {
	case ABORT_FIRST_BYTE:
		r->status = 504;
		relay_error(r, p, 504, "upstream_timeout", "%s did not answer "
		    "within %ld ms", p->name, p->first_byte_ms);
		return (0);
	case ABORT_IDLE:
		r->status = 504;
		relay_error(r, p, 504, "upstream_timeout", "%s stalled for %ld "
		    "ms", p->name, p->idle_ms);
		return (0);
	case ABORT_TOO_LARGE:
		r->status = 400;
		relay_error(r, p, 502, "upstream_error", "%s sent an answer "
		    "over the size limit", p->name);
		return (0);
	case ABORT_BAD_STREAM:
		r->status = 502;
		relay_error(r, p, 502, "upstream_error", "%s sent a malformed "
		    "stream: %s", p->name, r->st.error);
		return (0);
	case ABORT_UPSTREAM_ERROR:
		r->status = 502;
		relay_error(r, p, 502, "upstream_error", "%s failed "
		    "mid-stream: %s", p->name, r->st.error);
		return (0);
	}

	if (p->family->local == NULL && !kore_curl_success(&r->curl)) {
		kore_log(LOG_NOTICE, "rid=%s %s: %s", tg_request_id(r->req),
		    p->name, kore_curl_strerror(&r->curl));
		if (r->curl.result == CURLE_OPERATION_TIMEDOUT) {
			r->status = 504;
			relay_error(r, p, 504, "upstream_timeout", "%s timed "
			    "out", p->name);
		} else if (r->started) {
			/* An answer (often a stream) cut by the upstream. */
			r->status = 502;
			relay_error(r, p, 502, "upstream_error", "%s ended the "
			    "answer early (the connection closed)", p->name);
		} else {
			r->status = 0;
			relay_error(r, p, 502, "upstream_error", "%s could not "
			    "be reached", p->name);
		}
		return (0);
	}

	body = NULL;
	len = 0;
	if (r->body_buf != NULL) {
		body = r->body_buf->data;
		len = r->body_buf->offset;
	}

	if (r->status < 200 || r->status > 299) {
		struct router_error	e;

		/* Families never name themselves (router_error_map). */
		f->map_error(r->status, (const char *)body, len, &e);
		relay_error(r, p, e.status, e.code, "%s %s", p->name,
		    e.message);
		r->err.retry_after_ms = r->retry_after_ms;
		return (0);
	}

	if (!r->stream) {
		if (r->kind == ROUTER_KIND_EMBED) {
			/*
			 * A family whose provider reports no usage (gemini)
			 * keeps this estimate, unreported: the prompt bound
			 * the meter then bills (credits_prompt_bound).
			 */
			memset(&r->usage, 0, sizeof(r->usage));
			r->usage.prompt_tokens = r->chat.prompt_bytes > 0 ?
			    (int64_t)r->chat.prompt_bytes : 1;
		}
		r->answer = r->kind == ROUTER_KIND_CHAT ?
		    f->chat_response(t, (const char *)body, len, &r->usage,
		    err, sizeof(err)) :
		    f->embed_response(t, (const char *)body, len, &r->usage,
		    err, sizeof(err));
		if (r->answer != NULL && r->kind == ROUTER_KIND_EMBED &&
		    !relay_embed_format(r)) {
			json_decref(r->answer);
			r->answer = NULL;
			(void)snprintf(err, sizeof(err), "an embedding is not "
			    "a list of numbers");
		}
		if (r->answer == NULL) {
			r->status = 502;
			relay_error(r, p, 502, "upstream_error", "%s sent a "
			    "malformed answer: %s", p->name, err);
			return (0);
		}
		return (1);
	}

	if (!r->st.done && r->st.finish_reason[0] == '\0') {
		r->status = 502;
		relay_error(r, p, 502, "upstream_error", "%s ended the stream "
		    "early", p->name);
		return (0);
	}

	r->usage = r->st.usage;
	return (1);
}

/*
 * encoding_format "base64" (what the OpenAI SDKs ask for by default, and
 * decode as little-endian float32) for a provider that answered floats
 * anyway (gemini, servers that ignore the field). 0 on a malformed list.
 */
static int
relay_embed_format(struct relay *r)
{
	const char	*fmt;
	json_t		*first;

	fmt = json_string_value(json_object_get(r->body, "encoding_format"));
	if (fmt == NULL || strcmp(fmt, "base64"))
		return (1);
	first = json_array_get(json_object_get(r->answer, "data"), 0);
	if (!json_is_array(json_object_get(first, "embedding")))
		return (1);	/* already encoded by the provider */

	return (router_xlate_embeddings_base64(r->answer));
}

/* Releases what one attempt holds; keeps the stream if bytes went out. */
static void
relay_attempt_clear(struct relay *r)
{
	const struct router_target	*t = &r->route.targets[r->target];
	struct tg_ctx			*ctx = tg_ctx(r->req);

	if (r->curl_live) {
		kore_curl_cleanup(&r->curl);
		r->curl_live = 0;
	}
	router_http_free(&r->http);
	free(r->local.body);
	memset(&r->local, 0, sizeof(r->local));
	r->local_off = 0;
	if (r->body_buf != NULL) {
		kore_buf_free(r->body_buf);
		r->body_buf = NULL;
	}
	r->abort_reason = ABORT_NONE;
	r->started = 0;
	r->body_started = 0;

	if (r->headers_sent)
		return;

	/* A fresh stream for the next attempt. */
	router_sse_free(&r->sse);
	memset(&r->st, 0, sizeof(r->st));
	r->st.target = t;
	(void)snprintf(r->st.id, sizeof(r->st.id), "chatcmpl-%.50s",
	    ctx->request_id);
	(void)kore_strlcpy(r->st.model, t->model, sizeof(r->st.model));
	r->st.created = (int64_t)time(NULL);
	if (!r->stream)
		return;		/* chunks and out carry stream events only */

	if (r->chunks == NULL)
		r->chunks = json_array();
	json_array_clear(r->chunks);
	if (r->surface == ROUTER_SURFACE_ANTHROPIC) {
		memset(&r->ms, 0, sizeof(r->ms));
		router_messages_stream_init(&r->ms, ctx->request_id,
		    r->chat.model);
	}
	if (r->surface == ROUTER_SURFACE_RESPONSES) {
		router_responses_stream_free(&r->rs);
		if (!router_responses_stream_init(&r->rs, r->rid,
		    r->chat.model, r->rcreated, r->rbody))
			kore_log(LOG_ERR, "rid=%s responses: stream state "
			    "failed", tg_request_id(r->req));
	}
	if (r->out == NULL)
		r->out = kore_buf_alloc(4096);
}

static void
relay_error(struct relay *r, const struct router_provider *p, int status,
    const char *code, const char *fmt, ...)
{
	va_list	ap;
	char	msg[ROUTER_ERR_MAX];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	r->err.status = status;
	(void)kore_strlcpy(r->err.code, code, sizeof(r->err.code));
	(void)kore_strlcpy(r->err.message, msg, sizeof(r->err.message));
	router_scrub(r->err.message, p->api_key);
}

/*
 * The final error, before any content went out: an error answer, or,
 * once keepalives committed the stream's 200, its error event.
 */
static int
relay_fail(struct relay *r)
{
	int	secs;

	if (r->committed) {
		if (r->err.status == 0)
			relay_error(r, relay_provider(r), 503, "unavailable",
			    "every target of `%.200s` is cooling down after "
			    "repeated upstream failures", r->chat.model);
		relay_cut(r, r->err.status == 504 ? ROUTER_OUTCOME_TIMEOUT :
		    ROUTER_OUTCOME_UPSTREAM_ERROR);
		return (HTTP_STATE_COMPLETE);
	}

	/* No target was tried: every one is cooling down. */
	if (r->err.status == 0) {
		secs = (int)((r->cool_wait_ms + 999) / 1000);
		if (secs < 1)
			secs = 1;
		tg_error_retry(r->req, 503, "unavailable", secs, "every "
		    "target of `%.200s` is cooling down after repeated "
		    "upstream failures; retry in %d s", r->chat.model, secs);
		relay_outcome(r, ROUTER_OUTCOME_UPSTREAM_ERROR, 503);
		return (HTTP_STATE_COMPLETE);
	}

	if (r->err.status == 429) {
		secs = r->err.retry_after_ms > 0 ?
		    (int)((r->err.retry_after_ms + 999) / 1000) : 1;
		tg_error_retry(r->req, 429, r->err.code, secs, "%s",
		    r->err.message);
	} else {
		tg_error(r->req, r->err.status, r->err.code, NULL, "%s",
		    r->err.message);
	}

	relay_outcome(r, r->err.status == 504 ? ROUTER_OUTCOME_TIMEOUT :
	    ROUTER_OUTCOME_UPSTREAM_ERROR, r->err.status);
	return (HTTP_STATE_COMPLETE);
}

/*
 * A stream ended after bytes went out (an upstream failure, the stop):
 * the error event, and [DONE] on chat completions.
 */
static void
relay_cut(struct relay *r, int outcome)
{
	json_t	*e;
	char	*s;

	if (r->surface == ROUTER_SURFACE_RESPONSES) {
		relay_responses_cut(r);
		r->usage = r->st.usage;
		relay_outcome(r, outcome, 200);
		return;
	}

	kore_buf_reset(r->out);
	e = tg_error_body(r->req, r->err.status, r->err.code, NULL,
	    r->err.message);
	if (e != NULL && (s = json_dumps(e, JSON_COMPACT)) != NULL) {
		/* Anthropic names its events; [DONE] is OpenAI's alone. */
		if (r->surface == ROUTER_SURFACE_ANTHROPIC)
			kore_buf_appendf(r->out, "event: error\ndata: %s\n\n",
			    s);
		else
			kore_buf_appendf(r->out, "data: %s\n\n", s);
		free(s);
	}
	json_decref(e);
	if (r->surface != ROUTER_SURFACE_ANTHROPIC)
		kore_buf_append(r->out, "data: [DONE]\n\n", 14);
	(void)relay_send(r, r->out->data, r->out->offset);
	relay_stream_end(r);

	r->usage = r->st.usage;
	relay_outcome(r, outcome, 200);
}

/*
 * The call was open at the stop's deadline (relay_drain): it ends as its
 * surface ends a failure and is settled as a call the client left: by
 * estimate for what it used (the prompt bound and the text received),
 * or nothing when no upstream call was made.
 */
static int
relay_drained(struct relay *r)
{
	relay_attempt_clear(r);
	r->usage = r->st.usage;

	if (r->committed) {
		r->err.status = 503;
		(void)kore_strlcpy(r->err.code, "unavailable",
		    sizeof(r->err.code));
		(void)kore_strlcpy(r->err.message, "the server is shutting "
		    "down; the answer was cut short", sizeof(r->err.message));
		relay_cut(r, ROUTER_OUTCOME_CLIENT_GONE);
		return (HTTP_STATE_COMPLETE);
	}

	tg_error_retry(r->req, 503, "unavailable", DRAIN_RETRY_SECS, "the "
	    "server is shutting down; retry the request");
	relay_outcome(r, ROUTER_OUTCOME_CLIENT_GONE, 503);
	return (HTTP_STATE_COMPLETE);
}

/* The stop's deadline (core/drain.c): every open call ends now. */
static void
relay_drain(void)
{
	struct relay	*r;

	TAILQ_FOREACH(r, &relay_open, open)
		relay_drain_one(r);
}

static void
relay_drain_one(struct relay *r)
{
	if (r->drained)
		return;
	if (tg_drain_call_end(r->settle_called, r->committed) ==
	    TG_DRAIN_CALL_FINISH)
		return;
	r->drained = 1;

	/* Not asleep, or asleep on the meter: relay_attempt() sees it. */
	if (r->req->fsm_state <= R_RESERVE)
		return;

	if (r->curl_live && r->curl.handle != NULL) {
		relay_abort(r, ABORT_DRAIN);
		return;
	}
	/*
	 * A backoff or the echo's pacing: woken now, it ends. (A transfer
	 * that is over was judged as it is: its answer came in time.)
	 */
	relay_timer_stop(r);
	http_request_wakeup(r->req);
}

/* Fills the outcome of the call and hands it to the meter. */
static void
relay_outcome(struct relay *r, int outcome, int status)
{
	struct router_call	*call = r->call;

	if (call == NULL || r->settle_called)
		return;
	r->settle_called = 1;

	call->outcome = outcome;
	call->status = status;
	call->usage = r->usage;
	call->text_bytes = r->st.text_bytes;
	call->ended_early = outcome == ROUTER_OUTCOME_STREAM_CUT ||
	    outcome == ROUTER_OUTCOME_CLIENT_GONE;
	call->latency_ms = (tg_now_us() - tg_ctx(r->req)->start_us) / 1000;
	if (outcome == ROUTER_OUTCOME_NOT_STARTED)
		call->target_used = -1;

	router_call_settle(call);
	relay_access(r);
}

/* The call as the access line shows it (the cost once it is known). */
static void
relay_access(struct relay *r)
{
	struct router_call	*call = r->call;
	const char		*model;

	model = call->target_used >= 0 && call->target_used < call->ntargets ?
	    call->targets[call->target_used].id : call->model;
	tg_access_call(r->req, model, r->usage.prompt_tokens,
	    r->usage.completion_tokens, call->settled ? call->cost_micros : -1,
	    call->attempts);
}

/* --- cooldowns -------------------------------------------------------- */

static struct router_cooldown *
relay_cooler(struct relay *r)
{
	return (router_conf_cooler(r->conf, r->route.models[r->target]));
}

/* Whether the current target may be tried (0: it is cooling down). */
static int
relay_admit(struct relay *r)
{
	const struct router_provider	*p = relay_provider(r);
	u_int64_t			 wait;

	wait = 0;
	switch (router_cooldown_admit(relay_cooler(r), tg_now_us() / 1000,
	    p->cooldown_ms, &wait)) {
	case ROUTER_COOL_SKIP:
		if (r->cool_wait_ms == 0 || wait < r->cool_wait_ms)
			r->cool_wait_ms = wait;
		return (0);
	case ROUTER_COOL_PROBE:
		kore_log(LOG_NOTICE, "rid=%s %s is probed after its cooldown",
		    tg_request_id(r->req), r->route.models[r->target]->id);
		break;
	}

	return (1);
}

/*
 * The attempt's verdict for the target's breaker: a failure is one that
 * made us fall back before any content (no answer, a timeout, 408, 429,
 * 5xx, a bad stream); any answer, a refusal of the client's request
 * included, is a success. A stream cut after content is neither.
 */
static void
relay_verdict(struct relay *r, int ok)
{
	const struct router_provider	*p = relay_provider(r);
	struct router_cooldown		*c = relay_cooler(r);

	if (!r->called)
		return;
	if (!ok && r->headers_sent)
		return;

	if (ok || !router_cooldown_failure_status(r->status)) {
		if (router_cooldown_success(c))
			tg_metrics_add(router_metric_cooling[p->index], -1);
		return;
	}

	switch (router_cooldown_failure(c, tg_now_us() / 1000,
	    p->cooldown_after, p->cooldown_ms)) {
	case ROUTER_COOL_OPENED:
		tg_metrics_add(router_metric_cooling[p->index], 1);
		/* FALLTHROUGH */
	case ROUTER_COOL_REOPENED:
		tg_metrics_add(router_metric_cooldowns[p->index], 1);
		kore_log(LOG_NOTICE, "rid=%s %s cools down for %ld ms after "
		    "%d failures", tg_request_id(r->req),
		    r->route.models[r->target]->id, p->cooldown_ms,
		    c->failures);
		break;
	}
}

static int
relay_backoff(struct http_request *req)
{
	struct relay	*r = tg_state(req);

	if (r->wait_ms > 0) {
		relay_timer(r, TIMER_WAKE, r->wait_ms);
		r->wait_ms = 0;
		http_request_sleep(req);
		return (HTTP_STATE_RETRY);
	}

	req->fsm_state = R_ATTEMPT;
	return (HTTP_STATE_CONTINUE);
}

/*
 * The call succeeded: settle it. A whole answer and a stream whose
 * client asked for usage carry the cost, so they wait for the meter
 * (at most SETTLE_WAIT_MS).
 */
static int
relay_settle(struct http_request *req)
{
	struct relay	*r = tg_state(req);
	int		 need_cost;

	if (!r->settle_called)
		relay_outcome(r, ROUTER_OUTCOME_OK, 200);

	need_cost = !r->stream || (r->surface == ROUTER_SURFACE_OPENAI &&
	    r->chat.include_usage) || r->surface == ROUTER_SURFACE_RESPONSES;
	if (need_cost && !r->call->settled && !r->settle_timed_out) {
		r->call->waiter = req;
		if (r->timer == NULL)
			relay_timer(r, TIMER_SETTLE, SETTLE_WAIT_MS);
		http_request_sleep(req);
		return (HTTP_STATE_RETRY);
	}

	relay_timer_stop(r);
	r->call->waiter = NULL;
	if (r->settle_timed_out && !r->call->settled)
		kore_log(LOG_ERR, "rid=%s the meter did not settle within "
		    "%d ms; cost reported as 0", tg_request_id(req),
		    SETTLE_WAIT_MS);

	req->fsm_state = R_REPLY;
	return (HTTP_STATE_CONTINUE);
}

static int
relay_reply(struct http_request *req)
{
	struct relay	*r = tg_state(req);
	json_t		*u, *chunk;
	char		*s;
	int64_t		 micros;

	micros = r->call->settled ? r->call->cost_micros : 0;
	relay_access(r);

	if (r->surface == ROUTER_SURFACE_ANTHROPIC)
		return (relay_reply_messages(r, micros));
	if (r->surface == ROUTER_SURFACE_RESPONSES)
		return (relay_reply_responses(r, micros));

	if (!r->stream) {
		u = json_object_get(r->answer, "usage");
		if (!json_is_object(u)) {
			u = router_usage_json(&r->usage);
			if (r->kind == ROUTER_KIND_EMBED) {
				json_object_del(u, "completion_tokens");
				json_object_del(u, "prompt_tokens_details");
				json_object_del(u,
				    "completion_tokens_details");
			}
			json_object_set_new(r->answer, "usage", u);
		}
		json_object_set_new(u, "cost_micros", json_integer(micros));
		relay_cost_header(r, micros);
		tg_http_json(req, 200, r->answer);
		return (HTTP_STATE_COMPLETE);
	}

	kore_buf_reset(r->out);
	if (r->chat.include_usage) {
		u = router_usage_json(&r->usage);
		json_object_set_new(u, "cost_micros", json_integer(micros));
		chunk = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}",
		    "id", r->st.id, "object", "chat.completion.chunk",
		    "created", (json_int_t)r->st.created,
		    "model", r->st.model, "choices", "usage", u);
		if (chunk != NULL &&
		    (s = json_dumps(chunk, JSON_COMPACT)) != NULL) {
			kore_buf_appendf(r->out, "data: %s\n\n", s);
			free(s);
		}
		json_decref(chunk);
	}
	kore_buf_append(r->out, "data: [DONE]\n\n", 14);
	(void)relay_send(r, r->out->data, r->out->offset);
	relay_stream_end(r);

	return (HTTP_STATE_COMPLETE);
}

/* /v1/messages: the Anthropic message, or the stream's last events. */
static int
relay_reply_messages(struct relay *r, int64_t micros)
{
	json_t	*msg;

	if (!r->stream) {
		msg = router_messages_response_from_openai(r->answer,
		    &r->usage);
		if (msg == NULL) {
			tg_error(r->req, 502, "upstream_error", NULL,
			    "the answer had no message");
			return (HTTP_STATE_COMPLETE);
		}
		relay_cost_header(r, micros);
		tg_http_json_steal(r->req, 200, msg);
		return (HTTP_STATE_COMPLETE);
	}

	r->xout.len = 0;
	if (!router_messages_stream_finish(&r->ms, &r->usage, &r->xout))
		kore_log(LOG_ERR, "rid=%s messages: the stream's end did not "
		    "translate", tg_request_id(r->req));
	relay_xout_last(r);
	return (HTTP_STATE_COMPLETE);
}

/*
 * /v1/responses: the Response (whole, or what the stream built, its
 * open item closed), with usage.cost_micros; then, unless the client
 * said "store": false, the save, and only after its commit the answer
 * or the terminal event (relay_store).
 */
static int
relay_reply_responses(struct relay *r, int64_t micros)
{
	json_t	*u, *conv, *index;

	r->xout.len = 0;
	if (!r->stream)
		r->rresult = router_responses_from_openai(r->answer, &r->usage,
		    r->rid, r->chat.model, r->rcreated, r->rbody);
	else
		r->rresult = router_responses_stream_result(&r->rs, &r->usage,
		    &r->xout);
	if (r->rresult == NULL) {
		if (!r->stream) {
			tg_error(r->req, 502, "upstream_error", NULL,
			    "the answer had no message");
			return (HTTP_STATE_COMPLETE);
		}
		relay_error(r, relay_provider(r), 502, "upstream_error",
		    "the answer did not translate");
		relay_responses_cut(r);
		return (HTTP_STATE_COMPLETE);
	}
	if ((u = json_object_get(r->rresult, "usage")) != NULL &&
	    json_is_object(u))
		json_object_set_new(u, "cost_micros", json_integer(micros));

	/* The items closed now go out: none of them is the terminal one. */
	if (r->stream && r->xout.len > 0)
		(void)relay_send(r, r->xout.data, r->xout.len);
	r->xout.len = 0;

	if (!r->store)
		return (relay_responses_send(r));

	conv = router_respitems_conversation(r->prior, r->rinput);
	index = router_respitems_index(r->rinput, r->rresult);
	if (conv == NULL || index == NULL) {
		json_decref(conv);
		json_decref(index);
		kore_log(LOG_ERR, "rid=%s responses: nothing to store",
		    tg_request_id(r->req));
		relay_error(r, relay_provider(r), 500, "internal",
		    "the response could not be stored");
		if (!r->stream)
			tg_error_internal(r->req, "responses: store");
		else
			relay_responses_cut(r);
		return (HTTP_STATE_COMPLETE);
	}
	router_respstore_save(&r->db, r->req, r->rid, r->rresult, conv,
	    index);
	json_decref(conv);
	json_decref(index);

	r->req->fsm_state = R_STORE;
	return (HTTP_STATE_CONTINUE);
}

/*
 * The save committed: the answer goes out. It failed: a whole answer
 * is a database error, a stream ends with response.failed (the call was
 * made and is charged either way; a response that was not stored is
 * never announced as complete).
 */
static int
relay_store(struct http_request *req)
{
	struct relay	*r = tg_state(req);

	switch (tg_db_poll(&r->db)) {
	case TG_DB_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_DB_FAILED:
		if (!r->stream) {
			tg_db_error(req, &r->db);
			return (HTTP_STATE_COMPLETE);
		}
		kore_log(LOG_ERR, "rid=%s responses: the save failed: %s",
		    tg_request_id(req), r->db.errmsg != NULL ?
		    r->db.errmsg : "unknown");
		relay_error(r, relay_provider(r), 500, "internal",
		    "the response could not be stored");
		relay_responses_cut(r);
		return (HTTP_STATE_COMPLETE);
	}

	return (relay_responses_send(r));
}

/* The whole Response, or the stream's terminal event. */
static int
relay_responses_send(struct relay *r)
{
	int64_t	micros;

	if (!r->stream) {
		micros = r->call->settled ? r->call->cost_micros : 0;
		relay_cost_header(r, micros);
		tg_http_json(r->req, 200, r->rresult);
		return (HTTP_STATE_COMPLETE);
	}

	r->xout.len = 0;
	if (!router_responses_stream_finish(&r->rs, r->rresult, &r->xout))
		kore_log(LOG_ERR, "rid=%s responses: the terminal event did "
		    "not translate", tg_request_id(r->req));
	relay_xout_last(r);
	return (HTTP_STATE_COMPLETE);
}

/*
 * A /v1/responses stream ends early (an upstream failure after content,
 * every target failing after keepalives, the stop, a failed save):
 * response.failed with r->err (after response.created when nothing but
 * keepalives went out yet). Such a response is not stored.
 */
static void
relay_responses_cut(struct relay *r)
{
	const char	*code;

	r->xout.len = 0;
	code = r->err.status >= 500 || r->err.code[0] == '\0' ?
	    "server_error" : r->err.code;
	if (!router_responses_stream_fail(&r->rs, code, r->err.message,
	    &r->xout))
		kore_log(LOG_ERR, "rid=%s responses: response.failed did not "
		    "translate", tg_request_id(r->req));
	relay_xout_last(r);
}

/* A surface's last stream events (in r->xout), then the stream's end. */
static void
relay_xout_last(struct relay *r)
{
	(void)relay_send(r, r->xout.data, r->xout.len);
	r->xout.len = 0;
	relay_stream_end(r);
}

/* What a whole answer charged, in its header. */
static void
relay_cost_header(struct relay *r, int64_t micros)
{
	char	cost[32];

	(void)snprintf(cost, sizeof(cost), "%lld", (long long)micros);
	http_response_header(r->req, "x-tollgate-cost-micros", cost);
}

/* --- timers ---------------------------------------------------------- */

static void
relay_timer(struct relay *r, int kind, u_int64_t ms)
{
	relay_timer_stop(r);
	r->timer_kind = kind;
	r->timer = kore_timer_add(relay_timer_fire, ms > 0 ? ms : 1, r,
	    KORE_TIMER_ONESHOT);
}

static void
relay_timer_stop(struct relay *r)
{
	if (r->timer != NULL) {
		kore_timer_remove(r->timer);
		r->timer = NULL;
	}
	r->timer_kind = TIMER_NONE;
}

/*
 * Kore frees a oneshot timer after this returns, so r->timer is
 * forgotten first. The watchdog runs first_byte_ms from the request;
 * the first byte of the body re-arms it for idle_ms (relay_write), and
 * from then on it re-arms itself for the next deadline while the
 * upstream keeps sending (every byte moves last_byte). curl enforces
 * connect and total.
 */
static void
relay_timer_fire(void *arg, u_int64_t now)
{
	struct relay			*r = arg;
	const struct router_provider	*p;
	u_int64_t			 idle, since;
	int				 kind;

	(void)now;
	kind = r->timer_kind;
	r->timer = NULL;
	r->timer_kind = TIMER_NONE;

	switch (kind) {
	case TIMER_WAKE:
		http_request_wakeup(r->req);
		return;
	case TIMER_SETTLE:
		r->settle_timed_out = 1;
		http_request_wakeup(r->req);
		return;
	case TIMER_WATCHDOG:
		break;
	default:
		return;
	}

	if (!r->curl_live || r->curl.handle == NULL)
		return;		/* done; the request runs next anyway */

	relay_keepalive(r);
	p = relay_provider(r);
	if (!r->body_started) {
		since = (tg_now_us() - r->attempt_start) / 1000;
		if (since >= (u_int64_t)p->first_byte_ms) {
			relay_abort(r, ABORT_FIRST_BYTE);
			return;
		}
		relay_watch(r, p->first_byte_ms - since);
		return;
	}

	/* Only a stream is watched between bytes; curl's total covers
	 * the rest of a whole answer. */
	if (!r->stream)
		return;
	idle = (tg_now_us() - r->last_byte) / 1000;
	if (idle >= (u_int64_t)p->idle_ms) {
		relay_abort(r, ABORT_IDLE);
		return;
	}
	relay_watch(r, p->idle_ms - idle);
}

/*
 * Arms the watchdog for a deadline ms away, or sooner when a keepalive
 * comment falls due first (relay_keepalive).
 */
static void
relay_watch(struct relay *r, u_int64_t ms)
{
	const struct router_provider	*p = relay_provider(r);
	u_int64_t			 now, ka;

	if (r->stream && !r->headers_sent && p->keepalive_ms > 0) {
		now = tg_now_us();
		ka = r->keepalive_at > now ? (r->keepalive_at - now) / 1000 : 0;
		if (ka < ms)
			ms = ka;
	}
	relay_timer(r, TIMER_WATCHDOG, ms);
}

/* Stops the transfer now (not from inside a curl callback). */
static void
relay_abort(struct relay *r, int reason)
{
	r->abort_reason = reason;
	kore_curl_cleanup(&r->curl);
	r->curl_live = 0;
	http_request_wakeup(r->req);
}

/*
 * Kore frees the request: after a normal end, or because the client
 * left. In the second case the call is settled here for what was used.
 */
static void
relay_free(struct http_request *req, void *arg)
{
	struct relay	*r = arg;
	int		 outcome;

	relay_timer_stop(r);
	TAILQ_REMOVE(&relay_open, r, open);

	/*
	 * A transfer still bound to the request (the client left) stops
	 * here, before the body curl sends from r->http is freed below;
	 * kore_curl_cleanup() unbinds it, so the core does not clean it
	 * again. Settling only starts asynchronous work, so it cannot see
	 * the transfer run again.
	 */
	if (r->curl_live) {
		kore_curl_cleanup(&r->curl);
		r->curl_live = 0;
	}

	if (r->call != NULL) {
		if (r->reserving && !r->settle_called) {
			outcome = r->call->attempts > 0 ?
			    ROUTER_OUTCOME_CLIENT_GONE :
			    ROUTER_OUTCOME_NOT_STARTED;
			if (outcome == ROUTER_OUTCOME_CLIENT_GONE &&
			    !r->usage.reported)
				r->usage = r->st.usage;
			relay_outcome(r, outcome, 499);
		} else if (!r->settle_called && r->call->attempts > 0) {
			/* No meter: still mark the call ended. */
			relay_outcome(r, ROUTER_OUTCOME_CLIENT_GONE, 499);
		}
		router_call_release(r->call);
		r->call = NULL;
	}

	(void)req;
	router_http_free(&r->http);
	free(r->local.body);
	router_sse_free(&r->sse);
	json_decref(r->body);
	json_decref(r->chunks);
	json_decref(r->answer);
	if (r->body_buf != NULL)
		kore_buf_free(r->body_buf);
	if (r->out != NULL)
		kore_buf_free(r->out);
	router_xbuf_free(&r->xout);
	tg_db_clear(&r->db);
	router_responses_stream_free(&r->rs);
	kore_free(r->refs);
	json_decref(r->rbody);
	json_decref(r->prior);
	json_decref(r->rinput);
	json_decref(r->rresult);
	if (r->conf != NULL)
		router_conf_drop(r->conf);
}
