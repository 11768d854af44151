/*
 * The worker's own pool of PostgreSQL connections (see pgpool.c): libpq
 * driven non-blocking on the worker's event loop, in place of Kore's
 * pgsql pool. db.c (statements of a request) and credits/job.c
 * (statements of no request) are its only users; handlers keep using
 * tg_db_* and credits_job_*.
 *
 * One struct tg_pgstmt is one statement's claim on the pool:
 *
 *	tg_pgstmt_send(&stmt, query, n, params, lengths, wake, arg);
 *	...	wake(&stmt, arg) once the phase is DONE or FAILED
 *	tg_pgstmt_abandon(&stmt);	whatever the phase: forget it
 *
 * wake() may run inside tg_pgstmt_send() (a statement that fails at
 * once) or from the pool's event and timer callbacks; it must only note
 * the news (wake a request, arm a timer), never call into the pool.
 */

#ifndef TG_PGPOOL_H
#define TG_PGPOOL_H

#include "tollgate.h"

#define TG_PGPOOL_CONNS		8	/* connections per worker */
#define TG_PGPOOL_QUEUE_MAX	4096	/* statements waiting, per worker */
#define TG_PG_SQLSTATE_LEN	6	/* five characters and a NUL */

/* Phases of a statement. */
#define TG_PGSTMT_IDLE		0	/* not sent, or abandoned */
#define TG_PGSTMT_QUEUED	1	/* waits for an idle connection */
#define TG_PGSTMT_SENT		2	/* on a connection, in flight */
#define TG_PGSTMT_DONE		3	/* res holds the first result */
#define TG_PGSTMT_FAILED	4	/* errmsg, sqlstate, conn_lost */

struct tg_pgconn;

struct tg_pgstmt {
	TAILQ_ENTRY(tg_pgstmt)	 list;		/* the queue, while QUEUED */
	struct tg_pgconn	*conn;		/* while SENT */
	int			 phase;
	const char		*query;
	int			 nparams;
	const char *const	*params;	/* the owner's, kept until over */
	const int		*lengths;
	u_int64_t		 since;		/* queued or sent at */
	PGresult		*res;
	int			 conn_lost;
	char			 sqlstate[TG_PG_SQLSTATE_LEN];
	char			*errmsg;
	void			(*wake)(struct tg_pgstmt *, void *);
	void			*arg;
};

void	tg_pgpool_init(void);
void	tg_pgpool_teardown(void);
void	tg_pgstmt_send(struct tg_pgstmt *, const char *, int,
	    const char *const *, const int *,
	    void (*)(struct tg_pgstmt *, void *), void *);
void	tg_pgstmt_abandon(struct tg_pgstmt *);

#endif
