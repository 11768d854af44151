/*
 * Tollgate configuration from the environment (docs/contract.md §2).
 *
 * tg_config_load() reads every variable, checks each one and records one
 * line per problem that names the variable (never a secret's value), the
 * way relayd's load_config counts errors instead of stopping at the first.
 * The caller prints the lines and refuses to start when any was found.
 *
 * Production (the default) additionally refuses dev-only features and
 * the well-known secrets of conf/dev.env, which all carry the marker
 * "insecure-dev" so that a copied dev.env can never reach production,
 * and requires TOLLGATE_PUBLIC_URL and TOLLGATE_UI_URL (their loopback
 * defaults are for dev). tg_config_known() lists every TOLLGATE_* name
 * something reads, for the warning about the others (main.c).
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "cors.h"
#include "lex.h"
#include "logfmt.h"

#define DEV_SECRET_MARKER	"insecure-dev"

struct tg_config	tg_conf;
unsigned int		tg_config_generation;

/*
 * Every TOLLGATE_* name something reads: the process, the scripts and
 * the test suite (docs/contract.md §2 and §11, README). Anything else
 * set in the environment is most likely a typo and gets one warning.
 */
static const char *conf_known_names[] = {
	"TOLLGATE_ENV", "TOLLGATE_DATABASE_URL",
	"TOLLGATE_MIGRATE_DATABASE_URL", "TOLLGATE_LISTEN",
	"TOLLGATE_PUBLIC_URL", "TOLLGATE_UI_URL", "TOLLGATE_JWT_SECRET",
	"TOLLGATE_KEY_PEPPER", "TOLLGATE_ADMIN_EMAILS",
	"TOLLGATE_ROUTER_CONFIG", "TOLLGATE_DEV_LOGIN",
	"TOLLGATE_SIGNUP_CREDITS_MICROS",
	"TOLLGATE_STRIPE_SECRET_KEY", "TOLLGATE_STRIPE_WEBHOOK_SECRET",
	"TOLLGATE_STRIPE_API_URL", "TOLLGATE_WORKERS",
	"TOLLGATE_ACCEPT_THRESHOLD", "TOLLGATE_BODY_MAX_BYTES",
	"TOLLGATE_BODY_TIMEOUT_SECONDS", "TOLLGATE_MAX_CONNECTIONS",
	"TOLLGATE_MAX_KEYS_PER_USER", "TOLLGATE_TRUST_PROXY",
	"TOLLGATE_RATE_LIMIT_IP", "TOLLGATE_RATE_LIMIT_USER",
	"TOLLGATE_KEY_FAIL_LIMIT", "TOLLGATE_SECCOMP", "TOLLGATE_RUNAS",
	"TOLLGATE_PIDFILE", "TOLLGATE_CA_FILE", "TOLLGATE_HOLD_TTL_SECONDS",
	"TOLLGATE_SETTLE_FLUSH_MS", "TOLLGATE_LEASE_TTL_SECONDS",
	"TOLLGATE_STRICT_SETTLEMENT", "TOLLGATE_DRAIN_SECONDS",
	"TOLLGATE_LOG_FORMAT", "TOLLGATE_METRICS_LISTEN",
	"TOLLGATE_METRICS_TOKEN", "TOLLGATE_CORS_ORIGINS",
	"TOLLGATE_COOKIE_SAMESITE", "TOLLGATE_V1_BODY_MAX_BYTES",
	"TOLLGATE_RESPONSES_RETENTION_DAYS",
	/*
	 * No longer read (nothing used it): accepted without a warning so
	 * that an environment written for an older version still starts.
	 */
	"TOLLGATE_SECRET_KEY",
	/* Set by make run and the test suite around the process. */
	"TOLLGATE_ROOT", "TOLLGATE_BIN", "TOLLGATE_SANITIZE",
	"TOLLGATE_TEST_JOBS", "TOLLGATE_TESTS_STRICT",
	"TOLLGATE_MIGRATIONS_DIR", "TOLLGATE_OPENAPI_CHECK",
	NULL
};

/* The OAuth providers' variables: TOLLGATE_<PROVIDER>_<suffix>. */
static const char *conf_oauth_names[] = { "GOOGLE", "GITHUB", "KAKAO", NULL };
static const char *conf_oauth_suffixes[] = {
	"CLIENT_ID", "CLIENT_SECRET", "AUTHORIZE_URL", "TOKEN_URL",
	"USERINFO_URL", "JWKS_URL", "API_URL", "ISSUER", NULL
};

static const char *conf_get(tg_getenv_fn, const char *);
static int	conf_bool(tg_getenv_fn, const char *, int,
		    struct tg_config_errors *);
static long long conf_int(tg_getenv_fn, const char *, long long, long long,
		    long long, struct tg_config_errors *);
static int	conf_is_loopback_host(const char *, size_t);
static int	conf_url(struct tg_config *, tg_getenv_fn, const char *,
		    const char *, char **, struct tg_config_errors *);
static int	conf_hostport(const char *, char *, size_t, char *, size_t);
static void	conf_observability(struct tg_config *, tg_getenv_fn,
		    struct tg_config_errors *);
static void	conf_listen(struct tg_config *, tg_getenv_fn,
		    struct tg_config_errors *);
static void	conf_secret(struct tg_config *, tg_getenv_fn, const char *,
		    unsigned char **, size_t *, struct tg_config_errors *);
static void	conf_jwt_secrets(struct tg_config *, tg_getenv_fn,
		    struct tg_config_errors *);
static int	conf_known_oauth(const char *);
static const char *conf_memmem(const char *, size_t, const char *);
static void	conf_admin_emails(struct tg_config *, tg_getenv_fn,
		    struct tg_config_errors *);
static void	conf_oauth(struct tg_config *, tg_getenv_fn,
		    struct tg_oauth_conf *, const char *, const char *[],
		    struct tg_config_errors *);
static void	conf_stripe(struct tg_config *, tg_getenv_fn,
		    struct tg_config_errors *);
static void	conf_deployment(struct tg_config *, tg_getenv_fn,
		    struct tg_config_errors *);

/* Default endpoints, in the order authorize, token, userinfo, jwks, api, iss. */
static const char *google_defaults[] = {
	"https://accounts.google.com/o/oauth2/v2/auth",
	"https://oauth2.googleapis.com/token",
	"https://openidconnect.googleapis.com/v1/userinfo",
	"https://www.googleapis.com/oauth2/v3/certs",
	NULL,
	"https://accounts.google.com",
};

static const char *github_defaults[] = {
	"https://github.com/login/oauth/authorize",
	"https://github.com/login/oauth/access_token",
	NULL,
	NULL,
	"https://api.github.com",
	NULL,
};

static const char *kakao_defaults[] = {
	"https://kauth.kakao.com/oauth/authorize",
	"https://kauth.kakao.com/oauth/token",
	"https://kapi.kakao.com/v2/user/me",
	"https://kauth.kakao.com/.well-known/jwks.json",
	NULL,
	"https://kauth.kakao.com",
};

int
tg_config_load(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v;

	memset(conf, 0, sizeof(*conf));
	memset(errs, 0, sizeof(*errs));

	conf->production = 1;
	if ((v = conf_get(get, "TOLLGATE_ENV")) != NULL) {
		if (!strcmp(v, "dev"))
			conf->production = 0;
		else if (strcmp(v, "production"))
			tg_config_error(errs, "TOLLGATE_ENV: must be \"dev\" "
			    "or \"production\"");
	}

	if ((v = conf_get(get, "TOLLGATE_DATABASE_URL")) == NULL)
		tg_config_error(errs, "TOLLGATE_DATABASE_URL: required (a "
		    "libpq connection string or URI)");
	else
		conf->database_url = tg_config_strdup(v);

	conf_listen(conf, get, errs);
	/*
	 * The defaults are for a dev machine: in production they would send
	 * OAuth redirects and cookies to 127.0.0.1.
	 */
	if (conf->production) {
		if (conf_get(get, "TOLLGATE_PUBLIC_URL") == NULL)
			tg_config_error(errs, "TOLLGATE_PUBLIC_URL: required when "
			    "TOLLGATE_ENV=production (the https URL clients "
			    "reach)");
		if (conf_get(get, "TOLLGATE_UI_URL") == NULL)
			tg_config_error(errs, "TOLLGATE_UI_URL: required when "
			    "TOLLGATE_ENV=production (the product's UI)");
	}
	conf_url(conf, get, "TOLLGATE_PUBLIC_URL", conf->production ? NULL :
	    "http://127.0.0.1:8080", &conf->public_url, errs);
	conf_url(conf, get, "TOLLGATE_UI_URL", conf->production ? NULL :
	    "http://127.0.0.1:8080", &conf->ui_url, errs);
	if (conf->public_url != NULL)
		conf->public_https = !strncmp(conf->public_url, "https://", 8);
	if (conf->ui_url != NULL) {
		char	origin[512];

		if (tg_config_url_origin(conf->ui_url, origin, sizeof(origin)))
			conf->ui_origin = tg_config_strdup(origin);
	}

	conf_jwt_secrets(conf, get, errs);
	conf_secret(conf, get, "TOLLGATE_KEY_PEPPER", &conf->key_pepper,
	    &conf->key_pepper_len, errs);
	conf_admin_emails(conf, get, errs);

	v = conf_get(get, "TOLLGATE_ROUTER_CONFIG");
	conf->router_config = tg_config_strdup(v != NULL ? v :
	    "conf/router.json");

	conf->dev_login = conf_bool(get, "TOLLGATE_DEV_LOGIN", 0, errs);
	if (conf->dev_login && conf->production)
		tg_config_error(errs, "TOLLGATE_DEV_LOGIN: dev login is "
		    "refused when TOLLGATE_ENV=production");

	conf->signup_credits_micros = conf_int(get,
	    "TOLLGATE_SIGNUP_CREDITS_MICROS", 0, 0, 1000000000000000LL, errs);

	conf_oauth(conf, get, &conf->google, "GOOGLE", google_defaults, errs);
	conf_oauth(conf, get, &conf->github, "GITHUB", github_defaults, errs);
	conf_oauth(conf, get, &conf->kakao, "KAKAO", kakao_defaults, errs);
	conf_stripe(conf, get, errs);
	conf_deployment(conf, get, errs);
	conf_observability(conf, get, errs);
	tg_cors_config(conf, get, errs);

	return (errs->count == 0);
}

void
tg_config_free(struct tg_config *conf)
{
	struct tg_oauth_conf	*o[3];
	int			 i;

	free(conf->database_url);
	free(conf->public_url);
	free(conf->ui_url);
	free(conf->ui_origin);
	for (i = 0; i < conf->jwt_secrets_count; i++)
		free(conf->jwt_secrets[i]);
	free(conf->key_pepper);
	for (i = 0; i < conf->admin_emails_count; i++)
		free(conf->admin_emails[i]);
	free(conf->router_config);

	o[0] = &conf->google;
	o[1] = &conf->github;
	o[2] = &conf->kakao;
	for (i = 0; i < 3; i++) {
		free(o[i]->client_id);
		free(o[i]->client_secret);
		free(o[i]->authorize_url);
		free(o[i]->token_url);
		free(o[i]->userinfo_url);
		free(o[i]->jwks_url);
		free(o[i]->api_url);
		free(o[i]->issuer);
	}

	free(conf->stripe_secret_key);
	for (i = 0; i < conf->stripe_webhook_secrets_count; i++)
		free(conf->stripe_webhook_secrets[i]);
	free(conf->stripe_api_url);
	free(conf->runas);
	free(conf->pidfile);
	free(conf->ca_file);
	free(conf->metrics_token);
	for (i = 0; i < conf->cors_origins_count; i++)
		free(conf->cors_origins[i]);
	memset(conf, 0, sizeof(*conf));
}

int
tg_config_is_admin_email(const struct tg_config *conf, const char *email)
{
	if (email == NULL || *email == '\0')
		return (0);

	return (tg_config_list_has(conf->admin_emails,
	    conf->admin_emails_count, email));
}

/* Whether s is one of list's n entries, ignoring case (emails, origins). */
int
tg_config_list_has(char *const *list, int n, const char *s)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (!strcasecmp(list[i], s))
			return (1);
	}

	return (0);
}

/*
 * Whether name is a TOLLGATE_* variable something reads, or the X_FILE
 * form of one that may come from a file.
 */
int
tg_config_known(const char *name)
{
	char	base[128];
	size_t	len;
	int	i;

	for (i = 0; conf_known_names[i] != NULL; i++) {
		if (!strcmp(conf_known_names[i], name))
			return (1);
	}
	if (conf_known_oauth(name))
		return (1);

	len = strlen(name);
	if (len > 5 && len - 5 < sizeof(base) &&
	    !strcmp(name + len - 5, "_FILE")) {
		memcpy(base, name, len - 5);
		base[len - 5] = '\0';
		return (tg_config_file_form(base) && tg_config_known(base));
	}

	return (0);
}

static int
conf_known_oauth(const char *name)
{
	const char	*p;
	size_t		 len;
	int		 i, j;

	if (strncmp(name, "TOLLGATE_", 9))
		return (0);
	p = name + 9;
	for (i = 0; conf_oauth_names[i] != NULL; i++) {
		len = strlen(conf_oauth_names[i]);
		if (strncmp(p, conf_oauth_names[i], len) || p[len] != '_')
			continue;
		for (j = 0; conf_oauth_suffixes[j] != NULL; j++) {
			if (!strcmp(p + len + 1, conf_oauth_suffixes[j]))
				return (1);
		}
	}

	return (0);
}

/*
 * Write "scheme://host[:port]" of an http(s) URL into out; returns 1 on
 * success. Used for the UI origin check of return_to and the CSRF guard.
 */
int
tg_config_url_origin(const char *url, char *out, size_t outlen)
{
	const char	*p, *end;
	size_t		 len;

	if (!strncmp(url, "https://", 8))
		p = url + 8;
	else if (!strncmp(url, "http://", 7))
		p = url + 7;
	else
		return (0);

	end = p + strcspn(p, "/?#");
	if (end == p)
		return (0);

	len = end - url;
	if (len + 1 > outlen)
		return (0);

	memcpy(out, url, len);
	out[len] = '\0';
	for (p = out; *p != '\0'; p++)
		out[p - out] = tolower((unsigned char)*p);

	return (1);
}

/* One more problem line, unless there are already as many as fit. */
void
tg_config_error(struct tg_config_errors *errs, const char *fmt, ...)
{
	va_list		ap;

	if (errs->count >= TG_CONFIG_ERRORS_MAX)
		return;

	va_start(ap, fmt);
	(void)vsnprintf(errs->line[errs->count], sizeof(errs->line[0]),
	    fmt, ap);
	va_end(ap);
	errs->count++;
}

/* Configuration is read once at start: out of memory there is fatal. */
char *
tg_config_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL) {
		fprintf(stderr, "tollgate: out of memory\n");
		exit(1);
	}

	return (p);
}

/* An empty variable counts as unset, as in most 12-factor tooling. */
static const char *
conf_get(tg_getenv_fn get, const char *name)
{
	const char	*v;

	if ((v = get(name)) == NULL || *v == '\0')
		return (NULL);

	return (v);
}

static int
conf_bool(tg_getenv_fn get, const char *name, int def,
    struct tg_config_errors *errs)
{
	const char	*v;

	if ((v = conf_get(get, name)) == NULL)
		return (def);

	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"))
		return (1);
	if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no"))
		return (0);

	tg_config_error(errs, "%s: must be 1 or 0", name);
	return (def);
}

static long long
conf_int(tg_getenv_fn get, const char *name, long long def, long long min,
    long long max, struct tg_config_errors *errs)
{
	const char	*v;
	char		*end;
	long long	 n;

	if ((v = conf_get(get, name)) == NULL)
		return (def);

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || !isdigit((unsigned char)v[0]) ||
	    n < min || n > max) {
		tg_config_error(errs, "%s: must be an integer from %lld to "
		    "%lld", name, min, max);
		return (def);
	}

	return (n);
}

static int
conf_is_loopback_host(const char *host, size_t len)
{
	if (len == 9 && !strncasecmp(host, "localhost", 9))
		return (1);
	if (len >= 4 && !strncmp(host, "127.", 4))
		return (1);
	if (len == 5 && !strncmp(host, "[::1]", 5))
		return (1);

	return (0);
}

/*
 * An http(s) URL with a host. Production accepts plain http only for
 * loopback hosts (a reverse proxy or sidecar on the same machine).
 */
static int
conf_url(struct tg_config *conf, tg_getenv_fn get, const char *name,
    const char *def, char **out, struct tg_config_errors *errs)
{
	const char	*v, *host;
	size_t		 hostlen;
	int		 https;

	if ((v = conf_get(get, name)) == NULL)
		v = def;
	if (v == NULL) {
		*out = NULL;
		return (1);
	}

	if (!strncmp(v, "https://", 8)) {
		https = 1;
		host = v + 8;
	} else if (!strncmp(v, "http://", 7)) {
		https = 0;
		host = v + 7;
	} else {
		tg_config_error(errs, "%s: must be an http:// or https:// URL",
		    name);
		*out = NULL;
		return (0);
	}

	hostlen = strcspn(host, ":/?#");
	if (hostlen == 0 || strlen(v) > 2048 || strpbrk(v, " \t\r\n") != NULL) {
		tg_config_error(errs, "%s: not a valid URL", name);
		*out = NULL;
		return (0);
	}

	if (conf->production && !https && !conf_is_loopback_host(host, hostlen)) {
		tg_config_error(errs, "%s: must be https when "
		    "TOLLGATE_ENV=production", name);
		*out = NULL;
		return (0);
	}

	*out = tg_config_strdup(v);
	return (1);
}

static void
conf_listen(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v;

	if ((v = conf_get(get, "TOLLGATE_LISTEN")) == NULL)
		v = "127.0.0.1:8080";
	if (!conf_hostport(v, conf->listen_host, sizeof(conf->listen_host),
	    conf->listen_port, sizeof(conf->listen_port)))
		tg_config_error(errs, "TOLLGATE_LISTEN: must be host:port "
		    "(got \"%.64s\")", v);
}

/* "host:port" or "[v6]:port" into host and port; 0 when malformed. */
static int
conf_hostport(const char *v, char *host, size_t hostsz, char *port,
    size_t portsz)
{
	const char	*colon, *h;
	size_t		 hostlen;
	char		*end;
	long		 n;

	if ((colon = strrchr(v, ':')) == NULL || colon == v)
		return (0);

	h = v;
	hostlen = colon - v;
	if (h[0] == '[') {
		if (hostlen < 3 || h[hostlen - 1] != ']')
			return (0);
		h++;
		hostlen -= 2;
	}
	if (hostlen >= hostsz)
		return (0);

	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || colon[1] == '\0' ||
	    n < 1 || n > 65535)
		return (0);

	memcpy(host, h, hostlen);
	host[hostlen] = '\0';
	(void)snprintf(port, portsz, "%ld", n);
	return (1);
}

/*
 * Logs and metrics: TOLLGATE_LOG_FORMAT, TOLLGATE_METRICS_LISTEN (then
 * /metrics is served there only) and TOLLGATE_METRICS_TOKEN (a bearer
 * token /metrics requires).
 */
static void
conf_observability(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v;

	v = conf_get(get, "TOLLGATE_LOG_FORMAT");
	if ((conf->log_format = tg_logfmt_parse(v)) < 0) {
		tg_config_error(errs, "TOLLGATE_LOG_FORMAT: must be text or "
		    "json");
		conf->log_format = TG_LOGFMT_TEXT;
	}

	if ((v = conf_get(get, "TOLLGATE_METRICS_LISTEN")) != NULL) {
		if (!conf_hostport(v, conf->metrics_host,
		    sizeof(conf->metrics_host), conf->metrics_port,
		    sizeof(conf->metrics_port)))
			tg_config_error(errs, "TOLLGATE_METRICS_LISTEN: must "
			    "be host:port (got \"%.64s\")", v);
		else if (!strcmp(conf->metrics_host, conf->listen_host) &&
		    !strcmp(conf->metrics_port, conf->listen_port))
			tg_config_error(errs, "TOLLGATE_METRICS_LISTEN: must "
			    "differ from TOLLGATE_LISTEN");
	}

	if ((v = conf_get(get, "TOLLGATE_METRICS_TOKEN")) != NULL) {
		if (strlen(v) < TG_METRICS_TOKEN_MIN || strlen(v) > 512 ||
		    strpbrk(v, " \t\r\n") != NULL)
			tg_config_error(errs, "TOLLGATE_METRICS_TOKEN: must be "
			    "%d to 512 characters without spaces",
			    TG_METRICS_TOKEN_MIN);
		else
			conf->metrics_token = tg_config_strdup(v);
	}
}

static void
conf_secret(struct tg_config *conf, tg_getenv_fn get, const char *name,
    unsigned char **out, size_t *outlen, struct tg_config_errors *errs)
{
	const char	*v;
	size_t		 len;

	*out = NULL;
	*outlen = 0;

	if ((v = conf_get(get, name)) == NULL) {
		tg_config_error(errs, "%s: required (at least %d bytes of "
		    "random)", name, TG_SECRET_MIN);
		return;
	}

	len = strlen(v);
	if (len < TG_SECRET_MIN) {
		tg_config_error(errs, "%s: must be at least %d bytes (got %zu)",
		    name, TG_SECRET_MIN, len);
		return;
	}

	if (conf->production && strstr(v, DEV_SECRET_MARKER) != NULL) {
		tg_config_error(errs, "%s: the dev value is refused when "
		    "TOLLGATE_ENV=production", name);
		return;
	}

	*out = (unsigned char *)tg_config_strdup(v);
	*outlen = len;
}

/*
 * TOLLGATE_JWT_SECRET: one secret, or a comma-separated list of them to
 * rotate without signing everyone out (docs/operations.md, "Rotating
 * secrets"). Each one is checked like any other secret.
 */
static void
conf_jwt_secrets(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v, *p, *end;
	size_t		 len;
	int		 n;

	if ((v = conf_get(get, "TOLLGATE_JWT_SECRET")) == NULL) {
		tg_config_error(errs, "TOLLGATE_JWT_SECRET: required (at least "
		    "%d bytes of random)", TG_SECRET_MIN);
		return;
	}

	for (p = v, n = 1; *p != '\0'; p = (*end == ',') ? end + 1 : end, n++) {
		end = p + strcspn(p, ",");
		len = end - p;
		if (len < TG_SECRET_MIN) {
			tg_config_error(errs, "TOLLGATE_JWT_SECRET: secret %d "
			    "must be at least %d bytes (got %zu)", n,
			    TG_SECRET_MIN, len);
			return;
		}
		if (conf->production &&
		    conf_memmem(p, len, DEV_SECRET_MARKER) != NULL) {
			tg_config_error(errs, "TOLLGATE_JWT_SECRET: the dev value "
			    "is refused when TOLLGATE_ENV=production");
			return;
		}
		if (conf->jwt_secrets_count >= TG_JWT_SECRETS_MAX) {
			tg_config_error(errs, "TOLLGATE_JWT_SECRET: at most %d "
			    "secrets", TG_JWT_SECRETS_MAX);
			return;
		}
		if ((conf->jwt_secrets[conf->jwt_secrets_count] =
		    (unsigned char *)strndup(p, len)) == NULL) {
			fprintf(stderr, "tollgate: out of memory\n");
			exit(1);
		}
		conf->jwt_secret_lens[conf->jwt_secrets_count++] = len;
		if (*end == ',' && end[1] == '\0') {
			tg_config_error(errs, "TOLLGATE_JWT_SECRET: ends with "
			    "a comma");
			return;
		}
	}
}

/* A needle in the first len bytes of p (which need not end in NUL). */
static const char *
conf_memmem(const char *p, size_t len, const char *needle)
{
	size_t	n;

	n = strlen(needle);
	for (; len >= n; p++, len--) {
		if (!memcmp(p, needle, n))
			return (p);
	}

	return (NULL);
}

static void
conf_admin_emails(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v, *p;
	char		 email[320];
	size_t		 len, i;

	if ((v = conf_get(get, "TOLLGATE_ADMIN_EMAILS")) == NULL)
		return;

	/* Commas or newlines: TOLLGATE_ADMIN_EMAILS_FILE holds one a line. */
	while (tg_list_next(&v, ",\n", &p, &len)) {
		if (len == 0)
			continue;

		if (len >= sizeof(email) || memchr(p, '@', len) == NULL ||
		    p[0] == '@' || p[len - 1] == '@') {
			tg_config_error(errs, "TOLLGATE_ADMIN_EMAILS: \"%.*s\" "
			    "is not an email address",
			    (int)(len > 64 ? 64 : len), p);
			continue;
		}
		if (conf->admin_emails_count >= TG_ADMIN_EMAILS_MAX) {
			tg_config_error(errs, "TOLLGATE_ADMIN_EMAILS: at most "
			    "%d addresses", TG_ADMIN_EMAILS_MAX);
			return;
		}

		for (i = 0; i < len; i++)
			email[i] = tolower((unsigned char)p[i]);
		email[len] = '\0';
		conf->admin_emails[conf->admin_emails_count++] =
		    tg_config_strdup(email);
	}
}

static void
conf_oauth(struct tg_config *conf, tg_getenv_fn get, struct tg_oauth_conf *o,
    const char *prov, const char *defaults[], struct tg_config_errors *errs)
{
	static const char	*suffix[] = {
		"AUTHORIZE_URL", "TOKEN_URL", "USERINFO_URL", "JWKS_URL",
		"API_URL", "ISSUER"
	};
	char			**field[6];
	char			 name[64];
	const char		*id, *secret;
	int			 i;

	field[0] = &o->authorize_url;
	field[1] = &o->token_url;
	field[2] = &o->userinfo_url;
	field[3] = &o->jwks_url;
	field[4] = &o->api_url;
	field[5] = &o->issuer;

	/*
	 * prov is one of GOOGLE, GITHUB, KAKAO (above) and the longest
	 * suffix is CLIENT_SECRET or AUTHORIZE_URL: 36 bytes, name holds 64.
	 */
	(void)snprintf(name, sizeof(name), "TOLLGATE_%s_CLIENT_ID", prov);
	id = conf_get(get, name);
	(void)snprintf(name, sizeof(name), "TOLLGATE_%s_CLIENT_SECRET", prov);
	secret = conf_get(get, name);

	if (id == NULL && secret == NULL)
		return;
	if (id == NULL || secret == NULL) {
		tg_config_error(errs, "TOLLGATE_%s_CLIENT_%s: required when "
		    "TOLLGATE_%s_CLIENT_%s is set", prov,
		    id == NULL ? "ID" : "SECRET", prov,
		    id == NULL ? "SECRET" : "ID");
		return;
	}

	o->enabled = 1;
	o->client_id = tg_config_strdup(id);
	o->client_secret = tg_config_strdup(secret);

	for (i = 0; i < 6; i++) {
		if (defaults[i] == NULL)
			continue;
		(void)snprintf(name, sizeof(name), "TOLLGATE_%s_%s", prov,
		    suffix[i]);
		if (i == 5) {
			/* An issuer is an identifier, compared exactly. */
			const char *v = conf_get(get, name);
			*field[i] = tg_config_strdup(v != NULL ? v :
			    defaults[i]);
			continue;
		}
		if (!conf_url(conf, get, name, defaults[i], field[i], errs))
			o->enabled = 0;
	}
}

static void
conf_stripe(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v, *p;
	size_t		 len;
	char		*s;

	if ((v = conf_get(get, "TOLLGATE_STRIPE_SECRET_KEY")) == NULL) {
		if (conf_get(get, "TOLLGATE_STRIPE_WEBHOOK_SECRET") != NULL)
			tg_config_error(errs, "TOLLGATE_STRIPE_SECRET_KEY: "
			    "required when TOLLGATE_STRIPE_WEBHOOK_SECRET is "
			    "set");
		return;
	}

	if (strncmp(v, "sk_", 3) && strncmp(v, "rk_", 3)) {
		tg_config_error(errs, "TOLLGATE_STRIPE_SECRET_KEY: must be a "
		    "Stripe secret key (sk_... or rk_...)");
		return;
	}
	conf->stripe_secret_key = tg_config_strdup(v);
	conf_url(conf, get, "TOLLGATE_STRIPE_API_URL", "https://api.stripe.com",
	    &conf->stripe_api_url, errs);

	if ((v = conf_get(get, "TOLLGATE_STRIPE_WEBHOOK_SECRET")) == NULL) {
		tg_config_error(errs, "TOLLGATE_STRIPE_WEBHOOK_SECRET: "
		    "required when billing is on (TOLLGATE_STRIPE_SECRET_KEY "
		    "is set)");
		return;
	}

	while (tg_list_next(&v, ",", &p, &len)) {
		if (len == 0)
			continue;
		if (len < 6 + 16 || strncmp(p, "whsec_", 6)) {
			tg_config_error(errs, "TOLLGATE_STRIPE_WEBHOOK_SECRET: "
			    "each secret must be whsec_ followed by at least "
			    "16 characters");
			return;
		}
		if (conf->stripe_webhook_secrets_count >=
		    TG_WEBHOOK_SECRETS_MAX) {
			tg_config_error(errs, "TOLLGATE_STRIPE_WEBHOOK_SECRET: "
			    "at most %d secrets", TG_WEBHOOK_SECRETS_MAX);
			return;
		}
		if ((s = strndup(p, len)) == NULL) {
			fprintf(stderr, "tollgate: out of memory\n");
			exit(1);
		}
		conf->stripe_webhook_secrets
		    [conf->stripe_webhook_secrets_count++] = s;
	}

	if (conf->stripe_webhook_secrets_count == 0) {
		tg_config_error(errs, "TOLLGATE_STRIPE_WEBHOOK_SECRET: "
		    "required when billing is on (TOLLGATE_STRIPE_SECRET_KEY "
		    "is set)");
		return;
	}

	conf->billing_enabled = 1;
}

static void
conf_deployment(struct tg_config *conf, tg_getenv_fn get,
    struct tg_config_errors *errs)
{
	const char	*v;

	conf->workers = (int)conf_int(get, "TOLLGATE_WORKERS", 0, 1, 64, errs);
	conf->accept_threshold = (int)conf_int(get,
	    "TOLLGATE_ACCEPT_THRESHOLD", 16, 1, 1024, errs);
	conf->body_max = (size_t)conf_int(get, "TOLLGATE_BODY_MAX_BYTES",
	    1048576, 1024, 64LL * 1024 * 1024, errs);
	conf->v1_body_max = (size_t)conf_int(get,
	    "TOLLGATE_V1_BODY_MAX_BYTES", 20971520, 1024, 256LL * 1024 * 1024,
	    errs);
	conf->body_timeout = (int)conf_int(get,
	    "TOLLGATE_BODY_TIMEOUT_SECONDS", 60, 1, 3600, errs);
	conf->drain_seconds = (int)conf_int(get,
	    "TOLLGATE_DRAIN_SECONDS", 30, 0, 3600, errs);
	conf->responses_retention_days = (int)conf_int(get,
	    "TOLLGATE_RESPONSES_RETENTION_DAYS", 30, 1, 3650, errs);
	conf->max_connections = (int)conf_int(get,
	    "TOLLGATE_MAX_CONNECTIONS", 2048, 8, 8000, errs);
	conf->max_keys_per_user = (int)conf_int(get,
	    "TOLLGATE_MAX_KEYS_PER_USER", 50, 1, 10000, errs);
	conf->trust_proxy = conf_bool(get, "TOLLGATE_TRUST_PROXY", 0, errs);
	conf->rate_limit_ip = (unsigned int)conf_int(get,
	    "TOLLGATE_RATE_LIMIT_IP", 30, 0, 1000000, errs);
	conf->rate_limit_user = (unsigned int)conf_int(get,
	    "TOLLGATE_RATE_LIMIT_USER", 60, 0, 1000000, errs);
	conf->key_fail_limit = (unsigned int)conf_int(get,
	    "TOLLGATE_KEY_FAIL_LIMIT", 20, 0, 1000000, errs);

	conf->seccomp = TG_SECCOMP_ON;
	if ((v = conf_get(get, "TOLLGATE_SECCOMP")) != NULL) {
		if (!strcmp(v, "on"))
			conf->seccomp = TG_SECCOMP_ON;
		else if (!strcmp(v, "trace"))
			conf->seccomp = TG_SECCOMP_TRACE;
		else if (!strcmp(v, "off"))
			conf->seccomp = TG_SECCOMP_OFF;
		else
			tg_config_error(errs, "TOLLGATE_SECCOMP: must be on, "
			    "trace or off");
	}
	if (conf->seccomp != TG_SECCOMP_ON && conf->production)
		tg_config_error(errs, "TOLLGATE_SECCOMP: only \"on\" is "
		    "allowed when TOLLGATE_ENV=production");

	if ((v = conf_get(get, "TOLLGATE_RUNAS")) != NULL) {
		if (strlen(v) > 32 || strpbrk(v, " \t:/") != NULL)
			tg_config_error(errs, "TOLLGATE_RUNAS: not a user "
			    "name");
		else
			conf->runas = tg_config_strdup(v);
	}
	if ((v = conf_get(get, "TOLLGATE_PIDFILE")) != NULL)
		conf->pidfile = tg_config_strdup(v);
	if ((v = conf_get(get, "TOLLGATE_CA_FILE")) != NULL)
		conf->ca_file = tg_config_strdup(v);
}
