/*
 * Configuration from the environment: every bad value is reported once,
 * by name, and production refuses dev-only settings.
 */

#include <string.h>

#include "tg_test.h"
#include "config.h"
#include "logfmt.h"

#define ENV_MAX	64

static const char	*env_names[ENV_MAX];
static const char	*env_values[ENV_MAX];
static int		 env_count;

static const char *
fake_getenv(const char *name)
{
	int	i;

	for (i = 0; i < env_count; i++) {
		if (!strcmp(env_names[i], name))
			return (env_values[i]);
	}
	return (NULL);
}

static void
env_set(const char *name, const char *value)
{
	int	i;

	for (i = 0; i < env_count; i++) {
		if (!strcmp(env_names[i], name)) {
			env_values[i] = value;
			return;
		}
	}
	env_names[env_count] = name;
	env_values[env_count++] = value;
}

/* A complete, valid production environment. */
static void
env_base(void)
{
	env_count = 0;
	env_set("TOLLGATE_DATABASE_URL", "host=/tmp dbname=tollgate");
	env_set("TOLLGATE_JWT_SECRET", "0123456789abcdef0123456789abcdefXYZ");
	env_set("TOLLGATE_KEY_PEPPER", "fedcba9876543210fedcba9876543210QRS");
	env_set("TOLLGATE_PUBLIC_URL", "https://api.example.com");
	env_set("TOLLGATE_UI_URL", "https://app.example.com/console");
}

/* Load and expect exactly one problem, naming var. */
static void
expect_one_error(const char *var)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 0);
	ck_assert_int_eq(errs.count, 1);
	ck_assert_msg(strncmp(errs.line[0], var, strlen(var)) == 0,
	    "error \"%s\" does not name %s", errs.line[0], var);
	tg_config_free(&conf);
}

START_TEST(valid_production_defaults)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(errs.count, 0);
	ck_assert_int_eq(conf.production, 1);
	ck_assert_str_eq(conf.listen_host, "127.0.0.1");
	ck_assert_str_eq(conf.listen_port, "8080");
	ck_assert_str_eq(conf.public_url, "https://api.example.com");
	ck_assert_str_eq(conf.ui_origin, "https://app.example.com");
	ck_assert_int_eq(conf.jwt_secrets_count, 1);
	ck_assert_str_eq(conf.router_config, "conf/router.json");
	ck_assert_int_eq(conf.dev_login, 0);
	ck_assert_int_eq(conf.signup_credits_micros, 0);
	ck_assert_int_eq(conf.google.enabled, 0);
	ck_assert_int_eq(conf.billing_enabled, 0);
	ck_assert_int_eq(conf.body_max, 1048576);
	ck_assert_int_eq(conf.max_keys_per_user, 50);
	ck_assert_int_eq(conf.responses_retention_days, 30);
	tg_config_free(&conf);
}
END_TEST

START_TEST(missing_required)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;
	int			 i, found[5] = { 0, 0, 0, 0, 0 };

	/* Production (the default): the URLs have no default either. */
	env_count = 0;
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 0);
	ck_assert_int_eq(errs.count, 5);
	for (i = 0; i < errs.count; i++) {
		found[0] |= strstr(errs.line[i], "TOLLGATE_DATABASE_URL") != NULL;
		found[1] |= strstr(errs.line[i], "TOLLGATE_JWT_SECRET") != NULL;
		found[2] |= strstr(errs.line[i], "TOLLGATE_KEY_PEPPER") != NULL;
		found[3] |= strstr(errs.line[i], "TOLLGATE_PUBLIC_URL") != NULL;
		found[4] |= strstr(errs.line[i], "TOLLGATE_UI_URL") != NULL;
	}
	ck_assert(found[0] && found[1] && found[2] && found[3] && found[4]);
	tg_config_free(&conf);
}
END_TEST

START_TEST(short_secret_is_named_not_shown)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	env_set("TOLLGATE_JWT_SECRET", "hunter2-short");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 0);
	ck_assert_int_eq(errs.count, 1);
	ck_assert_ptr_nonnull(strstr(errs.line[0], "TOLLGATE_JWT_SECRET"));
	ck_assert_ptr_null(strstr(errs.line[0], "hunter2"));
	tg_config_free(&conf);
}
END_TEST

START_TEST(bad_values)
{
	env_base();
	env_set("TOLLGATE_ENV", "staging");
	expect_one_error("TOLLGATE_ENV");

	env_base();
	env_set("TOLLGATE_LISTEN", "127.0.0.1");
	expect_one_error("TOLLGATE_LISTEN");
	env_set("TOLLGATE_LISTEN", "127.0.0.1:70000");
	expect_one_error("TOLLGATE_LISTEN");
	env_set("TOLLGATE_LISTEN", ":80");
	expect_one_error("TOLLGATE_LISTEN");

	env_base();
	env_set("TOLLGATE_PUBLIC_URL", "ftp://example.com");
	expect_one_error("TOLLGATE_PUBLIC_URL");

	env_base();
	env_set("TOLLGATE_SIGNUP_CREDITS_MICROS", "-5");
	expect_one_error("TOLLGATE_SIGNUP_CREDITS_MICROS");
	env_set("TOLLGATE_SIGNUP_CREDITS_MICROS", "1.5");
	expect_one_error("TOLLGATE_SIGNUP_CREDITS_MICROS");

	env_base();
	env_set("TOLLGATE_ADMIN_EMAILS", "a@example.com, not-an-email");
	expect_one_error("TOLLGATE_ADMIN_EMAILS");

	env_base();
	env_set("TOLLGATE_WORKERS", "0");
	expect_one_error("TOLLGATE_WORKERS");

	env_base();
	env_set("TOLLGATE_DEV_LOGIN", "maybe");
	expect_one_error("TOLLGATE_DEV_LOGIN");

	/* Stored responses are kept 1 day to 10 years, never 0. */
	env_base();
	env_set("TOLLGATE_RESPONSES_RETENTION_DAYS", "0");
	expect_one_error("TOLLGATE_RESPONSES_RETENTION_DAYS");
	env_set("TOLLGATE_RESPONSES_RETENTION_DAYS", "3651");
	expect_one_error("TOLLGATE_RESPONSES_RETENTION_DAYS");
	env_set("TOLLGATE_RESPONSES_RETENTION_DAYS", "7d");
	expect_one_error("TOLLGATE_RESPONSES_RETENTION_DAYS");
}
END_TEST

START_TEST(production_refuses_dev_features)
{
	env_base();
	env_set("TOLLGATE_DEV_LOGIN", "1");
	expect_one_error("TOLLGATE_DEV_LOGIN");

	env_base();
	env_set("TOLLGATE_JWT_SECRET", "insecure-dev-jwt-secret-0123456789abcdef");
	expect_one_error("TOLLGATE_JWT_SECRET");

	env_base();
	env_set("TOLLGATE_SECCOMP", "off");
	expect_one_error("TOLLGATE_SECCOMP");

	env_base();
	env_set("TOLLGATE_PUBLIC_URL", "http://api.example.com");
	expect_one_error("TOLLGATE_PUBLIC_URL");
}
END_TEST

START_TEST(dev_allows_dev_features)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	env_set("TOLLGATE_ENV", "dev");
	env_set("TOLLGATE_DEV_LOGIN", "1");
	env_set("TOLLGATE_JWT_SECRET", "insecure-dev-jwt-secret-0123456789abcdef");
	env_set("TOLLGATE_SECCOMP", "off");
	env_set("TOLLGATE_PUBLIC_URL", "http://api.example.com");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(conf.dev_login, 1);
	ck_assert_int_eq(conf.production, 0);
	tg_config_free(&conf);
}
END_TEST

START_TEST(listen_ipv6_and_admins)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	env_set("TOLLGATE_LISTEN", "[::1]:9000");
	env_set("TOLLGATE_ADMIN_EMAILS", " Boss@Example.com ,ops@example.com,");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_str_eq(conf.listen_host, "::1");
	ck_assert_str_eq(conf.listen_port, "9000");
	ck_assert_int_eq(conf.admin_emails_count, 2);
	ck_assert(tg_config_is_admin_email(&conf, "boss@example.com"));
	ck_assert(tg_config_is_admin_email(&conf, "OPS@example.com"));
	ck_assert(!tg_config_is_admin_email(&conf, "eve@example.com"));
	ck_assert(!tg_config_is_admin_email(&conf, ""));
	tg_config_free(&conf);
}
END_TEST

/* Logs and metrics: formats, the metrics listener, the metrics token. */
START_TEST(logs_and_metrics)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(conf.log_format, TG_LOGFMT_TEXT);
	ck_assert_str_eq(conf.metrics_host, "");
	ck_assert_ptr_null(conf.metrics_token);
	tg_config_free(&conf);

	env_set("TOLLGATE_LOG_FORMAT", "json");
	env_set("TOLLGATE_METRICS_LISTEN", "[::1]:9100");
	env_set("TOLLGATE_METRICS_TOKEN", "0123456789abcdef");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(conf.log_format, TG_LOGFMT_JSON);
	ck_assert_str_eq(conf.metrics_host, "::1");
	ck_assert_str_eq(conf.metrics_port, "9100");
	ck_assert_str_eq(conf.metrics_token, "0123456789abcdef");
	tg_config_free(&conf);

	env_set("TOLLGATE_LOG_FORMAT", "xml");
	expect_one_error("TOLLGATE_LOG_FORMAT");
	env_set("TOLLGATE_LOG_FORMAT", "text");
	env_set("TOLLGATE_METRICS_LISTEN", "9100");
	expect_one_error("TOLLGATE_METRICS_LISTEN");
	/* The main listener's default address. */
	env_set("TOLLGATE_METRICS_LISTEN", "127.0.0.1:8080");
	expect_one_error("TOLLGATE_METRICS_LISTEN");
	env_set("TOLLGATE_METRICS_LISTEN", "127.0.0.1:9100");
	env_set("TOLLGATE_METRICS_TOKEN", "0123456789abcde");
	expect_one_error("TOLLGATE_METRICS_TOKEN");
	env_set("TOLLGATE_METRICS_TOKEN", "0123456789 abcdef");
	expect_one_error("TOLLGATE_METRICS_TOKEN");
}
END_TEST

START_TEST(oauth_and_stripe)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	env_set("TOLLGATE_GITHUB_CLIENT_ID", "abc");
	expect_one_error("TOLLGATE_GITHUB_CLIENT_SECRET");

	env_base();
	env_set("TOLLGATE_GOOGLE_CLIENT_ID", "gid");
	env_set("TOLLGATE_GOOGLE_CLIENT_SECRET", "gsecret");
	env_set("TOLLGATE_GOOGLE_TOKEN_URL", "https://fake.example/token");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(conf.google.enabled, 1);
	ck_assert_str_eq(conf.google.token_url, "https://fake.example/token");
	ck_assert_str_eq(conf.google.authorize_url,
	    "https://accounts.google.com/o/oauth2/v2/auth");
	ck_assert_str_eq(conf.google.issuer, "https://accounts.google.com");
	tg_config_free(&conf);

	env_base();
	env_set("TOLLGATE_STRIPE_SECRET_KEY", "sk_test_123");
	expect_one_error("TOLLGATE_STRIPE_WEBHOOK_SECRET");
	env_set("TOLLGATE_STRIPE_WEBHOOK_SECRET", "nope");
	expect_one_error("TOLLGATE_STRIPE_WEBHOOK_SECRET");
	env_set("TOLLGATE_STRIPE_WEBHOOK_SECRET",
	    "whsec_aaaaaaaaaaaaaaaaaaaa, whsec_bbbbbbbbbbbbbbbbbbbb");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(conf.billing_enabled, 1);
	ck_assert_int_eq(conf.stripe_webhook_secrets_count, 2);
	ck_assert_str_eq(conf.stripe_webhook_secrets[1],
	    "whsec_bbbbbbbbbbbbbbbbbbbb");
	tg_config_free(&conf);
}
END_TEST

START_TEST(urls_required_in_production)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	env_set("TOLLGATE_PUBLIC_URL", "");
	expect_one_error("TOLLGATE_PUBLIC_URL");
	env_base();
	env_set("TOLLGATE_UI_URL", "");
	expect_one_error("TOLLGATE_UI_URL");

	/* In dev both default to the local listener. */
	env_base();
	env_set("TOLLGATE_ENV", "dev");
	env_set("TOLLGATE_PUBLIC_URL", "");
	env_set("TOLLGATE_UI_URL", "");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_str_eq(conf.public_url, "http://127.0.0.1:8080");
	ck_assert_str_eq(conf.ui_origin, "http://127.0.0.1:8080");
	tg_config_free(&conf);
}
END_TEST

START_TEST(jwt_secret_list)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	env_set("TOLLGATE_JWT_SECRET", "new-secret-0123456789abcdef0123456789,"
	    "old-secret-0123456789abcdef0123456789");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(conf.jwt_secrets_count, 2);
	ck_assert_str_eq((char *)conf.jwt_secrets[0],
	    "new-secret-0123456789abcdef0123456789");
	ck_assert_int_eq(conf.jwt_secret_lens[0], 37);
	ck_assert_str_eq((char *)conf.jwt_secrets[1],
	    "old-secret-0123456789abcdef0123456789");
	tg_config_free(&conf);

	/* Every secret of the list is checked, and named by position. */
	env_set("TOLLGATE_JWT_SECRET", "new-secret-0123456789abcdef0123456789,"
	    "short");
	expect_one_error("TOLLGATE_JWT_SECRET");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 0);
	ck_assert_ptr_nonnull(strstr(errs.line[0], "secret 2"));
	ck_assert_ptr_null(strstr(errs.line[0], "short"));
	tg_config_free(&conf);
	env_set("TOLLGATE_JWT_SECRET", "new-secret-0123456789abcdef0123456789,");
	expect_one_error("TOLLGATE_JWT_SECRET");
	env_set("TOLLGATE_JWT_SECRET", ",new-secret-0123456789abcdef0123456789");
	expect_one_error("TOLLGATE_JWT_SECRET");
	env_set("TOLLGATE_JWT_SECRET", "new-secret-0123456789abcdef0123456789,"
	    "insecure-dev-jwt-secret-0123456789abcdef");
	expect_one_error("TOLLGATE_JWT_SECRET");
}
END_TEST

START_TEST(admin_emails_one_a_line)
{
	struct tg_config	 conf;
	struct tg_config_errors	 errs;

	env_base();
	env_set("TOLLGATE_ADMIN_EMAILS", "boss@example.com\r\nops@example.com\n"
	    "\nthird@example.com,fourth@example.com");
	ck_assert_int_eq(tg_config_load(&conf, fake_getenv, &errs), 1);
	ck_assert_int_eq(conf.admin_emails_count, 4);
	ck_assert(tg_config_is_admin_email(&conf, "boss@example.com"));
	ck_assert(tg_config_is_admin_email(&conf, "ops@example.com"));
	ck_assert(tg_config_is_admin_email(&conf, "fourth@example.com"));
	tg_config_free(&conf);
}
END_TEST

START_TEST(known_names)
{
	ck_assert(tg_config_known("TOLLGATE_LISTEN"));
	ck_assert(tg_config_known("TOLLGATE_DRAIN_SECONDS"));
	ck_assert(tg_config_known("TOLLGATE_CA_FILE"));
	ck_assert(tg_config_known("TOLLGATE_KAKAO_USERINFO_URL"));
	ck_assert(tg_config_known("TOLLGATE_GITHUB_CLIENT_SECRET_FILE"));
	ck_assert(tg_config_known("TOLLGATE_JWT_SECRET_FILE"));
	ck_assert(tg_config_known("TOLLGATE_ADMIN_EMAILS_FILE"));
	ck_assert(!tg_config_known("TOLLGATE_SIGNUP_CREDIT_MICROS"));
	ck_assert(!tg_config_known("TOLLGATE_LISTEN_FILE"));
	ck_assert(!tg_config_known("TOLLGATE_GITHUB_CLIENT_SECRETS"));
	ck_assert(!tg_config_known("TOLLGATE_TWITTER_CLIENT_ID"));
	ck_assert(!tg_config_known("TOLLGATE_"));
	ck_assert(!tg_config_known("TOLLGATE__FILE"));
}
END_TEST

START_TEST(url_origin)
{
	char	o[64];

	ck_assert(tg_config_url_origin("https://App.Example.com/ui?x=1", o,
	    sizeof(o)));
	ck_assert_str_eq(o, "https://app.example.com");
	ck_assert(tg_config_url_origin("http://127.0.0.1:8080", o, sizeof(o)));
	ck_assert_str_eq(o, "http://127.0.0.1:8080");
	ck_assert(!tg_config_url_origin("javascript:alert(1)", o, sizeof(o)));
	ck_assert(!tg_config_url_origin("https:///x", o, sizeof(o)));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");

	tcase_add_test(tc, valid_production_defaults);
	tcase_add_test(tc, missing_required);
	tcase_add_test(tc, short_secret_is_named_not_shown);
	tcase_add_test(tc, bad_values);
	tcase_add_test(tc, production_refuses_dev_features);
	tcase_add_test(tc, dev_allows_dev_features);
	tcase_add_test(tc, listen_ipv6_and_admins);
	tcase_add_test(tc, oauth_and_stripe);
	tcase_add_test(tc, url_origin);
	tcase_add_test(tc, logs_and_metrics);
	tcase_add_test(tc, urls_required_in_production);
	tcase_add_test(tc, jwt_secret_list);
	tcase_add_test(tc, admin_emails_one_a_line);
	tcase_add_test(tc, known_names);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(config_suite)
