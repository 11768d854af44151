/*
 * Request-less PostgreSQL statements (see job.h).
 *
 * Kore calls a callback-bound kore_pgsql back from deep inside its own
 * code (while scheduling, reading, releasing the connection, or waking
 * the pool's queue), often nested. The job therefore only records what
 * happened in those callbacks and leaves the rest to a timer of its own:
 * the answer is delivered, the job retried or freed, from the timer, at
 * the top of the event loop. The timer also watches the one failure
 * Kore does not call back for: a connection dropped under a query
 * (pgsql_conn_cleanup() marks the query failed and says nothing).
 *
 * Phases: QUEUED (waiting for a pool connection), SENT, DONE, FAILED,
 * FINISHED (done() was called).
 */

#include <string.h>

#include "credits/job.h"
#include "metrics.h"

#define PHASE_QUEUED	1
#define PHASE_SENT	2
#define PHASE_DONE	3
#define PHASE_FAILED	4
#define PHASE_FINISHED	5

#define JOB_TICK_MS		250
#define JOB_BACKOFF_MS		500
#define JOB_STATEMENT_MS	120000	/* a statement never takes this */

static void	job_send(struct credits_job *);
static void	job_setup(struct credits_job *);
static void	job_callback(struct kore_pgsql *, void *);
static void	job_tick(void *, u_int64_t);
static void	job_wake(void *, u_int64_t);
static int	job_step(struct credits_job *);
static void	job_hurry(struct credits_job *);
static void	job_fail(struct credits_job *, const char *);
static void	job_release(struct credits_job *);
static void	job_free(struct credits_job *);

/* Every live job of this worker, for the teardown. */
static TAILQ_HEAD(, credits_job)	jobs = TAILQ_HEAD_INITIALIZER(jobs);

/*
 * Start query with n text parameters (NULL: SQL NULL; copied). A lost
 * connection is retried up to retries more times, JOB_BACKOFF_MS apart
 * (every statement sent this way must be idempotent).
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

long long
credits_job_int(struct credits_job *job, int row, int col)
{
	return (tg_pg_int(job->res, row, col));
}

static void
job_send(struct credits_job *job)
{
	job->attempts++;
	job->started_ms = kore_time_ms();
	job->phase = PHASE_QUEUED;

	kore_pgsql_init(&job->sql);
	kore_pgsql_bind_callback(&job->sql, job_callback, job);
	job_setup(job);
}

/* Ask the pool for a connection and send (again, after a queue wait). */
static void
job_setup(struct credits_job *job)
{
	if (!kore_pgsql_setup(&job->sql, TG_DB_NAME, KORE_PGSQL_ASYNC)) {
		/* Pool full: queued, called back in state INIT. */
		if (job->sql.state == KORE_PGSQL_STATE_INIT) {
			tg_metrics_add(tg_metric_db_pool_waits, 1);
			return;
		}
		job->conn_lost = 1;
		job_fail(job, job->sql.error);
		return;
	}

	job->phase = PHASE_SENT;
	if (!kore_pgsql_query_param_fields(&job->sql, job->query, 0,
	    job->nparams, (const char **)job->params, job->lengths, NULL))
		job_fail(job, job->sql.error);
}

/* Kore's callback: record, move the statement along; never free here. */
static void
job_callback(struct kore_pgsql *sql, void *arg)
{
	struct credits_job	*job = arg;

	if (job->phase != PHASE_QUEUED && job->phase != PHASE_SENT)
		return;

	switch (sql->state) {
	case KORE_PGSQL_STATE_INIT:
		/*
		 * A pool connection came free: try again, from the loop
		 * (Kore still holds our wait entry while it calls us).
		 */
		if (job->phase == PHASE_QUEUED && job->wake == NULL)
			job->wake = kore_timer_add(job_wake, 0, job,
			    KORE_TIMER_ONESHOT);
		break;
	case KORE_PGSQL_STATE_WAIT:
		break;
	case KORE_PGSQL_STATE_RESULT:
		if (job->res == NULL) {
			job->res = sql->result;
			sql->result = NULL;
		}
		kore_pgsql_continue(sql);
		break;
	case KORE_PGSQL_STATE_DONE:
		if (job->res == NULL && sql->result != NULL) {
			job->res = sql->result;
			sql->result = NULL;
		}
		kore_pgsql_continue(sql);
		break;
	case KORE_PGSQL_STATE_COMPLETE:
		job->phase = PHASE_DONE;
		job_hurry(job);
		break;
	case KORE_PGSQL_STATE_ERROR:
		job_fail(job, sql->error);
		break;
	case KORE_PGSQL_STATE_NOTIFY:
		kore_pgsql_continue(sql);
		break;
	}
}

static void
job_wake(void *arg, u_int64_t now)
{
	struct credits_job	*job = arg;

	(void)now;
	job->wake = NULL;
	if (job->phase == PHASE_QUEUED)
		job_setup(job);
}

/* The answer is ready: deliver it on the next loop pass, not a tick on. */
static void
job_hurry(struct credits_job *job)
{
	if (job->timer != NULL)
		kore_timer_remove(job->timer);
	job->timer = kore_timer_add(job_tick, 0, job, KORE_TIMER_ONESHOT);
}

/*
 * The job's own pace: deliver, retry, or notice a silent failure. The
 * tick is a one-shot timer armed again each time (Kore's timer list must
 * not be touched from inside a timer's own callback).
 */
static void
job_tick(void *arg, u_int64_t now)
{
	struct credits_job	*job = arg;

	(void)now;
	job->timer = NULL;

	if (job_step(job)) {
		/* Timers armed meanwhile must not outlive the job. */
		if (job->timer != NULL)
			kore_timer_remove(job->timer);
		if (job->wake != NULL)
			kore_timer_remove(job->wake);
		job->timer = job->wake = NULL;
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
		/* A dropped connection: Kore marked us and said nothing. */
		if (job->sql.conn == NULL &&
		    job->sql.state == KORE_PGSQL_STATE_ERROR) {
			job->conn_lost = 1;
			job_fail(job, job->sql.error);
		} else if (kore_time_ms() - job->started_ms > JOB_STATEMENT_MS) {
			job_fail(job, "statement timed out");
		} else {
			return (0);
		}
	}

	if (job->phase == PHASE_QUEUED) {
		if (kore_time_ms() - job->started_ms <= JOB_STATEMENT_MS)
			return (0);
		job_fail(job, "no database connection came free");
	}

	if (job->phase == PHASE_FAILED && job->conn_lost &&
	    job->attempts < job->max_attempts) {
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

static void
job_fail(struct credits_job *job, const char *msg)
{
	if (job->phase == PHASE_FAILED || job->phase == PHASE_FINISHED)
		return;
	job->phase = PHASE_FAILED;
	job->failed = 1;
	tg_pg_failure(&job->sql, msg, &job->errmsg, job->sqlstate,
	    &job->conn_lost);

	if (job->res != NULL) {
		PQclear(job->res);
		job->res = NULL;
	}
	job_release(job);
	job_hurry(job);
}

/* Give the connection back; safe to call from inside Kore's callback. */
static void
job_release(struct credits_job *job)
{
	int	phase = job->phase;

	/* kore_pgsql_cleanup() calls back with COMPLETE: ignored by phase. */
	job->phase = PHASE_FINISHED;
	kore_pgsql_cleanup(&job->sql);
	job->phase = phase;
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
	job_release(job);
	if (job->res != NULL)
		PQclear(job->res);
	kore_free(job->errmsg);
	for (i = 0; i < job->nparams; i++)
		kore_free(job->params[i]);
	kore_free(job);
}
