-- Admin grants and adjustments (CONTRACT §6: POST
-- /api/admin/users/{id}/credits): one call, idempotent on the admin's
-- key ('admin:' || key in the ledger); the same key with another amount
-- or for another user is a 'conflict'. An adjustment (negative) takes
-- only what is available, never held credits, and makes no debt.
--
-- result: 'ok' | 'duplicate' | 'conflict' | 'insufficient' |
--         'not_admin' | 'no_user'.

CREATE FUNCTION credits_admin_grant(p_admin uuid, p_user uuid,
    p_amount bigint, p_reason text, p_key text)
RETURNS TABLE (result text, txn_id uuid, balance_micros bigint,
    reserved_micros bigint, available_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_r	record;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::uuid, NULL::bigint,
		    NULL::bigint, NULL::bigint;
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_user AND
	    status = 'active') THEN
		RETURN QUERY SELECT 'no_user'::text, NULL::uuid, NULL::bigint,
		    NULL::bigint, NULL::bigint;
		RETURN;
	END IF;

	SELECT * INTO v_r FROM credits_grant(p_user, p_amount,
	    CASE WHEN p_amount > 0 THEN 'admin_grant' ELSE 'admin_adjustment' END,
	    p_reason, 'admin:' || p_key, false);

	RETURN QUERY SELECT v_r.result, v_r.txn_id, b.balance_micros,
	    b.reserved_micros, b.available_micros
	    FROM ledger_user_balances b WHERE b.user_id = p_user;
END;
$$;
