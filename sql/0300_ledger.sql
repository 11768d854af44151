-- The credit ledger core (CONTRACT §6): double-entry, append-only, in
-- integer micro-credits (BIGINT; 1 credit = 1,000,000 micros).
--
-- Accounts. Every user has two:
--   'user'       what the user can spend. balance - reserved >= 0 is a
--                CHECK: usage can never take it below zero.
--   'user_debt'  what the user owes after a claw-back (refund, dispute)
--                that the balance could not cover; <= 0. While it is
--                below zero usage is blocked; new credits repay it first.
-- System accounts (kind 'system', by name) are the other side of every
-- movement: 'grants' (signup and admin grants, adjustments), 'purchases'
-- (payments in, refunds out), 'usage' (credits spent on calls), 'loss'
-- (usage a provider reported beyond a hold). They keep no cached balance,
-- so concurrent calls never queue on one hot row: their balance is the
-- sum of their entries.
--
-- Transactions carry a UNIQUE idempotency key; the same key again is a
-- 'duplicate' (same user, kind and amount) or a 'conflict'. Entries are
-- append-only (UPDATE/DELETE/TRUNCATE raise), each transaction's entries
-- sum to zero (checked at commit), and a user account's cached balance
-- is updated in the same transaction as its entries.

CREATE TABLE ledger_accounts (
	id		bigserial PRIMARY KEY,
	user_id		uuid REFERENCES users (id),
	kind		text NOT NULL
			CHECK (kind IN ('user', 'user_debt', 'system')),
	name		text NOT NULL,
	balance		bigint NOT NULL DEFAULT 0,
	reserved	bigint NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT ledger_account_owner
	    CHECK ((kind = 'system') = (user_id IS NULL)),
	CONSTRAINT ledger_user_available_not_negative
	    CHECK (kind <> 'user' OR (reserved >= 0 AND balance - reserved >= 0)),
	CONSTRAINT ledger_debt_not_positive
	    CHECK (kind <> 'user_debt' OR (balance <= 0 AND reserved = 0)),
	CONSTRAINT ledger_system_uncached
	    CHECK (kind <> 'system' OR (balance = 0 AND reserved = 0))
);

CREATE UNIQUE INDEX ledger_accounts_user_kind ON ledger_accounts (user_id, kind)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_system_name ON ledger_accounts (name)
    WHERE kind = 'system';

INSERT INTO ledger_accounts (kind, name) VALUES
    ('system', 'grants'), ('system', 'purchases'), ('system', 'usage'),
    ('system', 'loss');

CREATE TABLE ledger_transactions (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	idempotency_key	text NOT NULL UNIQUE
			CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
	kind		text NOT NULL,
	user_id		uuid REFERENCES users (id),
	amount		bigint NOT NULL,
	reference	text CHECK (reference IS NULL OR char_length(reference) <= 500),
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ledger_transactions_user ON ledger_transactions (user_id, created_at);

CREATE TABLE ledger_entries (
	id		bigserial PRIMARY KEY,
	txn_id		uuid NOT NULL REFERENCES ledger_transactions (id),
	account_id	bigint NOT NULL REFERENCES ledger_accounts (id),
	amount		bigint NOT NULL CHECK (amount <> 0),
	balance_after	bigint,		-- the account's balance; NULL for system accounts
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
CREATE INDEX ledger_entries_txn ON ledger_entries (txn_id);

-- Append-only.
CREATE FUNCTION ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ledger tables are append-only (% on %)',
	    TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_append_only
    BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_no_truncate
    BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- Every transaction sums to zero, checked at commit.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_sum	numeric;
BEGIN
	SELECT sum(amount) INTO v_sum FROM ledger_entries
	    WHERE txn_id = NEW.txn_id;
	IF v_sum <> 0 THEN
		RAISE EXCEPTION 'ledger transaction % does not balance (%)',
		    NEW.txn_id, v_sum USING ERRCODE = 'check_violation';
	END IF;
	RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

-- The user's two accounts, created on first use; returns their ids.
CREATE FUNCTION ledger_user_accounts(p_user uuid,
    OUT account_id bigint, OUT debt_id bigint)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ledger_accounts (user_id, kind, name)
	    VALUES (p_user, 'user', 'user'), (p_user, 'user_debt', 'debt')
	    ON CONFLICT DO NOTHING;
	SELECT id INTO account_id FROM ledger_accounts
	    WHERE user_id = p_user AND kind = 'user';
	SELECT id INTO debt_id FROM ledger_accounts
	    WHERE user_id = p_user AND kind = 'user_debt';
END;
$$;

CREATE FUNCTION ledger_system_account(p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT id FROM ledger_accounts WHERE kind = 'system' AND name = p_name;
$$;

-- One entry; updates the cached balance of user accounts in passing.
CREATE FUNCTION ledger_post(p_txn uuid, p_account bigint, p_amount bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_after	bigint;
BEGIN
	IF p_amount = 0 THEN
		RETURN;
	END IF;
	UPDATE ledger_accounts SET balance = balance + p_amount
	    WHERE id = p_account AND kind <> 'system'
	    RETURNING balance INTO v_after;
	INSERT INTO ledger_entries (txn_id, account_id, amount, balance_after)
	    VALUES (p_txn, p_account, p_amount, v_after);
END;
$$;

-- Idempotency: a known key answers 'duplicate' when it is the same
-- movement, 'conflict' otherwise; NULL when the key is new.
CREATE FUNCTION ledger_idempotent(p_key text, p_user uuid, p_kind text,
    p_amount bigint, OUT result text, OUT txn_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
	t	ledger_transactions;
BEGIN
	SELECT * INTO t FROM ledger_transactions WHERE idempotency_key = p_key;
	IF NOT FOUND THEN
		result := NULL;
		RETURN;
	END IF;
	txn_id := t.id;
	IF t.user_id IS NOT DISTINCT FROM p_user AND t.kind = p_kind AND
	    t.amount = p_amount THEN
		result := 'duplicate';
	ELSE
		result := 'conflict';
	END IF;
END;
$$;

--
-- credits_grant: move p_amount micros into (p_amount > 0) or out of
-- (p_amount < 0) a user's credits, against the system account of its
-- kind ('purchase', 'refund', 'dispute', 'dispute_won' -> purchases;
-- everything else -> grants). One call, one transaction, idempotent on
-- p_idempotency_key.
--
--   credit: repays debt first, the rest becomes spendable.
--   debit:  takes what is available; what is not is refused
--           ('insufficient') unless p_allow_debt, when the rest becomes
--           debt (a claw-back after a refund).
--
-- result: 'ok' | 'duplicate' | 'conflict' | 'insufficient'.
-- balance_after: the user's net balance (spendable minus debt).
--
CREATE FUNCTION credits_grant(p_user uuid, p_amount bigint, p_kind text,
    p_reference text, p_idempotency_key text, p_allow_debt boolean)
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

-- A user's money at a glance (net balance, reserved, available).
CREATE VIEW ledger_user_balances AS
SELECT	u.id AS user_id,
	coalesce(a.balance, 0) + coalesce(d.balance, 0) AS balance_micros,
	coalesce(a.reserved, 0) AS reserved_micros,
	coalesce(a.balance, 0) + coalesce(d.balance, 0) -
	    coalesce(a.reserved, 0) AS available_micros,
	coalesce(d.balance, 0) AS debt_micros
FROM users u
LEFT JOIN ledger_accounts a ON a.user_id = u.id AND a.kind = 'user'
LEFT JOIN ledger_accounts d ON d.user_id = u.id AND d.kind = 'user_debt';

--
-- ledger_check(): every problem, one row each; no rows means consistent.
-- Later migrations extend it (holds, usage records) by replacing it.
--
CREATE FUNCTION ledger_check() RETURNS TABLE (problem text)
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
	    (kind = 'user_debt' AND balance > 0);
$$;
