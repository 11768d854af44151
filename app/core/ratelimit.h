/*
 * Request rate limits: a bounded table of token buckets, one per key
 * (a client address, a user id). Pure C; the HTTP glue is
 * ratelimit_http.c.
 *
 * A limit of N per period lets N requests through at once and then one
 * every period/N (a token bucket of capacity N refilled at N per period),
 * kept as its GCRA form: one "theoretical arrival time" per key.
 *
 * Tables live in a worker's memory, so with W workers a client can get
 * up to W times the limit through one tollgate process (the accept lock
 * tends to keep a client's connection on one worker, so in practice it
 * is closer to the limit).
 */

#ifndef TG_RATELIMIT_H
#define TG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define TG_RATELIMIT_WAYS	4

struct tg_ratelimit_slot {
	uint64_t	hash;		/* 0: free */
	uint64_t	tat_us;		/* theoretical arrival time */
};

struct tg_ratelimit {
	struct tg_ratelimit_slot	*slots;
	size_t				 nsets;
	uint64_t			 interval_us;	/* period / limit */
	uint64_t			 tolerance_us;	/* (limit-1)*interval */
	unsigned char			 hashkey[16];
	unsigned int			 limit;		/* 0: off */
};

int	tg_ratelimit_init(struct tg_ratelimit *, size_t, unsigned int,
	    unsigned int);
void	tg_ratelimit_free(struct tg_ratelimit *);
int	tg_ratelimit_take(struct tg_ratelimit *, const char *, size_t,
	    uint64_t, unsigned int *);
int	tg_ratelimit_peek(struct tg_ratelimit *, const char *, size_t,
	    uint64_t, unsigned int *);

#endif
