/*
 * Credit arithmetic (see cost.h). Pure C, no Kore.
 *
 * The cost of a call (docs/contract.md §6):
 *
 *	ceil(((prompt - cached - cache_write) * in + cached * cached_in
 *	    + cache_write * cache_write_in + completion * out) / 1e6) + fee
 *
 * rounded up once per call (prompt counts cache reads and writes once).
 * The hold of a call about to be made is the same formula at its worst
 * case: every prompt token (bounded from above) at the dearer of the
 * input and cache-write rates (cache reads are never dearer than input),
 * and max_tokens for each of its choices. Each step is checked: operands
 * are int64 and below 2^63, a product below 2^126, the sum of four below
 * 2^128, so unsigned 128-bit arithmetic is exact; only the final result
 * can fail to fit an int64, which is reported, never wrapped.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "credits/cost.h"

typedef unsigned __int128	u128;
typedef __int128		i128;

#define MTOK		1000000

static int	cost_mul(u128, u128, u128 *);
static int	cost_add(u128, u128, u128 *);
static int	cost_finish(u128, int64_t, int64_t *);
static int64_t	cost_prompt_rate(const struct credits_price *);
static int64_t	cost_clamp(int64_t, int64_t);
static int64_t	cost_output_estimate(const struct credits_observed *);

int
credits_price_valid(const struct credits_price *p)
{
	if (p->input < 0 || p->cached_input < 0 || p->output < 0 ||
	    p->fee < 0 || p->cache_write_input < 0)
		return (0);
	if (p->input > CREDITS_PRICE_MAX || p->cached_input > CREDITS_PRICE_MAX ||
	    p->output > CREDITS_PRICE_MAX || p->fee > CREDITS_PRICE_MAX ||
	    p->cache_write_input > CREDITS_PRICE_MAX)
		return (0);

	/*
	 * Cached prompt tokens never cost more than fresh ones; cache
	 * writes may (Anthropic charges 1.25x input for them).
	 */
	return (p->cached_input <= p->input);
}

/* The cost of reported (or estimated) usage. */
int
credits_cost(const struct credits_price *p, const struct credits_tokens *t,
    int64_t *out)
{
	u128	a, b, w, c, sum;

	if (p->input < 0 || p->cached_input < 0 || p->output < 0 ||
	    p->fee < 0 || p->cache_write_input < 0 || t->prompt < 0 ||
	    t->cached < 0 || t->cache_write < 0 || t->completion < 0 ||
	    t->cached > t->prompt || t->cache_write > t->prompt - t->cached)
		return (CREDITS_EINVAL);

	a = (u128)(t->prompt - t->cached - t->cache_write) * (u128)p->input;
	b = (u128)t->cached * (u128)p->cached_input;
	w = (u128)t->cache_write * (u128)p->cache_write_input;
	c = (u128)t->completion * (u128)p->output;
	sum = a + b + w + c;	/* each < 2^126: no wrap */

	return (cost_finish(sum, p->fee, out));
}

/*
 * The hold for a prompt of at most prompt_bound tokens and max_tokens
 * output tokens for each of choices completions.
 */
int
credits_hold(const struct credits_price *p, int64_t prompt_bound,
    int64_t max_tokens, int choices, int64_t *out)
{
	u128	a, c, sum;

	if (p->input < 0 || p->output < 0 || p->fee < 0 ||
	    p->cache_write_input < 0 || prompt_bound < 0 || max_tokens < 0 ||
	    choices < 1)
		return (CREDITS_EINVAL);

	a = (u128)prompt_bound * (u128)cost_prompt_rate(p);
	if (!cost_mul((u128)max_tokens * (u128)p->output, (u128)choices, &c) ||
	    !cost_add(a, c, &sum))
		return (CREDITS_EOVERFLOW);

	return (cost_finish(sum, p->fee, out));
}

/*
 * The most output tokens per choice whose hold the available amount
 * pays: -1 when not even the prompt is affordable, INT64_MAX when output
 * is free and the prompt affordable.
 *
 * hold(m) <= A  <=>  ceil((base + m * out) / 1e6) <= A - fee
 *               <=>  m * out <= (A - fee) * 1e6 - base	(A - fee integer)
 */
int64_t
credits_affordable(const struct credits_price *p, int64_t prompt_bound,
    int choices, int64_t available)
{
	i128	room, per;

	if (p->input < 0 || p->output < 0 || p->fee < 0 ||
	    p->cache_write_input < 0 || prompt_bound < 0 || choices < 1)
		return (-1);

	room = ((i128)available - p->fee) * MTOK -
	    (i128)prompt_bound * cost_prompt_rate(p);
	if (room < 0)
		return (-1);

	per = (i128)p->output * choices;
	if (per == 0 || room / per > INT64_MAX)
		return (INT64_MAX);

	return ((int64_t)(room / per));
}

/*
 * What credits_reserve() grants (the same rule, in C): the output asked
 * for (requested, or the cap; -1 for none of either), never above the
 * cap, clamped down to what available pays, refused below min_tokens. A
 * free call needs no room at all.
 */
void
credits_plan(const struct credits_price *p, int64_t prompt_bound,
    int64_t requested, int64_t cap, int64_t min_tokens, int choices,
    int64_t available, struct credits_plan *plan)
{
	int64_t	want, amount, m;

	memset(plan, 0, sizeof(*plan));
	plan->result = CREDITS_PLAN_INSUFFICIENT;
	plan->max_tokens = -1;

	if (requested < 0 && cap < 0)
		return;
	if (requested < 0)
		want = cap;
	else if (cap < 0)
		want = requested;
	else
		want = requested < cap ? requested : cap;

	if (credits_hold(p, prompt_bound, want, choices, &amount) ==
	    CREDITS_OK && amount <= (available > 0 ? available : 0)) {
		plan->result = CREDITS_PLAN_OK;
		plan->max_tokens = want;
		plan->amount = amount;
		return;
	}

	m = credits_affordable(p, prompt_bound, choices, available);
	plan->max_tokens = m;
	if (m < min_tokens || m < 0)
		return;
	if (m > want)
		m = want;	/* only when want's hold overflowed */
	if (credits_hold(p, prompt_bound, m, choices, &amount) != CREDITS_OK)
		return;

	plan->result = CREDITS_PLAN_OK;
	plan->max_tokens = m;
	plan->amount = amount;
}

/*
 * What a call that ended is settled for (docs/credits.md, "Settlement"):
 *
 *   a complete answer   the provider's usage; from a provider that does
 *                       not report, the estimate below;
 *   ended early         (client gone, stream cut, upstream failure or
 *                       timeout after output) usage a provider reports
 *                       before its stream ends is a lower bound
 *                       (Anthropic's message_start says 1 output token,
 *                       Gemini's interim chunks count only the prompt),
 *                       so the output is the larger of the reported
 *                       count and the estimate; the prompt is the
 *                       reported one when there is one, else the bound;
 *                       cache reads and writes as reported;
 *   void                the upstream failed before any output.
 *
 * Usage that means nothing (a negative count; all zero while output
 * came) counts as not reported. The estimate: the hold's prompt bound,
 * and for the output the UTF-8 bytes received (every token is at least
 * one byte, so this is never below the tokens behind them), at least 1
 * once anything came, at most max_tokens for each choice. Counts are
 * clamped to what the arithmetic is sized for, cache reads and writes to
 * the prompt. Returns CREDITS_SETTLE_*.
 */
int
credits_settle_usage(const struct credits_observed *o,
    struct credits_tokens *t)
{
	int64_t	est;
	int	usable, kind;

	memset(t, 0, sizeof(*t));
	if (o->failed && o->streamed_bytes <= 0)
		return (CREDITS_SETTLE_VOID);

	usable = o->reported && o->prompt >= 0 && o->cached >= 0 &&
	    o->cache_write >= 0 && o->completion >= 0 &&
	    (o->prompt > 0 || o->completion > 0 || o->streamed_bytes <= 0);
	if (usable) {
		t->prompt = cost_clamp(o->prompt, CREDITS_TOKENS_MAX);
		t->cached = cost_clamp(o->cached, t->prompt);
		t->cache_write = cost_clamp(o->cache_write,
		    t->prompt - t->cached);
		t->completion = cost_clamp(o->completion, CREDITS_TOKENS_MAX);
		if (!o->ended_early)
			return (CREDITS_SETTLE_PROVIDER);
	}

	kind = CREDITS_SETTLE_PROVIDER;
	if (!usable || t->prompt == 0) {
		t->prompt = cost_clamp(o->prompt_bound, CREDITS_TOKENS_MAX);
		t->cached = 0;
		t->cache_write = 0;
		kind = CREDITS_SETTLE_ESTIMATE;
	}
	est = cost_output_estimate(o);
	if (!usable || est > t->completion) {
		t->completion = est;
		kind = CREDITS_SETTLE_ESTIMATE;
	}

	return (kind);
}

/* Micros as credits: "-1.000250". Returns 0 when it does not fit. */
int
credits_format_micros(int64_t micros, char *buf, size_t len)
{
	uint64_t	abs;
	int		n;

	abs = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
	n = snprintf(buf, len, "%s%" PRIu64 ".%06" PRIu64,
	    micros < 0 ? "-" : "", abs / MTOK, abs % MTOK);

	return (n > 0 && (size_t)n < len);
}

/*
 * The 402 of a call that cannot pay a minimal answer: what it needs,
 * what limits it (the balance, or the key's spend limit when that is the
 * smaller; key_available NULL: no limit) and what is affordable.
 */
int
credits_refusal_message(char *buf, size_t len, const char *model,
    const struct credits_price *p, int64_t prompt_bound, int64_t min_tokens,
    int choices, int64_t available, const int64_t *key_available)
{
	char		 need[32], have[32];
	const char	*what;
	int64_t		 eff, amount, m;
	int		 n;

	eff = available;
	what = "your available balance is";
	if (key_available != NULL && *key_available < available) {
		eff = *key_available;
		what = "this API key's remaining spend limit is";
	}

	if (min_tokens < 0)
		min_tokens = 0;
	m = credits_affordable(p, prompt_bound, choices, eff);
	if (credits_hold(p, prompt_bound, m < 0 ? 0 : min_tokens, choices,
	    &amount) != CREDITS_OK)
		amount = INT64_MAX;
	if (!credits_format_micros(amount, need, sizeof(need)) ||
	    !credits_format_micros(eff, have, sizeof(have)))
		return (0);

	if (m < 0) {
		n = snprintf(buf, len, "insufficient credits: the prompt of "
		    "this request (up to %" PRId64 " tokens) alone may cost "
		    "up to %s credits on %s, and %s %s credits; add credits "
		    "or shorten the prompt", prompt_bound, need, model, what,
		    have);
	} else {
		n = snprintf(buf, len, "insufficient credits: this request "
		    "needs at least %s credits on %s (a prompt of up to "
		    "%" PRId64 " tokens and %" PRId64 " output token%s), and "
		    "%s %s credits, which pays for %" PRId64 " output tokens; "
		    "add credits or shorten the prompt", need, model,
		    prompt_bound, min_tokens, min_tokens == 1 ? "" : "s",
		    what, have, m);
	}

	return (n > 0 && (size_t)n < len);
}

int
credits_debt_message(char *buf, size_t len, int64_t debt)
{
	char	owed[32];
	int	n;

	if (!credits_format_micros(debt, owed, sizeof(owed)))
		return (0);
	n = snprintf(buf, len, "insufficient credits: your account owes %s "
	    "credits (a refund or dispute took back credits already spent); "
	    "add credits to continue", owed[0] == '-' ? owed + 1 : owed);

	return (n > 0 && (size_t)n < len);
}

static int
cost_mul(u128 a, u128 b, u128 *r)
{
	if (a != 0 && b > (~(u128)0) / a)
		return (0);
	*r = a * b;
	return (1);
}

static int
cost_add(u128 a, u128 b, u128 *r)
{
	if (a > (~(u128)0) - b)
		return (0);
	*r = a + b;
	return (1);
}

/* ceil(sum / 1e6) + fee, if it fits an int64. */
static int
cost_finish(u128 sum, int64_t fee, int64_t *out)
{
	u128	q;

	q = sum / MTOK + (sum % MTOK != 0);
	q += (u128)fee;
	if (q > (u128)INT64_MAX)
		return (CREDITS_EOVERFLOW);

	*out = (int64_t)q;
	return (CREDITS_OK);
}

/* The worst rate of a prompt token: fresh input or a cache write. */
static int64_t
cost_prompt_rate(const struct credits_price *p)
{
	return (p->cache_write_input > p->input ? p->cache_write_input :
	    p->input);
}

/* v within [0, max]. */
static int64_t
cost_clamp(int64_t v, int64_t max)
{
	if (v < 0)
		return (0);
	return (v < max ? v : max);
}

/* The output tokens a call's received bytes stand for (see above). */
static int64_t
cost_output_estimate(const struct credits_observed *o)
{
	int64_t	limit, c;
	int	choices;

	choices = o->choices < 1 ? 1 : o->choices;
	limit = o->max_tokens > 0 ? o->max_tokens : 0;
	if (limit > INT64_MAX / choices)
		limit = INT64_MAX;
	else
		limit *= choices;

	c = o->streamed_bytes > 0 ? o->streamed_bytes : 0;
	if (c > CREDITS_TOKENS_MAX)
		c = CREDITS_TOKENS_MAX;
	return (c < limit ? c : limit);
}
