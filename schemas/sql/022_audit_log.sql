-- 022_audit_log: the audit trail, who did what to identities and to the
-- fleet (docs/operations.md, "Audit trail"). Written by jc_audit_record
-- (coordinator/src/core/audit.c) from the admin CLI (every command that
-- writes, refused outcomes included once the command reached the database)
-- and the HTTP surface (logins, refreshes, revocations, family revocations).
--
-- actor_kind 'cli': actor is the operating-system user and host that ran
-- jobcoord-admin (user@host); 'principal': actor is the principal the HTTP
-- request authenticated as, or the user name a refused login gave.
-- address is the HTTP client's address (NULL for the CLI). detail never
-- holds a secret (passwords, keys, codes, tokens are never written).
--
-- Append-only: a trigger refuses UPDATE, TRUNCATE and DELETE, except the
-- janitor's retention delete, which sets the transaction-local setting
-- jobcoord.audit_prune to 'on' first (SET LOCAL) and deletes only entries
-- older than janitor.audit_retention_s. This guards the trail against every
-- code path of jobcoord and against mistakes in SQL; a database superuser
-- can still disable triggers, so restrict who holds that role.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor_kind text NOT NULL CHECK (actor_kind IN ('cli', 'principal')),
    actor      text NOT NULL CHECK (length(actor) BETWEEN 1 AND 256),
    action     text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    target     text NOT NULL DEFAULT '' CHECK (length(target) <= 256),
    outcome    text NOT NULL CHECK (outcome IN ('ok', 'refused', 'error')),
    address    text CHECK (length(address) <= 64),
    detail     text NOT NULL DEFAULT '' CHECK (length(detail) <= 1024)
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_target ON audit_log (target, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('jobcoord.audit_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
