/*
 * Secrets from X_FILE: which variables may come from a file, the file's
 * content less one trailing newline, X and X_FILE both set refused,
 * errors that name the variable and never the content, and the re-read
 * of a reload, all or nothing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_test.h"
#include "config.h"

static char	dir[] = "/tmp/tg-secretfile-XXXXXX";

/* Writes content (len bytes) to dir/name; returns the path (static). */
static const char *
put(const char *name, const char *content, size_t len)
{
	static char	path[256];
	FILE		*f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_eq(fwrite(content, 1, len, f), len);
	fclose(f);
	return (path);
}

static char *
entry(const char *name, const char *value)
{
	char	*s;

	ck_assert_int_ge(asprintf(&s, "%s=%s", name, value), 0);
	return (s);
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
}

START_TEST(file_forms)
{
	ck_assert(tg_config_file_form("TOLLGATE_JWT_SECRET"));
	ck_assert(tg_config_file_form("TOLLGATE_STRIPE_WEBHOOK_SECRET"));
	ck_assert(tg_config_file_form("TOLLGATE_ADMIN_EMAILS"));
	ck_assert(tg_config_file_form("TOLLGATE_DATABASE_URL"));
	ck_assert(tg_config_file_form("OPENAI_API_KEY"));
	ck_assert(tg_config_file_form("MY_LOCAL2_API_KEY"));
	/* TOLLGATE_CA_FILE is a path of its own, not TOLLGATE_CA from a file. */
	ck_assert(!tg_config_file_form("TOLLGATE_CA"));
	ck_assert(!tg_config_file_form("TOLLGATE_LISTEN"));
	ck_assert(!tg_config_file_form("_API_KEY"));
	ck_assert(!tg_config_file_form("openai_API_KEY"));
	ck_assert(!tg_config_file_form("2X_API_KEY"));
}
END_TEST

START_TEST(read_trims_one_newline)
{
	struct tg_config_errors	 errs;
	char			*v;

	memset(&errs, 0, sizeof(errs));
	v = tg_secret_file_read("X", put("a", "s3cret\n", 7), &errs);
	ck_assert_str_eq(v, "s3cret");
	free(v);
	v = tg_secret_file_read("X", put("b", "s3cret\r\n", 8), &errs);
	ck_assert_str_eq(v, "s3cret");
	free(v);
	v = tg_secret_file_read("X", put("c", "s3cret\n\n", 8), &errs);
	ck_assert_str_eq(v, "s3cret\n");
	free(v);
	v = tg_secret_file_read("X", put("d", "s3cret", 6), &errs);
	ck_assert_str_eq(v, "s3cret");
	free(v);
	ck_assert_int_eq(errs.count, 0);
}
END_TEST

START_TEST(read_refuses)
{
	struct tg_config_errors	 errs;
	int			 i;

	memset(&errs, 0, sizeof(errs));
	ck_assert_ptr_null(tg_secret_file_read("TOLLGATE_JWT_SECRET",
	    put("empty", "\n", 1), &errs));
	ck_assert_ptr_null(tg_secret_file_read("TOLLGATE_JWT_SECRET",
	    put("nul", "hunter2\0x", 9), &errs));
	ck_assert_ptr_null(tg_secret_file_read("TOLLGATE_JWT_SECRET",
	    "/nonexistent/secret", &errs));
	ck_assert_ptr_null(tg_secret_file_read("TOLLGATE_JWT_SECRET", dir,
	    &errs));
	ck_assert_int_eq(errs.count, 4);
	for (i = 0; i < errs.count; i++) {
		ck_assert_msg(!strncmp(errs.line[i], "TOLLGATE_JWT_SECRET_FILE:",
		    25), "%s", errs.line[i]);
		ck_assert_ptr_null(strstr(errs.line[i], "hunter2"));
	}
}
END_TEST

START_TEST(scan)
{
	struct tg_secret_files	 files;
	struct tg_config_errors	 errs;
	char			*env[8];
	int			 i;

	env[0] = entry("TOLLGATE_JWT_SECRET_FILE", put("jwt", "jwt-value\n",
	    10));
	env[1] = entry("OPENAI_API_KEY_FILE", put("openai", "sk-file\n", 8));
	env[2] = entry("TOLLGATE_CA_FILE", "/etc/ssl/certs/ca.pem");
	env[3] = entry("TOLLGATE_KEY_PEPPER_FILE", "");
	env[4] = entry("PATH", "/usr/bin");
	env[5] = NULL;

	memset(&errs, 0, sizeof(errs));
	ck_assert_int_eq(tg_secret_files_scan(env, &files, &errs), 1);
	ck_assert_int_eq(files.count, 2);
	ck_assert_str_eq(tg_secret_files_get(&files, "TOLLGATE_JWT_SECRET"),
	    "jwt-value");
	ck_assert_str_eq(tg_secret_files_get(&files, "OPENAI_API_KEY"),
	    "sk-file");
	ck_assert_ptr_null(tg_secret_files_get(&files, "TOLLGATE_CA"));
	ck_assert_ptr_null(tg_secret_files_get(&files, "TOLLGATE_KEY_PEPPER"));
	tg_secret_files_free(&files);

	/* X and X_FILE both set: an error naming both, whatever the order. */
	env[5] = entry("OPENAI_API_KEY", "sk-env");
	env[6] = NULL;
	ck_assert_int_eq(tg_secret_files_scan(env, &files, &errs), 0);
	ck_assert_int_eq(errs.count, 1);
	ck_assert_str_eq(errs.line[0], "OPENAI_API_KEY and OPENAI_API_KEY_FILE "
	    "are both set: give one of them");
	ck_assert_ptr_null(strstr(errs.line[0], "sk-"));
	tg_secret_files_free(&files);
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
}
END_TEST

START_TEST(reread_all_or_nothing)
{
	struct tg_secret_files	 files, next;
	struct tg_config_errors	 errs;
	char			*env[3];
	char			 p[256];

	env[0] = entry("TOLLGATE_STRIPE_WEBHOOK_SECRET_FILE",
	    put("whsec", "whsec_old\n", 10));
	env[1] = entry("ANTHROPIC_API_KEY_FILE", put("anthropic", "k1\n", 3));
	env[2] = NULL;
	memset(&errs, 0, sizeof(errs));
	ck_assert_int_eq(tg_secret_files_scan(env, &files, &errs), 1);

	/* Rotated: the new contents. */
	(void)put("whsec", "whsec_new\n", 10);
	ck_assert_int_eq(tg_secret_files_reread(&files, &next, &errs), 1);
	ck_assert_str_eq(tg_secret_files_get(&next,
	    "TOLLGATE_STRIPE_WEBHOOK_SECRET"), "whsec_new");
	ck_assert_str_eq(tg_secret_files_get(&next, "ANTHROPIC_API_KEY"), "k1");
	tg_secret_files_free(&next);

	/* One file gone: refused, and the caller keeps files as they were. */
	(void)snprintf(p, sizeof(p), "%s/anthropic", dir);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(tg_secret_files_reread(&files, &next, &errs), 0);
	ck_assert_int_eq(errs.count, 1);
	ck_assert_ptr_nonnull(strstr(errs.line[0], "ANTHROPIC_API_KEY_FILE"));
	tg_secret_files_free(&next);
	ck_assert_str_eq(tg_secret_files_get(&files,
	    "TOLLGATE_STRIPE_WEBHOOK_SECRET"), "whsec_old");
	tg_secret_files_free(&files);
	free(env[0]);
	free(env[1]);
}
END_TEST

static Suite *
secretfile_suite(void)
{
	Suite	*s = suite_create("secretfile");
	TCase	*tc = tcase_create("secretfile");

	setup();
	tcase_add_test(tc, file_forms);
	tcase_add_test(tc, read_trims_one_newline);
	tcase_add_test(tc, read_refuses);
	tcase_add_test(tc, scan);
	tcase_add_test(tc, reread_all_or_nothing);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(secretfile_suite)
