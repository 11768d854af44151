/*
 * The keys module: its hooks and routes. Authentication of the router
 * routes lives in keys_auth.c.
 */

#include "tollgate.h"
#include "auth/keys.h"

static void	keys_worker_init(void);

static const struct tg_route	keys_routes[] = {
	{ 0, NULL, NULL, 0, 0, 0 }
};

const struct tg_module	tg_keys_module = {
	"keys", NULL, keys_worker_init, NULL, keys_routes
};

static void
keys_worker_init(void)
{
	keys_auth_init();
}
