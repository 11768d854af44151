/*
 * The sweeper: settles holds whose call never settled (its process was
 * killed, or a settle failed for good), once they are past their expiry
 * (TOLLGATE_HOLD_TTL_SECONDS, longer than any call may run), and gives
 * back the balance leases their process stopped renewing (past
 * TOLLGATE_LEASE_TTL_SECONDS): credits_sweep().
 *
 * It runs in worker 1 of every tollgate process, on a Kore timer, one
 * statement per tick and never two at once: credits_expire_holds() takes
 * holds FOR UPDATE SKIP LOCKED, so the sweepers of several processes on
 * one database share the work and never settle a hold twice, and a hold
 * a live call is settling at that moment is left to that call.
 *
 * After each sweep the same tick purges stored /v1/responses past their
 * retention (responses_purge(), sql/0600_responses.sql), a batch at a
 * time and SKIP LOCKED as well: not money, but the same kind of chore.
 */

#include "credits/credits.h"
#include "credits/job.h"
#include "metrics.h"

#define SWEEP_BATCH	"500"

static void	sweeper_tick(void *, u_int64_t);
static void	sweeper_done(struct credits_job *, void *);
static void	sweeper_report(struct credits_job *);
static void	sweeper_purged(struct credits_job *, void *);

static int	sweeper_busy;

static const char	sql_expire[] =
	"SELECT expired, charged, pending, leases_expired, leases_returned, "
	"leases_open FROM credits_sweep($1::int)";

static const char	sql_purge[] = "SELECT responses_purge($1::int)";

void
credits_sweeper_start(void)
{
	if (worker == NULL || worker->id != 1)
		return;

	(void)kore_timer_add(sweeper_tick, credits_conf.sweep_ms, NULL, 0);
	kore_log(LOG_INFO, "credits: sweeper every %llu ms (holds expire "
	    "after %d s)", (unsigned long long)credits_conf.sweep_ms,
	    credits_conf.hold_ttl);
}

static void
sweeper_tick(void *arg, u_int64_t now)
{
	const char	*params[1];

	(void)arg;
	(void)now;

	if (sweeper_busy)
		return;
	sweeper_busy = 1;

	params[0] = SWEEP_BATCH;
	(void)credits_job_start(sql_expire, 1, params, 0, sweeper_done, NULL);
}

static void
sweeper_done(struct credits_job *job, void *arg)
{
	const char	*params[1];

	(void)arg;
	sweeper_report(job);

	params[0] = SWEEP_BATCH;
	(void)credits_job_start(sql_purge, 1, params, 0, sweeper_purged, NULL);
}

static void
sweeper_purged(struct credits_job *job, void *arg)
{
	long long	n;

	(void)arg;
	sweeper_busy = 0;

	if (job->failed || credits_job_ntuples(job) != 1) {
		kore_log(LOG_NOTICE, "credits: responses purge failed: %s",
		    job->errmsg != NULL ? job->errmsg : "no result");
		return;
	}
	if (!credits_job_num(job, 0, 0, 0, INT64_MAX, &n)) {
		kore_log(LOG_ERR, "credits: responses purge result unreadable");
		return;
	}
	if (n > 0)
		kore_log(LOG_INFO, "credits: purged %lld stored response%s "
		    "past their retention", n, n == 1 ? "" : "s");
}

static void
sweeper_report(struct credits_job *job)
{
	long long	n, charged, pending, leases, back, open;

	if (job->failed || credits_job_ntuples(job) != 1) {
		kore_log(LOG_NOTICE, "credits: sweep failed: %s",
		    job->errmsg != NULL ? job->errmsg : "no result");
		return;
	}

	/*
	 * A bad count is logged (credits_job_num) and this cycle's report
	 * skipped: the sweep itself committed, the next cycle reports.
	 */
	if (!credits_job_num(job, 0, 0, 0, INT64_MAX, &n) ||
	    !credits_job_num(job, 0, 1, 0, INT64_MAX, &charged) ||
	    !credits_job_num(job, 0, 2, 0, INT64_MAX, &pending) ||
	    !credits_job_num(job, 0, 3, 0, INT64_MAX, &leases) ||
	    !credits_job_num(job, 0, 4, INT64_MIN, INT64_MAX, &back) ||
	    !credits_job_num(job, 0, 5, 0, INT64_MAX, &open)) {
		kore_log(LOG_ERR, "credits: sweep result unreadable");
		return;
	}
	tg_metrics_set(credits_metric_holds_open, pending);
	tg_metrics_set(credits_metric_leases_open, open);
	if (leases > 0)
		kore_log(LOG_NOTICE, "credits: %lld lease%s of stopped "
		    "processes expired, %lld micros back to their accounts",
		    leases, leases == 1 ? "" : "s", back);
	if (n == 0)
		return;

	tg_metrics_add(credits_metric_expired, n);
	tg_metrics_add(credits_metric_expired_micros, charged);
	tg_metrics_add(credits_metric_charged, charged);
	kore_log(LOG_NOTICE, "credits: expired %lld unsettled hold%s, charged "
	    "%lld micros in all (each its whole hold)", n, n == 1 ? "" : "s",
	    charged);
}
