"""Issue 16.2: the functions do not run as the database's owner. They connect as app_rw (migration
0009_app_role), which reads and writes rows and owns nothing: it cannot create roles, create, alter,
drop or truncate tables, or run the migrations. The rest of the integration suite runs every
function as this role, which is most of the proof that it may do all the functions do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from core import db as core_db
from core.db import sqlstate
from core.migrations import alembic_config, current, head, upgrade
from local.postgres import APP_ROLE, OWNER, as_user
from tests.conftest import reset_app_state

INSUFFICIENT_PRIVILEGE = "42501"
# Rights the role must not have on these tables; every other table of the schema must be fully usable.
LIMITED = {"alembic_version": "", "audit_events": "SELECT, INSERT"}


def _refused(engine: Engine, statement: str) -> str | None:
    with pytest.raises(DBAPIError) as refusal, engine.begin() as conn:
        conn.execute(text(statement))
    return sqlstate(refusal.value)


def _grants(engine: Engine, role: str) -> dict[str, str]:
    """Each table of the schema: the row rights `role` has on it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tablename, concat_ws(', ', "
                "  CASE WHEN has_table_privilege(:role, quote_ident(tablename), 'SELECT') THEN 'SELECT' END, "
                "  CASE WHEN has_table_privilege(:role, quote_ident(tablename), 'INSERT') THEN 'INSERT' END, "
                "  CASE WHEN has_table_privilege(:role, quote_ident(tablename), 'UPDATE') THEN 'UPDATE' END, "
                "  CASE WHEN has_table_privilege(:role, quote_ident(tablename), 'DELETE') THEN 'DELETE' END, "
                "  CASE WHEN has_table_privilege(:role, quote_ident(tablename), 'TRUNCATE') THEN 'TRUNCATE' END) "
                "FROM pg_tables WHERE schemaname = 'public'"
            ),
            {"role": role},
        ).all()
    return {name: rights for name, rights in rows}


def _assert_app_role_rights(engine: Engine) -> None:
    grants = _grants(engine, APP_ROLE)
    assert {"users", "posts", "alembic_version", "audit_events"} <= set(grants)
    for table, rights in grants.items():
        assert rights == LIMITED.get(table, "SELECT, INSERT, UPDATE, DELETE"), table


def test_the_functions_connect_as_an_unprivileged_role_that_owns_nothing(db: str, owner_engine: Engine) -> None:
    with core_db.get_engine().connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == APP_ROLE
    with owner_engine.connect() as conn:
        role = conn.execute(
            text(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin "
                "FROM pg_roles WHERE rolname = :role"
            ),
            {"role": APP_ROLE},
        ).one()
        member_of = conn.execute(
            text("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = :role"),
            {"role": APP_ROLE},
        ).scalar_one()
        owned = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) "
                "     + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) "
                "     + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid) "
                "     + (SELECT count(*) FROM pg_database WHERE datdba = r.oid) "
                "FROM pg_roles r WHERE r.rolname = :role"
            ),
            {"role": APP_ROLE},
        ).scalar_one()
    assert tuple(role) == (False, False, False, False, False, True)
    assert member_of == 0  # locally; on RDS it is a member of rds_iam only
    assert owned == 0


def test_it_reads_and_writes_the_rows_of_every_table_but_the_migrations_own(db: str) -> None:
    engine = core_db.get_engine()
    _assert_app_role_rights(engine)
    with engine.begin() as conn:
        user_id = conn.execute(
            text("INSERT INTO users (email, username, password_hash) VALUES ('r@x.io', 'r', 'x') RETURNING id")
        ).scalar_one()
        conn.execute(text("UPDATE users SET bio = 'hello' WHERE id = :id"), {"id": user_id})
        assert conn.execute(text("SELECT bio FROM users WHERE id = :id"), {"id": user_id}).scalar_one() == "hello"
        assert conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id}).rowcount == 1


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE ROLE intruder LOGIN",
        "ALTER ROLE app_rw CREATEROLE",
        "GRANT pg_read_all_data TO app_rw",
        "CREATE TABLE extra (id int)",
        "ALTER TABLE users ADD COLUMN extra int",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        "DROP TABLE users",
        "TRUNCATE users",
        "CREATE INDEX ix_extra ON users (bio)",
        "CREATE SCHEMA extra",
        "SELECT version_num FROM alembic_version",
        "UPDATE alembic_version SET version_num = 'x'",
        "UPDATE audit_events SET action = 'x'",
    ],
)
def test_it_cannot_change_the_schema_roles_or_the_migrations_own_rows(db: str, statement: str) -> None:
    assert _refused(core_db.get_engine(), statement) == INSUFFICIENT_PRIVILEGE


def test_it_cannot_run_the_migrations(db: str, owner_engine: Engine) -> None:
    from alembic import command

    engine = core_db.get_engine()
    with pytest.raises(DBAPIError) as refusal:
        upgrade(engine)
    assert sqlstate(refusal.value) == INSUFFICIENT_PRIVILEGE
    with pytest.raises(DBAPIError):
        command.downgrade(alembic_config(engine), "-1")
    assert current(owner_engine) == head()


PROBE = "aurora_master"  # what the cluster's master user is on Aurora: NOSUPERUSER, CREATEROLE


@pytest.fixture
def ordinary_owner(db: str, owner_engine: Engine) -> Iterator[Engine]:
    """An empty schema in a database owned by an ordinary CREATEROLE role, as on Aurora (the embedded
    server's owner is a real superuser, which would hide a missing right)."""
    from alembic import command

    reset_app_state()  # downgrading drops app_rw: no session of it may linger
    command.downgrade(alembic_config(owner_engine), "base")
    with owner_engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))  # the new owner makes its own
        conn.execute(text(f"CREATE ROLE {PROBE} LOGIN NOSUPERUSER CREATEROLE"))
        conn.execute(text(f"ALTER DATABASE app OWNER TO {PROBE}"))
    engine = create_engine(as_user(owner_engine.url.render_as_string(hide_password=False), PROBE))
    try:
        yield engine
    finally:
        engine.dispose()
        reset_app_state()
        with owner_engine.begin() as conn:  # back to the session's state: the superuser owns and migrates
            conn.execute(text(f"ALTER DATABASE app OWNER TO {OWNER}"))
            for statement in (f"REASSIGN OWNED BY {PROBE} TO {OWNER}", f"DROP OWNED BY {PROBE}"):
                with suppress(DBAPIError), conn.begin_nested():
                    conn.execute(text(statement))
        command.downgrade(alembic_config(owner_engine), "base")
        with owner_engine.begin() as conn:
            conn.execute(text(f"DROP ROLE {PROBE}"))
        upgrade(owner_engine)
        reset_app_state()


def test_an_ordinary_owner_runs_the_migrations_as_on_aurora(ordinary_owner: Engine, owner_engine: Engine) -> None:
    """The master user creates app_rw, may set its statement_timeout (PostgreSQL 16+: ADMIN OPTION on a
    role one creates), grants it the rows of tables made before and after 0009, and keeps no timeout."""
    from alembic import command

    assert upgrade(ordinary_owner) == head()
    with owner_engine.connect() as conn:
        owners = set(
            conn.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars()
        )
        settings = dict(
            conn.execute(
                text(
                    "SELECT r.rolname, array_to_string(s.setconfig, ',') FROM pg_roles r "
                    "LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0 "
                    "WHERE r.rolname IN (:probe, :app)"
                ),
                {"probe": PROBE, "app": APP_ROLE},
            ).all()
        )
    assert owners == {PROBE}
    assert settings == {PROBE: None, APP_ROLE: "statement_timeout=5s"}
    _assert_app_role_rights(owner_engine)
    app = create_engine(as_user(owner_engine.url.render_as_string(hide_password=False), APP_ROLE))
    try:
        with app.begin() as conn:
            conn.execute(text("INSERT INTO users (email, username, password_hash) VALUES ('o@x.io', 'o', 'x')"))
            conn.execute(text("DELETE FROM users"))
        assert _refused(app, "DROP TABLE users") == INSUFFICIENT_PRIVILEGE
    finally:
        app.dispose()
    # and back down: the owner may drop the role it made
    command.downgrade(alembic_config(ordinary_owner), "base")
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).scalar_one() == 0
