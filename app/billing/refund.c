/*
 * POST /api/admin/payments/{id}/refund {"amount_minor"?} (admins; a
 * session or an admin token): refunds all that is left of a paid
 * payment, or amount_minor of it, through the provider's refund API.
 * Nothing is booked here: the provider's refund webhook takes the
 * credits back, as for any refund (docs/billing.md, docs/admin.md).
 *
 *   BEGIN   check the path, the body and the Idempotency-Key header;
 *           billing_refund_begin() decides and records the refund to
 *           send (sql/0500_admin_refunds.sql), or answers a refusal or
 *           the refund this key already made
 *   BEGUN   build the provider's request and send it (no transaction is
 *           open while the provider answers)
 *   SENT    the provider answered, or not: billing_refund_finish()
 *           stores its word and writes the audit row
 *   SAVED   answer the refund (200), or 502 upstream_error (504
 *           upstream_timeout) with the provider's message, redacted
 *
 * The provider request's idempotency key is derived from our refund row,
 * so sending it again (a retry after a lost answer) never refunds twice;
 * a second request while the first call is out gets 409
 * refund_in_progress.
 */

#include <string.h>

#include "billing/billing.h"
#include "billing/package.h"
#include "lex.h"

#define RF_BEGIN	0
#define RF_BEGUN	1
#define RF_SENT		2
#define RF_SAVED	3

struct refund {
	struct tg_db			 db;
	struct tg_fetch			 fetch;
	const struct billing_provider	*provider;
	char				 payment_id[TG_UUID_LEN + 1];
	char				 refund_id[TG_ID_MAX];
	long long			 amount;
	struct billing_refund_result	 res;
	int				 status;	/* 200, 502, 504 */
};

static int	refund_begin(struct http_request *);
static int	refund_begun(struct http_request *);
static int	refund_sent(struct http_request *);
static int	refund_saved(struct http_request *);
static int	refund_amount(struct http_request *, char *, size_t,
		    const char **);
static int	refund_key(struct http_request *, const char **);
static int	refund_refused(struct http_request *, struct refund *,
		    const char *);
static int	refund_send(struct http_request *, struct refund *);
static void	refund_finish(struct http_request *, struct refund *);
static const char *refund_actor_token(struct http_request *);
static void	refund_free(struct http_request *, void *);

static struct http_state	refund_states[] = {
	KORE_HTTP_STATE(refund_begin),
	KORE_HTTP_STATE(refund_begun),
	KORE_HTTP_STATE(refund_sent),
	KORE_HTTP_STATE(refund_saved),
};

static const char	SQL_BEGIN[] =
	"SELECT result, refund_id, payment_ref, amount_minor, currency, "
	"body::text, detail FROM billing_refund_begin($1::uuid, $2::uuid, "
	"$3::uuid, $4::bigint, $5)";

static const char	SQL_FINISH[] =
	"SELECT body::text FROM billing_refund_finish($1::uuid, $2::uuid, "
	"$3::uuid, $4, $5, $6, $7)";

static const char *const	outcomes[] = { "made", "refused", "unknown" };

int
billing_refund(struct http_request *req)
{
	return (http_state_run(refund_states,
	    sizeof(refund_states) / sizeof(refund_states[0]), req));
}

static int
refund_begin(struct http_request *req)
{
	struct refund	*rf;
	const char	*id, *params[5];
	char		 amount[24];
	size_t		 i;

	if (billing_disabled(req))
		return (HTTP_STATE_COMPLETE);
	id = tg_param(req, 0);
	if (id == NULL || !tg_uuid_valid(id)) {
		tg_error(req, 404, "not_found", NULL, "no such payment");
		return (HTTP_STATE_COMPLETE);
	}
	if (!refund_amount(req, amount, sizeof(amount), &params[3]) ||
	    !refund_key(req, &params[4]))
		return (HTTP_STATE_COMPLETE);

	rf = tg_state_alloc(req, sizeof(*rf), refund_free);
	rf->provider = &billing_stripe;
	for (i = 0; i < TG_UUID_LEN; i++)
		rf->payment_id[i] = id[i];
	rf->payment_id[TG_UUID_LEN] = '\0';

	params[0] = tg_ctx(req)->who.user_id;
	params[1] = refund_actor_token(req);
	params[2] = rf->payment_id;
	/* Writes a row: never sent twice (a lost answer is a 503). */
	tg_db_start(&rf->db, req, 0, SQL_BEGIN, 5, params);

	req->fsm_state = RF_BEGUN;
	return (HTTP_STATE_CONTINUE);
}

/*
 * The body (billing_refund_parse): *param is NULL (all that is left) or
 * buf with the amount. 0 when answered 400.
 */
static int
refund_amount(struct http_request *req, char *buf, size_t len,
    const char **param)
{
	struct billing_refund_in	 in;
	const u_int8_t			*data;
	size_t				 n;
	json_t				*body;
	int				 ok;

	*param = NULL;
	body = NULL;
	if (tg_http_body(req, &data, &n) &&
	    (body = tg_http_body_json(req)) == NULL)
		return (0);
	ok = billing_refund_parse(body, &in);
	json_decref(body);
	if (!ok && strcmp(in.param, "amount_minor")) {
		tg_error(req, 400, "invalid_value", in.param, "unknown field; "
		    "the body may only have amount_minor");
		return (0);
	}
	if (!ok) {
		tg_error(req, 400, "invalid_value", "amount_minor",
		    "amount_minor must be an integer from 1 to %lld (the "
		    "payment's minor currency unit)", BILLING_PRICE_MAX);
		return (0);
	}
	if (in.amount_minor > 0) {
		(void)snprintf(buf, len, "%lld", (long long)in.amount_minor);
		*param = buf;
	}
	return (1);
}

/* The client's Idempotency-Key, if any (billing_refund_key_valid). */
static int
refund_key(struct http_request *req, const char **param)
{
	const char	*k;

	*param = NULL;
	if ((k = tg_http_header(req, "idempotency-key")) == NULL)
		return (1);
	if (!billing_refund_key_valid(k)) {
		tg_error(req, 400, "invalid_value", "Idempotency-Key",
		    "Idempotency-Key must be 1 to %d printable ASCII "
		    "characters without spaces", BILLING_REFUND_KEY_MAX);
		return (0);
	}
	*param = k;
	return (1);
}

static int
refund_begun(struct http_request *req)
{
	struct refund	*rf = tg_state(req);
	const char	*result, *id, *body;
	json_t		*doc;
	int		 rc;

	if ((rc = tg_db_wait(req, &rf->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	result = tg_db_ntuples(&rf->db) == 1 ?
	    tg_db_value(&rf->db, 0, 0) : NULL;
	if (result == NULL) {
		tg_error_internal(req, "billing: refund begin answered nothing");
		return (HTTP_STATE_COMPLETE);
	}
	if (!strcmp(result, "replay")) {
		if ((body = tg_db_value(&rf->db, 0, 5)) == NULL ||
		    (doc = json_loads(body, 0, NULL)) == NULL) {
			tg_error_internal(req, "billing: refund row unreadable");
			return (HTTP_STATE_COMPLETE);
		}
		tg_http_json_steal(req, 200, doc);
		return (HTTP_STATE_COMPLETE);
	}
	if (strcmp(result, "send"))
		return (refund_refused(req, rf, result));

	/* Without our refund's id there is no row to finish. */
	if ((id = tg_db_value(&rf->db, 0, 1)) == NULL ||
	    kore_strlcpy(rf->refund_id, id, sizeof(rf->refund_id)) >=
	    sizeof(rf->refund_id)) {
		tg_error_internal(req, "billing: refund row without id");
		return (HTTP_STATE_COMPLETE);
	}
	if (!tg_db_num(&rf->db, 0, 3, 1, BILLING_PRICE_MAX, &rf->amount) ||
	    !refund_send(req, rf)) {
		rf->res.outcome = BILLING_REFUND_UNKNOWN;
		(void)kore_strlcpy(rf->res.error, "the refund request could "
		    "not be built", sizeof(rf->res.error));
		refund_finish(req, rf);
		return (HTTP_STATE_CONTINUE);
	}

	req->fsm_state = RF_SENT;
	return (HTTP_STATE_RETRY);
}

/* billing_refund_begin said no: its result as the contract's error. */
static int
refund_refused(struct http_request *req, struct refund *rf,
    const char *result)
{
	const char	*detail, *currency;
	long long	 left;

	detail = tg_db_value(&rf->db, 0, 6);
	if (!strcmp(result, "not_admin")) {
		tg_error(req, 403, "not_admin", NULL,
		    "this needs an administrator");
	} else if (!strcmp(result, "not_found")) {
		tg_error(req, 404, "not_found", NULL, "no such payment");
	} else if (!strcmp(result, "not_refundable") && detail != NULL) {
		tg_error(req, 409, "not_refundable", NULL, "%s", detail);
	} else if (!strcmp(result, "in_progress")) {
		tg_error(req, 409, "refund_in_progress", NULL, "refund %s of "
		    "this payment is being made; ask again in a moment",
		    tg_db_value(&rf->db, 0, 1) != NULL ?
		    tg_db_value(&rf->db, 0, 1) : "(unknown)");
	} else if (!strcmp(result, "conflict")) {
		tg_error(req, 409, "idempotency_conflict", "Idempotency-Key",
		    "this Idempotency-Key was used for another amount");
	} else if (!strcmp(result, "too_much") &&
	    tg_db_num(&rf->db, 0, 3, 1, BILLING_PRICE_MAX, &left) &&
	    (currency = tg_db_value(&rf->db, 0, 4)) != NULL) {
		tg_error(req, 400, "amount_exceeds_refundable", "amount_minor",
		    "amount_minor is more than the %lld %s still refundable",
		    left, currency);
	} else {
		tg_error_internal(req, "billing: refund begin answered badly");
	}
	return (HTTP_STATE_COMPLETE);
}

/* The provider's request for this refund, sent. */
static int
refund_send(struct http_request *req, struct refund *rf)
{
	struct billing_refund	 in;
	struct billing_http	 h;

	memset(&in, 0, sizeof(in));
	in.refund_id = rf->refund_id;
	in.payment_id = rf->payment_id;
	in.payment_ref = tg_db_value(&rf->db, 0, 2);
	in.amount_minor = rf->amount;
	if (in.payment_ref == NULL || !rf->provider->refund_request(&in, &h))
		return (0);
	tg_db_clear(&rf->db);
	return (billing_http_start(req, &rf->fetch, &h));
}

static int
refund_sent(struct http_request *req)
{
	struct refund	*rf = tg_state(req);

	switch (tg_fetch_poll(&rf->fetch)) {
	case TG_FETCH_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_FETCH_FAILED:
		rf->res.outcome = BILLING_REFUND_UNKNOWN;
		(void)snprintf(rf->res.error, sizeof(rf->res.error),
		    "%s %s: %s", rf->provider->name, rf->fetch.timed_out ?
		    "did not answer in time" : "could not be reached",
		    rf->fetch.error);
		if (rf->fetch.timed_out)
			rf->status = 504;
		break;
	default:
		rf->provider->refund_response(rf->fetch.status,
		    rf->fetch.body, rf->fetch.body_len, rf->amount, &rf->res);
		break;
	}
	tg_fetch_clear(&rf->fetch);

	refund_finish(req, rf);
	return (HTTP_STATE_CONTINUE);
}

/* Store the provider's word (and the audit row); the answer follows. */
static void
refund_finish(struct http_request *req, struct refund *rf)
{
	const char	*params[7];

	if (rf->res.outcome != BILLING_REFUND_MADE) {
		if (rf->status == 0)
			rf->status = 502;
		billing_redact(rf->res.error);
		kore_log(LOG_NOTICE, "rid=%s billing: refund %s of payment %s "
		    "failed: %s", tg_request_id(req), rf->refund_id,
		    rf->payment_id, rf->res.error);
	} else {
		rf->status = 200;
	}

	tg_db_clear(&rf->db);
	params[0] = tg_ctx(req)->who.user_id;
	params[1] = refund_actor_token(req);
	params[2] = rf->refund_id;
	params[3] = outcomes[rf->res.outcome];
	params[4] = rf->status == 200 ? rf->res.ref : NULL;
	params[5] = rf->status == 200 ? rf->res.status : NULL;
	params[6] = rf->status == 200 ? NULL : rf->res.error;
	/* Idempotent: storing the same word twice changes nothing more. */
	tg_db_start(&rf->db, req, TG_DB_RETRY, SQL_FINISH, 7, params);

	req->fsm_state = RF_SAVED;
}

static int
refund_saved(struct http_request *req)
{
	struct refund	*rf = tg_state(req);
	const char	*body;
	json_t		*doc;
	int		 rc;

	if ((rc = tg_db_wait(req, &rf->db)) != HTTP_STATE_CONTINUE)
		return (rc);

	if (rf->status != 200) {
		tg_error(req, rf->status, rf->status == 504 ?
		    "upstream_timeout" : "upstream_error", NULL,
		    "the refund could not be made (refund %s): %s",
		    rf->refund_id, rf->res.error);
		return (HTTP_STATE_COMPLETE);
	}
	if (tg_db_ntuples(&rf->db) != 1 ||
	    (body = tg_db_value(&rf->db, 0, 0)) == NULL ||
	    (doc = json_loads(body, 0, NULL)) == NULL) {
		tg_error_internal(req, "billing: refund row unreadable");
		return (HTTP_STATE_COMPLETE);
	}
	tg_http_json_steal(req, 200, doc);
	return (HTTP_STATE_COMPLETE);
}

/* The admin token the caller acts with, or NULL (a session). */
static const char *
refund_actor_token(struct http_request *req)
{
	const char	*id = tg_ctx(req)->who.admin_token_id;

	return (id[0] != '\0' ? id : NULL);
}

static void
refund_free(struct http_request *req, void *arg)
{
	struct refund	*rf = arg;

	(void)req;
	tg_db_clear(&rf->db);
	tg_fetch_clear(&rf->fetch);
}
