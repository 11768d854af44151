/*
 * The identity module's Kore side, shared by its handlers: the access
 * token key, cookies, the session revocation set and the SQL every
 * sign-in ends with. Pure helpers live in b64.h, jwt.h, idtoken.h,
 * flow.h, cookie.h and revoked.h.
 */

#ifndef AUTH_AUTH_H
#define AUTH_AUTH_H

#include "tollgate.h"
#include "db.h"
#include "auth/flow.h"
#include "auth/jwt.h"
#include "auth/provider.h"

#define AUTH_AUDIENCE		"tollgate-ui"
#define AUTH_REFRESH_MAX_AGE	(30 * 24 * 3600)	/* sessions.expires_at */
#define AUTH_FLOW_MAX_AGE	600			/* oauth_flows */
#define AUTH_COOKIE_PATH	"/auth"

/* Kore message id for "this session was revoked" (worker broadcast). */
#define AUTH_MSG_REVOKED	(KORE_MSG_APP_BASE + 16)

/* auth.c */
/* Follow TOLLGATE_JWT_SECRET and TOLLGATE_ADMIN_EMAILS across reloads. */
const struct auth_jwt_key	*auth_jwt_key_current(void);
const char			*auth_admin_array(void);
extern int				 auth_metric_signins[4];
extern int				 auth_metric_signin_refused;
extern int				 auth_metric_refresh_reuse;

/* auth_metric_signins[]: the providers of provider.h, then dev. */
#define AUTH_METRIC_DEV		3

int64_t		 auth_now(void);
int		 auth_cookie_secure(void);
const char	*auth_refresh_cookie(void);
const char	*auth_flow_cookie(void);
int		 auth_request_cookie(struct http_request *, const char *,
		    char *, size_t);
void		 auth_set_cookie(struct http_request *, const char *,
		    const char *, long);
int		 auth_hash(const char *, const char *,
		    char [AUTH_HASH_HEX_LEN + 1]);
void		 auth_revoke_broadcast(const char *);
int		 auth_csrf_check(struct http_request *);
void		 auth_unauthorized(struct http_request *, const char *,
		    const char *);
int		 auth_bearer_claims(struct http_request *,
		    struct auth_jwt_claims *);
void		 auth_suspended(struct http_request *);
void		 auth_login_refused(struct http_request *, struct tg_db *);
int		 auth_login_start(struct http_request *, struct tg_db *,
		    const char *, const struct auth_identity *, const char *,
		    char [AUTH_TOKEN_LEN + 1]);

/* oauth.c */
int		 auth_providers(struct http_request *);
int		 auth_oauth_start(struct http_request *);
int		 auth_oauth_callback(struct http_request *);
void		 auth_oauth_teardown(void);

/* session.c */
int		 auth_dev_login(struct http_request *);
int		 auth_refresh(struct http_request *);
int		 auth_logout(struct http_request *);

#endif
