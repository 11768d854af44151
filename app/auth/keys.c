/*
 * The keys module: its hooks. Authentication of the router routes is in
 * keys_auth.c, the management API and its routes in keys_api.c, the
 * cross-worker change feed in keys_notify.c.
 */

#include "tollgate.h"
#include "auth/keys.h"

static void	keys_worker_init(void);
static void	keys_worker_teardown(void);

const struct tg_module	tg_keys_module = {
	"keys", NULL, keys_worker_init, keys_worker_teardown, keys_routes
};

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
