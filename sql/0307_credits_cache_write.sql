-- Prompt cache writes (docs/credits.md, "The cost of a call"): a price
-- gets a rate for the prompt tokens a provider writes to its prompt
-- cache, and every usage record counts them.
--
--   model_prices     cache_write_input_micros_per_mtok: micros per million
--                    cache-write tokens; the input price unless set (a
--                    trigger fills it in), and may be above it (Anthropic
--                    charges 1.25x input). The seeded Claude prices get
--                    1.25x input in a new row (history is kept).
--   credit_holds     cache_write_input_prices: the snapshot of that rate
--                    per target. A hold prices every prompt token at the
--                    dearer of input and cache write: any of them may be
--                    a write.
--   usage_records    cache_write_tokens (part of prompt_tokens, like
--                    cached_tokens, each counted once) and the rate.
--
-- The cost of a call becomes
--
--   ceil(((prompt - cached - cache_write) * in + cached * cached_in
--         + cache_write * cache_write_in + completion * out) / 1e6) + fee
--
-- in credits_cost() (now with the two new operands), the per-call
-- settlement (credits_settle), the batched one (credits_flush), the
-- sweeper's expired holds and ledger_check(). Existing rows get the
-- input price as their cache-write rate and 0 cache-write tokens, which
-- leaves every recorded cost what it was.

ALTER TABLE model_prices ADD COLUMN cache_write_input_micros_per_mtok bigint
    CHECK (cache_write_input_micros_per_mtok BETWEEN 0 AND 1000000000000);

-- The default of the cache-write rate is the input rate of the same row.
CREATE FUNCTION model_prices_cache_write_default() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.cache_write_input_micros_per_mtok := coalesce(
	    NEW.cache_write_input_micros_per_mtok, NEW.input_micros_per_mtok);
	RETURN NEW;
END;
$$;

CREATE TRIGGER model_prices_cache_write_default BEFORE INSERT ON model_prices
    FOR EACH ROW EXECUTE FUNCTION model_prices_cache_write_default();

-- Filling in the new column of history rows changes no price.
ALTER TABLE model_prices DISABLE TRIGGER model_prices_append_only;
UPDATE model_prices SET cache_write_input_micros_per_mtok =
    input_micros_per_mtok;
ALTER TABLE model_prices ENABLE TRIGGER model_prices_append_only;
ALTER TABLE model_prices
    ALTER COLUMN cache_write_input_micros_per_mtok SET NOT NULL;

-- The view's column list was fixed when it was made: add the new one.
CREATE OR REPLACE VIEW model_prices_current AS
SELECT DISTINCT ON (model) id, model, input_micros_per_mtok,
    cached_input_micros_per_mtok, output_micros_per_mtok,
    request_fee_micros, effective_from, set_by,
    cache_write_input_micros_per_mtok
FROM model_prices
ORDER BY model, id DESC;

-- Anthropic bills a 5-minute cache write at 1.25x the input price (also
-- through OpenRouter). Claude prices nobody gave a cache-write rate get
-- one, rounded up, as a new row.
INSERT INTO model_prices (model, input_micros_per_mtok,
    cached_input_micros_per_mtok, output_micros_per_mtok,
    request_fee_micros, cache_write_input_micros_per_mtok)
SELECT c.model, c.input_micros_per_mtok, c.cached_input_micros_per_mtok,
    c.output_micros_per_mtok, c.request_fee_micros,
    (c.input_micros_per_mtok * 5 + 3) / 4
FROM model_prices_current c
WHERE (c.model LIKE 'anthropic:claude-%' OR
    c.model LIKE 'openrouter:anthropic/claude-%') AND
    c.cache_write_input_micros_per_mtok = c.input_micros_per_mtok AND
    c.input_micros_per_mtok > 0;

ALTER TABLE credit_holds ADD COLUMN cache_write_input_prices bigint[];
UPDATE credit_holds SET cache_write_input_prices = input_prices;
ALTER TABLE credit_holds
    ALTER COLUMN cache_write_input_prices SET NOT NULL,
    ADD CONSTRAINT credit_holds_cache_write_snapshot CHECK (
	cardinality(cache_write_input_prices) = cardinality(targets));

ALTER TABLE usage_records
    ADD COLUMN cache_write_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_input_price bigint;
ALTER TABLE usage_records DISABLE TRIGGER usage_records_append_only;
UPDATE usage_records SET cache_write_input_price = input_price;
ALTER TABLE usage_records ENABLE TRIGGER usage_records_append_only;
ALTER TABLE usage_records
    ALTER COLUMN cache_write_tokens DROP DEFAULT,
    ALTER COLUMN cache_write_input_price SET NOT NULL,
    ADD CONSTRAINT usage_records_cache_write CHECK (cache_write_tokens >= 0
	AND cache_write_tokens <= prompt_tokens - cached_tokens);

ALTER TYPE credits_flush_call
    ADD ATTRIBUTE cache_write_input_price bigint,
    ADD ATTRIBUTE cache_write_tokens bigint;

-- The contract's cost formula, exact (numeric), rounded up once.
DROP FUNCTION credits_cost(bigint, bigint, bigint, bigint, bigint, bigint,
    bigint);
CREATE FUNCTION credits_cost(p_prompt bigint, p_cached bigint,
    p_cache_write bigint, p_completion bigint, p_in bigint,
    p_cached_in bigint, p_cache_write_in bigint, p_out bigint, p_fee bigint)
RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
	SELECT div((p_prompt - p_cached - p_cache_write)::numeric * p_in +
	    p_cached::numeric * p_cached_in +
	    p_cache_write::numeric * p_cache_write_in +
	    p_completion::numeric * p_out + 999999, 1000000) + p_fee;
$$;

-- What a usage record's tokens cost at its rates.
CREATE FUNCTION credits_usage_cost(u usage_records) RETURNS numeric
LANGUAGE sql STABLE AS $$
	SELECT credits_cost(u.prompt_tokens, u.cached_tokens,
	    u.cache_write_tokens, u.completion_tokens, u.input_price,
	    u.cached_input_price, u.cache_write_input_price, u.output_price,
	    u.request_fee);
$$;

--
-- The cache-write tokens of a hold's worst case on its target p_t
-- (1-based): the whole prompt bound when a write is dearer than input,
-- else none. With them credits_cost() gives the hold's amount.
--
CREATE FUNCTION credits_hold_writes(p_hold credit_holds, p_t integer)
RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_hold.cache_write_input_prices[p_t] >
	    p_hold.input_prices[p_t] THEN p_hold.prompt_bound ELSE 0 END;
$$;

--
-- credits_reserve: as in 0306, the hold pricing each prompt token at the
-- dearer of input and cache write, the cache-write rates in the hold's
-- snapshot and in its answer (a new last column).
--
DROP FUNCTION credits_reserve(uuid, uuid, uuid, text, text, text[], bigint[],
    bigint, bigint, bigint, integer, integer, boolean);
CREATE FUNCTION credits_reserve(p_hold uuid, p_user uuid, p_key uuid,
    p_request_id text, p_endpoint text, p_targets text[], p_caps bigint[],
    p_prompt_bound bigint, p_max_tokens bigint, p_min_tokens bigint,
    p_choices integer, p_ttl_seconds integer, p_final boolean)
RETURNS TABLE (result text, max_tokens bigint, amount bigint,
    target integer, model text, price_id bigint, input_price bigint,
    cached_input_price bigint, output_price bigint, request_fee bigint,
    available bigint, key_available bigint, debt bigint,
    expires_at timestamptz, leased bigint, cache_write_input_price bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_ids		record;
	v_acct		ledger_accounts;
	v_debt		bigint;
	v_price		model_prices;
	v_hold		credit_holds;
	v_n		integer;
	v_t		integer;
	v_ids_p		bigint[] := '{}';
	v_in		bigint[] := '{}';
	v_cin		bigint[] := '{}';
	v_out		bigint[] := '{}';
	v_fee		bigint[] := '{}';
	v_cw		bigint[] := '{}';
	v_pin		bigint[] := '{}';
	v_limit		bigint;
	v_spent		bigint;
	v_avail		numeric;
	v_key_avail	numeric;
	v_eff		numeric;
	v_room		numeric;
	v_rate		numeric;
	v_m		numeric;
	v_h		numeric;
	v_amount	numeric;
	v_result	text;
	v_leased	bigint;
BEGIN
	v_n := cardinality(p_targets);
	IF v_n IS NULL OR v_n < 1 OR v_n > 8 OR
	    cardinality(p_caps) IS DISTINCT FROM v_n OR
	    p_prompt_bound < 0 OR p_min_tokens < 0 OR p_max_tokens < 0 OR
	    p_max_tokens IS NULL OR p_ttl_seconds < 1 OR
	    p_choices NOT BETWEEN 1 AND 128 OR
	    EXISTS (SELECT 1 FROM unnest(p_caps) c WHERE c IS NULL OR c < 0) THEN
		RAISE EXCEPTION 'credits_reserve: bad arguments'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Orders this reservation and a settle of the same hold.
	PERFORM pg_advisory_xact_lock(hashtextextended('hold:' || p_hold, 0));
	SELECT * INTO v_ids FROM ledger_user_accounts(p_user);
	-- Serialises every reservation and movement of this user.
	SELECT * INTO v_acct FROM ledger_accounts WHERE id = v_ids.account_id
	    FOR UPDATE;
	SELECT balance INTO v_debt FROM ledger_accounts
	    WHERE id = v_ids.debt_id;
	v_avail := v_acct.balance - v_acct.reserved;

	IF EXISTS (SELECT 1 FROM credit_hold_cancels c WHERE c.id = p_hold) THEN
		RETURN QUERY SELECT 'cancelled'::text, NULL::bigint,
		    NULL::bigint, NULL::integer, NULL::text, NULL::bigint,
		    NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
		    v_avail::bigint, NULL::bigint, v_debt, NULL::timestamptz,
		    0::bigint, NULL::bigint;
		RETURN;
	END IF;

	SELECT * INTO v_hold FROM credit_holds h WHERE h.id = p_hold;
	IF FOUND THEN
		IF v_hold.user_id <> p_user THEN
			RAISE EXCEPTION 'credits_reserve: hold % is another user''s',
			    p_hold USING ERRCODE = 'unique_violation';
		END IF;
		RETURN QUERY SELECT 'duplicate'::text, v_hold.max_tokens,
		    v_hold.amount, (i - 1)::integer, v_hold.targets[i],
		    v_hold.price_ids[i], v_hold.input_prices[i],
		    v_hold.cached_input_prices[i], v_hold.output_prices[i],
		    v_hold.request_fees[i], v_avail::bigint, NULL::bigint,
		    v_debt, v_hold.expires_at, 0::bigint,
		    v_hold.cache_write_input_prices[i]
		    FROM generate_subscripts(v_hold.targets, 1) i ORDER BY i;
		RETURN;
	END IF;

	FOR v_t IN 1 .. v_n LOOP
		SELECT * INTO v_price FROM model_prices p
		    WHERE p.model = p_targets[v_t] ORDER BY p.id DESC LIMIT 1;
		IF NOT FOUND THEN
			RETURN QUERY SELECT 'no_price'::text, NULL::bigint,
			    NULL::bigint, v_t - 1, p_targets[v_t], NULL::bigint,
			    NULL::bigint, NULL::bigint, NULL::bigint,
			    NULL::bigint, v_avail::bigint, NULL::bigint, v_debt,
			    NULL::timestamptz, 0::bigint, NULL::bigint;
			RETURN;
		END IF;
		v_ids_p := v_ids_p || v_price.id;
		v_in := v_in || v_price.input_micros_per_mtok;
		v_cin := v_cin || v_price.cached_input_micros_per_mtok;
		v_out := v_out || v_price.output_micros_per_mtok;
		v_fee := v_fee || v_price.request_fee_micros;
		v_cw := v_cw || v_price.cache_write_input_micros_per_mtok;
		-- Every prompt token may be a cache write: the dearer rate.
		v_pin := v_pin || greatest(v_price.input_micros_per_mtok,
		    v_price.cache_write_input_micros_per_mtok);
	END LOOP;

	-- The key's limit counts what it spent, holds and parks in leases.
	IF p_key IS NOT NULL THEN
		SELECT k.spend_limit_micros, k.spent_micros INTO v_limit, v_spent
		    FROM api_keys k WHERE k.id = p_key AND k.user_id = p_user
		    FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'credits_reserve: key % is not user %''s',
			    p_key, p_user USING ERRCODE = 'foreign_key_violation';
		END IF;
		IF v_limit IS NOT NULL THEN
			v_key_avail := v_limit - v_spent - (SELECT
			    coalesce(sum(h.amount), 0) FROM credit_holds h
			    WHERE h.api_key_id = p_key AND h.status = 'pending') -
			    (SELECT coalesce(sum(l.amount), 0) FROM credit_leases l
			    WHERE l.api_key_id = p_key AND l.status = 'open');
		END IF;
	END IF;
	v_eff := CASE WHEN v_key_avail IS NULL THEN v_avail
	    ELSE least(v_avail, v_key_avail) END;

	v_result := 'ok';
	IF v_debt < 0 THEN
		v_result := 'debt';
	END IF;
	v_m := p_max_tokens;
	FOR v_t IN 1 .. v_n LOOP
		v_rate := v_out[v_t]::numeric * p_choices;
		v_h := div(p_prompt_bound::numeric * v_pin[v_t] +
		    credits_target_tokens(p_max_tokens, p_caps[v_t]) * v_rate +
		    999999, 1000000) + v_fee[v_t];
		IF v_h <= greatest(v_eff, 0) THEN
			CONTINUE;
		END IF;
		v_room := (v_eff - v_fee[v_t]) * 1000000 -
		    p_prompt_bound::numeric * v_pin[v_t];
		IF v_room < 0 OR v_rate = 0 THEN
			v_m := -1;
		ELSE
			v_m := least(v_m, div(v_room, v_rate));
		END IF;
	END LOOP;
	IF v_result = 'ok' AND v_m < p_min_tokens THEN
		v_result := 'insufficient';
	END IF;

	-- Refused or clamped while other leases park credit: ask first.
	v_leased := 0;
	IF NOT coalesce(p_final, true) AND v_result <> 'debt' AND
	    v_m < p_max_tokens THEN
		SELECT coalesce(sum(l.amount), 0) INTO v_leased
		    FROM credit_leases l WHERE l.user_id = p_user AND
		    l.status = 'open' AND l.amount > 0;
		IF v_leased > 0 THEN
			UPDATE credit_leases l SET recall = true
			    WHERE l.user_id = p_user AND l.status = 'open' AND
			    NOT l.recall;
			PERFORM pg_notify('tg_credits', 'recall ' || p_user);
			v_result := 'recall';
		END IF;
	END IF;

	IF v_result <> 'ok' THEN
		RETURN QUERY SELECT v_result, v_m::bigint, NULL::bigint,
		    (i - 1)::integer, p_targets[i], v_ids_p[i], v_in[i],
		    v_cin[i], v_out[i], v_fee[i], v_avail::bigint,
		    v_key_avail::bigint, v_debt, NULL::timestamptz, v_leased,
		    v_cw[i]
		    FROM generate_subscripts(p_targets, 1) i ORDER BY i;
		RETURN;
	END IF;

	v_amount := 0;
	FOR v_t IN 1 .. v_n LOOP
		v_amount := greatest(v_amount, div(p_prompt_bound::numeric *
		    v_pin[v_t] + credits_target_tokens(v_m, p_caps[v_t]) *
		    v_out[v_t] * p_choices + 999999, 1000000) + v_fee[v_t]);
	END LOOP;

	INSERT INTO credit_holds (id, user_id, api_key_id, request_id, endpoint,
	    targets, price_ids, input_prices, cached_input_prices,
	    output_prices, request_fees, caps, prompt_bound, max_tokens,
	    choices, amount, expires_at, cache_write_input_prices)
	    VALUES (p_hold, p_user, p_key, p_request_id, p_endpoint, p_targets,
	    v_ids_p, v_in, v_cin, v_out, v_fee, p_caps, p_prompt_bound, v_m,
	    p_choices, v_amount, now() + p_ttl_seconds * interval '1 second',
	    v_cw)
	    RETURNING * INTO v_hold;

	IF v_amount > 0 THEN
		UPDATE ledger_accounts SET reserved = reserved + v_amount
		    WHERE id = v_acct.id;
	END IF;

	RETURN QUERY SELECT 'ok'::text, v_hold.max_tokens, v_hold.amount,
	    (i - 1)::integer, v_hold.targets[i], v_hold.price_ids[i],
	    v_hold.input_prices[i], v_hold.cached_input_prices[i],
	    v_hold.output_prices[i], v_hold.request_fees[i],
	    (v_avail - v_amount)::bigint, (v_key_avail - v_amount)::bigint,
	    v_debt, v_hold.expires_at, 0::bigint,
	    v_hold.cache_write_input_prices[i]
	    FROM generate_subscripts(v_hold.targets, 1) i ORDER BY i;
END;
$$;

--
-- credits_resolve (internal), credits_settle: as in 0302, with the
-- call's cache-write tokens (p_cache_write, part of p_prompt).
--
DROP FUNCTION credits_settle(uuid, integer, text, text, bigint, bigint,
    bigint, bigint, bigint, text, integer, bigint, text);
DROP FUNCTION credits_resolve(credit_holds, integer, text, text, text,
    bigint, bigint, bigint, bigint, bigint, text, integer, bigint, text);
CREATE FUNCTION credits_resolve(p_hold credit_holds, p_target integer,
    p_to text, p_status text, p_settlement text, p_prompt bigint,
    p_cached bigint, p_cache_write bigint, p_completion bigint, p_reasoning bigint,
    p_cost bigint, p_served_model text, p_http_status integer,
    p_latency_ms bigint, p_reason text,
    OUT charged bigint, OUT loss bigint, OUT txn_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
	v_acct	bigint;
	t	integer := p_target;
BEGIN
	charged := least(p_cost, p_hold.amount);
	loss := p_cost - charged;
	txn_id := NULL;

	SELECT id INTO v_acct FROM ledger_accounts
	    WHERE user_id = p_hold.user_id AND kind = 'user';

	-- Release first: balance - reserved stays >= 0 at every step.
	IF p_hold.amount > 0 THEN
		UPDATE ledger_accounts SET reserved = reserved - p_hold.amount
		    WHERE id = v_acct;
	END IF;

	IF charged > 0 OR loss > 0 THEN
		INSERT INTO ledger_transactions (idempotency_key, kind, user_id,
		    amount, reference)
		    VALUES ('usage:' || p_hold.id, 'usage', p_hold.user_id,
		    -charged, left(p_hold.targets[t] || ' ' ||
		    p_hold.request_id, 500))
		    RETURNING id INTO txn_id;
		PERFORM ledger_post(txn_id, v_acct, -charged);
		PERFORM ledger_post(txn_id, ledger_system_account('usage'),
		    charged + loss);
		PERFORM ledger_post(txn_id, ledger_system_account('loss'), -loss);
	END IF;

	IF charged > 0 AND p_hold.api_key_id IS NOT NULL THEN
		UPDATE api_keys SET spent_micros = spent_micros + charged
		    WHERE id = p_hold.api_key_id;
	END IF;

	INSERT INTO usage_records (id, user_id, api_key_id, request_id, endpoint,
	    model, served_model, price_id, input_price, cached_input_price,
	    output_price, request_fee, prompt_tokens, cached_tokens,
	    cache_write_input_price, cache_write_tokens, completion_tokens, reasoning_tokens, cost_micros, loss_micros,
	    status, http_status, settlement, reason, latency_ms, ledger_txn_id,
	    started_at)
	    VALUES (p_hold.id, p_hold.user_id, p_hold.api_key_id,
	    p_hold.request_id, p_hold.endpoint, p_hold.targets[t],
	    left(p_served_model, 200), p_hold.price_ids[t],
	    p_hold.input_prices[t], p_hold.cached_input_prices[t],
	    p_hold.output_prices[t], p_hold.request_fees[t], p_prompt,
	    p_cached, p_hold.cache_write_input_prices[t], p_cache_write,
	    p_completion, p_reasoning, charged, loss, p_status,
	    p_http_status, p_settlement, left(p_reason, 500), p_latency_ms,
	    txn_id, p_hold.created_at);

	UPDATE credit_holds SET status = p_to, charged = credits_resolve.charged,
	    resolved_at = now() WHERE id = p_hold.id;
END;
$$;

CREATE FUNCTION credits_settle(p_hold uuid, p_target integer,
    p_status text, p_settlement text, p_prompt bigint, p_cached bigint,
    p_cache_write bigint, p_completion bigint, p_reasoning bigint, p_cost bigint,
    p_served_model text, p_http_status integer, p_latency_ms bigint,
    p_reason text)
RETURNS TABLE (result text, charged bigint, loss bigint, txn_id uuid,
    hold_status text)
LANGUAGE plpgsql AS $$
DECLARE
	v_hold	credit_holds;
	v_r	record;
	v_to	text;
BEGIN
	IF p_settlement NOT IN ('provider', 'estimate', 'void') OR
	    p_cost < 0 OR (p_settlement = 'void' AND (p_cost <> 0 OR
	    p_prompt <> 0 OR p_cache_write <> 0 OR p_completion <> 0)) OR
	    (p_target IS NULL AND p_settlement <> 'void') THEN
		RAISE EXCEPTION 'credits_settle: bad arguments'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	PERFORM pg_advisory_xact_lock(hashtextextended('hold:' || p_hold, 0));
	SELECT * INTO v_hold FROM credit_holds WHERE id = p_hold FOR UPDATE;
	IF NOT FOUND THEN
		IF p_settlement = 'void' THEN
			INSERT INTO credit_hold_cancels (id) VALUES (p_hold)
			    ON CONFLICT DO NOTHING;
		END IF;
		RETURN QUERY SELECT 'unknown'::text, NULL::bigint, NULL::bigint,
		    NULL::uuid, NULL::text;
		RETURN;
	END IF;
	IF v_hold.status <> 'pending' THEN
		RETURN QUERY SELECT 'duplicate'::text, u.cost_micros,
		    u.loss_micros, u.ledger_txn_id, v_hold.status
		    FROM usage_records u WHERE u.id = p_hold;
		RETURN;
	END IF;
	IF coalesce(p_target, 0) < 0 OR
	    coalesce(p_target, 0) >= cardinality(v_hold.targets) THEN
		RAISE EXCEPTION 'credits_settle: no target % in hold %',
		    p_target, p_hold USING ERRCODE = 'invalid_parameter_value';
	END IF;

	v_to := CASE WHEN p_settlement = 'void' THEN 'voided' ELSE 'settled' END;
	SELECT * INTO v_r FROM credits_resolve(v_hold,
	    coalesce(p_target, 0) + 1, v_to, p_status, p_settlement, p_prompt,
	    p_cached, p_cache_write, p_completion, p_reasoning, p_cost,
	    p_served_model,
	    p_http_status, p_latency_ms, p_reason);

	RETURN QUERY SELECT 'ok'::text, v_r.charged, v_r.loss, v_r.txn_id, v_to;
END;
$$;

--
-- credits_expire_holds: as in 0302; the whole hold is recorded as the
-- tokens that cost it (the prompt bound as cache writes where they are
-- the dearer rate).
--
CREATE OR REPLACE FUNCTION credits_expire_holds(p_limit integer)
RETURNS TABLE (expired integer, charged bigint, pending bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_hold	credit_holds;
	v_r	record;
	v_n	integer := 0;
	v_sum	bigint := 0;
	v_t	integer;
	v_best	integer;
	v_tok	numeric;
	v_h	numeric;
	v_max	numeric;
	v_cw	bigint;
BEGIN
	FOR v_hold IN SELECT * FROM credit_holds
	    WHERE status = 'pending' AND credit_holds.expires_at < now()
	    ORDER BY credit_holds.expires_at LIMIT p_limit
	    FOR UPDATE SKIP LOCKED
	LOOP
		v_best := 1;
		v_max := -1;
		FOR v_t IN 1 .. cardinality(v_hold.targets) LOOP
			v_h := credits_cost(v_hold.prompt_bound, 0,
			    credits_hold_writes(v_hold, v_t),
			    (credits_target_tokens(v_hold.max_tokens,
			    v_hold.caps[v_t]) * v_hold.choices)::bigint,
			    v_hold.input_prices[v_t],
			    v_hold.cached_input_prices[v_t],
			    v_hold.cache_write_input_prices[v_t],
			    v_hold.output_prices[v_t], v_hold.request_fees[v_t]);
			IF v_h > v_max THEN
				v_max := v_h;
				v_best := v_t;
			END IF;
		END LOOP;
		v_tok := credits_target_tokens(v_hold.max_tokens,
		    v_hold.caps[v_best]) * v_hold.choices;
		v_cw := credits_hold_writes(v_hold, v_best);

		SELECT * INTO v_r FROM credits_resolve(v_hold, v_best,
		    'expired', 'expired', 'expired', v_hold.prompt_bound, 0,
		    v_cw, v_tok::bigint, 0, v_hold.amount, NULL, NULL,
		    (extract(epoch FROM now() - v_hold.created_at) * 1000)::bigint,
		    'hold expired unsettled (its process ended mid-call); '
		    'charged the whole hold');
		v_n := v_n + 1;
		v_sum := v_sum + v_r.charged;
	END LOOP;

	DELETE FROM credit_hold_cancels
	    WHERE created_at < now() - interval '1 day';

	RETURN QUERY SELECT v_n, v_sum, (SELECT count(*) FROM credit_holds
	    WHERE status = 'pending');
END;
$$;

--
-- credits_flush: as in 0306; each call carries cache_write_input_price
-- and cache_write_tokens.
--
CREATE OR REPLACE FUNCTION credits_flush(p_calls json, p_leases json,
    p_ttl_seconds integer)
RETURNS TABLE (lease uuid, status text, amount bigint, expires_in_ms bigint,
    recall boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_calls		credits_flush_call[];
	v_leases	credits_flush_lease[];
	v_users		credits_flush_user[];
	v_ids		uuid[];
	v_paid_user	uuid[];
	v_paid		bigint[];
	v_usage		bigint;
	v_loss		bigint;
	v_l		credits_flush_lease;
BEGIN
	IF p_ttl_seconds IS NULL OR p_ttl_seconds < 1 THEN
		RAISE EXCEPTION 'credits_flush: bad arguments'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- A retried batch: what an earlier attempt recorded is skipped.
	v_calls := ARRAY(SELECT c FROM json_populate_recordset(
	    NULL::credits_flush_call, coalesce(p_calls, '[]')) c
	    WHERE NOT EXISTS (SELECT 1 FROM usage_records u WHERE u.id = c.id)
	    ORDER BY c.id);
	v_leases := ARRAY(SELECT l FROM json_populate_recordset(
	    NULL::credits_flush_lease, coalesce(p_leases, '[]')) l
	    ORDER BY l.id);
	IF EXISTS (SELECT 1 FROM unnest(v_calls) c WHERE c.id IS NULL OR
	    c.user_id IS NULL OR c.cost IS NULL OR c.cost < 0 OR
	    c.cache_write_input_price IS NULL OR c.cache_write_tokens IS NULL OR
	    c.loss IS NULL OR c.loss < 0 OR c.started_ms IS NULL) OR
	    EXISTS (SELECT 1 FROM unnest(v_leases) l WHERE l.id IS NULL OR
	    l.user_id IS NULL OR l.want IS NULL OR l.want < 0) THEN
		RAISE EXCEPTION 'credits_flush: bad call or lease'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- New users get their accounts; then lock them all, in id order.
	v_ids := ARRAY(SELECT c.user_id FROM unnest(v_calls) c UNION
	    SELECT l.user_id FROM unnest(v_leases) l);
	PERFORM ledger_user_accounts(u) FROM unnest(v_ids) u
	    WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a
	    WHERE a.user_id = u AND a.kind = 'user');
	PERFORM 1 FROM ledger_accounts a WHERE a.user_id = ANY (v_ids)
	    ORDER BY a.id FOR UPDATE;

	-- Each open lease pays its calls' charges out of what it parks.
	WITH s AS (SELECT c.lease AS id, sum(c.cost) AS cost
	    FROM unnest(v_calls) c WHERE c.lease IS NOT NULL GROUP BY c.lease),
	r AS (SELECT l.id, least(l.amount, s.cost) AS paid FROM credit_leases l
	    JOIN s ON s.id = l.id WHERE l.status = 'open'),
	u AS (UPDATE credit_leases l SET amount = l.amount - r.paid,
	    charged = l.charged + r.paid, renewed_at = now(),
	    expires_at = now() + p_ttl_seconds * interval '1 second'
	    FROM r WHERE l.id = r.id
	    RETURNING l.user_id, r.paid)
	SELECT coalesce(array_agg(u.user_id), '{}'),
	    coalesce(array_agg(u.paid), '{}') INTO v_paid_user, v_paid FROM u;

	--
	-- Per user: released (what open leases paid: it leaves 'reserved'
	-- and the balance together), taken (the rest, from available
	-- credit), owed (what neither paid: calls served on a lease that was
	-- recalled or expired meanwhile; it becomes debt).
	--
	v_users := ARRAY(
	    WITH p AS (SELECT x.user_id, sum(x.paid) AS paid
		FROM unnest(v_paid_user, v_paid) AS x(user_id, paid)
		GROUP BY x.user_id),
	    u AS (SELECT c.user_id, sum(c.cost) AS charged,
		sum(c.loss) AS loss, count(*) AS calls
		FROM unnest(v_calls) c
		GROUP BY c.user_id HAVING sum(c.cost) + sum(c.loss) > 0)
	    SELECT ROW(u.user_id, a.id, d.id, a.balance, d.balance, u.charged,
		u.loss, r.released, t.taken, u.charged - r.released - t.taken,
		u.calls, tg_uuid7())::credits_flush_user
	    FROM u
	    LEFT JOIN p ON p.user_id = u.user_id
	    JOIN ledger_accounts a ON a.user_id = u.user_id AND a.kind = 'user'
	    JOIN ledger_accounts d ON d.user_id = u.user_id AND
		d.kind = 'user_debt',
	    LATERAL (SELECT coalesce(p.paid, 0) AS released) r,
	    LATERAL (SELECT least(u.charged - r.released,
		greatest(a.balance - a.reserved, 0)) AS taken) t);

	INSERT INTO ledger_transactions (id, idempotency_key, kind, user_id,
	    amount, reference)
	SELECT u.txn, 'usage:' || u.txn, 'usage', u.user_id, -u.charged,
	    u.calls || CASE WHEN u.calls = 1 THEN ' call' ELSE ' calls' END
	FROM unnest(v_users) u;

	--
	-- Each transaction's entries sum to zero by construction: -(released
	-- + taken) - owed + (charged + loss) - loss = 0, as owed is charged -
	-- released - taken. So the per-entry check at commit
	-- (ledger_entries_balanced) is told to skip this transaction's
	-- entries, which are all written here; ledger_check() still sums
	-- every transaction.
	--
	PERFORM set_config('tollgate.ledger_balanced', 'flush', true);
	v_usage := ledger_system_account('usage');
	v_loss := ledger_system_account('loss');
	INSERT INTO ledger_entries (txn_id, account_id, amount, balance_after)
	SELECT e.txn, e.account, e.amount, e.after
	FROM unnest(v_users) u, LATERAL (VALUES
	    (u.txn, u.account, -(u.released + u.taken),
		u.balance - u.released - u.taken),
	    (u.txn, u.debt_account, -u.owed, u.debt_balance - u.owed),
	    (u.txn, v_usage, u.charged + u.loss, NULL),
	    (u.txn, v_loss, -u.loss, NULL))
	    AS e(txn, account, amount, after)
	WHERE e.amount <> 0;

	UPDATE ledger_accounts a SET balance = a.balance - m.amount,
	    reserved = a.reserved - m.released
	FROM (SELECT u.account AS id, u.released + u.taken AS amount,
		u.released FROM unnest(v_users) u
	    UNION ALL
	    SELECT u.debt_account, u.owed, 0 FROM unnest(v_users) u
	    WHERE u.owed > 0) m
	WHERE a.id = m.id AND (m.amount <> 0 OR m.released <> 0);

	INSERT INTO usage_records (id, user_id, api_key_id, request_id,
	    endpoint, model, served_model, price_id, input_price,
	    cached_input_price, output_price, request_fee, prompt_tokens,
	    cached_tokens, completion_tokens, reasoning_tokens, cost_micros,
	    loss_micros, status, http_status, settlement, reason, latency_ms,
	    ledger_txn_id, started_at, lease_id, cache_write_input_price,
	    cache_write_tokens)
	SELECT c.id, c.user_id, c.key, c.request_id, c.endpoint, c.model,
	    NULL, c.price_id, c.input_price, c.cached_input_price,
	    c.output_price, c.request_fee, c.prompt_tokens, c.cached_tokens,
	    c.completion_tokens, c.reasoning_tokens, c.cost, c.loss, c.status,
	    c.http_status, c.settlement, left(c.reason, 500), c.latency_ms,
	    u.txn, to_timestamp(c.started_ms / 1000.0), c.lease,
	    c.cache_write_input_price, c.cache_write_tokens
	FROM unnest(v_calls) c
	LEFT JOIN unnest(v_users) u ON u.user_id = c.user_id;

	UPDATE api_keys k SET spent_micros = k.spent_micros + s.cost
	FROM (SELECT c.key, sum(c.cost) AS cost FROM unnest(v_calls) c
	    WHERE c.key IS NOT NULL GROUP BY c.key HAVING sum(c.cost) > 0) s
	WHERE k.id = s.key;

	-- Leases the worker keeps as they are (renewed by their charges
	-- above, or recently): their state, with no write.
	RETURN QUERY SELECT l.id, l.status, l.amount, CASE
	    WHEN l.status = 'open' THEN greatest(0, (extract(epoch FROM
	    l.expires_at - now()) * 1000)::bigint) ELSE 0 END, l.recall
	    FROM unnest(v_leases) w JOIN credit_leases l ON l.id = w.id
	    WHERE l.status <> 'open' OR (w.want = l.amount AND
	    l.renewed_at > now() - p_ttl_seconds * interval '1 second' / 3);

	FOR v_l IN SELECT w.* FROM unnest(v_leases) w
	    LEFT JOIN credit_leases l ON l.id = w.id
	    WHERE l.id IS NULL OR (l.status = 'open' AND (w.want <> l.amount OR
	    l.renewed_at <= now() - p_ttl_seconds * interval '1 second' / 3))
	LOOP
		RETURN QUERY SELECT * FROM credits_lease_adjust(v_l,
		    p_ttl_seconds);
	END LOOP;
END;
$$;

--
-- ledger_check_credits(): as in 0306, with cache writes in the cost and
-- the cache-write rate checked against the hold's snapshot or the price.
--
CREATE OR REPLACE FUNCTION ledger_check_credits() RETURNS TABLE (problem text)
LANGUAGE sql STABLE AS $$
	SELECT format('hold %s still pending %s after its expiry', id,
	    date_trunc('second', now() - expires_at))
	FROM credit_holds
	WHERE status = 'pending' AND expires_at < now() - interval '60 seconds'
	UNION ALL
	SELECT format('lease %s still open %s after its expiry', id,
	    date_trunc('second', now() - expires_at))
	FROM credit_leases
	WHERE status = 'open' AND expires_at < now() - interval '60 seconds'
	UNION ALL
	SELECT format('account %s: reserved %s, pending holds %s, open leases %s',
	    a.id, a.reserved, coalesce(h.total, 0), coalesce(l.total, 0))
	FROM ledger_accounts a
	LEFT JOIN (SELECT user_id, sum(amount) AS total FROM credit_holds
	    WHERE status = 'pending' GROUP BY user_id) h
	    ON h.user_id = a.user_id
	LEFT JOIN (SELECT user_id, sum(amount) AS total FROM credit_leases
	    WHERE status = 'open' GROUP BY user_id) l
	    ON l.user_id = a.user_id
	WHERE a.kind = 'user' AND
	    a.reserved <> coalesce(h.total, 0) + coalesce(l.total, 0)
	UNION ALL
	SELECT format('user %s has pending holds or open leases but no account',
	    x.user_id)
	FROM (SELECT user_id FROM credit_holds WHERE status = 'pending' AND
	    amount > 0 UNION SELECT user_id FROM credit_leases
	    WHERE status = 'open' AND amount > 0) x
	WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a
	    WHERE a.user_id = x.user_id AND a.kind = 'user')
	UNION ALL
	SELECT format('%s %s: no such user %s', x.what, x.id, x.user_id)
	FROM (SELECT 'hold' AS what, id, user_id FROM credit_holds
	    UNION ALL SELECT 'lease', id, user_id FROM credit_leases
	    UNION ALL SELECT 'usage record', id, user_id FROM usage_records) x
	WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
	UNION ALL
	SELECT format('%s %s: key %s is not its user''s', x.what, x.id, x.key)
	FROM (SELECT 'hold' AS what, id, user_id, api_key_id AS key
	    FROM credit_holds WHERE api_key_id IS NOT NULL
	    UNION ALL SELECT 'lease', id, user_id, api_key_id FROM credit_leases
	    WHERE api_key_id IS NOT NULL
	    UNION ALL SELECT 'usage record', id, user_id, api_key_id
	    FROM usage_records WHERE api_key_id IS NOT NULL) x
	WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = x.key AND
	    k.user_id = x.user_id)
	UNION ALL
	SELECT format('hold %s is %s without a usage record', h.id, h.status)
	FROM credit_holds h
	WHERE h.status <> 'pending' AND NOT EXISTS (SELECT 1 FROM usage_records u
	    WHERE u.id = h.id)
	UNION ALL
	SELECT format('usage record %s belongs to a pending hold', u.id)
	FROM usage_records u JOIN credit_holds h ON h.id = u.id
	WHERE h.status = 'pending'
	UNION ALL
	SELECT format('usage record %s has neither a hold nor a lease', u.id)
	FROM usage_records u
	WHERE CASE WHEN u.lease_id IS NULL THEN NOT EXISTS (SELECT 1
	    FROM credit_holds h WHERE h.id = u.id) ELSE NOT EXISTS (SELECT 1
	    FROM credit_leases l WHERE l.id = u.lease_id AND
	    l.user_id = u.user_id) END
	UNION ALL
	SELECT format('hold %s charged %s, its usage record %s', h.id,
	    h.charged, u.cost_micros)
	FROM credit_holds h JOIN usage_records u ON u.id = h.id
	WHERE h.charged <> u.cost_micros OR u.user_id <> h.user_id
	UNION ALL
	SELECT format('usage record %s: charged %s + loss %s, but its tokens at '
	    'its prices cost %s', u.id, u.cost_micros, u.loss_micros,
	    credits_usage_cost(u))
	FROM usage_records u
	WHERE u.settlement <> 'void' AND u.cost_micros + u.loss_micros <>
	    credits_usage_cost(u)
	UNION ALL
	SELECT format('usage record %s: rates differ from its hold''s snapshot',
	    u.id)
	FROM usage_records u JOIN credit_holds h ON h.id = u.id
	WHERE NOT EXISTS (SELECT 1 FROM generate_subscripts(h.targets, 1) i
	    WHERE h.targets[i] = u.model AND h.price_ids[i] = u.price_id AND
	    h.input_prices[i] = u.input_price AND
	    h.cached_input_prices[i] = u.cached_input_price AND
	    h.cache_write_input_prices[i] = u.cache_write_input_price AND
	    h.output_prices[i] = u.output_price AND
	    h.request_fees[i] = u.request_fee)
	UNION ALL
	SELECT format('usage record %s: rates differ from price %s', u.id,
	    u.price_id)
	FROM usage_records u
	WHERE u.lease_id IS NOT NULL AND NOT EXISTS (SELECT 1
	    FROM model_prices p WHERE p.id = u.price_id AND p.model = u.model AND
	    p.input_micros_per_mtok = u.input_price AND
	    p.cached_input_micros_per_mtok = u.cached_input_price AND
	    p.cache_write_input_micros_per_mtok = u.cache_write_input_price AND
	    p.output_micros_per_mtok = u.output_price AND
	    p.request_fee_micros = u.request_fee)
	UNION ALL
	SELECT format('usage record %s: voided but charged %s (loss %s, '
	    'tokens %s/%s)', u.id, u.cost_micros, u.loss_micros,
	    u.prompt_tokens, u.completion_tokens)
	FROM usage_records u
	WHERE u.settlement = 'void' AND (u.cost_micros <> 0 OR
	    u.loss_micros <> 0 OR u.prompt_tokens <> 0 OR
	    u.cache_write_tokens <> 0 OR u.completion_tokens <> 0)
	UNION ALL
	SELECT format('usage record %s charged %s + loss %s without a ledger '
	    'transaction', u.id, u.cost_micros, u.loss_micros)
	FROM usage_records u
	WHERE u.cost_micros + u.loss_micros > 0 AND NOT EXISTS (SELECT 1
	    FROM ledger_transactions t WHERE t.id = u.ledger_txn_id AND
	    t.kind = 'usage' AND t.user_id = u.user_id)
	UNION ALL
	SELECT format('usage transaction %s moved %s, its usage records %s',
	    t.id, -t.amount, coalesce(s.cost, 0))
	FROM ledger_transactions t
	LEFT JOIN (SELECT ledger_txn_id, sum(cost_micros) AS cost
	    FROM usage_records WHERE ledger_txn_id IS NOT NULL
	    GROUP BY ledger_txn_id) s ON s.ledger_txn_id = t.id
	WHERE t.kind = 'usage' AND t.idempotency_key LIKE 'usage:%' AND
	    (s.ledger_txn_id IS NULL OR -t.amount <> s.cost)
	UNION ALL
	SELECT format('ledger entry %s: no transaction %s or account %s',
	    e.id, e.txn_id, e.account_id)
	FROM ledger_entries e
	WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions t
	    WHERE t.id = e.txn_id) OR NOT EXISTS (SELECT 1
	    FROM ledger_accounts a WHERE a.id = e.account_id)
	UNION ALL
	SELECT format('ledger transaction %s: no such user %s', t.id, t.user_id)
	FROM ledger_transactions t
	WHERE t.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u
	    WHERE u.id = t.user_id)
	UNION ALL
	SELECT format('system account %s sums to %s, usage records say %s',
	    s.name, s.total, s.expected)
	FROM (SELECT 'usage' AS name,
		coalesce((SELECT sum(e.amount) FROM ledger_entries e
		    WHERE e.account_id = ledger_system_account('usage')), 0)
		    AS total,
		coalesce((SELECT sum(cost_micros + loss_micros)
		    FROM usage_records), 0) AS expected
	    UNION ALL
	    SELECT 'loss',
		coalesce((SELECT sum(e.amount) FROM ledger_entries e
		    WHERE e.account_id = ledger_system_account('loss')), 0),
		-coalesce((SELECT sum(loss_micros) FROM usage_records), 0)) s
	WHERE s.total <> s.expected;
$$;

--
-- credits_price_set: the admin PUT, as in 0301, with the cache-write
-- rate (NULL: the input price).
--
DROP FUNCTION credits_price_set(uuid, text, bigint, bigint, bigint, bigint);
CREATE FUNCTION credits_price_set(p_admin uuid, p_model text, p_in bigint,
    p_cached bigint, p_out bigint, p_fee bigint, p_cache_write bigint)
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
	    v_cur.request_fee_micros = p_fee AND
	    v_cur.cache_write_input_micros_per_mtok =
	    coalesce(p_cache_write, p_in) THEN
		RETURN QUERY SELECT 'unchanged'::text, v_cur.id,
		    v_cur.effective_from;
		RETURN;
	END IF;

	INSERT INTO model_prices (model, input_micros_per_mtok,
	    cached_input_micros_per_mtok, output_micros_per_mtok,
	    request_fee_micros, cache_write_input_micros_per_mtok, set_by)
	    VALUES (p_model, p_in, p_cached, p_out, p_fee,
	    coalesce(p_cache_write, p_in), p_admin)
	    RETURNING * INTO v_new;

	RETURN QUERY SELECT 'created'::text, v_new.id, v_new.effective_from;
END;
$$;
