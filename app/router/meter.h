/*
 * The router's billing hook: the one interface between the router and
 * whoever charges for calls (the credits module). The router knows
 * nothing of prices, holds or ledgers; the meter knows nothing of
 * providers, streams or retries. This header is the whole contract.
 *
 * Registration: a module points router_meter at its table (in its
 * worker_init, or at start-up). With router_meter NULL every call runs
 * unbilled and reports cost_micros 0.
 *
 * The life of a billable call (POST /v1/chat/completions, /v1/messages,
 * /v1/responses, /v1/embeddings), after the request was authenticated,
 * validated and its model resolved:
 *
 *   1. The router fills a struct router_call (who, what, the whole
 *      fallback chain, the size of the prompt, max_tokens) and calls
 *      reserve(req, call) before any upstream byte is sent. reserve is
 *      asynchronous like tg_key_authenticate: it may return
 *      ROUTER_METER_WAIT with the request asleep (e.g. on tg_db_start()
 *      bound to req); the router calls it again on every wakeup, with
 *      the same call, until it returns
 *        ROUTER_METER_OK      the hold is in place; call->max_tokens
 *                             may have been lowered (never raised) to
 *                             what the balance can pay;
 *        ROUTER_METER_DENIED  it has answered the request itself with
 *                             tg_error() (402 insufficient_credits, 404
 *                             model_not_found for a model without a
 *                             price, 503 while the database is down,
 *                             ...); nothing is held, settle never comes.
 *      Memory it needs across wakeups goes in call->meter_state
 *      (released by cleanup()).
 *
 *   2. The router calls the upstream(s): retries, fallbacks and the
 *      stream happen here. The targets a hold must cover are all of
 *      call->targets (the chain may fall back to any of them), so size
 *      the hold for the most expensive one.
 *
 *   3. When the call ends, in every case (success, upstream error,
 *      timeout, client gone, stream cut), the router fills the outcome
 *      fields and calls settle(call) exactly once. settle is also called
 *      when the client left while reserve was still WAITing (outcome
 *      ROUTER_OUTCOME_NOT_STARTED: whatever that reserve may have
 *      written must be released; key it by call->request_id).
 *      settle must not need the request: it may already be freed (client
 *      gone), so its database work must belong to no request (the
 *      credits module's credits_job_start()). When the cost is known
 *      it calls router_call_settled(call, cost_micros) exactly once,
 *      synchronously (a call settled on a balance lease: the cost is
 *      final in C and written later in a batch) or once its statement
 *      is done; after that it must not touch call again. The router may
 *      keep the request waiting for it: the cost goes into
 *      usage.cost_micros (docs/contract.md §5) and the x-tollgate-cost-micros
 *      header of a non-streamed answer, so settle should be quick and
 *      must always finish (a failure still calls router_call_settled,
 *      with the cost it will be charged or 0).
 *
 *   4. The call's memory is freed by the router once both the request
 *      is done and router_call_settled was called; cleanup(call) runs
 *      just before (free meter_state there).
 *
 * Usage to bill: call->usage is what the provider reported when
 * usage.reported is 1 (prompt_tokens includes cached_tokens and cache
 * writes; completion_tokens includes reasoning); a usage object that is
 * empty, negative or not made of integers leaves it 0. For a call that
 * ended early (ended_early, or a failure after output) what was
 * reported is only a lower bound (Anthropic's message_start, Gemini's
 * interim chunks). call->text_bytes counts the bytes of generated text
 * the router received (content, reasoning, tool-call names and
 * arguments), and the prompt counters below are known, so an estimate
 * is always possible; the meter settles such a call at the larger of
 * the two, counter by counter.
 * For n > 1 the usage covers every choice. Embeddings have no output.
 *
 * Everything runs on the worker's event loop: no blocking calls.
 */

#ifndef ROUTER_METER_H
#define ROUTER_METER_H

#include <stddef.h>
#include <stdint.h>

#include "tollgate.h"
#include "router/catalog.h"
#include "router/provider.h"

/* reserve() and priced() results. */
#define ROUTER_METER_WAIT	1
#define ROUTER_METER_OK		2
#define ROUTER_METER_DENIED	3

/* call->endpoint */
#define ROUTER_ENDPOINT_CHAT		1	/* POST /v1/chat/completions */
#define ROUTER_ENDPOINT_EMBEDDINGS	2	/* POST /v1/embeddings */
#define ROUTER_ENDPOINT_MESSAGES	3	/* POST /v1/messages */
#define ROUTER_ENDPOINT_MODELS		4	/* GET /v1/models: priced() */
#define ROUTER_ENDPOINT_RESPONSES	5	/* POST /v1/responses */

/* call->outcome */
#define ROUTER_OUTCOME_OK		0	/* a complete answer */
#define ROUTER_OUTCOME_UPSTREAM_ERROR	1	/* no answer: error, refusal */
#define ROUTER_OUTCOME_TIMEOUT		2	/* no answer: timed out */
#define ROUTER_OUTCOME_CLIENT_GONE	3	/* the client left; aborted */
#define ROUTER_OUTCOME_STREAM_CUT	4	/* upstream failed mid-stream */
#define ROUTER_OUTCOME_NOT_STARTED	5	/* left during reserve */

struct router_call_target {
	char	id[ROUTER_ID_MAX];		/* "provider:model" */
	int64_t	max_output_tokens;		/* the model's cap */
};

struct router_call {
	/* --- set before reserve(); the meter reads them --- */
	char		request_id[TG_REQUEST_ID_MAX + 1];
	char		user_id[TG_ID_MAX];
	char		key_id[TG_ID_MAX];
	int		endpoint;
	char		model[256];	/* as the client wrote it */
	int		ntargets;	/* the fallback chain, in order */
	struct router_call_target targets[ROUTER_CHAIN_MAX];
	size_t		prompt_bytes;	/* text + tool schemas, in bytes */
	int		messages;
	int		images;		/* image, audio and file parts */
	int		n;		/* choices asked for */
	int		stream;
	int64_t		requested_max_tokens;	/* 0: the client set none */

	/*
	 * The output bound: requested_max_tokens, or else the largest cap
	 * of the chain (0 for embeddings). reserve() may lower it, down to
	 * 1; the router then sends min(max_tokens, target cap) upstream.
	 */
	int64_t		max_tokens;

	/* --- set before settle() --- */
	int		target_used;	/* index in targets; -1: none */
	int		attempts;	/* upstream requests made */
	struct router_usage usage;
	size_t		text_bytes;	/* generated text received */
	int		status;		/* HTTP status the client got */
	int		outcome;	/* ROUTER_OUTCOME_* */
	int		ended_early;	/* answer cut short (gone, cut) */
	u_int64_t	latency_ms;	/* whole call */
	u_int64_t	first_byte_ms;	/* to the first upstream byte; 0 */

	/* --- the meter's --- */
	int64_t		cost_micros;	/* set by router_call_settled() */
	void		*meter_state;

	/* --- the router's (do not touch) --- */
	int		 refs;
	int		 settling;
	int		 settled;
	struct http_request *waiter;
};

/* A model's price in force, in integer micro-credits (docs/credits.md). */
struct router_price {
	int64_t	input;			/* per million prompt tokens */
	int64_t	cached_input;		/* per million cache reads */
	int64_t	cache_write_input;	/* per million cache writes */
	int64_t	output;			/* per million completion tokens */
	int64_t	request_fee;		/* per call */
};

struct router_meter {
	int	(*reserve)(struct http_request *, struct router_call *);
	void	(*settle)(struct router_call *);

	/*
	 * GET /v1/models lists only models with a price: for the ids
	 * ("provider:model") the meter sets priced[i] to 1 and prices[i]
	 * to the price in force, or priced[i] to 0. Same WAIT / OK /
	 * DENIED protocol as reserve (call->endpoint is
	 * ROUTER_ENDPOINT_MODELS and only the who fields are set; the
	 * arrays stay valid across wakeups). NULL: every model is listed,
	 * without prices.
	 */
	int	(*priced)(struct http_request *, struct router_call *,
		    const char *const *, int, int *, struct router_price *);

	/* Frees call->meter_state; may be NULL. */
	void	(*cleanup)(struct router_call *);
};

extern const struct router_meter	*router_meter;

/* The meter's answer to settle(): see above. */
void	router_call_settled(struct router_call *, int64_t);

#endif
