-- Refunds asked for by an admin (POST /api/admin/payments/{id}/refund,
-- docs/admin.md "Refunds"; the Kore side is app/billing/refund.c).
--
-- A refund request is a row here first, then a call to the provider
-- (Stripe's Refunds API) whose Idempotency-Key is derived from the row's
-- id ('tollgate-refund-<id>'), then the provider's answer stored on the
-- row. Credits are never taken back here: the provider's refund webhook
-- (charge.refunded) does that, as for a refund made in the provider's
-- dashboard (0400_billing.sql), so a refund is booked exactly once.
--
-- Refund states ('status'):
--   requested        the row exists; the provider has not said yet (a call
--                    is out while attempted_at is recent; with
--                    attempted_at NULL the last call ended without a
--                    definite answer, and the next request sends it again)
--   pending, requires_action, succeeded, failed, canceled
--                    the provider's word (Stripe's refund states)
--   refused          the provider refused it (no refund was made)
--
-- Rules the functions keep:
--   * at most one 'requested' refund per payment (a double click gets
--     409 refund_in_progress while the first call is out);
--   * a client's Idempotency-Key names one request per payment: the same
--     key again answers the same refund (a different amount is a
--     conflict), never a second one;
--   * what is still refundable is the payment's amount minus the larger
--     of what the provider reported refunded (refunded_minor) and what
--     our refunds that may have happened add up to.

CREATE TABLE billing_refunds (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	payment_id	uuid NOT NULL REFERENCES billing_payments (id),
	provider	text NOT NULL,
	amount_minor	bigint NOT NULL CHECK (amount_minor > 0),
	currency	text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
	asked_minor	bigint CHECK (asked_minor > 0),	-- NULL: all that was left
	client_key	text CHECK (char_length(client_key) BETWEEN 1 AND 255),
	status		text NOT NULL DEFAULT 'requested'
			CHECK (status IN ('requested', 'pending',
			    'requires_action', 'succeeded', 'failed',
			    'canceled', 'refused')),
	provider_ref	text,		-- Stripe: the Refund (re_...)
	failure		text,
	requested_by	uuid NOT NULL REFERENCES users (id),
	requested_token	uuid REFERENCES admin_tokens (id),
	attempted_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (payment_id, client_key)
);

CREATE UNIQUE INDEX billing_refunds_one_open ON billing_refunds (payment_id)
    WHERE status = 'requested';

-- A call out for longer than this has been lost (the provider's timeout
-- is 15 s, app/billing/billing.h): the next request sends it again.
CREATE FUNCTION billing_refund_in_flight(r billing_refunds) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT r.status = 'requested' AND r.attempted_at IS NOT NULL AND
	    r.attempted_at > now() - interval '60 seconds'
$$;

CREATE FUNCTION billing_refund_json(r billing_refunds) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', r.id, 'object', 'refund',
	    'payment_id', r.payment_id, 'provider', r.provider,
	    'amount_minor', r.amount_minor, 'currency', r.currency,
	    'status', r.status, 'provider_ref', r.provider_ref,
	    'failure', r.failure, 'requested_by', r.requested_by,
	    'requested_token', r.requested_token,
	    'created_at', admin_time(r.created_at),
	    'updated_at', admin_time(r.updated_at))
$$;

--
-- The first half of a refund request: decide, and record the refund to
-- send. p_amount NULL: all that is left; p_key: the client's
-- Idempotency-Key or NULL. result:
--   'send'           call the provider for refund_id (payment_ref,
--                    amount_minor, currency say what)
--   'replay'         body: the refund this key already made
--   'not_admin' | 'not_found'
--   'not_refundable' detail says why (not paid, refunded, disputed, ...)
--   'too_much'       amount_minor: what is still refundable
--   'in_progress'    refund_id: the refund whose call is out
--   'conflict'       the key was used with another amount
--
CREATE FUNCTION billing_refund_begin(p_admin uuid, p_token uuid,
    p_payment uuid, p_amount bigint, p_key text)
RETURNS TABLE (result text, refund_id uuid, payment_ref text,
    amount_minor bigint, currency text, body jsonb, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	p	billing_payments;
	r	billing_refunds;
	v_left	bigint;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::uuid, NULL::text,
		    NULL::bigint, NULL::text, NULL::jsonb, NULL::text;
		RETURN;
	END IF;
	-- Serialises the requests of one payment.
	SELECT * INTO p FROM billing_payments b WHERE b.id = p_payment
	    FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::text,
		    NULL::bigint, NULL::text, NULL::jsonb, NULL::text;
		RETURN;
	END IF;

	IF p_key IS NOT NULL THEN
		SELECT * INTO r FROM billing_refunds f
		    WHERE f.payment_id = p.id AND f.client_key = p_key;
		IF FOUND AND r.asked_minor IS DISTINCT FROM p_amount THEN
			RETURN QUERY SELECT 'conflict'::text, r.id, NULL::text,
			    NULL::bigint, NULL::text, NULL::jsonb, NULL::text;
			RETURN;
		ELSIF FOUND AND r.status <> 'requested' THEN
			RETURN QUERY SELECT 'replay'::text, r.id, NULL::text,
			    NULL::bigint, NULL::text, billing_refund_json(r),
			    NULL::text;
			RETURN;
		END IF;
	END IF;
	-- The open refund of this payment, if any, goes first.
	IF r.id IS NULL THEN
		SELECT * INTO r FROM billing_refunds f
		    WHERE f.payment_id = p.id AND f.status = 'requested';
	END IF;
	IF r.id IS NOT NULL THEN
		IF billing_refund_in_flight(r) THEN
			RETURN QUERY SELECT 'in_progress'::text, r.id,
			    NULL::text, NULL::bigint, NULL::text, NULL::jsonb,
			    NULL::text;
			RETURN;
		END IF;
		UPDATE billing_refunds f SET attempted_at = now(),
		    updated_at = now() WHERE f.id = r.id;
		RETURN QUERY SELECT 'send'::text, r.id, p.payment_ref,
		    r.amount_minor, r.currency, NULL::jsonb, NULL::text;
		RETURN;
	END IF;

	IF p.status NOT IN ('paid', 'partially_refunded') OR
	    p.payment_ref IS NULL THEN
		RETURN QUERY SELECT 'not_refundable'::text, NULL::uuid,
		    NULL::text, NULL::bigint, NULL::text, NULL::jsonb,
		    format('payment %s is %s', p.id, p.status);
		RETURN;
	END IF;
	v_left := p.amount_minor - greatest(p.refunded_minor,
	    (SELECT coalesce(sum(f.amount_minor), 0) FROM billing_refunds f
	    WHERE f.payment_id = p.id AND f.status IN ('requested', 'pending',
	    'requires_action', 'succeeded')));
	IF v_left <= 0 THEN
		RETURN QUERY SELECT 'not_refundable'::text, NULL::uuid,
		    NULL::text, NULL::bigint, NULL::text, NULL::jsonb,
		    format('payment %s has nothing left to refund', p.id);
		RETURN;
	END IF;
	IF p_amount > v_left THEN
		RETURN QUERY SELECT 'too_much'::text, NULL::uuid, NULL::text,
		    v_left, p.currency, NULL::jsonb, NULL::text;
		RETURN;
	END IF;

	INSERT INTO billing_refunds (payment_id, provider, amount_minor,
	    currency, asked_minor, client_key, requested_by, requested_token,
	    attempted_at)
	    VALUES (p.id, p.provider, coalesce(p_amount, v_left), p.currency,
	    p_amount, p_key, p_admin, p_token, now())
	    RETURNING * INTO r;
	RETURN QUERY SELECT 'send'::text, r.id, p.payment_ref, r.amount_minor,
	    r.currency, NULL::jsonb, NULL::text;
END;
$$;

--
-- The second half: the provider's answer for refund p_refund, stored,
-- and the admin's action audited (one row per answer; storing the same
-- answer again writes nothing). p_outcome:
--   'made'     the provider made it; p_status is its state, p_ref its id
--   'refused'  the provider refused it (p_failure says why)
--   'unknown'  no definite answer (unreachable, timeout, 5xx): the next
--              request for the payment sends it again, same key
-- Returns the refund as the API shows it.
--
CREATE FUNCTION billing_refund_finish(p_admin uuid, p_token uuid,
    p_refund uuid, p_outcome text, p_ref text, p_status text,
    p_failure text)
RETURNS TABLE (body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	p	billing_payments;
	r	billing_refunds;
	v_old	billing_refunds;
BEGIN
	SELECT * INTO r FROM billing_refunds f WHERE f.id = p_refund
	    FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'billing_refund_finish: no refund %', p_refund;
	END IF;
	v_old := r;
	IF p_outcome = 'made' THEN
		UPDATE billing_refunds f SET status = p_status,
		    provider_ref = p_ref, failure = NULL, attempted_at = NULL,
		    updated_at = now()
		    WHERE f.id = r.id RETURNING * INTO r;
	ELSIF p_outcome IN ('refused', 'unknown') THEN
		UPDATE billing_refunds f SET status = CASE p_outcome
		    WHEN 'refused' THEN 'refused' ELSE f.status END,
		    failure = p_failure, attempted_at = NULL, updated_at = now()
		    WHERE f.id = r.id AND f.status = 'requested'
		    RETURNING * INTO r;
		IF NOT FOUND THEN
			-- Another request got the provider's word first.
			SELECT * INTO r FROM billing_refunds f
			    WHERE f.id = p_refund;
		END IF;
	ELSE
		RAISE EXCEPTION 'billing_refund_finish: bad outcome %',
		    p_outcome;
	END IF;

	-- The same word stored again (this statement sent twice after a lost
	-- connection) is no second action.
	IF v_old.attempted_at IS NULL AND (r.status, r.provider_ref,
	    r.failure) IS NOT DISTINCT FROM (v_old.status, v_old.provider_ref,
	    v_old.failure) THEN
		RETURN QUERY SELECT billing_refund_json(r);
		RETURN;
	END IF;
	SELECT * INTO p FROM billing_payments b WHERE b.id = r.payment_id;
	PERFORM admin_audit_write(p_admin, p_token, 'payment.refund',
	    p.id::text, jsonb_build_object('status', p.status,
	    'refunded_minor', p.refunded_minor), billing_refund_json(r));
	RETURN QUERY SELECT billing_refund_json(r);
END;
$$;
