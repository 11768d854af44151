/*
 * A user's own credits and usage (docs/contract.md §6), every route a session
 * route and every statement scoped to the session's user: another
 * user's ids are simply not found (404), never forbidden.
 *
 *	GET /api/credits			balance, reserved, available
 *	GET /api/credits/ledger			movements, newest first
 *	GET /api/credits/ledger/{id}		one movement
 *	GET /api/usage				aggregates by one or two of
 *						day, model, key
 *	GET /api/usage/requests			one row per call, newest first
 *	GET /api/usage/requests/{id}		one call
 *	GET /v1/credits (API key)		the same balance, and the
 *						key's spend and limit
 *
 * Each is one statement (credits_api_run: check, query, answer). The
 * ledger shows movements per transaction as the user sees them: the net
 * of its entries on the user's two accounts (credits and debt), and the
 * net balance after it. Cursors are opaque to clients.
 */

#include <string.h>
#include <time.h>

#include "credits/credits.h"
#include "qs.h"
#include "lex.h"

#define API_START	0
#define API_WAIT	1

static int	api_state_start(struct http_request *);
static int	api_state_wait(struct http_request *);
static void	api_free(struct http_request *, void *);
static int	api_numbers_ok(struct tg_db *);
static int	api_query_limit(struct http_request *, struct credits_api *);
static int	api_one_start(struct http_request *, struct credits_api *,
		    const char *);

static int	balance_start(struct http_request *, struct credits_api *);
static void	balance_render(struct http_request *, struct credits_api *);
static int	key_balance_start(struct http_request *, struct credits_api *);
static void	key_balance_render(struct http_request *, struct credits_api *);
static int	ledger_start(struct http_request *, struct credits_api *);
static int	ledger_entry_start(struct http_request *, struct credits_api *);
static void	ledger_render(struct http_request *, struct credits_api *);
static void	ledger_entry_render(struct http_request *,
		    struct credits_api *);
static json_t	*ledger_row(struct tg_db *, int);
static int	usage_start(struct http_request *, struct credits_api *);
static void	usage_render(struct http_request *, struct credits_api *);
static void	usage_key(json_t *, struct credits_api *, int, int);
static int	requests_start(struct http_request *, struct credits_api *);
static int	request_start(struct http_request *, struct credits_api *);
static void	requests_render(struct http_request *, struct credits_api *);
static void	request_render(struct http_request *, struct credits_api *);
static json_t	*request_row(struct tg_db *, int);

static struct http_state	api_states[] = {
	KORE_HTTP_STATE(api_state_start),
	KORE_HTTP_STATE(api_state_wait),
};

static const struct credits_api_ops	balance_ops = {
	balance_start, balance_render
};
static const struct credits_api_ops	key_balance_ops = {
	key_balance_start, key_balance_render
};
static const struct credits_api_ops	ledger_ops = {
	ledger_start, ledger_render
};
static const struct credits_api_ops	ledger_entry_ops = {
	ledger_entry_start, ledger_entry_render
};
static const struct credits_api_ops	usage_ops = {
	usage_start, usage_render
};
static const struct credits_api_ops	requests_ops = {
	requests_start, requests_render
};
static const struct credits_api_ops	request_ops = {
	request_start, request_render
};

static const char	sql_balance[] =
	"SELECT balance_micros, reserved_micros, available_micros "
	"FROM ledger_user_balances WHERE user_id = $1";

/*
 * The key's own numbers are read here, not from the key cache GET
 * /v1/key answers from: they must agree with the balance beside them.
 */
static const char	sql_key_balance[] =
	"SELECT b.balance_micros, b.reserved_micros, b.available_micros, "
	"k.spent_micros, k.spend_limit_micros "
	"FROM ledger_user_balances b JOIN api_keys k ON k.user_id = b.user_id "
	"WHERE b.user_id = $1 AND k.id = $2::uuid";

/*
 * The user's last entries (twice the page: a transaction has at most
 * two on the user's accounts), grouped by transaction. The user's
 * movements are serialised by the account lock, so their entries'
 * ids never interleave between transactions.
 */
#define LEDGER_SELECT							\
	"SELECT t.id, t.kind, r.amount, "				\
	"(SELECT coalesce(sum(b.balance_after), 0) FROM acc, LATERAL "	\
	"(SELECT le.balance_after FROM ledger_entries le "		\
	"WHERE le.account_id = acc.id AND le.id <= r.last_id "		\
	"ORDER BY le.id DESC LIMIT 1) b), t.reference, "		\
	CREDITS_SQL_TIME("t.created_at") ", r.first_id "

static const char	sql_ledger[] =
	"WITH acc AS (SELECT id FROM ledger_accounts WHERE user_id = $1), "
	"r AS (SELECT e.txn_id, min(e.id) AS first_id, max(e.id) AS last_id, "
	"sum(e.amount) AS amount FROM (SELECT id, txn_id, amount "
	"FROM ledger_entries WHERE account_id IN (SELECT id FROM acc) AND "
	"($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC "
	"LIMIT 2 * ($3::int + 1)) e GROUP BY e.txn_id "
	"ORDER BY last_id DESC LIMIT $3::int + 1) "
	LEDGER_SELECT
	"FROM r JOIN ledger_transactions t ON t.id = r.txn_id "
	"ORDER BY r.last_id DESC";

static const char	sql_ledger_entry[] =
	"WITH acc AS (SELECT id FROM ledger_accounts WHERE user_id = $1), "
	"r AS (SELECT e.txn_id, min(e.id) AS first_id, max(e.id) AS last_id, "
	"sum(e.amount) AS amount FROM ledger_entries e "
	"WHERE e.txn_id = $2::uuid AND e.account_id IN (SELECT id FROM acc) "
	"GROUP BY e.txn_id) "
	LEDGER_SELECT
	"FROM r JOIN ledger_transactions t ON t.id = r.txn_id";

#define REQUEST_SELECT							\
	"SELECT u.id, u.request_id, u.model, u.api_key_id, k.name, "	\
	"u.endpoint, u.prompt_tokens, u.cached_tokens, "		\
	"u.completion_tokens, u.reasoning_tokens, u.cost_micros, "	\
	"u.status, u.http_status, u.latency_ms, u.settlement, "		\
	CREDITS_SQL_TIME("u.started_at") ", "				\
	"(extract(epoch FROM u.started_at) * 1000000)::bigint, "	\
	"u.cache_write_tokens "						\
	"FROM usage_records u LEFT JOIN api_keys k ON k.id = u.api_key_id "

static const char	sql_requests[] =
	REQUEST_SELECT
	"WHERE u.user_id = $1 AND ($2::bigint IS NULL OR "
	"(u.started_at, u.id) < (timestamptz 'epoch' + $2::bigint * "
	"interval '1 microsecond', $3::uuid)) "
	"ORDER BY u.started_at DESC, u.id DESC LIMIT $4::int + 1";

static const char	sql_request[] =
	REQUEST_SELECT "WHERE u.user_id = $1 AND u.id = $2::uuid";

/*
 * A grouping key of /api/usage by its name ($4 the first, $5 the second
 * or NULL): a fixed expression for each, so the statement never changes.
 */
#define USAGE_GROUP(p)							\
	"CASE " p " WHEN 'day' THEN "					\
	"to_char(u.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') "	\
	"WHEN 'model' THEN u.model WHEN 'key' THEN u.api_key_id::text END"

/* Its columns: the two keys, the key's name, then usage_sums[]. */
#define USAGE_SUM0	3
#define USAGE_NSUMS	6
static const char *const	usage_sums[USAGE_NSUMS] = { "requests",
    "prompt_tokens", "cached_tokens", "completion_tokens", "cost_micros",
    "cache_write_tokens" };

static const char	sql_usage[] =
	"SELECT " USAGE_GROUP("$4::text") ", " USAGE_GROUP("$5::text") ", "
	"max(k.name), count(*), sum(u.prompt_tokens), sum(u.cached_tokens), "
	"sum(u.completion_tokens), sum(u.cost_micros), "
	"sum(u.cache_write_tokens) "
	"FROM usage_records u LEFT JOIN api_keys k ON k.id = u.api_key_id "
	"WHERE u.user_id = $1 AND "
	"u.started_at >= timestamptz 'epoch' + $2::bigint * "
	"interval '1 microsecond' AND "
	"u.started_at < timestamptz 'epoch' + $3::bigint * "
	"interval '1 microsecond' "
	"GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 NULLS LAST";

int
credits_get_balance(struct http_request *req)
{
	return (credits_api_run(req, &balance_ops));
}

int
credits_get_key_balance(struct http_request *req)
{
	return (credits_api_run(req, &key_balance_ops));
}

int
credits_get_ledger(struct http_request *req)
{
	return (credits_api_run(req, &ledger_ops));
}

int
credits_get_ledger_entry(struct http_request *req)
{
	return (credits_api_run(req, &ledger_entry_ops));
}

int
credits_get_usage(struct http_request *req)
{
	return (credits_api_run(req, &usage_ops));
}

int
credits_get_usage_requests(struct http_request *req)
{
	return (credits_api_run(req, &requests_ops));
}

int
credits_get_usage_request(struct http_request *req)
{
	return (credits_api_run(req, &request_ops));
}

/* The two states every one-statement endpoint goes through. */
int
credits_api_run(struct http_request *req, const struct credits_api_ops *ops)
{
	struct credits_api	*st;

	if (tg_state(req) == NULL) {
		st = tg_state_alloc(req, sizeof(*st), api_free);
		st->ops = ops;
		req->fsm_state = API_START;
	}

	return (http_state_run(api_states,
	    sizeof(api_states) / sizeof(api_states[0]), req));
}

/* Path parameter i as a uuid (lower case) into out; 0: answered 404. */
int
credits_api_param_uuid(struct http_request *req, int i, char *out)
{
	const char	*p;
	size_t		 j;

	if ((p = tg_param(req, i)) == NULL || !tg_uuid_valid(p)) {
		tg_error(req, 404, "not_found", NULL, "no such id");
		return (0);
	}
	for (j = 0; j <= CREDITS_UUID_LEN; j++)
		out[j] = (p[j] >= 'A' && p[j] <= 'F') ? p[j] + 32 : p[j];

	return (1);
}

json_t *
credits_json_int(struct tg_db *db, int row, int col)
{
	long long	n;

	/* A garbled value was refused by api_numbers_ok before rendering. */
	if (tg_db_isnull(db, row, col) ||
	    !tg_db_num(db, row, col, INT64_MIN, INT64_MAX, &n))
		return (json_null());

	return (json_integer(n));
}

json_t *
credits_json_str(struct tg_db *db, int row, int col)
{
	const char	*v;

	if ((v = tg_db_value(db, row, col)) == NULL)
		return (json_null());

	return (json_string(v));
}

static int
api_state_start(struct http_request *req)
{
	struct credits_api	*st = tg_state(req);

	if (!st->ops->start(req, st))
		return (HTTP_STATE_COMPLETE);

	req->fsm_state = API_WAIT;
	return (HTTP_STATE_CONTINUE);
}

static int
api_state_wait(struct http_request *req)
{
	struct credits_api	*st = tg_state(req);
	int			 rc;

	if ((rc = tg_db_wait(req, &st->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	if (!api_numbers_ok(&st->db)) {
		tg_error_internal(req, "credits api: unreadable row");
		return (HTTP_STATE_COMPLETE);
	}
	st->ops->render(req, st);
	return (HTTP_STATE_COMPLETE);
}

/*
 * Every integer cell of the result (bigint, integer, smallint, and the
 * numeric that sum() over bigint gives) is SQL NULL or a number: the
 * renderers show NULL as null, so a garbled value must fail the request
 * (500, logged by tg_db_num) before one of them can show it as 0.
 */
static int
api_numbers_ok(struct tg_db *db)
{
	long long	n;
	int		row, col, rows, cols;
	Oid		type;

	rows = tg_db_ntuples(db);
	cols = rows > 0 ? PQnfields(db->res) : 0;
	for (col = 0; col < cols; col++) {
		type = PQftype(db->res, col);
		if (type != 20 && type != 21 && type != 23 && type != 1700)
			continue;
		for (row = 0; row < rows; row++) {
			if (!tg_db_isnull(db, row, col) &&
			    !tg_db_num(db, row, col, INT64_MIN, INT64_MAX, &n))
				return (0);
		}
	}

	return (1);
}

static void
api_free(struct http_request *req, void *arg)
{
	struct credits_api	*st = arg;

	(void)req;
	tg_db_clear(&st->db);
}

/* ?limit= (default CREDITS_LIMIT_DEFAULT); 0: answered 400. */
static int
api_query_limit(struct http_request *req, struct credits_api *st)
{
	char	buf[16];

	st->limit = CREDITS_LIMIT_DEFAULT;
	switch (tg_http_query(req, "limit", buf, sizeof(buf))) {
	case TG_QS_ABSENT:
		return (1);
	case TG_QS_FOUND:
		if (tg_limit_parse(buf, CREDITS_LIMIT_MAX, &st->limit))
			return (1);
		break;
	}

	tg_error(req, 400, "invalid_value", "limit",
	    "limit must be an integer from 1 to %d", CREDITS_LIMIT_MAX);
	return (0);
}

/* One row of the user's by the uuid in the path: (user, id) in. */
static int
api_one_start(struct http_request *req, struct credits_api *st,
    const char *sql)
{
	const char	*params[2];
	char		 id[CREDITS_UUID_LEN + 1];

	if (!credits_api_param_uuid(req, 0, id))
		return (0);

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = id;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql, 2, params);
	return (1);
}

static int
balance_start(struct http_request *req, struct credits_api *st)
{
	const char	*params[1];

	params[0] = tg_ctx(req)->who.user_id;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_balance, 1, params);
	return (1);
}

static void
balance_render(struct http_request *req, struct credits_api *st)
{
	json_t	*doc;

	if (tg_db_ntuples(&st->db) != 1) {
		tg_error(req, 404, "not_found", NULL, "no such user");
		return;
	}

	doc = json_pack("{s:o, s:o, s:o}",
	    "balance_micros", credits_json_int(&st->db, 0, 0),
	    "reserved_micros", credits_json_int(&st->db, 0, 1),
	    "available_micros", credits_json_int(&st->db, 0, 2));
	tg_http_json_steal(req, 200, doc);
}

static int
key_balance_start(struct http_request *req, struct credits_api *st)
{
	const char	*params[2];

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = tg_ctx(req)->who.key_id;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_key_balance, 2, params);
	return (1);
}

/*
 * GET /v1/credits, OpenRouter's "can I afford this job" question asked
 * with an API key. Only spend_limit_micros may be NULL (no limit): a
 * NULL anywhere else is a broken row, not a zero.
 */
static void
key_balance_render(struct http_request *req, struct credits_api *st)
{
	const struct tg_principal	*who = &tg_ctx(req)->who;
	json_t				*doc;
	int				 col;

	if (tg_db_ntuples(&st->db) != 1) {
		tg_error(req, 404, "not_found", NULL, "no such key");
		return;
	}
	for (col = 0; col < 4; col++) {
		if (tg_db_isnull(&st->db, 0, col)) {
			tg_error_internal(req, "v1 credits: a NULL number");
			return;
		}
	}

	doc = json_pack("{s:o, s:o, s:o, s:{s:s, s:o, s:o}}",
	    "balance_micros", credits_json_int(&st->db, 0, 0),
	    "reserved_micros", credits_json_int(&st->db, 0, 1),
	    "available_micros", credits_json_int(&st->db, 0, 2),
	    "key",
	    "id", who->key_id,
	    "spent_micros", credits_json_int(&st->db, 0, 3),
	    "spend_limit_micros", credits_json_int(&st->db, 0, 4));
	tg_http_json_steal(req, 200, doc);
}

static int
ledger_start(struct http_request *req, struct credits_api *st)
{
	const char	*params[3];
	char		 cursor[CREDITS_CURSOR_MAX], limit[16];
	int64_t		 id;

	if (!api_query_limit(req, st))
		return (0);

	params[1] = NULL;
	switch (tg_http_query(req, "cursor", cursor, sizeof(cursor))) {
	case TG_QS_ABSENT:
		break;
	case TG_QS_FOUND:
		if (credits_ledger_cursor_parse(cursor, &id)) {
			params[1] = cursor;
			break;
		}
		/* FALLTHROUGH */
	default:
		tg_error(req, 400, "invalid_value", "cursor",
		    "cursor must be a next_cursor of this list");
		return (0);
	}

	(void)snprintf(limit, sizeof(limit), "%d", st->limit);
	params[0] = tg_ctx(req)->who.user_id;
	params[2] = limit;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_ledger, 3, params);
	return (1);
}

static int
ledger_entry_start(struct http_request *req, struct credits_api *st)
{
	return (api_one_start(req, st, sql_ledger_entry));
}

static json_t *
ledger_row(struct tg_db *db, int row)
{
	return (json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", credits_json_str(db, row, 0),
	    "kind", credits_json_str(db, row, 1),
	    "amount_micros", credits_json_int(db, row, 2),
	    "balance_after_micros", credits_json_int(db, row, 3),
	    "reference", credits_json_str(db, row, 4),
	    "created_at", credits_json_str(db, row, 5)));
}

static void
ledger_render(struct http_request *req, struct credits_api *st)
{
	json_t		*doc, *data;
	char		 next[CREDITS_CURSOR_MAX];
	long long	 id;
	int		 i, n;

	n = tg_db_ntuples(&st->db);
	data = json_array();
	for (i = 0; i < n && i < st->limit; i++)
		json_array_append_new(data, ledger_row(&st->db, i));

	if (n > st->limit) {
		/* The cursor its parser takes back: 1 to 18 digits. */
		if (!tg_db_num(&st->db, st->limit - 1, 6, 1,
		    CREDITS_CURSOR_NUM_MAX, &id)) {
			json_decref(data);
			tg_error_internal(req, "ledger: unreadable cursor");
			return;
		}
		credits_ledger_cursor_format(id, next, sizeof(next));
		doc = json_pack("{s:s, s:o, s:s}", "object", "list", "data",
		    data, "next_cursor", next);
	} else {
		doc = json_pack("{s:s, s:o, s:n}", "object", "list", "data",
		    data, "next_cursor");
	}
	tg_http_json_steal(req, 200, doc);
}

static void
ledger_entry_render(struct http_request *req, struct credits_api *st)
{
	if (tg_db_ntuples(&st->db) != 1) {
		tg_error(req, 404, "not_found", NULL, "no such ledger entry");
		return;
	}

	tg_http_json_steal(req, 200, ledger_row(&st->db, 0));
}

/*
 * ?from=&to= (a date or an RFC 3339 time; default the last 30 days up
 * to now) and ?group_by= one or two of day, model, key ("day,model";
 * default day).
 */
static int
usage_start(struct http_request *req, struct credits_api *st)
{
	const char	*params[5];
	char		 buf[64], from[24], to[24];
	int		 r;

	/* Now, rounded up: a call of this very second is included. */
	st->to_us = ((int64_t)time(NULL) + 1) * 1000000;
	r = tg_http_query(req, "to", buf, sizeof(buf));
	if (r == TG_QS_INVALID || (r == TG_QS_FOUND &&
	    !credits_time_parse(buf, &st->to_us))) {
		tg_error(req, 400, "invalid_value", "to", "to must be a date "
		    "(YYYY-MM-DD) or an RFC 3339 time");
		return (0);
	}
	st->from_us = st->to_us - 30LL * 86400 * 1000000;
	r = tg_http_query(req, "from", buf, sizeof(buf));
	if (r == TG_QS_INVALID || (r == TG_QS_FOUND &&
	    !credits_time_parse(buf, &st->from_us))) {
		tg_error(req, 400, "invalid_value", "from", "from must be a "
		    "date (YYYY-MM-DD) or an RFC 3339 time");
		return (0);
	}
	if (st->from_us >= st->to_us) {
		tg_error(req, 400, "invalid_value", "from",
		    "from must be before to");
		return (0);
	}
	if (st->to_us - st->from_us > CREDITS_USAGE_SPAN_MAX * 1000000) {
		tg_error(req, 400, "invalid_value", "from",
		    "from and to may be at most 366 days apart");
		return (0);
	}

	st->groups[0] = CREDITS_GROUP_DAY;
	st->ngroups = 1;
	r = tg_http_query(req, "group_by", buf, sizeof(buf));
	if (r == TG_QS_INVALID || (r == TG_QS_FOUND &&
	    (st->ngroups = credits_group_parse(buf, CREDITS_GROUPS_OWN,
	    CREDITS_GROUPS_MAX, st->groups)) == 0)) {
		tg_error(req, 400, "invalid_value", "group_by", "group_by must "
		    "be one or two of day, model and key, comma-separated "
		    "(day,model)");
		return (0);
	}

	(void)snprintf(from, sizeof(from), "%lld", (long long)st->from_us);
	(void)snprintf(to, sizeof(to), "%lld", (long long)st->to_us);
	params[0] = tg_ctx(req)->who.user_id;
	params[1] = from;
	params[2] = to;
	params[3] = credits_group_name(st->groups[0]);
	params[4] = st->ngroups > 1 ? credits_group_name(st->groups[1]) : NULL;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_usage, 5, params);
	return (1);
}

/*
 * One row per group: its key or keys ("day", "model", or "key_id" with
 * "key_name"), then the sums; the list says group_by as it was asked.
 */
static void
usage_render(struct http_request *req, struct credits_api *st)
{
	json_t		*doc, *data, *row;
	char		 group_by[32];
	int		 i, g, c, n;

	(void)snprintf(group_by, sizeof(group_by), "%s%s%s",
	    credits_group_name(st->groups[0]), st->ngroups > 1 ? "," : "",
	    st->ngroups > 1 ? credits_group_name(st->groups[1]) : "");

	n = tg_db_ntuples(&st->db);
	data = json_array();
	for (i = 0; i < n; i++) {
		row = json_object();
		for (g = 0; g < st->ngroups; g++)
			usage_key(row, st, g, i);
		for (c = 0; c < USAGE_NSUMS; c++)
			json_object_set_new(row, usage_sums[c],
			    credits_json_int(&st->db, i, USAGE_SUM0 + c));
		json_array_append_new(data, row);
	}

	doc = json_pack("{s:s, s:s, s:o, s:n}", "object", "list", "group_by",
	    group_by, "data", data, "next_cursor");
	tg_http_json_steal(req, 200, doc);
}

/* Grouping key g of row i: column g, named as the row shows it. */
static void
usage_key(json_t *row, struct credits_api *st, int g, int i)
{
	switch (st->groups[g]) {
	case CREDITS_GROUP_KEY:
		json_object_set_new(row, "key_id",
		    credits_json_str(&st->db, i, g));
		json_object_set_new(row, "key_name",
		    credits_json_str(&st->db, i, 2));
		break;
	default:
		json_object_set_new(row, credits_group_name(st->groups[g]),
		    credits_json_str(&st->db, i, g));
		break;
	}
}

static int
requests_start(struct http_request *req, struct credits_api *st)
{
	struct credits_usage_cursor	 c;
	const char			*params[4];
	char				 cursor[CREDITS_CURSOR_MAX], us[24];
	char				 limit[16];

	if (!api_query_limit(req, st))
		return (0);

	params[1] = params[2] = NULL;
	switch (tg_http_query(req, "cursor", cursor, sizeof(cursor))) {
	case TG_QS_ABSENT:
		break;
	case TG_QS_FOUND:
		if (credits_usage_cursor_parse(cursor, &c)) {
			(void)snprintf(us, sizeof(us), "%lld",
			    (long long)c.started_us);
			params[1] = us;
			params[2] = c.id;
			break;
		}
		/* FALLTHROUGH */
	default:
		tg_error(req, 400, "invalid_value", "cursor",
		    "cursor must be a next_cursor of this list");
		return (0);
	}

	(void)snprintf(limit, sizeof(limit), "%d", st->limit);
	params[0] = tg_ctx(req)->who.user_id;
	params[3] = limit;
	tg_db_start(&st->db, req, TG_DB_RETRY, sql_requests, 4, params);
	return (1);
}

static int
request_start(struct http_request *req, struct credits_api *st)
{
	return (api_one_start(req, st, sql_request));
}

static json_t *
request_row(struct tg_db *db, int row)
{
	json_t	*doc;

	doc = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", credits_json_str(db, row, 0),
	    "request_id", credits_json_str(db, row, 1),
	    "model", credits_json_str(db, row, 2),
	    "key_id", credits_json_str(db, row, 3),
	    "key_name", credits_json_str(db, row, 4),
	    "endpoint", credits_json_str(db, row, 5),
	    "prompt_tokens", credits_json_int(db, row, 6),
	    "cached_tokens", credits_json_int(db, row, 7));
	json_object_set_new(doc, "cache_write_tokens",
	    credits_json_int(db, row, 17));
	json_object_set_new(doc, "completion_tokens",
	    credits_json_int(db, row, 8));
	json_object_set_new(doc, "reasoning_tokens",
	    credits_json_int(db, row, 9));
	json_object_set_new(doc, "cost_micros", credits_json_int(db, row, 10));
	json_object_set_new(doc, "status", credits_json_str(db, row, 11));
	json_object_set_new(doc, "http_status", credits_json_int(db, row, 12));
	json_object_set_new(doc, "latency_ms", credits_json_int(db, row, 13));
	json_object_set_new(doc, "settlement", credits_json_str(db, row, 14));
	json_object_set_new(doc, "created_at", credits_json_str(db, row, 15));

	return (doc);
}

static void
requests_render(struct http_request *req, struct credits_api *st)
{
	struct credits_usage_cursor	 c;
	json_t				*doc, *data;
	const char			*v;
	char				 next[CREDITS_CURSOR_MAX];
	long long			 us;
	int				 i, n;

	n = tg_db_ntuples(&st->db);
	data = json_array();
	for (i = 0; i < n && i < st->limit; i++)
		json_array_append_new(data, request_row(&st->db, i));

	if (n > st->limit) {
		/* What credits_usage_cursor_parse takes back, or a 500. */
		v = tg_db_value(&st->db, st->limit - 1, 0);
		if (!tg_db_num(&st->db, st->limit - 1, 16, 0,
		    CREDITS_CURSOR_NUM_MAX, &us) || v == NULL ||
		    !tg_uuid_valid(v)) {
			json_decref(data);
			tg_error_internal(req, "usage: unreadable cursor");
			return;
		}
		c.started_us = us;
		/* A valid uuid is CREDITS_UUID_LEN long: c.id holds it. */
		(void)kore_strlcpy(c.id, v, sizeof(c.id));
		credits_usage_cursor_format(&c, next, sizeof(next));
		doc = json_pack("{s:s, s:o, s:s}", "object", "list", "data",
		    data, "next_cursor", next);
	} else {
		doc = json_pack("{s:s, s:o, s:n}", "object", "list", "data",
		    data, "next_cursor");
	}
	tg_http_json_steal(req, 200, doc);
}

static void
request_render(struct http_request *req, struct credits_api *st)
{
	if (tg_db_ntuples(&st->db) != 1) {
		tg_error(req, 404, "not_found", NULL, "no such request");
		return;
	}

	tg_http_json_steal(req, 200, request_row(&st->db, 0));
}
