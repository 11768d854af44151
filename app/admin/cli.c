/*
 * `tollgate admin-token create NAME`: the bootstrap of a fresh install.
 * It runs in place of the server (kore_parent_configure hands it argv
 * before Kore starts), reads the same environment, and talks to
 * PostgreSQL with plain blocking libpq: there is no event loop yet.
 * The token is printed once on stdout; the database keeps its keyed hash.
 * Such a token acts as the built-in operator user (sql/0380_admin.sql).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "tollgate.h"
#include "auth/flow.h"
#include "admin/input.h"

static int		 cli_create(const char *);
static const char	*cli_getenv(const char *);

static const char	sql_create[] =
	"SELECT result, body->>'id' FROM admin_token_create(NULL, NULL, $1, "
	"decode($2, 'hex'), $3)";

int
tg_admin_cli(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[2], "create") != 0) {
		fprintf(stderr, "usage: tollgate admin-token create NAME\n");
		return (2);
	}
	if (!admin_name_valid(argv[3])) {
		fprintf(stderr, "tollgate: the name must be 1 to %d "
		    "characters without control characters\n", ADMIN_NAME_MAX);
		return (2);
	}

	return (cli_create(argv[3]));
}

static int
cli_create(const char *name)
{
	struct tg_config_errors	 errs;
	PGconn			*conn;
	PGresult		*res;
	const char		*params[3];
	char			 token[ADMIN_TOKEN_LEN + 1];
	char			 hash[AUTH_HASH_HEX_LEN + 1];
	char			 prefix[ADMIN_TOKEN_SHOWN + 1];
	int			 i, ok;

	if (sodium_init() < 0) {
		fprintf(stderr, "tollgate: libsodium failed to initialise\n");
		return (1);
	}
	(void)tg_config_load(&tg_conf, cli_getenv, &errs);
	if (errs.count > 0) {
		for (i = 0; i < errs.count; i++)
			fprintf(stderr, "tollgate: configuration error: %s\n",
			    errs.line[i]);
		return (1);
	}

	if (!admin_token_new(tg_conf.key_pepper, tg_conf.key_pepper_len,
	    token, hash, prefix)) {
		fprintf(stderr, "tollgate: keyed hash failed\n");
		return (1);
	}

	conn = PQconnectdb(tg_conf.database_url);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "tollgate: cannot connect to "
		    "TOLLGATE_DATABASE_URL: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return (1);
	}

	params[0] = name;
	params[1] = hash;
	params[2] = prefix;
	res = PQexecParams(conn, sql_create, 3, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0) &&
	    !strcmp(PQgetvalue(res, 0, 0), "created");
	if (ok) {
		printf("%s\n", token);
		fprintf(stderr, "tollgate: admin token %s (%s) created; it "
		    "is shown only this once\n", PQgetvalue(res, 0, 1), name);
	} else {
		fprintf(stderr, "tollgate: cannot create the admin token: %s",
		    PQresultStatus(res) == PGRES_FATAL_ERROR ?
		    PQresultErrorMessage(res) : "unexpected answer\n");
	}
	sodium_memzero(token, sizeof(token));
	PQclear(res);
	PQfinish(conn);
	fflush(stdout);
	return (ok ? 0 : 1);
}

static const char *
cli_getenv(const char *name)
{
	return (getenv(name));
}
