/*
 * Balance leases, the price cache and group-committed settlement of one
 * worker (lease.c). The meter (meter.c) reserves a call on a lease in
 * memory when it can, and hands every call settled on a lease to the
 * flush queue; everything else is the per-call path of before.
 */

#ifndef CREDITS_LEASE_H
#define CREDITS_LEASE_H

#include "tollgate.h"
#include "credits/cost.h"
#include "credits/validate.h"

/* credits_lease_take() results. */
#define CREDITS_LEASE_TAKEN	1	/* reserved in memory */
#define CREDITS_LEASE_WAIT	2	/* asleep until the flush answers */
#define CREDITS_LEASE_NONE	3	/* take the per-call path */

struct credits_lease;

/* One call's use of a lease (kept in the meter's per-call state). */
struct credits_lease_use {
	struct credits_lease		*lease;	/* set once taken */
	int64_t				 amount;
	struct credits_lease		*waiting; /* asleep on this lease */
	struct http_request		*req;
	int				 waited;	/* flushes waited for */
	TAILQ_ENTRY(credits_lease_use)	 list;
};

/* A call settled on a lease: one row of the next flush. */
struct credits_settlement {
	char		 id[CREDITS_UUID_LEN + 1];	/* time-ordered */
	const char	*user_id;
	const char	*key_id;	/* NULL: none */
	const char	*request_id;
	const char	*endpoint;
	const char	*model;
	int64_t		 price_id;
	struct credits_price price;
	struct credits_tokens tokens;
	int64_t		 reasoning;
	int64_t		 charged;
	int64_t		 loss;
	const char	*status;
	int		 http_status;
	const char	*settlement;	/* provider, estimate, void */
	const char	*reason;	/* NULL: none */
	u_int64_t	 latency_ms;
};

void	credits_lease_init(void);
void	credits_lease_teardown(void);
void	credits_lease_notice(const char *);
int	credits_prices_get(const char *, struct credits_price *, int64_t *);
int	credits_lease_take(struct http_request *, struct credits_lease_use *,
	    const char *, const char *, int64_t);
void	credits_lease_cancel(struct credits_lease_use *);
void	credits_lease_charge(struct credits_lease_use *,
	    const struct credits_settlement *);
void	credits_uuid7(char *);

#endif
