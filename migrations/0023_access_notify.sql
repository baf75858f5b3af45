-- Live streams end with the access they were opened under. Whatever ends a
-- log-in or changes what a person may do announces it, in the transaction
-- that makes the change, on the channel every app instance LISTENs to
-- (`Signal::AccessChanged` with the person's id): that person's open streams
-- on every instance check at once whether they still hold. Triggers, so that
-- no path (an endpoint, the admin, an operator's SQL) can forget it.
-- PostgreSQL sends a notification repeated within one transaction only once.

CREATE FUNCTION notify_access_changed(person uuid) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('autodoctor_events', json_build_object('kind', 'access_changed', 'user_id', person)::text)
$$;

-- A log-in ended: log-out, the absolute lifetime, a password change ending the others.
CREATE FUNCTION user_sessions_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_access_changed(OLD.user_id);
    RETURN NULL;
END $$;
CREATE TRIGGER user_sessions_access_changed AFTER DELETE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION user_sessions_access_changed();

-- The account was suspended, reactivated, changed role or password, or deleted.
CREATE FUNCTION users_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM notify_access_changed(OLD.id);
    ELSIF OLD.disabled_at IS DISTINCT FROM NEW.disabled_at OR OLD.auth_version IS DISTINCT FROM NEW.auth_version
          OR OLD.role IS DISTINCT FROM NEW.role THEN
        PERFORM notify_access_changed(NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER users_access_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_access_changed();

-- A mechanic left or joined a workshop, or their application was decided again.
CREATE FUNCTION mechanics_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM notify_access_changed(OLD.user_id);
    ELSIF OLD.workshop_id IS DISTINCT FROM NEW.workshop_id OR OLD.account_type IS DISTINCT FROM NEW.account_type
          OR OLD.application_status IS DISTINCT FROM NEW.application_status THEN
        PERFORM notify_access_changed(NEW.user_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mechanics_access_changed AFTER UPDATE OR DELETE ON mechanics
    FOR EACH ROW EXECUTE FUNCTION mechanics_access_changed();

-- A workshop member's role changed or they left.
CREATE FUNCTION organization_members_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM notify_access_changed(OLD.user_id);
    ELSIF OLD.role IS DISTINCT FROM NEW.role OR OLD.organization_id IS DISTINCT FROM NEW.organization_id THEN
        PERFORM notify_access_changed(OLD.user_id);
        PERFORM notify_access_changed(NEW.user_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER organization_members_access_changed AFTER UPDATE OR DELETE ON organization_members
    FOR EACH ROW EXECUTE FUNCTION organization_members_access_changed();

-- A workshop was suspended, reactivated, approved or rejected: everyone in it.
CREATE FUNCTION organizations_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IS DISTINCT FROM NEW.status THEN
        PERFORM notify_access_changed(m.user_id) FROM mechanics m WHERE m.workshop_id = NEW.id;
        PERFORM notify_access_changed(om.user_id) FROM organization_members om WHERE om.organization_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER organizations_access_changed AFTER UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION organizations_access_changed();
