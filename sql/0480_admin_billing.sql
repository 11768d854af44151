-- The admin surface's part of billing (see 0380_admin.sql): a package
-- created or changed by PUT /api/admin/packages/{id} is audited where it
-- lands. The statement does not name the admin, so the row names nobody.

CREATE FUNCTION admin_audit_package() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
	PERFORM admin_audit_write(NULL, NULL, 'package.put', NEW.id::text,
	    CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW));
	RETURN NULL;
END;
$$;

CREATE TRIGGER billing_packages_audit AFTER INSERT OR UPDATE
    ON billing_packages FOR EACH ROW EXECUTE FUNCTION admin_audit_package();
