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
	model			text NOT NULL,
	price_id		bigint NOT NULL REFERENCES model_prices (id),
	input_price		bigint NOT NULL,
	cached_input_price	bigint NOT NULL,
	output_price		bigint NOT NULL,
	request_fee		bigint NOT NULL,
	prompt_bound		bigint NOT NULL CHECK (prompt_bound >= 0),
	max_tokens		bigint NOT NULL CHECK (max_tokens >= 0),
	amount			bigint NOT NULL CHECK (amount >= 0),
	status			text NOT NULL DEFAULT 'pending'
				CHECK (status IN ('pending', 'settled', 'voided',
				    'expired')),
	charged			bigint CHECK (charged >= 0 AND charged <= amount),
	created_at		timestamptz NOT NULL DEFAULT now(),
	expires_at		timestamptz NOT NULL,
	resolved_at		timestamptz,
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

-- One per call (its hold's id), written when the hold is resolved.
CREATE TABLE usage_records (
	id			uuid PRIMARY KEY REFERENCES credit_holds (id),
	user_id			uuid NOT NULL REFERENCES users (id),
	api_key_id		uuid REFERENCES api_keys (id),
	request_id		text NOT NULL,
	endpoint		text NOT NULL,
	model			text NOT NULL,	-- provider:model, as priced
	served_model		text CHECK (char_length(served_model) <= 200),
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

--
-- credits_reserve: one call before the upstream call.
--
--   p_hold        the hold id, chosen by the caller (retries are safe)
--   p_prompt_bound  an upper bound of the prompt's tokens
--   p_max_tokens  the output tokens the client asked for (NULL: none)
--   p_cap         the model's output cap (NULL: none; then p_max_tokens
--                 must be given; 0 for embeddings)
--   p_min_tokens  the least output worth calling for (a "minimal answer")
--
-- result:
--   'ok' / 'duplicate'  max_tokens (what the call may produce: the asked
--                 or capped amount, clamped down to what is affordable),
--                 amount (the hold), the price snapshot
--   'no_price'    the model has no price
--   'debt'        the user owes credits (debt < 0): nothing is served
--   'insufficient'  not even p_min_tokens are affordable; available and
--                 key_available (NULL: no key limit) say what there is
--
CREATE FUNCTION credits_reserve(p_hold uuid, p_user uuid, p_key uuid,
    p_request_id text, p_endpoint text, p_model text, p_prompt_bound bigint,
    p_max_tokens bigint, p_cap bigint, p_min_tokens bigint,
    p_ttl_seconds integer)
RETURNS TABLE (result text, max_tokens bigint, amount bigint,
    price_id bigint, input_price bigint, cached_input_price bigint,
    output_price bigint, request_fee bigint, available bigint,
    key_available bigint, debt bigint, expires_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
	v_ids		record;
	v_acct		ledger_accounts;
	v_debt		bigint;
	v_price		model_prices;
	v_hold		credit_holds;
	v_limit		bigint;
	v_spent		bigint;
	v_avail		numeric;
	v_key_avail	numeric;
	v_eff		numeric;
	v_want		numeric;
	v_base		numeric;
	v_room		numeric;
	v_m		numeric;
	v_amount	numeric;
BEGIN
	IF p_prompt_bound < 0 OR p_min_tokens < 0 OR p_max_tokens < 0 OR
	    p_cap < 0 OR p_ttl_seconds < 1 OR
	    (p_max_tokens IS NULL AND p_cap IS NULL) THEN
		RAISE EXCEPTION 'credits_reserve: bad arguments'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO v_ids FROM ledger_user_accounts(p_user);
	-- Serialises every reservation and movement of this user.
	SELECT * INTO v_acct FROM ledger_accounts WHERE id = v_ids.account_id
	    FOR UPDATE;
	SELECT balance INTO v_debt FROM ledger_accounts
	    WHERE id = v_ids.debt_id;
	v_avail := v_acct.balance - v_acct.reserved;

	SELECT * INTO v_hold FROM credit_holds h WHERE h.id = p_hold;
	IF FOUND THEN
		IF v_hold.user_id <> p_user THEN
			RAISE EXCEPTION 'credits_reserve: hold % is another user''s',
			    p_hold USING ERRCODE = 'unique_violation';
		END IF;
		RETURN QUERY SELECT 'duplicate'::text, v_hold.max_tokens,
		    v_hold.amount, v_hold.price_id, v_hold.input_price,
		    v_hold.cached_input_price, v_hold.output_price,
		    v_hold.request_fee, v_avail::bigint, NULL::bigint, v_debt,
		    v_hold.expires_at;
		RETURN;
	END IF;

	SELECT * INTO v_price FROM model_prices p WHERE p.model = p_model
	    ORDER BY p.id DESC LIMIT 1;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'no_price'::text, NULL::bigint, NULL::bigint,
		    NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
		    NULL::bigint, v_avail::bigint, NULL::bigint, v_debt,
		    NULL::timestamptz;
		RETURN;
	END IF;

	IF v_debt < 0 THEN
		RETURN QUERY SELECT 'debt'::text, NULL::bigint, NULL::bigint,
		    v_price.id, v_price.input_micros_per_mtok,
		    v_price.cached_input_micros_per_mtok,
		    v_price.output_micros_per_mtok, v_price.request_fee_micros,
		    v_avail::bigint, NULL::bigint, v_debt, NULL::timestamptz;
		RETURN;
	END IF;

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

	-- hold(m) = ceil((bound * in + m * out) / 1e6) + fee
	v_want := least(coalesce(p_max_tokens, p_cap), coalesce(p_cap,
	    p_max_tokens));
	v_base := p_prompt_bound::numeric * v_price.input_micros_per_mtok;
	v_amount := div(v_base + v_want * v_price.output_micros_per_mtok +
	    999999, 1000000) + v_price.request_fee_micros;

	-- (A free call needs no room, even on a key past its limit.)
	IF v_amount <= greatest(v_eff, 0) THEN
		v_m := v_want;
	ELSE
		-- The most output the room left after the prompt pays for.
		v_room := (v_eff - v_price.request_fee_micros) * 1000000 - v_base;
		IF v_room < 0 OR v_price.output_micros_per_mtok = 0 THEN
			v_m := -1;
		ELSE
			v_m := div(v_room, v_price.output_micros_per_mtok);
		END IF;
		IF v_m < p_min_tokens THEN
			RETURN QUERY SELECT 'insufficient'::text, v_m::bigint,
			    NULL::bigint, v_price.id,
			    v_price.input_micros_per_mtok,
			    v_price.cached_input_micros_per_mtok,
			    v_price.output_micros_per_mtok,
			    v_price.request_fee_micros, v_avail::bigint,
			    v_key_avail::bigint, v_debt, NULL::timestamptz;
			RETURN;
		END IF;
		v_amount := div(v_base + v_m * v_price.output_micros_per_mtok +
		    999999, 1000000) + v_price.request_fee_micros;
	END IF;

	INSERT INTO credit_holds (id, user_id, api_key_id, request_id, endpoint,
	    model, price_id, input_price, cached_input_price, output_price,
	    request_fee, prompt_bound, max_tokens, amount, expires_at)
	    VALUES (p_hold, p_user, p_key, p_request_id, p_endpoint, p_model,
	    v_price.id, v_price.input_micros_per_mtok,
	    v_price.cached_input_micros_per_mtok,
	    v_price.output_micros_per_mtok, v_price.request_fee_micros,
	    p_prompt_bound, v_m, v_amount,
	    now() + p_ttl_seconds * interval '1 second')
	    RETURNING * INTO v_hold;

	IF v_amount > 0 THEN
		UPDATE ledger_accounts SET reserved = reserved + v_amount
		    WHERE id = v_acct.id;
	END IF;

	RETURN QUERY SELECT 'ok'::text, v_hold.max_tokens, v_hold.amount,
	    v_hold.price_id, v_hold.input_price, v_hold.cached_input_price,
	    v_hold.output_price, v_hold.request_fee,
	    (v_avail - v_amount)::bigint, (v_key_avail - v_amount)::bigint,
	    v_debt, v_hold.expires_at;
END;
$$;

--
-- credits_resolve (internal): resolve one locked pending hold. Charges
-- min(p_cost, amount); what the cost exceeds the hold by is a loss (the
-- usage account still records the provider's full value, the loss
-- account pays the difference).
--
CREATE FUNCTION credits_resolve(p_hold credit_holds, p_to text,
    p_status text, p_settlement text, p_prompt bigint, p_cached bigint,
    p_completion bigint, p_reasoning bigint, p_cost bigint,
    p_served_model text, p_http_status integer, p_latency_ms bigint,
    p_reason text, OUT charged bigint, OUT loss bigint, OUT txn_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
	v_acct	bigint;
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
		    -charged, left(p_hold.model || ' ' || p_hold.request_id, 500))
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
	    model, served_model, prompt_tokens, cached_tokens,
	    completion_tokens, reasoning_tokens, cost_micros, loss_micros,
	    status, http_status, settlement, reason, latency_ms, ledger_txn_id,
	    started_at)
	    VALUES (p_hold.id, p_hold.user_id, p_hold.api_key_id,
	    p_hold.request_id, p_hold.endpoint, p_hold.model,
	    left(p_served_model, 200), p_prompt, p_cached, p_completion,
	    p_reasoning, charged, loss, p_status, p_http_status, p_settlement,
	    left(p_reason, 500), p_latency_ms, txn_id, p_hold.created_at);

	UPDATE credit_holds SET status = p_to, charged = credits_resolve.charged,
	    resolved_at = now() WHERE id = p_hold.id;
END;
$$;

--
-- credits_settle: one call after the upstream call, in every case.
--
--   p_settlement  'provider' (the provider's usage), 'estimate' (the
--                 conservative estimate of what was streamed) or 'void'
--                 (nothing was produced: no charge, tokens 0)
--   p_cost        the cost of the tokens at the hold's prices (computed
--                 by the caller with the same formula, credits_cost())
--
-- result: 'ok' | 'duplicate' (already resolved: the first settlement
-- stands, its numbers are returned) | 'unknown' (no such hold).
--
CREATE FUNCTION credits_settle(p_hold uuid, p_status text,
    p_settlement text, p_prompt bigint, p_cached bigint,
    p_completion bigint, p_reasoning bigint, p_cost bigint,
    p_served_model text, p_http_status integer, p_latency_ms bigint,
    p_reason text)
RETURNS TABLE (result text, charged bigint, loss bigint, txn_id uuid,
    hold_status text)
LANGUAGE plpgsql AS $$
DECLARE
	v_hold	credit_holds;
	v_r	record;
BEGIN
	IF p_settlement NOT IN ('provider', 'estimate', 'void') OR
	    p_cost < 0 OR (p_settlement = 'void' AND (p_cost <> 0 OR
	    p_prompt <> 0 OR p_completion <> 0)) THEN
		RAISE EXCEPTION 'credits_settle: bad arguments'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO v_hold FROM credit_holds WHERE id = p_hold FOR UPDATE;
	IF NOT FOUND THEN
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

	SELECT * INTO v_r FROM credits_resolve(v_hold,
	    CASE WHEN p_settlement = 'void' THEN 'voided' ELSE 'settled' END,
	    p_status, p_settlement, p_prompt, p_cached, p_completion,
	    p_reasoning, p_cost, p_served_model, p_http_status, p_latency_ms,
	    p_reason);

	RETURN QUERY SELECT 'ok'::text, v_r.charged, v_r.loss, v_r.txn_id,
	    CASE WHEN p_settlement = 'void' THEN 'voided' ELSE 'settled' END;
END;
$$;

--
-- credits_expire_holds: the sweeper's one call. Holds past their expiry
-- belong to calls whose process died (a live call settles well before:
-- the expiry is longer than any call may take). Nothing says what such a
-- call used, so it is settled for the whole hold (the most it could have
-- cost) as 'expired', with the reason. SKIP LOCKED: sweepers of several
-- processes share the work; a hold being settled right now is skipped.
--
CREATE FUNCTION credits_expire_holds(p_limit integer)
RETURNS TABLE (expired integer, charged bigint, pending bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_hold	credit_holds;
	v_r	record;
	v_n	integer := 0;
	v_sum	bigint := 0;
BEGIN
	FOR v_hold IN SELECT * FROM credit_holds
	    WHERE status = 'pending' AND credit_holds.expires_at < now()
	    ORDER BY credit_holds.expires_at LIMIT p_limit
	    FOR UPDATE SKIP LOCKED
	LOOP
		SELECT * INTO v_r FROM credits_resolve(v_hold, 'expired',
		    'expired', 'expired', v_hold.prompt_bound, 0,
		    v_hold.max_tokens, 0, v_hold.amount, NULL, NULL,
		    (extract(epoch FROM now() - v_hold.created_at) * 1000)::bigint,
		    'hold expired unsettled (its process ended mid-call); '
		    'charged the whole hold');
		v_n := v_n + 1;
		v_sum := v_sum + v_r.charged;
	END LOOP;

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
	    h.input_price, h.cached_input_price, h.output_price, h.request_fee))
	FROM usage_records u JOIN credit_holds h ON h.id = u.id
	WHERE u.settlement <> 'void' AND u.cost_micros + u.loss_micros <>
	    credits_cost(u.prompt_tokens, u.cached_tokens, u.completion_tokens,
	    h.input_price, h.cached_input_price, h.output_price, h.request_fee)
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
	WHERE t.kind = 'usage' AND NOT EXISTS (SELECT 1 FROM usage_records u
	    WHERE u.ledger_txn_id = t.id)
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
