"""What every local tool shares (`make dev`, `make invoke`, `make redrive`): import paths, the
data directory, the JWT signing keys and the embedded, migrated database.

Below local.stack and local.invoke, so that neither imports the other (tests/unit/test_import_graph.py).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local.postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent


def add_import_paths() -> None:
    """What pytest's `pythonpath` does, for `python -m local.<tool>` (the layer and function folders)."""
    for path in (ROOT, ROOT / "functions", ROOT / "layers" / "core" / "python"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def data_dir() -> Path:
    return Path(os.environ.get("LOCAL_DATA_DIR") or ROOT / ".local").resolve()


def reset_app_state() -> None:
    """Settings are read once per container; after changing the environment, read them again."""
    from core import db
    from core.config import reset_settings

    db.dispose_engine()
    reset_settings()


def local_signing_keys() -> None:
    """JWT_SIGNING_KEYS for the functions unless configured: one random key generated into the
    data dir on first use (never hard-coded), kept so tokens survive a restart."""
    if os.environ.get("JWT_SIGNING_KEYS") or os.environ.get("JWT_SECRET_ARN"):
        return
    path = data_dir() / "jwt-signing-keys"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"local-1:{secrets.token_urlsafe(48)}\n")
    os.environ["JWT_SIGNING_KEYS"] = path.read_text().strip()


def embedded_database(*, reuse_running: bool) -> tuple[str, EmbeddedPostgres | None]:
    """The embedded server under data_dir(); (the owner's url, server to stop later or None).

    reuse_running: if `make dev` already serves this data directory, use it and
    leave it alone (starting would stop it first, as a stale server).
    """
    from local.postgres import EmbeddedPostgres, port_is_open

    server = EmbeddedPostgres(data_dir() / "pgdata", env_int("LOCAL_PG_PORT", 54329))
    running = (server.data_dir / "postmaster.pid").exists() and port_is_open(server.host, server.port)
    if reuse_running and running:
        return server.url(), None
    return server.start(), server


def migrate(url: str) -> str | None:
    """Apply the migrations as `url`'s user (the owner); DATABASE_URL stays the functions' own."""
    from dataclasses import replace

    from core import db
    from core.config import CoreSettings
    from core.migrations import upgrade

    engine = db.create_engine_for(replace(CoreSettings.current(), database_url=url, db_pool_size=1))
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


def use_for_functions(url: str, *, embedded: bool) -> None:
    """DATABASE_URL of the functions, read afresh; the embedded server has no TLS, so they do not
    ask for it (DB_TLS=off); a database of your own keeps DB_TLS as you set it."""
    os.environ["DATABASE_URL"] = url
    if embedded:
        os.environ["DB_TLS"] = "off"
    reset_app_state()


@contextmanager
def local_database(*, reuse_running: bool = True, as_owner: bool = False) -> Iterator[str]:
    """For `make invoke`: DATABASE_URL if set, else the embedded server, migrated by its owner, the
    functions' URL as the application's role (local.postgres.APP_ROLE), or as the owner for `migrate`
    (`as_owner`, as CDK wires it); stopped afterwards."""
    from local.postgres import APP_ROLE, as_user

    local_signing_keys()
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    url, server = embedded_database(reuse_running=reuse_running)
    try:
        migrate(url)
        url = url if as_owner else as_user(url, APP_ROLE)
        use_for_functions(url, embedded=True)
        yield url
    finally:
        reset_app_state()
        if server is not None:
            server.stop()
