/*
 * API-key authentication of the router routes (CONTRACT §3, §4): the
 * tg_key_authenticate hook of the dispatcher.
 *
 * Order of checks, cheapest first: the key must be present and
 * well-formed (prefix, length, alphabet, CRC-32 checksum) or the request
 * is refused with no database work at all; then the key's record comes
 * from this worker's cache or, on a miss, from one query; then the
 * presented key's keyed digest must equal the stored one (constant-time)
 * and the key be live. Unknown, revoked, expired and wrong-secret keys
 * all get the same 401; a disabled key (whose secret was right) 403.
 *
 * The cache is direct-mapped by public id and bounded; entries live
 * KEYS_CACHE_TTL_MS at most. keys_cache_invalidate() drops one entry (a
 * NOTIFY from keys_notify.c: the key changed somewhere) or all of them.
 * The cache is used only while this worker's change feed is listening
 * (keys_notify_ready()); otherwise every request reads the database.
 *
 * A lookup races with invalidations: its snapshot may predate a revoke
 * whose notice arrives before the lookup's answer. Every slot therefore
 * carries an epoch, bumped on each invalidation of a key mapping to it
 * (and a global one for flushes); an answer is cached only if neither
 * moved while the query was out. It still decides its own request, which
 * began before the change.
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
#include "auth/apikey.h"
#include "auth/keys.h"

#define KEYS_CACHE_SLOTS	1024

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

struct keys_auth_state {
	struct tg_db	db;
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
static void		 keys_state_free(struct http_request *, void *);
static int		 keys_refuse(struct http_request *);

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
static u_int32_t		*keys_slot_epochs;
static u_int32_t		 keys_epoch;
static unsigned char		 keys_hashkey[APIKEY_HASHKEY_LEN];

void
keys_auth_init(void)
{
	keys_cache = kore_calloc(KEYS_CACHE_SLOTS, sizeof(*keys_cache));
	keys_slot_epochs = kore_calloc(KEYS_CACHE_SLOTS,
	    sizeof(*keys_slot_epochs));
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
		return;
	}

	i = keys_slot_index(public_id);
	keys_slot_epochs[i]++;
	e = &keys_cache[i];
	if (e->used && !strcmp(e->public_id, public_id))
		keys_entry_clear(e);
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

	if ((st = ctx->auth_state) != NULL) {
		switch (tg_db_poll(&st->db)) {
		case TG_DB_WAIT:
			return (TG_AUTH_WAIT);
		case TG_DB_FAILED:
			tg_db_error(req, &st->db);
			return (TG_AUTH_DENIED);
		}
		return (keys_lookup_done(req, ctx, st));
	}

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

	tg_metrics_add(keys_metric_lookups, 1);

	st = kore_calloc(1, sizeof(*st));
	ctx->auth_state = st;
	ctx->auth_state_free = keys_state_free;
	memcpy(st->public_id, public_id, sizeof(st->public_id));
	memcpy(st->digest, digest, sizeof(st->digest));
	st->epoch = keys_epoch;
	st->slot_epoch = keys_slot_epochs[slot];

	params[0] = public_id;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_key_lookup, 1, params);
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
	int			 ret;

	if (tg_db_ntuples(&st->db) != 1) {
		tg_db_clear(&st->db);
		return (keys_refuse(req));
	}

	slot = keys_slot_index(st->public_id);
	if (keys_notify_ready() && st->epoch == keys_epoch &&
	    st->slot_epoch == keys_slot_epochs[slot]) {
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

	if (sodium_memcmp(digest, e->digest, APIKEY_DIGEST_LEN) != 0)
		return (keys_refuse(req));
	if (e->revoked || (!e->user_active && !e->user_suspended) ||
	    (e->expires_at != 0 && e->expires_at <= time(NULL)))
		return (keys_refuse(req));
	if (e->user_suspended) {
		tg_error(req, 403, "account_suspended", NULL,
		    "the account of this API key is suspended");
		return (TG_AUTH_DENIED);
	}

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

static int
keys_refuse(struct http_request *req)
{
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

/* Row of sql_key_lookup -> cache entry. */
static int
keys_entry_load(struct keys_entry *e, struct tg_db *db, const char *public_id)
{
	const char	*v;
	json_t		*arr, *item;
	size_t		 i, hexlen;
	long long	 age;

	if ((v = tg_db_value(db, 0, 2)) == NULL)
		return (0);
	hexlen = strlen(v);
	if (sodium_hex2bin(e->digest, sizeof(e->digest), v, hexlen, NULL,
	    NULL, NULL) != 0)
		return (0);

	(void)kore_strlcpy(e->public_id, public_id, sizeof(e->public_id));
	(void)kore_strlcpy(e->key_id, tg_db_value(db, 0, 0),
	    sizeof(e->key_id));
	(void)kore_strlcpy(e->user_id, tg_db_value(db, 0, 1),
	    sizeof(e->user_id));

	if ((v = tg_db_value(db, 0, 3)) == NULL ||
	    (arr = json_loads(v, 0, NULL)) == NULL)
		return (0);
	if (json_array_size(arr) > 0) {
		e->allowed = kore_calloc(json_array_size(arr),
		    sizeof(*e->allowed));
		json_array_foreach(arr, i, item) {
			if (i >= TG_ALLOWED_MODELS_MAX || !json_is_string(item))
				break;
			(void)kore_strlcpy(e->allowed[i],
			    json_string_value(item), TG_MODEL_PATTERN_MAX);
			e->nallowed++;
		}
	}
	json_decref(arr);

	e->spend_limit_micros = tg_db_isnull(db, 0, 4) ? -1 :
	    tg_db_int(db, 0, 4);
	e->spent_micros = tg_db_int(db, 0, 5);
	e->disabled = !strcmp(tg_db_value(db, 0, 6), "t");
	e->revoked = !strcmp(tg_db_value(db, 0, 7), "t");
	e->user_active = !strcmp(tg_db_value(db, 0, 8), "t");
	e->user_suspended = tg_db_value(db, 0, 11) != NULL &&
	    !strcmp(tg_db_value(db, 0, 11), "t");
	e->expires_at = (time_t)tg_db_int(db, 0, 9);
	e->fetched_ms = kore_time_ms();
	age = tg_db_int(db, 0, 10);
	if (age >= 0 && (u_int64_t)age < e->fetched_ms)
		e->touched_ms = e->fetched_ms - (u_int64_t)age;
	e->used = 1;

	return (1);
}

static void
keys_state_free(struct http_request *req, void *arg)
{
	struct keys_auth_state	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
}
