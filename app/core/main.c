/*
 * Tollgate's entry points into Kore (kore/hooks.h): the parent checks
 * the whole configuration before any worker forks and builds the
 * listener from TOLLGATE_LISTEN; each worker registers the database and
 * starts its modules once the sandbox is on.
 *
 * A single binary parses no flags itself, so -f -n -r -q are handed to
 * kore_default_getopt() here; -t (check the configuration, start
 * nothing) and admin-token run instead of the server. X_FILE values are
 * put in the environment as X before anything reads it, and each worker
 * reloads on SIGHUP (reload.c). Started as root, workers drop to
 * TOLLGATE_RUNAS (with -n: no chroot, which would cut DNS, the CA bundle
 * and PostgreSQL's socket away; docs/kore.md, "Privileges").
 */

#include <sys/resource.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <kore/hooks.h>
#include <kore/seccomp.h>
#include <sodium.h>

#include "tollgate.h"
#include "db.h"
#include "drain.h"
#include "metrics.h"
#include "migrations.h"
#include "reload.h"

extern char	**environ;

static void	main_check_config(int);
static void	main_secret_files(struct tg_config_errors *);
static void	main_unknown_vars(int);
static void	main_kore_settings(void);
static void	main_nofile_soft(void);
static const char *main_getenv(const char *);

/*
 * The parent's own soft limit on open files; see main_nofile_soft().
 * It holds the listener, two sockets per worker (64 at most) and a few
 * files, so 512 leaves room.
 */
#define MAIN_PARENT_NOFILE	512

/*
 * glibc 2.36 starts threads (curl's resolver, Kore's tasks) with clone3
 * and rseq, which Kore 4.1.0's lists lack; the rest is cheap insurance
 * for glibc, libpq and OpenSSL paths (docs/kore.md, "Seccomp").
 */
static struct sock_filter filter_tollgate[] = {
	KORE_SYSCALL_ALLOW(clone3),
	KORE_SYSCALL_ALLOW(rseq),
	KORE_SYSCALL_ALLOW(newfstatat),
	KORE_SYSCALL_ALLOW(statx),
	KORE_SYSCALL_ALLOW(getdents64),
	KORE_SYSCALL_ALLOW(sysinfo),
	KORE_SYSCALL_ALLOW(poll),
	KORE_SYSCALL_ALLOW(pipe2),
	KORE_SYSCALL_ALLOW(eventfd2),
	KORE_SYSCALL_ALLOW(prlimit64),
	KORE_SYSCALL_ALLOW(mremap),
	KORE_SYSCALL_ALLOW(faccessat2),
	KORE_SYSCALL_ALLOW(sched_getaffinity),
	KORE_SYSCALL_ALLOW(sched_yield),
	KORE_SYSCALL_ALLOW(gettid),
	KORE_SYSCALL_ALLOW(getppid),
	KORE_SYSCALL_ALLOW(shutdown),
};

#if defined(__SANITIZE_ADDRESS__)
/*
 * Sanitizer builds only: LeakSanitizer stops the world at exit with a
 * ptrace-ing helper thread; without these the leak check of a worker
 * dies silently in the sandbox and reports nothing.
 */
static struct sock_filter filter_sanitizer[] = {
	KORE_SYSCALL_ALLOW(ptrace),
	KORE_SYSCALL_ALLOW(clone),
	KORE_SYSCALL_ALLOW(wait4),
	KORE_SYSCALL_ALLOW(prctl),
	KORE_SYSCALL_ALLOW(process_vm_readv),
	KORE_SYSCALL_ALLOW(sigaltstack),
	KORE_SYSCALL_ALLOW(getppid),
	KORE_SYSCALL_ALLOW(tgkill),
	KORE_SYSCALL_ALLOW(getdents),
};
#endif

static struct sock_filter filter_allow_all[] = {
	KORE_BPF_RET(SECCOMP_RET_ALLOW)
};

void
kore_parent_configure(int argc, char **argv)
{
	/* Command-line modes that run instead of the server. */
	if (argc > 1 && !strcmp(argv[1], "admin-token")) {
		struct tg_config_errors	errs;
		int			i;

		/* Its pepper and database URL may come from files too. */
		memset(&errs, 0, sizeof(errs));
		main_secret_files(&errs);
		for (i = 0; i < errs.count; i++)
			fprintf(stderr, "tollgate: configuration error: %s\n",
			    errs.line[i]);
		if (errs.count > 0)
			exit(1);
		exit(tg_admin_cli(argc, argv));
	}
	if (argc > 1 && !strcmp(argv[1], "-t")) {
		/* nginx -t: check everything, start nothing, touch no database. */
		if (sodium_init() < 0)
			fatal("libsodium failed to initialise");
		tg_metrics_init();
		main_check_config(1);
	}
	if (argc > 1 && !strcmp(argv[1], "migrate"))
		exit(tg_migrate_cli(argc, argv));

	kore_default_getopt(argc, argv);

	/* Foreground logs go through a pipe: keep them line by line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	tg_log_init();

	if (sodium_init() < 0)
		fatal("libsodium failed to initialise");

	tg_metrics_init();
	main_check_config(0);
	tg_reload_parent_init();
	main_kore_settings();
	main_nofile_soft();
	tg_dispatch_init();
}

void
kore_worker_configure(void)
{
	int	m;

	if (sodium_init() < 0)
		fatal("libsodium failed to initialise");

	tg_db_register();
	tg_conns_init();
	tg_metrics_worker_init();

	/* SIGTERM drains instead of stopping the loop (drain.c). */
	tg_drain_init();

	for (m = 0; m < TG_MODULES_MAX; m++) {
		if (tg_modules[m] != NULL &&
		    tg_modules[m]->worker_init != NULL)
			tg_modules[m]->worker_init();
	}

	tg_reload_worker_init();
}

void
kore_worker_teardown(void)
{
	int	m;

	for (m = 0; m < TG_MODULES_MAX; m++) {
		if (tg_modules[m] != NULL &&
		    tg_modules[m]->worker_teardown != NULL)
			tg_modules[m]->worker_teardown();
	}

	/* Last: the modules' teardown abandons what they had in flight. */
	tg_db_teardown();
	tg_reload_worker_teardown();
}

void
kore_seccomp_hook(void)
{
	if (tg_conf.seccomp == TG_SECCOMP_OFF) {
		kore_seccomp_filter("allow-all", filter_allow_all,
		    KORE_FILTER_LEN(filter_allow_all));
		return;
	}

	kore_seccomp_filter("tollgate", filter_tollgate,
	    KORE_FILTER_LEN(filter_tollgate));
#if defined(__SANITIZE_ADDRESS__)
	kore_seccomp_filter("sanitizer", filter_sanitizer,
	    KORE_FILTER_LEN(filter_sanitizer));
#endif
}

/*
 * Each worker counts the descriptors it inherited by calling fcntl() on
 * every number below the soft RLIMIT_NOFILE before it sets its own
 * limit (worker.c: kore_worker_privdrop). With the 20,000 or 1,048,576
 * that shells and containers hand out, that loop was the largest part
 * of a worker's start (about 200 ms per worker on a busy machine for
 * 20,000). The parent needs few descriptors, so its soft limit comes
 * down to MAIN_PARENT_NOFILE before the fork; the hard limit stays,
 * and each worker still sets worker_rlimit_nofiles plus what it
 * inherited as both of its limits, exactly as before.
 */
static void
main_nofile_soft(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur <= MAIN_PARENT_NOFILE)
		return;

	rl.rlim_cur = MAIN_PARENT_NOFILE;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		kore_log(LOG_NOTICE, "setrlimit(RLIMIT_NOFILE): %s", errno_s);
}

static const char *
main_getenv(const char *name)
{
	return (getenv(name));
}

/*
 * Check every variable and every module's configuration; report all
 * problems, one line each, then refuse to start (relayd's load_config).
 * testing (tollgate -t): print the verdict and exit 0 or 1 either way.
 */
static void
main_check_config(int testing)
{
	struct tg_config_errors	 errs, ferrs;
	int			 i, m;

	memset(&ferrs, 0, sizeof(ferrs));
	main_secret_files(&ferrs);
	main_unknown_vars(testing);

	(void)tg_config_load(&tg_conf, main_getenv, &errs);
	for (i = 0; i < ferrs.count; i++)
		tg_config_error(&errs, "%s", ferrs.line[i]);

	for (m = 0; m < TG_MODULES_MAX; m++) {
		if (tg_modules[m] != NULL &&
		    tg_modules[m]->parent_init != NULL)
			tg_modules[m]->parent_init(&errs);
	}

	if (errs.count == 0 && testing) {
		printf("tollgate: configuration ok\n");
		exit(0);
	}
	if (errs.count == 0)
		return;

	for (i = 0; i < errs.count; i++)
		tg_log_stderr(LOG_ERR, "configuration error: %s",
		    errs.line[i]);
	fflush(stderr);
	exit(1);
}

/*
 * X_FILE values go into the environment as X, so that every reader of
 * X (the catalog's <PROVIDER>_API_KEY included) sees them; reload.c
 * reads the same files again on SIGHUP.
 */
static void
main_secret_files(struct tg_config_errors *errs)
{
	int	i;

	if (!tg_secret_files_scan(environ, &tg_secret_files, errs))
		return;

	for (i = 0; i < tg_secret_files.count; i++) {
		if (setenv(tg_secret_files.file[i].name,
		    tg_secret_files.file[i].value, 1) == -1)
			tg_config_error(errs, "%s_FILE: setenv: %s",
			    tg_secret_files.file[i].name, errno_s);
	}
}

/* A TOLLGATE_* nothing reads is most likely a typo: one warning each. */
static void
main_unknown_vars(int testing)
{
	const char	*eq;
	char		 name[128];
	size_t		 len;
	int		 i;

	for (i = 0; environ[i] != NULL; i++) {
		if (strncmp(environ[i], "TOLLGATE_", 9) ||
		    (eq = strchr(environ[i], '=')) == NULL)
			continue;
		len = eq - environ[i];
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, environ[i], len);
		name[len] = '\0';
		if (tg_config_known(name))
			continue;
		if (testing)
			printf("tollgate: warning: %s is set but unknown "
			    "(ignored)\n", name);
		else
			kore_log(LOG_WARNING, "%s is set but unknown "
			    "(ignored)", name);
	}
}

/*
 * Kore settings that come from the environment, applied before the
 * embedded conf/tollgate.conf is parsed: the listener, workers, pidfile,
 * runas, the connection limit, the body timeout and the body cap.
 */
static void
main_kore_settings(void)
{
	struct kore_buf	 buf;
	FILE		*fp;

	kore_buf_init(&buf, 512);
	kore_buf_appendf(&buf, "server tollgate {\nbind %s %s\ntls no\n}\n",
	    tg_conf.listen_host, tg_conf.listen_port);
	/* Its own listener for /metrics; dispatch.c keeps it to that. */
	if (tg_conf.metrics_host[0] != '\0')
		kore_buf_appendf(&buf, "server %s {\nbind %s %s\ntls no\n}\n"
		    "domain * {\nattach %s\nroute ^/ tg_dispatch\n}\n",
		    TG_METRICS_SERVER, tg_conf.metrics_host,
		    tg_conf.metrics_port, TG_METRICS_SERVER);
	if (tg_conf.workers > 0)
		kore_buf_appendf(&buf, "workers %d\n", tg_conf.workers);
	kore_buf_appendf(&buf, "worker_accept_threshold %d\n",
	    tg_conf.accept_threshold);
	kore_buf_appendf(&buf, "worker_max_connections %d\n",
	    tg_conf.max_connections);
	kore_buf_appendf(&buf, "http_body_timeout %d\n", tg_conf.body_timeout);
	if (tg_conf.pidfile != NULL)
		kore_buf_appendf(&buf, "pidfile %s\n", tg_conf.pidfile);
	if (tg_conf.runas != NULL)
		kore_buf_appendf(&buf, "runas %s\n", tg_conf.runas);
	kore_buf_appendf(&buf, "seccomp_tracing %s\n",
	    tg_conf.seccomp == TG_SECCOMP_TRACE ? "yes" : "no");

	if ((fp = fmemopen(buf.data, buf.offset, "r")) == NULL)
		fatal("fmemopen: %s", errno_s);
	kore_parse_config_file(fp);
	fclose(fp);
	kore_buf_cleanup(&buf);

	/*
	 * Kore answers a body over http_body_max itself (413, in the
	 * contract's shape by early.c) before reading it; early.c sets it
	 * per request from the path (tg_body_limit). This is the ceiling.
	 */
	http_body_max = tg_conf.v1_body_max > tg_conf.body_max ?
	    tg_conf.v1_body_max : tg_conf.body_max;
}
