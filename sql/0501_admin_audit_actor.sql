-- Audit completeness (docs/admin.md, "The audit trail"): every admin
-- action names its actor, the admin user and, when done with an admin
-- token, the token.
--
-- Credit grants, prices and packages are audited by triggers where the
-- rows land (0380, 0480), which cannot see who called. The admin routes
-- of those modules now call the wrappers below, which name the actor for
-- the rest of the transaction (settings tollgate.actor_user and
-- tollgate.actor_token, transaction-local) before doing the work; the
-- triggers read them. A change made any other way (psql) is still
-- audited, with no actor (a price keeps the admin it names).
--
-- The audit trail and the admin tokens become owner-written tables
-- (sql/0490_roles.sql): the application role writes them only through
-- the functions of 0380 and these, so it cannot forge an audit row or
-- mint a token by INSERT.

INSERT INTO tg_protected_tables (name, why) VALUES
    ('admin_audit', 'the audit trail of admin actions'),
    ('admin_tokens', 'admin service tokens');

CREATE FUNCTION admin_acting(p_user uuid, p_token uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('tollgate.actor_user', coalesce(p_user::text, ''),
	    true);
	PERFORM set_config('tollgate.actor_token',
	    coalesce(p_token::text, ''), true);
END;
$$;

CREATE FUNCTION admin_actor_user() RETURNS uuid
LANGUAGE sql STABLE AS $$
	SELECT nullif(current_setting('tollgate.actor_user', true), '')::uuid
$$;

CREATE FUNCTION admin_actor_token() RETURNS uuid
LANGUAGE sql STABLE AS $$
	SELECT nullif(current_setting('tollgate.actor_token', true), '')::uuid
$$;

CREATE OR REPLACE FUNCTION admin_audit_price() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	PERFORM admin_audit_write(coalesce(admin_actor_user(), NEW.set_by),
	    admin_actor_token(), 'price.set', NEW.model,
	    (SELECT to_jsonb(p) - 'set_by' FROM model_prices p
	    WHERE p.model = NEW.model AND p.id < NEW.id
	    ORDER BY p.id DESC LIMIT 1), to_jsonb(NEW) - 'set_by');
	RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION admin_audit_grant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	PERFORM admin_audit_write(admin_actor_user(), admin_actor_token(),
	    'credits.' || NEW.kind, NEW.user_id::text, NULL,
	    jsonb_build_object('txn_id', NEW.id, 'amount_micros', NEW.amount,
	    'reason', NEW.reference, 'idempotency_key', NEW.idempotency_key));
	RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION admin_audit_package() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	PERFORM admin_audit_write(admin_actor_user(), admin_actor_token(),
	    'package.put', NEW.id::text,
	    CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW));
	RETURN NULL;
END;
$$;

-- POST /api/admin/users/{id}/credits (app/credits/admin.c).
CREATE FUNCTION admin_credits_grant(p_admin uuid, p_token uuid,
    p_user uuid, p_amount bigint, p_reason text, p_key text)
RETURNS TABLE (result text, txn_id uuid, balance_micros bigint,
    reserved_micros bigint, available_micros bigint)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM admin_acting(p_admin, p_token);
	RETURN QUERY SELECT * FROM credits_admin_grant(p_admin, p_user,
	    p_amount, p_reason, p_key);
END;
$$;

-- PUT /api/admin/prices/{model} (app/credits/admin.c).
CREATE FUNCTION admin_price_set(p_admin uuid, p_token uuid, p_model text,
    p_in bigint, p_cached bigint, p_out bigint, p_fee bigint,
    p_cache_write bigint)
RETURNS TABLE (result text, price_id bigint, effective_from timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM admin_acting(p_admin, p_token);
	RETURN QUERY SELECT * FROM credits_price_set(p_admin, p_model, p_in,
	    p_cached, p_out, p_fee, p_cache_write);
END;
$$;

-- PUT /api/admin/packages/{id} (app/billing/billing.c).
CREATE FUNCTION admin_package_put(p_admin uuid, p_token uuid, p_id uuid,
    p_name text, p_price bigint, p_currency text, p_credits bigint,
    p_active boolean)
RETURNS TABLE (result text, package jsonb)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM admin_acting(p_admin, p_token);
	RETURN QUERY SELECT * FROM billing_package_put(p_admin, p_id, p_name,
	    p_price, p_currency, p_credits, p_active);
END;
$$;
