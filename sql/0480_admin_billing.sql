-- The admin surface's part of billing (see 0380_admin.sql): a package
-- created or changed by PUT /api/admin/packages/{id} is audited where it
-- lands. The statement does not name the admin, so the row names nobody.

CREATE FUNCTION admin_audit_package() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
	PERFORM admin_audit_write(NULL, NULL, 'package.put', NEW.id::text,
	    CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW));
	RETURN NULL;
END;
$$;

CREATE TRIGGER billing_packages_audit AFTER INSERT OR UPDATE
    ON billing_packages FOR EACH ROW EXECUTE FUNCTION admin_audit_package();

-- GET /api/admin/payments?status=: every user's payments in any state
-- (or one), newest first, p_limit after cursor p_after (a payment id
-- whose row is older). result: 'ok' | 'not_admin'.
CREATE FUNCTION admin_payment_list(p_admin uuid, p_status text,
    p_after uuid, p_limit integer)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
	v_rows	jsonb;
	v_last	uuid;
	v_n	integer;
	v_at	timestamptz;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	SELECT created_at INTO v_at FROM billing_payments WHERE id = p_after;
	SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id,
	    'object', 'payment', 'user_id', p.user_id, 'email', u.email,
	    'provider', p.provider, 'package_id', p.package_id,
	    'package_name', p.package_name, 'amount_minor', p.amount_minor,
	    'currency', p.currency, 'credits_micros', p.credits_micros,
	    'status', p.status, 'refunded_minor', p.refunded_minor,
	    'disputed_minor', p.disputed_minor,
	    'credited_micros', p.credited_micros, 'payment_ref', p.payment_ref,
	    'flag', p.flag, 'failure', p.failure,
	    'created_at', admin_time(p.created_at),
	    'paid_at', admin_time(p.paid_at))
	    ORDER BY p.created_at DESC, p.id DESC), '[]'::jsonb), count(*)
	    INTO v_rows, v_n
	    FROM (SELECT * FROM billing_payments bp
	    WHERE (p_status IS NULL OR bp.status = p_status)
	    AND (p_after IS NULL OR (bp.created_at, bp.id) < (v_at, p_after))
	    ORDER BY bp.created_at DESC, bp.id DESC LIMIT p_limit) p
	    LEFT JOIN users u ON u.id = p.user_id;
	IF v_n = p_limit THEN
		v_last := (v_rows -> (v_n - 1) ->> 'id')::uuid;
	END IF;
	RETURN QUERY SELECT 'ok'::text, jsonb_build_object('object', 'list',
	    'data', v_rows, 'next_cursor', v_last::text);
END;
$$;
