/*
 * The credits module (docs/contract.md §6): its settings, metrics, routes and
 * per-worker start (the meter the router calls, the sweeper).
 *
 * Setting (environment, checked before any worker forks):
 *   TOLLGATE_HOLD_TTL_SECONDS  how long a hold may stay pending before
 *                              the sweeper settles it (default 900; it
 *                              must exceed the longest call the router
 *                              allows, or live calls get swept).
 *   TOLLGATE_LEASE_TTL_SECONDS how long a balance lease stays open without
 *                              its worker renewing it (default 60): what
 *                              a dead process parks comes back after it.
 *   TOLLGATE_SETTLE_FLUSH_MS   the flush period (default 20): calls settled
 *                              on leases are written within it (plus one
 *                              flush) of their answer.
 *   TOLLGATE_STRICT_SETTLEMENT 1: no leases, no batches: every call's hold
 *                              is durable before its upstream request and
 *                              its charge before its answer ends.
 */

#include <stdlib.h>

#include "credits/credits.h"
#include "credits/job.h"
#include "credits/lease.h"
#include "drain.h"
#include "metrics.h"

#define HOLD_TTL_DEFAULT	900
#define HOLD_TTL_MAX		86400
#define SWEEP_MS_MAX		10000
#define SWEEP_MS_MIN		500
#define LEASE_TTL_DEFAULT	60
#define LEASE_TTL_MIN		5
#define LEASE_TTL_MAX		3600
#define FLUSH_MS_DEFAULT	20
#define FLUSH_MS_MAX		10000

static void	credits_parent_init(struct tg_config_errors *);
static void	credits_worker_init(void);
static void	credits_worker_teardown(void);
static int	credits_declare(int, const char *, const char *, const char *);
static long	credits_env_long(struct tg_config_errors *, const char *,
		    const char *, long, long, long);

struct credits_conf	credits_conf;

int	credits_metric_prompt_tokens = -1;
int	credits_metric_cached_tokens = -1;
int	credits_metric_cache_write_tokens = -1;
int	credits_metric_completion_tokens = -1;
int	credits_metric_charged = -1;
int	credits_metric_holds_open = -1;
int	credits_metric_reserved = -1;
int	credits_metric_refused = -1;
int	credits_metric_settled = -1;
int	credits_metric_voided = -1;
int	credits_metric_estimated = -1;
int	credits_metric_expired = -1;
int	credits_metric_expired_micros = -1;
int	credits_metric_losses = -1;
int	credits_metric_loss_micros = -1;
int	credits_metric_settle_failures = -1;
int	credits_metric_leased = -1;
int	credits_metric_flushes = -1;
int	credits_metric_flushed_calls = -1;
int	credits_metric_flush_failures = -1;
int	credits_metric_leases_open = -1;

#define SESSION		TG_AUTH_SESSION

static const struct tg_route	credits_routes[] = {
	{ HTTP_METHOD_GET, "/api/credits", credits_get_balance, SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/v1/credits", credits_get_key_balance,
	    TG_AUTH_API_KEY, 0, 0 },
	{ HTTP_METHOD_GET, "/api/credits/ledger", credits_get_ledger,
	    SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/credits/ledger/{}", credits_get_ledger_entry,
	    SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/usage", credits_get_usage, SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/usage/requests", credits_get_usage_requests,
	    SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/usage/requests/{}", credits_get_usage_request,
	    SESSION, 0, 0 },
	{ HTTP_METHOD_POST, "/api/admin/users/{}/credits", credits_admin_grant,
	    SESSION, 0, 16384 },
	{ HTTP_METHOD_GET, "/api/admin/prices", credits_admin_prices,
	    SESSION, 0, 0 },
	{ HTTP_METHOD_GET, "/api/admin/prices/{}", credits_admin_price_get,
	    SESSION, 0, 0 },
	{ HTTP_METHOD_PUT, "/api/admin/prices/{}", credits_admin_price_put,
	    SESSION, 0, 16384 },
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_credits_module = {
	"credits", credits_parent_init, credits_worker_init,
	credits_worker_teardown, credits_routes
};

static void
credits_parent_init(struct tg_config_errors *errs)
{
	long	ttl;

	ttl = credits_env_long(errs, "TOLLGATE_HOLD_TTL_SECONDS", " of seconds",
	    HOLD_TTL_DEFAULT, 1, HOLD_TTL_MAX);
	credits_conf.hold_ttl = (int)ttl;
	credits_conf.sweep_ms = (u_int64_t)ttl * 1000 / 2;
	if (credits_conf.sweep_ms > SWEEP_MS_MAX)
		credits_conf.sweep_ms = SWEEP_MS_MAX;
	if (credits_conf.sweep_ms < SWEEP_MS_MIN)
		credits_conf.sweep_ms = SWEEP_MS_MIN;

	credits_conf.lease_ttl = (int)credits_env_long(errs,
	    "TOLLGATE_LEASE_TTL_SECONDS", " of seconds", LEASE_TTL_DEFAULT, LEASE_TTL_MIN,
	    LEASE_TTL_MAX);
	credits_conf.flush_ms = (u_int64_t)credits_env_long(errs,
	    "TOLLGATE_SETTLE_FLUSH_MS", " of milliseconds", FLUSH_MS_DEFAULT,
	    1, FLUSH_MS_MAX);
	credits_conf.strict = (int)credits_env_long(errs,
	    "TOLLGATE_STRICT_SETTLEMENT", "", 0, 0, 1);

	credits_metric_prompt_tokens = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_tokens_total", "Tokens charged, by class.",
	    "class=\"prompt\"");
	credits_metric_cached_tokens = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_tokens_total", "Tokens charged, by class.",
	    "class=\"cached\"");
	credits_metric_cache_write_tokens = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_tokens_total", "Tokens charged, by class.",
	    "class=\"cache_write\"");
	credits_metric_completion_tokens = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_tokens_total", "Tokens charged, by class.",
	    "class=\"completion\"");
	credits_metric_charged = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_charged_micros_total",
	    "Micro-credits charged for calls.", NULL);
	credits_metric_holds_open = credits_declare(TG_METRIC_GAUGE,
	    "tollgate_credits_holds_open",
	    "Holds pending in the database (all processes; sweeper tick).",
	    NULL);
	credits_metric_reserved = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_holds_total", "Holds taken.", NULL);
	credits_metric_refused = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_refused_total",
	    "Calls refused for credits (402).", NULL);
	credits_metric_settled = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_settlements_total", "Holds resolved, by kind.",
	    "kind=\"provider\"");
	credits_metric_estimated = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_settlements_total", "Holds resolved, by kind.",
	    "kind=\"estimate\"");
	credits_metric_voided = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_settlements_total", "Holds resolved, by kind.",
	    "kind=\"void\"");
	credits_metric_expired = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_settlements_total", "Holds resolved, by kind.",
	    "kind=\"expired\"");
	credits_metric_expired_micros = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_expired_micros_total",
	    "Micro-credits charged by the sweeper for expired holds.", NULL);
	credits_metric_losses = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_losses_total",
	    "Calls whose reported usage cost more than their hold.", NULL);
	credits_metric_loss_micros = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_loss_micros_total",
	    "Micro-credits of usage beyond holds (not charged).", NULL);
	credits_metric_settle_failures = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_settle_failures_total",
	    "Settlements that failed for good (left to the sweeper).", NULL);
	credits_metric_leased = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_lease_calls_total",
	    "Calls reserved on a balance lease (no statement of their own).",
	    NULL);
	credits_metric_flushes = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_flushes_total",
	    "Settlement batches written.", NULL);
	credits_metric_flushed_calls = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_flushed_calls_total",
	    "Calls written by settlement batches.", NULL);
	credits_metric_flush_failures = credits_declare(TG_METRIC_COUNTER,
	    "tollgate_credits_flush_failures_total",
	    "Settlement batches that failed (sent again).", NULL);
	credits_metric_leases_open = credits_declare(TG_METRIC_GAUGE,
	    "tollgate_credits_leases_open",
	    "Balance leases open in the database (all processes; sweeper "
	    "tick).", NULL);
}

/*
 * A whole number setting (of unit: " of seconds", or "") from lo to hi;
 * def when unset or empty.
 */
static long
credits_env_long(struct tg_config_errors *errs, const char *name,
    const char *unit, long def, long lo, long hi)
{
	const char	*v;
	char		*end;
	long		 n;

	if ((v = getenv(name)) == NULL || *v == '\0')
		return (def);
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < lo || n > hi) {
		tg_config_error(errs, "%s must be a whole number%s from %ld "
		    "to %ld", name, unit, lo, hi);
		return (def);
	}
	return (n);
}

static int
credits_declare(int type, const char *name, const char *help,
    const char *labels)
{
	return (tg_metrics_declare(type, name, help, labels, NULL, 0));
}

static void
credits_worker_init(void)
{
	credits_meter_init();
	credits_lease_init();
	credits_sweeper_start();
	/* A stop waits for the settlements on their way (core/drain.c). */
	tg_drain_watch(credits_job_busy, NULL);
}

static void
credits_worker_teardown(void)
{
	credits_lease_teardown();
	credits_job_teardown();
}
