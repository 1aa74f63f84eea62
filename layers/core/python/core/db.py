"""Engine and unit of work: one pooled pg8000 connection per container.

Rules from ARCHITECTURE.md: pool_size=1, pre-ping, recycle under 30 min, TLS
context built once and verified in the cloud, TCP_NODELAY on the socket, and
nothing that pins an RDS Proxy connection (no SET, no isolation_level or
client_encoding on the dialect, no sequences, no advisory locks).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from core.config import Settings, get_settings
from core.errors import AppError, Unavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

_engine: Engine | None = None


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """RDS Proxy presents an ACM certificate, so the system trust store verifies it."""
    context = ssl.create_default_context()
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _open_socket(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    # Without this pg8000's small writes wait on delayed ACKs (~40 ms per new TLS connection).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


def _iam_token(settings: Settings) -> str:
    import boto3  # only cloud connections need it, and only when they (re)connect

    client = boto3.client("rds")
    return str(
        client.generate_db_auth_token(
            DBHostname=settings.db_host or "", Port=settings.db_port, DBUsername=settings.db_user
        )
    )


def _url(settings: Settings) -> Any:
    from sqlalchemy.engine import URL, make_url

    if settings.database_url:
        return make_url(settings.database_url)
    return URL.create(
        "postgresql+pg8000",
        username=settings.db_user,
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
    )


def create_engine_for(settings: Settings) -> Engine:
    from sqlalchemy import create_engine, event

    url = _url(settings)
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=settings.db_pool_recycle_s,
        pool_timeout=settings.db_connect_timeout_s * 2,
    )
    host = url.host or "127.0.0.1"
    port = url.port or 5432

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cparams["timeout"] = settings.db_connect_timeout_s
        if settings.is_cloud:
            cparams["ssl_context"] = _tls_context()
            if settings.db_iam_auth:
                cparams["password"] = _iam_token(settings)
        if settings.db_password and "password" not in cparams:
            cparams["password"] = settings.db_password
        if "unix_sock" in cparams:
            return None  # let the dialect connect as usual
        # pg8000.connect() has no `sock` argument, its Connection class does.
        sock = _open_socket(host, port, settings.db_connect_timeout_s)
        try:
            return dialect.loaded_dbapi.Connection(*cargs, sock=sock, **cparams)
        except BaseException:
            sock.close()
            raise

    return engine


def get_engine() -> Engine:
    """The container's engine, created on first use (not at import)."""
    global _engine
    if _engine is None:
        _engine = create_engine_for(get_settings())
    return _engine


def dispose_engine() -> None:
    """Drop pooled connections (SnapStart restore, tests, database restarts)."""
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = None


def _is_connection_error(exc: BaseException) -> bool:
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError, socket.timeout))


@contextmanager
def _database_errors() -> Iterator[None]:
    """A lost or unreachable database becomes Unavailable (503 + Retry-After)."""
    try:
        yield
    except Unavailable:
        raise
    except Exception as exc:
        if _is_connection_error(exc):
            raise Unavailable(get_settings().retry_after_s) from exc
        raise


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on any error."""
    from sqlalchemy.orm import Session

    with _database_errors():
        session = Session(bind=get_engine(), expire_on_commit=False, autoflush=False)
        try:
            yield session
            session.commit()
        except AppError as err:
            if err.keep_writes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            with suppress(Exception):  # the connection may already be gone
                session.rollback()
            raise
        finally:
            session.close()


def ping() -> None:
    """One round trip without the ORM (health checks stay cheap to import)."""
    from sqlalchemy import text

    with _database_errors(), get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


@contextmanager
def read_connection() -> Iterator[Any]:
    """A Core connection for a single read (the authorizer: no ORM import)."""
    with _database_errors(), get_engine().connect() as conn:
        yield conn
