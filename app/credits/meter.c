/*
 * The meter (router/meter.h): how every billable router call is paid
 * for. The router knows nothing of money; this file knows nothing of
 * providers.
 *
 *   reserve   in memory on this worker's balance lease (lease.c) when
 *             the prices are cached and the lease has room: no
 *             statement at all. Otherwise (TOLLGATE_STRICT_SETTLEMENT=1,
 *             a small balance, no lease yet to be had) the per-call path:
 *             one statement (credits_reserve) bound to the request,
 *             before any upstream byte: the hold covers the dearest
 *             target of the fallback chain at its snapshot price; the
 *             router's max_tokens comes back clamped to what the balance
 *             (and the key's spend limit) pays. 402 with what is
 *             affordable, 404 for a model without a price.
 *   settle    a call on a lease: its cost is final here (the router gets
 *             it at once) and its row joins the worker's next flush.
 *             A per-call hold:
 *             one statement (credits_settle) bound to a callback, so it
 *             finishes after the client is gone: what to charge is
 *             cost.c's credits_settle_usage (the provider's usage; the
 *             estimate of what was streamed when there is none; the
 *             larger of the two, per counter, for a call that ended
 *             early; a void when the upstream failed before any
 *             output). The cost is computed here at the
 *             serving target's snapshot price (the formula ledger_check()
 *             recomputes), charged at most the hold; the excess is a
 *             loss, logged and counted. A settle that cannot reach the
 *             database is retried, and failing that left to the sweeper.
 *   priced    /v1/models lists only models with a price.
 *
 * The hold id (and a leased call's usage record id) is a time-ordered
 * uuid chosen here, so a retried reserve, settle or flush (lost
 * connection) is the same movement, never a second one.
 */

#include <string.h>

#include <sodium.h>

#include "credits/credits.h"
#include "credits/job.h"
#include "credits/lease.h"
#include "credits/prompt.h"
#include "metrics.h"
#include "router/meter.h"

#define METER_SETTLE_RETRIES	10
#define METER_RECALL_TRIES	5	/* per-call reserves while leases */
#define METER_RECALL_PAUSE_MS	40	/* ... elsewhere give credit back */

/* What the meter keeps for one call (call->meter_state). */
struct meter_call {
	struct tg_db		db;
	int			prepared;
	int			percall;	/* the per-call path */
	int			sent;
	int			tries;		/* per-call reserves sent */
	struct kore_timer	*pause;		/* before the next try */
	struct http_request	*sleeper;
	int			held;
	int			leased;		/* held on a lease */
	struct credits_lease_use use;
	char			hold_id[CREDITS_UUID_LEN + 1];
	int			ntargets;
	struct credits_price	prices[ROUTER_CHAIN_MAX];
	int64_t			price_ids[ROUTER_CHAIN_MAX];
	int64_t			caps[ROUTER_CHAIN_MAX];
	int64_t			prompt_bound;
	int64_t			max_tokens;
	int			choices;
	int64_t			amount;
};

/* A settle on its way to the database; outlives the request. */
struct meter_settle {
	struct router_call	*call;	/* NULL once answered */
	char			 hold_id[CREDITS_UUID_LEN + 1];
	char			 request_id[TG_REQUEST_ID_MAX + 1];
	int64_t			 amount;
	int64_t			 cost;
	struct credits_tokens	 tokens;
	int64_t			 reasoning;
	int			 settlement;
	char			 model[ROUTER_ID_MAX];	/* charged for; metrics */
};

#define SETTLE_PROVIDER		CREDITS_SETTLE_PROVIDER
#define SETTLE_ESTIMATE		CREDITS_SETTLE_ESTIMATE
#define SETTLE_VOID		CREDITS_SETTLE_VOID

static int	meter_reserve(struct http_request *, struct router_call *);
static void	meter_settle(struct router_call *);
static int	meter_priced(struct http_request *, struct router_call *,
		    const char *const *, int, int *, struct router_price *);
static int	meter_priced_row(struct tg_db *, int, int,
		    struct router_price *);
static void	meter_cleanup(struct router_call *);
static int	meter_wait(struct http_request *, struct meter_call *);
static void	meter_prepare(struct router_call *, struct meter_call *);
static int	meter_lease(struct http_request *, struct router_call *,
		    struct meter_call *);
static int	meter_retry(struct http_request *, struct meter_call *);
static void	meter_unpause(struct meter_call *);
static void	meter_resume(void *, u_int64_t);
static void	meter_usage(struct router_call *, struct meter_call *,
		    struct meter_settle *, const char *, char *, size_t);
static void	meter_settle_lease(struct router_call *, struct meter_call *,
		    struct meter_settle *, const char *, const char *);
static void	meter_count(struct meter_settle *, int64_t, int64_t);
static int	meter_price(struct tg_db *, int, struct credits_price *);
static int	meter_unreadable(struct http_request *, struct meter_call *);
static void	meter_void(struct router_call *, struct meter_call *);
static void	meter_start_reserve(struct http_request *, struct router_call *,
		    struct meter_call *);
static int	meter_reserved(struct http_request *, struct router_call *,
		    struct meter_call *);
static int	meter_refuse(struct http_request *, struct router_call *,
		    struct meter_call *);
static void	meter_settled(struct credits_job *, void *);
static const char	*meter_endpoint(int);
static const char	*meter_outcome(int);

static const struct router_meter	credits_meter = {
	meter_reserve, meter_settle, meter_priced, meter_cleanup
};

static const char	sql_reserve[] =
	"SELECT result, max_tokens, amount, target, model, price_id, "
	"input_price, cached_input_price, output_price, request_fee, "
	"available, key_available, debt, leased, cache_write_input_price "
	"FROM credits_reserve("
	"$1::uuid, $2::uuid, $3::uuid, $4, $5, $6::text[], $7::bigint[], "
	"$8::bigint, $9::bigint, $10::bigint, $11::int, $12::int, "
	"$13::boolean)";

static const char	sql_settle[] =
	"SELECT result, charged, loss, hold_status FROM credits_settle("
	"$1::uuid, $2::int, $3, $4, $5::bigint, $6::bigint, $7::bigint, "
	"$8::bigint, $9::bigint, $10::bigint, NULL, $11::int, $12::bigint, "
	"$13)";

static const char	sql_priced[] =
	"SELECT m.i, p.input_micros_per_mtok, p.cached_input_micros_per_mtok, "
	"p.cache_write_input_micros_per_mtok, p.output_micros_per_mtok, "
	"p.request_fee_micros "
	"FROM unnest($1::text[]) WITH ORDINALITY AS m(id, i) "
	"JOIN model_prices_current p ON p.model = m.id";

void
credits_meter_init(void)
{
	router_meter = &credits_meter;
}

static int
meter_reserve(struct http_request *req, struct router_call *call)
{
	struct meter_call	*mc;
	int			 rc;

	if ((mc = call->meter_state) == NULL) {
		mc = kore_calloc(1, sizeof(*mc));
		call->meter_state = mc;
	}
	if (!mc->prepared)
		meter_prepare(call, mc);

	if (!mc->percall) {
		switch (meter_lease(req, call, mc)) {
		case CREDITS_LEASE_TAKEN:
			return (ROUTER_METER_OK);
		case CREDITS_LEASE_WAIT:
			return (ROUTER_METER_WAIT);
		}
		mc->percall = 1;
	}

	if (mc->pause != NULL)
		return (ROUTER_METER_WAIT);
	if (!mc->sent) {
		meter_start_reserve(req, call, mc);
		mc->sent = 1;
		mc->tries++;
	}

	if ((rc = meter_wait(req, mc)) != ROUTER_METER_OK)
		return (rc);

	return (meter_reserved(req, call, mc));
}

/* What every path needs: the prompt bound, choices, the chain's caps. */
static void
meter_prepare(struct router_call *call, struct meter_call *mc)
{
	int	i;

	mc->ntargets = call->ntargets;
	mc->choices = call->n > 0 ? call->n : 1;
	mc->prompt_bound = credits_prompt_bound(
	    call->endpoint == ROUTER_ENDPOINT_EMBEDDINGS ?
	    CREDITS_PROMPT_EMBEDDINGS : CREDITS_PROMPT_CHAT,
	    call->prompt_bytes, call->messages, call->images);
	for (i = 0; i < call->ntargets && i < ROUTER_CHAIN_MAX; i++) {
		mc->caps[i] = call->targets[i].max_output_tokens > 0 ?
		    call->targets[i].max_output_tokens : 0;
	}
	mc->prepared = 1;
}

/*
 * The call on this worker's lease: the hold is what credits_reserve
 * would take without clamping (the dearest target of the chain at the
 * cached prices); a call it does not fit goes the per-call path, which
 * clamps max_tokens to the balance exactly as before.
 */
static int
meter_lease(struct http_request *req, struct router_call *call,
    struct meter_call *mc)
{
	struct tg_ctx	*ctx = tg_ctx(req);
	const char	*key;
	int64_t		 amount, h, tokens;
	int		 i, rc;

	if (credits_conf.strict)
		return (CREDITS_LEASE_NONE);

	amount = 0;
	for (i = 0; i < mc->ntargets; i++) {
		if (!credits_prices_get(call->targets[i].id, &mc->prices[i],
		    &mc->price_ids[i]))
			return (CREDITS_LEASE_NONE);
		tokens = mc->caps[i] > 0 && mc->caps[i] < call->max_tokens ?
		    mc->caps[i] : call->max_tokens;
		if (credits_hold(&mc->prices[i], mc->prompt_bound, tokens,
		    mc->choices, &h) != CREDITS_OK)
			return (CREDITS_LEASE_NONE);
		if (h > amount)
			amount = h;
	}

	/* A key with a spend limit has a lease of its own. */
	key = ctx->who.spend_limit_micros >= 0 ? call->key_id : "";
	rc = credits_lease_take(req, &mc->use, call->user_id, key, amount);
	if (rc != CREDITS_LEASE_TAKEN)
		return (rc);

	mc->leased = 1;
	mc->held = 1;
	mc->amount = amount;
	mc->max_tokens = call->max_tokens;
	tg_metrics_add(credits_metric_reserved, 1);
	tg_metrics_add(credits_metric_leased, 1);
	return (CREDITS_LEASE_TAKEN);
}

static void
meter_start_reserve(struct http_request *req, struct router_call *call,
    struct meter_call *mc)
{
	struct kore_buf	 targets, caps;
	const char	*params[13], *ids[ROUTER_CHAIN_MAX];
	char		 bound[24], max[24], minimum[8], n[8], ttl[16];
	int		 i;

	if (mc->hold_id[0] == '\0')
		credits_uuid7(mc->hold_id);

	kore_buf_init(&targets, 256);
	kore_buf_init(&caps, 64);
	kore_buf_append(&caps, "{", 1);
	for (i = 0; i < call->ntargets && i < ROUTER_CHAIN_MAX; i++) {
		ids[i] = call->targets[i].id;
		kore_buf_appendf(&caps, "%s%lld", i ? "," : "",
		    (long long)mc->caps[i]);
	}
	kore_buf_append(&caps, "}", 1);
	tg_db_text_array(&targets, ids, i);

	(void)snprintf(bound, sizeof(bound), "%lld",
	    (long long)mc->prompt_bound);
	(void)snprintf(max, sizeof(max), "%lld", (long long)(call->max_tokens >
	    0 ? call->max_tokens : 0));
	(void)snprintf(minimum, sizeof(minimum), "%d",
	    call->endpoint == ROUTER_ENDPOINT_EMBEDDINGS ? 0 : 1);
	(void)snprintf(n, sizeof(n), "%d", mc->choices);
	(void)snprintf(ttl, sizeof(ttl), "%d", credits_conf.hold_ttl);

	params[0] = mc->hold_id;
	params[1] = call->user_id;
	params[2] = call->key_id[0] != '\0' ? call->key_id : NULL;
	params[3] = call->request_id;
	params[4] = meter_endpoint(call->endpoint);
	params[5] = kore_buf_stringify(&targets, NULL);
	params[6] = kore_buf_stringify(&caps, NULL);
	params[7] = bound;
	params[8] = max;
	params[9] = minimum;
	params[10] = n;
	params[11] = ttl;
	params[12] = credits_conf.strict || mc->tries >= METER_RECALL_TRIES ?
	    "true" : "false";

	/* Idempotent on the hold id: safe to resend on a lost connection. */
	tg_db_start(&mc->db, req, TG_DB_RETRY, sql_reserve, 13, params);

	kore_buf_cleanup(&targets);
	kore_buf_cleanup(&caps);
}

static int
meter_reserved(struct http_request *req, struct router_call *call,
    struct meter_call *mc)
{
	const char	*result, *model;
	int64_t		 amount, h, tokens;
	long long	 max, held;
	int		 i, n;

	n = tg_db_ntuples(&mc->db);
	if (n < 1 || (result = tg_db_value(&mc->db, 0, 0)) == NULL) {
		tg_error_internal(req, "credits_reserve: no row");
		tg_db_clear(&mc->db);
		return (ROUTER_METER_DENIED);
	}

	if (!strcmp(result, "no_price")) {
		model = tg_db_value(&mc->db, 0, 4);
		tg_error(req, 404, "model_not_found", "model", "model %s has "
		    "no price and cannot be called",
		    model != NULL ? model : call->model);
		tg_db_clear(&mc->db);
		return (ROUTER_METER_DENIED);
	}
	if (!strcmp(result, "recall"))
		return (meter_retry(req, mc));
	if (strcmp(result, "ok") && strcmp(result, "duplicate"))
		return (meter_refuse(req, call, mc));

	/*
	 * A bad row refuses the call. The hold exists already and a denied
	 * reserve is never settled by the router: void it here, or the
	 * sweeper would charge it whole.
	 */
	for (i = 0; i < n && i < mc->ntargets; i++) {
		if (!meter_price(&mc->db, i, &mc->prices[i])) {
			meter_void(call, mc);
			return (meter_unreadable(req, mc));
		}
	}
	if (!tg_db_num(&mc->db, 0, 1, 0, INT64_MAX, &max) ||
	    !tg_db_num(&mc->db, 0, 2, 0, INT64_MAX, &held)) {
		meter_void(call, mc);
		return (meter_unreadable(req, mc));
	}
	mc->max_tokens = max;
	mc->amount = held;
	mc->held = 1;
	tg_db_clear(&mc->db);

	/* The same rule in C: a disagreement is a bug worth a loud line. */
	amount = 0;
	for (i = 0; i < mc->ntargets; i++) {
		tokens = mc->caps[i] > 0 && mc->caps[i] < mc->max_tokens ?
		    mc->caps[i] : mc->max_tokens;
		if (credits_hold(&mc->prices[i], mc->prompt_bound, tokens,
		    mc->choices, &h) == CREDITS_OK && h > amount)
			amount = h;
	}
	if (amount != mc->amount)
		kore_log(LOG_ERR, "rid=%s credits: hold %s is %lld micros, the "
		    "C formula says %lld", call->request_id, mc->hold_id,
		    (long long)mc->amount, (long long)amount);

	if (mc->max_tokens < call->max_tokens)
		call->max_tokens = mc->max_tokens;
	tg_metrics_add(credits_metric_reserved, 1);

	return (ROUTER_METER_OK);
}

/* 402: debt, or not even a minimal answer is affordable. */
static int
meter_refuse(struct http_request *req, struct router_call *call,
    struct meter_call *mc)
{
	struct credits_price	 p;
	const char		*result, *model;
	char			 msg[768];
	int64_t			 avail, key, eff, m, best;
	long long		 v, debt;
	int			 i, n, bind, has_key;

	/* meter_reserved checked the result column. */
	result = tg_db_value(&mc->db, 0, 0);
	n = tg_db_ntuples(&mc->db);
	if (!tg_db_num(&mc->db, 0, 10, INT64_MIN, INT64_MAX, &v))
		return (meter_unreadable(req, mc));
	avail = v;
	key = 0;
	if ((has_key = !tg_db_isnull(&mc->db, 0, 11))) {
		if (!tg_db_num(&mc->db, 0, 11, INT64_MIN, INT64_MAX, &v))
			return (meter_unreadable(req, mc));
		key = v;
	}
	if (!strcmp(result, "debt")) {
		if (!tg_db_num(&mc->db, 0, 12, INT64_MIN, INT64_MAX, &debt))
			return (meter_unreadable(req, mc));
		if (!credits_debt_message(msg, sizeof(msg), debt))
			(void)kore_strlcpy(msg, "insufficient credits",
			    sizeof(msg));
	} else if (!strcmp(result, "insufficient")) {
		/* The target that pays the least output binds. */
		eff = has_key && key < avail ? key : avail;
		bind = 0;
		best = INT64_MAX;
		for (i = 0; i < n; i++) {
			if (!meter_price(&mc->db, i, &p))
				return (meter_unreadable(req, mc));
			m = credits_affordable(&p, mc->prompt_bound,
			    mc->choices, eff);
			if (m < best) {
				best = m;
				bind = i;
			}
		}
		if (!meter_price(&mc->db, bind, &p))
			return (meter_unreadable(req, mc));
		model = tg_db_value(&mc->db, bind, 4);
		if (!credits_refusal_message(msg, sizeof(msg),
		    model != NULL ? model : call->model, &p, mc->prompt_bound,
		    call->endpoint == ROUTER_ENDPOINT_EMBEDDINGS ? 0 : 1,
		    mc->choices, avail, has_key ? &key : NULL))
			(void)kore_strlcpy(msg, "insufficient credits",
			    sizeof(msg));
	} else {
		/* 'cancelled': the call already ended; nobody is listening. */
		(void)snprintf(msg, sizeof(msg), "the call was cancelled (%s)",
		    result);
	}

	tg_db_clear(&mc->db);
	tg_metrics_add(credits_metric_refused, 1);
	tg_error(req, 402, "insufficient_credits", NULL, "%s", msg);
	return (ROUTER_METER_DENIED);
}

/*
 * The call ended. Decide what it cost, answer the router once the
 * database has it (the cost goes into the response), and never touch
 * the call after router_call_settled().
 */
static void
meter_settle(struct router_call *call)
{
	struct meter_call	*mc = call->meter_state;
	struct meter_settle	*ms;
	const char		*params[13], *status;
	char			 target[8], num[7][24], http[8], reason[320];
	int			 t;

	status = meter_outcome(call->outcome);
	if (mc != NULL) {
		credits_lease_cancel(&mc->use);
		meter_unpause(mc);
	}
	ms = kore_calloc(1, sizeof(*ms));
	ms->call = call;
	(void)kore_strlcpy(ms->request_id, call->request_id,
	    sizeof(ms->request_id));

	if (mc == NULL || (!mc->leased && mc->hold_id[0] == '\0')) {
		/* Reserve never started: nothing to settle. */
		kore_free(ms);
		router_call_settled(call, 0);
		return;
	}
	/* Both CREDITS_UUID_LEN + 1, as is request_id's pair above. */
	(void)kore_strlcpy(ms->hold_id, mc->hold_id, sizeof(ms->hold_id));
	ms->amount = mc->amount;
	reason[0] = '\0';

	t = call->target_used;
	if (!mc->held || t < 0 || t >= mc->ntargets || call->attempts == 0 ||
	    call->outcome == ROUTER_OUTCOME_NOT_STARTED) {
		ms->settlement = SETTLE_VOID;
		(void)snprintf(reason, sizeof(reason), "no upstream call");
	} else {
		meter_usage(call, mc, ms, status, reason, sizeof(reason));
		(void)kore_strlcpy(ms->model, call->targets[t].id,
		    sizeof(ms->model));
	}
	ms->cost = 0;
	if (ms->settlement != SETTLE_VOID &&
	    credits_cost(&mc->prices[t], &ms->tokens, &ms->cost) != CREDITS_OK)
		ms->cost = ms->amount;	/* cannot happen within the clamps */

	if (mc->leased) {
		meter_settle_lease(call, mc, ms, status, reason);
		return;
	}

	/* Numbers into buffers sized for any of their type: never cut. */
	(void)snprintf(target, sizeof(target), "%d", t);
	(void)snprintf(num[0], sizeof(num[0]), "%lld",
	    (long long)ms->tokens.prompt);
	(void)snprintf(num[1], sizeof(num[1]), "%lld",
	    (long long)ms->tokens.cached);
	(void)snprintf(num[2], sizeof(num[2]), "%lld",
	    (long long)ms->tokens.completion);
	(void)snprintf(num[3], sizeof(num[3]), "%lld",
	    (long long)ms->reasoning);
	(void)snprintf(num[4], sizeof(num[4]), "%lld", (long long)ms->cost);
	(void)snprintf(num[5], sizeof(num[5]), "%llu",
	    (unsigned long long)call->latency_ms);
	(void)snprintf(num[6], sizeof(num[6]), "%lld",
	    (long long)ms->tokens.cache_write);
	(void)snprintf(http, sizeof(http), "%d", call->status);

	params[0] = ms->hold_id;
	params[1] = ms->settlement == SETTLE_VOID ? NULL : target;
	params[2] = status;
	params[3] = ms->settlement == SETTLE_PROVIDER ? "provider" :
	    ms->settlement == SETTLE_ESTIMATE ? "estimate" : "void";
	params[4] = ms->settlement == SETTLE_VOID ? "0" : num[0];
	params[5] = ms->settlement == SETTLE_VOID ? "0" : num[1];
	params[6] = ms->settlement == SETTLE_VOID ? "0" : num[6];
	params[7] = ms->settlement == SETTLE_VOID ? "0" : num[2];
	params[8] = ms->settlement == SETTLE_VOID ? "0" : num[3];
	params[9] = num[4];
	params[10] = http;
	params[11] = num[5];
	params[12] = reason[0] != '\0' ? reason : NULL;

	/* Nobody waits on a call that never started: answer now. */
	if (call->outcome == ROUTER_OUTCOME_NOT_STARTED) {
		ms->call = NULL;
		router_call_settled(call, 0);
	}

	(void)credits_job_start(sql_settle, 13, params, METER_SETTLE_RETRIES,
	    meter_settled, ms);
}

static void
meter_settled(struct credits_job *job, void *arg)
{
	struct meter_settle	*ms = arg;
	const char		*result;
	int64_t			 charged, loss;
	long long		 n;

	if (job->failed || credits_job_ntuples(job) != 1 ||
	    (result = credits_job_value(job, 0, 0)) == NULL) {
		/* The sweeper will charge the whole hold once it expires. */
		kore_log(LOG_ERR, "rid=%s credits: settling hold %s failed: %s;"
		    " left to the sweeper", ms->request_id, ms->hold_id,
		    job->errmsg != NULL ? job->errmsg : "no result");
		tg_metrics_add(credits_metric_settle_failures, 1);
		charged = ms->amount;
		goto answer;
	}

	if (!strcmp(result, "unknown")) {
		charged = 0;
		goto answer;
	}
	if (!credits_job_num(job, 0, 1, 0, INT64_MAX, &n)) {
		/* Settled, but not readable: report the hold, as above. */
		kore_log(LOG_ERR, "rid=%s credits: hold %s settled (%s) with "
		    "an unreadable charge", ms->request_id, ms->hold_id,
		    result);
		tg_metrics_add(credits_metric_settle_failures, 1);
		charged = ms->amount;
		goto answer;
	}
	charged = n;
	if (strcmp(result, "ok"))
		goto answer;	/* 'duplicate': the first settlement stands */
	if (!credits_job_num(job, 0, 2, 0, INT64_MAX, &n)) {
		kore_log(LOG_ERR, "rid=%s credits: hold %s settled with an "
		    "unreadable loss", ms->request_id, ms->hold_id);
		n = 0;
	}
	loss = n;

	meter_count(ms, charged, loss);

answer:
	if (ms->call != NULL)
		router_call_settled(ms->call, charged);
	kore_free(ms);
}

/*
 * The tokens a call is settled for and how (cost.c:
 * credits_settle_usage): the provider's usage, an estimate, the larger
 * of the two for a call that ended early, or a void.
 */
static void
meter_usage(struct router_call *call, struct meter_call *mc,
    struct meter_settle *ms, const char *status, char *reason, size_t len)
{
	struct credits_observed	 o;
	const struct router_usage *u = &call->usage;
	int			 t = call->target_used;

	memset(&o, 0, sizeof(o));
	o.prompt_bound = mc->prompt_bound;
	o.max_tokens = mc->caps[t] > 0 && mc->caps[t] < mc->max_tokens ?
	    mc->caps[t] : mc->max_tokens;
	o.choices = mc->choices;
	o.reported = u->reported;
	o.prompt = u->prompt_tokens;
	o.cached = u->cached_tokens;
	o.cache_write = u->cache_creation_tokens;
	o.completion = u->completion_tokens;
	o.streamed_bytes = call->text_bytes > CREDITS_TOKENS_MAX ?
	    CREDITS_TOKENS_MAX : (int64_t)call->text_bytes;
	o.ended_early = call->ended_early ||
	    (call->outcome != ROUTER_OUTCOME_OK && call->text_bytes > 0);
	o.failed = call->outcome == ROUTER_OUTCOME_UPSTREAM_ERROR ||
	    call->outcome == ROUTER_OUTCOME_TIMEOUT ||
	    call->outcome == ROUTER_OUTCOME_STREAM_CUT;

	ms->settlement = credits_settle_usage(&o, &ms->tokens);
	if (ms->settlement == SETTLE_VOID) {
		(void)snprintf(reason, len, "upstream %s before any output",
		    status);
	} else if (ms->settlement == SETTLE_ESTIMATE && o.reported) {
		(void)snprintf(reason, len, "ended early (%s): the provider's "
		    "usage (%lld prompt, %lld output tokens) is a lower bound; "
		    "settled at the larger of it and the estimate from %zu "
		    "bytes of output and the prompt bound", status,
		    (long long)u->prompt_tokens,
		    (long long)u->completion_tokens, call->text_bytes);
	} else if (ms->settlement == SETTLE_ESTIMATE) {
		(void)snprintf(reason, len, "no usage from the provider (%s): "
		    "estimated from %zu bytes of output and the prompt bound",
		    status, call->text_bytes);
	}

	/* Reasoning is part of the output the provider counted. */
	ms->reasoning = 0;
	if (ms->settlement != SETTLE_VOID && u->reported &&
	    u->reasoning_tokens > 0 &&
	    u->reasoning_tokens <= ms->tokens.completion)
		ms->reasoning = u->reasoning_tokens;
}

/*
 * A call on a lease: charged min(cost, hold) now; its row (usage record,
 * ledger movement) goes out with the worker's next flush.
 */
static void
meter_settle_lease(struct router_call *call, struct meter_call *mc,
    struct meter_settle *ms, const char *status, const char *reason)
{
	struct credits_settlement	c;
	int				t;

	t = call->target_used;
	if (ms->settlement == SETTLE_VOID || t < 0 || t >= mc->ntargets)
		t = 0;

	memset(&c, 0, sizeof(c));
	credits_uuid7(c.id);
	c.user_id = call->user_id;
	c.key_id = call->key_id[0] != '\0' ? call->key_id : NULL;
	c.request_id = call->request_id;
	c.endpoint = meter_endpoint(call->endpoint);
	c.model = call->targets[t].id;
	c.price_id = mc->price_ids[t];
	c.price = mc->prices[t];
	c.tokens = ms->tokens;
	c.reasoning = ms->reasoning;
	c.charged = ms->cost < mc->amount ? ms->cost : mc->amount;
	c.loss = ms->cost - c.charged;
	c.status = status;
	c.http_status = call->status;
	c.settlement = ms->settlement == SETTLE_PROVIDER ? "provider" :
	    ms->settlement == SETTLE_ESTIMATE ? "estimate" : "void";
	c.reason = reason[0] != '\0' ? reason : NULL;
	c.latency_ms = call->latency_ms;

	credits_lease_charge(&mc->use, &c);
	meter_count(ms, c.charged, c.loss);
	router_call_settled(call, c.charged);
	kore_free(ms);
}

/* The metrics and the loss line of a call's first settlement. */
static void
meter_count(struct meter_settle *ms, int64_t charged, int64_t loss)
{
	tg_metrics_add(credits_metric_charged, charged);
	switch (ms->settlement) {
	case SETTLE_PROVIDER:
		tg_metrics_add(credits_metric_settled, 1);
		break;
	case SETTLE_ESTIMATE:
		tg_metrics_add(credits_metric_estimated, 1);
		break;
	default:
		tg_metrics_add(credits_metric_voided, 1);
		break;
	}
	if (ms->settlement != SETTLE_VOID) {
		tg_metrics_add(credits_metric_prompt_tokens, ms->tokens.prompt);
		tg_metrics_add(credits_metric_cached_tokens, ms->tokens.cached);
		tg_metrics_add(credits_metric_cache_write_tokens,
		    ms->tokens.cache_write);
		tg_metrics_add(credits_metric_completion_tokens,
		    ms->tokens.completion);
		tg_metrics_usage(ms->model, ms->tokens.prompt,
		    ms->tokens.cached, ms->tokens.cache_write,
		    ms->tokens.completion, charged);
	}
	if (loss > 0) {
		tg_metrics_add(credits_metric_losses, 1);
		tg_metrics_add(credits_metric_loss_micros, loss);
		kore_log(LOG_WARNING, "rid=%s credits: usage beyond the hold: "
		    "cost %lld micros, hold %lld; charged the hold, %lld "
		    "micros recorded as loss (hold %s)", ms->request_id,
		    (long long)ms->cost, (long long)ms->amount,
		    (long long)loss, ms->hold_id[0] != '\0' ? ms->hold_id :
		    "none: leased");
	}
}

/* /v1/models: which of ids have a price, and what it is. */
static int
meter_priced(struct http_request *req, struct router_call *call,
    const char *const *ids, int nids, int *priced,
    struct router_price *prices)
{
	struct meter_call	*mc;
	struct kore_buf		 arr;
	const char		*params[1];
	long long		 ord;
	int			 i, n, rc;

	if ((mc = call->meter_state) == NULL) {
		mc = kore_calloc(1, sizeof(*mc));
		call->meter_state = mc;
	}

	if (!mc->sent) {
		kore_buf_init(&arr, 1024);
		tg_db_text_array(&arr, ids, nids);
		params[0] = kore_buf_stringify(&arr, NULL);
		tg_db_start(&mc->db, req, TG_DB_RETRY, sql_priced, 1, params);
		kore_buf_cleanup(&arr);
		mc->sent = 1;
	}

	if ((rc = meter_wait(req, mc)) != ROUTER_METER_OK)
		return (rc);

	for (i = 0; i < nids; i++)
		priced[i] = 0;
	n = tg_db_ntuples(&mc->db);
	for (i = 0; i < n; i++) {
		/* The ordinality of one of ids: 1 to nids, nothing else. */
		if (!tg_db_num(&mc->db, i, 0, 1, nids, &ord) ||
		    !meter_priced_row(&mc->db, i, 1, &prices[ord - 1])) {
			tg_error_internal(req, "model prices: unreadable row");
			tg_db_clear(&mc->db);
			return (ROUTER_METER_DENIED);
		}
		priced[ord - 1] = 1;
	}
	tg_db_clear(&mc->db);

	return (ROUTER_METER_OK);
}

/* Five rates from column col on, each checked (never a NULL as free). */
static int
meter_priced_row(struct tg_db *db, int row, int col, struct router_price *p)
{
	long long	n[5];
	int		i;

	for (i = 0; i < 5; i++) {
		if (!tg_db_num(db, row, col + i, 0, INT64_MAX, &n[i]))
			return (0);
	}
	p->input = n[0];
	p->cached_input = n[1];
	p->cache_write_input = n[2];
	p->output = n[3];
	p->request_fee = n[4];
	return (1);
}

static void
meter_cleanup(struct router_call *call)
{
	struct meter_call	*mc = call->meter_state;

	if (mc == NULL)
		return;
	credits_lease_cancel(&mc->use);
	meter_unpause(mc);
	tg_db_clear(&mc->db);
	kore_free(mc);
	call->meter_state = NULL;
}

/*
 * 402 would be false while other workers' leases park the credit the
 * call needs: the database asked them for it back; try again shortly.
 */
static int
meter_retry(struct http_request *req, struct meter_call *mc)
{
	tg_db_clear(&mc->db);
	mc->sent = 0;
	mc->sleeper = req;
	mc->pause = kore_timer_add(meter_resume, METER_RECALL_PAUSE_MS, mc,
	    KORE_TIMER_ONESHOT);
	http_request_sleep(req);
	return (ROUTER_METER_WAIT);
}

static void
meter_resume(void *arg, u_int64_t now)
{
	struct meter_call	*mc = arg;

	(void)now;
	mc->pause = NULL;
	if (mc->sleeper != NULL)
		http_request_wakeup(mc->sleeper);
	mc->sleeper = NULL;
}

static void
meter_unpause(struct meter_call *mc)
{
	if (mc->pause != NULL)
		kore_timer_remove(mc->pause);
	mc->pause = NULL;
	mc->sleeper = NULL;
}

/*
 * The statement of mc: ROUTER_METER_OK once its result is there, WAIT
 * while it runs, DENIED once its failure was answered.
 */
static int
meter_wait(struct http_request *req, struct meter_call *mc)
{
	switch (tg_db_poll(&mc->db)) {
	case TG_DB_WAIT:
		return (ROUTER_METER_WAIT);
	case TG_DB_FAILED:
		tg_db_error(req, &mc->db);
		tg_db_clear(&mc->db);
		return (ROUTER_METER_DENIED);
	}

	return (ROUTER_METER_OK);
}

/*
 * The price of credits_reserve()'s row (columns 6 to 9 and 14), checked:
 * 0 (logged by tg_db_num) for a NULL or garbled rate, never a free one.
 */
static int
meter_price(struct tg_db *db, int row, struct credits_price *p)
{
	long long	in, cin, out, fee, cw;

	if (!tg_db_num(db, row, 6, 0, INT64_MAX, &in) ||
	    !tg_db_num(db, row, 7, 0, INT64_MAX, &cin) ||
	    !tg_db_num(db, row, 8, 0, INT64_MAX, &out) ||
	    !tg_db_num(db, row, 9, 0, INT64_MAX, &fee) ||
	    !tg_db_num(db, row, 14, 0, INT64_MAX, &cw))
		return (0);
	p->input = in;
	p->cached_input = cin;
	p->output = out;
	p->fee = fee;
	p->cache_write_input = cw;
	return (1);
}

/* A reserve row that does not decode: 500, logged by tg_db_num. */
static int
meter_unreadable(struct http_request *req, struct meter_call *mc)
{
	tg_error_internal(req, "credits_reserve: unreadable row");
	tg_db_clear(&mc->db);
	return (ROUTER_METER_DENIED);
}

/* Voids the call's hold (nothing was called); nobody waits on it. */
static void
meter_void(struct router_call *call, struct meter_call *mc)
{
	struct meter_settle	*ms;
	const char		*params[13];
	int			 i;

	ms = kore_calloc(1, sizeof(*ms));
	/* Same sizes on both sides (meter_settle copies them alike). */
	(void)kore_strlcpy(ms->request_id, call->request_id,
	    sizeof(ms->request_id));
	(void)kore_strlcpy(ms->hold_id, mc->hold_id, sizeof(ms->hold_id));
	ms->settlement = SETTLE_VOID;

	params[0] = ms->hold_id;
	params[1] = NULL;
	params[2] = meter_outcome(ROUTER_OUTCOME_NOT_STARTED);
	params[3] = "void";
	for (i = 4; i < 10; i++)
		params[i] = "0";
	params[10] = "500";
	params[11] = "0";
	params[12] = "the reserve row was unreadable";
	(void)credits_job_start(sql_settle, 13, params, METER_SETTLE_RETRIES,
	    meter_settled, ms);
}

static const char *
meter_endpoint(int endpoint)
{
	switch (endpoint) {
	case ROUTER_ENDPOINT_EMBEDDINGS:
		return ("embeddings");
	case ROUTER_ENDPOINT_MESSAGES:
		return ("messages");
	case ROUTER_ENDPOINT_RESPONSES:
		return ("responses");
	default:
		return ("chat");
	}
}

static const char *
meter_outcome(int outcome)
{
	switch (outcome) {
	case ROUTER_OUTCOME_OK:
		return ("ok");
	case ROUTER_OUTCOME_UPSTREAM_ERROR:
		return ("upstream_error");
	case ROUTER_OUTCOME_TIMEOUT:
		return ("timeout");
	case ROUTER_OUTCOME_CLIENT_GONE:
		return ("client_gone");
	case ROUTER_OUTCOME_STREAM_CUT:
		return ("stream_cut");
	case ROUTER_OUTCOME_NOT_STARTED:
		return ("not_started");
	default:
		return ("error");
	}
}
