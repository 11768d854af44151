-- A new key is announced on tg_api_keys too (issue 13: forged keys). Each
-- worker remembers public ids that had no key for a few seconds (its
-- negative cache, app/auth/keys_auth.c); this notice drops such an entry,
-- so a key created a moment ago authenticates at once on every worker of
-- every process, whatever some forged key with the same id did before.
-- Sent at commit, like the others of migration 0201.
CREATE FUNCTION api_keys_created_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tg_api_keys', NEW.public_id);
	RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_created AFTER INSERT ON api_keys FOR EACH ROW
    EXECUTE FUNCTION api_keys_created_notify();
