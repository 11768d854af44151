-- Stored /v1/responses (docs/router.md, "Responses API"): each answer
-- of POST /v1/responses without "store": false, kept per user for
-- TOLLGATE_RESPONSES_RETENTION_DAYS (expires_at) so that a later
-- request of the same user may name it (previous_response_id) or one of
-- its items (item_reference). Nothing here is money: the application
-- role reads and writes these tables directly (docs/operations.md,
-- "Database roles").
--
-- responses.input is the whole conversation up to and including the
-- request's own input (the previous response's input and output, then
-- this input), so that a previous_response_id resolves with one row.
-- response_items indexes every output item and every input item that
-- carries an id, by (user_id, id): the first response to store an id
-- keeps it. Rows past expires_at are never served and are purged by
-- the sweeper (responses_purge). Closing an account erases them
-- (responses_user_closed).

CREATE TABLE responses (
	id		text PRIMARY KEY CHECK (id ~ '^resp_[0-9a-f]{48}$'),
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	api_key_id	uuid REFERENCES api_keys (id),
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	response	jsonb NOT NULL
			CHECK (jsonb_typeof(response) = 'object'),
	input		jsonb NOT NULL CHECK (jsonb_typeof(input) = 'array')
);

-- Lookups name both the id and the user: (user_id, id) serves them and
-- the erasure of one user's rows; expires_at serves the purge.
CREATE UNIQUE INDEX responses_user_idx ON responses (user_id, id);
CREATE INDEX responses_expires_idx ON responses (expires_at);

CREATE TABLE response_items (
	user_id		uuid NOT NULL,
	id		text NOT NULL CHECK (char_length(id) BETWEEN 1 AND 64),
	response_id	text NOT NULL REFERENCES responses (id)
			ON DELETE CASCADE,
	item		jsonb NOT NULL CHECK (jsonb_typeof(item) = 'object'),
	PRIMARY KEY (user_id, id)
);

CREATE INDEX response_items_response_idx ON response_items (response_id);

-- At most p_limit expired responses (and their items) go per call, so
-- that one sweep never holds a long transaction; returns how many.
CREATE FUNCTION responses_purge(p_limit int)
RETURNS bigint
LANGUAGE sql AS $$
	WITH gone AS (
		DELETE FROM responses r WHERE r.id IN (
			SELECT x.id FROM responses x
			WHERE x.expires_at < now()
			ORDER BY x.expires_at
			LIMIT p_limit
			FOR UPDATE SKIP LOCKED)
		RETURNING 1)
	SELECT count(*) FROM gone;
$$;

-- DELETE /api/me (user_close) marks the user deleted: the stored
-- conversations are personal data and go in the same transaction.
CREATE FUNCTION responses_user_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM responses r WHERE r.user_id = NEW.id;
	RETURN NULL;
END;
$$;

CREATE TRIGGER responses_user_closed AFTER UPDATE OF status ON users
    FOR EACH ROW WHEN (NEW.status = 'deleted' AND OLD.status <> 'deleted')
    EXECUTE FUNCTION responses_user_closed();
