/* The pure side of the embedded migrations (app/core/migrations.c). */

#include <string.h>

#include "tg_test.h"
#include "migrations.h"

START_TEST(names)
{
	ck_assert(tg_migration_name_valid("0001_users"));
	ck_assert(tg_migration_name_valid("0495_api_keys_created_notify"));
	ck_assert(tg_migration_name_valid("9999_x2"));

	ck_assert(!tg_migration_name_valid(""));
	ck_assert(!tg_migration_name_valid("001_users"));
	ck_assert(!tg_migration_name_valid("0001users"));
	ck_assert(!tg_migration_name_valid("0001_"));
	ck_assert(!tg_migration_name_valid("0001_Users"));
	ck_assert(!tg_migration_name_valid("0001_users.sql"));
	ck_assert(!tg_migration_name_valid("0001_a-b"));
	ck_assert(!tg_migration_name_valid("0001_a\"b"));
	ck_assert(!tg_migration_name_valid("abcd_users"));
}
END_TEST

START_TEST(order)
{
	struct tg_migration	ok[] = {
		{ "0001_a", "", 0 }, { "0002_a", "", 0 }, { "0002_b", "", 0 },
	};
	struct tg_migration	dup[] = {
		{ "0001_a", "", 0 }, { "0001_a", "", 0 },
	};
	struct tg_migration	back[] = {
		{ "0002_a", "", 0 }, { "0003_a", "", 0 }, { "0001_a", "", 0 },
	};
	struct tg_migration	bad[] = {
		{ "0001_a", "", 0 }, { "2_b", "", 0 },
	};

	ck_assert_int_eq(tg_migrations_check(ok, 3), -1);
	ck_assert_int_eq(tg_migrations_check(ok, 0), -1);
	ck_assert_int_eq(tg_migrations_check(dup, 2), 1);
	ck_assert_int_eq(tg_migrations_check(back, 3), 2);
	ck_assert_int_eq(tg_migrations_check(bad, 2), 1);
}
END_TEST

/* What sha256sum prints for the same bytes: scripts/migrate.sh's sums. */
START_TEST(checksum)
{
	char	hex[TG_MIGRATION_SUM_LEN + 1];

	tg_migration_checksum("", 0, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	tg_migration_checksum("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	/* The length counts, not a NUL. */
	tg_migration_checksum("abc\0def", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(decide)
{
	ck_assert_int_eq(tg_migration_decide(NULL, "ab"), TG_MIGRATION_APPLY);
	ck_assert_int_eq(tg_migration_decide("ab", "ab"), TG_MIGRATION_SKIP);
	ck_assert_int_eq(tg_migration_decide("ab", "ac"),
	    TG_MIGRATION_CHANGED);
	ck_assert_int_eq(tg_migration_decide("", "ab"), TG_MIGRATION_CHANGED);
}
END_TEST

static Suite *
migrations_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("migrations");
	tc = tcase_create("core");
	tcase_add_test(tc, names);
	tcase_add_test(tc, order);
	tcase_add_test(tc, checksum);
	tcase_add_test(tc, decide);
	suite_add_tcase(s, tc);

	return (s);
}

TG_TEST_MAIN(migrations_suite)
