-- POST /auth/refresh sends auth_refresh() a second time, with the same
-- two hashes, when its connection drops before the answer (TG_DB_RETRY).
-- When the first call had committed, the repeat finds the presented
-- token one generation old within the grace window and must answer ok:
-- the token it would register is the one the first call stored already
-- (p_new_hash comes from a fresh random token, so nobody else can have
-- it). Before, the repeat failed on refresh_tokens' primary key, and the
-- client lost the rotated token it had been promised.
--
-- Otherwise as in 0100_identity.sql.

CREATE OR REPLACE FUNCTION auth_refresh(p_refresh_hash bytea,
    p_new_hash bytea)
RETURNS TABLE (result text, user_id uuid, session_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
	v_sid		uuid;
	v_gen		integer;
	v_status	text;
	s		sessions%ROWTYPE;
BEGIN
	SELECT rt.session_id, rt.generation INTO v_sid, v_gen
	    FROM refresh_tokens rt WHERE rt.token_hash = p_refresh_hash;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'unknown'::text, NULL::uuid, NULL::uuid;
		RETURN;
	END IF;

	SELECT * INTO s FROM sessions WHERE id = v_sid FOR UPDATE;
	SELECT u.status INTO v_status FROM users u WHERE u.id = s.user_id;

	IF s.revoked_at IS NOT NULL OR v_status IS DISTINCT FROM 'active' THEN
		RETURN QUERY SELECT 'revoked'::text, s.user_id, s.id;
		RETURN;
	END IF;

	IF s.expires_at <= now() OR s.idle_expires_at <= now() THEN
		UPDATE sessions SET revoked_at = now(), revoke_reason = 'expired'
		    WHERE id = s.id;
		RETURN QUERY SELECT 'expired'::text, s.user_id, s.id;
		RETURN;
	END IF;

	IF v_gen = s.generation THEN
		UPDATE sessions SET generation = generation + 1,
		    rotated_at = now(), last_used_at = now(),
		    idle_expires_at = least(now() + interval '7 days',
		    expires_at)
		    WHERE id = s.id;
		INSERT INTO refresh_tokens (token_hash, session_id, generation)
		    VALUES (p_new_hash, s.id, s.generation + 1);
		RETURN QUERY SELECT 'ok'::text, s.user_id, s.id;
		RETURN;
	END IF;

	-- The repeat of a call that committed: its token is registered.
	IF v_gen = s.generation - 1 AND EXISTS (SELECT 1 FROM refresh_tokens rt
	    WHERE rt.token_hash = p_new_hash AND rt.session_id = s.id
	    AND rt.generation = s.generation) THEN
		RETURN QUERY SELECT 'ok'::text, s.user_id, s.id;
		RETURN;
	END IF;

	IF v_gen = s.generation - 1
	    AND s.rotated_at > now() - interval '10 seconds'
	    AND (SELECT count(*) FROM refresh_tokens rt
	    WHERE rt.session_id = s.id AND rt.generation = s.generation) < 8
	THEN
		UPDATE sessions SET last_used_at = now() WHERE id = s.id;
		INSERT INTO refresh_tokens (token_hash, session_id, generation)
		    VALUES (p_new_hash, s.id, s.generation);
		RETURN QUERY SELECT 'ok'::text, s.user_id, s.id;
		RETURN;
	END IF;

	UPDATE sessions SET revoked_at = now(), revoke_reason = 'refresh_reuse'
	    WHERE id = s.id;
	RETURN QUERY SELECT 'reused'::text, s.user_id, s.id;
END;
$$;
