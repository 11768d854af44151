/*
 * Token buckets in GCRA form (see ratelimit.h).
 *
 * Each key keeps one number, its theoretical arrival time (TAT): the time
 * at which its bucket would be full again. A request at `now` is allowed
 * when TAT - now <= tolerance (there is a token left), and then moves TAT
 * one interval on from max(TAT, now). A refused request changes nothing,
 * so hammering a limited key does not push its recovery further out.
 *
 * The table is set-associative (TG_RATELIMIT_WAYS ways per set) and
 * fixed-size: memory is bounded whatever the number of clients. Keys are
 * stored as a keyed 64-bit hash (SipHash, random key per table), so no
 * one can aim collisions at another client's slot. When a set is full, a
 * new key takes the slot whose bucket is fullest: one already full is
 * indistinguishable from a fresh one, so that loses nothing; only when
 * every way is busy does the least limited key forget its state.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ratelimit.h"

static struct tg_ratelimit_slot	*ratelimit_slot(struct tg_ratelimit *,
				    uint64_t, uint64_t);
static uint64_t			 ratelimit_hash(struct tg_ratelimit *,
				    const char *, size_t);
static int			 ratelimit_over(struct tg_ratelimit *,
				    uint64_t, uint64_t, unsigned int *);

/*
 * slots: table size (rounded to whole sets); limit requests per
 * period_s seconds, 0 for no limit. Returns 0 on bad arguments or when
 * memory runs out.
 */
int
tg_ratelimit_init(struct tg_ratelimit *rl, size_t slots, unsigned int limit,
    unsigned int period_s)
{
	memset(rl, 0, sizeof(*rl));
	rl->limit = limit;
	if (limit == 0)
		return (1);
	if (period_s == 0 || slots < TG_RATELIMIT_WAYS)
		return (0);

	rl->nsets = slots / TG_RATELIMIT_WAYS;
	rl->slots = calloc(rl->nsets * TG_RATELIMIT_WAYS, sizeof(*rl->slots));
	if (rl->slots == NULL)
		return (0);

	rl->interval_us = (uint64_t)period_s * 1000000 / limit;
	if (rl->interval_us == 0)
		rl->interval_us = 1;
	rl->tolerance_us = rl->interval_us * (limit - 1);
	randombytes_buf(rl->hashkey, sizeof(rl->hashkey));
	return (1);
}

void
tg_ratelimit_free(struct tg_ratelimit *rl)
{
	free(rl->slots);
	rl->slots = NULL;
}

/*
 * One request for key at now_us (a monotonic clock). Returns 1 when it
 * may proceed; 0 when over the limit, with *retry_after the whole seconds
 * until the next request would pass (at least 1).
 */
int
tg_ratelimit_take(struct tg_ratelimit *rl, const char *key, size_t len,
    uint64_t now_us, unsigned int *retry_after)
{
	struct tg_ratelimit_slot	*s;
	uint64_t			 tat;

	*retry_after = 0;
	if (rl->limit == 0 || rl->slots == NULL)
		return (1);

	s = ratelimit_slot(rl, ratelimit_hash(rl, key, len), now_us);
	if (ratelimit_over(rl, s->tat_us, now_us, retry_after))
		return (0);

	tat = s->tat_us > now_us ? s->tat_us : now_us;
	s->tat_us = tat + rl->interval_us;
	return (1);
}

/*
 * Whether tg_ratelimit_take() would let a request through now, without
 * taking it and without making room for a key the table does not hold
 * (which has its whole burst). For limits on failures: every attempt
 * peeks, only the failures take.
 */
int
tg_ratelimit_peek(struct tg_ratelimit *rl, const char *key, size_t len,
    uint64_t now_us, unsigned int *retry_after)
{
	struct tg_ratelimit_slot	*set;
	uint64_t			 hash;
	int				 i;

	*retry_after = 0;
	if (rl->limit == 0 || rl->slots == NULL)
		return (1);

	hash = ratelimit_hash(rl, key, len);
	set = &rl->slots[(hash >> 1) % rl->nsets * TG_RATELIMIT_WAYS];
	for (i = 0; i < TG_RATELIMIT_WAYS; i++) {
		if (set[i].hash == hash)
			return (!ratelimit_over(rl, set[i].tat_us, now_us,
			    retry_after));
	}

	return (1);
}

/* A keyed hash of key, never 0 (which marks a free slot). */
static uint64_t
ratelimit_hash(struct tg_ratelimit *rl, const char *key, size_t len)
{
	unsigned char	h[crypto_shorthash_BYTES];
	uint64_t	hash;

	crypto_shorthash(h, (const unsigned char *)key, len, rl->hashkey);
	memcpy(&hash, h, sizeof(hash));
	return (hash | 1);
}

/* 1, with *retry_after set, when a bucket at tat has no token at now. */
static int
ratelimit_over(struct tg_ratelimit *rl, uint64_t tat, uint64_t now_us,
    unsigned int *retry_after)
{
	uint64_t	wait;

	if (tat < now_us)
		tat = now_us;
	if (tat - now_us <= rl->tolerance_us)
		return (0);

	wait = tat - now_us - rl->tolerance_us;
	*retry_after = (unsigned int)((wait + 999999) / 1000000);
	return (1);
}

/* The key's slot, or the one it takes over (see the top of the file). */
static struct tg_ratelimit_slot *
ratelimit_slot(struct tg_ratelimit *rl, uint64_t hash, uint64_t now_us)
{
	struct tg_ratelimit_slot	*set, *victim;
	int				 i;

	set = &rl->slots[(hash >> 1) % rl->nsets * TG_RATELIMIT_WAYS];
	victim = &set[0];
	for (i = 0; i < TG_RATELIMIT_WAYS; i++) {
		if (set[i].hash == hash)
			return (&set[i]);
		if (set[i].hash == 0 || set[i].tat_us <= now_us) {
			victim = &set[i];
			continue;
		}
		if (victim->hash != 0 && victim->tat_us > now_us &&
		    set[i].tat_us < victim->tat_us)
			victim = &set[i];
	}

	victim->hash = hash;
	victim->tat_us = 0;
	return (victim);
}
