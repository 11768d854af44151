/*
 * Tollgate configuration: every setting comes from the environment
 * (docs/contract.md §2) and is checked completely before any worker forks.
 * A secret may come from a file (X_FILE, secretfile.c); a reload
 * (reload.c) loads the whole configuration again and swaps tg_conf, so
 * code that caches a value derived from it compares
 * tg_config_generation.
 *
 * This file is pure C (no Kore types) so that the unit tests can feed
 * it any environment they like.
 */

#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define TG_SECRET_MIN		32
#define TG_ADMIN_EMAILS_MAX	64
#define TG_WEBHOOK_SECRETS_MAX	8
#define TG_CONFIG_ERRORS_MAX	64
#define TG_JWT_SECRETS_MAX	8

#define TG_METRICS_TOKEN_MIN	16

#define TG_CORS_ORIGINS_MAX	16

#define TG_SECCOMP_ON		0
#define TG_SECCOMP_TRACE	1
#define TG_SECCOMP_OFF		2

struct tg_oauth_conf {
	const char	*name;		/* google, github, kakao */
	int		 enabled;
	char		*client_id;
	char		*client_secret;
	char		*authorize_url;
	char		*token_url;
	char		*userinfo_url;	/* google, kakao */
	char		*jwks_url;	/* google (and kakao OIDC) */
	char		*api_url;	/* github */
	char		*issuer;	/* expected id token iss */
};

struct tg_config {
	int			 production;

	char			*database_url;
	char			 listen_host[256];
	char			 listen_port[8];
	char			*public_url;
	char			*ui_url;
	char			*ui_origin;	/* scheme://host[:port] of ui_url */
	int			 public_https;	/* public_url is https */

	/* TOLLGATE_JWT_SECRET: sign with the first, verify with all. */
	unsigned char		*jwt_secrets[TG_JWT_SECRETS_MAX];
	size_t			 jwt_secret_lens[TG_JWT_SECRETS_MAX];
	int			 jwt_secrets_count;
	unsigned char		*key_pepper;
	size_t			 key_pepper_len;

	char			*admin_emails[TG_ADMIN_EMAILS_MAX];
	int			 admin_emails_count;

	char			*router_config;
	int			 dev_login;
	int64_t			 signup_credits_micros;

	struct tg_oauth_conf	 google;
	struct tg_oauth_conf	 github;
	struct tg_oauth_conf	 kakao;

	int			 billing_enabled;
	char			*stripe_secret_key;
	char			*stripe_webhook_secrets[TG_WEBHOOK_SECRETS_MAX];
	int			 stripe_webhook_secrets_count;
	char			*stripe_api_url;

	/* Deployment settings of ours (documented in the README). */
	int			 workers;	/* 0: one per CPU */
	int			 accept_threshold;	/* accepts per wakeup */
	size_t			 body_max;
	size_t			 v1_body_max;	/* routes under /v1/ */
	int			 body_timeout;	/* seconds for a whole body */
	int			 drain_seconds;	/* SIGTERM: calls may finish */
	int			 responses_retention_days; /* /v1/responses */
	int			 max_connections;	/* per worker */
	int			 seccomp;
	char			*runas;
	char			*pidfile;
	char			*ca_file;	/* CA bundle for upstreams (replaces the system one) */
	int			 max_keys_per_user;
	unsigned int		 rate_limit_ip;		/* a minute; 0: off */
	unsigned int		 rate_limit_user;	/* a minute; 0: off */
	unsigned int		 key_fail_limit;	/* failed key auths a minute per address; 0: off */
	int			 trust_proxy;	/* honour X-Forwarded-For */

	/* Logs and metrics (docs/operations.md, "Logs and metrics"). */
	int			 log_format;	/* TG_LOGFMT_TEXT, _JSON */
	char			 metrics_host[256];	/* "": no listener */
	char			 metrics_port[8];
	char			*metrics_token;	/* NULL: none asked */
	/* A UI on another origin (app/core/cors.c). */
	char			*cors_origins[TG_CORS_ORIGINS_MAX];
	int			 cors_origins_count;
	int			 cookie_samesite_none;
};

/* Problems found while loading, one line each, naming the variable. */
struct tg_config_errors {
	int	count;
	char	line[TG_CONFIG_ERRORS_MAX][256];
};

/*
 * Values given as X_FILE (secretfile.c): the variable X they stand for,
 * the file, and what it held (one trailing newline trimmed).
 */
#define TG_SECRET_FILES_MAX	32
#define TG_SECRET_FILE_MAX	65536

struct tg_secret_file {
	char	 name[128];
	char	*path;
	char	*value;
};

struct tg_secret_files {
	int			count;
	struct tg_secret_file	file[TG_SECRET_FILES_MAX];
};

typedef const char	*(*tg_getenv_fn)(const char *);

extern struct tg_config	tg_conf;
extern unsigned int	tg_config_generation;	/* bumped by each reload */

int	tg_config_load(struct tg_config *, tg_getenv_fn,
	    struct tg_config_errors *);
void	tg_config_error(struct tg_config_errors *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
char	*tg_config_strdup(const char *);
void	tg_config_free(struct tg_config *);
int	tg_config_is_admin_email(const struct tg_config *, const char *);
int	tg_config_list_has(char *const *, int, const char *);
int	tg_config_url_origin(const char *, char *, size_t);
int	tg_config_known(const char *);

int	tg_config_file_form(const char *);
char	*tg_secret_file_read(const char *, const char *,
	    struct tg_config_errors *);
int	tg_secret_files_scan(char *const *, struct tg_secret_files *,
	    struct tg_config_errors *);
int	tg_secret_files_reread(const struct tg_secret_files *,
	    struct tg_secret_files *, struct tg_config_errors *);
const char *tg_secret_files_get(const struct tg_secret_files *,
	    const char *);
void	tg_secret_files_free(struct tg_secret_files *);

#endif
