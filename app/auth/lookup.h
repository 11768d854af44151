/*
 * The step the asynchronous authenticators share (API keys,
 * auth/keys_auth.c; admin tokens, admin/guard.c): one database lookup
 * per request, whose state hangs on the request's context
 * (ctx->auth_state) from the first call to the wakeup that has its
 * answer.
 */

#ifndef AUTH_LOOKUP_H
#define AUTH_LOOKUP_H

#include "tollgate.h"
#include "db.h"

/*
 * A lookup state of len bytes (zeroed) whose first member is the struct
 * tg_db the lookup runs on, installed as ctx->auth_state (freed with the
 * request) with the statement sql started on it. The caller returns
 * TG_AUTH_WAIT and may fill the rest of the state meanwhile.
 */
void	*auth_lookup_start(struct http_request *, struct tg_ctx *, size_t,
	    const char *, int, const char *const *);

/*
 * On a wakeup: TG_AUTH_WAIT (not yet), TG_AUTH_DENIED (the database
 * failed: answered), or TG_AUTH_OK (the answer is in the state's
 * struct tg_db).
 */
int	auth_lookup_wait(struct http_request *, struct tg_ctx *);

#endif
