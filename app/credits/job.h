/*
 * One PostgreSQL statement that belongs to no request: settling a call
 * whose client may be gone, the sweeper's tick. Sent over the worker's
 * pool (core/pgpool.h), retried on a lost connection, and always
 * finished: done() runs exactly once, from a timer at the top of the
 * event loop (never inside the pool's code, never nested in
 * credits_job_start), with the result or the failure, and the job is
 * freed when it returns.
 */

#ifndef CREDITS_JOB_H
#define CREDITS_JOB_H

#include "tollgate.h"
#include "db.h"

struct credits_job {
	TAILQ_ENTRY(credits_job) list;
	struct tg_pgstmt	 stmt;
	const char		*query;
	int			 nparams;
	char			*params[TG_DB_PARAMS_MAX];
	int			 lengths[TG_DB_PARAMS_MAX];
	PGresult		*res;		/* the rows, when it worked */
	int			 failed;
	int			 conn_lost;
	char			 sqlstate[TG_DB_SQLSTATE_LEN];
	char			*errmsg;
	int			 attempts;
	int			 max_attempts;
	int			 phase;
	u_int64_t		 started_ms;
	struct kore_timer	*timer;		/* the tick (one-shot) */
	void			(*done)(struct credits_job *, void *);
	void			*arg;
};

struct credits_job	*credits_job_start(const char *, int,
			    const char *const *, int,
			    void (*)(struct credits_job *, void *), void *);
int			 credits_job_ntuples(struct credits_job *);
const char		*credits_job_value(struct credits_job *, int, int);
int			 credits_job_num(struct credits_job *, int, int,
			    long long, long long, long long *);
int			 credits_job_busy(void);
void			 credits_job_teardown(void);

#endif
