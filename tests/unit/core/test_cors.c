/*
 * CORS rules: TOLLGATE_CORS_ORIGINS and TOLLGATE_COOKIE_SAMESITE as
 * loaded, exact origin matching, the paths that take part and the
 * request headers a preflight is granted.
 */

#include <string.h>

#include "tg_test.h"
#include "config.h"
#include "cors.h"

static const char	*cors_list;
static const char	*samesite;

static const char *
fake_getenv(const char *name)
{
	if (!strcmp(name, "TOLLGATE_CORS_ORIGINS"))
		return (cors_list);
	if (!strcmp(name, "TOLLGATE_COOKIE_SAMESITE"))
		return (samesite);
	return (NULL);
}

static int
load(struct tg_config *conf, struct tg_config_errors *errs, int https)
{
	memset(conf, 0, sizeof(*conf));
	memset(errs, 0, sizeof(*errs));
	conf->public_https = https;
	tg_cors_config(conf, fake_getenv, errs);
	return (errs->count);
}

START_TEST(origins_list)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	cors_list = " https://App.Example.com , http://127.0.0.1:5173,,"
	    "http://[::1]:8080";
	samesite = NULL;
	ck_assert_int_eq(load(&conf, &errs, 0), 0);
	ck_assert_int_eq(conf.cors_origins_count, 3);
	ck_assert_str_eq(conf.cors_origins[0], "https://app.example.com");
	ck_assert_str_eq(conf.cors_origins[1], "http://127.0.0.1:5173");
	ck_assert_str_eq(conf.cors_origins[2], "http://[::1]:8080");
	ck_assert_int_eq(conf.cookie_samesite_none, 0);

	ck_assert(tg_cors_listed(&conf, "https://app.example.com"));
	ck_assert(tg_cors_listed(&conf, "http://127.0.0.1:5173"));
	ck_assert(!tg_cors_listed(&conf, NULL));
	ck_assert(!tg_cors_listed(&conf, "null"));
	ck_assert(!tg_cors_listed(&conf, "https://app.example.com.evil"));
	ck_assert(!tg_cors_listed(&conf, "https://app.example.co"));
	ck_assert(!tg_cors_listed(&conf, "http://app.example.com"));
	ck_assert(!tg_cors_listed(&conf, "https://app.example.com:443"));
	ck_assert(!tg_cors_listed(&conf, "http://127.0.0.1:51730"));
	tg_config_free(&conf);
}
END_TEST

START_TEST(origins_refused)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;
	const char		*bad[] = { "*", "https://a.example/",
	    "https://a.example/x", "a.example", "ftp://a.example",
	    "https://", "https://a.example:0", "https://a.example:70000",
	    "https://a.example:", "https://-a.example", "https://a b",
	    "https://[::1", "null", "https://a.example?x" };
	size_t			 i;

	samesite = NULL;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cors_list = bad[i];
		ck_assert_msg(load(&conf, &errs, 1) == 1, "%s", bad[i]);
		ck_assert(strstr(errs.line[0],
		    "TOLLGATE_CORS_ORIGINS") != NULL);
		ck_assert_int_eq(conf.cors_origins_count, 0);
		tg_config_free(&conf);
	}
}
END_TEST

START_TEST(samesite_setting)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	cors_list = NULL;
	samesite = "none";
	ck_assert_int_eq(load(&conf, &errs, 1), 0);
	ck_assert_int_eq(conf.cookie_samesite_none, 1);
	ck_assert_int_eq(load(&conf, &errs, 0), 1);
	ck_assert(strstr(errs.line[0], "TOLLGATE_COOKIE_SAMESITE") != NULL);
	samesite = "Lax";
	ck_assert_int_eq(load(&conf, &errs, 0), 0);
	ck_assert_int_eq(conf.cookie_samesite_none, 0);
	samesite = "strict";
	ck_assert_int_eq(load(&conf, &errs, 1), 1);
}
END_TEST

START_TEST(paths)
{
	ck_assert(tg_cors_path("/api/me"));
	ck_assert(tg_cors_path("/auth/refresh"));
	ck_assert(tg_cors_path("/v1/chat/completions"));
	ck_assert(tg_cors_path("/openapi.json"));
	ck_assert(!tg_cors_path("/api"));
	ck_assert(!tg_cors_path("/healthz"));
	ck_assert(!tg_cors_path("/webhooks/stripe"));
	ck_assert(!tg_cors_path("/v10/x"));
	ck_assert(!tg_cors_path(NULL));
}
END_TEST

START_TEST(allow_headers)
{
	char	out[TG_CORS_ALLOW_HEADERS_MAX];

	ck_assert(tg_cors_allow_headers(NULL, out, sizeof(out)));
	ck_assert(strstr(out, "authorization, content-type") == out);
	ck_assert(strstr(out, "x-stainless") == NULL);

	ck_assert(tg_cors_allow_headers("X-Stainless-OS,openai-beta , "
	    "x-evil, x-stainless-, x-stainless-a b, content-type", out,
	    sizeof(out)));
	ck_assert(strstr(out, ", x-stainless-os, openai-beta") != NULL);
	ck_assert(strstr(out, "x-evil") == NULL);
	ck_assert(strstr(out, "x-stainless-,") == NULL);
	ck_assert(strstr(out, "x-stainless-a") == NULL);

	ck_assert(!tg_cors_allow_headers("x-stainless-a", out, 40));
}
END_TEST

static Suite *
cors_suite(void)
{
	Suite	*s = suite_create("cors");
	TCase	*tc = tcase_create("cors");

	tcase_add_test(tc, origins_list);
	tcase_add_test(tc, origins_refused);
	tcase_add_test(tc, samesite_setting);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, allow_headers);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(cors_suite)
