/*
 * Reload on SIGHUP (reload.c, docs/operations.md "Reload"): every worker
 * reads TOLLGATE_ROUTER_CONFIG and every X_FILE again, checks all of it,
 * and only then puts it in place; on any error it keeps what it has.
 *
 * A module with configuration of its own registers a hook from its
 * worker_init: prepare() loads and checks the new configuration aside
 * (new_conf is the new tg_config, get reads the new environment) and
 * adds one line per problem to errs; then either commit() puts it in
 * place or abort() drops it. summary() appends a few words to the log
 * line of a successful reload.
 */

#ifndef TG_RELOAD_H
#define TG_RELOAD_H

#include "config.h"

#define TG_RELOAD_HOOKS_MAX	8

struct tg_reload_hook {
	const char	*name;
	int		(*prepare)(const struct tg_config *, tg_getenv_fn,
			    struct tg_config_errors *);
	void		(*commit)(char *, size_t);
	void		(*abort)(void);
};

/* The X_FILE values found at start (main.c puts them in the environment). */
extern struct tg_secret_files	tg_secret_files;

void	tg_reload_register(const struct tg_reload_hook *);
void	tg_reload_parent_init(void);
void	tg_reload_worker_init(void);
void	tg_reload_worker_teardown(void);

#endif
