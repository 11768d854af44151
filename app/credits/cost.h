/*
 * Credit arithmetic (docs/contract.md §6), pure C: the cost of a call,
 * the hold of a call about to be made, how many output tokens an available
 * balance pays for, what to settle a call that ended for (the provider's
 * usage, an estimate, or the larger of the two for a call cut short), and
 * the words of a 402.
 *
 * All amounts are integer micro-credits (int64_t); prices are micros per
 * million tokens. Products are formed in unsigned 128-bit integers and
 * the one division by 1e6 rounds up, once per call, so no token count or
 * price that fits an int64_t can overflow or round a charge down.
 *
 * The same formulas run in SQL (sql/0302_credits_holds.sql:
 * credits_cost(), credits_reserve()); ledger_check() recomputes every
 * recorded charge from its tokens, which keeps the two in step.
 */

#ifndef CREDITS_COST_H
#define CREDITS_COST_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds the database also enforces (model_prices CHECKs). */
#define CREDITS_PRICE_MAX	1000000000000LL	/* per Mtok, and the fee */
#define CREDITS_TOKENS_MAX	1000000000000LL	/* per class per call */
#define CREDITS_CHOICES_MAX	128

/* Results. */
#define CREDITS_OK		0
#define CREDITS_EINVAL		(-1)	/* negative, cached + writes > prompt */
#define CREDITS_EOVERFLOW	(-2)	/* the cost does not fit an int64 */

struct credits_price {
	int64_t	input;		/* micros per million prompt tokens */
	int64_t	cached_input;	/* ... per million cached prompt tokens */
	int64_t	output;		/* ... per million completion tokens */
	int64_t	fee;		/* micros per request */
	int64_t	cache_write_input; /* ... per million prompt cache writes */
};

/*
 * OpenAI's usage terms: prompt includes cached (cache reads) and
 * cache_write (tokens written to the provider's prompt cache), each
 * counted once; completion includes reasoning.
 */
struct credits_tokens {
	int64_t	prompt;
	int64_t	cached;
	int64_t	completion;
	int64_t	cache_write;
};

/* What a reservation would grant (credits_plan). */
#define CREDITS_PLAN_OK			0
#define CREDITS_PLAN_INSUFFICIENT	1

struct credits_plan {
	int	result;
	int64_t	max_tokens;	/* per choice; -1: not even the prompt */
	int64_t	amount;		/* the hold (when OK) */
};

/* What a call showed when it ended (credits_settle_usage). */
struct credits_observed {
	int64_t	prompt_bound;		/* the hold's prompt bound */
	int64_t	max_tokens;		/* the hold's, per choice */
	int	choices;
	int	reported;		/* the provider sent usage */
	int64_t	prompt;			/* ... its counts */
	int64_t	cached;
	int64_t	cache_write;
	int64_t	completion;
	int64_t	streamed_bytes;		/* UTF-8 bytes of output received */
	int	ended_early;		/* cut, abandoned, failed mid-answer */
	int	failed;			/* upstream error, timeout or cut */
};

/* How a call is settled (credits_settle_usage). */
#define CREDITS_SETTLE_PROVIDER	0	/* the provider's count */
#define CREDITS_SETTLE_ESTIMATE	1	/* some counter was estimated */
#define CREDITS_SETTLE_VOID	2	/* nothing was produced: no charge */

int	credits_price_valid(const struct credits_price *);
int	credits_cost(const struct credits_price *,
	    const struct credits_tokens *, int64_t *);
int	credits_hold(const struct credits_price *, int64_t, int64_t, int,
	    int64_t *);
int64_t	credits_affordable(const struct credits_price *, int64_t, int,
	    int64_t);
void	credits_plan(const struct credits_price *, int64_t, int64_t,
	    int64_t, int64_t, int, int64_t, struct credits_plan *);
int	credits_settle_usage(const struct credits_observed *,
	    struct credits_tokens *);
int	credits_format_micros(int64_t, char *, size_t);
int	credits_refusal_message(char *, size_t, const char *,
	    const struct credits_price *, int64_t, int64_t, int, int64_t,
	    const int64_t *);
int	credits_debt_message(char *, size_t, int64_t);

#endif
