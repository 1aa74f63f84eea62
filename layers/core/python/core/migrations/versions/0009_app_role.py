"""the functions' own role, app_rw: read and write rows, own nothing (issue 16.2)

Revision ID: 0009_app_role
Revises: 0008_realtime
Create Date: 2026-12-05

The migrations run as the owner of the schema (the cluster's master user `app` in the cloud, a
member of rds_superuser; the embedded server's superuser `postgres` locally). Every function but
`migrate` connects as `app_rw` instead: LOGIN, NOSUPERUSER NOCREATEDB NOCREATEROLE, a member of no
role but `rds_iam` on RDS, and owner of nothing, so it cannot create, alter or drop a table or a
role, nor disable a trigger. It may read and write the rows of the application's tables: those that
exist now, and (ALTER DEFAULT PRIVILEGES, for the objects the owner creates) those of later
migrations. Not `alembic_version`, and `audit_events` only SELECT and INSERT (it is append-only).

Idempotent: the role may exist (roles belong to the cluster, not to the database). One that exists
with a privileged attribute stops the migration rather than being trusted.

`rds_iam` exists only on RDS and Aurora; where it does, the role gets it: without RDS Proxy the
functions log in to the cluster with IAM tokens, and with the proxy's end-to-end IAM authentication
the proxy does. The owner may grant it: AWS documents that the master user grants rds_iam, and since
PostgreSQL 16 granting a role needs ADMIN OPTION on it, which RDS gives rds_superuser for rds_iam.
Creating app_rw gives its creator ADMIN OPTION on it (PostgreSQL 16+), which ALTER ROLE ... SET needs.

statement_timeout (migration 0007) moves to this role: the 5 s default exists for the functions'
deadlines, and the owner is now used only by migrations (which lift it anyway) and by operators'
maintenance sessions, where it would cancel long statements half-way. A real superuser is left alone.
"""

from __future__ import annotations

from alembic import op

revision = "0009_app_role"
down_revision = "0008_realtime"
branch_labels = None
depends_on = None

# The role's name is spelled out in the statements (a migration is history: it never changes).
UPGRADE = [
    """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_rw') THEN
    CREATE ROLE app_rw LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  ELSIF EXISTS (
    SELECT FROM pg_roles WHERE rolname = 'app_rw'
      AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR NOT rolcanlogin)
  ) THEN
    RAISE EXCEPTION 'role app_rw exists with other attributes than LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE';
  END IF;
END $$
""",
    "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO app_rw', current_database()); END $$",
    "GRANT USAGE ON SCHEMA public TO app_rw",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_rw",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO app_rw",
    # Tables and sequences later migrations create (as this same owner) come with the same rights.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_rw",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO app_rw",
    "REVOKE ALL ON TABLE alembic_version FROM app_rw",
    "REVOKE UPDATE, DELETE ON TABLE audit_events FROM app_rw",
    "ALTER ROLE app_rw SET statement_timeout = '5s'",
    """
DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO app_rw;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE CURRENT_USER RESET statement_timeout;
  END IF;
END $$
""",
]

DOWNGRADE = [
    """
DO $$ BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE CURRENT_USER SET statement_timeout = '5s';
  END IF;
END $$
""",
    # What the role was granted, then the role (DROP OWNED BY would need the role's privileges, which
    # a CREATEROLE owner does not inherit since PostgreSQL 16). Memberships and settings go with it.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM app_rw",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM app_rw",
    "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM app_rw",
    "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM app_rw",
    "REVOKE ALL ON SCHEMA public FROM app_rw",
    "DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM app_rw', current_database()); END $$",
    "DROP ROLE app_rw",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
