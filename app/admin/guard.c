/*
 * Who may act, checked before any handler runs:
 *
 *   - "Authorization: Bearer tga_..." under /api/admin/ (the dispatcher's
 *     tg_admin_token_authenticate): one query per request, no cache, so a
 *     revoked token, or one whose creator is no longer an admin, stops at
 *     once in every process. The request then acts as the token's creator
 *     (ctx->who.user_id) and names the token (who.admin_token_id), so the
 *     admin checks in SQL stay the same for both ways in.
 *
 *   - The session guard (tg_session_guard), consulted by the identity
 *     module for every verified access token: this worker's picture of
 *     channel tg_sessions (sql/0380_admin.sql), fed by the keys module's
 *     notify link (auth/keys_notify.c). A notice "s:<sid>" ends that
 *     session's access tokens, "u:<user>:suspended" refuses the user's
 *     until "u:<user>:active". A notice arrives within milliseconds of
 *     the commit, in every worker of every process.
 *
 * States of the picture: UNKNOWN (no snapshot yet, or the link was lost:
 * what we know may be stale) -> LOADING (the link listens again; the
 * snapshot query is out, user notices are queued) -> CURRENT. Notices
 * missed while not listening are covered by the snapshot taken after
 * LISTEN; user notices that arrive while it loads are replayed on top of
 * it, in their order, so the last word about a user wins. While UNKNOWN
 * the guard keeps answering from what it knew (a worker that has never
 * listened knows nothing: it lets tokens through, which is what a
 * stateless access token does anyway; see docs/admin.md).
 */

#include <string.h>

#include "tollgate.h"
#include "db.h"
#include "auth/auth.h"
#include "auth/lookup.h"
#include "auth/revoked.h"
#include "credits/job.h"
#include "admin/admin.h"
#include "admin/idset.h"
#include "admin/input.h"

#define GUARD_UNKNOWN		0
#define GUARD_LOADING		1
#define GUARD_CURRENT		2

#define GUARD_QUEUE_MAX		256
#define GUARD_RETRY_MS		1000
#define GUARD_SESSION_SECONDS	(AUTH_JWT_TTL_MAX + AUTH_JWT_LEEWAY)

struct guard_notice {
	char	user[ADMIN_ID_LEN + 1];
	int	suspended;
};

struct admin_token_state {
	struct tg_db	db;		/* first: auth/lookup.h */
};

static void	guard_notice(const char *);
static void	guard_user_notice(const char *, struct guard_notice *);
static void	guard_load(void);
static void	guard_loaded(struct credits_job *, void *);
static void	guard_retry(void *, u_int64_t);
static int	guard_check(const char *, const char *);
static int	token_done(struct http_request *, struct tg_ctx *,
		    struct admin_token_state *);
static int	token_refuse(struct http_request *);

static const char	sql_snapshot[] =
	"SELECT kind, id FROM admin_session_snapshot($1::integer)";

static const char	sql_token_auth[] =
	"SELECT token_id, user_id FROM admin_token_auth(decode($1, 'hex'))";

static int			 guard_state;
static u_int32_t		 guard_generation;
static struct admin_idset	 suspended;
static struct auth_revoked	*ended;
static struct guard_notice	 queue[GUARD_QUEUE_MAX];
static int			 nqueue;
static int			 queue_overflow;
static struct kore_timer	*retry_timer;

void
admin_guard_init(void)
{
	if ((ended = auth_revoked_new()) == NULL)
		fatal("admin: out of memory");
	memset(&suspended, 0, sizeof(suspended));
	guard_state = GUARD_UNKNOWN;
	tg_notify_sessions = guard_notice;
	tg_session_guard = guard_check;
	tg_admin_token_authenticate = admin_token_authenticate;
}

void
admin_guard_teardown(void)
{
	tg_notify_sessions = NULL;
	tg_session_guard = NULL;
	guard_generation++;
	if (retry_timer != NULL) {
		kore_timer_remove(retry_timer);
		retry_timer = NULL;
	}
	admin_idset_clear(&suspended);
	auth_revoked_free(ended);
	ended = NULL;
}

static int
guard_check(const char *user_id, const char *sid)
{
	if (ended != NULL && auth_revoked_has(ended, sid, auth_now()))
		return (TG_SESSION_ENDED);
	if (admin_idset_has(&suspended, user_id))
		return (TG_SESSION_SUSPENDED);
	return (TG_SESSION_LIVE);
}

/* tg_notify_sessions: see the top of this file. */
static void
guard_notice(const char *payload)
{
	if (payload == NULL) {
		guard_state = GUARD_UNKNOWN;
		guard_generation++;
		return;
	}
	if (*payload == '\0') {
		guard_load();
		return;
	}
	if (!strncmp(payload, "s:", 2)) {
		if (ended != NULL)
			(void)auth_revoked_add(ended, payload + 2,
			    auth_now() + GUARD_SESSION_SECONDS, auth_now());
		return;
	}
	if (!strncmp(payload, "u:", 2)) {
		if (guard_state == GUARD_LOADING) {
			if (nqueue < GUARD_QUEUE_MAX)
				guard_user_notice(payload, &queue[nqueue++]);
			else
				queue_overflow = 1;
		}
		guard_user_notice(payload, NULL);
	}
}

/*
 * "u:<id>:<status>": applied to the set, or (q) only parsed into q.
 */
static void
guard_user_notice(const char *payload, struct guard_notice *q)
{
	char	id[ADMIN_ID_LEN + 1];
	int	susp;
	if (strlen(payload) < 2 + ADMIN_ID_LEN + 1 ||
	    payload[2 + ADMIN_ID_LEN] != ':')
		return;
	memcpy(id, payload + 2, ADMIN_ID_LEN);
	id[ADMIN_ID_LEN] = '\0';
	susp = !strcmp(payload + 2 + ADMIN_ID_LEN + 1, "suspended");

	if (q != NULL) {
		memcpy(q->user, id, sizeof(q->user));
		q->suspended = susp;
		return;
	}
	if (susp)
		(void)admin_idset_add(&suspended, id);
	else
		admin_idset_remove(&suspended, id);
}

static void
guard_load(void)
{
	const char	*params[1];
	char		 secs[16];

	guard_state = GUARD_LOADING;
	guard_generation++;
	nqueue = 0;
	queue_overflow = 0;

	(void)snprintf(secs, sizeof(secs), "%d", GUARD_SESSION_SECONDS);
	params[0] = secs;
	(void)credits_job_start(sql_snapshot, 1, params, 2, guard_loaded,
	    (void *)(uintptr_t)guard_generation);
}

static void
guard_loaded(struct credits_job *job, void *arg)
{
	struct admin_idset	 fresh;
	const char		*kind, *id;
	int			 i, n;

	if ((u_int32_t)(uintptr_t)arg != guard_generation ||
	    guard_state != GUARD_LOADING)
		return;
	if (job->failed || queue_overflow) {
		kore_log(LOG_NOTICE, "admin: session snapshot %s; retrying",
		    job->failed ? "failed" : "overtaken by notices");
		guard_state = GUARD_UNKNOWN;
		if (retry_timer == NULL)
			retry_timer = kore_timer_add(guard_retry,
			    GUARD_RETRY_MS, NULL, KORE_TIMER_ONESHOT);
		return;
	}

	memset(&fresh, 0, sizeof(fresh));
	n = credits_job_ntuples(job);
	for (i = 0; i < n; i++) {
		kind = credits_job_value(job, i, 0);
		id = credits_job_value(job, i, 1);
		/*
		 * A row that is not readable, or a suspended user the set
		 * cannot take, would let that user in: the whole snapshot
		 * fails and is taken again.
		 */
		if (kind == NULL || id == NULL || (!strcmp(kind, "u") &&
		    !admin_idset_add(&fresh, id))) {
			kore_log(LOG_ERR, "admin: session snapshot row %d "
			    "unreadable; retrying", i);
			admin_idset_clear(&fresh);
			guard_state = GUARD_UNKNOWN;
			if (retry_timer == NULL)
				retry_timer = kore_timer_add(guard_retry,
				    GUARD_RETRY_MS, NULL, KORE_TIMER_ONESHOT);
			return;
		}
		if (!strcmp(kind, "u"))
			continue;
		if (ended != NULL)
			(void)auth_revoked_add(ended, id,
			    auth_now() + GUARD_SESSION_SECONDS, auth_now());
	}
	admin_idset_clear(&suspended);
	suspended = fresh;
	for (i = 0; i < nqueue; i++) {
		if (queue[i].suspended)
			(void)admin_idset_add(&suspended, queue[i].user);
		else
			admin_idset_remove(&suspended, queue[i].user);
	}
	nqueue = 0;
	guard_state = GUARD_CURRENT;
}

static void
guard_retry(void *arg, u_int64_t now)
{
	(void)arg;
	(void)now;

	retry_timer = NULL;
	if (guard_state == GUARD_UNKNOWN && tg_session_guard != NULL)
		guard_load();
}

/*
 * tg_admin_token_authenticate: the dispatcher calls this for a bearer
 * that starts with "tga_" under /api/admin/, again on every wakeup.
 */
int
admin_token_authenticate(struct http_request *req, struct tg_ctx *ctx)
{
	struct admin_token_state	*st;
	const char			*token, *params[1];
	char				 hash[AUTH_HASH_HEX_LEN + 1];
	int				 rc;

	if ((st = ctx->auth_state) != NULL) {
		if ((rc = auth_lookup_wait(req, ctx)) != TG_AUTH_OK)
			return (rc);
		return (token_done(req, ctx, st));
	}

	token = tg_http_bearer(req);
	if (!admin_token_syntax(token))
		return (token_refuse(req));
	if (!auth_keyed_hash(tg_conf.key_pepper, tg_conf.key_pepper_len,
	    ADMIN_HASH_TOKEN, token, strlen(token), hash)) {
		tg_error_internal(req, "keyed hash failed");
		return (TG_AUTH_DENIED);
	}

	params[0] = hash;
	(void)auth_lookup_start(req, ctx, sizeof(*st), sql_token_auth, 1,
	    params);
	return (TG_AUTH_WAIT);
}

static int
token_done(struct http_request *req, struct tg_ctx *ctx,
    struct admin_token_state *st)
{
	const char	*token_id, *user_id;

	if (tg_db_ntuples(&st->db) != 1 ||
	    (token_id = tg_db_value(&st->db, 0, 0)) == NULL ||
	    (user_id = tg_db_value(&st->db, 0, 1)) == NULL) {
		tg_db_clear(&st->db);
		return (token_refuse(req));
	}

	/* An id that does not fit would name someone else: refuse it. */
	if (kore_strlcpy(ctx->who.user_id, user_id,
	    sizeof(ctx->who.user_id)) >= sizeof(ctx->who.user_id) ||
	    kore_strlcpy(ctx->who.admin_token_id, token_id,
	    sizeof(ctx->who.admin_token_id)) >=
	    sizeof(ctx->who.admin_token_id)) {
		tg_db_clear(&st->db);
		tg_error_internal(req, "admin token row: id too long");
		return (TG_AUTH_DENIED);
	}
	tg_db_clear(&st->db);
	return (TG_AUTH_OK);
}

static int
token_refuse(struct http_request *req)
{
	http_response_header(req, "www-authenticate",
	    "Bearer error=\"invalid_token\"");
	tg_error(req, 401, "invalid_token", NULL, "invalid admin token");
	return (TG_AUTH_DENIED);
}
