-- Hot-path tuning of two ledger helpers every reservation and settlement
-- calls (measured with pg_stat_statements under make bench):
--
--   ledger_system_account  was a SQL-language function, re-planned on
--                          every call (SQL functions called from PL/pgSQL
--                          are not inlined); PL/pgSQL keeps its plan.
--   ledger_user_accounts   tried an INSERT ... ON CONFLICT on every call;
--                          the accounts exist after a user's first
--                          movement, so look first and insert only when
--                          missing.
--
-- Same results, same locking; only cheaper.

CREATE OR REPLACE FUNCTION ledger_system_account(p_name text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_id	bigint;
BEGIN
	SELECT id INTO v_id FROM ledger_accounts
	    WHERE kind = 'system' AND name = p_name;
	RETURN v_id;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_user_accounts(p_user uuid,
    OUT account_id bigint, OUT debt_id bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT id INTO account_id FROM ledger_accounts
	    WHERE user_id = p_user AND kind = 'user';
	SELECT id INTO debt_id FROM ledger_accounts
	    WHERE user_id = p_user AND kind = 'user_debt';
	IF account_id IS NOT NULL AND debt_id IS NOT NULL THEN
		RETURN;
	END IF;

	INSERT INTO ledger_accounts (user_id, kind, name)
	    VALUES (p_user, 'user', 'user'), (p_user, 'user_debt', 'debt')
	    ON CONFLICT DO NOTHING;
	SELECT id INTO account_id FROM ledger_accounts
	    WHERE user_id = p_user AND kind = 'user';
	SELECT id INTO debt_id FROM ledger_accounts
	    WHERE user_id = p_user AND kind = 'user_debt';
END;
$$;
