-- OAuth flows (app/auth/oauth.c): GET /auth/<provider>/start records one,
-- the callback consumes it. A flow is bound to the browser that started
-- it (binding_hash: the keyed hash of a random value in a short-lived
-- HttpOnly cookie), expires after 10 minutes and is single-use: the
-- callback deletes it before anything else, whatever happens next.

-- result: ok | not_signed_in (link=1 without a live session)
CREATE FUNCTION auth_flow_create(p_state_hash bytea, p_binding_hash bytea,
    p_provider text, p_verifier text, p_nonce text, p_return_to text,
    p_link_user uuid, p_link_session uuid, p_link_refresh bytea)
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
		    AND rt.generation >= s.generation - 1
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

-- The callback's first step: take the flow out (single use).
CREATE FUNCTION auth_flow_consume(p_state_hash bytea, p_provider text)
RETURNS TABLE (binding_hash text, code_verifier text, nonce text,
    return_to text, link_user_id uuid, live boolean)
LANGUAGE sql AS $$
	DELETE FROM oauth_flows f
	    WHERE f.state_hash = p_state_hash AND f.provider = p_provider
	    RETURNING encode(f.binding_hash, 'hex'), f.code_verifier, f.nonce,
	    f.return_to, f.link_user_id, f.expires_at > now()
$$;
