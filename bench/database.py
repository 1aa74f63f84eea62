"""The benchmarks' database: a throwaway embedded PostgreSQL with our migrations, the reference
app's table and a fixture caller (a user with a live sign-in session and an access token)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# A throwaway local signing key (Settings wants kid:secret, 32+ characters).
BENCH_SIGNING_KEYS = "bench:" + "coldstart-bench-signing-key-" * 2


def progress(message: str) -> None:
    print(f"[coldstart] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Fixture:
    """What first requests can find: a user with a live sign-in session, and an access token for it."""

    user_id: str | None = None
    session_id: str | None = None
    access_token: str | None = None


def start_database() -> tuple[Any, str]:
    from local.postgres import EmbeddedPostgres, free_port

    data_dir = ROOT / ".local" / f"bench-pg-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = EmbeddedPostgres(data_dir, free_port(), fast=True)
    progress(f"starting embedded PostgreSQL in {data_dir.relative_to(ROOT)}")
    try:
        url = server.start()
    except BaseException:
        server.destroy()
        raise
    return server, url


def prepare_database(url: str) -> Fixture:
    """Our migrations; the reference app's table with the item its first request reads; the fixture caller."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from core.migrations import upgrade

    # The parent reads settings too (the reference module at import, core.auth to sign the token).
    os.environ.update({"STAGE": "local", "DATABASE_URL": url, "JWT_SIGNING_KEYS": BENCH_SIGNING_KEYS})
    engine = create_engine(url)
    try:
        revision = upgrade(engine)
        progress(f"migrations applied (revision {revision})")
        from bench.reference_app.app import Base, Item
        from bench.reference_app.app import engine as reference_engine

        reference_engine.dispose()
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            session.merge(Item(id=1, name="reference", description="the item GET /items/1 reads", price_cents=100))
            session.commit()
        return seed_caller(engine)
    finally:
        engine.dispose()


def seed_caller(engine: Any) -> Fixture:
    """A user with a live sign-in session, and a valid access token for it (best effort: core may change)."""
    from sqlalchemy import insert

    try:
        from core.auth import issue_access_token
        from core.config import reset_settings
        from core.models.auth import auth_session_table
        from core.models.user import user_table

        reset_settings()
        user_id, session_id = uuid.uuid4(), uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                insert(user_table).values(
                    id=user_id, email="coldstart@example.com", username="coldstart", password_hash=secrets.token_hex(30)
                )
            )  # never matches a password
            conn.execute(insert(auth_session_table).values(id=session_id, user_id=user_id))
        token = issue_access_token(user_id, session_id)
    except Exception as exc:
        progress(f"no fixture caller ({type(exc).__name__}: {exc}); protected routes use random ids")
        return Fixture()
    return Fixture(user_id=str(user_id), session_id=str(session_id), access_token=token)
