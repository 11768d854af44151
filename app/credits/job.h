/*
 * One PostgreSQL statement that belongs to no request: settling a call
 * whose client may be gone, the sweeper's tick. Bound to a callback
 * (kore_pgsql_bind_callback), retried on a lost connection, and always
 * finished: done() runs exactly once, from the event loop (never inside
 * Kore's pgsql code), with the result or the failure, and the job is
 * freed when it returns.
 */

#ifndef CREDITS_JOB_H
#define CREDITS_JOB_H

#include "tollgate.h"
#include "db.h"

struct credits_job {
	TAILQ_ENTRY(credits_job) list;
	struct kore_pgsql	 sql;
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
	struct kore_timer	*wake;		/* a pool connection came free */
	void			(*done)(struct credits_job *, void *);
	void			*arg;
};

struct credits_job	*credits_job_start(const char *, int,
			    const char *const *, int,
			    void (*)(struct credits_job *, void *), void *);
int			 credits_job_ntuples(struct credits_job *);
const char		*credits_job_value(struct credits_job *, int, int);
long long		 credits_job_int(struct credits_job *, int, int);
void			 credits_job_teardown(void);

#endif
