-- Functions that pin their search_path pin the schema and then pg_temp
-- (docs/operations.md, "Database roles"; PostgreSQL's documentation of
-- SECURITY DEFINER): with pg_temp left out of the setting, PostgreSQL
-- searches the session's temporary schema first, where the caller could
-- have put a table or function of the same name. The admin functions of
-- 0380 and 0480 were written with the schema alone; tg_roles_apply()
-- mends only the money writers, so this mends every one, once.
DO $$
DECLARE
	r	record;
BEGIN
	FOR r IN SELECT f.oid::regprocedure AS fn FROM pg_proc f
	    WHERE f.pronamespace = (SELECT n.oid FROM pg_namespace n
	    WHERE n.nspname = current_schema())
	    AND f.proconfig @> ARRAY[format('search_path=%s',
	    quote_ident(current_schema()))]
	LOOP
		EXECUTE format('ALTER ROUTINE %s SET search_path = %I, pg_temp',
		    r.fn, current_schema());
	END LOOP;
END;
$$;
