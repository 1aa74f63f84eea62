"""Shared fixtures: one embedded PostgreSQL per test session, clean tables per test."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from local.aws import LocalAws
    from local.postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

os.environ.setdefault("STAGE", "local")
os.environ.setdefault("DATABASE_URL", "postgresql+pg8000://postgres@127.0.0.1:1/unset")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JWT_SIGNING_KEYS", "test-2:" + "t" * 40 + ",test-1:" + "o" * 40)
os.environ.setdefault("BCRYPT_COST", "4")


def pytest_configure(config: pytest.Config) -> None:
    """As root, create PostgreSQL's system user once, in the xdist controller before any worker starts,
    so workers never race to create it (local.postgres still creates it, under a lock, if it is missing)."""
    if hasattr(config, "workerinput"):
        return
    from local.postgres import ensure_system_user

    try:
        ensure_system_user()
    except Exception as exc:  # the tests that need PostgreSQL report it again; the others can still run
        warnings.warn(f"could not create the embedded PostgreSQL system user: {exc}", stacklevel=1)


def reset_app_state() -> None:
    """Forget cached settings and pooled connections after the environment changes."""
    from core import auth, db
    from core.config import reset_settings

    db.dispose_engine()
    reset_settings()
    auth.signing_keys.cache_clear()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """A throwaway embedded PostgreSQL for the whole session (tests may stop and start it)."""
    from local.postgres import EmbeddedPostgres, free_port

    data_dir = ROOT / ".local" / f"test-pg-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = EmbeddedPostgres(data_dir, free_port(), fast=True)
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def owner_engine(postgres_server: EmbeddedPostgres) -> Iterator[Engine]:
    """The schema's owner (the embedded superuser), as the migrations run in the cloud: for migrating
    and for clean-up the application's role may not do (TRUNCATE)."""
    from sqlalchemy import create_engine

    engine = create_engine(postgres_server.url(), pool_size=1, max_overflow=0, pool_pre_ping=True)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(postgres_server: EmbeddedPostgres, owner_engine: Engine) -> Iterator[str]:
    """DATABASE_URL of the session's server, migrated by the owner: the functions connect as the
    application's role (local.postgres.APP_ROLE), as in the cloud, so a missing grant fails here first."""
    from core.migrations import upgrade
    from local.postgres import APP_ROLE

    upgrade(owner_engine)
    url = postgres_server.url(user=APP_ROLE)
    previous = {key: os.environ.get(key) for key in ("DATABASE_URL", "DB_TLS")}
    os.environ["DATABASE_URL"] = url
    os.environ["DB_TLS"] = "off"  # the embedded server has no TLS (make dev does the same)
    reset_app_state()
    try:
        yield url
    finally:
        reset_app_state()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def db(database_url: str, owner_engine: Engine) -> Iterator[str]:
    """The database, emptied after the test so tests never see each other's rows."""
    yield database_url
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from core.db import sqlstate

    # A background writer of the test (a WebSocket's $disconnect, a pump) may still hold a row lock
    # while TRUNCATE waits for its table's: PostgreSQL may pick the TRUNCATE as the deadlock's victim
    # (40P01). The writer ends within moments, so the clean-up tries again rather than fail the test.
    for attempt in range(1, 6):
        try:
            with owner_engine.begin() as conn:
                tables = (
                    conn.execute(
                        text(
                            "SELECT tablename FROM pg_tables "
                            "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                        )
                    )
                    .scalars()
                    .all()
                )
                if tables:
                    conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
            return
        except DBAPIError as exc:
            if sqlstate(exc) != "40P01" or attempt == 5:
                raise
            time.sleep(0.2 * attempt)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto server as the local S3/SQS endpoint (as `make dev` runs it), with the assets bucket."""
    from local.aws import FAKE_CREDENTIALS, LocalAws
    from local.postgres import free_port

    aws = LocalAws(port=free_port(), bucket="assets-test", suffix="test")  # moto state is per process
    resources = aws.start()
    saved = {k: os.environ.get(k) for k in [*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL", "ASSETS_BUCKET", "MEDIA_QUEUE_URL"]}
    os.environ.update(resources.env())
    _reset_clients()
    try:
        yield resources.endpoint_url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_clients()
        aws.stop()


@pytest.fixture(scope="module")
def aws(s3_endpoint: str) -> LocalAws:
    """The session's moto endpoint with resources of this module's own (its bucket, the local
    stack's queues), as local.aws creates them for `make dev`."""
    import uuid

    from local.aws import LocalAws

    local = LocalAws(endpoint_url=s3_endpoint, bucket=f"assets-{uuid.uuid4().hex[:8]}")
    local.start()
    return local


def _reset_clients() -> None:
    from core import storage
    from core.config import reset_settings

    reset_settings()
    storage.s3_client.cache_clear()


@pytest.fixture
def cdn_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The stage's CloudFront signing set up (tests/cloudfront.py's key pair), then forgotten."""
    from core import cdn
    from core.config import reset_settings
    from tests import cloudfront

    for name, value in cloudfront.env().items():
        monkeypatch.setenv(name, value)
    reset_settings()
    cdn._signer.cache_clear()
    yield
    monkeypatch.undo()
    reset_settings()
    cdn._signer.cache_clear()


@pytest.fixture
def media_env(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The media pipeline as `make dev` runs it: no MediaConvert, the EICAR scanner."""
    from core.config import reset_settings

    for name in ("MEDIACONVERT_ENDPOINT", "MEDIACONVERT_ROLE_ARN", "CLAMD_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIA_SCANNER", "eicar")
    reset_settings()
    yield None
    monkeypatch.undo()
    reset_settings()
