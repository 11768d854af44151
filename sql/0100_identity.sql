-- Identity: social identities, sessions with rotating refresh tokens,
-- OAuth flows in progress, and profiles (app/auth, app/profiles).
--
-- Rules the schema keeps:
--   * a user is found by an identity (provider, subject), never by email;
--   * secrets are never stored: refresh tokens, OAuth states and browser
--     bindings appear only as HMAC-SHA256 under TOLLGATE_KEY_PEPPER
--     (computed by tollgate, 32 bytes);
--   * every state change is one SQL function call (one round trip, one
--     transaction), so no transaction is held across requests.

CREATE TABLE identities (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id),
	provider	text NOT NULL
			CHECK (provider IN ('google', 'github', 'kakao', 'dev')),
	-- NULL once the account is closed (personal data erased).
	subject		text CHECK (subject IS NULL OR
			    char_length(subject) BETWEEN 1 AND 255),
	-- Keyed hash of provider and subject, kept after closing so a
	-- returning identity gets no second signup grant.
	subject_hash	bytea NOT NULL CHECK (length(subject_hash) = 32),
	email		text CHECK (email IS NULL OR char_length(email) <= 320),
	email_verified	boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_login_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (provider, subject)
);

CREATE INDEX identities_user_idx ON identities (user_id);
CREATE INDEX identities_subject_hash_idx ON identities (provider, subject_hash);

CREATE TABLE sessions (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id),
	provider	text NOT NULL,		-- how this session signed in
	-- Refresh tokens of the current generation are live; one
	-- generation back is accepted only within the grace window.
	generation	integer NOT NULL DEFAULT 1,
	rotated_at	timestamptz NOT NULL DEFAULT now(),
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used_at	timestamptz NOT NULL DEFAULT now(),
	idle_expires_at	timestamptz NOT NULL,
	expires_at	timestamptz NOT NULL,
	revoked_at	timestamptz,
	revoke_reason	text CHECK (revoke_reason IS NULL OR revoke_reason IN
			    ('logout', 'refresh_reuse', 'expired',
			    'account_closed', 'admin')),
	CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);

CREATE INDEX sessions_user_live_idx ON sessions (user_id)
    WHERE revoked_at IS NULL;
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at)
    WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
	token_hash	bytea PRIMARY KEY CHECK (length(token_hash) = 32),
	session_id	uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	generation	integer NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id,
    generation);

-- An OAuth authorization in progress: created by /auth/<p>/start,
-- consumed (deleted) by the callback, whatever its outcome.
CREATE TABLE oauth_flows (
	state_hash	bytea PRIMARY KEY CHECK (length(state_hash) = 32),
	binding_hash	bytea NOT NULL CHECK (length(binding_hash) = 32),
	provider	text NOT NULL
			CHECK (provider IN ('google', 'github', 'kakao')),
	code_verifier	text NOT NULL CHECK (char_length(code_verifier)
			    BETWEEN 43 AND 128),
	nonce		text CHECK (nonce IS NULL OR char_length(nonce) <= 128),
	return_to	text NOT NULL CHECK (char_length(return_to) <= 512),
	link_user_id	uuid REFERENCES users (id),
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL
);

CREATE INDEX oauth_flows_expires_idx ON oauth_flows (expires_at);

-- User-editable, never used for authorisation. Checked by tollgate
-- (app/profiles/validate.c); the constraints are the last line.
CREATE TABLE profiles (
	user_id		uuid PRIMARY KEY REFERENCES users (id),
	display_name	text CHECK (display_name IS NULL OR
			    char_length(display_name) BETWEEN 1 AND 80),
	avatar_url	text CHECK (avatar_url IS NULL OR
			    (char_length(avatar_url) <= 2048 AND
			    avatar_url LIKE 'https://%')),
	locale		text CHECK (locale IS NULL OR char_length(locale) <= 64),
	timezone	text CHECK (timezone IS NULL OR
			    char_length(timezone) <= 64),
	default_model	text CHECK (default_model IS NULL OR
			    char_length(default_model) <= 200),
	updated_at	timestamptz NOT NULL DEFAULT now()
);

-- Is this session live for this user (not revoked, not past its absolute
-- lifetime, user active)? For every module that wants to refuse the
-- still-unexpired access token of a signed-out session at once:
--   ... WHERE session_is_active($sid::uuid, $uid::uuid)
CREATE FUNCTION session_is_active(p_session uuid, p_user uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (
		SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = p_session AND s.user_id = p_user
		    AND s.revoked_at IS NULL AND s.expires_at > now()
		    AND u.status = 'active')
$$;

-- users.is_admin: some identity of the user has a verified email on the
-- TOLLGATE_ADMIN_EMAILS list (lower-cased by tollgate). Run at each login.
CREATE FUNCTION auth_admin_refresh(p_user uuid, p_admin_emails text[])
RETURNS boolean
LANGUAGE sql AS $$
	UPDATE users u SET is_admin = EXISTS (
		SELECT 1 FROM identities i
		WHERE i.user_id = u.id AND i.email_verified
		    AND i.email IS NOT NULL
		    AND lower(i.email) = ANY (coalesce(p_admin_emails, '{}')))
	WHERE u.id = p_user
	RETURNING u.is_admin
$$;

-- Creates a user: the users row, its profile and its first identity, in
-- the caller's transaction. Returns NULL when the identity exists already
-- (a concurrent first login of the same subject won; the caller re-reads).
CREATE FUNCTION auth_user_create(p_provider text, p_subject text,
    p_subject_hash bytea, p_email text, p_email_verified boolean,
    p_display_name text, p_avatar_url text, p_signup_micros bigint)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	v_user	uuid;
	v_grant	text;
BEGIN
	INSERT INTO users (email, email_verified)
	    VALUES (p_email, p_email IS NOT NULL AND p_email_verified)
	    RETURNING id INTO v_user;

	INSERT INTO identities (user_id, provider, subject, subject_hash,
	    email, email_verified)
	    VALUES (v_user, p_provider, p_subject, p_subject_hash, p_email,
	    p_email IS NOT NULL AND p_email_verified)
	    ON CONFLICT (provider, subject) DO NOTHING;
	IF NOT FOUND THEN
		DELETE FROM users WHERE id = v_user;
		RETURN NULL;
	END IF;

	INSERT INTO profiles (user_id, display_name, avatar_url)
	    VALUES (v_user, p_display_name, p_avatar_url);

	-- The signup grant (TOLLGATE_SIGNUP_CREDITS_MICROS), through the
	-- ledger in this same transaction, once per user and never again
	-- for an identity whose earlier account was closed.
	IF p_signup_micros > 0 AND NOT EXISTS (
	    SELECT 1 FROM identities i WHERE i.provider = p_provider
	    AND i.subject_hash = p_subject_hash AND i.user_id <> v_user) THEN
		SELECT g.result INTO v_grant FROM credits_grant(v_user,
		    p_signup_micros, 'signup_grant', 'signup',
		    'signup:' || v_user, false) g;
		IF v_grant IS DISTINCT FROM 'ok' THEN
			RAISE EXCEPTION 'signup grant for % failed: %',
			    v_user, v_grant;
		END IF;
	END IF;

	RETURN v_user;
END;
$$;

-- A finished sign-in (OAuth callback or dev login), one transaction:
-- find the user by (provider, subject) or create one, refresh the
-- identity's email and the admin flag, and open a session whose first
-- refresh token has the hash p_refresh_hash.
--
-- With p_link_user set (GET /auth/<p>/start?link=1 from a signed-in
-- session) the identity is attached to that user instead and no session
-- is opened; an identity that belongs to someone else is a conflict.
--
-- result: ok | linked | conflict | not_signed_in | disabled
CREATE FUNCTION auth_login(p_provider text, p_subject text,
    p_subject_hash bytea, p_email text, p_email_verified boolean,
    p_display_name text, p_avatar_url text, p_admin_emails text[],
    p_signup_micros bigint, p_refresh_hash bytea, p_link_user uuid)
RETURNS TABLE (result text, user_id uuid, session_id uuid, created boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_user		uuid;
	v_status	text;
	v_session	uuid;
	v_created	boolean := false;
	v_verified	boolean;
BEGIN
	IF p_email = '' THEN
		p_email := NULL;
	END IF;
	v_verified := p_email IS NOT NULL AND coalesce(p_email_verified, false);

	SELECT i.user_id INTO v_user FROM identities i
	    WHERE i.provider = p_provider AND i.subject = p_subject
	    FOR UPDATE;

	IF p_link_user IS NOT NULL THEN
		PERFORM 1 FROM users u
		    WHERE u.id = p_link_user AND u.status = 'active'
		    FOR UPDATE;
		IF NOT FOUND THEN
			RETURN QUERY SELECT 'not_signed_in'::text, NULL::uuid,
			    NULL::uuid, false;
			RETURN;
		END IF;
		IF v_user IS NOT NULL AND v_user <> p_link_user THEN
			RETURN QUERY SELECT 'conflict'::text, NULL::uuid,
			    NULL::uuid, false;
			RETURN;
		END IF;
		IF v_user IS NULL THEN
			INSERT INTO identities (user_id, provider, subject,
			    subject_hash, email, email_verified)
			    VALUES (p_link_user, p_provider, p_subject,
			    p_subject_hash, p_email, v_verified)
			    ON CONFLICT (provider, subject) DO NOTHING;
			IF NOT FOUND THEN
				RETURN QUERY SELECT 'conflict'::text,
				    NULL::uuid, NULL::uuid, false;
				RETURN;
			END IF;
		ELSE
			UPDATE identities i SET email = p_email,
			    email_verified = v_verified, last_login_at = now()
			    WHERE i.provider = p_provider
			    AND i.subject = p_subject;
		END IF;
		PERFORM auth_admin_refresh(p_link_user, p_admin_emails);
		RETURN QUERY SELECT 'linked'::text, p_link_user, NULL::uuid,
		    false;
		RETURN;
	END IF;

	IF v_user IS NULL THEN
		v_user := auth_user_create(p_provider, p_subject,
		    p_subject_hash, p_email, v_verified, p_display_name,
		    p_avatar_url, p_signup_micros);
		IF v_user IS NULL THEN
			SELECT i.user_id INTO v_user FROM identities i
			    WHERE i.provider = p_provider
			    AND i.subject = p_subject FOR UPDATE;
		ELSE
			v_created := true;
		END IF;
	END IF;

	SELECT u.status INTO v_status FROM users u WHERE u.id = v_user
	    FOR UPDATE;
	IF v_status IS DISTINCT FROM 'active' THEN
		RETURN QUERY SELECT 'disabled'::text, NULL::uuid, NULL::uuid,
		    false;
		RETURN;
	END IF;

	IF NOT v_created THEN
		UPDATE identities i SET email = p_email,
		    email_verified = v_verified, last_login_at = now()
		    WHERE i.provider = p_provider AND i.subject = p_subject;
		-- The contact email follows the latest verified one.
		UPDATE users u SET email = p_email, email_verified = true
		    WHERE u.id = v_user AND v_verified;
		UPDATE users u SET email = p_email
		    WHERE u.id = v_user AND u.email IS NULL
		    AND p_email IS NOT NULL;
	END IF;

	PERFORM auth_admin_refresh(v_user, p_admin_emails);

	INSERT INTO sessions (user_id, provider, idle_expires_at, expires_at)
	    VALUES (v_user, p_provider, now() + interval '7 days',
	    now() + interval '30 days')
	    RETURNING id INTO v_session;
	INSERT INTO refresh_tokens (token_hash, session_id, generation)
	    VALUES (p_refresh_hash, v_session, 1);

	RETURN QUERY SELECT 'ok'::text, v_user, v_session, v_created;
END;
$$;

-- POST /auth/refresh, one transaction under the session's row lock.
-- A token of the current generation rotates the session (generation + 1)
-- and registers p_new_hash; a token one generation old, presented within
-- 10 s of the rotation (two tabs, a lost response), gets a sibling of
-- the current generation without advancing; anything older is reuse of a
-- spent token and revokes the whole session.
--
-- result: ok | unknown | revoked | expired | reused
CREATE FUNCTION auth_refresh(p_refresh_hash bytea, p_new_hash bytea)
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

-- GET /api/me: the caller's account as JSON, or NULL when the session is
-- not live any more. (plpgsql: the ledger's view arrives with a later
-- migration, and plpgsql resolves names when it runs, not when created.)
CREATE FUNCTION auth_me(p_user uuid, p_session uuid)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT json_build_object(
	    'id', u.id,
	    'email', u.email,
	    'email_verified', u.email_verified,
	    'is_admin', u.is_admin,
	    'created_at', u.created_at,
	    'profile', json_build_object(
		'display_name', p.display_name,
		'avatar_url', p.avatar_url,
		'locale', p.locale,
		'timezone', p.timezone,
		'default_model', p.default_model),
	    'identities', coalesce((
		SELECT json_agg(json_build_object(
		    'provider', i.provider,
		    'subject', i.subject,
		    'email', i.email) ORDER BY i.created_at, i.id)
		FROM identities i
		WHERE i.user_id = u.id AND i.subject IS NOT NULL), '[]'::json),
	    'available_micros', coalesce((
		SELECT b.available_micros FROM ledger_user_balances b
		WHERE b.user_id = u.id), 0))
	FROM users u LEFT JOIN profiles p ON p.user_id = u.id
	WHERE u.id = p_user AND session_is_active(p_session, p_user));
END;
$$;
