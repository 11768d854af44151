/*
 * The keys module (docs/contract.md §4, §7): API-key authentication of the
 * router routes (keys_auth.c), the key-management API (keys_api.c) and
 * the change feed that keeps every worker's key cache honest
 * (keys_notify.c).
 */

#ifndef AUTH_KEYS_H
#define AUTH_KEYS_H

#include "auth/apikey.h"

/* Safety net for cross-process changes; NOTIFY invalidation is faster. */
#define KEYS_CACHE_TTL_MS	30000

/* An unknown public id is not looked up again for this long. */
#define KEYS_UNKNOWN_TTL_MS	10000

/* last_used_at is written at most this often per key. */
#define KEYS_TOUCH_MS		60000

struct http_request;
struct tg_ctx;
struct tg_route;

extern const struct tg_route	keys_routes[];

/* Metric ids (declared in the parent, keys.c). */
extern int	keys_metric_cached;
extern int	keys_metric_lookups;
extern int	keys_metric_refused;
extern int	keys_metric_unknown_cached;
extern int	keys_metric_limited;
extern int	keys_metric_verifications;
extern int	keys_metric_notices;
extern int	keys_metric_feed_lost;

/* keys_auth.c */
void	keys_auth_init(void);
int	keys_authenticate(struct http_request *, struct tg_ctx *);
void	keys_digest(const char *, unsigned char out[APIKEY_DIGEST_LEN]);
void	keys_cache_invalidate(const char *);

/* keys_notify.c */
void	keys_notify_init(void);
void	keys_notify_teardown(void);
int	keys_notify_ready(void);
void	keys_notify_touch(const char *);

#endif
