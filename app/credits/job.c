/*
 * Request-less PostgreSQL statements (see job.h), over the worker's pool
 * (core/pgpool.c).
 *
 * The pool tells a job its statement is over from inside its own event
 * and timer callbacks, or at once from tg_pgstmt_send() (the database
 * is down). job_wake() therefore only arms the job's timer; the answer
 * is taken, the job retried, delivered and freed from that timer, at
 * the top of the event loop. Between those, a tick every JOB_TICK_MS
 * paces the back-off; the pool bounds how long a statement may wait for
 * a connection and run.
 *
 * Phases:
 *   SENT      the statement is with the pool (queued or on a connection),
 *   BACKOFF   it failed on a lost connection; sent again after
 *             JOB_BACKOFF_MS times the attempts so far, up to
 *             max_attempts,
 *   DONE      res holds the rows,
 *   FAILED    failed, errmsg, sqlstate, conn_lost tell why,
 *   FINISHED  done() was called (or the worker is exiting).
 */

#include <string.h>

#include "credits/job.h"
#include "metrics.h"

#define PHASE_SENT	1
#define PHASE_BACKOFF	2
#define PHASE_DONE	3
#define PHASE_FAILED	4
#define PHASE_FINISHED	5

#define JOB_TICK_MS		250
#define JOB_BACKOFF_MS		500

static void	job_send(struct credits_job *);
static void	job_wake(struct tg_pgstmt *, void *);
static void	job_tick(void *, u_int64_t);
static int	job_step(struct credits_job *);
static void	job_hurry(struct credits_job *);
static void	job_free(struct credits_job *);

/* Every live job of this worker, for the teardown. */
static TAILQ_HEAD(, credits_job)	jobs = TAILQ_HEAD_INITIALIZER(jobs);

/*
 * Start query with n text parameters (NULL: SQL NULL; copied). A lost
 * connection is retried up to retries more times, JOB_BACKOFF_MS apart
 * and more (every statement sent this way must be idempotent).
 */
struct credits_job *
credits_job_start(const char *query, int n, const char *const *params,
    int retries, void (*done)(struct credits_job *, void *), void *arg)
{
	struct credits_job	*job;
	int			 i;

	if (n > TG_DB_PARAMS_MAX)
		fatal("credits_job_start: too many parameters");

	job = kore_calloc(1, sizeof(*job));
	job->query = query;
	job->nparams = n;
	for (i = 0; i < n; i++) {
		if (params[i] != NULL) {
			job->params[i] = kore_strdup(params[i]);
			job->lengths[i] = strlen(params[i]);
		}
	}
	job->max_attempts = 1 + retries;
	job->done = done;
	job->arg = arg;
	TAILQ_INSERT_TAIL(&jobs, job, list);
	job->timer = kore_timer_add(job_tick, JOB_TICK_MS, job,
	    KORE_TIMER_ONESHOT);

	job_send(job);
	return (job);
}

int
credits_job_ntuples(struct credits_job *job)
{
	return (tg_pg_ntuples(job->res));
}

const char *
credits_job_value(struct credits_job *job, int row, int col)
{
	return (tg_pg_value(job->res, row, col));
}

/* A number in a cell, checked (tg_pg_num): 0 and a log line if bad. */
int
credits_job_num(struct credits_job *job, int row, int col, long long min,
    long long max, long long *out)
{
	return (tg_pg_num(job->res, row, col, min, max, out));
}

static void
job_send(struct credits_job *job)
{
	job->attempts++;
	job->started_ms = kore_time_ms();
	job->phase = PHASE_SENT;
	tg_pgstmt_send(&job->stmt, job->query, job->nparams,
	    (const char *const *)job->params, job->lengths, job_wake, job);
}

/* The pool's news, from inside the pool: look at it from the timer. */
static void
job_wake(struct tg_pgstmt *stmt, void *arg)
{
	struct credits_job	*job = arg;

	(void)stmt;
	job_hurry(job);
}

/* Deliver on the next loop pass, not a tick on. */
static void
job_hurry(struct credits_job *job)
{
	if (job->timer != NULL)
		kore_timer_remove(job->timer);
	job->timer = kore_timer_add(job_tick, 0, job, KORE_TIMER_ONESHOT);
}

/*
 * The job's own pace: take the answer, retry, deliver. The tick is a
 * one-shot timer armed again each time (a timer must not remove itself
 * from Kore's list inside its own callback).
 */
static void
job_tick(void *arg, u_int64_t now)
{
	struct credits_job	*job = arg;

	(void)now;
	job->timer = NULL;

	if (job_step(job)) {
		/* A timer armed meanwhile must not outlive the job. */
		if (job->timer != NULL)
			kore_timer_remove(job->timer);
		job->timer = NULL;
		job->phase = PHASE_FINISHED;
		job->done(job, job->arg);
		job_free(job);
		return;
	}

	if (job->timer == NULL)
		job->timer = kore_timer_add(job_tick, JOB_TICK_MS, job,
		    KORE_TIMER_ONESHOT);
}

/* Returns 1 when the job is over and its answer is due. */
static int
job_step(struct credits_job *job)
{
	if (job->phase == PHASE_SENT) {
		switch (job->stmt.phase) {
		case TG_PGSTMT_DONE:
			job->res = job->stmt.res;
			job->stmt.res = NULL;
			job->stmt.phase = TG_PGSTMT_IDLE;
			job->phase = PHASE_DONE;
			break;
		case TG_PGSTMT_FAILED:
			kore_free(job->errmsg);
			job->errmsg = job->stmt.errmsg;
			job->stmt.errmsg = NULL;
			(void)kore_strlcpy(job->sqlstate, job->stmt.sqlstate,
			    sizeof(job->sqlstate));
			job->conn_lost = job->stmt.conn_lost;
			job->failed = 1;
			job->stmt.phase = TG_PGSTMT_IDLE;
			if (job->conn_lost && job->attempts < job->max_attempts)
				job->phase = PHASE_BACKOFF;
			else
				job->phase = PHASE_FAILED;
			break;
		default:
			/* Queued or running: the pool bounds both. */
			return (0);
		}
	}

	if (job->phase == PHASE_BACKOFF) {
		if (kore_time_ms() - job->started_ms <
		    (u_int64_t)JOB_BACKOFF_MS * job->attempts)
			return (0);
		kore_free(job->errmsg);
		job->errmsg = NULL;
		job->failed = job->conn_lost = 0;
		job->sqlstate[0] = '\0';
		job_send(job);
		return (0);
	}

	return (job->phase == PHASE_DONE || job->phase == PHASE_FAILED);
}

/*
 * Whether a statement is still on its way (a stop waits for them: a
 * strict settlement, a flush).
 */
int
credits_job_busy(void)
{
	return (!TAILQ_EMPTY(&jobs));
}

/*
 * The worker is exiting (Kore cuts in-flight work short): release what
 * the jobs hold. Their statements either committed or did not; a hold
 * left pending is the sweeper's.
 */
void
credits_job_teardown(void)
{
	struct credits_job	*job;

	while ((job = TAILQ_FIRST(&jobs)) != NULL) {
		kore_log(LOG_NOTICE, "credits: a statement was cut short by "
		    "the worker's exit");
		job->phase = PHASE_FINISHED;
		job_free(job);
	}
}

static void
job_free(struct credits_job *job)
{
	int	i;

	TAILQ_REMOVE(&jobs, job, list);
	if (job->timer != NULL)
		kore_timer_remove(job->timer);
	tg_pgstmt_abandon(&job->stmt);
	if (job->res != NULL)
		PQclear(job->res);
	kore_free(job->errmsg);
	for (i = 0; i < job->nparams; i++)
		kore_free(job->params[i]);
	kore_free(job);
}
