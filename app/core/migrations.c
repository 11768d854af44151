/*
 * The pure side of the embedded migrations (see migrations.h): names,
 * their order, checksums and the decision per migration that
 * scripts/migrate.sh makes in psql and `tollgate migrate` makes here.
 */

#include <string.h>

#include <sodium.h>

#include "migrations.h"

/* NNNN_name: four digits, '_', then one or more of [a-z0-9_]. */
int
tg_migration_name_valid(const char *name)
{
	size_t	i;

	for (i = 0; i < 4; i++) {
		if (name[i] < '0' || name[i] > '9')
			return (0);
	}
	if (name[4] != '_' || name[5] == '\0')
		return (0);
	for (i = 5; name[i] != '\0'; i++) {
		if ((name[i] < 'a' || name[i] > 'z') &&
		    (name[i] < '0' || name[i] > '9') && name[i] != '_')
			return (0);
	}

	return (1);
}

/*
 * The index of the first migration whose name is bad or not after the
 * one before it (the order they are applied in is the order of their
 * names, as the shell's glob gives it to scripts/migrate.sh), or -1.
 */
int
tg_migrations_check(const struct tg_migration *m, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (!tg_migration_name_valid(m[i].name))
			return (i);
		if (i > 0 && strcmp(m[i - 1].name, m[i].name) >= 0)
			return (i);
	}

	return (-1);
}

void
tg_migration_checksum(const char *text, size_t len,
    char hex[TG_MIGRATION_SUM_LEN + 1])
{
	unsigned char	sum[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(sum, (const unsigned char *)text, len);
	sodium_bin2hex(hex, TG_MIGRATION_SUM_LEN + 1, sum, sizeof(sum));
}

/* known: the checksum stored for it, or NULL when it has no row. */
int
tg_migration_decide(const char *known, const char *sum)
{
	if (known == NULL)
		return (TG_MIGRATION_APPLY);
	if (strcmp(known, sum) != 0)
		return (TG_MIGRATION_CHANGED);

	return (TG_MIGRATION_SKIP);
}
