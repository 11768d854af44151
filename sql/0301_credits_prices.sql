-- Prices per provider:model (CONTRACT §6), with history.
--
-- A price is a row; changing a price appends a new row, so a charge never
-- changes after the fact: every hold keeps the id and a copy of the rates
-- it was reserved at (credit_holds, 0302), and the current price of a
-- model is its newest row. Rates are integer micro-credits per million
-- tokens, plus a fixed fee per request. Cached input tokens (cache reads,
-- a part of the prompt) are never dearer than fresh ones, which keeps the
-- hold of a call (every prompt token at the input rate) an upper bound.
--
-- A model without a row has no price and is refused (404
-- model_not_found); a row of zeros makes a model free.

CREATE TABLE model_prices (
	id				bigserial PRIMARY KEY,
	model				text NOT NULL
					CHECK (model ~ '^[a-z0-9][a-z0-9_.-]{0,63}:[!-~]{1,200}$'),
	input_micros_per_mtok		bigint NOT NULL
					CHECK (input_micros_per_mtok BETWEEN 0 AND 1000000000000),
	cached_input_micros_per_mtok	bigint NOT NULL
					CHECK (cached_input_micros_per_mtok BETWEEN 0 AND 1000000000000),
	output_micros_per_mtok		bigint NOT NULL
					CHECK (output_micros_per_mtok BETWEEN 0 AND 1000000000000),
	request_fee_micros		bigint NOT NULL DEFAULT 0
					CHECK (request_fee_micros BETWEEN 0 AND 1000000000000),
	effective_from			timestamptz NOT NULL DEFAULT clock_timestamp(),
	set_by				uuid REFERENCES users (id),
	CONSTRAINT model_prices_cached_not_dearer
	    CHECK (cached_input_micros_per_mtok <= input_micros_per_mtok)
);

CREATE INDEX model_prices_model ON model_prices (model, id DESC);

CREATE TRIGGER model_prices_append_only
    BEFORE UPDATE OR DELETE ON model_prices
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER model_prices_no_truncate
    BEFORE TRUNCATE ON model_prices
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- The price in force for each model: its newest row.
CREATE VIEW model_prices_current AS
SELECT DISTINCT ON (model) *
FROM model_prices
ORDER BY model, id DESC;

CREATE FUNCTION credits_is_admin(p_user uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM users WHERE id = p_user AND is_admin AND
	    status = 'active');
$$;

--
-- credits_price_set: the admin PUT. A price equal to the current one
-- changes nothing (PUT is idempotent); anything else appends a row that
-- applies to calls reserved after this commits.
--
-- result: 'created' | 'unchanged' | 'not_admin'.
--
CREATE FUNCTION credits_price_set(p_admin uuid, p_model text, p_in bigint,
    p_cached bigint, p_out bigint, p_fee bigint)
RETURNS TABLE (result text, price_id bigint, effective_from timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
	v_cur	model_prices;
	v_new	model_prices;
BEGIN
	IF NOT credits_is_admin(p_admin) THEN
		RETURN QUERY SELECT 'not_admin'::text, NULL::bigint,
		    NULL::timestamptz;
		RETURN;
	END IF;

	-- Serialises concurrent PUTs of one model (history stays linear).
	PERFORM pg_advisory_xact_lock(hashtext('model_prices:' || p_model));

	SELECT * INTO v_cur FROM model_prices WHERE model = p_model
	    ORDER BY id DESC LIMIT 1;
	IF FOUND AND v_cur.input_micros_per_mtok = p_in AND
	    v_cur.cached_input_micros_per_mtok = p_cached AND
	    v_cur.output_micros_per_mtok = p_out AND
	    v_cur.request_fee_micros = p_fee THEN
		RETURN QUERY SELECT 'unchanged'::text, v_cur.id,
		    v_cur.effective_from;
		RETURN;
	END IF;

	INSERT INTO model_prices (model, input_micros_per_mtok,
	    cached_input_micros_per_mtok, output_micros_per_mtok,
	    request_fee_micros, set_by)
	    VALUES (p_model, p_in, p_cached, p_out, p_fee, p_admin)
	    RETURNING * INTO v_new;

	RETURN QUERY SELECT 'created'::text, v_new.id, v_new.effective_from;
END;
$$;
