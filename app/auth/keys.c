/*
 * The keys module: its hooks. Authentication of the router routes is in
 * keys_auth.c, the management API and its routes in keys_api.c, the
 * cross-worker change feed in keys_notify.c.
 */

#include "tollgate.h"
#include "metrics.h"
#include "auth/keys.h"

static void	keys_parent_init(struct tg_config_errors *);
static void	keys_worker_init(void);
static void	keys_worker_teardown(void);

const struct tg_module	tg_keys_module = {
	"keys", keys_parent_init, keys_worker_init, keys_worker_teardown,
	keys_routes
};

int	keys_metric_cached = -1;
int	keys_metric_lookups = -1;
int	keys_metric_refused = -1;
int	keys_metric_unknown_cached = -1;
int	keys_metric_limited = -1;
int	keys_metric_verifications = -1;
int	keys_metric_notices = -1;
int	keys_metric_feed_lost = -1;

static void
keys_parent_init(struct tg_config_errors *errs)
{
	static const char	name[] = "tollgate_api_key_auth_total";
	static const char	help[] =
	    "API-key authentications by how they were decided.";

	(void)errs;
	keys_metric_cached = tg_metrics_declare(TG_METRIC_COUNTER, name, help,
	    "source=\"cache\"", NULL, 0);
	keys_metric_lookups = tg_metrics_declare(TG_METRIC_COUNTER, name, help,
	    "source=\"database\"", NULL, 0);
	keys_metric_refused = tg_metrics_declare(TG_METRIC_COUNTER, name, help,
	    "source=\"malformed\"", NULL, 0);
	keys_metric_unknown_cached = tg_metrics_declare(TG_METRIC_COUNTER,
	    name, help, "source=\"negative_cache\"", NULL, 0);
	keys_metric_limited = tg_metrics_declare(TG_METRIC_COUNTER, name,
	    help, "source=\"limited\"", NULL, 0);
	keys_metric_verifications = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_api_key_verifications_total",
	    "Keyed-digest comparisons of presented API keys (one per "
	    "well-formed key decided, against a dummy for unknown ids).",
	    NULL, NULL, 0);
	keys_metric_notices = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_api_key_notices_total",
	    "Key changes announced by PostgreSQL (NOTIFY tg_api_keys).",
	    NULL, NULL, 0);
	keys_metric_feed_lost = tg_metrics_declare(TG_METRIC_COUNTER,
	    "tollgate_api_key_feed_lost_total",
	    "Times a worker's key change feed was lost (cache off until it "
	    "listens again).", NULL, NULL, 0);
}

static void
keys_worker_init(void)
{
	keys_auth_init();
	keys_notify_init();
}

static void
keys_worker_teardown(void)
{
	keys_notify_teardown();
}
