"""Connection rules of ARCHITECTURE.md, checked on the engine we build."""

import socket
import ssl
from typing import Any

import pytest

from core import db, pgwire
from core.config import CoreSettings

CLOUD = CoreSettings(stage="prod", db_host="proxy.example", db_iam_auth=True)


def test_one_pooled_connection_per_container() -> None:
    engine = db.create_engine_for(CLOUD)
    pool: Any = engine.pool
    assert pool.size() == 1
    assert pool._max_overflow == 0
    assert pool._pre_ping is True
    assert 0 < pool._recycle < 1800


def test_nothing_pins_the_proxy_connection() -> None:
    engine = db.create_engine_for(CLOUD)
    dialect: Any = engine.dialect
    assert getattr(dialect, "isolation_level", None) is None
    assert getattr(dialect, "client_encoding", None) is None


def test_tls_context_verifies_and_is_built_once() -> None:
    db._tls_context.cache_clear()
    context = db._tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert db._tls_context() is context


def test_cloud_connect_uses_nodelay_socket_tls_and_iam_token(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[socket.socket] = []

    def fake_open(host: str, port: int, timeout: float, io_timeout: float | None = None) -> socket.socket:
        assert (host, port) == ("proxy.example", 5432)
        a, b = socket.socketpair()
        b.close()
        opened.append(a)
        return a

    monkeypatch.setattr(pgwire, "open_socket", fake_open)
    monkeypatch.setattr(db, "_iam_token", lambda settings: "iam-token")
    engine = db.create_engine_for(CLOUD)
    captured: dict[str, Any] = {}

    class FakeConnection:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            captured.update(kwargs)
            self.adapters: dict[int, Any] = {}

        def register_in_adapter(self, oid: int, func: Any) -> None:
            self.adapters[oid] = func

    class FakeDbapi:
        Connection = FakeConnection

    class FakeDialect:
        loaded_dbapi = FakeDbapi

    listener: Any = engine.dialect.dispatch.do_connect
    result = next(iter(listener))(FakeDialect(), None, [], {"user": "app", "host": "proxy.example"})
    assert result.adapters == {pgwire.TIMESTAMPTZ_OID: pgwire.timestamptz_in}
    assert isinstance(result, FakeConnection) and type(result).execute_unnamed  # one round trip per statement
    assert captured["sock"] is opened[0]
    assert captured["password"] == "iam-token"
    assert captured["ssl_context"] is db._tls_context()


def test_open_socket_sets_tcp_nodelay() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        sock = pgwire.open_socket("127.0.0.1", server.getsockname()[1], 2)
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            sock.close()


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23 12:00:00.123456+00",
        "2026-11-23 12:00:00+00",
        "2026-11-23 12:00:00.5+05:30",
        "0044-03-15 12:00:00+00",
    ],
)
def test_fast_timestamptz_parser_matches_pg8000(text: str) -> None:
    from pg8000.converters import timestamptz_in

    assert pgwire.timestamptz_in(text) == timestamptz_in(text)


def test_fast_timestamptz_parser_falls_back_for_what_python_cannot_read() -> None:
    assert pgwire.timestamptz_in("infinity") == "infinity"


def test_tls_context_adds_the_rds_ca_bundle_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    from core.config import reset_settings

    monkeypatch.setenv("DB_CA_BUNDLE", certifi.where())  # any PEM bundle stands in for global-bundle.pem
    reset_settings()
    db._tls_context.cache_clear()
    try:
        with_bundle = db._tls_context().cert_store_stats()["x509_ca"]
        monkeypatch.delenv("DB_CA_BUNDLE")
        reset_settings()
        db._tls_context.cache_clear()
        assert with_bundle > db._tls_context().cert_store_stats()["x509_ca"]
    finally:
        reset_settings()
        db._tls_context.cache_clear()


def test_a_read_that_timed_out_is_not_run_again() -> None:
    """db.read retries a dropped connection once, but not one that stopped answering (the wait would double)."""
    from pg8000.exceptions import InterfaceError
    from sqlalchemy.exc import InterfaceError as WrappedInterfaceError

    def wrapped(cause: BaseException | None) -> BaseException:
        try:
            try:
                raise InterfaceError("network error") from cause
            except InterfaceError as driver_error:
                raise WrappedInterfaceError("SELECT 1", None, driver_error) from driver_error
        except WrappedInterfaceError as exc:
            return exc

    assert db._timed_out(wrapped(TimeoutError("timed out")))
    assert not db._timed_out(wrapped(BrokenPipeError()))
    assert not db._timed_out(wrapped(None))


def test_a_missing_ca_bundle_is_a_settings_error_not_an_outage(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from core.config import SettingsError, reset_settings

    monkeypatch.setenv("DB_CA_BUNDLE", str(tmp_path / "missing.pem"))
    reset_settings()
    db._tls_context.cache_clear()
    try:
        with pytest.raises(SettingsError, match="DB_CA_BUNDLE"):
            db._tls_context()
    finally:
        monkeypatch.delenv("DB_CA_BUNDLE")
        reset_settings()
        db._tls_context.cache_clear()
