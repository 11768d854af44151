-- Database roles (docs/operations.md, "Database roles"): the role that
-- runs the migrations owns every table and function; the role tollgate
-- connects as (the application role) changes money only through
-- functions that run with the owner's rights (SECURITY DEFINER).
--
--   owner        TOLLGATE_MIGRATE_DATABASE_URL's role (default: the
--                application's). Owns the schema's objects, so only it can
--                ALTER them, drop or disable their triggers, or TRUNCATE.
--   application  TOLLGATE_DATABASE_URL's role. SELECT on every table and
--                view; INSERT/UPDATE/DELETE only on tables that hold no
--                money (users, identities, sessions, API keys, ...);
--                EXECUTE on the functions; no TRUNCATE, TRIGGER or
--                REFERENCES anywhere. LISTEN and NOTIFY need no grant.
--
-- Protected tables (the application reads them, never writes them): the
-- names in tg_protected_tables, and every table whose name starts with
-- ledger_, credit_, usage_, billing_ or model_price (money by naming
-- rule, so a money table a later migration adds is protected unless it
-- is named against the rule).
--
-- A function needs the owner's rights when its source names a protected
-- table and writes or locks rows (INSERT, UPDATE, DELETE, MERGE,
-- TRUNCATE, LOCK, FOR UPDATE/SHARE): tg_roles_apply() makes each such
-- function SECURITY DEFINER with search_path pinned to its schema and
-- then pg_temp (as PostgreSQL's documentation of SECURITY DEFINER
-- requires), and takes EXECUTE on it away from PUBLIC. That covers
-- trigger functions too: a trigger runs with the rights of whoever fired
-- it, so users_recall_leases, fired by the application's UPDATE of
-- users.status, needs them to give leases back.
--
-- The application role's name reaches tg_roles_apply() as the setting
-- tollgate.app_role (scripts/migrate.sh finds it by connecting with
-- TOLLGATE_DATABASE_URL); empty or the owner itself means one role for
-- both, and nothing is granted. The migrator runs tg_roles_apply() again
-- after every run, so a later migration that replaces a money function
-- (CREATE OR REPLACE resets SECURITY DEFINER and SET) or adds a table
-- ends up with the same split; such a migration still writes SECURITY
-- DEFINER SET search_path = public, pg_temp itself, so that it is right
-- on its own (docs/operations.md, "For migration authors").

-- Checkout bookkeeping the application wrote directly (app/billing/
-- checkout.c); billing_payments is a money table.
CREATE FUNCTION billing_checkout_opened(p_payment uuid, p_ref text,
    p_url text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
	UPDATE billing_payments SET checkout_ref = p_ref,
	    checkout_url = p_url, updated_at = now()
	    WHERE id = p_payment;
$$;

CREATE FUNCTION billing_checkout_failed(p_payment uuid, p_failure text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
	UPDATE billing_payments SET status = 'failed', failure = p_failure,
	    updated_at = now()
	    WHERE id = p_payment AND status = 'pending' AND NOT granted;
$$;

-- Tables only the owner writes besides the money tables the naming rule
-- finds. A later migration adds one with an INSERT here.
CREATE TABLE tg_protected_tables (
	name	text PRIMARY KEY,
	why	text NOT NULL
);

INSERT INTO tg_protected_tables (name, why) VALUES
    ('schema_migrations', 'the migrations applied'),
    ('tg_protected_tables', 'this list');

-- Is table p_name written only by the owner?
CREATE FUNCTION tg_roles_protected(p_name name) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT p_name ~ '^(ledger_|credit_|usage_|billing_|model_price)' OR
	    EXISTS (SELECT 1 FROM tg_protected_tables t WHERE t.name = p_name);
$$;

-- Does function p need the owner's rights (it writes or locks rows of a
-- protected table)?
CREATE FUNCTION tg_roles_definer_needed(p oid) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT f.prokind IN ('f', 'p') AND
	    f.prosrc ~* '\m(insert|update|delete|merge|truncate|lock|share)\M'
	    AND EXISTS (SELECT 1 FROM pg_class c
		WHERE c.relnamespace = f.pronamespace AND c.relkind IN ('r', 'p')
		AND tg_roles_protected(c.relname)
		AND f.prosrc ~* ('\m' || c.relname || '\M'))
	FROM pg_proc f WHERE f.oid = p;
$$;

--
-- tg_roles_apply(): (re)states the split for every table, view, sequence
-- and function of the current schema. Idempotent; run by the owner (the
-- migrator) only. Objects of extensions are left alone.
--
CREATE FUNCTION tg_roles_apply() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_app	text := nullif(current_setting('tollgate.app_role', true), '');
	v_nsp	oid;
	v_me	oid;
	r	record;
BEGIN
	SELECT n.oid INTO v_nsp FROM pg_namespace n
	    WHERE n.nspname = current_schema();
	SELECT o.oid INTO v_me FROM pg_roles o WHERE o.rolname = current_user;
	IF v_app = current_user THEN
		v_app := NULL;
	END IF;

	-- An install from before the split: its objects belong to the
	-- application role, which could alter them at will.
	FOR r IN SELECT c.relname AS obj, pg_get_userbyid(c.relowner) AS who
	    FROM pg_class c WHERE c.relnamespace = v_nsp AND
	    c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> v_me
	    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE
	    d.classid = 'pg_class'::regclass AND d.objid = c.oid AND
	    d.deptype = 'e')
	    UNION ALL
	    SELECT f.oid::regprocedure::text, pg_get_userbyid(f.proowner)
	    FROM pg_proc f WHERE f.pronamespace = v_nsp AND f.proowner <> v_me
	    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE
	    d.classid = 'pg_proc'::regclass AND d.objid = f.oid AND
	    d.deptype = 'e')
	LOOP
		RAISE EXCEPTION '% belongs to role %, not to %, which runs '
		    'the migrations', r.obj, r.who, current_user
		    USING HINT = format('As a superuser, in this database: '
		    'REASSIGN OWNED BY %I TO %I; (docs/operations.md, '
		    '"Database roles").', r.who, current_user);
	END LOOP;

	FOR r IN SELECT f.oid::regprocedure AS fn, f.prosecdef, f.proconfig
	    FROM pg_proc f WHERE f.pronamespace = v_nsp AND
	    f.proname NOT LIKE 'tg\_roles\_%' AND tg_roles_definer_needed(f.oid)
	    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE
	    d.classid = 'pg_proc'::regclass AND d.objid = f.oid AND
	    d.deptype = 'e')
	LOOP
		EXECUTE format('ALTER ROUTINE %s SECURITY DEFINER '
		    'SET search_path = %I, pg_temp', r.fn, current_schema());
		EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', r.fn);
	END LOOP;

	-- The owner's own tools are for the owner.
	FOR r IN SELECT f.oid::regprocedure AS fn FROM pg_proc f
	    WHERE f.pronamespace = v_nsp AND f.proname LIKE 'tg\_roles\_%'
	LOOP
		EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', r.fn);
	END LOOP;

	-- Nobody else creates objects in the schema: a function or operator
	-- the application made there could be picked by the owner's
	-- functions. (PostgreSQL 15's default; an older database keeps
	-- PUBLIC's CREATE unless told.)
	EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC',
	    current_schema());

	IF v_app IS NULL THEN
		RETURN;
	END IF;

	EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(),
	    v_app);
	EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM %I', current_schema(),
	    v_app);

	FOR r IN SELECT c.oid::regclass AS rel, c.relkind,
	    tg_roles_protected(c.relname) AS protected
	    FROM pg_class c WHERE c.relnamespace = v_nsp AND
	    c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relowner = v_me
	LOOP
		EXECUTE format('REVOKE TRUNCATE, TRIGGER, REFERENCES ON %s '
		    'FROM PUBLIC, %I', r.rel, v_app);
		EXECUTE format('GRANT SELECT ON %s TO %I', r.rel, v_app);
		-- Views are read through, never written through (a simple
		-- view over a money table would be updatable).
		IF r.protected OR r.relkind NOT IN ('r', 'p') THEN
			EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s '
			    'FROM PUBLIC, %I', r.rel, v_app);
		ELSE
			EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %s '
			    'TO %I', r.rel, v_app);
		END IF;
	END LOOP;

	-- Sequences of the tables the application writes; none of the
	-- protected ones.
	FOR r IN SELECT s.oid::regclass AS seq,
	    coalesce(bool_or(tg_roles_protected(t.relname)), true) AS protected
	    FROM pg_class s
	    LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND
		d.objid = s.oid AND d.refclassid = 'pg_class'::regclass AND
		d.deptype IN ('a', 'i')
	    LEFT JOIN pg_class t ON t.oid = d.refobjid
	    WHERE s.relnamespace = v_nsp AND s.relkind = 'S' AND
	    s.relowner = v_me
	    GROUP BY s.oid
	LOOP
		IF r.protected THEN
			EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC, %I',
			    r.seq, v_app);
		ELSE
			EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I',
			    r.seq, v_app);
		END IF;
	END LOOP;

	FOR r IN SELECT f.oid::regprocedure AS fn FROM pg_proc f
	    WHERE f.pronamespace = v_nsp AND f.proowner = v_me AND
	    f.prokind IN ('f', 'p') AND f.proname NOT LIKE 'tg\_roles\_%'
	LOOP
		EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', r.fn, v_app);
	END LOOP;
END;
$$;

SELECT tg_roles_apply();
