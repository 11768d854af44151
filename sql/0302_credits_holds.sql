-- Holds and usage records: how a router call is paid for (CONTRACT §6).
--
--   credits_reserve  before the upstream call: under the user's account
--                    lock, check debt, the key's spend limit and the
--                    available balance; clamp max_tokens to what they pay
--                    (never above the model's cap); snapshot the price;
--                    insert a 'pending' hold and add it to 'reserved'.
--   credits_settle   after the call: charge min(cost, hold) (the excess is
--                    a loss), release the hold, write the usage record;
--                    'settled', or 'voided' for a call that produced
--                    nothing (upstream error before output).
--   credits_expire_holds   the sweeper: holds past their expiry (their
--                    process died) are settled for the whole hold, the
--                    most the call could have cost, as 'expired'.
--
-- Each is one function call, one transaction, no lock held across an
-- upstream call. Every call is idempotent on the hold id, which the
-- caller generates: a retried reserve returns the same hold, a retried
-- settle the first settlement. A hold leaves 'pending' exactly once and
-- then has exactly one usage record, so a call is charged at most once.
--
-- Lock order (no deadlocks): hold row, then the user's account row, then
-- the API key row. credits_reserve takes the account and the key only;
-- it never waits on a hold.

CREATE TABLE credit_holds (
	id			uuid PRIMARY KEY,
	user_id			uuid NOT NULL REFERENCES users (id),
	api_key_id		uuid REFERENCES api_keys (id),
	request_id		text NOT NULL
				CHECK (char_length(request_id) BETWEEN 1 AND 200),
	endpoint		text NOT NULL
				CHECK (endpoint ~ '^[a-z_]{1,32}$'),
	-- The fallback chain (provider:model each) and, per target, the
	-- price snapshot and the model's output cap (0: none).
	targets			text[] NOT NULL
				CHECK (cardinality(targets) BETWEEN 1 AND 8),
	price_ids		bigint[] NOT NULL,
	input_prices		bigint[] NOT NULL,
	cached_input_prices	bigint[] NOT NULL,
	output_prices		bigint[] NOT NULL,
	request_fees		bigint[] NOT NULL,
	caps			bigint[] NOT NULL,
	prompt_bound		bigint NOT NULL CHECK (prompt_bound >= 0),
	max_tokens		bigint NOT NULL CHECK (max_tokens >= 0),
	choices			integer NOT NULL DEFAULT 1
				CHECK (choices BETWEEN 1 AND 128),
	amount			bigint NOT NULL CHECK (amount >= 0),
	status			text NOT NULL DEFAULT 'pending'
				CHECK (status IN ('pending', 'settled', 'voided',
				    'expired')),
	charged			bigint CHECK (charged >= 0 AND charged <= amount),
	created_at		timestamptz NOT NULL DEFAULT now(),
	expires_at		timestamptz NOT NULL,
	resolved_at		timestamptz,
	CONSTRAINT credit_holds_snapshot CHECK (
	    cardinality(price_ids) = cardinality(targets) AND
	    cardinality(input_prices) = cardinality(targets) AND
	    cardinality(cached_input_prices) = cardinality(targets) AND
	    cardinality(output_prices) = cardinality(targets) AND
	    cardinality(request_fees) = cardinality(targets) AND
	    cardinality(caps) = cardinality(targets)),
	CONSTRAINT credit_holds_resolved
	    CHECK ((status = 'pending') = (resolved_at IS NULL) AND
	    (status = 'pending') = (charged IS NULL))
);

CREATE INDEX credit_holds_expiry ON credit_holds (expires_at)
    WHERE status = 'pending';
CREATE INDEX credit_holds_key_pending ON credit_holds (api_key_id)
    WHERE status = 'pending';
CREATE INDEX credit_holds_user_pending ON credit_holds (user_id)
    WHERE status = 'pending';

-- One per call (its hold's id), written when the hold is resolved, with
-- the rates it was charged at (the target that served it).
CREATE TABLE usage_records (
	id			uuid PRIMARY KEY REFERENCES credit_holds (id),
	user_id			uuid NOT NULL REFERENCES users (id),
	api_key_id		uuid REFERENCES api_keys (id),
	request_id		text NOT NULL,
	endpoint		text NOT NULL,
	model			text NOT NULL,	-- provider:model, as priced
	served_model		text CHECK (char_length(served_model) <= 200),
	price_id		bigint NOT NULL REFERENCES model_prices (id),
	input_price		bigint NOT NULL,
	cached_input_price	bigint NOT NULL,
	output_price		bigint NOT NULL,
	request_fee		bigint NOT NULL,
	prompt_tokens		bigint NOT NULL CHECK (prompt_tokens >= 0),
	cached_tokens		bigint NOT NULL
				CHECK (cached_tokens BETWEEN 0 AND prompt_tokens),
	completion_tokens	bigint NOT NULL CHECK (completion_tokens >= 0),
	reasoning_tokens	bigint NOT NULL
				CHECK (reasoning_tokens BETWEEN 0 AND completion_tokens),
	cost_micros		bigint NOT NULL CHECK (cost_micros >= 0),
	loss_micros		bigint NOT NULL CHECK (loss_micros >= 0),
	status			text NOT NULL CHECK (status ~ '^[a-z_]{1,32}$'),
	http_status		integer,
	settlement		text NOT NULL
				CHECK (settlement IN ('provider', 'estimate',
				    'expired', 'void')),
	reason			text CHECK (char_length(reason) <= 500),
	latency_ms		bigint CHECK (latency_ms >= 0),
	ledger_txn_id		uuid REFERENCES ledger_transactions (id),
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX usage_records_user_time ON usage_records
    (user_id, started_at DESC, id DESC);
CREATE INDEX usage_records_key ON usage_records (api_key_id, started_at);

CREATE TRIGGER usage_records_append_only
    BEFORE UPDATE OR DELETE ON usage_records
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER usage_records_no_truncate
    BEFORE TRUNCATE ON usage_records
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- Calls that ended (client gone) while their reservation was still on
-- its way: a reservation that arrives after its cancel reserves nothing.
CREATE TABLE credit_hold_cancels (
	id		uuid PRIMARY KEY,
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- The contract's cost formula, exact (numeric), rounded up once.
CREATE FUNCTION credits_cost(p_prompt bigint, p_cached bigint,
    p_completion bigint, p_in bigint, p_cached_in bigint, p_out bigint,
    p_fee bigint)
RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
	SELECT div((p_prompt - p_cached)::numeric * p_in +
	    p_cached::numeric * p_cached_in +
	    p_completion::numeric * p_out + 999999, 1000000) + p_fee;
$$;

-- The output tokens a target gets: the call's, within the target's cap.
CREATE FUNCTION credits_target_tokens(p_max_tokens numeric, p_cap bigint)
RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_cap > 0 THEN least(p_max_tokens, p_cap)
	    ELSE p_max_tokens END;
$$;

--
-- credits_reserve: one call before the upstream call.
--
--   p_hold        the hold id, chosen by the caller (retries are safe)
--   p_targets     the fallback chain ("provider:model" each); the hold
--                 covers whichever of them turns out the dearest
--   p_caps        per target, its output cap (0: none); a target gets
--                 min(max_tokens, cap) output tokens
--   p_prompt_bound  an upper bound of the prompt's tokens
--   p_max_tokens  the output asked for (per choice; 0 for embeddings)
--   p_min_tokens  the least output worth calling for (a "minimal answer")
--   p_choices     completions asked for (OpenAI's n)
--
-- Returns one row per target (its index from 0, its price snapshot):
--   'ok' / 'duplicate'  max_tokens (the asked amount, clamped down to
--                 what is affordable on every target), amount (the hold)
--   'no_price'    the target has no price (one row: that target)
--   'debt'        the user owes credits (debt < 0): nothing is served
--   'insufficient'  not even p_min_tokens are affordable; max_tokens is
--                 what is (-1: not even the prompt), available and
--                 key_available (NULL: no key limit) what there is
--   'cancelled'   the call was settled (voided) before this arrived
--
CREATE FUNCTION credits_reserve(p_hold uuid, p_user uuid, p_key uuid,
    p_request_id text, p_endpoint text, p_targets text[], p_caps bigint[],
    p_prompt_bound bigint, p_max_tokens bigint, p_min_tokens bigint,
    p_choices integer, p_ttl_seconds integer)
RETURNS TABLE (result text, max_tokens bigint, amount bigint,
    target integer, model text, price_id bigint, input_price bigint,
    cached_input_price bigint, output_price bigint, request_fee bigint,
    available bigint, key_available bigint, debt bigint,
    expires_at timestamptz)
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
		    v_avail::bigint, NULL::bigint, v_debt, NULL::timestamptz;
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
		    v_debt, v_hold.expires_at
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
			    NULL::timestamptz;
			RETURN;
		END IF;
		v_ids_p := v_ids_p || v_price.id;
		v_in := v_in || v_price.input_micros_per_mtok;
		v_cin := v_cin || v_price.cached_input_micros_per_mtok;
		v_out := v_out || v_price.output_micros_per_mtok;
		v_fee := v_fee || v_price.request_fee_micros;
	END LOOP;

	-- The key's limit counts what it spent and what it holds now.
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
			    WHERE h.api_key_id = p_key AND h.status = 'pending');
		END IF;
	END IF;
	v_eff := CASE WHEN v_key_avail IS NULL THEN v_avail
	    ELSE least(v_avail, v_key_avail) END;

	--
	-- hold_t(m) = ceil((bound * in_t + min(m, cap_t) * choices * out_t)
	-- / 1e6) + fee_t; the hold is the largest over the targets. Where a
	-- target cannot pay the asked output, m comes down to the most
	-- that target's room pays (a free call needs no room at all).
	--
	v_result := 'ok';
	IF v_debt < 0 THEN
		v_result := 'debt';
	END IF;
	v_m := p_max_tokens;
	FOR v_t IN 1 .. v_n LOOP
		v_rate := v_out[v_t]::numeric * p_choices;
		v_h := div(p_prompt_bound::numeric * v_in[v_t] +
		    credits_target_tokens(p_max_tokens, p_caps[v_t]) * v_rate +
		    999999, 1000000) + v_fee[v_t];
		IF v_h <= greatest(v_eff, 0) THEN
			CONTINUE;
		END IF;
		v_room := (v_eff - v_fee[v_t]) * 1000000 -
		    p_prompt_bound::numeric * v_in[v_t];
		IF v_room < 0 OR v_rate = 0 THEN
			v_m := -1;
		ELSE
			v_m := least(v_m, div(v_room, v_rate));
		END IF;
	END LOOP;
	IF v_result = 'ok' AND v_m < p_min_tokens THEN
		v_result := 'insufficient';
	END IF;

	IF v_result <> 'ok' THEN
		RETURN QUERY SELECT v_result, v_m::bigint, NULL::bigint,
		    (i - 1)::integer, p_targets[i], v_ids_p[i], v_in[i],
		    v_cin[i], v_out[i], v_fee[i], v_avail::bigint,
		    v_key_avail::bigint, v_debt, NULL::timestamptz
		    FROM generate_subscripts(p_targets, 1) i ORDER BY i;
		RETURN;
	END IF;

	v_amount := 0;
	FOR v_t IN 1 .. v_n LOOP
		v_amount := greatest(v_amount, div(p_prompt_bound::numeric *
		    v_in[v_t] + credits_target_tokens(v_m, p_caps[v_t]) *
		    v_out[v_t] * p_choices + 999999, 1000000) + v_fee[v_t]);
	END LOOP;

	INSERT INTO credit_holds (id, user_id, api_key_id, request_id, endpoint,
	    targets, price_ids, input_prices, cached_input_prices,
	    output_prices, request_fees, caps, prompt_bound, max_tokens,
	    choices, amount, expires_at)
	    VALUES (p_hold, p_user, p_key, p_request_id, p_endpoint, p_targets,
	    v_ids_p, v_in, v_cin, v_out, v_fee, p_caps, p_prompt_bound, v_m,
	    p_choices, v_amount, now() + p_ttl_seconds * interval '1 second')
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
	    v_debt, v_hold.expires_at
	    FROM generate_subscripts(v_hold.targets, 1) i ORDER BY i;
END;
$$;

--
-- credits_resolve (internal): resolve one locked pending hold, charged at
-- the prices of its target p_target (1-based). Charges min(p_cost,
-- amount); what the cost exceeds the hold by is a loss (the usage
-- account still records the provider's full value, the loss account
-- pays the difference).
--
CREATE FUNCTION credits_resolve(p_hold credit_holds, p_target integer,
    p_to text, p_status text, p_settlement text, p_prompt bigint,
    p_cached bigint, p_completion bigint, p_reasoning bigint,
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
	    completion_tokens, reasoning_tokens, cost_micros, loss_micros,
	    status, http_status, settlement, reason, latency_ms, ledger_txn_id,
	    started_at)
	    VALUES (p_hold.id, p_hold.user_id, p_hold.api_key_id,
	    p_hold.request_id, p_hold.endpoint, p_hold.targets[t],
	    left(p_served_model, 200), p_hold.price_ids[t],
	    p_hold.input_prices[t], p_hold.cached_input_prices[t],
	    p_hold.output_prices[t], p_hold.request_fees[t], p_prompt,
	    p_cached, p_completion, p_reasoning, charged, loss, p_status,
	    p_http_status, p_settlement, left(p_reason, 500), p_latency_ms,
	    txn_id, p_hold.created_at);

	UPDATE credit_holds SET status = p_to, charged = credits_resolve.charged,
	    resolved_at = now() WHERE id = p_hold.id;
END;
$$;

--
-- credits_settle: one call after the upstream call, in every case.
--
--   p_target      the target that served (0-based index in the chain);
--                 NULL when none did (then only 'void' is possible)
--   p_settlement  'provider' (the provider's usage), 'estimate' (the
--                 conservative estimate of what was streamed) or 'void'
--                 (nothing was produced: no charge, tokens 0)
--   p_cost        the cost of the tokens at that target's snapshot
--                 prices (computed by the caller with credits_cost()'s
--                 formula; ledger_check() recomputes it)
--
-- result: 'ok' | 'duplicate' (already resolved: the first settlement
-- stands, its numbers are returned) | 'unknown' (no such hold; a void
-- of an unknown hold also cancels its reservation should it still come).
--
CREATE FUNCTION credits_settle(p_hold uuid, p_target integer,
    p_status text, p_settlement text, p_prompt bigint, p_cached bigint,
    p_completion bigint, p_reasoning bigint, p_cost bigint,
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
	    p_prompt <> 0 OR p_completion <> 0)) OR
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
	    p_cached, p_completion, p_reasoning, p_cost, p_served_model,
	    p_http_status, p_latency_ms, p_reason);

	RETURN QUERY SELECT 'ok'::text, v_r.charged, v_r.loss, v_r.txn_id, v_to;
END;
$$;

--
-- credits_expire_holds: the sweeper's one call. Holds past their expiry
-- belong to calls whose process died (a live call settles well before:
-- the expiry is longer than any call may take). Nothing says what such a
-- call used, so it is settled for the whole hold (the most it could have
-- cost: the prompt bound and all its output on the dearest target) as
-- 'expired', with the reason. SKIP LOCKED: sweepers of several processes
-- share the work; a hold being settled right now is skipped.
--
CREATE FUNCTION credits_expire_holds(p_limit integer)
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
			    (credits_target_tokens(v_hold.max_tokens,
			    v_hold.caps[v_t]) * v_hold.choices)::bigint,
			    v_hold.input_prices[v_t],
			    v_hold.cached_input_prices[v_t],
			    v_hold.output_prices[v_t], v_hold.request_fees[v_t]);
			IF v_h > v_max THEN
				v_max := v_h;
				v_best := v_t;
			END IF;
		END LOOP;
		v_tok := credits_target_tokens(v_hold.max_tokens,
		    v_hold.caps[v_best]) * v_hold.choices;

		SELECT * INTO v_r FROM credits_resolve(v_hold, v_best,
		    'expired', 'expired', 'expired', v_hold.prompt_bound, 0,
		    v_tok::bigint, 0, v_hold.amount, NULL, NULL,
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
-- ledger_check(): the core checks of 0300 plus holds and usage records.
--
CREATE FUNCTION ledger_check_credits() RETURNS TABLE (problem text)
LANGUAGE sql STABLE AS $$
	SELECT format('hold %s still pending %s after its expiry', id,
	    date_trunc('second', now() - expires_at))
	FROM credit_holds
	WHERE status = 'pending' AND expires_at < now() - interval '60 seconds'
	UNION ALL
	SELECT format('account %s: reserved %s, pending holds %s', a.id,
	    a.reserved, coalesce(h.total, 0))
	FROM ledger_accounts a
	LEFT JOIN (SELECT user_id, sum(amount) AS total FROM credit_holds
	    WHERE status = 'pending' GROUP BY user_id) h
	    ON h.user_id = a.user_id
	WHERE a.kind = 'user' AND a.reserved <> coalesce(h.total, 0)
	UNION ALL
	SELECT format('user %s has pending holds but no account', h.user_id)
	FROM credit_holds h
	WHERE h.status = 'pending' AND h.amount > 0 AND NOT EXISTS (SELECT 1
	    FROM ledger_accounts a WHERE a.user_id = h.user_id AND
	    a.kind = 'user')
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
	SELECT format('hold %s charged %s, its usage record %s', h.id,
	    h.charged, u.cost_micros)
	FROM credit_holds h JOIN usage_records u ON u.id = h.id
	WHERE h.charged <> u.cost_micros OR u.user_id <> h.user_id
	UNION ALL
	SELECT format('usage record %s: charged %s + loss %s, but its tokens at '
	    'its prices cost %s', u.id, u.cost_micros, u.loss_micros,
	    credits_cost(u.prompt_tokens, u.cached_tokens, u.completion_tokens,
	    u.input_price, u.cached_input_price, u.output_price, u.request_fee))
	FROM usage_records u
	WHERE u.settlement <> 'void' AND u.cost_micros + u.loss_micros <>
	    credits_cost(u.prompt_tokens, u.cached_tokens, u.completion_tokens,
	    u.input_price, u.cached_input_price, u.output_price, u.request_fee)
	UNION ALL
	SELECT format('usage record %s: rates differ from its hold''s snapshot',
	    u.id)
	FROM usage_records u JOIN credit_holds h ON h.id = u.id
	WHERE NOT EXISTS (SELECT 1 FROM generate_subscripts(h.targets, 1) i
	    WHERE h.targets[i] = u.model AND h.price_ids[i] = u.price_id AND
	    h.input_prices[i] = u.input_price AND
	    h.cached_input_prices[i] = u.cached_input_price AND
	    h.output_prices[i] = u.output_price AND
	    h.request_fees[i] = u.request_fee)
	UNION ALL
	SELECT format('usage record %s: voided but charged %s (loss %s, '
	    'tokens %s/%s)', u.id, u.cost_micros, u.loss_micros,
	    u.prompt_tokens, u.completion_tokens)
	FROM usage_records u
	WHERE u.settlement = 'void' AND (u.cost_micros <> 0 OR
	    u.loss_micros <> 0 OR u.prompt_tokens <> 0 OR
	    u.completion_tokens <> 0)
	UNION ALL
	SELECT format('usage record %s charged %s, its ledger transaction %s',
	    u.id, u.cost_micros, coalesce((-t.amount)::text, 'none'))
	FROM usage_records u
	LEFT JOIN ledger_transactions t ON t.idempotency_key = 'usage:' || u.id
	WHERE coalesce(-t.amount, 0) <> u.cost_micros OR
	    t.id IS DISTINCT FROM u.ledger_txn_id
	UNION ALL
	SELECT format('usage transaction %s has no usage record', t.id)
	FROM ledger_transactions t
	WHERE t.idempotency_key LIKE 'usage:%' AND NOT EXISTS (SELECT 1
	    FROM usage_records u WHERE u.ledger_txn_id = t.id)
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

CREATE OR REPLACE FUNCTION ledger_check() RETURNS TABLE (problem text)
LANGUAGE sql STABLE AS $$
	SELECT format('account %s (%s): cached balance %s, entries sum %s',
	    a.id, a.kind, a.balance, coalesce(s.total, 0))
	FROM ledger_accounts a
	LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entries
	    GROUP BY account_id) s ON s.account_id = a.id
	WHERE a.kind <> 'system' AND a.balance <> coalesce(s.total, 0)
	UNION ALL
	SELECT format('transaction %s does not balance (%s)', txn_id, sum(amount))
	FROM ledger_entries GROUP BY txn_id HAVING sum(amount) <> 0
	UNION ALL
	SELECT format('transaction %s has no entries', t.id)
	FROM ledger_transactions t
	WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.txn_id = t.id)
	UNION ALL
	SELECT format('all entries sum to %s, not 0', sum(amount))
	FROM ledger_entries HAVING sum(amount) <> 0
	UNION ALL
	SELECT format('account %s (%s) breaks its balance rule', id, kind)
	FROM ledger_accounts
	WHERE (kind = 'user' AND balance - reserved < 0) OR
	    (kind = 'user_debt' AND balance > 0)
	UNION ALL
	SELECT problem FROM ledger_check_credits();
$$;
