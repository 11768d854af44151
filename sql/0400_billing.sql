-- Billing (CONTRACT §8): credit packages, payments, and payment-provider
-- events that credit the ledger exactly once.
--
-- A payment is created by us, server-side, when a user starts a checkout:
-- it freezes the package's price, currency and credits at that moment,
-- and its id travels to the provider (Stripe: client_reference_id). What
-- a paid payment grants is always read from this row, never from an
-- event; the event's amount and currency are only compared with it.
--
-- Provider events are applied by billing_apply_event(), one call in one
-- transaction: the event is recorded by (provider, event id) first, so a
-- replay finds its row and changes nothing; its effect goes to the ledger
-- through credits_grant() with idempotency keys derived from our payment
-- id; the event row and the payment row change in the same transaction.
--
-- Order independence. Providers deliver at least once and in any order.
-- The grant is keyed on the payment ('billing:<provider>:grant:<id>'),
-- so every "paid" event after the first is a no-op. Refunds and disputes
-- set monotone facts on the payment (refunded_minor is the largest
-- cumulative refund seen; a dispute opens once and closes once), and
-- billing_reconcile() posts only the difference between what the facts
-- say should have been clawed back and what was. A refund that arrives
-- before its payment is known is kept as 'unmatched' with its payment
-- reference and applied when the payment learns that reference, under
-- one advisory lock per reference so neither side can miss the other.
-- Any order of the same events thus ends in the same ledger balance.
--
-- Payment states ('status'):
--   pending             checkout opened, nothing paid yet
--   processing          checkout completed, a delayed payment method
--   paid                credited
--   partially_refunded  credited; part refunded and clawed back
--   refunded            credited; all refunded and clawed back
--   disputed            credited; a dispute is open or was lost (clawed back)
--   failed              the checkout could not be opened, or payment failed
--   expired             the checkout expired unpaid
--   flagged             the provider's facts contradict ours (amount,
--                       currency, session): nothing credited, see 'flag'

CREATE TABLE billing_packages (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name		text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
	price_minor	bigint NOT NULL
			CHECK (price_minor BETWEEN 1 AND 99999999),
	currency	text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
	credits_micros	bigint NOT NULL
			CHECK (credits_micros BETWEEN 1 AND 1000000000000000),
	active		boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);

-- A fresh install can sell credits (CONTRACT §8).
INSERT INTO billing_packages (name, price_minor, currency, credits_micros)
VALUES	('10 credits', 1000, 'usd', 10000000),
	('50 credits', 4500, 'usd', 50000000);

CREATE TABLE billing_payments (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id),
	provider	text NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
	package_id	uuid NOT NULL REFERENCES billing_packages (id),
	package_name	text NOT NULL,
	amount_minor	bigint NOT NULL CHECK (amount_minor > 0),
	currency	text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
	credits_micros	bigint NOT NULL CHECK (credits_micros > 0),
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'processing', 'paid',
			    'partially_refunded', 'refunded', 'disputed',
			    'failed', 'expired', 'flagged')),
	checkout_ref	text,		-- Stripe: the Checkout Session (cs_...)
	checkout_url	text,
	payment_ref	text,		-- Stripe: the PaymentIntent (pi_...)
	granted		boolean NOT NULL DEFAULT false,
	refunded_minor	bigint NOT NULL DEFAULT 0
			CHECK (refunded_minor BETWEEN 0 AND amount_minor),
	disputed_minor	bigint NOT NULL DEFAULT 0
			CHECK (disputed_minor BETWEEN 0 AND amount_minor),
	dispute_state	text CHECK (dispute_state IN ('open', 'won', 'lost')),
	clawed_refund_micros	bigint NOT NULL DEFAULT 0,
	clawed_dispute_micros	bigint NOT NULL DEFAULT 0,
	credited_micros	bigint GENERATED ALWAYS AS (
			    CASE WHEN granted THEN credits_micros ELSE 0 END -
			    clawed_refund_micros - clawed_dispute_micros) STORED,
	ledger_seq	integer NOT NULL DEFAULT 0,
	flag		text,		-- why a human should look at it
	failure		text,		-- why it failed
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	paid_at		timestamptz,
	UNIQUE (provider, checkout_ref),
	UNIQUE (provider, payment_ref)
);

CREATE INDEX billing_payments_user ON billing_payments
    (user_id, created_at DESC, id DESC);

CREATE TABLE billing_events (
	id		bigserial PRIMARY KEY,
	provider	text NOT NULL,
	event_id	text NOT NULL
			CHECK (char_length(event_id) BETWEEN 1 AND 255),
	event_type	text NOT NULL,
	kind		text NOT NULL,
	event_created	timestamptz,
	livemode	boolean,
	payment_id	uuid REFERENCES billing_payments (id),
	payment_ref	text,
	amount_minor	bigint,
	currency	text,
	status		text NOT NULL
			CHECK (status IN ('received', 'processed', 'ignored',
			    'unmatched', 'flagged')),
	detail		text,
	body		text NOT NULL,
	received_at	timestamptz NOT NULL DEFAULT now(),
	processed_at	timestamptz,
	UNIQUE (provider, event_id)
);

CREATE INDEX billing_events_unmatched ON billing_events (provider, payment_ref)
    WHERE status = 'unmatched';

-- The state a payment shows, from its facts.
CREATE FUNCTION billing_payment_status(p billing_payments) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
	    WHEN p.granted THEN CASE
		WHEN p.dispute_state IN ('open', 'lost') THEN 'disputed'
		WHEN p.refunded_minor >= p.amount_minor THEN 'refunded'
		WHEN p.refunded_minor > 0 THEN 'partially_refunded'
		ELSE 'paid' END
	    WHEN p.flag IS NOT NULL THEN 'flagged'
	    ELSE p.status END;
$$;

-- One ledger movement for a payment; anything but ok/duplicate is a bug.
CREATE FUNCTION billing_post(p billing_payments, p_amount bigint,
    p_kind text, p_key text, p_allow_debt boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_result	text;
BEGIN
	SELECT g.result INTO v_result FROM credits_grant(p.user_id, p_amount,
	    p_kind, 'payment:' || p.id, p_key, p_allow_debt) g;
	IF v_result NOT IN ('ok', 'duplicate') THEN
		RAISE EXCEPTION 'billing: ledger answered % for % of payment %',
		    v_result, p_key, p.id;
	END IF;
END;
$$;

--
-- Bring the ledger in line with a (locked) payment's facts: the refunded
-- share and the disputed share of its credits are clawed back (rounded up,
-- so a full refund claws back exactly what was granted), and a dispute
-- won gives its share back. Posts only differences; may leave the user in
-- debt (credits_grant with p_allow_debt), which blocks usage until repaid.
--
CREATE FUNCTION billing_reconcile(p_payment uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	p		billing_payments;
	v_refund	bigint := 0;
	v_total		bigint := 0;
	v_delta		bigint;
BEGIN
	SELECT * INTO p FROM billing_payments WHERE id = p_payment;

	IF p.granted THEN
		v_refund := ceil(p.credits_micros::numeric * p.refunded_minor /
		    p.amount_minor);
		v_total := ceil(p.credits_micros::numeric *
		    least(p.refunded_minor + p.disputed_minor, p.amount_minor) /
		    p.amount_minor);
	END IF;

	v_delta := v_refund - p.clawed_refund_micros;
	IF v_delta <> 0 THEN
		p.ledger_seq := p.ledger_seq + 1;
		PERFORM billing_post(p, -v_delta,
		    CASE WHEN v_delta > 0 THEN 'refund' ELSE 'purchase' END,
		    format('billing:%s:adjust:%s:%s', p.provider, p.id,
		    p.ledger_seq), true);
		p.clawed_refund_micros := v_refund;
	END IF;

	v_delta := (v_total - v_refund) - p.clawed_dispute_micros;
	IF v_delta <> 0 THEN
		p.ledger_seq := p.ledger_seq + 1;
		PERFORM billing_post(p, -v_delta,
		    CASE WHEN v_delta > 0 THEN 'dispute' ELSE 'dispute_won' END,
		    format('billing:%s:adjust:%s:%s', p.provider, p.id,
		    p.ledger_seq), true);
		p.clawed_dispute_micros := v_total - v_refund;
	END IF;

	UPDATE billing_payments SET
	    clawed_refund_micros = p.clawed_refund_micros,
	    clawed_dispute_micros = p.clawed_dispute_micros,
	    ledger_seq = p.ledger_seq,
	    status = billing_payment_status(p),
	    updated_at = now()
	    WHERE id = p.id;
END;
$$;

-- A refund or dispute fact on a (locked) payment; monotone, see above.
CREATE FUNCTION billing_charge_fact(p_payment uuid, p_kind text,
    p_amount bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF p_kind = 'refund' AND p_amount IS NOT NULL THEN
		UPDATE billing_payments SET refunded_minor =
		    greatest(refunded_minor, least(p_amount, amount_minor))
		    WHERE id = p_payment;
	ELSIF p_kind = 'dispute_opened' THEN
		UPDATE billing_payments SET dispute_state = 'open',
		    disputed_minor = least(coalesce(p_amount, amount_minor),
		    amount_minor)
		    WHERE id = p_payment AND dispute_state IS NULL;
	ELSIF p_kind = 'dispute_won' THEN
		UPDATE billing_payments SET dispute_state = 'won',
		    disputed_minor = 0
		    WHERE id = p_payment;
	ELSIF p_kind = 'dispute_lost' THEN
		UPDATE billing_payments SET dispute_state = 'lost',
		    disputed_minor = least(coalesce(p_amount,
		    nullif(disputed_minor, 0), amount_minor), amount_minor)
		    WHERE id = p_payment;
	END IF;
END;
$$;

-- Mark a (locked) payment for a human; never un-credits anything.
CREATE FUNCTION billing_flag(p_payment uuid, p_reason text) RETURNS void
LANGUAGE sql AS $$
	UPDATE billing_payments SET flag = coalesce(flag, p_reason),
	    status = CASE WHEN granted THEN status ELSE 'flagged' END,
	    updated_at = now()
	    WHERE id = p_payment;
$$;

--
-- Checkout events: the payment is ours by id (client_reference_id).
-- Returns the event's outcome and a detail for the event row.
--
CREATE FUNCTION billing_apply_checkout(p_provider text, p_kind text,
    p_payment_id text, p_checkout_ref text, p_payment_ref text,
    p_amount bigint, p_currency text, p_detail text,
    OUT outcome text, OUT payment_id uuid, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
	p	billing_payments;
	e	billing_events;
BEGIN
	outcome := 'processed';
	IF p_payment_id IS NULL OR p_payment_id !~*
	    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		outcome := 'unmatched';
		detail := 'the event references no payment of ours';
		RETURN;
	END IF;

	-- Same lock order as refunds: the reference first, then the row.
	IF p_payment_ref IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(hashtextextended(
		    p_provider || ':' || p_payment_ref, 0));
	END IF;
	SELECT * INTO p FROM billing_payments b
	    WHERE b.id = p_payment_id::uuid AND b.provider = p_provider
	    FOR UPDATE;
	IF NOT FOUND THEN
		outcome := 'unmatched';
		detail := 'the event references no payment of ours';
		RETURN;
	END IF;
	payment_id := p.id;

	IF p_checkout_ref IS NOT NULL AND p.checkout_ref IS NOT NULL AND
	    p.checkout_ref <> p_checkout_ref THEN
		detail := format('checkout %s is not the one opened for '
		    'payment %s (%s)', p_checkout_ref, p.id, p.checkout_ref);
	ELSIF p_payment_ref IS NOT NULL AND ((p.payment_ref IS NOT NULL AND
	    p.payment_ref <> p_payment_ref) OR EXISTS (SELECT 1 FROM
	    billing_payments b WHERE b.provider = p_provider AND
	    b.payment_ref = p_payment_ref AND b.id <> p.id)) THEN
		detail := format('payment reference %s does not belong to '
		    'payment %s', p_payment_ref, p.id);
	END IF;
	IF detail IS NOT NULL THEN
		outcome := 'flagged';
		PERFORM billing_flag(p.id, detail);
		RETURN;
	END IF;

	UPDATE billing_payments b SET
	    checkout_ref = coalesce(b.checkout_ref, p_checkout_ref),
	    payment_ref = coalesce(b.payment_ref, p_payment_ref),
	    updated_at = now()
	    WHERE b.id = p.id;

	IF p_kind = 'payment_anomaly' THEN
		outcome := 'flagged';
		detail := p_detail;
		PERFORM billing_flag(p.id, p_detail);
	ELSIF p_kind = 'checkout_expired' THEN
		UPDATE billing_payments b SET status = 'expired'
		    WHERE b.id = p.id AND b.status = 'pending';
	ELSIF p_kind = 'payment_failed' THEN
		UPDATE billing_payments b SET status = 'failed',
		    failure = 'the payment failed'
		    WHERE b.id = p.id AND b.status IN ('pending',
		    'processing', 'expired');
	ELSIF p_kind = 'payment_pending' THEN
		UPDATE billing_payments b SET status = 'processing'
		    WHERE b.id = p.id AND b.status IN ('pending', 'expired');
	ELSIF p_amount IS DISTINCT FROM p.amount_minor OR
	    p_currency IS DISTINCT FROM p.currency THEN
		outcome := 'flagged';
		detail := format('paid %s %s, but payment %s is %s %s',
		    coalesce(p_amount::text, '(no amount)'),
		    coalesce(p_currency, '(no currency)'), p.id,
		    p.amount_minor, p.currency);
		PERFORM billing_flag(p.id, detail);
	ELSIF p.flag IS NOT NULL AND NOT p.granted THEN
		outcome := 'flagged';
		detail := 'payment is flagged: ' || p.flag;
	ELSIF NOT p.granted THEN
		PERFORM billing_post(p, p.credits_micros, 'purchase',
		    format('billing:%s:grant:%s', p.provider, p.id), false);
		UPDATE billing_payments b SET granted = true, paid_at = now(),
		    failure = NULL
		    WHERE b.id = p.id;
	END IF;

	-- Refunds and disputes that came before we knew this payment.
	FOR e IN SELECT * FROM billing_events be WHERE be.status = 'unmatched'
	    AND be.provider = p_provider AND be.payment_ref = p_payment_ref
	    ORDER BY be.event_created NULLS LAST, be.id
	LOOP
		PERFORM billing_charge_fact(p.id, e.kind, e.amount_minor);
		UPDATE billing_events SET status = 'processed',
		    payment_id = p.id, processed_at = now(),
		    detail = 'applied once its payment was known'
		    WHERE id = e.id;
	END LOOP;

	PERFORM billing_reconcile(p.id);
END;
$$;

-- Refund and dispute events: the payment is found by its reference.
CREATE FUNCTION billing_apply_charge(p_provider text, p_kind text,
    p_payment_ref text, p_amount bigint, p_currency text,
    OUT outcome text, OUT payment_id uuid, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
	p	billing_payments;
BEGIN
	outcome := 'processed';
	IF p_payment_ref IS NULL THEN
		outcome := 'unmatched';
		detail := 'the event carries no payment reference';
		RETURN;
	END IF;

	PERFORM pg_advisory_xact_lock(hashtextextended(
	    p_provider || ':' || p_payment_ref, 0));
	SELECT * INTO p FROM billing_payments b
	    WHERE b.provider = p_provider AND b.payment_ref = p_payment_ref
	    FOR UPDATE;
	IF NOT FOUND THEN
		outcome := 'unmatched';
		detail := 'no payment known for ' || p_payment_ref ||
		    ' yet; applied when it is';
		RETURN;
	END IF;
	payment_id := p.id;

	IF p_currency IS NOT NULL AND p_currency <> p.currency THEN
		outcome := 'flagged';
		detail := format('%s in %s, but payment %s is in %s', p_kind,
		    p_currency, p.id, p.currency);
		PERFORM billing_flag(p.id, detail);
		RETURN;
	END IF;

	PERFORM billing_charge_fact(p.id, p_kind, p_amount);
	PERFORM billing_reconcile(p.id);
END;
$$;

--
-- billing_apply_event: one provider event, recorded and applied in one
-- transaction. p_mode_ok is false for an event of the other mode (a test
-- event on a live install): recorded, ignored. Returns the outcome:
-- 'duplicate' (seen before: nothing changed), 'processed', 'ignored',
-- 'unmatched' (no payment of ours; no effect) or 'flagged' (contradicts
-- our payment; no credits).
--
CREATE FUNCTION billing_apply_event(p_provider text, p_event_id text,
    p_type text, p_kind text, p_created bigint, p_livemode boolean,
    p_mode_ok boolean, p_payment_id text, p_checkout_ref text,
    p_payment_ref text, p_amount bigint, p_currency text, p_detail text,
    p_body text)
RETURNS TABLE (outcome text, payment_id uuid, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	v_event	bigint;
	r	record;
BEGIN
	INSERT INTO billing_events (provider, event_id, event_type, kind,
	    event_created, livemode, payment_ref, amount_minor, currency,
	    status, detail, body)
	    VALUES (p_provider, p_event_id, p_type, p_kind,
	    to_timestamp(p_created), p_livemode, nullif(p_payment_ref, ''),
	    p_amount, nullif(p_currency, ''), 'received',
	    nullif(p_detail, ''), p_body)
	    ON CONFLICT ON CONSTRAINT billing_events_provider_event_id_key
	    DO NOTHING
	    RETURNING id INTO v_event;
	IF v_event IS NULL THEN
		RETURN QUERY SELECT 'duplicate'::text, e.payment_id,
		    'already received'::text FROM billing_events e
		    WHERE e.provider = p_provider AND e.event_id = p_event_id;
		RETURN;
	END IF;

	IF NOT p_mode_ok THEN
		SELECT 'ignored' AS outcome, NULL::uuid AS payment_id,
		    'the event''s mode (test/live) is not the configured key''s'
		    AS detail INTO r;
	ELSIF p_kind IN ('payment_succeeded', 'payment_pending',
	    'payment_failed', 'checkout_expired', 'payment_anomaly') THEN
		SELECT * INTO r FROM billing_apply_checkout(p_provider, p_kind,
		    nullif(p_payment_id, ''), nullif(p_checkout_ref, ''),
		    nullif(p_payment_ref, ''), p_amount,
		    nullif(p_currency, ''), nullif(p_detail, ''));
	ELSIF p_kind IN ('refund', 'dispute_opened', 'dispute_won',
	    'dispute_lost') THEN
		SELECT * INTO r FROM billing_apply_charge(p_provider, p_kind,
		    nullif(p_payment_ref, ''), p_amount,
		    nullif(p_currency, ''));
	ELSE
		SELECT 'ignored' AS outcome, NULL::uuid AS payment_id,
		    NULL::text AS detail INTO r;
	END IF;

	UPDATE billing_events e SET status = r.outcome,
	    payment_id = r.payment_id,
	    detail = coalesce(r.detail, e.detail),
	    processed_at = CASE WHEN r.outcome = 'unmatched' THEN NULL
		ELSE now() END
	    WHERE e.id = v_event;

	RETURN QUERY SELECT r.outcome::text, r.payment_id::uuid,
	    r.detail::text;
END;
$$;

--
-- Starting a checkout: a pending payment for an active package, with the
-- package's terms frozen. result: 'ok' | 'not_found' (no such active
-- package) | 'rate_limited' (too many checkouts started in the last hour).
--
CREATE FUNCTION billing_checkout_begin(p_user uuid, p_package uuid,
    p_provider text)
RETURNS TABLE (result text, payment_id uuid, name text,
    price_minor bigint, currency text, credits_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
	k	billing_packages;
	v_id	uuid;
BEGIN
	SELECT * INTO k FROM billing_packages b
	    WHERE b.id = p_package AND b.active;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text,
		    NULL::bigint, NULL::text, NULL::bigint;
		RETURN;
	END IF;

	IF (SELECT count(*) FROM billing_payments b WHERE b.user_id = p_user
	    AND b.created_at > now() - interval '1 hour') >= 30 THEN
		RETURN QUERY SELECT 'rate_limited'::text, NULL::uuid,
		    NULL::text, NULL::bigint, NULL::text, NULL::bigint;
		RETURN;
	END IF;

	INSERT INTO billing_payments (user_id, provider, package_id,
	    package_name, amount_minor, currency, credits_micros)
	    VALUES (p_user, p_provider, k.id, k.name, k.price_minor,
	    k.currency, k.credits_micros)
	    RETURNING id INTO v_id;

	RETURN QUERY SELECT 'ok'::text, v_id, k.name, k.price_minor,
	    k.currency, k.credits_micros;
END;
$$;

-- Times in the API: RFC 3339, UTC.
CREATE FUNCTION billing_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;

-- How a payment looks in the API (GET /api/billing/payments).
CREATE FUNCTION billing_payment_json(p billing_payments) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
	    'id', p.id,
	    'object', 'payment',
	    'provider', p.provider,
	    'package_id', p.package_id,
	    'package_name', p.package_name,
	    'amount_minor', p.amount_minor,
	    'currency', p.currency,
	    'credits_micros', p.credits_micros,
	    'status', p.status,
	    'credited_micros', p.credited_micros,
	    'refunded_minor', p.refunded_minor,
	    'checkout_url', CASE WHEN p.status = 'pending'
		THEN p.checkout_url END,
	    'created_at', billing_time(p.created_at),
	    'updated_at', billing_time(p.updated_at),
	    'paid_at', billing_time(p.paid_at));
$$;

CREATE FUNCTION billing_package_json(k billing_packages,
    p_admin boolean DEFAULT false) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
	    'id', k.id,
	    'name', k.name,
	    'price_minor', k.price_minor,
	    'currency', k.currency,
	    'credits_micros', k.credits_micros) ||
	    CASE WHEN p_admin THEN jsonb_build_object(
		'active', k.active,
		'created_at', billing_time(k.created_at),
		'updated_at', billing_time(k.updated_at))
	    ELSE '{}'::jsonb END;
$$;

-- Admins, as the database knows them now (never from a token alone).
CREATE FUNCTION billing_is_admin(p_user uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM users
	    WHERE id = p_user AND is_admin AND status = 'active');
$$;

--
-- PUT /api/admin/packages/{id}: create or replace. Payments already
-- started keep the terms they froze. result: 'not_admin' | 'created' |
-- 'updated'.
--
CREATE FUNCTION billing_package_put(p_admin uuid, p_id uuid, p_name text,
    p_price bigint, p_currency text, p_credits bigint, p_active boolean)
RETURNS TABLE (result text, package jsonb)
LANGUAGE plpgsql AS $$
DECLARE
	k		billing_packages;
	v_id		uuid;
	v_created	boolean;
BEGIN
	IF NOT billing_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;

	INSERT INTO billing_packages AS b (id, name, price_minor, currency,
	    credits_micros, active)
	    VALUES (p_id, p_name, p_price, p_currency, p_credits, p_active)
	    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
	    price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency,
	    credits_micros = EXCLUDED.credits_micros,
	    active = EXCLUDED.active, updated_at = now()
	    RETURNING b.id, (b.xmax = 0) INTO v_id, v_created;
	SELECT * INTO k FROM billing_packages b WHERE b.id = v_id;

	RETURN QUERY SELECT CASE WHEN v_created THEN 'created'
	    ELSE 'updated' END, billing_package_json(k, true);
END;
$$;

--
-- GET /api/billing/payments: one page of a user's payments, newest
-- first, as the contract's list object. The cursor is the id of the last
-- payment of the previous page (one of this user's, or nothing follows).
--
CREATE FUNCTION billing_payments_page(p_user uuid, p_cursor uuid,
    p_limit integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH page AS (
		SELECT p, row_number() OVER (ORDER BY p.created_at DESC,
		    p.id DESC) AS n
		FROM billing_payments p
		WHERE p.user_id = p_user AND (p_cursor IS NULL OR
		    (p.created_at, p.id) < (SELECT c.created_at, c.id
		    FROM billing_payments c
		    WHERE c.id = p_cursor AND c.user_id = p_user))
		ORDER BY p.created_at DESC, p.id DESC
		LIMIT p_limit + 1)
	SELECT jsonb_build_object(
	    'object', 'list',
	    'data', coalesce((SELECT jsonb_agg(billing_payment_json(p)
		ORDER BY n) FROM page WHERE n <= p_limit), '[]'::jsonb),
	    'next_cursor', (SELECT (p).id::text FROM page
		WHERE n = p_limit AND EXISTS (SELECT 1 FROM page
		WHERE n > p_limit)));
$$;
