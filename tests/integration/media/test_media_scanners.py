"""The ClamAV adapters against stand-ins that speak their protocols: a clamd on a unix
socket (INSTREAM) and a clamscan executable (stdin, exit codes)."""

from __future__ import annotations

import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from media.scan import EICAR, ClamdScanner, ClamscanScanner, ScanInconclusive, ScanUnavailable


class Target:
    def __init__(self, *chunks: bytes):
        self._chunks = chunks

    def chunks(self) -> Iterator[bytes]:
        yield from self._chunks

    def tags(self) -> dict[str, str]:
        return {}


class FakeClamd:
    """Answers INSTREAM like clamd: 'stream: OK', '<sig> FOUND', or a size-limit error."""

    def __init__(self, path: Path, max_bytes: int = 1 << 20):
        self.path = path
        self.max_bytes = max_bytes
        self.received: list[bytes] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                self._one(conn)

    def _read(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            piece = conn.recv(n - len(data))
            if not piece:
                raise ConnectionError("closed")
            data += piece
        return data

    def _one(self, conn: socket.socket) -> None:
        assert self._read(conn, 10) == b"zINSTREAM\0"
        data = b""
        while True:
            size = int.from_bytes(self._read(conn, 4), "big")
            if size == 0:
                break
            data += self._read(conn, size)
            if len(data) > self.max_bytes:
                conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
                return
        self.received.append(data)
        conn.sendall(b"stream: Win.Test.EICAR_HDB-1 FOUND\0" if EICAR in data else b"stream: OK\0")

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def clamd(tmp_path: Path) -> Iterator[FakeClamd]:
    server = FakeClamd(tmp_path / "clamd.ctl", max_bytes=300_000)
    yield server
    server.close()


def test_clamd_streams_the_object_and_reads_the_verdict(clamd: FakeClamd) -> None:
    scanner = ClamdScanner(f"unix:{clamd.path}", timeout_s=5)
    big = b"a" * 200_000  # more than one INSTREAM chunk
    assert not scanner.scan(Target(big, b"tail")).infected
    assert clamd.received[-1] == big + b"tail"
    found = scanner.scan(Target(b"x", EICAR))
    assert found.infected and found.signature == "Win.Test.EICAR_HDB-1" and found.scanner == "clamd"


def test_clamd_over_its_stream_limit_is_inconclusive(clamd: FakeClamd) -> None:
    with pytest.raises(ScanInconclusive, match="size limit"):
        ClamdScanner(str(clamd.path), timeout_s=5).scan(Target(b"b" * 400_000))


def test_clamd_down_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ScanUnavailable):
        ClamdScanner(str(tmp_path / "missing.ctl"), timeout_s=1).scan(Target(b"x"))


FAKE_CLAMSCAN = """#!/bin/sh
data=$(cat)
case "$data" in
  *EICAR-STANDARD-ANTIVIRUS-TEST-FILE*) echo "stdin: Eicar-Signature FOUND"; exit 1 ;;
  *broken*) echo "LibClamAV Error: cannot load database" >&2; exit 2 ;;
esac
echo "stdin: OK"
exit 0
"""


def test_clamscan_reads_stdin_and_its_exit_code(tmp_path: Path) -> None:
    binary = tmp_path / "clamscan"
    binary.write_text(FAKE_CLAMSCAN)
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    scanner = ClamscanScanner(str(binary), timeout_s=10)
    assert not scanner.scan(Target(b"hello", b" world")).infected
    found = scanner.scan(Target(b"x" + EICAR[:10], EICAR[10:]))
    assert found.infected and found.signature == "Eicar-Signature"
    with pytest.raises(ScanUnavailable, match="cannot load database"):
        scanner.scan(Target(b"broken"))
    with pytest.raises(ScanUnavailable):
        ClamscanScanner(str(tmp_path / "nope"), timeout_s=1).scan(Target(b"x"))
