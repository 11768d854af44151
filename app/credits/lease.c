/*
 * Balance leases and group-committed settlement, one set per worker
 * (docs/credits.md, "Leases and batched settlement"; sql/0306).
 *
 * The price cache: every model's price in force (model_prices_current),
 * loaded when the worker's notify link (auth/keys_notify.c) is listening
 * and reloaded on its 'prices' notice. It is used only while the link is
 * up, like the key cache: a notice missed while it was down can't leave
 * a stale price in use. A reload that changes anything starts a new
 * generation; leases of an older one retire (their calls finish at the
 * prices they reserved at; new calls take a new lease).
 *
 * A lease is credit parked for one account: a user, or a user's key with
 * a spend limit. Phases:
 *   ASKED  created here; the next flush asks the database for it; calls
 *          that want it sleep until that flush answers
 *   OPEN   the database parks lease.s.parked (at least) for it
 *   GONE   closed, refused, recalled or expired: no new calls; freed once
 *          nothing runs or waits to be flushed on it
 * An OPEN lease may be retiring (s.retiring): no new calls, the next
 * flush gives back what its running calls don't need.
 *
 * The flush: settled calls queue here as JSON rows; at most one flush is
 * in flight, and at most one starts per TOLLGATE_SETTLE_FLUSH_MS (unless
 * a call waits for it); calls settled meanwhile go into the next one, so
 * a lone call is flushed at once and a busy worker writes many per
 * statement. Every
 * lease with charges in the batch, or that must be opened, topped up,
 * shrunk, renewed or given back, is listed with the amount wanted; the
 * answer is each lease's new state. A flush that fails is sent again,
 * the same calls first (the database skips calls it already recorded).
 * The queue is bounded: past QUEUE_MAX calls new calls don't use leases.
 *
 * Invariant (lease_plan.h): parked >= inflight + queued + batch, so what
 * the database parks always covers every call reserved on the lease.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "credits/credits.h"
#include "credits/job.h"
#include "credits/lease.h"
#include "credits/lease_plan.h"
#include "metrics.h"

#define LEASE_ASKED		1
#define LEASE_OPEN		2
#define LEASE_GONE		3

#define TICK_MS			100
#define QUEUE_MAX		100000
#define FLUSH_BACKOFF_MS	500
#define RECALL_PAUSE_MS		5000	/* no new lease after a recall */
#define PRICES_MAX		4096
#define WAIT_MAX_MS		1000	/* a call waits this long for a lease */
#define GROW_PAUSE_MS		1000	/* after a top-up fell short */

struct credits_lease {
	TAILQ_ENTRY(credits_lease)	 list;
	char				 id[CREDITS_UUID_LEN + 1];
	char				 user_id[TG_ID_MAX];
	char				 key_id[TG_ID_MAX];	/* "": none */
	int				 phase;
	struct credits_lease_state	 s;
	int64_t				 spend_now;
	u_int64_t			 window_start;
	u_int64_t			 last_call;
	u_int64_t			 expires;	/* kore_time_ms() */
	u_int64_t			 renewed;
	u_int64_t			 no_new_until;
	u_int64_t			 no_grow_until;	/* a top-up fell short */
	int64_t				 asked;		/* want of the flush */
	u_int32_t			 gen;
	int				 listed;	/* in the flush */
	int64_t				 need;
	TAILQ_HEAD(, credits_lease_use)	 waiters;
};

struct price_entry {
	char			model[CREDITS_MODEL_ID_MAX + 1];
	int64_t			id;
	struct credits_price	p;
};

static void	lease_tick(void *, u_int64_t);
static struct credits_lease *lease_find(const char *, const char *);
static struct credits_lease *lease_new(const char *, const char *);
static int	lease_usable(struct credits_lease *, u_int64_t);
static void	lease_wake(struct credits_lease *);
static void	lease_gc(struct credits_lease *);
static int	lease_attention(struct credits_lease *, u_int64_t);
static void	lease_spend(struct credits_lease *, int64_t, u_int64_t);
static int	lease_excess(struct credits_lease *);
static void	flush_start(void);
static void	lease_final_flush(void);
static int	lease_waiters(void);
static void	lease_json(struct kore_buf *, struct credits_lease *, int64_t,
		    int);
static void	flush_done(struct credits_job *, void *);
static void	flush_answer(struct credits_job *, u_int64_t);
static void	flush_leases(struct kore_buf *, u_int64_t);
static void	prices_load(void);
static void	prices_done(struct credits_job *, void *);
static int	price_cmp(const void *, const void *);
static int	job_bigint(struct credits_job *, int, int, int64_t *);
static void	json_str(struct kore_buf *, const char *);

static TAILQ_HEAD(, credits_lease)	leases = TAILQ_HEAD_INITIALIZER(leases);

static struct kore_buf	*queue;		/* ",{...}" rows */
static int		 nqueued;
static char		*batch;		/* "[...]" of the flush */
static int		 nbatch;
static int		 flushing;
static u_int64_t	 flush_sent;
static u_int64_t	 retry_at;
static int		 flush_failing;

static struct price_entry	*prices;
static int			 nprices;
static int			 prices_ready;
static int			 prices_link;	/* the notify link is up */
static int			 prices_loading;
static int			 prices_again;
static u_int32_t		 prices_gen;

static char		 owner[128];

static const char	sql_flush[] =
	"SELECT lease, status, amount, expires_in_ms, recall "
	"FROM credits_flush($1::json, $2::json, $3::int)";

static const char	sql_prices[] =
	"SELECT id, model, input_micros_per_mtok, "
	"cached_input_micros_per_mtok, output_micros_per_mtok, "
	"request_fee_micros, cache_write_input_micros_per_mtok "
	"FROM model_prices_current "
	"ORDER BY model";

void
credits_lease_init(void)
{
	u_int64_t	tick;
	char		host[64];

	if (credits_conf.strict)
		return;
	if (gethostname(host, sizeof(host)) == -1)
		(void)kore_strlcpy(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(owner, sizeof(owner), "%s pid %d worker %d", host,
	    (int)getpid(), worker != NULL ? (int)worker->id : 0);

	/* Ticks at half the flush period: a gathering batch waits no more. */
	queue = kore_buf_alloc(65536);
	tick = credits_conf.flush_ms / 2 < TICK_MS ? credits_conf.flush_ms / 2 :
	    TICK_MS;
	(void)kore_timer_add(lease_tick, tick > 0 ? tick : 1, NULL, 0);
	tg_notify_credits = credits_lease_notice;
}

/*
 * The worker is going away (stop, restart): its event loop is over, so
 * one last flush is made the plain way, with a deadline: every settled
 * call is written and every lease given back. If the database can't be
 * reached, the calls are lost as in a crash and the leases come back
 * through the sweeper after TOLLGATE_LEASE_TTL_SECONDS.
 */
void
credits_lease_teardown(void)
{
	struct credits_lease	*l;

	if (!credits_conf.strict)
		lease_final_flush();

	while ((l = TAILQ_FIRST(&leases)) != NULL) {
		TAILQ_REMOVE(&leases, l, list);
		kore_free(l);
	}
	if (queue != NULL)
		kore_buf_free(queue);
	queue = NULL;
	kore_free(batch);
	batch = NULL;
	kore_free(prices);
	prices = NULL;
	nprices = 0;
}

/*
 * A notice on channel tg_credits ("prices", "recall <user>"); "" when
 * the notify link starts listening, NULL when it is lost (tollgate.h).
 */
void
credits_lease_notice(const char *extra)
{
	struct credits_lease	*l;
	const char		*user;

	if (credits_conf.strict)
		return;

	if (extra == NULL) {
		prices_link = 0;
		prices_ready = 0;
		return;
	}
	if (*extra == '\0')
		prices_link = 1;
	if (*extra == '\0' || !strcmp(extra, "prices")) {
		prices_load();
		return;
	}
	if (strncmp(extra, "recall ", 7))
		return;

	user = extra + 7;
	TAILQ_FOREACH(l, &leases, list) {
		if (strcmp(l->user_id, user) || l->phase == LEASE_GONE)
			continue;
		l->s.retiring = 1;
		l->no_new_until = kore_time_ms() + RECALL_PAUSE_MS;
	}
	flush_start();
}

/* The price in force for model, from the cache; 0: not known here. */
int
credits_prices_get(const char *model, struct credits_price *p, int64_t *id)
{
	struct price_entry	 key, *e;

	if (!prices_ready || nprices == 0)
		return (0);
	if (kore_strlcpy(key.model, model, sizeof(key.model)) >=
	    sizeof(key.model))
		return (0);
	e = bsearch(&key, prices, nprices, sizeof(*prices), price_cmp);
	if (e == NULL)
		return (0);
	*p = e->p;
	*id = e->id;
	return (1);
}

/*
 * Reserve amount for a call of user (key: "" or a key with a spend
 * limit) on this worker's lease. WAIT: req sleeps until the lease's
 * first flush answers; call again. NONE: take the per-call path.
 */
int
credits_lease_take(struct http_request *req, struct credits_lease_use *u,
    const char *user, const char *key, int64_t amount)
{
	struct credits_lease	*l;
	u_int64_t		 now;

	if (credits_conf.strict || !prices_ready || nqueued >= QUEUE_MAX)
		return (CREDITS_LEASE_NONE);

	now = kore_time_ms();
	if ((l = lease_find(user, key)) == NULL) {
		if (u->waited)
			return (CREDITS_LEASE_NONE);
		l = lease_new(user, key);
	}
	if (l->no_new_until > now)
		return (CREDITS_LEASE_NONE);
	l->last_call = now;
	if (amount > l->s.biggest)
		l->s.biggest = amount;

	if (lease_usable(l, now) && credits_lease_fits(&l->s, amount)) {
		l->s.inflight += amount;
		u->lease = l;
		u->amount = amount;
		if (now >= l->no_grow_until && credits_lease_grow_wanted(&l->s))
			flush_start();
		return (CREDITS_LEASE_TAKEN);
	}

	/*
	 * It does not fit: wait for a flush that tops the lease up (or
	 * opens it); if that falls short, for one that gives back what is
	 * free, so that the per-call path sees all of the account's credit.
	 */
	if (l->phase == LEASE_GONE || u->waited >= 2)
		return (CREDITS_LEASE_NONE);
	if (u->waited == 0 && !l->s.retiring && l->no_grow_until <= now) {
		if (amount > l->need)
			l->need = amount;
	} else {
		if (l->phase != LEASE_OPEN || credits_lease_free(&l->s) == 0)
			return (CREDITS_LEASE_NONE);
		l->s.giveback = 1;
		u->waited = 1;
	}
	u->waited++;
	u->waiting = l;
	u->req = req;
	TAILQ_INSERT_TAIL(&l->waiters, u, list);
	http_request_sleep(req);
	flush_start();
	return (CREDITS_LEASE_WAIT);
}

/* The call ended while it waited for a lease. */
void
credits_lease_cancel(struct credits_lease_use *u)
{
	if (u->waiting == NULL)
		return;
	TAILQ_REMOVE(&u->waiting->waiters, u, list);
	u->waiting = NULL;
	u->req = NULL;
}

/* A call on a lease ended: queue its row and free its reservation. */
void
credits_lease_charge(struct credits_lease_use *u,
    const struct credits_settlement *c)
{
	struct credits_lease	*l = u->lease;
	struct timespec		 ts;
	u_int64_t		 now;
	int64_t			 started;

	if (l == NULL)
		return;
	now = kore_time_ms();
	l->s.inflight -= u->amount;
	l->s.queued += c->charged;
	lease_spend(l, c->charged, now);
	u->lease = NULL;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	started = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
	    (int64_t)c->latency_ms;

	kore_buf_appendf(queue, "%s{\"id\":\"%s\",\"lease\":\"%s\","
	    "\"user_id\":\"%s\",\"key\":", nqueued > 0 ? "," : "", c->id,
	    l->id, c->user_id);
	if (c->key_id != NULL)
		kore_buf_appendf(queue, "\"%s\"", c->key_id);
	else
		kore_buf_append(queue, "null", 4);
	kore_buf_append(queue, ",\"request_id\":", 14);
	json_str(queue, c->request_id);
	kore_buf_appendf(queue, ",\"endpoint\":\"%s\",\"model\":", c->endpoint);
	json_str(queue, c->model);
	kore_buf_appendf(queue, ",\"price_id\":%lld,\"input_price\":%lld,"
	    "\"cached_input_price\":%lld,\"cache_write_input_price\":%lld,"
	    "\"output_price\":%lld,"
	    "\"request_fee\":%lld,\"prompt_tokens\":%lld,"
	    "\"cached_tokens\":%lld,\"cache_write_tokens\":%lld,"
	    "\"completion_tokens\":%lld,\"reasoning_tokens\":%lld,"
	    "\"cost\":%lld,\"loss\":%lld,\"status\":\"%s\",\"http_status\":%d,"
	    "\"settlement\":\"%s\",\"latency_ms\":%llu,\"started_ms\":%lld,"
	    "\"reason\":", (long long)c->price_id, (long long)c->price.input,
	    (long long)c->price.cached_input,
	    (long long)c->price.cache_write_input, (long long)c->price.output,
	    (long long)c->price.fee, (long long)c->tokens.prompt,
	    (long long)c->tokens.cached, (long long)c->tokens.cache_write,
	    (long long)c->tokens.completion,
	    (long long)c->reasoning, (long long)c->charged,
	    (long long)c->loss, c->status, c->http_status, c->settlement,
	    (unsigned long long)c->latency_ms, (long long)started);
	if (c->reason != NULL)
		json_str(queue, c->reason);
	else
		kore_buf_append(queue, "null", 4);
	kore_buf_append(queue, "}", 1);
	nqueued++;

	flush_start();
	lease_gc(l);
}

/* A version 7 uuid: Unix milliseconds, then random bits. */
void
credits_uuid7(char *out)
{
	struct timespec	ts;
	unsigned char	b[16];
	char		hex[33];
	u_int64_t	ms;
	int		i;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ms = (u_int64_t)ts.tv_sec * 1000 + (u_int64_t)ts.tv_nsec / 1000000;
	randombytes_buf(b, sizeof(b));
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (b[6] & 0x0f) | 0x70;
	b[8] = (b[8] & 0x3f) | 0x80;
	sodium_bin2hex(hex, sizeof(hex), b, sizeof(b));
	(void)snprintf(out, CREDITS_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s",
	    hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* Renewals, idle give-backs, retries: whatever needs a flush. */
static void
lease_tick(void *arg, u_int64_t now)
{
	struct credits_lease	*l, *next;
	int			 need;

	(void)arg;
	(void)now;
	now = kore_time_ms();

	need = nqueued > 0 || batch != NULL;
	for (l = TAILQ_FIRST(&leases); l != NULL; l = next) {
		next = TAILQ_NEXT(l, list);
		/* A slow flush: calls waiting on it take the per-call path. */
		if (flushing && now - flush_sent > WAIT_MAX_MS)
			lease_wake(l);
		if (lease_attention(l, now))
			need = 1;
		lease_gc(l);
	}
	if (need)
		flush_start();
}

static struct credits_lease *
lease_find(const char *user, const char *key)
{
	struct credits_lease	*l;

	TAILQ_FOREACH(l, &leases, list) {
		if (l->gen != prices_gen || strcmp(l->user_id, user) ||
		    strcmp(l->key_id, key))
			continue;
		/* Gone or retiring: found only while it pauses new leases. */
		if ((l->phase == LEASE_GONE || l->s.retiring) &&
		    l->no_new_until <= kore_time_ms())
			continue;
		return (l);
	}

	return (NULL);
}

static struct credits_lease *
lease_new(const char *user, const char *key)
{
	struct credits_lease	*l;

	l = kore_calloc(1, sizeof(*l));
	credits_uuid7(l->id);
	/* The call's ids: the same TG_ID_MAX buffers (router/meter.h). */
	(void)kore_strlcpy(l->user_id, user, sizeof(l->user_id));
	(void)kore_strlcpy(l->key_id, key, sizeof(l->key_id));
	l->phase = LEASE_ASKED;
	l->gen = prices_gen;
	l->window_start = kore_time_ms();
	TAILQ_INIT(&l->waiters);
	TAILQ_INSERT_TAIL(&leases, l, list);
	return (l);
}

/* Open, not retiring, of the prices in force, and far from its expiry. */
static int
lease_usable(struct credits_lease *l, u_int64_t now)
{
	u_int64_t	margin;

	margin = (u_int64_t)credits_conf.lease_ttl * 1000 / 3;
	return (l->phase == LEASE_OPEN && !l->s.retiring &&
	    l->gen == prices_gen && now + margin < l->expires);
}

static void
lease_wake(struct credits_lease *l)
{
	struct credits_lease_use	*u;

	while ((u = TAILQ_FIRST(&l->waiters)) != NULL) {
		TAILQ_REMOVE(&l->waiters, u, list);
		u->waiting = NULL;
		if (u->req != NULL)
			http_request_wakeup(u->req);
		u->req = NULL;
	}
	l->need = 0;
}

/* One lease row of a flush (credits_flush_lease), asking for want. */
static void
lease_json(struct kore_buf *buf, struct credits_lease *l, int64_t want,
    int first)
{
	kore_buf_appendf(buf, "%s{\"id\":\"%s\",\"user_id\":\"%s\",\"key\":",
	    first ? "" : ",", l->id, l->user_id);
	if (l->key_id[0] != '\0')
		kore_buf_appendf(buf, "\"%s\"", l->key_id);
	else
		kore_buf_append(buf, "null", 4);
	kore_buf_appendf(buf, ",\"want\":%lld,\"owner\":", (long long)want);
	json_str(buf, owner);
	kore_buf_append(buf, "}", 1);
}

/* Whether a call waits for the next flush (it goes without delay). */
static int
lease_waiters(void)
{
	struct credits_lease	*l;

	TAILQ_FOREACH(l, &leases, list) {
		if (!TAILQ_EMPTY(&l->waiters))
			return (1);
	}
	return (0);
}

/* Free a lease that is over and that nothing refers to any more. */
static void
lease_gc(struct credits_lease *l)
{
	if (l->phase != LEASE_GONE || l->listed || l->s.inflight != 0 ||
	    l->s.queued != 0 || l->s.batch != 0 ||
	    !TAILQ_EMPTY(&l->waiters) || l->no_new_until > kore_time_ms())
		return;
	TAILQ_REMOVE(&leases, l, list);
	kore_free(l);
}

/* Whether the lease needs the next flush (besides carrying charges). */
static int
lease_attention(struct credits_lease *l, u_int64_t now)
{
	u_int64_t	renew;

	if (l->phase == LEASE_GONE)
		return (0);
	if (l->gen != prices_gen)
		l->s.retiring = 1;
	if (l->phase == LEASE_ASKED || l->s.queued > 0 || l->s.giveback ||
	    !TAILQ_EMPTY(&l->waiters))
		return (1);
	renew = (u_int64_t)credits_conf.lease_ttl * 1000 / 3;
	if (now - l->renewed >= renew)
		return (1);

	/* Retiring or idle: once, to give back what nothing needs. */
	l->s.idle_ms = (int64_t)(now - l->last_call);
	if (l->s.retiring || l->s.idle_ms >= CREDITS_LEASE_IDLE_MS)
		return (lease_excess(l));
	return (now >= l->no_grow_until && credits_lease_grow_wanted(&l->s));
}

/* The lease parks more than its running and queued calls need. */
static int
lease_excess(struct credits_lease *l)
{
	return (l->s.parked - l->s.batch > l->s.inflight + l->s.queued ||
	    (l->s.inflight == 0 && l->s.queued == 0 && l->s.batch == 0));
}

/* Spend in a sliding window of CREDITS_LEASE_HORIZON_MS (sizing). */
static void
lease_spend(struct credits_lease *l, int64_t charged, u_int64_t now)
{
	if (now - l->window_start >= CREDITS_LEASE_HORIZON_MS) {
		l->s.spend = l->spend_now;
		l->s.window_ms = (int64_t)(now - l->window_start);
		l->spend_now = 0;
		l->window_start = now;
	}
	if (charged > 0 && l->spend_now < INT64_MAX - charged)
		l->spend_now += charged;
}

/*
 * Send the next batch, unless one is on its way: the queued calls (or,
 * after a failure, the same calls again) and the leases that need it.
 */
static void
flush_start(void)
{
	struct credits_lease	*l;
	struct kore_buf		 lbuf;
	const char		*params[3];
	char			 ttl[16];
	u_int64_t		 now;

	if (flushing || credits_conf.strict)
		return;
	now = kore_time_ms();
	if (flush_failing && now < retry_at)
		return;
	/*
	 * One flush per TOLLGATE_SETTLE_FLUSH_MS at most: a lone call goes
	 * at once, a busy worker's calls gather for the next (the tick).
	 */
	if (now - flush_sent < credits_conf.flush_ms && !lease_waiters())
		return;

	if (batch == NULL && nqueued > 0) {
		batch = kore_malloc(queue->offset + 3);
		batch[0] = '[';
		memcpy(batch + 1, queue->data, queue->offset);
		batch[queue->offset + 1] = ']';
		batch[queue->offset + 2] = '\0';
		nbatch = nqueued;
		kore_buf_reset(queue);
		nqueued = 0;
		TAILQ_FOREACH(l, &leases, list) {
			l->s.batch += l->s.queued;
			l->s.queued = 0;
		}
	}

	kore_buf_init(&lbuf, 512);
	flush_leases(&lbuf, now);
	if (batch == NULL && lbuf.offset <= 2) {
		kore_buf_cleanup(&lbuf);
		return;
	}

	(void)snprintf(ttl, sizeof(ttl), "%d", credits_conf.lease_ttl);
	params[0] = batch != NULL ? batch : "[]";
	params[1] = kore_buf_stringify(&lbuf, NULL);
	params[2] = ttl;

	flushing = 1;
	flush_sent = now;
	(void)credits_job_start(sql_flush, 3, params, 2, flush_done, NULL);
	kore_buf_cleanup(&lbuf);
}

/*
 * The last flush: the batch on its way (a retry is harmless, calls are
 * recorded once), the queue, and every lease given back (want 0).
 */
static void
lease_final_flush(void)
{
	static const char *const	 keys[] = { "dbname", "connect_timeout",
					    "options", "application_name",
					    NULL };
	struct credits_lease		*l;
	struct kore_buf			 calls, lbuf;
	const char			*values[5], *params[3];
	char				 ttl[16];
	PGconn				*pg;
	PGresult			*res;
	int				 n;

	n = 0;
	kore_buf_init(&lbuf, 512);
	kore_buf_append(&lbuf, "[", 1);
	TAILQ_FOREACH(l, &leases, list) {
		if (l->phase != LEASE_GONE)
			lease_json(&lbuf, l, 0, n++ == 0);
	}
	kore_buf_append(&lbuf, "]", 1);
	if (n == 0 && nqueued == 0 && batch == NULL) {
		kore_buf_cleanup(&lbuf);
		return;
	}

	kore_buf_init(&calls, 1024);
	if (batch != NULL)
		kore_buf_append(&calls, batch, strlen(batch) - 1);
	else
		kore_buf_append(&calls, "[", 1);
	if (nqueued > 0) {
		if (batch != NULL)
			kore_buf_append(&calls, ",", 1);
		kore_buf_append(&calls, queue->data, queue->offset);
	}
	kore_buf_append(&calls, "]", 1);

	values[0] = tg_conf.database_url;
	values[1] = "2";
	values[2] = "-c statement_timeout=5000";
	values[3] = "tollgate";
	values[4] = NULL;
	(void)snprintf(ttl, sizeof(ttl), "%d", credits_conf.lease_ttl);
	params[0] = kore_buf_stringify(&calls, NULL);
	params[1] = kore_buf_stringify(&lbuf, NULL);
	params[2] = ttl;

	pg = PQconnectdbParams(keys, values, 1);
	if (PQstatus(pg) != CONNECTION_OK) {
		kore_log(LOG_WARNING, "credits: exiting with %d settled call%s "
		    "not flushed and %d lease%s left to the sweeper: %s",
		    nqueued + nbatch, nqueued + nbatch == 1 ? "" : "s", n,
		    n == 1 ? "" : "s", PQerrorMessage(pg));
	} else {
		res = PQexecParams(pg, sql_flush, 3, NULL, params, NULL, NULL,
		    0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			kore_log(LOG_WARNING, "credits: the last flush failed: "
			    "%s", PQresultErrorMessage(res));
		PQclear(res);
	}
	PQfinish(pg);
	kore_buf_cleanup(&calls);
	kore_buf_cleanup(&lbuf);
}

/* The leases of the next flush, with what each should park after it. */
static void
flush_leases(struct kore_buf *buf, u_int64_t now)
{
	struct credits_lease	*l;
	int64_t			 want;
	int			 n;

	n = 0;
	kore_buf_append(buf, "[", 1);
	TAILQ_FOREACH(l, &leases, list) {
		if (l->phase == LEASE_GONE)
			continue;
		if (l->s.batch == 0 && !lease_attention(l, now))
			continue;

		l->s.idle_ms = (int64_t)(now - l->last_call);
		want = credits_lease_want(&l->s, l->need);
		if (l->phase == LEASE_ASKED && want == 0)
			continue;
		/* A shrink counts from now: parked stays a lower bound. */
		if (want + l->s.batch < l->s.parked)
			l->s.parked = want + l->s.batch;

		l->listed = 1;
		l->asked = want;
		lease_json(buf, l, want, n++ == 0);
	}
	kore_buf_append(buf, "]", 1);
}

static void
flush_done(struct credits_job *job, void *arg)
{
	struct credits_lease	*l, *next;
	u_int64_t		 now;

	(void)arg;
	flushing = 0;
	now = kore_time_ms();

	if (job->failed) {
		if (!flush_failing)
			kore_log(LOG_ERR, "credits: flush of %d call%s failed: "
			    "%s; retrying", nbatch, nbatch == 1 ? "" : "s",
			    job->errmsg != NULL ? job->errmsg : "?");
		tg_metrics_add(credits_metric_flush_failures, 1);
		flush_failing = 1;
		retry_at = now + FLUSH_BACKOFF_MS;
		TAILQ_FOREACH(l, &leases, list) {
			l->listed = 0;
			lease_wake(l);
		}
		return;
	}

	if (flush_failing)
		kore_log(LOG_NOTICE, "credits: flushing again");
	flush_failing = 0;
	flush_answer(job, now);

	tg_metrics_add(credits_metric_flushes, 1);
	tg_metrics_add(credits_metric_flushed_calls, nbatch);
	kore_free(batch);
	batch = NULL;
	nbatch = 0;

	for (l = TAILQ_FIRST(&leases); l != NULL; l = next) {
		next = TAILQ_NEXT(l, list);
		l->listed = 0;
		lease_wake(l);
		lease_gc(l);
	}

	if (nqueued > 0)
		flush_start();
}

/* Each listed lease's new state. */
static void
flush_answer(struct credits_job *job, u_int64_t now)
{
	struct credits_lease	*l;
	const char		*id, *status, *recall;
	int64_t			 amount, ttl_ms;
	int			 i, n;

	n = credits_job_ntuples(job);
	for (i = 0; i < n; i++) {
		if ((id = credits_job_value(job, i, 0)) == NULL ||
		    (status = credits_job_value(job, i, 1)) == NULL)
			continue;
		TAILQ_FOREACH(l, &leases, list) {
			if (l->listed && !strcmp(l->id, id))
				break;
		}
		if (l == NULL)
			continue;

		recall = credits_job_value(job, i, 4);
		l->listed = 0;
		l->s.giveback = 0;
		if (!strcmp(status, "open") &&
		    job_bigint(job, i, 2, &amount) &&
		    job_bigint(job, i, 3, &ttl_ms) && amount >= 0 &&
		    ttl_ms > 0) {
			l->phase = LEASE_OPEN;
			l->s.parked = amount;
			if (amount < l->asked)
				l->no_grow_until = now + GROW_PAUSE_MS;
			l->expires = flush_sent + (u_int64_t)ttl_ms;
			l->renewed = now;
			if (recall != NULL && !strcmp(recall, "t")) {
				l->s.retiring = 1;
				l->no_new_until = now + RECALL_PAUSE_MS;
			}
			continue;
		}
		/* No new lease for this account here for a while. */
		l->phase = LEASE_GONE;
		l->s.parked = 0;
		l->no_new_until = now + GROW_PAUSE_MS;
	}

	/* The batch's charges are applied, to listed leases or not. */
	TAILQ_FOREACH(l, &leases, list) {
		if (l->listed) {
			kore_log(LOG_ERR, "credits: flush did not answer for "
			    "lease %s", l->id);
			l->phase = LEASE_GONE;
			l->s.parked = 0;
		}
		l->s.batch = 0;
	}
}

static void
prices_load(void)
{
	if (prices_loading) {
		prices_again = 1;
		return;
	}
	prices_loading = 1;
	prices_again = 0;
	(void)credits_job_start(sql_prices, 0, NULL, 2, prices_done, NULL);
}

static void
prices_done(struct credits_job *job, void *arg)
{
	struct price_entry	*fresh;
	const char		*model;
	int			 i, n, ok;

	(void)arg;
	prices_loading = 0;

	if (!prices_link) {
		prices_ready = 0;
		return;
	}
	if (job->failed) {
		prices_ready = 0;
		kore_log(LOG_NOTICE, "credits: loading prices failed: %s",
		    job->errmsg != NULL ? job->errmsg : "?");
		return;
	}

	n = credits_job_ntuples(job);
	if (n > PRICES_MAX)
		n = PRICES_MAX;
	fresh = kore_calloc(n > 0 ? n : 1, sizeof(*fresh));
	ok = 1;
	for (i = 0; i < n; i++) {
		model = credits_job_value(job, i, 1);
		if (model == NULL || kore_strlcpy(fresh[i].model, model,
		    sizeof(fresh[i].model)) >= sizeof(fresh[i].model) ||
		    !job_bigint(job, i, 0, &fresh[i].id) ||
		    !job_bigint(job, i, 2, &fresh[i].p.input) ||
		    !job_bigint(job, i, 3, &fresh[i].p.cached_input) ||
		    !job_bigint(job, i, 4, &fresh[i].p.output) ||
		    !job_bigint(job, i, 5, &fresh[i].p.fee) ||
		    !job_bigint(job, i, 6, &fresh[i].p.cache_write_input) ||
		    !credits_price_valid(&fresh[i].p))
			ok = 0;
	}
	if (!ok) {
		kore_log(LOG_ERR, "credits: a price row is not valid; "
		    "leases stay off");
		kore_free(fresh);
		prices_ready = 0;
		return;
	}
	qsort(fresh, n, sizeof(*fresh), price_cmp);

	if (prices == NULL || n != nprices ||
	    memcmp(fresh, prices, n * sizeof(*fresh)))
		prices_gen++;
	kore_free(prices);
	prices = fresh;
	nprices = n;
	prices_ready = 1;

	if (prices_again)
		prices_load();
}

static int
price_cmp(const void *a, const void *b)
{
	const struct price_entry	*x = a, *y = b;

	return (strcmp(x->model, y->model));
}

/* s as a JSON string (quotes, backslashes and controls escaped). */
static void
json_str(struct kore_buf *buf, const char *s)
{
	const unsigned char	*p;

	kore_buf_append(buf, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			kore_buf_appendf(buf, "\\%c", *p);
		else if (*p < 0x20)
			kore_buf_appendf(buf, "\\u%04x", *p);
		else
			kore_buf_append(buf, p, 1);
	}
	kore_buf_append(buf, "\"", 1);
}

/* A whole number in a cell, checked (logged): NULL or garbage fails. */
static int
job_bigint(struct credits_job *job, int row, int col, int64_t *out)
{
	long long	n;

	if (!credits_job_num(job, row, col, INT64_MIN, INT64_MAX, &n))
		return (0);
	*out = n;
	return (1);
}
