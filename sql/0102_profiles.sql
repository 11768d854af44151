-- Profiles and account closing (app/profiles/profiles.c).

-- PATCH /api/me/profile: set the fields named in p_fields (NULL clears),
-- leave the others. The values were checked by tollgate; the time zone's
-- existence is checked here against PostgreSQL's IANA database.
-- result: ok | session_ended | invalid_timezone
CREATE FUNCTION profile_update(p_user uuid, p_session uuid, p_fields text[],
    p_display_name text, p_avatar_url text, p_locale text, p_timezone text,
    p_default_model text)
RETURNS TABLE (result text, profile json)
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT session_is_active(p_session, p_user) THEN
		RETURN QUERY SELECT 'session_ended'::text, NULL::json;
		RETURN;
	END IF;

	IF 'timezone' = ANY (p_fields) AND p_timezone IS NOT NULL AND
	    (p_timezone LIKE 'posix/%' OR p_timezone LIKE 'right/%' OR
	    NOT EXISTS (SELECT 1 FROM pg_timezone_names z
	    WHERE z.name = p_timezone)) THEN
		RETURN QUERY SELECT 'invalid_timezone'::text, NULL::json;
		RETURN;
	END IF;

	INSERT INTO profiles (user_id) VALUES (p_user)
	    ON CONFLICT (user_id) DO NOTHING;

	RETURN QUERY
	UPDATE profiles p SET
	    display_name = CASE WHEN 'display_name' = ANY (p_fields)
		THEN p_display_name ELSE p.display_name END,
	    avatar_url = CASE WHEN 'avatar_url' = ANY (p_fields)
		THEN p_avatar_url ELSE p.avatar_url END,
	    locale = CASE WHEN 'locale' = ANY (p_fields)
		THEN p_locale ELSE p.locale END,
	    timezone = CASE WHEN 'timezone' = ANY (p_fields)
		THEN p_timezone ELSE p.timezone END,
	    default_model = CASE WHEN 'default_model' = ANY (p_fields)
		THEN p_default_model ELSE p.default_model END,
	    updated_at = now()
	WHERE p.user_id = p_user
	RETURNING 'ok'::text, json_build_object(
	    'display_name', p.display_name,
	    'avatar_url', p.avatar_url,
	    'locale', p.locale,
	    'timezone', p.timezone,
	    'default_model', p.default_model,
	    'updated_at', p.updated_at);
END;
$$;

-- DELETE /api/me: the account is closed in one transaction. Sessions are
-- revoked (their ids returned, so tollgate forgets their access tokens at
-- once) and their refresh tokens deleted; personal data is erased: the
-- email, the profile, the identities' subjects and emails (each identity
-- keeps only its provider and the keyed subject hash, which stops a
-- returning account from collecting the signup grant twice); flows in
-- progress go. The users row stays, anonymised (status 'deleted'), so
-- ledger rows keep pointing at it; API keys are revoked by the keys
-- module's trigger on users.status.
-- result: ok (one row per revoked session, session_id NULL when none)
--         | session_ended
CREATE FUNCTION user_close(p_user uuid, p_session uuid)
RETURNS TABLE (result text, session_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
	v_sessions	uuid[];
BEGIN
	PERFORM 1 FROM users u WHERE u.id = p_user FOR UPDATE;
	IF NOT session_is_active(p_session, p_user) THEN
		RETURN QUERY SELECT 'session_ended'::text, NULL::uuid;
		RETURN;
	END IF;

	WITH revoked AS (
		UPDATE sessions s SET revoked_at = now(),
		    revoke_reason = 'account_closed'
		WHERE s.user_id = p_user AND s.revoked_at IS NULL
		RETURNING s.id)
	SELECT coalesce(array_agg(id), '{}') INTO v_sessions FROM revoked;

	DELETE FROM refresh_tokens rt USING sessions s
	    WHERE rt.session_id = s.id AND s.user_id = p_user;
	DELETE FROM oauth_flows f WHERE f.link_user_id = p_user;
	DELETE FROM profiles p WHERE p.user_id = p_user;
	UPDATE identities i SET subject = NULL, email = NULL,
	    email_verified = false
	    WHERE i.user_id = p_user;
	UPDATE users u SET email = NULL, email_verified = false,
	    is_admin = false, status = 'deleted', deleted_at = now()
	    WHERE u.id = p_user;

	IF cardinality(v_sessions) = 0 THEN
		RETURN QUERY SELECT 'ok'::text, NULL::uuid;
		RETURN;
	END IF;
	RETURN QUERY SELECT 'ok'::text, unnest(v_sessions);
END;
$$;
