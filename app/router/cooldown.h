/*
 * The circuit breaker of one target (a provider's model), kept per
 * worker: the pure decisions, with no Kore types and no clock of its
 * own (the caller passes the time in milliseconds). relay.c keeps one
 * struct per catalog model and feeds it each attempt's verdict.
 *
 * States:
 *   closed     fewer than `after` consecutive failures: tried;
 *   open       `after` failures reached, until > now: skipped (not
 *              failed) for cooldown_ms;
 *   half-open  until <= now: the next call probes the target alone
 *              (its admission moves until cooldown_ms ahead, so other
 *              calls keep skipping while it runs, and a probe that never
 *              reports, its client gone, frees the target after another
 *              cooldown_ms).
 * A success closes the breaker; any failure while open or half-open
 * opens it again for cooldown_ms. after == 0 disables the breaker.
 *
 * What is a failure is the relay's call (router_cooldown_failure_status):
 * an attempt that made the router fall back before any content, i.e. no
 * answer, a timeout, 408, 429 or a 5xx; a 4xx refusal of the client's
 * request is an answer, so it counts as a success.
 */

#ifndef ROUTER_COOLDOWN_H
#define ROUTER_COOLDOWN_H

#include <stdint.h>

/* router_cooldown_admit() */
#define ROUTER_COOL_GO		0	/* closed: try it */
#define ROUTER_COOL_PROBE	1	/* half-open: this call probes it */
#define ROUTER_COOL_SKIP	2	/* open: skip it */

/* router_cooldown_failure() */
#define ROUTER_COOL_COUNTED	0	/* still closed */
#define ROUTER_COOL_OPENED	1	/* closed -> open: a new cooldown */
#define ROUTER_COOL_REOPENED	2	/* a failed probe: cooling again */

struct router_cooldown {
	int		failures;	/* consecutive */
	int		cooling;	/* open or half-open */
	uint64_t	until;		/* skipped before this (ms) */
};

int	router_cooldown_admit(struct router_cooldown *, uint64_t, long,
	    uint64_t *);
int	router_cooldown_failure(struct router_cooldown *, uint64_t, int, long);
int	router_cooldown_success(struct router_cooldown *);
int	router_cooldown_skips(const struct router_cooldown *, uint64_t);
int	router_cooldown_failure_status(long);

#endif
