"""statement_timeout on the application's role (issue 14)

Revision ID: 0007_statement_timeout
Revises: 0006_media_security
Create Date: 2026-12-04

A role-level default, applied by PostgreSQL itself when a session starts: every connection of the
role gets it without the application sending a SET, so no RDS Proxy connection is pinned (a SET
would pin its client connection until that connection closes), and it also holds in stages without
the proxy. ALTER ROLE CURRENT_USER: the migrations run as the role the functions connect as (`app`
in the cloud, NOSUPERUSER on Aurora; an ordinary role may set its own defaults). A real superuser
is left alone: that is the embedded server's `postgres` locally, which also does bulk work (the
benchmarks seed a million posts in one statement); Aurora has no superuser. Migrations themselves
run without the limit (env.py: SET LOCAL), so long DDL is not cancelled.
"""

from __future__ import annotations

from alembic import op

revision = "0007_statement_timeout"
down_revision = "0006_media_security"
branch_labels = None
depends_on = None

# Under the API functions' 10 s (and the authorizer's 5 s), so PostgreSQL cancels a runaway statement
# and the function still answers 503 itself, rather than Lambda killing it mid-statement while the
# statement runs on, holding its locks and its connection. Change it with a new migration.
UPGRADE = """
DO $$ BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE CURRENT_USER SET statement_timeout = '5s';
  END IF;
END $$
"""
DOWNGRADE = """
DO $$ BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE CURRENT_USER RESET statement_timeout;
  END IF;
END $$
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
