/*
 * The migrations of sql/, embedded in the binary at build time
 * (scripts/embed-sql.sh writes tg_migrations[], in file-name order), and
 * what `tollgate migrate` (migrate.c) and the schema check of /readyz
 * (health.c) need from them. The helpers below are pure C: no Kore, no
 * libpq, so the unit tests link them without the embedded list.
 *
 * A migration's name is its file name without .sql: four digits, an
 * underscore, then lower-case letters, digits and underscores. Its
 * checksum is the SHA-256 of the file's bytes in lower-case hex, as
 * sha256sum prints it, which is what scripts/migrate.sh stores in
 * schema_migrations: a database migrated by either is the same to both.
 */

#ifndef TG_MIGRATIONS_H
#define TG_MIGRATIONS_H

#include <stddef.h>

struct tg_migration {
	const char	*name;		/* NNNN_name */
	const char	*sql;		/* the file's text, NUL-terminated */
	size_t		 len;		/* its bytes, without the NUL */
};

/* Generated; in the binary only (not in the unit tests). */
extern const struct tg_migration	tg_migrations[];
extern const int			tg_migrations_count;

#define TG_MIGRATION_SUM_LEN	64	/* hex digits of a SHA-256 */

/* What to do with one migration, from its row in schema_migrations. */
#define TG_MIGRATION_APPLY	0	/* no row: apply it */
#define TG_MIGRATION_SKIP	1	/* applied, same checksum */
#define TG_MIGRATION_CHANGED	2	/* applied, and the file changed since */

int	tg_migration_name_valid(const char *);
int	tg_migrations_check(const struct tg_migration *, int);
void	tg_migration_checksum(const char *, size_t,
	    char [TG_MIGRATION_SUM_LEN + 1]);
int	tg_migration_decide(const char *, const char *);

/* `tollgate migrate` (migrate.c): the process's exit code. */
int	tg_migrate_cli(int, char **);

#endif
