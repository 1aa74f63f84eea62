"""Engine and unit of work: one pooled pg8000 connection per container.

Rules from ARCHITECTURE.md: pool_size=1, pre-ping, recycle under 30 min, TLS
context built once and verified in the cloud, TCP_NODELAY on the socket, and
nothing that pins an RDS Proxy connection (no SET, no isolation_level or
client_encoding on the dialect, no sequences, no advisory locks).

Two ways to use the connection: `session_scope` (a unit of work: pre-ping, one
transaction, commit or roll back) and `read` (read-only: no pre-ping, no
transaction block, one round trip per statement, run again once if the
connection turns out to be dropped). Every statement with parameters goes to
the server in one round trip (`core.internals.pg8000_wire.one_flight`).

The functions use `session_scope` and `read` (and `sqlstate`); the lean connection
(`lean_query`, `ping`) belongs to the authorizer and the health check only, and `get_engine` to
the migrate function (Alembic): tests/unit/test_database_access.py keeps it so.
"""

from __future__ import annotations

import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit
from weakref import WeakKeyDictionary

from core import pgwire
from core.config import CoreSettings, SettingsError
from core.errors import AppError, Unavailable
from core.internals import pg8000_wire

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

P = ParamSpec("P")
T = TypeVar("T")

_engine: Engine | None = None
# What to call once a unit of work commits (`after_commit`), per Connection object: not in
# Connection.info, which stays with the pooled DBAPI connection across requests.
_on_commit: WeakKeyDictionary[Connection, list[Callable[[], None]]] = WeakKeyDictionary()
# Set while `read` checks a connection out: it skips the pool's pre-ping (see `read`).
_optimistic: ContextVar[bool] = ContextVar("optimistic_checkout", default=False)
# Set once DB_CA_BUNDLE failed to verify the endpoint: this container trusts the system store (`_verified`).
_bundle_failed = False


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Trust exactly what the endpoint's certificate chains to. The cloud stages set DB_CA_BUNDLE:
    RDS Proxy presents an ACM certificate (the Amazon Trust Services roots), the cluster itself its
    region's RDS CA. Without it, the system trust store. The bundle replaces the store, not adds to
    it: loading the store's ~140 CAs costs ~17 ms of a cold start, five roots ~2 ms."""
    bundle = None if _bundle_failed else CoreSettings.current().db_ca_bundle
    try:
        # cafile given: only it is loaded (no load_default_certs); hostname checked, CERT_REQUIRED.
        context = ssl.create_default_context(cafile=bundle or None)
    except (OSError, ssl.SSLError) as exc:  # a deploy mistake, not an outage: no 503 and retry
        raise SettingsError(f"invalid settings: DB_CA_BUNDLE {bundle!r} is not a readable PEM bundle ({exc})") from exc
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _verified(settings: CoreSettings, attempt: Callable[[dict[str, Any]], T], params: dict[str, Any]) -> T:
    """`attempt(params)`: one connection. If the stage's DB_CA_BUNDLE does not verify the endpoint
    (AWS moved its certificate to a root the bundle lacks: AWS rotates the proxy's certificates
    itself), once more and from then on with the system trust store (what the cloud trusted before
    the bundles; the hostname is still checked), logged as `db_tls_fallback` for an operator to
    update the bundle (docs/operations.md): the functions keep working meanwhile."""
    global _bundle_failed
    try:
        return attempt(params)
    except ssl.SSLCertVerificationError as exc:
        if not settings.is_cloud or _bundle_failed or not settings.db_ca_bundle:
            raise
        import logging

        logging.getLogger(__name__).error(
            "db_tls_fallback: DB_CA_BUNDLE %s does not verify %s (%s); using the system trust store",
            settings.db_ca_bundle,
            settings.db_host,
            exc.verify_message,
        )
        _bundle_failed = True
        _tls_context.cache_clear()
        return attempt({**params, "ssl_context": _tls_context()})


@lru_cache(maxsize=1)
def _rds_client() -> Any:
    """One per container: a client costs ~2,000 objects (left in cycles, and frozen by core.coldstart
    if built during a first request), and signing a token needs no call to AWS."""
    import boto3  # only cloud connections need it, and only when they (re)connect

    return boto3.client("rds")


def _iam_token(settings: CoreSettings) -> str:
    return str(
        _rds_client().generate_db_auth_token(
            DBHostname=settings.db_host or "", Port=settings.db_port, DBUsername=settings.db_user
        )
    )


def _secure_params(settings: CoreSettings, password: str | None) -> dict[str, Any]:
    """Timeout, TLS and credentials for a new connection, however it is opened."""
    params: dict[str, Any] = {"timeout": settings.db_socket_timeout_s}
    if settings.is_cloud:
        params["ssl_context"] = _tls_context()
    elif settings.db_tls == "off":  # the embedded PostgreSQL: no TLS to offer, so no context to build
        params["ssl_context"] = False
    if settings.is_cloud and settings.db_iam_auth:
        params["password"] = _iam_token(settings)
    elif password or settings.db_password:
        params["password"] = password or settings.db_password
    return params


def _url(settings: CoreSettings) -> Any:
    from sqlalchemy.engine import URL, make_url

    settings.require_database()
    if settings.database_url:
        return make_url(settings.database_url)
    return URL.create(
        "postgresql+pg8000",
        username=settings.db_user,
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
    )


def create_engine_for(settings: CoreSettings) -> Engine:
    from sqlalchemy import create_engine, event

    from core.internals import sqlalchemy_pool  # not on the authorizer's path

    pg8000_wire.memoize_paramstyle_conversion()

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

    sqlalchemy_pool.skip_pre_ping_when(engine, _optimistic.get)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cparams.update(_secure_params(settings, cparams.get("password")))
        if "unix_sock" in cparams:
            return None  # let the dialect connect as usual

        connection = pg8000_wire.one_flight(dialect.loaded_dbapi.Connection)

        def attempt(params: dict[str, Any]) -> Any:
            # pg8000.connect() has no `sock` argument, its Connection class does.
            sock = pgwire.open_socket(host, port, settings.db_connect_timeout_s, settings.db_socket_timeout_s)
            try:
                return pgwire.tuned(connection(*cargs, sock=sock, **params))
            except BaseException:
                sock.close()
                raise

        return _verified(settings, attempt, cparams)

    return engine


def get_engine() -> Engine:
    """The container's engine, created on first use (not at import)."""
    global _engine
    if _engine is None:
        _engine = create_engine_for(CoreSettings.current())
    return _engine


def drop_connections() -> None:
    """SnapStart, after a restore: close the connections the snapshot holds (dead, or shared by
    every restored copy) and keep the engine primed before the snapshot."""
    if _engine is not None:
        _engine.dispose()  # a fresh, empty pool; the engine stays usable
    close_lean()


def dispose_engine() -> None:
    """Drop pooled connections and the engine (tests, settings changed)."""
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = None
    close_lean()


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, OSError)):
        return True
    module = type(exc).__module__
    if module.startswith("pg8000"):
        from pg8000.exceptions import InterfaceError

        return isinstance(exc, InterfaceError)
    if not module.startswith("sqlalchemy"):
        return False
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError))


@contextmanager
def _database_errors() -> Iterator[None]:
    """A lost or unreachable database becomes Unavailable (503 + Retry-After)."""
    try:
        yield
    except Unavailable:
        raise
    except Exception as exc:
        if _is_connection_error(exc):
            raise Unavailable(CoreSettings.current().retry_after_s) from exc
        raise


@contextmanager
def session_scope(*, engine: Engine | None = None) -> Iterator[Connection]:
    """One transaction per request (the unit of work): commit on success, roll back on any error.

    A Core `Connection`: statements are SQLAlchemy Core, so no request path pays for the ORM's
    import and mapper configuration (cold starts; see docs/decisions.md). Once it commits, what
    `after_commit` registered runs; after a rollback, nothing does. `engine`: another than the
    container's (a test that needs a pool of its own)."""
    with _database_errors():
        connection = (engine or get_engine()).connect()
        try:
            yield connection
            _commit(connection)
        except AppError as err:
            if err.keep_writes:
                _commit(connection)
            else:
                connection.rollback()
            raise
        except BaseException:
            with suppress(Exception):  # the connection may already be gone
                connection.rollback()
            raise
        finally:
            _on_commit.pop(connection, None)
            connection.close()


def after_commit(connection: Connection, callback: Callable[[], None]) -> None:
    """Call `callback` once the unit of work of `connection` (session_scope) has committed; never if
    it rolls back. An equal callback registered again runs once. It must not raise: the change is
    committed whatever it does."""
    callbacks = _on_commit.setdefault(connection, [])
    if callback not in callbacks:
        callbacks.append(callback)


def _commit(connection: Connection) -> None:
    connection.commit()
    for callback in _on_commit.pop(connection, ()):
        callback()


def _timed_out(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):  # socket.timeout too (an alias)
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def read(work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A read-only request: `work(connection, *args, **kwargs)` outside any transaction block.

    Each statement runs on its own (autocommit: one round trip, no BEGIN or COMMIT, and nothing an
    RDS Proxy would pin on), and the pooled connection is used without its pre-ping. If it turns
    out to be dropped, SQLAlchemy invalidates it and `work` runs once more on a new connection:
    it only reads, so running it again is safe. A timeout or any other error is not retried.
    """
    from sqlalchemy import exc as sa_exc

    engine = get_engine()
    with _database_errors():
        for attempt in (1, 2):
            try:
                return _read_once(engine, work, *args, **kwargs)
            except sa_exc.DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated or _timed_out(exc):
                    raise
    raise AssertionError("unreachable")


def _read_once(engine: Engine, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    token = _optimistic.set(True)
    try:
        connection = engine.connect()
    finally:
        _optimistic.reset(token)
    with connection:
        dbapi_connection: Any = connection.connection.dbapi_connection
        # pg8000's own switch: it stops sending BEGIN; no SET goes to the server. The pool gets the
        # connection back in its usual mode (no transaction is open: nothing to roll back).
        dbapi_connection.autocommit = True
        try:
            return work(connection, *args, **kwargs)
        finally:
            dbapi_connection.autocommit = False


def ping() -> None:
    """One round trip on the lean connection (health checks stay cheap to start)."""
    lean_query("SELECT 1")


# A plain pg8000 connection for the two paths that must start fast (the
# authorizer and the health check), and for them only (tests/unit/test_database_access.py):
# SQLAlchemy's import alone costs them more than their whole budget. Same socket, TLS and
# credential rules; one per container.
_lean: Any = None
_lean_opened_at = 0.0


def _lean_connect(settings: CoreSettings) -> Any:
    import pg8000.native

    settings.require_database()
    if settings.database_url:
        parts = urlsplit(settings.database_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 5432
        user, database = unquote(parts.username or ""), parts.path.lstrip("/") or "postgres"
        password = unquote(parts.password) if parts.password else None
    else:
        host, port = settings.db_host or "", settings.db_port
        user, database, password = settings.db_user, settings.db_name, None
    connection = pg8000_wire.one_flight(pg8000.native.Connection)

    def attempt(params: dict[str, Any]) -> Any:
        sock = pgwire.open_socket(host, port, settings.db_connect_timeout_s, settings.db_socket_timeout_s)
        try:
            return pgwire.tuned(connection(user, host=host, port=port, database=database, sock=sock, **params))
        except BaseException:
            sock.close()
            raise

    return _verified(settings, attempt, _secure_params(settings, password))


def lean_query(sql: str, **params: Any) -> list[Any]:
    """Run one statement on the lean connection; reconnect once if it went stale."""
    global _lean, _lean_opened_at
    settings = CoreSettings.current()
    with _database_errors():
        for attempt in (1, 2):
            fresh = _lean is None or time.monotonic() - _lean_opened_at > settings.db_pool_recycle_s
            if fresh:
                close_lean()
                _lean, _lean_opened_at = _lean_connect(settings), time.monotonic()
            try:
                return list(_lean.run(sql, **params) or [])
            except Exception as exc:
                close_lean()
                if fresh or attempt == 2 or not _is_connection_error(exc):
                    raise
    raise AssertionError("unreachable")


def close_lean() -> None:
    global _lean
    if _lean is not None:
        with suppress(Exception):
            _lean.close()
    _lean = None


FOREIGN_KEY_VIOLATION = "23503"
UNIQUE_VIOLATION = "23505"


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL error code behind a SQLAlchemy error (pg8000 reports most as ProgrammingError)."""
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], dict):
        return str(args[0].get("C")) if args[0].get("C") else None
    return None


def prime() -> None:
    """SnapStart, before the snapshot: import and build what a first request would, without
    connecting (a connection in the snapshot would be dead, or shared, after a restore), so a
    restored copy starts with the driver loaded and the engine built."""
    import pg8000.native  # noqa: F401 - the driver of every connection, the lean one included

    from core import lazy

    lazy.load_all()  # every route's logic, not only what the handler imported eagerly

    if "sqlalchemy" in sys.modules:  # this function works through the engine (its handler loaded SQLAlchemy)
        get_engine()

    import gc

    gc.collect()  # off the latency path: the snapshot carries no garbage (core.coldstart paused the collector)


def _register_snapstart_hooks() -> None:
    """SnapStart: prime before the snapshot; after a restore, drop the snapshot's connections so the
    next request connects afresh with a new IAM token."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot  # Lambda runtime only
    except ImportError:
        return
    register_before_snapshot(prime)
    register_after_restore(drop_connections)


_register_snapstart_hooks()
