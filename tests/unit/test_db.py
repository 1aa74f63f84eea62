"""Connection rules of ARCHITECTURE.md, checked on the engine we build."""

import socket
import ssl
from typing import Any

import pytest

from core import db, pgwire
from core.config import CoreSettings
from tests.certificates import Issued, pem, private_pem, self_signed_ca, server_certificate

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


def _ca(name: str) -> Issued:
    return self_signed_ca(name)


def _tls_server(tmp_path: Any, ca: Issued, hostname: str) -> tuple[int, Any]:
    """A TLS server on 127.0.0.1 presenting a certificate for `hostname` issued by `ca`: (port, stop)."""
    import threading

    cert, key = server_certificate(ca, hostname)
    chain, key_file = tmp_path / f"{hostname}.pem", tmp_path / f"{hostname}.key"
    chain.write_text(pem(cert), encoding="ascii")
    key_file.write_bytes(private_pem(key))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(chain, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with server_context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], listener.close


def _pem_file(tmp_path: Any, name: str, *certs: Any) -> str:
    path = tmp_path / name
    path.write_text(pem(*certs), encoding="ascii")
    return str(path)


def _handshake(port: int, hostname: str) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        db._tls_context().wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        return tls.recv(2)


@pytest.fixture
def ca_bundle(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set DB_CA_BUNDLE for one test (the context is cached per container: cleared around it)."""
    from core.config import reset_settings

    def use(path: str) -> None:
        monkeypatch.setenv("DB_CA_BUNDLE", path)
        reset_settings()
        db._tls_context.cache_clear()

    yield use
    monkeypatch.delenv("DB_CA_BUNDLE", raising=False)
    reset_settings()
    db._tls_context.cache_clear()


def test_tls_context_trusts_the_bundle_and_nothing_else(tmp_path: Any, ca_bundle: Any) -> None:
    """DB_CA_BUNDLE replaces the system store (the cold start loads a few CAs, not ~140): the
    endpoint's CA verifies, another CA does not, and the hostname is still checked."""
    ours, other = _ca("Endpoint CA"), _ca("Some other CA")
    port, stop = _tls_server(tmp_path, ours, "db.internal.example")
    try:
        ca_bundle(_pem_file(tmp_path, "ours.pem", ours[0]))
        assert db._tls_context().cert_store_stats()["x509_ca"] == 1  # no system CA loaded
        assert _handshake(port, "db.internal.example") == b"ok"
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            _handshake(port, "other.internal.example")

        ca_bundle(_pem_file(tmp_path, "other.pem", other[0]))
        with pytest.raises(ssl.SSLCertVerificationError, match="local issuer"):
            _handshake(port, "db.internal.example")
    finally:
        stop()


def test_tls_context_without_a_bundle_is_the_system_store(ca_bundle: Any) -> None:
    db._tls_context.cache_clear()
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    assert db._tls_context().cert_store_stats()["x509_ca"] == system


def test_db_tls_off_does_not_ask_the_local_server_for_tls() -> None:
    """pg8000 offers TLS by default and builds a default context (the system store) to do it: the
    embedded server (DB_TLS=off) is not asked; any other local database keeps pg8000's default."""
    url = "postgresql+pg8000://app@127.0.0.1/app"
    assert db._secure_params(CoreSettings(stage="local", database_url=url, db_tls="off"), None)["ssl_context"] is False
    assert "ssl_context" not in db._secure_params(CoreSettings(stage="local", database_url=url), None)
    cloud = CoreSettings(stage="prod", db_host="proxy.example")
    assert db._secure_params(cloud, None)["ssl_context"] is db._tls_context()


def test_db_tls_off_is_refused_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import SettingsError, reset_settings

    for key, value in {"STAGE": "prod", "DB_HOST": "proxy.example", "DB_TLS": "off"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    reset_settings()
    try:
        with pytest.raises(SettingsError, match="DB_TLS=off"):
            CoreSettings.current()
    finally:
        monkeypatch.undo()
        reset_settings()


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


def test_iam_tokens_are_signed_locally_by_one_client_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token is a presigned `connect` URL for the endpoint and the user; building a client per
    connection cost ~2,000 objects each time (frozen for good when the first request built one)."""
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    db._rds_client.cache_clear()
    try:
        settings = CoreSettings(stage="prod", db_host="proxy.example", db_iam_auth=True)
        first, second = db._iam_token(settings), db._iam_token(settings)
        for token in (first, second):
            assert token.startswith("proxy.example:5432/?")
            assert "Action=connect" in token and "DBUser=app_rw" in token and "X-Amz-Signature=" in token
        assert db._rds_client() is db._rds_client()
    finally:
        db._rds_client.cache_clear()


def test_a_bundle_that_no_longer_verifies_falls_back_to_the_system_store_once(
    tmp_path: Any, ca_bundle: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """AWS rotates RDS Proxy's certificate itself: if it ever chains to a root the bundle lacks, the
    functions keep working on the system store (the hostname still checked) and say so in the logs."""
    ours, other = _ca("Endpoint CA"), _ca("Some other CA")
    port, stop = _tls_server(tmp_path, ours, "db.internal.example")
    monkeypatch.setenv("SSL_CERT_FILE", _pem_file(tmp_path, "system.pem", ours[0]))  # the "system store"
    ca_bundle(_pem_file(tmp_path, "stale.pem", other[0]))
    cloud = CoreSettings(stage="prod", db_host="db.internal.example", db_ca_bundle=str(tmp_path / "stale.pem"))

    def attempt(params: dict[str, Any]) -> bytes:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            params["ssl_context"].wrap_socket(raw, server_hostname=params["host"]) as tls,
        ):
            return tls.recv(2)

    try:
        with pytest.raises(ssl.SSLCertVerificationError):  # not in the cloud: no fallback
            db._verified(
                CoreSettings(stage="local"), attempt, {"ssl_context": db._tls_context(), "host": "db.internal.example"}
            )
        assert not db._bundle_failed

        params = {"ssl_context": db._tls_context(), "host": "db.internal.example"}
        assert db._verified(cloud, attempt, params) == b"ok"
        assert db._bundle_failed and "db_tls_fallback" in caplog.text
        assert db._tls_context().cert_store_stats()["x509_ca"] == 1  # now the system store

        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):  # the hostname is still checked
            db._verified(cloud, attempt, {"ssl_context": db._tls_context(), "host": "other.internal.example"})
    finally:
        stop()
        db._bundle_failed = False
        db._tls_context.cache_clear()
