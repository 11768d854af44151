/*
 * An authenticator's database lookup (lookup.h): started once per
 * request, polled on every wakeup until it has an answer.
 */

#include "auth/lookup.h"

static void	auth_lookup_free(struct http_request *, void *);

void *
auth_lookup_start(struct http_request *req, struct tg_ctx *ctx, size_t len,
    const char *sql, int n, const char *const *params)
{
	struct tg_db	*db;

	db = kore_calloc(1, len);
	ctx->auth_state = db;
	ctx->auth_state_free = auth_lookup_free;
	/* A lookup reads: safe to send again after a lost connection. */
	tg_db_start(db, req, TG_DB_RETRY, sql, n, params);
	return (db);
}

int
auth_lookup_wait(struct http_request *req, struct tg_ctx *ctx)
{
	struct tg_db	*db = ctx->auth_state;

	switch (tg_db_poll(db)) {
	case TG_DB_WAIT:
		return (TG_AUTH_WAIT);
	case TG_DB_FAILED:
		tg_db_error(req, db);
		return (TG_AUTH_DENIED);
	}
	return (TG_AUTH_OK);
}

static void
auth_lookup_free(struct http_request *req, void *arg)
{
	(void)req;
	tg_db_clear(arg);
}
