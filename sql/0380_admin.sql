-- The admin surface (app/admin, docs/admin.md): service tokens, the
-- audit trail, suspension of users, and the change feed that lets every
-- tollgate process refuse a signed-out session or a suspended user
-- within a second.
--
-- Rules the schema keeps:
--   * an admin token is stored only as its keyed hash (HMAC-SHA256 under
--     TOLLGATE_KEY_PEPPER, computed by tollgate), like refresh tokens;
--   * a token acts as its creator and works only while the creator is an
--     admin (users.is_admin of an active user); tokens made on the
--     command line act as the built-in operator user below;
--   * every admin action is one SQL function call that also appends its
--     audit row, in the same transaction; audit rows are append-only;
--   * session revocations and user status changes are announced on
--     channel tg_sessions ("s:<session id>", "u:<user id>:<status>").
--
-- Functions that write are SECURITY DEFINER with a fixed search_path, so
-- the application role needs no direct write access to what they touch.

ALTER TABLE users DROP CONSTRAINT users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check
    CHECK (status IN ('active', 'suspended', 'deleted'));

-- The operator: the acting user of tokens made with
-- `tollgate admin-token create` (no signed-in admin made them), created
-- with the first of them. It has no identity, so it can never sign in,
-- and nothing ever clears its flag.
CREATE FUNCTION admin_operator() RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
	SELECT '00000000-0000-4000-8000-000000000001'::uuid
$$;

CREATE TABLE admin_tokens (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name		text NOT NULL
			CHECK (char_length(name) BETWEEN 1 AND 100),
	token_hash	bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	prefix		text NOT NULL CHECK (prefix ~ '^tga_[A-Za-z0-9_-]{6}$'),
	created_by	uuid NOT NULL REFERENCES users (id),
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used_at	timestamptz,
	revoked_at	timestamptz
);

CREATE TABLE admin_audit (
	id		bigserial PRIMARY KEY,
	actor_user_id	uuid REFERENCES users (id),
	actor_token_id	uuid REFERENCES admin_tokens (id),
	action		text NOT NULL CHECK (action ~ '^[a-z_.]{1,64}$'),
	target		text CHECK (char_length(target) <= 300),
	before		jsonb,
	after		jsonb,
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX admin_audit_target ON admin_audit (target, id DESC);

CREATE TRIGGER admin_audit_append_only
    BEFORE UPDATE OR DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE FUNCTION admin_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION admin_audit_write(p_user uuid, p_token uuid, p_action text,
    p_target text, p_before jsonb, p_after jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
	INSERT INTO admin_audit (actor_user_id, actor_token_id, action,
	    target, before, after)
	VALUES (p_user, p_token, p_action, left(p_target, 300), p_before,
	    p_after)
$$;

CREATE FUNCTION admin_token_json(t admin_tokens) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', t.id, 'object', 'admin_token',
	    'name', t.name, 'prefix', t.prefix, 'created_by', t.created_by,
	    'created_at', admin_time(t.created_at),
	    'last_used_at', admin_time(t.last_used_at),
	    'revoked_at', admin_time(t.revoked_at))
$$;

-- A new token of hash p_hash, made by admin p_admin (acting with token
-- p_actor_token, or NULL), or on the command line (p_admin NULL).
-- result: 'created' | 'not_admin'.
CREATE FUNCTION admin_token_create(p_admin uuid, p_actor_token uuid,
    p_name text, p_hash bytea, p_prefix text)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
	t	admin_tokens;
BEGIN
	IF p_admin IS NOT NULL AND NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	IF p_admin IS NULL THEN
		INSERT INTO users (id, email, email_verified, is_admin)
		    VALUES (admin_operator(), NULL, false, true)
		    ON CONFLICT (id) DO NOTHING;
	END IF;
	INSERT INTO admin_tokens (name, token_hash, prefix, created_by)
	    VALUES (p_name, p_hash, p_prefix,
	    coalesce(p_admin, admin_operator()))
	    RETURNING * INTO t;
	PERFORM admin_audit_write(coalesce(p_admin, admin_operator()),
	    p_actor_token, 'admin_token.create', t.id::text, NULL,
	    admin_token_json(t));
	RETURN QUERY SELECT 'created'::text, admin_token_json(t);
END;
$$;

-- Authentication of "Bearer tga_...": the token's id and creator while it
-- is live and its creator an admin; no row otherwise. last_used_at is
-- written at most once a minute.
CREATE FUNCTION admin_token_auth(p_hash bytea)
RETURNS TABLE (token_id uuid, user_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
	t	admin_tokens;
BEGIN
	SELECT * INTO t FROM admin_tokens WHERE token_hash = p_hash
	    AND revoked_at IS NULL;
	IF NOT FOUND OR NOT credits_is_admin(t.created_by) THEN
		RETURN;
	END IF;
	UPDATE admin_tokens SET last_used_at = now() WHERE id = t.id
	    AND (last_used_at IS NULL OR
	    last_used_at < now() - interval '60 seconds');
	RETURN QUERY SELECT t.id, t.created_by;
END;
$$;

-- result: 'ok' (body: the list) | 'not_admin'. Live tokens, newest first.
CREATE FUNCTION admin_token_list(p_admin uuid)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	RETURN QUERY SELECT 'ok'::text, jsonb_build_object('object', 'list',
	    'data', coalesce((SELECT jsonb_agg(admin_token_json(t)
	    ORDER BY t.created_at DESC, t.id) FROM admin_tokens t
	    WHERE t.revoked_at IS NULL), '[]'::jsonb), 'next_cursor', NULL);
END;
$$;

-- result: 'ok' | 'not_found' | 'not_admin'. Revoking twice is 'ok'.
CREATE FUNCTION admin_token_revoke(p_admin uuid, p_actor_token uuid,
    p_id uuid)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
	t	admin_tokens;
	v_old	jsonb;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	SELECT * INTO t FROM admin_tokens WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::jsonb;
		RETURN;
	END IF;
	IF t.revoked_at IS NULL THEN
		v_old := admin_token_json(t);
		UPDATE admin_tokens SET revoked_at = now() WHERE id = p_id
		    RETURNING * INTO t;
		PERFORM admin_audit_write(p_admin, p_actor_token,
		    'admin_token.revoke', t.id::text, v_old,
		    admin_token_json(t));
	END IF;
	RETURN QUERY SELECT 'ok'::text, admin_token_json(t);
END;
$$;

-- GET /api/admin/audit: newest first, p_limit rows after cursor p_before
-- (an id; NULL: from the newest). result: 'ok' | 'not_admin'.
CREATE FUNCTION admin_audit_list(p_admin uuid, p_before bigint,
    p_limit integer)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
	v_rows	jsonb;
	v_last	bigint;
	v_n	integer;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id::text,
	    'object', 'audit_entry',
	    'actor', jsonb_build_object('user_id', a.actor_user_id,
	    'email', u.email, 'token_id', a.actor_token_id,
	    'token_name', t.name),
	    'action', a.action, 'target', a.target, 'before', a.before,
	    'after', a.after, 'created_at', admin_time(a.created_at))
	    ORDER BY a.id DESC), '[]'::jsonb), min(a.id), count(*)
	    INTO v_rows, v_last, v_n
	    FROM (SELECT * FROM admin_audit
	    WHERE p_before IS NULL OR admin_audit.id < p_before
	    ORDER BY admin_audit.id DESC LIMIT p_limit) a
	    LEFT JOIN users u ON u.id = a.actor_user_id
	    LEFT JOIN admin_tokens t ON t.id = a.actor_token_id;
	RETURN QUERY SELECT 'ok'::text, jsonb_build_object('object', 'list',
	    'data', v_rows, 'next_cursor', CASE WHEN v_n = p_limit
	    THEN v_last::text END);
END;
$$;

CREATE FUNCTION admin_user_json(p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
	SELECT jsonb_build_object('id', u.id, 'object', 'user',
	    'email', u.email, 'display_name', p.display_name,
	    'status', u.status, 'is_admin', u.is_admin,
	    'created_at', admin_time(u.created_at),
	    'last_sign_in_at', (SELECT admin_time(max(i.last_login_at))
	    FROM identities i WHERE i.user_id = u.id))
	FROM users u LEFT JOIN profiles p ON p.user_id = u.id
	WHERE u.id = p_user
$$;

-- GET /api/admin/users?q=: users whose email or display name contains q
-- (case-insensitive), by id, p_limit after cursor p_after (an id).
-- result: 'ok' | 'not_admin'.
CREATE FUNCTION admin_user_list(p_admin uuid, p_q text, p_after uuid,
    p_limit integer)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
	v_rows	jsonb;
	v_last	uuid;
	v_n	integer;
	v_pat	text;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	v_pat := '%' || replace(replace(replace(coalesce(p_q, ''), '\', '\\'),
	    '%', '\%'), '_', '\_') || '%';
	SELECT coalesce(jsonb_agg(admin_user_json(s.id) ORDER BY s.id),
	    '[]'::jsonb), max(s.id::text)::uuid, count(*)
	    INTO v_rows, v_last, v_n
	    FROM (SELECT u.id FROM users u
	    LEFT JOIN profiles p ON p.user_id = u.id
	    WHERE u.id <> admin_operator()
	    AND (p_after IS NULL OR u.id > p_after)
	    AND (p_q IS NULL OR u.email ILIKE v_pat OR
	    p.display_name ILIKE v_pat)
	    ORDER BY u.id LIMIT p_limit) s;
	RETURN QUERY SELECT 'ok'::text, jsonb_build_object('object', 'list',
	    'data', v_rows, 'next_cursor', CASE WHEN v_n = p_limit
	    THEN v_last::text END);
END;
$$;

-- GET /api/admin/users/{id}: the user, identities, balance, keys.
-- result: 'ok' | 'not_found' | 'not_admin'.
CREATE FUNCTION admin_user_get(p_admin uuid, p_user uuid)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
	v_doc	jsonb;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	v_doc := admin_user_json(p_user);
	IF v_doc IS NULL OR p_user = admin_operator() THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::jsonb;
		RETURN;
	END IF;
	SELECT v_doc || jsonb_build_object(
	    'identities', coalesce((SELECT jsonb_agg(jsonb_build_object(
	    'provider', i.provider, 'subject', i.subject, 'email', i.email,
	    'last_sign_in_at', admin_time(i.last_login_at))
	    ORDER BY i.created_at) FROM identities i
	    WHERE i.user_id = p_user), '[]'::jsonb),
	    'balance_micros', b.balance_micros,
	    'reserved_micros', b.reserved_micros,
	    'available_micros', b.available_micros,
	    'keys', coalesce((SELECT jsonb_agg(api_key_json(k)::jsonb
	    ORDER BY k.created_at DESC) FROM api_keys k
	    WHERE k.user_id = p_user), '[]'::jsonb))
	    INTO v_doc
	    FROM ledger_user_balances b WHERE b.user_id = p_user;
	RETURN QUERY SELECT 'ok'::text, v_doc;
END;
$$;

-- PATCH /api/admin/users/{id} {"status"}: suspend or reinstate. Leaving
-- 'active' recalls the user's credit leases (trigger of 0306) and
-- announces every key (trigger of 0201) and the user (below).
-- result: 'ok' | 'not_found' (unknown, closed or the operator) |
-- 'not_admin'.
CREATE FUNCTION admin_user_set_status(p_admin uuid, p_actor_token uuid,
    p_user uuid, p_status text)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
	v_old	text;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	IF p_status NOT IN ('active', 'suspended') THEN
		RAISE EXCEPTION 'admin_user_set_status: bad status %', p_status;
	END IF;
	SELECT status INTO v_old FROM users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND OR v_old = 'deleted' OR p_user = admin_operator() THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::jsonb;
		RETURN;
	END IF;
	IF v_old <> p_status THEN
		UPDATE users SET status = p_status WHERE id = p_user;
		PERFORM admin_audit_write(p_admin, p_actor_token,
		    CASE p_status WHEN 'suspended' THEN 'user.suspend'
		    ELSE 'user.reinstate' END, p_user::text,
		    jsonb_build_object('status', v_old),
		    jsonb_build_object('status', p_status));
	END IF;
	RETURN QUERY SELECT 'ok'::text, admin_user_json(p_user);
END;
$$;

-- The change feed of sessions (every tollgate worker LISTENs, see
-- app/admin/guard.c): a revoked session's access tokens and a suspended
-- user's are refused everywhere as soon as the notice arrives.
CREATE FUNCTION admin_notify_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tg_sessions', 's:' || NEW.id::text);
	RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_revoked_notify AFTER UPDATE OF revoked_at
    ON sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION admin_notify_session();

CREATE FUNCTION admin_notify_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tg_sessions', 'u:' || NEW.id::text || ':' ||
	    NEW.status);
	RETURN NULL;
END;
$$;

CREATE TRIGGER users_status_notify AFTER UPDATE OF status ON users
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION admin_notify_user();

-- What a worker must know when it starts listening (notices sent before
-- were missed): suspended users, and sessions revoked recently enough
-- that an access token minted for them may still be unexpired.
CREATE FUNCTION admin_session_snapshot(p_seconds integer)
RETURNS TABLE (kind text, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
	SELECT 'u', u.id FROM users u WHERE u.status = 'suspended'
	UNION ALL
	SELECT 's', s.id FROM sessions s
	    WHERE s.revoked_at > now() - make_interval(secs => p_seconds)
$$;

-- The admin actions of other modules are audited where they land: a
-- price set (model_prices.set_by is the admin), a credit grant or
-- adjustment (a package created or changed: 0480, after billing's
-- tables exist). Their statements do not
-- carry the admin token, so those rows name the admin user only (or
-- nobody, where the row does not say who).
CREATE FUNCTION admin_audit_price() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
	PERFORM admin_audit_write(NEW.set_by, NULL, 'price.set', NEW.model,
	    (SELECT to_jsonb(p) - 'set_by' FROM model_prices p
	    WHERE p.model = NEW.model AND p.id < NEW.id
	    ORDER BY p.id DESC LIMIT 1), to_jsonb(NEW) - 'set_by');
	RETURN NULL;
END;
$$;

CREATE TRIGGER model_prices_audit AFTER INSERT ON model_prices
    FOR EACH ROW EXECUTE FUNCTION admin_audit_price();

CREATE FUNCTION admin_audit_grant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
	PERFORM admin_audit_write(NULL, NULL, 'credits.' || NEW.kind,
	    NEW.user_id::text, NULL, jsonb_build_object('txn_id', NEW.id,
	    'amount_micros', NEW.amount, 'reason', NEW.reference,
	    'idempotency_key', NEW.idempotency_key));
	RETURN NULL;
END;
$$;

CREATE TRIGGER ledger_transactions_admin_audit
    AFTER INSERT ON ledger_transactions FOR EACH ROW
    WHEN (NEW.kind IN ('admin_grant', 'admin_adjustment'))
    EXECUTE FUNCTION admin_audit_grant();

-- GET /api/admin/usage and /api/admin/users/{id}/usage: usage records
-- started in [p_from, p_to) (microseconds since the epoch), of p_user or
-- everyone, grouped by p_group (day | model | key | user), each group
-- with its requests, tokens and cost. result: 'ok' | 'not_admin' |
-- 'not_found' (p_user unknown).
CREATE FUNCTION admin_usage(p_admin uuid, p_from bigint, p_to bigint,
    p_group text, p_user uuid)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
	v_rows	jsonb;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	IF p_user IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users
	    WHERE id = p_user AND id <> admin_operator()) THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::jsonb;
		RETURN;
	END IF;
	SELECT coalesce(jsonb_agg(g.doc ORDER BY g.k NULLS LAST), '[]'::jsonb)
	    INTO v_rows FROM (
	    SELECT x.k, jsonb_build_object(
		CASE p_group WHEN 'day' THEN 'day' WHEN 'model' THEN 'model'
		WHEN 'key' THEN 'key_id' ELSE 'user_id' END, x.k,
		'requests', count(*),
		'prompt_tokens', sum(x.prompt_tokens),
		'cached_tokens', sum(x.cached_tokens),
		'completion_tokens', sum(x.completion_tokens),
		'cost_micros', sum(x.cost_micros)) ||
		CASE p_group
		WHEN 'key' THEN jsonb_build_object('key_name', max(x.key_name),
		    'user_id', max(x.user_id::text))
		WHEN 'user' THEN jsonb_build_object('email', max(x.email))
		ELSE '{}'::jsonb END AS doc
	    FROM (SELECT CASE p_group
		WHEN 'day' THEN to_char(u.started_at AT TIME ZONE 'UTC',
		    'YYYY-MM-DD')
		WHEN 'model' THEN u.model
		WHEN 'key' THEN u.api_key_id::text
		ELSE u.user_id::text END AS k,
		u.prompt_tokens, u.cached_tokens, u.completion_tokens,
		u.cost_micros, u.user_id, k.name AS key_name, us.email
		FROM usage_records u
		LEFT JOIN api_keys k ON k.id = u.api_key_id
		LEFT JOIN users us ON us.id = u.user_id
		WHERE (p_user IS NULL OR u.user_id = p_user)
		AND u.started_at >= timestamptz 'epoch' +
		    p_from * interval '1 microsecond'
		AND u.started_at < timestamptz 'epoch' +
		    p_to * interval '1 microsecond') x
	    GROUP BY x.k) g;
	RETURN QUERY SELECT 'ok'::text, jsonb_build_object('object', 'list',
	    'data', v_rows, 'next_cursor', NULL);
END;
$$;

-- GET /api/admin/users/{id}/ledger: the user's ledger entries, newest
-- first, p_limit after cursor p_before (an entry id).
-- result: 'ok' | 'not_admin' | 'not_found'.
CREATE FUNCTION admin_user_ledger(p_admin uuid, p_user uuid,
    p_before bigint, p_limit integer)
RETURNS TABLE (result text, body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
	v_rows	jsonb;
	v_last	bigint;
	v_n	integer;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::jsonb;
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_user AND
	    id <> admin_operator()) THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::jsonb;
		RETURN;
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id::text,
	    'kind', t.kind, 'amount_micros', e.amount,
	    'balance_after_micros', e.balance_after,
	    'reference', t.reference, 'created_at', admin_time(e.created_at))
	    ORDER BY e.id DESC), '[]'::jsonb), min(e.id), count(*)
	    INTO v_rows, v_last, v_n
	    FROM (SELECT le.* FROM ledger_entries le
	    JOIN ledger_accounts a ON a.id = le.account_id
	    WHERE a.user_id = p_user AND a.kind = 'user'
	    AND (p_before IS NULL OR le.id < p_before)
	    ORDER BY le.id DESC LIMIT p_limit) e
	    JOIN ledger_transactions t ON t.id = e.txn_id;
	RETURN QUERY SELECT 'ok'::text, jsonb_build_object('object', 'list',
	    'data', v_rows, 'next_cursor', CASE WHEN v_n = p_limit
	    THEN v_last::text END);
END;
$$;
