/*
 * The keys module (CONTRACT §4, §7): API-key authentication of the
 * router routes (keys_auth.c) and, with the key-management API, keys'
 * lifecycle.
 */

#ifndef AUTH_KEYS_H
#define AUTH_KEYS_H

#include "auth/apikey.h"

/* Safety net for cross-process changes; NOTIFY invalidation is faster. */
#define KEYS_CACHE_TTL_MS	30000

struct http_request;
struct tg_ctx;

void	keys_auth_init(void);
int	keys_authenticate(struct http_request *, struct tg_ctx *);
void	keys_digest(const char *, unsigned char out[APIKEY_DIGEST_LEN]);
void	keys_cache_invalidate(const char *);

#endif
