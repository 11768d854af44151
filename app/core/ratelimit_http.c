/*
 * Rate limits of routes, applied by the dispatcher before the handler
 * runs (see ratelimit.h for the buckets):
 *
 *   TG_ROUTE_RATELIMIT_IP    per client address (the login endpoints),
 *                            TOLLGATE_RATE_LIMIT_IP requests a minute,
 *   TG_ROUTE_RATELIMIT_USER  per signed-in user (key management),
 *                            TOLLGATE_RATE_LIMIT_USER requests a minute.
 *
 * Each worker keeps its own tables (created on first use), so the limit
 * holds per worker: with W workers a client gets at most W times it
 * through one process. A refused request is answered 429 rate_limited
 * with Retry-After and never reaches its handler.
 */

#include "tollgate.h"
#include "ratelimit.h"

#define RATELIMIT_SLOTS		16384
#define RATELIMIT_PERIOD_S	60

static int	ratelimit_check(struct http_request *, struct tg_ratelimit *,
		    unsigned int, const char *, const char *);

static struct tg_ratelimit	ratelimit_ip;
static struct tg_ratelimit	ratelimit_user;

/* Returns 1 when the request may proceed, 0 when answered 429. */
int
tg_ratelimit_ip(struct http_request *req)
{
	char	ip[INET6_ADDRSTRLEN + 8];

	tg_http_client_ip(req, ip, sizeof(ip));
	return (ratelimit_check(req, &ratelimit_ip, tg_conf.rate_limit_ip, ip,
	    "from this address"));
}

int
tg_ratelimit_user(struct http_request *req, const char *user_id)
{
	return (ratelimit_check(req, &ratelimit_user, tg_conf.rate_limit_user,
	    user_id, "for this account"));
}

static int
ratelimit_check(struct http_request *req, struct tg_ratelimit *rl,
    unsigned int limit, const char *key, const char *who)
{
	unsigned int	retry;

	if (limit == 0)
		return (1);

	/* A table with a limit has its slots once initialised. */
	if (rl->slots == NULL && !tg_ratelimit_init(rl, RATELIMIT_SLOTS, limit,
	    RATELIMIT_PERIOD_S))
		fatal("rate limit table: out of memory");

	if (tg_ratelimit_take(rl, key, strlen(key), tg_now_us(), &retry))
		return (1);

	tg_error_retry(req, 429, "rate_limited", (int)retry,
	    "too many requests %s: at most %u a minute, retry in %u s", who,
	    limit, retry);
	return (0);
}
