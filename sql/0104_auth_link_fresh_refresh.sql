-- GET /auth/<p>/start?link=1 signed in by the refresh cookie: the token
-- must be one that POST /auth/refresh would still take (auth_refresh):
-- of the session's current generation, or of the one before within the
-- 10-second grace window, and the session not idle past its limit.
-- Before, any token of the previous generation opened a link flow for as
-- long as the session lived, so whoever held a spent copy of the cookie
-- could attach an identity of their own to the user (and sign in as them
-- from then on), where /auth/refresh would have ended the session.
--
-- Otherwise as in 0101_oauth_flows.sql.

CREATE OR REPLACE FUNCTION auth_flow_create(p_state_hash bytea,
    p_binding_hash bytea, p_provider text, p_verifier text, p_nonce text,
    p_return_to text, p_link_user uuid, p_link_session uuid,
    p_link_refresh bytea)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_link	uuid;
BEGIN
	-- Expired flows are of no use to anyone; keep the table small.
	DELETE FROM oauth_flows WHERE expires_at < now();

	IF p_link_session IS NOT NULL THEN
		SELECT s.user_id INTO v_link FROM sessions s
		    WHERE s.id = p_link_session AND s.user_id = p_link_user
		    AND session_is_active(s.id, s.user_id);
		IF v_link IS NULL THEN
			RETURN 'not_signed_in';
		END IF;
	ELSIF p_link_refresh IS NOT NULL THEN
		SELECT s.user_id INTO v_link
		    FROM refresh_tokens rt JOIN sessions s
		    ON s.id = rt.session_id
		    WHERE rt.token_hash = p_link_refresh
		    AND (rt.generation = s.generation OR
			(rt.generation = s.generation - 1 AND
			s.rotated_at > now() - interval '10 seconds'))
		    AND s.idle_expires_at > now()
		    AND session_is_active(s.id, s.user_id);
		IF v_link IS NULL THEN
			RETURN 'not_signed_in';
		END IF;
	END IF;

	INSERT INTO oauth_flows (state_hash, binding_hash, provider,
	    code_verifier, nonce, return_to, link_user_id, expires_at)
	    VALUES (p_state_hash, p_binding_hash, p_provider, p_verifier,
	    p_nonce, p_return_to, v_link, now() + interval '10 minutes');
	RETURN 'ok';
END;
$$;
