/*
 * Tollgate's shared core for Kore-side code: the request context every
 * handler runs in, the route and module tables, and the helpers for
 * errors, JSON responses and asynchronous PostgreSQL.
 *
 * Pure code (translation, parsing, cost math, validation) must not
 * include this header: it stays free of Kore types so unit tests link it
 * directly.
 */

#ifndef TG_TOLLGATE_H
#define TG_TOLLGATE_H

#include <sys/types.h>
#include <sys/queue.h>

#include <kore/kore.h>
#include <kore/http.h>
#include <kore/curl.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "config.h"

/* Route authentication, checked by the dispatcher before the handler. */
#define TG_AUTH_NONE		0
#define TG_AUTH_SESSION		1	/* Bearer access token (JWT) */
#define TG_AUTH_API_KEY		2	/* checked by the handler, async */

/* Route flags. */
#define TG_ROUTE_ANTHROPIC	0x0001	/* errors in Anthropic's shape */
#define TG_ROUTE_NO_HEAD	0x0002	/* a GET with effects: no HEAD */
#define TG_ROUTE_RATELIMIT_IP	0x0004	/* TOLLGATE_RATE_LIMIT_IP per address */
#define TG_ROUTE_RATELIMIT_USER	0x0008	/* TOLLGATE_RATE_LIMIT_USER per user */

/* The Kore server of TOLLGATE_METRICS_LISTEN (main.c, dispatch.c). */
#define TG_METRICS_SERVER	"metrics"

#define TG_PARAMS_MAX		4
#define TG_MODULES_MAX		8
#define TG_REQUEST_ID_MAX	128
#define TG_ID_MAX		64

/*
 * One entry per (method set, path pattern). A pattern is a literal path
 * whose segments may be "{}", matching one non-empty segment that is
 * handed to the handler as a parameter (tg_param()).
 */
struct tg_route {
	int		 methods;
	const char	*pattern;
	int		(*handler)(struct http_request *);
	int		 auth;
	int		 flags;
	size_t		 body_max;	/* 0: TOLLGATE_BODY_MAX_BYTES */
};

/*
 * A subsystem: its routes and its hooks. parent_init runs in the parent
 * before any worker forks (load and check configuration, add problems to
 * errs); worker_init runs in every worker after the sandbox is on.
 */
struct tg_module {
	const char		*name;
	void			(*parent_init)(struct tg_config_errors *);
	void			(*worker_init)(void);
	void			(*worker_teardown)(void);
	const struct tg_route	*routes;	/* ends with a NULL pattern */
};

extern const struct tg_module	*tg_modules[TG_MODULES_MAX];

#define TG_ALLOWED_MODELS_MAX	32
#define TG_MODEL_PATTERN_MAX	128

/*
 * The identity of the caller, once authenticated: a session (UI routes)
 * or an API key (router routes), with the key's own limits.
 */
struct tg_principal {
	char		user_id[TG_ID_MAX];
	char		session_id[TG_ID_MAX];
	char		key_id[TG_ID_MAX];	/* api_keys.id (uuid) */
	char		key_prefix[TG_ID_MAX];	/* tg_<public id>, for logs */
	char		admin_token_id[TG_ID_MAX]; /* "Bearer tga_...": its id */
	int		is_admin;
	int		nallowed;		/* 0: every model */
	char		allowed_models[TG_ALLOWED_MODELS_MAX]
			    [TG_MODEL_PATTERN_MAX];
	int64_t		spend_limit_micros;	/* -1: none */
	int64_t		spent_micros;
};

/*
 * What the router tells the access line about a call (tg_access_call):
 * the model that answered, the provider's token counts, the cost when
 * it is known by the time the line is written, the upstream attempts.
 */
struct tg_access_call {
	int		set;
	char		model[256];
	int64_t		prompt_tokens;
	int64_t		completion_tokens;
	int64_t		cost_micros;	/* -1: not known yet */
	int		attempts;
};

/* Everything the core keeps per request (req->hdlr_extra). */
struct tg_ctx {
	const struct tg_route	*route;
	int			 route_index;
	char			 request_id[TG_REQUEST_ID_MAX + 1];
	u_int64_t		 start_us;
	char			*params[TG_PARAMS_MAX];
	int			 nparams;
	struct tg_principal	 who;
	int			 logged;
	size_t			 bytes_out;	/* streamed bodies */
	int			 streaming;	/* counted in streams open */
	struct tg_access_call	 call;		/* for the access line */
	int			 authenticated;
	void			*auth_state;	/* the key module's */
	void			(*auth_state_free)(struct http_request *,
				    void *);
	void			*state;
	void			(*state_free)(struct http_request *, void *);
};

/* Results of tg_key_authenticate. */
#define TG_AUTH_WAIT		1	/* asleep on PostgreSQL; call again */
#define TG_AUTH_OK		2	/* principal filled */
#define TG_AUTH_DENIED		3	/* already answered (401/403/503) */

/*
 * Verifies the session access token of a TG_AUTH_SESSION route and fills
 * the principal; set by the identity module. Returns 1 when the request
 * may proceed; on 0 it has already answered with an error.
 */
extern int	(*tg_session_authenticate)(struct http_request *,
		    struct tg_principal *);

/*
 * Authenticates the API key of a TG_AUTH_API_KEY route (the router) before the
 * handler runs and before its body is looked at; set by the keys module.
 * It may keep memory in ctx->auth_state (freed with auth_state_free) and
 * return TG_AUTH_WAIT with the request asleep on a query; the dispatcher
 * calls it again on wakeup. Without a keys module every key is refused.
 */
extern int	(*tg_key_authenticate)(struct http_request *, struct tg_ctx *);

/* conns.c: idle connections make room at the connection limit */
void		 tg_conns_init(void);

/*
 * Authenticates "Authorization: Bearer tga_..." on the routes under /api/admin/
 * (set by the admin module): like tg_key_authenticate, asynchronous, and
 * it fills the principal as the token's creator plus admin_token_id.
 */
extern int	(*tg_admin_token_authenticate)(struct http_request *,
		    struct tg_ctx *);

/* Results of tg_session_guard. */
#define TG_SESSION_LIVE		0
#define TG_SESSION_ENDED	1	/* signed out somewhere */
#define TG_SESSION_SUSPENDED	2	/* its user is suspended */

/*
 * What this worker knows from the tg_sessions change feed about a
 * verified access token's user and session (set by the admin module).
 */
extern int	(*tg_session_guard)(const char *, const char *);

/* admin/cli.c: `tollgate admin-token ...`; returns the exit status. */
int		 tg_admin_cli(int, char **);

/* dispatch.c */
int		 tg_dispatch(struct http_request *);
void		 tg_dispatch_init(void);
struct tg_ctx	*tg_ctx(struct http_request *);
void		*tg_state_alloc(struct http_request *, size_t,
		    void (*)(struct http_request *, void *));
void		*tg_state(struct http_request *);
const char	*tg_param(struct http_request *, int);
const char	*tg_request_id(struct http_request *);
u_int64_t	 tg_now_us(void);
void		 tg_stream_opened(struct http_request *);
void		 tg_access_call(struct http_request *, const char *, int64_t,
		    int64_t, int64_t, int);

/* log.c: lines in TOLLGATE_LOG_FORMAT (text or json) */
void		 tg_log_init(void);
int		 tg_log_is_json(void);
void		 tg_log_request(const char *);
void		 tg_log_fields(int, const char *, const char *, json_t *);
void		 tg_log_stderr(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* error.c */
void		 tg_error(struct http_request *, int, const char *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
void		 tg_error_retry(struct http_request *, int, const char *,
		    int, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
void		 tg_error_internal(struct http_request *, const char *);

/* early.c: 400 (and close) for ambiguous framing; 1 when fine. */
int		 tg_framing_check(struct http_request *);
size_t		 tg_body_limit(const char *);

/* cors_http.c: CORS headers and preflights (TOLLGATE_CORS_ORIGINS). */
void		 tg_cors_headers(struct http_request *);
void		 tg_cors_headers_raw(const char *, struct kore_buf *);
int		 tg_cors_is_preflight(struct http_request *);
void		 tg_cors_preflight(struct http_request *, const char *);

/* openapi.c: GET /openapi.json (docs/openapi.yaml, embedded by make). */
int		 tg_openapi(struct http_request *);
const char	*tg_error_type(int);
json_t		*tg_error_body(struct http_request *, int, const char *,
		    const char *, const char *);

/* ratelimit_http.c: 1 when the request may proceed, 0 when answered 429 */
int		 tg_ratelimit_ip(struct http_request *);
int		 tg_ratelimit_user(struct http_request *, const char *);

/* http.c */
void		 tg_http_json(struct http_request *, int, json_t *);
void		 tg_http_json_steal(struct http_request *, int, json_t *);
void		 tg_http_no_content(struct http_request *);
json_t		*tg_http_body_json(struct http_request *);
int		 tg_http_body(struct http_request *, const u_int8_t **,
		    size_t *);
int		 tg_http_query(struct http_request *, const char *, char *,
		    size_t);
const char	*tg_http_bearer(struct http_request *);
void		 tg_http_client_ip(struct http_request *, char *, size_t);
const char	*tg_http_header(struct http_request *, const char *);

/*
 * Notices on PostgreSQL channel tg_credits, passed on by the worker's
 * notify link (auth/keys_notify.c) to whoever set this (the credits
 * module): the notice's payload; "" when the link starts listening
 * (notices may have been missed before); NULL when it is lost.
 */
extern void	(*tg_notify_credits)(const char *);

/* The same for channel tg_sessions (the admin module's session guard). */
extern void	(*tg_notify_sessions)(const char *);

#endif
