/*
 * One asynchronous PostgreSQL statement per struct tg_db, driven from a
 * handler's state machine over the worker's own connection pool
 * (pgpool.h):
 *
 *	tg_db_start(&st->db, req, SQL, n, params);	then, in the next state,
 *	switch (tg_db_poll(&st->db)) {
 *	case TG_DB_WAIT:	return (HTTP_STATE_RETRY);
 *	case TG_DB_FAILED:	tg_db_error(req, &st->db); ...
 *	case TG_DB_DONE:	read st->db.res ...
 *	}
 *
 * or, where a failure gets the usual answer of tg_db_error(),
 *
 *	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
 *		return (rc);
 *	read st->db.res ...
 *
 * tg_db_poll() puts the request to sleep while the statement runs; the
 * pool wakes it once there is an answer. Parameters are text (or SQL
 * NULL) and copied, so the caller's buffers may go away; the result
 * stays owned by the tg_db until tg_db_clear() or the next tg_db_start().
 * tg_db_clear() may come at any time (the client left): a statement in
 * flight is then drained by the pool, never cancelled with a blocking
 * call. Every statement is a single statement or a SQL function call: no
 * transaction is ever held across states.
 */

#ifndef TG_DB_H
#define TG_DB_H

#include "tollgate.h"
#include "pgpool.h"

#define TG_DB_PARAMS_MAX	16
#define TG_DB_SQLSTATE_LEN	TG_PG_SQLSTATE_LEN

#define TG_DB_WAIT		1
#define TG_DB_DONE		2
#define TG_DB_FAILED		3

/* Flags for tg_db_start(). */
#define TG_DB_RETRY		0x01	/* idempotent: retry once on a lost connection */

struct tg_db {
	struct tg_pgstmt	 stmt;
	struct http_request	*req;
	const char		*query;
	int			 flags;
	int			 phase;
	int			 retried;
	int			 nparams;
	char			*params[TG_DB_PARAMS_MAX];
	int			 lengths[TG_DB_PARAMS_MAX];
	PGresult		*res;
	int			 conn_lost;
	char			 sqlstate[TG_DB_SQLSTATE_LEN];
	char			*errmsg;
};

void		 tg_db_start(struct tg_db *, struct http_request *, int,
		    const char *, int, const char *const *);
int		 tg_db_poll(struct tg_db *);
int		 tg_db_wait(struct http_request *, struct tg_db *);
void		 tg_db_clear(struct tg_db *);
void		 tg_db_error(struct http_request *, struct tg_db *);
int		 tg_db_ntuples(struct tg_db *);
const char	*tg_db_value(struct tg_db *, int, int);
int		 tg_db_isnull(struct tg_db *, int, int);
int		 tg_db_num(struct tg_db *, int, int, long long, long long,
		    long long *);
void		 tg_db_register(void);
void		 tg_db_teardown(void);
void		 tg_db_text_array(struct kore_buf *, const char *const *, int);

/* The same over a PGresult, for statements of no request (credits/job.c). */
int		 tg_pg_ntuples(PGresult *);
const char	*tg_pg_value(PGresult *, int, int);
int		 tg_pg_num(PGresult *, int, int, long long, long long,
		    long long *);

#endif
