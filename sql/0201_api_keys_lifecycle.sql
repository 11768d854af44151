-- API keys' lifecycle (CONTRACT §7): creation under the per-user limit,
-- updates, the change feed the workers' caches listen to, and keys dying
-- with their user.
--
-- A key is "live" while it is neither revoked nor expired; disabled keys
-- are live (they can be enabled again) and count towards the limit.

-- The listing (newest first, cursor on (created_at, id)) and the limit
-- count both read a user's keys in this order.
DROP INDEX api_keys_user;
CREATE INDEX api_keys_user ON api_keys (user_id, created_at DESC, id DESC);

-- Creates a key unless the user already has p_max live keys. The user's
-- row is locked first (FOR NO KEY UPDATE: foreign-key checks elsewhere
-- still pass), so concurrent creations for one user queue here and each
-- counts the keys the previous one committed: under READ COMMITTED every
-- statement of a function takes a fresh snapshot.
--
-- status: 'ok' (key_id, created_at set), 'limit', or 'no_user' (unknown
-- or deleted user).
CREATE FUNCTION api_key_create(p_user uuid, p_public_id text, p_digest bytea,
    p_name text, p_last4 text, p_allowed text[], p_limit bigint,
    p_expires timestamptz, p_max integer)
RETURNS TABLE (status text, key_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
	n	integer;
BEGIN
	PERFORM 1 FROM users WHERE id = p_user AND status = 'active'
	    FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'no_user'::text, NULL::uuid;
		RETURN;
	END IF;

	SELECT count(*) INTO n FROM api_keys
	    WHERE user_id = p_user AND revoked_at IS NULL
	    AND (expires_at IS NULL OR expires_at > now());
	IF n >= p_max THEN
		RETURN QUERY SELECT 'limit'::text, NULL::uuid;
		RETURN;
	END IF;

	RETURN QUERY INSERT INTO api_keys (user_id, public_id, digest, name,
	    last4, allowed_models, spend_limit_micros, expires_at)
	    VALUES (p_user, p_public_id, p_digest, p_name, p_last4,
	    coalesce(p_allowed, '{}'), p_limit, p_expires)
	    RETURNING 'ok'::text, api_keys.id;
END;
$$;

-- Every change that matters to authentication is announced on channel
-- tg_api_keys with the key's public id; each tollgate worker LISTENs and
-- drops that key from its cache. Bookkeeping columns (last_used_at,
-- spent_micros, name) do not wake anyone. NOTIFY is sent at commit, so a
-- worker that reloads on notice sees the committed row.
CREATE FUNCTION api_keys_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tg_api_keys', OLD.public_id);
	RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
	OR OLD.disabled IS DISTINCT FROM NEW.disabled
	OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
	OR OLD.allowed_models IS DISTINCT FROM NEW.allowed_models
	OR OLD.spend_limit_micros IS DISTINCT FROM NEW.spend_limit_micros
	OR OLD.digest IS DISTINCT FROM NEW.digest
	OR OLD.user_id IS DISTINCT FROM NEW.user_id
	OR OLD.public_id IS DISTINCT FROM NEW.public_id)
    EXECUTE FUNCTION api_keys_notify();

CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys FOR EACH ROW
    EXECUTE FUNCTION api_keys_notify();

-- A user whose status changes (closed account: DELETE /api/me) takes
-- their keys along: a deleted user's keys are revoked for good (which
-- notifies through api_keys_changed), and any other status change
-- announces every key of the user, since authentication checks the
-- user's status too.
CREATE FUNCTION api_keys_user_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status = 'deleted' THEN
		UPDATE api_keys SET revoked_at = now()
		    WHERE user_id = NEW.id AND revoked_at IS NULL;
	END IF;
	PERFORM pg_notify('tg_api_keys', public_id) FROM api_keys
	    WHERE user_id = NEW.id;
	RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_user_status AFTER UPDATE OF status ON users
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION api_keys_user_status();
