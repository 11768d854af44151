/*
 * The credits module's Kore side: the endpoints of docs/contract.md §6, the
 * meter the router calls for every billable call, and the sweeper.
 * Arithmetic and input checks live in the pure files (cost.h, prompt.h,
 * validate.h); money moves only inside the SQL functions of
 * sql/030x_credits_*.sql, one call each.
 */

#ifndef CREDITS_CREDITS_H
#define CREDITS_CREDITS_H

#include "tollgate.h"
#include "db.h"
#include "credits/cost.h"
#include "credits/validate.h"

/* Settings (TOLLGATE_HOLD_TTL_SECONDS), checked in the parent. */
struct credits_conf {
	int		hold_ttl;	/* seconds a hold may stay pending */
	u_int64_t	sweep_ms;	/* the sweeper's period */
	int		lease_ttl;	/* seconds a lease lives unrenewed */
	u_int64_t	flush_ms;	/* TOLLGATE_SETTLE_FLUSH_MS */
	int		strict;		/* TOLLGATE_STRICT_SETTLEMENT=1 */
};

extern struct credits_conf	credits_conf;

/* Metrics (declared in the parent). */
extern int	credits_metric_prompt_tokens;
extern int	credits_metric_cached_tokens;
extern int	credits_metric_cache_write_tokens;
extern int	credits_metric_completion_tokens;
extern int	credits_metric_charged;
extern int	credits_metric_holds_open;
extern int	credits_metric_reserved;
extern int	credits_metric_refused;
extern int	credits_metric_settled;
extern int	credits_metric_voided;
extern int	credits_metric_estimated;
extern int	credits_metric_expired;
extern int	credits_metric_expired_micros;
extern int	credits_metric_losses;
extern int	credits_metric_loss_micros;
extern int	credits_metric_settle_failures;
extern int	credits_metric_leased;
extern int	credits_metric_flushes;
extern int	credits_metric_flushed_calls;
extern int	credits_metric_flush_failures;
extern int	credits_metric_leases_open;

/* One endpoint = one statement: checks, the statement, the answer. */
struct credits_api;

struct credits_api_ops {
	/* Check input, tg_db_start(); 0 when it has answered already. */
	int	(*start)(struct http_request *, struct credits_api *);
	/* The statement worked: answer from st->db. */
	void	(*render)(struct http_request *, struct credits_api *);
};

struct credits_api {
	const struct credits_api_ops	*ops;
	struct tg_db			 db;
	int				 limit;
	int				 groups[CREDITS_GROUPS_MAX];
	int				 ngroups;
	int64_t				 from_us;
	int64_t				 to_us;
	char				 model[CREDITS_MODEL_ID_MAX + 1];
	struct credits_grant_req	 grant;
	struct credits_price		 price;
};

/* RFC 3339 (UTC, seconds) of a timestamptz expression, in SQL. */
#define CREDITS_SQL_TIME(x)	\
	"to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int	credits_api_run(struct http_request *, const struct credits_api_ops *);
int	credits_api_param_uuid(struct http_request *, int, char *);
json_t	*credits_json_int(struct tg_db *, int, int);
json_t	*credits_json_str(struct tg_db *, int, int);

/* api.c: the user's own money and usage. */
int	credits_get_balance(struct http_request *);
int	credits_get_key_balance(struct http_request *);
int	credits_get_ledger(struct http_request *);
int	credits_get_ledger_entry(struct http_request *);
int	credits_get_usage(struct http_request *);
int	credits_get_usage_requests(struct http_request *);
int	credits_get_usage_request(struct http_request *);

/* admin.c */
int	credits_admin_grant(struct http_request *);
int	credits_admin_prices(struct http_request *);
int	credits_admin_price_get(struct http_request *);
int	credits_admin_price_put(struct http_request *);

/* sweeper.c */
void	credits_sweeper_start(void);

/* meter.c */
void	credits_meter_init(void);

#endif
