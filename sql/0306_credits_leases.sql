-- The money path at proxy speed: balance leases and group-committed
-- settlement (docs/credits.md, "Leases and batched settlement").
--
--   credit_leases   credit a worker parked in bulk for an account (a user,
--                   or a user's key that has a spend limit). An open
--                   lease's amount counts in the account's 'reserved'
--                   exactly like a pending hold, so balance - reserved >= 0
--                   (the CHECK of ledger_accounts) bounds holds and leases
--                   together, across workers and processes. Calls reserve
--                   against their worker's lease in memory; no statement
--                   runs on their request path.
--   credits_flush   one statement per batch of settled calls: their usage
--                   records (idempotent on the call id, so a retried batch
--                   charges nothing twice), one aggregated ledger movement
--                   per account, the charge taken out of each lease, and
--                   each lease of the batch topped up, shrunk, renewed or
--                   closed to what the worker asks.
--   credits_sweep   the sweeper: expired holds (as before) and leases whose
--                   process stopped renewing them (returned, not charged).
--
-- Leases end 'closed' (given back), 'expired' (the sweeper returned it) or
-- 'recalled' (a debit that is not a call took it back first, or the
-- account fell into debt). A lease that is no longer open keeps no
-- amount; charges of calls that were running on it are still recorded,
-- against the account's available credit, and what that cannot pay
-- becomes debt (the call was already served).
--
-- Lock order (everywhere): the user's account rows, then lease rows, then
-- the API key row.
--
-- Lean write set: the hot append-only tables lose their foreign keys to
-- hot rows (users, API keys, prices, ledger transactions, accounts); every
-- relation the keys checked is checked by ledger_check() instead.
-- Calls' ids (usage records, holds) are time-ordered (made in C); so are
-- new ledger transaction ids (tg_uuid7()).

ALTER TABLE usage_records DROP CONSTRAINT IF EXISTS usage_records_id_fkey;
ALTER TABLE usage_records DROP CONSTRAINT IF EXISTS usage_records_user_id_fkey;
ALTER TABLE usage_records
    DROP CONSTRAINT IF EXISTS usage_records_api_key_id_fkey;
ALTER TABLE usage_records
    DROP CONSTRAINT IF EXISTS usage_records_price_id_fkey;
ALTER TABLE usage_records
    DROP CONSTRAINT IF EXISTS usage_records_ledger_txn_id_fkey;
ALTER TABLE credit_holds DROP CONSTRAINT IF EXISTS credit_holds_user_id_fkey;
ALTER TABLE credit_holds
    DROP CONSTRAINT IF EXISTS credit_holds_api_key_id_fkey;
ALTER TABLE ledger_entries
    DROP CONSTRAINT IF EXISTS ledger_entries_txn_id_fkey;
ALTER TABLE ledger_entries
    DROP CONSTRAINT IF EXISTS ledger_entries_account_id_fkey;
ALTER TABLE ledger_transactions
    DROP CONSTRAINT IF EXISTS ledger_transactions_user_id_fkey;

-- A version 7 uuid: 48 bits of Unix milliseconds, then random bits.
CREATE FUNCTION tg_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
	SELECT encode(set_byte(set_byte(overlay(uuid_send(gen_random_uuid())
	    PLACING substring(int8send((extract(epoch FROM clock_timestamp())
	    * 1000)::bigint) FROM 3) FROM 1 FOR 6), 6, (get_byte(
	    uuid_send(gen_random_uuid()), 6) & 15) | 112), 8,
	    (get_byte(uuid_send(gen_random_uuid()), 8) & 63) | 128),
	    'hex')::uuid;
$$;

ALTER TABLE ledger_transactions ALTER COLUMN id SET DEFAULT tg_uuid7();

CREATE TABLE credit_leases (
	id		uuid PRIMARY KEY,
	user_id		uuid NOT NULL,
	-- Set for a key with a spend limit: the lease counts against the
	-- key's limit too. NULL: the account's lease, for keys without one.
	api_key_id	uuid,
	owner		text NOT NULL CHECK (char_length(owner) <= 200),
	amount		bigint NOT NULL CHECK (amount >= 0),
	charged		bigint NOT NULL DEFAULT 0 CHECK (charged >= 0),
	status		text NOT NULL DEFAULT 'open'
			CHECK (status IN ('open', 'closed', 'expired',
			    'recalled')),
	-- Another worker's call could not be paid while this lease parked
	-- credit: its worker gives back what it does not use.
	recall		boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	renewed_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	closed_at	timestamptz,
	CONSTRAINT credit_leases_closed CHECK ((status = 'open') =
	    (closed_at IS NULL) AND (status = 'open' OR amount = 0))
);

CREATE INDEX credit_leases_user_open ON credit_leases (user_id)
    WHERE status = 'open';
CREATE INDEX credit_leases_key_open ON credit_leases (api_key_id)
    WHERE status = 'open';
CREATE INDEX credit_leases_expiry ON credit_leases (expires_at)
    WHERE status = 'open';

-- A usage record is backed by its hold (id = the hold's) or, for a call
-- served on a lease, by that lease.
ALTER TABLE usage_records ADD COLUMN lease_id uuid;

-- One settled call of a batch (credits_flush's p_calls, as JSON).
CREATE TYPE credits_flush_call AS (
	id			uuid,
	lease			uuid,
	user_id			uuid,
	key			uuid,
	request_id		text,
	endpoint		text,
	model			text,
	price_id		bigint,
	input_price		bigint,
	cached_input_price	bigint,
	output_price		bigint,
	request_fee		bigint,
	prompt_tokens		bigint,
	cached_tokens		bigint,
	completion_tokens	bigint,
	reasoning_tokens	bigint,
	cost			bigint,
	loss			bigint,
	status			text,
	http_status		integer,
	settlement		text,
	reason			text,
	latency_ms		bigint,
	started_ms		bigint
);

-- What a batch moves for one user.
CREATE TYPE credits_flush_user AS (
	user_id		uuid,
	account		bigint,
	debt_account	bigint,
	balance		bigint,
	debt_balance	bigint,
	charged		bigint,		-- what the user's calls cost
	loss		bigint,
	released	bigint,		-- paid from open leases
	taken		bigint,		-- paid from available credit
	owed		bigint,		-- what neither paid: debt
	calls		integer,
	txn		uuid
);

-- One lease the worker asks about (credits_flush's p_leases, as JSON).
CREATE TYPE credits_flush_lease AS (
	id		uuid,
	user_id		uuid,
	key		uuid,
	want		bigint,
	owner		text
);

--
-- credits_lease_room: how much more the account (and the key, for a
-- key's lease) can park: half of what is available, so a lease never
-- takes all of an account and the per-call path keeps room. NULL: the
-- account is in debt.
--
CREATE FUNCTION credits_lease_room(p_acct ledger_accounts, p_debt bigint,
    p_key uuid)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_room	bigint;
	v_limit	bigint;
	v_spent	bigint;
	v_key	bigint;
BEGIN
	IF p_debt < 0 THEN
		RETURN NULL;
	END IF;
	v_room := greatest(p_acct.balance - p_acct.reserved, 0) / 2;
	IF p_key IS NOT NULL THEN
		SELECT k.spend_limit_micros, k.spent_micros INTO v_limit, v_spent
		    FROM api_keys k WHERE k.id = p_key AND
		    k.user_id = p_acct.user_id FOR UPDATE;
		IF NOT FOUND THEN
			RETURN 0;
		END IF;
		IF v_limit IS NOT NULL THEN
			v_key := v_limit - v_spent -
			    (SELECT coalesce(sum(h.amount), 0) FROM credit_holds h
			    WHERE h.api_key_id = p_key AND h.status = 'pending') -
			    (SELECT coalesce(sum(l.amount), 0) FROM credit_leases l
			    WHERE l.api_key_id = p_key AND l.status = 'open');
			v_room := least(v_room, greatest(v_key, 0) / 2);
		END IF;
	END IF;
	RETURN v_room;
END;
$$;

--
-- credits_recall_leases: give back every open lease of p_user now (their
-- amount leaves 'reserved'); the caller holds the user's account lock.
-- Workers learn it from their next flush, or at once from the NOTIFY.
-- Returns what was given back.
--
CREATE FUNCTION credits_recall_leases(p_user uuid) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_total	bigint;
BEGIN
	PERFORM 1 FROM credit_leases l WHERE l.user_id = p_user AND
	    l.status = 'open' FOR UPDATE;
	SELECT coalesce(sum(l.amount), 0) INTO v_total FROM credit_leases l
	    WHERE l.user_id = p_user AND l.status = 'open';
	UPDATE credit_leases l SET status = 'recalled', amount = 0,
	    closed_at = now() WHERE l.user_id = p_user AND l.status = 'open';
	IF v_total > 0 THEN
		UPDATE ledger_accounts SET reserved = reserved - v_total
		    WHERE user_id = p_user AND kind = 'user';
	END IF;
	PERFORM pg_notify('tg_credits', 'recall ' || p_user);
	RETURN v_total;
END;
$$;

-- A user who stops being active (account closed; suspended) has every
-- lease recalled at once, as a debit would.
CREATE FUNCTION credits_user_status_recall() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM ledger_accounts a WHERE a.user_id = NEW.id AND
	    a.kind = 'user' FOR UPDATE;
	PERFORM credits_recall_leases(NEW.id);
	RETURN NULL;
END;
$$;

CREATE TRIGGER users_recall_leases AFTER UPDATE OF status ON users
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status AND
    NEW.status <> 'active')
    EXECUTE FUNCTION credits_user_status_recall();

--
-- credits_flush: one batch of one worker.
--
--   p_calls   settled calls ([credits_flush_call...]): cost is what the
--             call is charged (at most what was reserved for it), loss
--             what its usage cost beyond that
--   p_leases  the worker's leases to adjust ([credits_flush_lease...]):
--             want is the amount the worker wants parked after this
--             batch's charges (0: give it back); an unknown id with want
--             > 0 opens a new lease, at most credits_lease_room()
--   p_ttl_seconds  how long a lease stays open unless renewed
--
-- Returns one row per lease of p_leases: its status ('open', 'closed',
-- 'expired', 'recalled', 'refused': no room, or 'debt'), the amount it
-- parks now, the milliseconds until it expires, and whether another
-- worker asked for credit back.
--
CREATE FUNCTION credits_flush(p_calls json, p_leases json,
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
	    ledger_txn_id, started_at, lease_id)
	SELECT c.id, c.user_id, c.key, c.request_id, c.endpoint, c.model,
	    NULL, c.price_id, c.input_price, c.cached_input_price,
	    c.output_price, c.request_fee, c.prompt_tokens, c.cached_tokens,
	    c.completion_tokens, c.reasoning_tokens, c.cost, c.loss, c.status,
	    c.http_status, c.settlement, left(c.reason, 500), c.latency_ms,
	    u.txn, to_timestamp(c.started_ms / 1000.0), c.lease
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

-- The per-entry balance check, except for entries a flush wrote (their
-- transactions balance by construction, see credits_flush).
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_sum	numeric;
BEGIN
	IF current_setting('tollgate.ledger_balanced', true) = 'flush' THEN
		RETURN NULL;
	END IF;
	SELECT sum(amount) INTO v_sum FROM ledger_entries
	    WHERE txn_id = NEW.txn_id;
	IF v_sum <> 0 THEN
		RAISE EXCEPTION 'ledger transaction % does not balance (%)',
		    NEW.txn_id, v_sum USING ERRCODE = 'check_violation';
	END IF;
	RETURN NULL;
END;
$$;

--
-- credits_lease_adjust (internal, under the user's account lock): open,
-- top up, shrink, renew or close one lease to what the worker wants.
--
CREATE FUNCTION credits_lease_adjust(p_l credits_flush_lease,
    p_ttl_seconds integer)
RETURNS TABLE (lease uuid, status text, amount bigint, expires_in_ms bigint,
    recall boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_lease	credit_leases;
	v_acct	ledger_accounts;
	v_debt	bigint;
	v_room	bigint;
	v_to	bigint;
	v_ttl	interval := p_ttl_seconds * interval '1 second';
BEGIN
	SELECT * INTO v_acct FROM ledger_accounts a
	    WHERE a.user_id = p_l.user_id AND a.kind = 'user';
	SELECT a.balance INTO v_debt FROM ledger_accounts a
	    WHERE a.user_id = p_l.user_id AND a.kind = 'user_debt';
	SELECT * INTO v_lease FROM credit_leases l WHERE l.id = p_l.id
	    FOR UPDATE;

	IF NOT FOUND THEN
		IF p_l.want = 0 THEN
			RETURN QUERY SELECT p_l.id, 'closed'::text, 0::bigint,
			    0::bigint, false;
			RETURN;
		END IF;
		v_room := credits_lease_room(v_acct, v_debt, p_l.key);
		IF v_room IS NULL OR v_room <= 0 THEN
			RETURN QUERY SELECT p_l.id, CASE WHEN v_room IS NULL
			    THEN 'debt' ELSE 'refused' END, 0::bigint,
			    0::bigint, false;
			RETURN;
		END IF;
		v_to := least(p_l.want, v_room);
		INSERT INTO credit_leases (id, user_id, api_key_id, owner, amount,
		    expires_at)
		    VALUES (p_l.id, p_l.user_id, p_l.key, left(p_l.owner, 200),
		    v_to, now() + v_ttl);
		UPDATE ledger_accounts SET reserved = reserved + v_to
		    WHERE id = v_acct.id;
		RETURN QUERY SELECT p_l.id, 'open'::text, v_to,
		    p_ttl_seconds * 1000::bigint, false;
		RETURN;
	END IF;

	IF v_lease.user_id <> p_l.user_id OR
	    v_lease.api_key_id IS DISTINCT FROM p_l.key THEN
		RAISE EXCEPTION 'credits_flush: lease % is not %''s', p_l.id,
		    p_l.user_id USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_lease.status <> 'open' THEN
		RETURN QUERY SELECT p_l.id, v_lease.status, 0::bigint, 0::bigint,
		    false;
		RETURN;
	END IF;

	v_room := credits_lease_room(v_acct, v_debt, p_l.key);
	IF v_room IS NULL OR p_l.want = 0 THEN
		-- Given back (or debt: nothing more is served on credit).
		UPDATE credit_leases l SET status = CASE WHEN v_room IS NULL
		    THEN 'recalled' ELSE 'closed' END, amount = 0,
		    closed_at = now() WHERE l.id = p_l.id;
		UPDATE ledger_accounts SET reserved = reserved - v_lease.amount
		    WHERE id = v_acct.id;
		RETURN QUERY SELECT p_l.id, CASE WHEN v_room IS NULL
		    THEN 'recalled' ELSE 'closed' END, 0::bigint, 0::bigint,
		    false;
		RETURN;
	END IF;

	v_to := p_l.want;
	IF v_to > v_lease.amount THEN
		v_to := v_lease.amount + least(v_to - v_lease.amount, v_room);
	END IF;
	UPDATE credit_leases l SET amount = v_to, renewed_at = now(),
	    expires_at = now() + v_ttl,
	    recall = l.recall AND v_to > 0 AND p_l.want > 0 AND
		v_to >= v_lease.amount
	    WHERE l.id = p_l.id;
	IF v_to <> v_lease.amount THEN
		UPDATE ledger_accounts SET reserved = reserved + v_to -
		    v_lease.amount WHERE id = v_acct.id;
	END IF;
	RETURN QUERY SELECT p_l.id, 'open'::text, v_to,
	    p_ttl_seconds * 1000::bigint, v_lease.recall;
END;
$$;

--
-- credits_reserve beside leases (a worker gives back its own lease's free
-- credit before it takes this path). When the call would be refused or
-- clamped while open leases park credit, and p_final is false, nothing is
-- reserved: the result is 'recall', leased says what they park, and their
-- workers are asked for it back (recall + NOTIFY); the caller tries again
-- shortly, the last time with p_final (then it is refused or clamped as
-- before).
--
CREATE FUNCTION credits_reserve(p_hold uuid, p_user uuid, p_key uuid,
    p_request_id text, p_endpoint text, p_targets text[], p_caps bigint[],
    p_prompt_bound bigint, p_max_tokens bigint, p_min_tokens bigint,
    p_choices integer, p_ttl_seconds integer, p_final boolean)
RETURNS TABLE (result text, max_tokens bigint, amount bigint,
    target integer, model text, price_id bigint, input_price bigint,
    cached_input_price bigint, output_price bigint, request_fee bigint,
    available bigint, key_available bigint, debt bigint,
    expires_at timestamptz, leased bigint)
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
		    0::bigint;
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
		    v_debt, v_hold.expires_at, 0::bigint
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
			    NULL::timestamptz, 0::bigint;
			RETURN;
		END IF;
		v_ids_p := v_ids_p || v_price.id;
		v_in := v_in || v_price.input_micros_per_mtok;
		v_cin := v_cin || v_price.cached_input_micros_per_mtok;
		v_out := v_out || v_price.output_micros_per_mtok;
		v_fee := v_fee || v_price.request_fee_micros;
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
		    v_key_avail::bigint, v_debt, NULL::timestamptz, v_leased
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
	    v_debt, v_hold.expires_at, 0::bigint
	    FROM generate_subscripts(v_hold.targets, 1) i ORDER BY i;
END;
$$;

-- The call without a lease, as before.
CREATE OR REPLACE FUNCTION credits_reserve(p_hold uuid, p_user uuid,
    p_key uuid, p_request_id text, p_endpoint text, p_targets text[],
    p_caps bigint[], p_prompt_bound bigint, p_max_tokens bigint,
    p_min_tokens bigint, p_choices integer, p_ttl_seconds integer)
RETURNS TABLE (result text, max_tokens bigint, amount bigint,
    target integer, model text, price_id bigint, input_price bigint,
    cached_input_price bigint, output_price bigint, request_fee bigint,
    available bigint, key_available bigint, debt bigint,
    expires_at timestamptz)
LANGUAGE sql AS $$
	SELECT r.result, r.max_tokens, r.amount, r.target, r.model,
	    r.price_id, r.input_price, r.cached_input_price, r.output_price,
	    r.request_fee, r.available, r.key_available, r.debt, r.expires_at
	FROM credits_reserve(p_hold, p_user, p_key, p_request_id, p_endpoint,
	    p_targets, p_caps, p_prompt_bound, p_max_tokens, p_min_tokens,
	    p_choices, p_ttl_seconds, true) r;
$$;

--
-- credits_grant: as in 0300, but a debit first recalls the user's leases,
-- so credit parked in a lease never makes a refund, an adjustment or an
-- account's closing fail or fall short.
--
CREATE OR REPLACE FUNCTION credits_grant(p_user uuid, p_amount bigint,
    p_kind text, p_reference text, p_idempotency_key text,
    p_allow_debt boolean)
RETURNS TABLE (result text, txn_id uuid, balance_after bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_acct		ledger_accounts;
	v_debt		ledger_accounts;
	v_ids		record;
	v_known		record;
	v_system	bigint;
	v_txn		uuid;
	v_repay		bigint;
	v_take		bigint;
BEGIN
	IF p_amount = 0 THEN
		RAISE EXCEPTION 'credits_grant: amount must not be zero'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO v_ids FROM ledger_user_accounts(p_user);
	-- Serialises every movement of this user (and same-key retries).
	SELECT * INTO v_acct FROM ledger_accounts WHERE id = v_ids.account_id
	    FOR UPDATE;
	SELECT * INTO v_debt FROM ledger_accounts WHERE id = v_ids.debt_id
	    FOR UPDATE;

	SELECT * INTO v_known FROM ledger_idempotent(p_idempotency_key, p_user,
	    p_kind, p_amount);
	IF v_known.result IS NOT NULL THEN
		RETURN QUERY SELECT v_known.result, v_known.txn_id,
		    v_acct.balance + v_debt.balance;
		RETURN;
	END IF;

	IF p_amount < 0 AND credits_recall_leases(p_user) > 0 THEN
		SELECT * INTO v_acct FROM ledger_accounts
		    WHERE id = v_ids.account_id;
	END IF;

	IF p_amount < 0 AND NOT p_allow_debt AND
	    v_acct.balance - v_acct.reserved < -p_amount THEN
		RETURN QUERY SELECT 'insufficient'::text, NULL::uuid,
		    v_acct.balance + v_debt.balance;
		RETURN;
	END IF;

	v_system := ledger_system_account(CASE
	    WHEN p_kind IN ('purchase', 'refund', 'dispute', 'dispute_won')
	    THEN 'purchases' ELSE 'grants' END);

	INSERT INTO ledger_transactions (idempotency_key, kind, user_id, amount,
	    reference)
	    VALUES (p_idempotency_key, p_kind, p_user, p_amount, p_reference)
	    RETURNING id INTO v_txn;

	PERFORM ledger_post(v_txn, v_system, -p_amount);
	IF p_amount > 0 THEN
		v_repay := least(p_amount, -v_debt.balance);
		PERFORM ledger_post(v_txn, v_debt.id, v_repay);
		PERFORM ledger_post(v_txn, v_acct.id, p_amount - v_repay);
	ELSE
		v_take := least(-p_amount, greatest(v_acct.balance -
		    v_acct.reserved, 0));
		PERFORM ledger_post(v_txn, v_acct.id, -v_take);
		PERFORM ledger_post(v_txn, v_debt.id, p_amount + v_take);
	END IF;

	RETURN QUERY SELECT 'ok'::text, v_txn,
	    (SELECT sum(a.balance)::bigint FROM ledger_accounts a
	     WHERE a.user_id = p_user);
END;
$$;

--
-- credits_expire_leases: leases whose worker stopped renewing them (its
-- process died) give their amount back; nothing is charged (the calls
-- they served and did not flush are lost, docs/credits.md says how
-- many). Account lock first, then the lease (the lock order).
--
CREATE FUNCTION credits_expire_leases(p_limit integer)
RETURNS TABLE (expired integer, returned bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_id	uuid;
	v_user	uuid;
	v_lease	credit_leases;
	v_n	integer := 0;
	v_sum	bigint := 0;
BEGIN
	FOR v_id, v_user IN SELECT l.id, l.user_id FROM credit_leases l
	    WHERE l.status = 'open' AND l.expires_at < now()
	    ORDER BY l.expires_at LIMIT p_limit
	LOOP
		PERFORM 1 FROM ledger_accounts a WHERE a.user_id = v_user AND
		    a.kind = 'user' FOR UPDATE;
		SELECT * INTO v_lease FROM credit_leases l WHERE l.id = v_id
		    FOR UPDATE;
		IF v_lease.status <> 'open' OR v_lease.expires_at >= now() THEN
			CONTINUE;	-- renewed or closed meanwhile
		END IF;
		UPDATE credit_leases l SET status = 'expired', amount = 0,
		    closed_at = now() WHERE l.id = v_id;
		UPDATE ledger_accounts a SET reserved = a.reserved -
		    v_lease.amount WHERE a.user_id = v_user AND a.kind = 'user';
		v_n := v_n + 1;
		v_sum := v_sum + v_lease.amount;
	END LOOP;
	RETURN QUERY SELECT v_n, v_sum;
END;
$$;

-- The sweeper's one call: expired holds, then expired leases.
CREATE FUNCTION credits_sweep(p_limit integer)
RETURNS TABLE (expired integer, charged bigint, pending bigint,
    leases_expired integer, leases_returned bigint, leases_open bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_h	record;
	v_l	record;
BEGIN
	SELECT * INTO v_h FROM credits_expire_holds(p_limit);
	SELECT * INTO v_l FROM credits_expire_leases(p_limit);
	RETURN QUERY SELECT v_h.expired, v_h.charged, v_h.pending,
	    v_l.expired, v_l.returned, (SELECT count(*) FROM credit_leases l
	    WHERE l.status = 'open');
END;
$$;

-- A new price: every worker reloads its price cache and retires the
-- leases it took at the old prices.
CREATE FUNCTION credits_prices_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tg_credits', 'prices');
	RETURN NULL;
END;
$$;

CREATE TRIGGER model_prices_notify AFTER INSERT ON model_prices
    FOR EACH STATEMENT EXECUTE FUNCTION credits_prices_notify();

--
-- ledger_check_credits(): holds, leases and usage records, including
-- every relation the dropped foreign keys used to check.
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
	SELECT format('usage record %s: rates differ from price %s', u.id,
	    u.price_id)
	FROM usage_records u
	WHERE u.lease_id IS NOT NULL AND NOT EXISTS (SELECT 1
	    FROM model_prices p WHERE p.id = u.price_id AND p.model = u.model AND
	    p.input_micros_per_mtok = u.input_price AND
	    p.cached_input_micros_per_mtok = u.cached_input_price AND
	    p.output_micros_per_mtok = u.output_price AND
	    p.request_fee_micros = u.request_fee)
	UNION ALL
	SELECT format('usage record %s: voided but charged %s (loss %s, '
	    'tokens %s/%s)', u.id, u.cost_micros, u.loss_micros,
	    u.prompt_tokens, u.completion_tokens)
	FROM usage_records u
	WHERE u.settlement = 'void' AND (u.cost_micros <> 0 OR
	    u.loss_micros <> 0 OR u.prompt_tokens <> 0 OR
	    u.completion_tokens <> 0)
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
