/*
 * `tollgate migrate`: applies the migrations embedded in the binary
 * (migrations.h) exactly as scripts/migrate.sh applies sql/ from a
 * checkout, so a host needs neither psql nor the repository:
 *
 *   - as the owner role, TOLLGATE_MIGRATE_DATABASE_URL (default
 *     TOLLGATE_DATABASE_URL); the application role is the role of
 *     TOLLGATE_DATABASE_URL, asked of the server when the two differ,
 *     and migrations see its name as the setting tollgate.app_role;
 *   - tables that belong to a role other than the owner stop the run
 *     with the statement that hands them over (an install from before
 *     the split of roles, docs/operations.md);
 *   - each migration once, in its own transaction together with its row
 *     in schema_migrations, under the same advisory lock, so two
 *     migrators never interleave; a failing one is rolled back whole and
 *     stops the run; one applied with another checksum is refused;
 *   - after the last, tg_roles_apply() states the split of rights again.
 *
 * Same bookkeeping, same lock, same messages: each may migrate a
 * database the other migrated, and tests/integration/test_migrate.py
 * holds both to the same schema. It runs in place of the server, before
 * Kore starts (kore_parent_configure), with plain blocking libpq.
 * Exit status: 0 all applied, 1 an error, 2 bad usage.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "migrations.h"

#define MIGRATE_LOCK	"7314470123"	/* scripts/migrate.sh's */
#define MIGRATE_ENV_MAX	8192		/* a URL read from a file */

static int	 migrate_run(const char *, const char *, int);
static int	 migrate_one(PGconn *, const struct tg_migration *,
		    const char *, int *);
static int	 migrate_roles(PGconn *, const char *);
static int	 migrate_owner_check(PGconn *);
static int	 migrate_begin(PGconn *, const char *, PGresult **);
static int	 migrate_exec(PGconn *, const char *, int, const char **,
		    PGresult **);
static void	 migrate_failed(PGconn *, const char *, PGresult *);
static const char *migrate_error(PGconn *, PGresult *);
static char	*migrate_app_role(const char *);
static PGconn	*migrate_connect(const char *);
static int	 migrate_env(const char *, char **);
static void	 migrate_notice(void *, const char *);

static const char	sql_owner[] =
	"SELECT pg_get_userbyid(c.relowner), current_user FROM pg_class c "
	"WHERE c.oid = to_regclass('schema_migrations') AND c.relowner <> "
	"(SELECT oid FROM pg_roles WHERE rolname = current_user)";

static const char	sql_lock[] =
	"SELECT pg_advisory_xact_lock(" MIGRATE_LOCK "), "
	"set_config('tollgate.app_role', $1, true)";

static const char	sql_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	"version text PRIMARY KEY, checksum text NOT NULL, "
	"applied_at timestamptz NOT NULL DEFAULT now())";

static const char	sql_known[] =
	"SELECT checksum FROM schema_migrations WHERE version = $1";

static const char	sql_record[] =
	"INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)";

static const char	sql_roles_known[] =
	"SELECT to_regproc('tg_roles_apply') IS NOT NULL";

int
tg_migrate_cli(int argc, char **argv)
{
	char	*app_url, *url;
	int	 rc, explicit;

	(void)argv;
	if (argc != 2) {
		fprintf(stderr, "usage: tollgate migrate\n");
		return (2);
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "migrate: libsodium failed to initialise\n");
		return (1);
	}

	if (!migrate_env("TOLLGATE_DATABASE_URL", &app_url))
		return (1);
	if (!migrate_env("TOLLGATE_MIGRATE_DATABASE_URL", &url)) {
		free(app_url);
		return (1);
	}
	explicit = url != NULL;
	if (url == NULL && app_url != NULL)
		url = strdup(app_url);
	if (url == NULL) {
		fprintf(stderr, "migrate: neither TOLLGATE_MIGRATE_DATABASE_URL "
		    "nor TOLLGATE_DATABASE_URL is set\n");
		free(app_url);
		return (1);
	}

	rc = migrate_run(url, app_url, explicit);
	sodium_memzero(url, strlen(url));
	free(url);
	if (app_url != NULL) {
		sodium_memzero(app_url, strlen(app_url));
		free(app_url);
	}
	fflush(stdout);

	return (rc);
}

static int
migrate_run(const char *url, const char *app_url, int explicit)
{
	PGconn		*pg;
	char		*app_role;
	int		 i, applied, ok;

	i = tg_migrations_check(tg_migrations, tg_migrations_count);
	if (i != -1) {
		fprintf(stderr, "migrate: bad migration file name or order: "
		    "%s\n", tg_migrations[i].name);
		return (1);
	}

	/* One role for both when the URLs are the same or only one is set. */
	app_role = NULL;
	if (app_url != NULL && strcmp(app_url, url) != 0) {
		if ((app_role = migrate_app_role(app_url)) == NULL)
			return (1);
	} else if (explicit && app_url == NULL) {
		fprintf(stderr, "migrate: TOLLGATE_DATABASE_URL is not set: no "
		    "rights granted to an application role\n");
	}

	if ((pg = migrate_connect(url)) == NULL) {
		free(app_role);
		return (1);
	}

	ok = migrate_owner_check(pg);
	applied = 0;
	for (i = 0; ok && i < tg_migrations_count; i++) {
		ok = migrate_one(pg, &tg_migrations[i],
		    app_role != NULL ? app_role : "", &applied);
	}
	if (ok)
		ok = migrate_roles(pg, app_role != NULL ? app_role : "");
	if (ok && applied == 0)
		printf("migrate: up to date\n");

	PQfinish(pg);
	free(app_role);

	return (ok ? 0 : 1);
}

/*
 * One migration in one transaction with its row, as scripts/migrate.sh
 * does it: lock, the bookkeeping table, the row, then the file.
 */
static int
migrate_one(PGconn *pg, const struct tg_migration *m, const char *app_role,
    int *applied)
{
	PGresult	*res;
	const char	*params[2], *known;
	char		 sum[TG_MIGRATION_SUM_LEN + 1];
	int		 decision;

	res = NULL;
	tg_migration_checksum(m->sql, m->len, sum);
	params[0] = m->name;
	params[1] = sum;
	if (!migrate_begin(pg, app_role, &res) ||
	    !migrate_exec(pg, sql_known, 1, params, &res)) {
		migrate_failed(pg, m->name, res);
		return (0);
	}
	known = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
	    PQgetvalue(res, 0, 0) : NULL;
	decision = tg_migration_decide(known, sum);
	PQclear(res);

	switch (decision) {
	case TG_MIGRATION_CHANGED:
		PQclear(PQexec(pg, "ROLLBACK"));
		fprintf(stderr, "migrate: %s was changed after it was applied; "
		    "add a new migration instead\n", m->name);
		return (0);
	case TG_MIGRATION_SKIP:
		PQclear(PQexec(pg, "ROLLBACK"));
		return (1);
	}

	/*
	 * The file as one string: its statements run in order inside this
	 * transaction and the first error ends them (PQexec).
	 */
	res = PQexec(pg, m->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_EMPTY_QUERY) {
		migrate_failed(pg, m->name, res);
		return (0);
	}
	if (!migrate_exec(pg, sql_record, 2, params, &res) ||
	    !migrate_exec(pg, "COMMIT", 0, NULL, &res)) {
		migrate_failed(pg, m->name, res);
		return (0);
	}
	PQclear(res);

	printf("migrate: applied %s\n", m->name);
	(*applied)++;

	return (1);
}

/* The split again, whatever the migrations just replaced or added. */
static int
migrate_roles(PGconn *pg, const char *app_role)
{
	PGresult	*res;
	int		 ok;

	res = NULL;
	ok = migrate_begin(pg, app_role, &res) &&
	    migrate_exec(pg, sql_roles_known, 0, NULL, &res);
	if (ok && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t"))
		ok = migrate_exec(pg, "SELECT tg_roles_apply()", 0, NULL, &res);
	if (!ok || !migrate_exec(pg, "COMMIT", 0, NULL, &res)) {
		fprintf(stderr, "migrate: the database roles could not be "
		    "set:\n%s", migrate_error(pg, res));
		PQclear(res);
		PQclear(PQexec(pg, "ROLLBACK"));
		return (0);
	}
	PQclear(res);

	return (1);
}

/*
 * An install from before the split (its tables belong to the application
 * role) changes hands first; migrating as another role would fail anyway.
 */
static int
migrate_owner_check(PGconn *pg)
{
	PGresult	*res;

	res = NULL;
	if (!migrate_exec(pg, sql_owner, 0, NULL, &res)) {
		fprintf(stderr, "migrate: %s", migrate_error(pg, res));
		PQclear(res);
		return (0);
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return (1);
	}

	fprintf(stderr, "migrate: the tables belong to role %s, not to %s, "
	    "which runs the migrations; as a superuser, in this database: "
	    "REASSIGN OWNED BY %s TO %s; (docs/operations.md, \"Database "
	    "roles\")\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);

	return (0);
}

/*
 * BEGIN, the migrators' lock, tollgate.app_role for this transaction and
 * the bookkeeping table. On failure *res is what failed (or NULL).
 */
static int
migrate_begin(PGconn *pg, const char *app_role, PGresult **res)
{
	const char	*params[1];

	params[0] = app_role;

	return (migrate_exec(pg, "BEGIN", 0, NULL, res) &&
	    migrate_exec(pg, sql_lock, 1, params, res) &&
	    migrate_exec(pg, sql_table, 0, NULL, res));
}

/*
 * One statement. On success *res is its result, the caller's to clear;
 * on failure *res is the failed result (or NULL), the caller's too. A
 * result left in *res by the step before is cleared first, so steps
 * chain with &&. A COMMIT in a failed transaction answers COMMAND_OK
 * with the tag ROLLBACK: that is a failure as well.
 */
static int
migrate_exec(PGconn *pg, const char *sql, int n, const char **params,
    PGresult **res)
{
	ExecStatusType	st;

	PQclear(*res);
	*res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(*res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return (0);
	if (!strcmp(sql, "COMMIT") && strcmp(PQcmdStatus(*res), "COMMIT"))
		return (0);

	return (1);
}

/* What went wrong, from the failed result or else the connection. */
static const char *
migrate_error(PGconn *pg, PGresult *res)
{
	if (res != NULL && PQresultErrorMessage(res)[0] != '\0')
		return (PQresultErrorMessage(res));
	if (PQerrorMessage(pg)[0] != '\0')
		return (PQerrorMessage(pg));

	return ("the transaction was rolled back\n");
}

/* A migration failed: nothing of it stays (its transaction ends). */
static void
migrate_failed(PGconn *pg, const char *name, PGresult *res)
{
	fprintf(stderr, "migrate: %s failed; nothing of it was applied:\n%s",
	    name, migrate_error(pg, res));
	PQclear(res);
	PQclear(PQexec(pg, "ROLLBACK"));
}

/* The role tollgate itself connects as: the one the split grants to. */
static char *
migrate_app_role(const char *app_url)
{
	PGconn		*pg;
	PGresult	*res;
	char		*role;

	if ((pg = migrate_connect(app_url)) == NULL) {
		fprintf(stderr, "migrate: cannot connect as the application "
		    "role (TOLLGATE_DATABASE_URL)\n");
		return (NULL);
	}

	role = NULL;
	res = PQexec(pg, "SELECT current_user");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		role = strdup(PQgetvalue(res, 0, 0));
	if (role == NULL) {
		fprintf(stderr, "migrate: cannot connect as the application "
		    "role (TOLLGATE_DATABASE_URL): %s", PQerrorMessage(pg));
	}
	PQclear(res);
	PQfinish(pg);

	return (role);
}

static PGconn *
migrate_connect(const char *url)
{
	static const char *const	keys[] = { "dbname", "application_name",
					    NULL };
	const char			*values[3];
	PGconn				*pg;

	values[0] = url;
	values[1] = "tollgate-migrate";
	values[2] = NULL;
	pg = PQconnectdbParams(keys, values, 1);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "migrate: cannot connect: %s",
		    pg != NULL ? PQerrorMessage(pg) : "out of memory\n");
		PQfinish(pg);
		return (NULL);
	}
	/* CREATE TABLE IF NOT EXISTS and friends say NOTICE; psql -q too. */
	PQsetNoticeProcessor(pg, migrate_notice, NULL);

	return (pg);
}

/*
 * NAME, or the contents of the file named by NAME_FILE with one
 * trailing newline trimmed, as every secret of tollgate may be given (a
 * URL may hold a password). *out is NULL when neither is set, a copy
 * otherwise. Both set, or a file that can't be read, is an error.
 */
static int
migrate_env(const char *name, char **out)
{
	FILE		*fp;
	const char	*v, *path;
	char		 var[64], *buf;
	size_t		 n;

	*out = NULL;
	(void)snprintf(var, sizeof(var), "%s_FILE", name);
	v = getenv(name);
	path = getenv(var);
	if (v != NULL && *v == '\0')
		v = NULL;
	if (path != NULL && *path == '\0')
		path = NULL;
	if (v != NULL && path != NULL) {
		fprintf(stderr, "migrate: %s and %s are both set\n", name, var);
		return (0);
	}
	if (v != NULL) {
		if ((*out = strdup(v)) == NULL)
			return (0);
		return (1);
	}
	if (path == NULL)
		return (1);

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "migrate: %s: cannot read %s: %s\n", var, path,
		    strerror(errno));
		return (0);
	}
	if ((buf = calloc(1, MIGRATE_ENV_MAX + 2)) == NULL) {
		fclose(fp);
		return (0);
	}
	n = fread(buf, 1, MIGRATE_ENV_MAX + 1, fp);
	fclose(fp);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n == 0 || n > MIGRATE_ENV_MAX || strlen(buf) != n) {
		fprintf(stderr, "migrate: %s: %s is empty, too long or not "
		    "text\n", var, path);
		sodium_memzero(buf, MIGRATE_ENV_MAX + 2);
		free(buf);
		return (0);
	}
	*out = buf;

	return (1);
}

static void
migrate_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}
