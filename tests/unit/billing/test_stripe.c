/*
 * Stripe as a billing provider: events translated into billing events,
 * the Checkout Session and Refund requests and their answers, the
 * delivery check through the provider table, and the mode (test/live)
 * rule.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tg_test.h"
#include "config.h"
#include "billing/provider.h"
#include "billing/stripe_sig.h"

static const struct billing_provider	*sp = &billing_stripe;

static int
parse(const char *json, struct billing_event *ev)
{
	char	err[256];

	return (sp->parse_event((const uint8_t *)json, strlen(json), ev, err,
	    sizeof(err)));
}

static void
setup(void)
{
	static char	secret[] = "whsec_unit_test_secret_0123456789";

	memset(&tg_conf, 0, sizeof(tg_conf));
	tg_conf.stripe_secret_key = "sk_test_unit";
	tg_conf.stripe_api_url = "http://127.0.0.1:9/";
	tg_conf.stripe_webhook_secrets[0] = secret;
	tg_conf.stripe_webhook_secrets_count = 1;
	tg_conf.billing_enabled = 1;
}

START_TEST(session_completed_paid)
{
	struct billing_event	ev;

	ck_assert_int_eq(parse("{\"id\":\"evt_1\",\"object\":\"event\","
	    "\"type\":\"checkout.session.completed\",\"created\":1700000000,"
	    "\"livemode\":false,\"data\":{\"object\":{\"id\":\"cs_test_1\","
	    "\"object\":\"checkout.session\",\"client_reference_id\":"
	    "\"0b9f3c2e-8d1a-4c5b-9e7f-123456789abc\",\"amount_total\":1000,"
	    "\"currency\":\"USD\",\"payment_status\":\"paid\","
	    "\"payment_intent\":\"pi_1\",\"mode\":\"payment\"}}}", &ev), 1);
	ck_assert_str_eq(ev.id, "evt_1");
	ck_assert_str_eq(ev.type, "checkout.session.completed");
	ck_assert_str_eq(ev.kind, BILLING_KIND_SUCCEEDED);
	ck_assert_int_eq(ev.created, 1700000000);
	ck_assert_int_eq(ev.livemode, 0);
	ck_assert_str_eq(ev.payment_id, "0b9f3c2e-8d1a-4c5b-9e7f-123456789abc");
	ck_assert_str_eq(ev.checkout_ref, "cs_test_1");
	ck_assert_str_eq(ev.payment_ref, "pi_1");
	ck_assert_int_eq(ev.amount, 1000);
	ck_assert_str_eq(ev.currency, "usd");
	ck_assert_int_eq(sp->mode_matches(&ev), 1);
}
END_TEST

START_TEST(session_other_states)
{
	struct billing_event	ev;

	/* Delayed payment method: completed but not paid yet. */
	ck_assert_int_eq(parse("{\"id\":\"evt_2\",\"type\":"
	    "\"checkout.session.completed\",\"data\":{\"object\":{\"id\":"
	    "\"cs_2\",\"client_reference_id\":\"x\",\"payment_status\":"
	    "\"unpaid\",\"payment_intent\":{\"id\":\"pi_2\",\"object\":"
	    "\"payment_intent\"}}}}", &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_PENDING);
	ck_assert_str_eq(ev.payment_ref, "pi_2");	/* expanded object */
	ck_assert_int_eq(ev.amount, -1);
	ck_assert_str_eq(ev.currency, "");
	ck_assert_int_eq(ev.livemode, -1);
	ck_assert_int_eq(sp->mode_matches(&ev), 0);

	ck_assert_int_eq(parse("{\"id\":\"evt_3\",\"type\":"
	    "\"checkout.session.completed\",\"data\":{\"object\":{\"id\":"
	    "\"cs_3\",\"payment_status\":\"no_payment_required\"}}}", &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_ANOMALY);
	ck_assert_ptr_nonnull(strstr(ev.detail, "no_payment_required"));
	ck_assert_str_eq(ev.payment_id, "");

	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":"
	    "\"checkout.session.async_payment_succeeded\",\"data\":{\"object\":"
	    "{\"id\":\"cs_4\",\"client_reference_id\":\"p\",\"amount_total\":5,"
	    "\"currency\":\"krw\",\"payment_status\":\"paid\"}}}", &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_SUCCEEDED);
	ck_assert_str_eq(ev.currency, "krw");

	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":"
	    "\"checkout.session.async_payment_failed\",\"data\":{\"object\":"
	    "{\"id\":\"cs_4\"}}}", &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_FAILED);
	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":"
	    "\"checkout.session.expired\",\"data\":{\"object\":{}}}", &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_EXPIRED);

	/* Unusable references are left empty, never trusted. */
	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":"
	    "\"checkout.session.completed\",\"data\":{\"object\":{"
	    "\"client_reference_id\":\"a b\",\"amount_total\":-5,"
	    "\"currency\":\"us\",\"payment_status\":\"paid\","
	    "\"payment_intent\":7}}}", &ev), 1);
	ck_assert_str_eq(ev.payment_id, "");
	ck_assert_str_eq(ev.payment_ref, "");
	ck_assert_int_eq(ev.amount, -1);
	ck_assert_str_eq(ev.currency, "");
}
END_TEST

START_TEST(charges_and_disputes)
{
	struct billing_event	ev;

	ck_assert_int_eq(parse("{\"id\":\"evt_r\",\"type\":\"charge.refunded\","
	    "\"livemode\":true,\"data\":{\"object\":{\"id\":\"ch_1\",\"object\":"
	    "\"charge\",\"amount\":1000,\"amount_refunded\":400,\"currency\":"
	    "\"usd\",\"payment_intent\":\"pi_1\",\"refunded\":false}}}", &ev),
	    1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_REFUND);
	ck_assert_str_eq(ev.payment_ref, "pi_1");
	ck_assert_int_eq(ev.amount, 400);
	ck_assert_str_eq(ev.detail, "charge ch_1");
	ck_assert_int_eq(ev.livemode, 1);
	ck_assert_int_eq(sp->mode_matches(&ev), 0);	/* test key */

	ck_assert_int_eq(parse("{\"id\":\"evt_d\",\"type\":"
	    "\"charge.dispute.created\",\"data\":{\"object\":{\"id\":\"dp_1\","
	    "\"amount\":1000,\"currency\":\"usd\",\"charge\":\"ch_1\","
	    "\"payment_intent\":\"pi_1\",\"status\":\"needs_response\"}}}",
	    &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_DISPUTE);
	ck_assert_int_eq(ev.amount, 1000);

	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":\"charge.dispute.closed\","
	    "\"data\":{\"object\":{\"id\":\"dp_1\",\"status\":\"won\"}}}", &ev),
	    1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_DISPUTE_WON);
	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":\"charge.dispute.closed\","
	    "\"data\":{\"object\":{\"id\":\"dp_1\",\"status\":\"lost\"}}}",
	    &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_DISPUTE_LOST);
	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":\"charge.dispute.closed\","
	    "\"data\":{\"object\":{\"status\":\"under_review\"}}}", &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_IGNORED);
	ck_assert_int_eq(parse("{\"id\":\"e\",\"type\":"
	    "\"charge.dispute.funds_reinstated\",\"data\":{\"object\":{}}}",
	    &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_DISPUTE_WON);
}
END_TEST

START_TEST(unknown_and_invalid)
{
	struct billing_event	ev;
	static const char	*bad[] = {
		"",
		"[]",
		"{\"id\":\"e\"}",
		"{\"id\":\"e\",\"type\":\"x\"}",
		"{\"id\":\"e\",\"type\":\"x\",\"data\":{\"object\":[]}}",
		"{\"type\":\"x\",\"data\":{\"object\":{}}}",
		"{\"id\":\"\",\"type\":\"x\",\"data\":{\"object\":{}}}",
		"{\"id\":\"e e\",\"type\":\"x\",\"data\":{\"object\":{}}}",
		"{\"id\":5,\"type\":\"x\",\"data\":{\"object\":{}}}",
		"{\"id\":\"e\",\"id\":\"f\",\"type\":\"x\",\"data\":"
		    "{\"object\":{}}}",
		"{\"id\":\"e\",\"type\":\"x\",\"data\":{\"object\":{}}",
	};
	size_t	i;

	ck_assert_int_eq(parse("{\"id\":\"evt_u\",\"type\":"
	    "\"customer.created\",\"data\":{\"object\":{\"id\":\"cus_1\"}}}",
	    &ev), 1);
	ck_assert_str_eq(ev.kind, BILLING_KIND_IGNORED);
	ck_assert_str_eq(ev.type, "customer.created");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &ev) == 0, "accepted %s", bad[i]);
}
END_TEST

START_TEST(live_key_takes_live_events)
{
	struct billing_event	ev;

	memset(&ev, 0, sizeof(ev));
	tg_conf.stripe_secret_key = "sk_live_x";
	ev.livemode = 1;
	ck_assert_int_eq(sp->mode_matches(&ev), 1);
	ev.livemode = 0;
	ck_assert_int_eq(sp->mode_matches(&ev), 0);
	tg_conf.stripe_secret_key = "rk_live_x";
	ev.livemode = 1;
	ck_assert_int_eq(sp->mode_matches(&ev), 1);
	tg_conf.stripe_secret_key = "rk_test_x";
	ev.livemode = 0;
	ck_assert_int_eq(sp->mode_matches(&ev), 1);
}
END_TEST

START_TEST(checkout_request)
{
	struct billing_http	h;
	struct billing_checkout	co;
	int			i, idem;

	memset(&co, 0, sizeof(co));
	co.payment_id = "11111111-2222-3333-4444-555555555555";
	co.package_id = "66666666-7777-8888-9999-000000000000";
	co.name = "Starter & more 10 credits";
	co.price_minor = 1000;
	co.currency = "usd";
	co.success_url = "http://ui.example/billing/success?payment_id=1";
	co.cancel_url = "http://ui.example/billing/cancel?payment_id=1";

	ck_assert_int_eq(sp->checkout_request(&co, &h), 1);
	ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1/checkout/sessions");
	ck_assert_ptr_nonnull(strstr(h.body, "mode=payment&"));
	ck_assert_ptr_nonnull(strstr(h.body, "client_reference_id="
	    "11111111-2222-3333-4444-555555555555&"));
	ck_assert_ptr_nonnull(strstr(h.body, "success_url=http%3A%2F%2F"
	    "ui.example%2Fbilling%2Fsuccess%3Fpayment_id%3D1&"));
	ck_assert_ptr_nonnull(strstr(h.body, "line_items%5B0%5D%5Bprice_data"
	    "%5D%5Bunit_amount%5D=1000&"));
	ck_assert_ptr_nonnull(strstr(h.body, "line_items%5B0%5D%5Bprice_data"
	    "%5D%5Bcurrency%5D=usd&"));
	ck_assert_ptr_nonnull(strstr(h.body, "%5Bproduct_data%5D%5Bname%5D="
	    "Starter%20%26%20more%2010%20credits&"));
	ck_assert_ptr_nonnull(strstr(h.body, "line_items%5B0%5D%5Bquantity"
	    "%5D=1&"));
	ck_assert_int_eq(h.body_len, strlen(h.body));

	idem = 0;
	for (i = 0; i < h.nheaders; i++) {
		if (!strcmp(h.headers[i], "Idempotency-Key: tollgate-checkout-"
		    "11111111-2222-3333-4444-555555555555"))
			idem = 1;
	}
	ck_assert_int_eq(idem, 1);
	ck_assert_str_eq(h.headers[0], "Authorization: Bearer sk_test_unit");
	ck_assert_str_eq(h.headers[1],
	    "Content-Type: application/x-www-form-urlencoded");
	billing_http_free(&h);
	ck_assert_ptr_null(h.url);
}
END_TEST

START_TEST(checkout_response)
{
	struct billing_checkout_result	r;
	const char			*ok, *err;

	ok = "{\"id\":\"cs_test_a1\",\"object\":\"checkout.session\","
	    "\"url\":\"https://checkout.stripe.com/c/pay/cs_test_a1\"}";
	ck_assert_int_eq(sp->checkout_response(200, (const uint8_t *)ok,
	    strlen(ok), &r), 1);
	ck_assert_str_eq(r.session_id, "cs_test_a1");
	ck_assert_str_eq(r.url, "https://checkout.stripe.com/c/pay/cs_test_a1");

	err = "{\"error\":{\"type\":\"invalid_request_error\",\"message\":"
	    "\"Invalid currency: zzz\\n\\u00e9\"}}";
	ck_assert_int_eq(sp->checkout_response(400, (const uint8_t *)err,
	    strlen(err), &r), 0);
	ck_assert_str_eq(r.error, "Stripe answered 400: Invalid currency: "
	    "zzz \xc3\xa9");

	/* Our secrets and anything key-shaped are redacted, whole. */
	err = "{\"error\":{\"message\":\"Invalid API Key provided: "
	    "sk_test_unit; whsec_unit_test_secret_0123456789, "
	    "rk_live_abcDEF123_x, sk_live_Q-rest, Xsk_test_1 too\"}}";
	ck_assert_int_eq(sp->checkout_response(401, (const uint8_t *)err,
	    strlen(err), &r), 0);
	ck_assert_str_eq(r.error, "Stripe answered 401: Invalid API Key "
	    "provided: ***; ***, ***, ***-rest, X*** too");

	/* A cut inside a character leaves valid UTF-8. */
	{
		char	big[600];
		int	n;

		n = snprintf(big, sizeof(big), "{\"error\":{\"message\":\"");
		memset(big + n, 'a', 254);
		n += 254;
		n += snprintf(big + n, sizeof(big) - n, "\xc3\xa9\"}}");
		ck_assert_int_eq(sp->checkout_response(400,
		    (const uint8_t *)big, (size_t)n, &r), 0);
		ck_assert_str_eq(r.error + strlen(r.error) - 2, "a?");
	}

	ck_assert_int_eq(sp->checkout_response(500, (const uint8_t *)"<html>",
	    6, &r), 0);
	ck_assert_str_eq(r.error, "Stripe answered 500: no error message");
	ck_assert_int_eq(sp->checkout_response(200, (const uint8_t *)"{}", 2,
	    &r), 0);
	ck_assert_int_eq(sp->checkout_response(200, (const uint8_t *)
	    "{\"id\":\"cs\",\"url\":\"javascript:x\"}", 32, &r), 0);
	ck_assert_int_eq(sp->checkout_response(200, NULL, 0, &r), 0);
}
END_TEST

START_TEST(refund_request)
{
	struct billing_http	h;
	struct billing_refund	rf;

	memset(&rf, 0, sizeof(rf));
	rf.refund_id = "aaaaaaaa-2222-3333-4444-555555555555";
	rf.payment_id = "11111111-2222-3333-4444-555555555555";
	rf.payment_ref = "pi_3Abc";
	rf.amount_minor = 250;

	ck_assert_int_eq(sp->refund_request(&rf, &h), 1);
	ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1/refunds");
	ck_assert_str_eq(h.body, "payment_intent=pi_3Abc&amount=250&"
	    "metadata%5Btollgate_refund_id%5D="
	    "aaaaaaaa-2222-3333-4444-555555555555&"
	    "metadata%5Btollgate_payment_id%5D="
	    "11111111-2222-3333-4444-555555555555");
	ck_assert_int_eq(h.body_len, strlen(h.body));
	ck_assert_int_eq(h.nheaders, 4);
	ck_assert_str_eq(h.headers[0], "Authorization: Bearer sk_test_unit");
	ck_assert_str_eq(h.headers[1],
	    "Content-Type: application/x-www-form-urlencoded");
	ck_assert_str_eq(h.headers[2], "Idempotency-Key: tollgate-refund-"
	    "aaaaaaaa-2222-3333-4444-555555555555");
	billing_http_free(&h);

	/* Nothing to refund, or no PaymentIntent: no request. */
	rf.amount_minor = 0;
	ck_assert_int_eq(sp->refund_request(&rf, &h), 0);
	rf.amount_minor = 1;
	rf.payment_ref = "";
	ck_assert_int_eq(sp->refund_request(&rf, &h), 0);
	ck_assert_ptr_null(h.url);
}
END_TEST

static void
refund_answer(long status, const char *body, int64_t amount,
    struct billing_refund_result *r)
{
	sp->refund_response(status, (const uint8_t *)body,
	    body != NULL ? strlen(body) : 0, amount, r);
}

START_TEST(refund_response)
{
	struct billing_refund_result	r;

	refund_answer(200, "{\"id\":\"re_1\",\"object\":\"refund\","
	    "\"amount\":250,\"status\":\"succeeded\"}", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_MADE);
	ck_assert_str_eq(r.ref, "re_1");
	ck_assert_str_eq(r.status, "succeeded");
	refund_answer(200, "{\"id\":\"re_2\",\"amount\":9,"
	    "\"status\":\"pending\"}", 9, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_MADE);
	ck_assert_str_eq(r.status, "pending");

	/* A 4xx made no refund: refused, Stripe's message redacted. */
	refund_answer(400, "{\"error\":{\"code\":\"amount_too_large\","
	    "\"message\":\"Refund amount is greater than unrefunded amount "
	    "(sk_test_unit)\"}}", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_REFUSED);
	ck_assert_str_eq(r.error, "Stripe answered 400: Refund amount is "
	    "greater than unrefunded amount (***)");
	refund_answer(401, "{}", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_REFUSED);

	/* No definite answer: sent again later with the same key. */
	refund_answer(500, "<html>", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_UNKNOWN);
	ck_assert_str_eq(r.error, "Stripe answered 500: no error message");
	refund_answer(409, "{\"error\":{\"message\":\"in progress\"}}", 250,
	    &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_UNKNOWN);
	refund_answer(429, NULL, 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_UNKNOWN);
	refund_answer(200, "{}", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_UNKNOWN);
	refund_answer(200, "{\"id\":\"re_3\",\"amount\":250,"
	    "\"status\":\"done\"}", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_UNKNOWN);
	refund_answer(200, "{\"id\":\"re_3\",\"amount\":\"250\","
	    "\"status\":\"succeeded\"}", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_UNKNOWN);
	/* Another amount than asked is not our refund. */
	refund_answer(200, "{\"id\":\"re_4\",\"amount\":300,"
	    "\"status\":\"succeeded\"}", 250, &r);
	ck_assert_int_eq(r.outcome, BILLING_REFUND_UNKNOWN);
	ck_assert_str_eq(r.error, "Stripe answered a refund of 300, not 250");
}
END_TEST

static const char *
hdr_get(void *arg, const char *name)
{
	return (!strcmp(name, "stripe-signature") ? arg : NULL);
}

START_TEST(verify_through_provider)
{
	struct billing_delivery	d;
	unsigned char		mac[32];
	char			hdr[128], hex[65], ts[24];
	const char		*body = "{\"id\":\"evt_1\"}";
	int64_t			now = 1700000000;

	(void)snprintf(ts, sizeof(ts), "%lld", (long long)now);
	stripe_sig_compute(tg_conf.stripe_webhook_secrets[0], ts,
	    (const uint8_t *)body, strlen(body), mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	(void)snprintf(hdr, sizeof(hdr), "t=%s,v1=%s", ts, hex);

	d.header = hdr_get;
	d.arg = hdr;
	d.body = (const uint8_t *)body;
	d.body_len = strlen(body);
	ck_assert_int_eq(sp->verify(&d, now), BILLING_VERIFY_OK);
	ck_assert_int_eq(sp->verify(&d, now + 301), BILLING_VERIFY_STALE);
	d.arg = NULL;
	ck_assert_int_eq(sp->verify(&d, now), BILLING_VERIFY_MISSING);
	ck_assert_str_eq(billing_verify_strerror(BILLING_VERIFY_MISSING),
	    "the signature header is missing");
}
END_TEST

START_TEST(return_urls)
{
	char	out[128];

	ck_assert_int_eq(billing_return_url(out, sizeof(out),
	    "https://app.example/", "success", "abc"), 1);
	ck_assert_str_eq(out, "https://app.example/billing/success?"
	    "payment_id=abc");
	ck_assert_int_eq(billing_return_url(out, sizeof(out),
	    "https://app.example/ui", "cancel", "abc"), 1);
	ck_assert_str_eq(out, "https://app.example/ui/billing/cancel?"
	    "payment_id=abc");
	ck_assert_int_eq(billing_return_url(out, 20, "https://app.example",
	    "cancel", "abc"), 0);
}
END_TEST

static Suite *
stripe_suite(void)
{
	Suite	*s = suite_create("stripe");
	TCase	*tc = tcase_create("stripe");

	if (sodium_init() < 0)
		abort();
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, session_completed_paid);
	tcase_add_test(tc, session_other_states);
	tcase_add_test(tc, charges_and_disputes);
	tcase_add_test(tc, unknown_and_invalid);
	tcase_add_test(tc, live_key_takes_live_events);
	tcase_add_test(tc, checkout_request);
	tcase_add_test(tc, checkout_response);
	tcase_add_test(tc, refund_request);
	tcase_add_test(tc, refund_response);
	tcase_add_test(tc, verify_through_provider);
	tcase_add_test(tc, return_urls);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(stripe_suite)
