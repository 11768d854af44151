/*
 * Reload on SIGHUP (reload.h; docs/operations.md, "Reload").
 *
 * Kore's parent passes SIGHUP on to every worker; in a single binary its
 * own reaction (kore_module_reload) has no module to reload. Each worker
 * catches SIGHUP itself (reload_signal only sets a flag), and its timer
 * runs the reload in the event loop:
 *
 *   1. read every X_FILE found at start again (tg_secret_files);
 *   2. load the whole tg_config from the environment with those values
 *      over it, and let every hook (the router's catalog) load and check
 *      its part aside;
 *   3. any error: drop everything new, keep the current configuration,
 *      log one line with the errors; else: put the values in the
 *      environment, commit the hooks, make the new tg_config current,
 *      log one line.
 *
 * Invariants: nothing changes unless everything checked (all or
 * nothing). A value set directly in the environment cannot change (the
 * process cannot re-read its environment), so only file-given values and
 * TOLLGATE_ROUTER_CONFIG's content do. The old tg_config is retired, not
 * freed, until the worker ends: code in flight may hold its strings (an
 * OAuth flow its client secret). A worker Kore starts again after a crash
 * forks from the parent, which still has the first configuration, so it
 * reloads at once when any worker has reloaded before (reload_shared).
 */

#include <sys/mman.h>
#include <sys/queue.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tollgate.h"
#include "reload.h"

#define RELOAD_TICK_MS	100

struct retired {
	struct tg_config	conf;
	TAILQ_ENTRY(retired)	list;
};

struct tg_secret_files			 tg_secret_files;

static void	reload_signal(int);
static void	reload_tick(void *, u_int64_t);
static void	reload_run(const char *);
static const char *reload_getenv(const char *);
static void	reload_log_refusal(const char *,
		    const struct tg_config_errors *);
static void	reload_setenv(const struct tg_secret_files *);

static const struct tg_reload_hook	*hooks[TG_RELOAD_HOOKS_MAX];
static int				 nhooks;
static volatile sig_atomic_t		 reload_pending;
static const struct tg_secret_files	*overlay;
static int				*reload_shared;
static TAILQ_HEAD(, retired)		 retired_confs =
    TAILQ_HEAD_INITIALIZER(retired_confs);

void
tg_reload_register(const struct tg_reload_hook *hook)
{
	if (nhooks >= TG_RELOAD_HOOKS_MAX)
		fatal("reload: too many hooks");
	hooks[nhooks++] = hook;
}

/* Parent, before the fork: the flag a restarted worker reads. */
void
tg_reload_parent_init(void)
{
	reload_shared = mmap(NULL, sizeof(*reload_shared),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (reload_shared == MAP_FAILED)
		fatal("reload: mmap: %s", errno_s);
	*reload_shared = 0;
}

/* Worker, after every module's worker_init registered its hook. */
void
tg_reload_worker_init(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = reload_signal;
	if (sigfillset(&sa.sa_mask) == -1)
		fatal("sigfillset: %s", errno_s);
	if (sigaction(SIGHUP, &sa, NULL) == -1)
		fatal("sigaction: %s", errno_s);

	(void)kore_timer_add(reload_tick, RELOAD_TICK_MS, NULL, 0);

	if (reload_shared != NULL &&
	    __atomic_load_n(reload_shared, __ATOMIC_RELAXED))
		reload_run("worker restart after a reload");
}

void
tg_reload_worker_teardown(void)
{
	struct retired	*r;

	while ((r = TAILQ_FIRST(&retired_confs)) != NULL) {
		TAILQ_REMOVE(&retired_confs, r, list);
		tg_config_free(&r->conf);
		kore_free(r);
	}
}

static void
reload_signal(int sig)
{
	(void)sig;
	reload_pending = 1;
}

static void
reload_tick(void *arg, u_int64_t now)
{
	(void)arg;
	(void)now;

	if (!reload_pending)
		return;
	reload_pending = 0;
	reload_run("SIGHUP");
}

static void
reload_run(const char *why)
{
	struct tg_secret_files		 next;
	struct tg_config_errors		 errs, cerrs;
	struct tg_config		 nc;
	struct retired			*old;
	char				 summary[160];
	int				 i, ok;

	memset(&errs, 0, sizeof(errs));
	ok = tg_secret_files_reread(&tg_secret_files, &next, &errs);
	overlay = &next;

	if (ok) {
		(void)tg_config_load(&nc, reload_getenv, &cerrs);
		for (i = 0; i < cerrs.count; i++)
			tg_config_error(&errs, "%s", cerrs.line[i]);
		for (i = 0; i < nhooks && errs.count == 0; i++) {
			if (!hooks[i]->prepare(&nc, reload_getenv, &errs))
				break;
		}
		if (errs.count > 0) {
			for (i = 0; i < nhooks; i++)
				hooks[i]->abort();
			tg_config_free(&nc);
		}
	}
	overlay = NULL;

	if (errs.count > 0) {
		tg_secret_files_free(&next);
		reload_log_refusal(why, &errs);
		return;
	}

	reload_setenv(&next);
	summary[0] = '\0';
	for (i = 0; i < nhooks; i++)
		hooks[i]->commit(summary, sizeof(summary));

	old = kore_calloc(1, sizeof(*old));
	old->conf = tg_conf;
	TAILQ_INSERT_TAIL(&retired_confs, old, list);
	tg_conf = nc;
	tg_config_generation++;

	tg_secret_files_free(&tg_secret_files);
	tg_secret_files = next;
	if (reload_shared != NULL)
		__atomic_store_n(reload_shared, 1, __ATOMIC_RELAXED);

	kore_log(LOG_NOTICE, "reload (%s): configuration reloaded (%s; "
	    "%d values from files)", why, summary, tg_secret_files.count);
}

/* The environment as it would be with the new file values. */
static const char *
reload_getenv(const char *name)
{
	const char	*v;

	if (overlay != NULL &&
	    (v = tg_secret_files_get(overlay, name)) != NULL)
		return (v);

	return (getenv(name));
}

/* Every reader of X (getenv) sees the file's new value from now on. */
static void
reload_setenv(const struct tg_secret_files *files)
{
	int	i;

	for (i = 0; i < files->count; i++) {
		if (setenv(files->file[i].name, files->file[i].value, 1) == -1)
			kore_log(LOG_ERR, "reload: setenv(%s): %s",
			    files->file[i].name, errno_s);
	}
}

/* One line: what was refused and why; the configuration stays. */
static void
reload_log_refusal(const char *why, const struct tg_config_errors *errs)
{
	struct kore_buf	buf;
	int		i;

	kore_buf_init(&buf, 256);
	for (i = 0; i < errs->count; i++)
		kore_buf_appendf(&buf, "%s%s", i > 0 ? "; " : "",
		    errs->line[i]);
	kore_log(LOG_ERR, "reload (%s): refused, the configuration in use "
	    "stays: %s", why, kore_buf_stringify(&buf, NULL));
	kore_buf_cleanup(&buf);
}
