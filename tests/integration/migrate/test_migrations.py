"""Alembic revisions match the models and run both ways."""

from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from core import db as core_db
from core.migrations import alembic_config, current, head, upgrade
from tests.conftest import reset_app_state


def test_head_is_applied(db: str, owner_engine: Engine) -> None:
    assert current(owner_engine) == head()


def test_models_match_the_migrations(db: str, owner_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.models.registry import metadata

    with owner_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_down_and_up_again(db: str, owner_engine: Engine) -> None:
    from alembic import command

    engine = owner_engine
    try:
        command.downgrade(alembic_config(engine), "base")
        assert "users" not in inspect(engine).get_table_names()
        assert upgrade(engine) == head()
        assert "users" in inspect(engine).get_table_names()
    finally:
        reset_app_state()  # the app's role was dropped and made again: its pooled sessions are stale
    with core_db.get_engine().connect() as conn:  # and the app's role has its rights again
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


def test_usernames_and_emails_are_unique_ignoring_case(db: str) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    engine = core_db.get_engine()
    insert = text("INSERT INTO users (email, username, password_hash) VALUES (:e, :u, 'x')")
    with engine.begin() as conn:
        conn.execute(insert, {"e": "Ann@Example.com", "u": "Ann"})
    for row in ({"e": "ann@example.com", "u": "other"}, {"e": "b@example.com", "u": "ANN"}):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, row)
    with engine.connect() as conn:
        user: Any = conn.execute(text("SELECT id, bio, created_at FROM users")).one()
    assert user.bio == "" and user.id and user.created_at.tzinfo is not None


def test_indexes_and_constraints_match_the_migrations_as_postgresql_defines_them(db: str, owner_engine: Engine) -> None:
    """What autogenerate's comparison skips: a partial index's predicate, a CHECK's expression. The
    models' DDL, made in a scratch schema, defines every index and constraint as the migrations did."""
    from core.models.registry import metadata

    def definitions(conn: Any, schema: str) -> dict[str, str]:
        found = conn.execute(
            text(
                "SELECT 'index ' || indexname AS name, replace(indexdef, :s || '.', '') AS definition "
                "FROM pg_indexes WHERE schemaname = :s AND tablename <> 'alembic_version' "
                "UNION ALL SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname, "
                "pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = :s AND c.conrelid::regclass::text NOT LIKE '%alembic_version'"
            ),
            {"s": schema},
        ).all()
        return {row.name.replace(f"{schema}.", ""): row.definition.replace(f"{schema}.", "") for row in found}

    with owner_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS models_check CASCADE"))
        conn.execute(text("CREATE SCHEMA models_check"))
        try:
            metadata.create_all(conn.execution_options(schema_translate_map={None: "models_check"}))
            migrated, modelled = definitions(conn, "public"), definitions(conn, "models_check")
        finally:
            conn.execute(text("DROP SCHEMA models_check CASCADE"))
    assert any("WHERE (origin_image_id IS NULL)" in d for d in migrated.values())  # partial indexes are compared
    assert migrated == modelled
