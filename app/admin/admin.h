/*
 * The admin module (docs/admin.md): admin service tokens, the audit
 * trail, users (search, detail, suspension), and the session guard that
 * makes sign-outs and suspensions count in every process.
 */

#ifndef ADMIN_ADMIN_H
#define ADMIN_ADMIN_H

#include "tollgate.h"

#define ADMIN_LIST_LIMIT_MAX	100
#define ADMIN_LIST_LIMIT	20
#define ADMIN_QUERY_MAX		200

/* guard.c */
void	admin_guard_init(void);
void	admin_guard_teardown(void);
int	admin_token_authenticate(struct http_request *, struct tg_ctx *);

#endif
