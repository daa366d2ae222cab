"""PostgreSQL row-level security and privileges, for use in migrations and deployment.

Every tenant table gets a policy that admits a row only when its organization is the
transaction's ``app.organization_id`` (set by ``clinicdesk.core.tenancy``). Nothing the
application role can set widens that: there is no bypass setting. Row-level security is
enabled but not forced, so the tables' owner (the role that migrates) is not subject to
it, and the application role, which owns nothing, always is.

The application still needs a handful of cross-organization answers before it knows the
tenant: whose sign-in e-mail this is, whose session cookie, whose status link, which job
is due next. Those are ``SECURITY DEFINER`` functions owned by the owner role
(``LOOKUPS``, ``clinicdesk_next_due_job`` ...): each answers one narrow question with an
organization id or a job id, never rows of another organization. The installation's own
rows (audit entries and jobs of no organization, the installation audit chain) are
visible to every transaction: they belong to no organization.

The application connects as a role that does not own the tables
(``CLINICDESK_DATABASE_URL``) while migrations run as the owner
(``CLINICDESK_DATABASE_OWNER_URL``); ``grant_application_role`` gives the application
role what it needs, and no more: the audit trail is insert-only.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

POLICY = "tenant_isolation"
APPEND_ONLY_TABLES = ("audit_events",)
# Reference data, filled by the tables' owner (core/reference_data.py): the application
# role reads it.
READ_ONLY_TABLES = ("icd10_codes", "drugs", "drug_names", "drug_tree_numbers")
TENANT_SETTING = "app.organization_id"

# Rows that belong to no organization, per table: visible to every transaction.
SYSTEM_ROWS = {
    "audit_events": "organization_id IS NULL",
    "audit_chain_heads": "chain_id = '00000000-0000-0000-0000-000000000000'::uuid",
    "jobs": "organization_id IS NULL",
}

# The only (table, column) pairs whose organization ``clinicdesk_tenant_of`` tells: each
# column is a unique secret's hash or a sign-in e-mail, so the answer names one row.
LOOKUPS = (
    ("users", "email"),
    ("web_sessions", "token_hash"),
    ("api_tokens", "token_hash"),
    ("one_time_tokens", "token_hash"),
    ("providers", "feed_token_hash"),
    ("queue_displays", "secret_hash"),
    ("visits", "status_link_hash"),
    ("prescription_sheets", "code"),
    ("reply_links", "secret_hash"),
    ("messages", "provider_id"),
)

_DUE_JOB = (
    "((j.status = 'queued' AND j.run_at <= due_at)"
    " OR (j.status = 'running' AND j.locked_until < due_at))"
)

# Built from this module's constants only (S608 sees f-strings, not where they come from).
FUNCTIONS = {
    "clinicdesk_tenant_of(text, text, text)": f"""
CREATE OR REPLACE FUNCTION clinicdesk_tenant_of(tbl text, col text, key text)
RETURNS uuid LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
DECLARE
    found uuid;
BEGIN
    IF (tbl, col) NOT IN ({", ".join(f"('{t}', '{c}')" for t, c in LOOKUPS)}) THEN
        RAISE EXCEPTION 'no cross-organization lookup by %.%', tbl, col
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('SELECT organization_id FROM public.%I WHERE %I = $1 LIMIT 1', tbl, col)
        INTO found USING key;
    RETURN found;
END
$fn$""",  # noqa: S608
    "clinicdesk_next_due_job(timestamptz)": f"""
CREATE OR REPLACE FUNCTION clinicdesk_next_due_job(due_at timestamptz)
RETURNS TABLE (job_id uuid, organization_id uuid) LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
    SELECT j.id, j.organization_id FROM public.jobs AS j
    WHERE {_DUE_JOB} ORDER BY j.run_at LIMIT 1 FOR UPDATE SKIP LOCKED
$fn$""",  # noqa: S608
    "clinicdesk_any_job_due(timestamptz)": f"""
CREATE OR REPLACE FUNCTION clinicdesk_any_job_due(due_at timestamptz)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
    SELECT EXISTS (SELECT 1 FROM public.jobs AS j WHERE {_DUE_JOB})
$fn$""",  # noqa: S608
    # The audit chaining step's sweep: which chains have entries waiting for their place
    # (ids only; the step then works inside each organization's own scope).
    "clinicdesk_unchained_audit_chains()": """
CREATE OR REPLACE FUNCTION clinicdesk_unchained_audit_chains()
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
    SELECT DISTINCT chain_id FROM public.audit_events WHERE seq IS NULL
$fn$""",
    # The sign-in page names the clinic when the server holds exactly one (a public page,
    # before anyone is signed in, so before any organization scope): the name, or NULL.
    "clinicdesk_sole_organization_name()": """
CREATE OR REPLACE FUNCTION clinicdesk_sole_organization_name()
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
    SELECT CASE WHEN count(*) = 1 THEN min(name) END
    FROM public.organizations WHERE is_active
$fn$""",
    # A patient's text reply: the organization that last sent a message to that address
    # (its keyed hash), so the reply is read by the clinic it answers.
    "clinicdesk_last_sender_of(text)": """
CREATE OR REPLACE FUNCTION clinicdesk_last_sender_of(hashed_address text)
RETURNS uuid LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
BEGIN
    -- plpgsql: created by migrations older than the messages table, checked when called.
    RETURN (SELECT m.organization_id FROM public.messages AS m
            WHERE m.address_hash = hashed_address AND m.sent_at IS NOT NULL
            ORDER BY m.sent_at DESC LIMIT 1);
END
$fn$""",
    "clinicdesk_purge_finished_jobs(timestamptz, timestamptz)": """
CREATE OR REPLACE FUNCTION clinicdesk_purge_finished_jobs(
    succeeded_before timestamptz, dead_before timestamptz
) RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
    WITH gone AS (
        DELETE FROM public.jobs
        WHERE (status = 'succeeded' AND finished_at < succeeded_before)
           OR (status = 'dead' AND finished_at < dead_before)
        RETURNING 1
    )
    SELECT count(*) FROM gone
$fn$""",
    # Nightly per-organization work (the no-show model's training) starts from a system
    # job: the active organizations' ids, nothing else of them.
    "clinicdesk_active_organization_ids()": """
CREATE OR REPLACE FUNCTION clinicdesk_active_organization_ids()
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
    SELECT id FROM public.organizations WHERE is_active
$fn$""",
    # Health and metrics: how patient messaging is doing across the installation (three
    # numbers, never a row; plpgsql like the reply lookup, for older migrations).
    "clinicdesk_message_figures(timestamptz)": """
CREATE OR REPLACE FUNCTION clinicdesk_message_figures(as_of timestamptz)
RETURNS TABLE (queued bigint, failed_24h bigint, oldest_due timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $fn$
BEGIN
    RETURN QUERY SELECT
        (SELECT count(*) FROM public.messages AS m WHERE m.status = 'queued'),
        (SELECT count(*) FROM public.messages AS m
         WHERE m.status IN ('failed', 'bounced') AND m.failed_at >= as_of - interval '24 hours'),
        (SELECT min(m.due_at) FROM public.messages AS m
         WHERE m.status = 'queued' AND m.due_at <= as_of);
END
$fn$""",
}


CHAIN_COLUMNS = ("seq", "prev_hash", "hash")

# An audit entry's place in its chain is written once, all three columns together, and
# nothing of a chained entry changes again: not even the tables' owner changes one
# without first dropping this trigger (which needs the owner, and is itself visible).
CHAINED_ONCE = (
    """
CREATE OR REPLACE FUNCTION clinicdesk_audit_chained_once() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF OLD.hash IS NOT NULL OR OLD.seq IS NOT NULL OR OLD.prev_hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit entry % is chained and cannot change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.hash IS NULL OR NEW.seq IS NULL OR NEW.prev_hash IS NULL
       OR (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
          IS DISTINCT FROM (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
        RAISE EXCEPTION 'an audit entry only gets its place in the chain, all at once'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$fn$""",
    "DROP TRIGGER IF EXISTS audit_events_chained_once ON audit_events",
    """CREATE TRIGGER audit_events_chained_once BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION clinicdesk_audit_chained_once()""",
)


def tenant_condition(table: str, column: str) -> str:
    condition = f"{column} = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"
    system = SYSTEM_ROWS.get(table)
    return f"({condition} OR {system})" if system else f"({condition})"


def enable_tenant_rls(table: str, column: str = "organization_id") -> None:
    """In a migration: isolate ``table`` by ``column`` (PostgreSQL only; a no-op on SQLite,
    where the application-level scoping is the only guard)."""
    from alembic import op  # only migrations call this; the server never loads Alembic

    if op.get_bind().dialect.name != "postgresql":
        return
    condition = tenant_condition(table, column)
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING {condition} WITH CHECK {condition}')


def install_functions() -> None:
    """In a migration: (re)create the narrow cross-organization functions, callable only
    by roles ``grant_application_role`` names (and the owner)."""
    from alembic import op  # only migrations call this; the server never loads Alembic

    if op.get_bind().dialect.name != "postgresql":
        return
    for signature, definition in FUNCTIONS.items():
        op.execute(definition)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def grant_application_role(connection: Connection, role: str) -> None:
    """Let ``role`` read and write the tables, but only read and append the audit trail
    and only read the migration state. Safe to run again after every upgrade."""
    quoted = connection.dialect.identifier_preparer.quote(role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {quoted}",
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM {quoted}')
    for table in READ_ONLY_TABLES:
        # A database migrated only part of the way may not have it yet.
        if connection.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar():
            statements.append(f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON "{table}" FROM {quoted}')
    # The chaining step fills in an entry's place once (``CHAINED_ONCE`` refuses more).
    # After the REVOKE, which would take column privileges with it.
    statements.append(f"GRANT UPDATE ({', '.join(CHAIN_COLUMNS)}) ON audit_events TO {quoted}")
    for signature in FUNCTIONS:
        # A database migrated only part of the way may not have them yet.
        exists = connection.execute(
            text("SELECT to_regprocedure(:s) IS NOT NULL"), {"s": signature}
        ).scalar()
        if exists:
            statements.append(f"GRANT EXECUTE ON FUNCTION {signature} TO {quoted}")
    for statement in statements:
        connection.execute(text(statement))


def is_table_owner(connection: Connection, table: str) -> bool:
    """Whether the connected role owns ``table`` (then the audit trail is not protected)."""
    owner = connection.execute(
        text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = :t"),
        {"t": table},
    ).scalar_one_or_none()
    return owner is not None and owner == connection.execute(text("SELECT current_user")).scalar()
