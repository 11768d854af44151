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

-- RFC 3339 in UTC, seconds: how every key timestamp is shown.
CREATE FUNCTION api_key_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- A key as the API shows it: never the digest, only prefix and last4.
CREATE FUNCTION api_key_json(k api_keys) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
	    'id', k.id,
	    'object', 'api_key',
	    'name', k.name,
	    'prefix', 'tg_' || k.public_id,
	    'last4', k.last4,
	    'created_at', api_key_time(k.created_at),
	    'last_used_at', api_key_time(k.last_used_at),
	    'expires_at', api_key_time(k.expires_at),
	    'allowed_models', to_json(k.allowed_models),
	    'spend_limit_micros', k.spend_limit_micros,
	    'spent_micros', k.spent_micros,
	    'disabled', k.disabled,
	    'revoked', k.revoked_at IS NOT NULL,
	    'revoked_at', api_key_time(k.revoked_at),
	    'expired', k.expires_at IS NOT NULL AND k.expires_at <= now())
$$;

-- A JSON array of strings (already checked by the API) as text[].
CREATE FUNCTION api_key_models(m json) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(array_agg(e ORDER BY i), '{}')
	    FROM json_array_elements_text(m) WITH ORDINALITY AS t (e, i)
$$;

-- Key management is sensitive: every call also checks that the caller's
-- session is still live (signed out on another host, account closed),
-- beyond what the access token alone can say. SQLSTATE TGS01 tells
-- tollgate to answer 401.
CREATE FUNCTION api_key_session(p_session uuid, p_user uuid) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT session_is_active(p_session, p_user) THEN
		RAISE EXCEPTION 'session ended' USING ERRCODE = 'TGS01';
	END IF;
END;
$$;

-- Creates a key unless the user already has p_max live keys. The user's
-- row is locked first (FOR NO KEY UPDATE: foreign-key checks elsewhere
-- still pass), so concurrent creations for one user queue here and each
-- counts the keys the previous one committed: under READ COMMITTED every
-- statement of a function takes a fresh snapshot.
--
-- status: 'ok' (doc is the key), 'limit', or 'no_user' (unknown or
-- deleted user).
CREATE FUNCTION api_key_create(p_user uuid, p_session uuid,
    p_public_id text, p_digest bytea, p_name text, p_last4 text,
    p_models json, p_limit bigint, p_expires timestamptz, p_max integer)
RETURNS TABLE (status text, doc json)
LANGUAGE plpgsql AS $$
DECLARE
	n	integer;
	k	api_keys;
BEGIN
	PERFORM api_key_session(p_session, p_user);
	PERFORM 1 FROM users WHERE id = p_user AND users.status = 'active'
	    FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'no_user'::text, NULL::json;
		RETURN;
	END IF;

	SELECT count(*) INTO n FROM api_keys
	    WHERE user_id = p_user AND revoked_at IS NULL
	    AND (expires_at IS NULL OR expires_at > now());
	IF n >= p_max THEN
		RETURN QUERY SELECT 'limit'::text, NULL::json;
		RETURN;
	END IF;

	INSERT INTO api_keys (user_id, public_id, digest, name, last4,
	    allowed_models, spend_limit_micros, expires_at)
	    VALUES (p_user, p_public_id, p_digest, p_name, p_last4,
	    api_key_models(coalesce(p_models, '[]')), p_limit, p_expires)
	    RETURNING * INTO k;
	RETURN QUERY SELECT 'ok'::text, api_key_json(k);
END;
$$;

-- One page of a user's keys, newest first, after the position
-- (p_pos: created_at in unix microseconds, p_after: its key id) when
-- given; p_limit + 1 rows, so the caller knows whether more follow.
CREATE FUNCTION api_key_list(p_user uuid, p_session uuid, p_pos bigint,
    p_after uuid, p_limit integer)
RETURNS TABLE (key_doc json, key_pos bigint, key_id uuid)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM api_key_session(p_session, p_user);
	RETURN QUERY SELECT api_key_json(k),
	    (extract(epoch FROM k.created_at) * 1000000)::bigint, k.id
	    FROM api_keys k WHERE k.user_id = p_user
	    AND (p_pos IS NULL OR (k.created_at, k.id) <
		('epoch'::timestamptz + p_pos * interval '1 microsecond',
		p_after))
	    ORDER BY k.created_at DESC, k.id DESC LIMIT p_limit + 1;
END;
$$;

-- One key of the user, or NULL.
CREATE FUNCTION api_key_get(p_id uuid, p_user uuid, p_session uuid)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM api_key_session(p_session, p_user);
	RETURN (SELECT api_key_json(k) FROM api_keys k
	    WHERE k.id = p_id AND k.user_id = p_user);
END;
$$;

-- Revokes a key of the user for good (again: no change); NULL when the
-- user has no such key.
CREATE FUNCTION api_key_revoke(p_id uuid, p_user uuid, p_session uuid)
RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	d	json;
BEGIN
	PERFORM api_key_session(p_session, p_user);
	UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
	    WHERE id = p_id AND user_id = p_user
	    RETURNING api_key_json(api_keys) INTO d;
	RETURN d;
END;
$$;

-- Changes the fields whose p_set_* is true. A revoked key stays as it
-- is. status: 'ok', 'revoked' (doc is the unchanged key) or 'not_found'
-- (no such key of this user).
CREATE FUNCTION api_key_update(p_id uuid, p_user uuid, p_session uuid,
    p_set_name boolean, p_name text,
    p_set_models boolean, p_models json,
    p_set_limit boolean, p_limit bigint,
    p_set_disabled boolean, p_disabled boolean)
RETURNS TABLE (status text, doc json)
LANGUAGE plpgsql AS $$
DECLARE
	k	api_keys;
BEGIN
	PERFORM api_key_session(p_session, p_user);
	SELECT * INTO k FROM api_keys WHERE id = p_id AND user_id = p_user
	    FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::json;
		RETURN;
	END IF;
	IF k.revoked_at IS NOT NULL THEN
		RETURN QUERY SELECT 'revoked'::text, api_key_json(k);
		RETURN;
	END IF;

	UPDATE api_keys SET
	    name = CASE WHEN p_set_name THEN p_name ELSE name END,
	    allowed_models = CASE WHEN p_set_models
		THEN api_key_models(p_models) ELSE allowed_models END,
	    spend_limit_micros = CASE WHEN p_set_limit
		THEN p_limit ELSE spend_limit_micros END,
	    disabled = CASE WHEN p_set_disabled
		THEN p_disabled ELSE disabled END
	    WHERE id = p_id
	    RETURNING * INTO k;
	RETURN QUERY SELECT 'ok'::text, api_key_json(k);
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
