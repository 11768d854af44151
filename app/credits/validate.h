/*
 * Checks of what clients send the credits endpoints, pure C: model ids,
 * price and grant bodies, times, usage grouping keys, cursors, limits
 * and ids. Each either
 * accepts the whole input or says which parameter is wrong and why, in
 * words fit for the error message (never echoing more than a name).
 */

#ifndef CREDITS_VALIDATE_H
#define CREDITS_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lex.h"

#include "credits/cost.h"

#define CREDITS_MODEL_ID_MAX	265	/* provider (64) ':' model (200) */
#define CREDITS_UUID_LEN	TG_UUID_LEN
#define CREDITS_REASON_MAX	500
#define CREDITS_IDEM_KEY_MAX	150
#define CREDITS_GRANT_MAX	1000000000000000LL	/* 1e9 credits */
#define CREDITS_LIMIT_DEFAULT	20
#define CREDITS_LIMIT_MAX	100
#define CREDITS_CURSOR_MAX	64
/* The largest number a cursor carries: 18 digits, as the parsers take. */
#define CREDITS_CURSOR_NUM_MAX	999999999999999999LL
#define CREDITS_USAGE_SPAN_MAX	(366LL * 86400)

/*
 * The keys usage is grouped by, in the order of credits_group_name();
 * GET /api/usage takes the first three, GET /api/admin/usage all four.
 */
#define CREDITS_GROUP_DAY	0
#define CREDITS_GROUP_MODEL	1
#define CREDITS_GROUP_KEY	2
#define CREDITS_GROUP_USER	3
#define CREDITS_GROUP_BIT(g)	(1U << (g))
/* The sets: a user's own usage, and everyone's (the admin's). */
#define CREDITS_GROUPS_OWN	(CREDITS_GROUP_BIT(CREDITS_GROUP_DAY) | \
				CREDITS_GROUP_BIT(CREDITS_GROUP_MODEL) | \
				CREDITS_GROUP_BIT(CREDITS_GROUP_KEY))
#define CREDITS_GROUPS_ALL	(CREDITS_GROUPS_OWN | \
				CREDITS_GROUP_BIT(CREDITS_GROUP_USER))
#define CREDITS_GROUPS_MAX	2	/* keys in one group_by list */

/* Why a body was refused: the contract's error code and the field. */
struct credits_invalid {
	const char	*code;		/* "missing_field", "invalid_value" */
	const char	*param;
	char		 message[256];
};

struct credits_grant_req {
	int64_t	amount;
	char	reason[CREDITS_REASON_MAX + 1];
	char	idempotency_key[CREDITS_IDEM_KEY_MAX + 1];
};

/* A cursor of /api/usage/requests: the last row's start and id. */
struct credits_usage_cursor {
	int64_t	started_us;		/* epoch microseconds */
	char	id[CREDITS_UUID_LEN + 1];
};

int	credits_model_id_valid(const char *);
int	credits_price_parse(const json_t *, struct credits_price *,
	    struct credits_invalid *);
int	credits_grant_parse(const json_t *, struct credits_grant_req *,
	    struct credits_invalid *);
int	credits_time_parse(const char *, int64_t *);
int	credits_group_parse(const char *, unsigned int, int, int *);
const char	*credits_group_name(int);
int	credits_ledger_cursor_parse(const char *, int64_t *);
void	credits_ledger_cursor_format(int64_t, char *, size_t);
int	credits_usage_cursor_parse(const char *,
	    struct credits_usage_cursor *);
void	credits_usage_cursor_format(const struct credits_usage_cursor *,
	    char *, size_t);

#endif
