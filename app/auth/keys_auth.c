/*
 * API-key authentication of the router routes (docs/contract.md §3, §4): the
 * tg_key_authenticate hook of the dispatcher.
 *
 * Order of checks, cheapest first: the client address must not be over
 * its failure limit (below); the key must be present and well-formed (prefix, length, alphabet, CRC-32 checksum) or the request
 * is refused with no database work at all; then the key's record comes
 * from this worker's cache (or its id from the negative cache) or, on a
 * miss, from one query; then the
 * presented key's keyed digest must equal the stored one (constant-time)
 * and the key be live. Unknown, revoked, expired and wrong-secret keys
 * all get the same 401; a disabled key (whose secret was right) 403.
 *
 * Refusing does the same work whether or not the public id exists: the
 * cache checks and one keyed-digest comparison (keys_verify), against a
 * random dummy digest for an unknown id, so neither the work nor its
 * time tells an attacker which ids exist. Unknown ids are remembered in
 * a negative cache for KEYS_UNKNOWN_TTL_MS, so a forged key repeated
 * costs no query; the key NOTIFY feed drops an entry when a key with
 * that id appears (migration 0495), so a key created a moment ago is
 * found at once.
 *
 * Failed authentications (malformed, unknown, wrong secret, revoked,
 * expired) are counted per client address: past TOLLGATE_KEY_FAIL_LIMIT
 * a minute (a token bucket, ratelimit.h) that address's key
 * authentications are refused with 429 rate_limited and Retry-After,
 * even with a valid key, until the bucket has a token again. Only
 * failures take tokens. The buckets live in this worker's memory, so
 * the limit holds per worker.
 *
 * The cache is direct-mapped by public id and bounded; entries live
 * KEYS_CACHE_TTL_MS at most. keys_cache_invalidate() drops one entry (a
 * NOTIFY from keys_notify.c: the key changed somewhere) or all of them.
 * Both caches are used only while this worker's change feed is listening
 * (keys_notify_ready()); otherwise every request reads the database.
 *
 * A lookup races with invalidations: its snapshot may predate a revoke
 * whose notice arrives before the lookup's answer. Every slot therefore
 * carries an epoch, bumped on each invalidation of a key mapping to it
 * (and a global one for flushes); an answer is cached only if neither
 * moved while the query was out. It still decides its own request, which
 * began before the change. The same epochs guard the negative cache
 * (a lookup that found nothing while the key was being created).
 *
 * A successful authentication asks for last_used_at to be written
 * (keys_notify_touch) when this worker has not done so for the key in
 * KEYS_TOUCH_MS, taking the database's own value into account; the write
 * is asynchronous and never delays the request.
 */

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tollgate.h"
#include "db.h"
#include "metrics.h"
#include "ratelimit.h"
#include "auth/apikey.h"
#include "auth/keys.h"
#include "auth/lookup.h"

#define KEYS_CACHE_SLOTS	1024
#define KEYS_FAIL_SLOTS		16384
#define KEYS_FAIL_PERIOD_S	60

struct keys_entry {
	int		 used;
	char		 public_id[APIKEY_PUBLIC_LEN + 1];
	unsigned char	 digest[APIKEY_DIGEST_LEN];
	char		 key_id[TG_ID_MAX];
	char		 user_id[TG_ID_MAX];
	int		 nallowed;
	char		(*allowed)[TG_MODEL_PATTERN_MAX];
	int64_t		 spend_limit_micros;
	int64_t		 spent_micros;
	int		 disabled;
	int		 revoked;
	int		 user_active;
	int		 user_suspended;	/* 403, not 401 */
	time_t		 expires_at;		/* 0: never */
	u_int64_t	 fetched_ms;
	u_int64_t	 touched_ms;	/* last_used_at, as we know it */
};

/* A public id that had no key (the negative cache). */
struct keys_unknown {
	char		public_id[APIKEY_PUBLIC_LEN + 1];
	u_int64_t	until_ms;		/* 0: free */
};

struct keys_auth_state {
	struct tg_db	db;			/* first: auth/lookup.h */
	char		public_id[APIKEY_PUBLIC_LEN + 1];
	unsigned char	digest[APIKEY_DIGEST_LEN];
	u_int32_t	epoch;			/* keys_epoch at the start */
	u_int32_t	slot_epoch;		/* its slot's, at the start */
};

static const char	*keys_presented(struct http_request *);
static int		 keys_verdict(struct http_request *, struct tg_ctx *,
			    struct keys_entry *, const unsigned char *);
static int		 keys_lookup_done(struct http_request *,
			    struct tg_ctx *, struct keys_auth_state *);
static size_t		 keys_slot_index(const char *);
static void		 keys_touch(struct keys_entry *);
static void		 keys_entry_clear(struct keys_entry *);
static int		 keys_entry_load(struct keys_entry *, struct tg_db *,
			    const char *);
static int		 keys_copy(char *, size_t, const char *);
static int		 keys_bool(struct tg_db *, int, int *);
static int		 keys_refuse(struct http_request *);
static int		 keys_verify(const unsigned char *,
			    const unsigned char *);
static int		 keys_unknown_cached(const char *, size_t);
static int		 keys_fail_limited(struct http_request *);

static const char	sql_key_lookup[] =
	"SELECT k.id, k.user_id, encode(k.digest, 'hex'), "
	"array_to_json(k.allowed_models)::text, k.spend_limit_micros, "
	"k.spent_micros, k.disabled, k.revoked_at IS NOT NULL, "
	"u.status = 'active', "
	"coalesce(floor(extract(epoch FROM k.expires_at))::bigint, 0), "
	"coalesce((extract(epoch FROM now() - k.last_used_at) * 1000)"
	"::bigint, -1), u.status = 'suspended' "
	"FROM api_keys k JOIN users u ON u.id = k.user_id "
	"WHERE k.public_id = $1";

static struct keys_entry	*keys_cache;
static struct keys_unknown	*keys_unknown;
static struct tg_ratelimit	 keys_fail_rl;
static unsigned char		 keys_dummy_digest[APIKEY_DIGEST_LEN];
static u_int32_t		*keys_slot_epochs;
static u_int32_t		 keys_epoch;
static unsigned char		 keys_hashkey[APIKEY_HASHKEY_LEN];

void
keys_auth_init(void)
{
	keys_cache = kore_calloc(KEYS_CACHE_SLOTS, sizeof(*keys_cache));
	keys_slot_epochs = kore_calloc(KEYS_CACHE_SLOTS,
	    sizeof(*keys_slot_epochs));
	keys_unknown = kore_calloc(KEYS_CACHE_SLOTS, sizeof(*keys_unknown));
	randombytes_buf(keys_dummy_digest, sizeof(keys_dummy_digest));
	if (!tg_ratelimit_init(&keys_fail_rl, KEYS_FAIL_SLOTS,
	    tg_conf.key_fail_limit, KEYS_FAIL_PERIOD_S))
		fatal("key failure limit: out of memory");
	apikey_hashkey(tg_conf.key_pepper, tg_conf.key_pepper_len,
	    keys_hashkey);
	tg_key_authenticate = keys_authenticate;
}

/* The digest we store for a key (also used when creating keys). */
void
keys_digest(const char *key, unsigned char out[APIKEY_DIGEST_LEN])
{
	apikey_digest(keys_hashkey, key, out);
}

void
keys_cache_invalidate(const char *public_id)
{
	struct keys_entry	*e;
	size_t			 i;

	if (keys_cache == NULL)
		return;
	if (public_id == NULL) {
		keys_epoch++;
		for (e = keys_cache; e < keys_cache + KEYS_CACHE_SLOTS; e++)
			keys_entry_clear(e);
		memset(keys_unknown, 0, KEYS_CACHE_SLOTS *
		    sizeof(*keys_unknown));
		return;
	}

	i = keys_slot_index(public_id);
	keys_slot_epochs[i]++;
	e = &keys_cache[i];
	if (e->used && !strcmp(e->public_id, public_id))
		keys_entry_clear(e);
	if (!strcmp(keys_unknown[i].public_id, public_id))
		memset(&keys_unknown[i], 0, sizeof(keys_unknown[i]));
}

int
keys_authenticate(struct http_request *req, struct tg_ctx *ctx)
{
	struct keys_auth_state	*st;
	struct keys_entry	*e;
	const char		*key, *params[1];
	char			 public_id[APIKEY_PUBLIC_LEN + 1];
	unsigned char		 digest[APIKEY_DIGEST_LEN];
	size_t			 slot;
	int			 rc;

	if ((st = ctx->auth_state) != NULL) {
		if ((rc = auth_lookup_wait(req, ctx)) != TG_AUTH_OK)
			return (rc);
		return (keys_lookup_done(req, ctx, st));
	}

	if (keys_fail_limited(req))
		return (TG_AUTH_DENIED);

	if ((key = keys_presented(req)) == NULL ||
	    !apikey_parse(key, public_id)) {
		tg_metrics_add(keys_metric_refused, 1);
		return (keys_refuse(req));
	}

	apikey_digest(keys_hashkey, key, digest);

	slot = keys_slot_index(public_id);
	e = &keys_cache[slot];
	if (keys_notify_ready() && e->used &&
	    !strcmp(e->public_id, public_id) &&
	    kore_time_ms() - e->fetched_ms < KEYS_CACHE_TTL_MS) {
		tg_metrics_add(keys_metric_cached, 1);
		return (keys_verdict(req, ctx, e, digest));
	}
	if (keys_notify_ready() && keys_unknown_cached(public_id, slot)) {
		tg_metrics_add(keys_metric_unknown_cached, 1);
		(void)keys_verify(digest, keys_dummy_digest);
		return (keys_refuse(req));
	}

	tg_metrics_add(keys_metric_lookups, 1);

	params[0] = public_id;
	st = auth_lookup_start(req, ctx, sizeof(*st), sql_key_lookup, 1,
	    params);
	memcpy(st->public_id, public_id, sizeof(st->public_id));
	memcpy(st->digest, digest, sizeof(st->digest));
	st->epoch = keys_epoch;
	st->slot_epoch = keys_slot_epochs[slot];
	return (TG_AUTH_WAIT);
}

/* Authorization: Bearer tg_..., else x-api-key (Anthropic SDKs). */
static const char *
keys_presented(struct http_request *req)
{
	const char	*v;

	if ((v = tg_http_bearer(req)) != NULL)
		return (v);

	return (tg_http_header(req, "x-api-key"));
}

/*
 * The row is in: cache it unless an invalidation for its slot (or a
 * flush) happened meanwhile or the change feed is down, then decide.
 */
static int
keys_lookup_done(struct http_request *req, struct tg_ctx *ctx,
    struct keys_auth_state *st)
{
	struct keys_entry	 tmp, *e;
	size_t			 slot;
	int			 ret, cacheable;

	slot = keys_slot_index(st->public_id);
	cacheable = keys_notify_ready() && st->epoch == keys_epoch &&
	    st->slot_epoch == keys_slot_epochs[slot];

	if (tg_db_ntuples(&st->db) != 1) {
		tg_db_clear(&st->db);
		if (cacheable) {
			memcpy(keys_unknown[slot].public_id, st->public_id,
			    sizeof(keys_unknown[slot].public_id));
			keys_unknown[slot].until_ms = kore_time_ms() +
			    KEYS_UNKNOWN_TTL_MS;
		}
		(void)keys_verify(st->digest, keys_dummy_digest);
		return (keys_refuse(req));
	}

	if (cacheable) {
		e = &keys_cache[slot];
		keys_entry_clear(e);
	} else {
		e = &tmp;
		memset(e, 0, sizeof(*e));
	}

	if (!keys_entry_load(e, &st->db, st->public_id)) {
		keys_entry_clear(e);
		tg_db_clear(&st->db);
		tg_error_internal(req, "bad api_keys row");
		return (TG_AUTH_DENIED);
	}
	tg_db_clear(&st->db);

	ret = keys_verdict(req, ctx, e, st->digest);
	if (e == &tmp)
		keys_entry_clear(e);
	return (ret);
}

static int
keys_verdict(struct http_request *req, struct tg_ctx *ctx,
    struct keys_entry *e, const unsigned char *digest)
{
	struct tg_principal	*who = &ctx->who;
	int			 i;

	if (!keys_verify(digest, e->digest))
		return (keys_refuse(req));
	if (e->revoked || (!e->user_active && !e->user_suspended) ||
	    (e->expires_at != 0 && e->expires_at <= time(NULL)))
		return (keys_refuse(req));
	if (e->user_suspended) {
		tg_error(req, 403, "account_suspended", NULL,
		    "the account of this API key is suspended");
		return (TG_AUTH_DENIED);
	}

	/* Same sizes as the entry's (TG_ID_MAX): nothing can be cut. */
	(void)kore_strlcpy(who->user_id, e->user_id, sizeof(who->user_id));
	(void)kore_strlcpy(who->key_id, e->key_id, sizeof(who->key_id));
	(void)snprintf(who->key_prefix, sizeof(who->key_prefix), "tg_%s",
	    e->public_id);

	if (e->disabled) {
		tg_error(req, 403, "key_disabled", NULL,
		    "this API key is disabled");
		return (TG_AUTH_DENIED);
	}

	who->nallowed = e->nallowed;
	for (i = 0; i < e->nallowed; i++)
		memcpy(who->allowed_models[i], e->allowed[i],
		    TG_MODEL_PATTERN_MAX);
	who->spend_limit_micros = e->spend_limit_micros;
	who->spent_micros = e->spent_micros;

	keys_touch(e);
	return (TG_AUTH_OK);
}

/* last_used_at: at most one write per key per KEYS_TOUCH_MS from here. */
static void
keys_touch(struct keys_entry *e)
{
	u_int64_t	now;

	now = kore_time_ms();
	if (e->touched_ms != 0 && now - e->touched_ms < KEYS_TOUCH_MS)
		return;

	e->touched_ms = now;
	keys_notify_touch(e->key_id);
}

/*
 * The one comparison of a presented key's digest, counted: every refusal
 * of a well-formed key does exactly one (a dummy for unknown ids).
 */
static int
keys_verify(const unsigned char *digest, const unsigned char *stored)
{
	tg_metrics_add(keys_metric_verifications, 1);
	return (sodium_memcmp(digest, stored, APIKEY_DIGEST_LEN) == 0);
}

/* public_id had no key less than KEYS_UNKNOWN_TTL_MS ago. */
static int
keys_unknown_cached(const char *public_id, size_t slot)
{
	struct keys_unknown	*u = &keys_unknown[slot];

	return (u->until_ms != 0 && kore_time_ms() < u->until_ms &&
	    !strcmp(u->public_id, public_id));
}

/* Answered 429 when this address failed too often (keys_refuse counts). */
static int
keys_fail_limited(struct http_request *req)
{
	char		ip[INET6_ADDRSTRLEN + 8];
	unsigned int	retry;

	if (tg_conf.key_fail_limit == 0)
		return (0);

	tg_http_client_ip(req, ip, sizeof(ip));
	if (tg_ratelimit_peek(&keys_fail_rl, ip, strlen(ip), tg_now_us(),
	    &retry))
		return (0);

	tg_metrics_add(keys_metric_limited, 1);
	tg_error_retry(req, 429, "rate_limited", (int)retry, "too many failed "
	    "API-key authentications from this address: at most %u a "
	    "minute; retry in %u s", tg_conf.key_fail_limit, retry);
	return (1);
}

/* A failed authentication: 401, and one failure for the address. */
static int
keys_refuse(struct http_request *req)
{
	char		ip[INET6_ADDRSTRLEN + 8];
	unsigned int	retry;

	if (tg_conf.key_fail_limit != 0) {
		tg_http_client_ip(req, ip, sizeof(ip));
		(void)tg_ratelimit_take(&keys_fail_rl, ip, strlen(ip),
		    tg_now_us(), &retry);
	}

	tg_error(req, 401, "invalid_api_key", NULL,
	    "invalid API key: pass a valid key as \"Authorization: Bearer "
	    "tg_...\" or \"x-api-key\"");
	return (TG_AUTH_DENIED);
}

/*
 * Direct-mapped: the slot is a hash of the public id. Public ids are
 * random, so CRC-32 spreads them evenly; ids crafted to collide only
 * evict each other (a query more, never a wrong answer).
 */
static size_t
keys_slot_index(const char *public_id)
{
	return (apikey_crc32(public_id, strlen(public_id)) % KEYS_CACHE_SLOTS);
}

static void
keys_entry_clear(struct keys_entry *e)
{
	kore_free(e->allowed);
	memset(e, 0, sizeof(*e));
}

/*
 * Row of sql_key_lookup -> cache entry. Every value is checked: a NULL
 * where none belongs, a garbled number or a string that does not fit
 * makes the row bad (0), never a default.
 */
static int
keys_entry_load(struct keys_entry *e, struct tg_db *db, const char *public_id)
{
	const char	*v;
	json_t		*arr, *item;
	size_t		 i;
	long long	 n, age;

	if ((v = tg_db_value(db, 0, 2)) == NULL ||
	    sodium_hex2bin(e->digest, sizeof(e->digest), v, strlen(v), NULL,
	    NULL, NULL) != 0)
		return (0);

	if (!keys_copy(e->public_id, sizeof(e->public_id), public_id) ||
	    !keys_copy(e->key_id, sizeof(e->key_id), tg_db_value(db, 0, 0)) ||
	    !keys_copy(e->user_id, sizeof(e->user_id), tg_db_value(db, 0, 1)))
		return (0);

	if ((v = tg_db_value(db, 0, 3)) == NULL ||
	    (arr = json_loads(v, 0, NULL)) == NULL)
		return (0);
	if (!json_is_array(arr) || json_array_size(arr) >
	    TG_ALLOWED_MODELS_MAX) {
		json_decref(arr);
		return (0);
	}
	if (json_array_size(arr) > 0) {
		e->allowed = kore_calloc(json_array_size(arr),
		    sizeof(*e->allowed));
		json_array_foreach(arr, i, item) {
			if (!keys_copy(e->allowed[i], TG_MODEL_PATTERN_MAX,
			    json_string_value(item))) {
				json_decref(arr);
				return (0);
			}
			e->nallowed++;
		}
	}
	json_decref(arr);

	e->spend_limit_micros = -1;
	if (!tg_db_isnull(db, 0, 4)) {
		if (!tg_db_num(db, 0, 4, 0, INT64_MAX, &n))
			return (0);
		e->spend_limit_micros = n;
	}
	if (!tg_db_num(db, 0, 5, 0, INT64_MAX, &n))
		return (0);
	e->spent_micros = n;
	if (!keys_bool(db, 6, &e->disabled) ||
	    !keys_bool(db, 7, &e->revoked) ||
	    !keys_bool(db, 8, &e->user_active) ||
	    !keys_bool(db, 11, &e->user_suspended))
		return (0);
	/* 0: never; anything before now (1969 included) has expired. */
	if (!tg_db_num(db, 0, 9, INT64_MIN, INT64_MAX, &n))
		return (0);
	e->expires_at = (time_t)n;
	/* Negative: never used (-1), or written after our snapshot's now(). */
	if (!tg_db_num(db, 0, 10, INT64_MIN, INT64_MAX, &age))
		return (0);

	e->fetched_ms = kore_time_ms();
	if (age >= 0 && (u_int64_t)age < e->fetched_ms)
		e->touched_ms = e->fetched_ms - (u_int64_t)age;
	e->used = 1;

	return (1);
}

/* A non-NULL string that fits; 0 otherwise (nothing is cut). */
static int
keys_copy(char *dst, size_t len, const char *src)
{
	if (src == NULL)
		return (0);

	return (kore_strlcpy(dst, src, len) < len);
}

/* A boolean column: "t" or "f", anything else (NULL included) is bad. */
static int
keys_bool(struct tg_db *db, int col, int *out)
{
	const char	*v;

	if ((v = tg_db_value(db, 0, col)) == NULL)
		return (0);
	if (!strcmp(v, "t"))
		*out = 1;
	else if (!strcmp(v, "f"))
		*out = 0;
	else
		return (0);

	return (1);
}
