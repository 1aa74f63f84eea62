"""Malware scanning behind one small interface, before any parser sees the bytes.

Adapters:
- `ClamdScanner`: a running clamd (unix socket or host:port), bytes streamed with INSTREAM.
- `ClamscanScanner`: the clamscan binary reading the bytes from stdin.
- `GuardDutyTagScanner`: GuardDuty Malware Protection for S3 scans uploads itself and tags
  each object `GuardDutyMalwareScanStatus`; no bytes are read here. Not tagged yet means
  "ask again later" (`ScanPending`).
- `EicarOnlyScanner`: for laptops without ClamAV. It knows one signature, the EICAR test
  string, and nothing else: it proves the quarantine path, it protects nobody.

`MEDIA_SCANNER=auto` picks clamd, then clamscan, then GuardDuty in the cloud, then EICAR-only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from media.settings import MediaSettings

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GUARDDUTY_TAG = "GuardDutyMalwareScanStatus"
CLAMD_SOCKETS = ("/var/run/clamav/clamd.ctl", "/run/clamav/clamd.ctl", "/run/clamd.scan/clamd.sock")
CLAMD_CHUNK = 64 * 1024


class ScanTarget(Protocol):
    """What a scanner may ask of the object under scan."""

    def chunks(self) -> Iterator[bytes]: ...

    def tags(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Verdict:
    infected: bool
    scanner: str
    signature: str | None = None


class ScanPending(Exception):
    """The verdict is not there yet (GuardDuty still scanning): retry the message later."""


class ScanUnavailable(Exception):
    """The scanner could not be asked (daemon down, binary failed): retry the message later."""


class ScanInconclusive(Exception):
    """The scanner answered but cannot vouch for the file (too big, unsupported, denied): fail closed."""


class Scanner(Protocol):
    name: str

    def scan(self, target: ScanTarget) -> Verdict: ...


class EicarOnlyScanner:
    """Recognises the EICAR test string anywhere in the stream (across chunk borders); nothing else."""

    name = "eicar-only"

    def scan(self, target: ScanTarget) -> Verdict:
        tail = b""
        for chunk in target.chunks():
            window = tail + chunk
            if EICAR in window:
                return Verdict(True, self.name, "EICAR-Test-File")
            tail = window[-(len(EICAR) - 1) :]
        return Verdict(False, self.name)


class ClamdScanner:
    name = "clamd"

    def __init__(self, address: str, timeout_s: float = 60.0):
        self.address = address
        self.timeout_s = timeout_s

    def _connect(self) -> socket.socket:
        address = self.address.removeprefix("unix:")
        if address.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout_s)
            sock.connect(address)
            return sock
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        return socket.create_connection((host, int(port)), timeout=self.timeout_s)

    def scan(self, target: ScanTarget) -> Verdict:
        try:
            with self._connect() as sock:
                sock.sendall(b"zINSTREAM\0")
                try:
                    for chunk in target.chunks():
                        for start in range(0, len(chunk), CLAMD_CHUNK):
                            piece = chunk[start : start + CLAMD_CHUNK]
                            sock.sendall(len(piece).to_bytes(4, "big") + piece)
                    sock.sendall(b"\0\0\0\0")
                except BrokenPipeError:
                    pass  # clamd stops reading past StreamMaxLength; its answer says so
                answer = _read_reply(sock)
        except OSError as exc:
            raise ScanUnavailable(f"clamd at {self.address}: {exc}") from exc
        return _clam_verdict(self.name, answer.removeprefix("stream:").strip())


def _read_reply(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\0"):
        piece = sock.recv(4096)
        if not piece:
            break
        data += piece
    return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def _clam_verdict(scanner: str, answer: str) -> Verdict:
    if answer == "OK":
        return Verdict(False, scanner)
    if answer.endswith(" FOUND"):
        return Verdict(True, scanner, answer.removesuffix(" FOUND").strip() or "unknown")
    raise ScanInconclusive(f"{scanner}: {answer[:200]}")


class ClamscanScanner:
    """One clamscan process per object (it loads its database each time: slow, but needs no daemon)."""

    name = "clamscan"

    def __init__(self, path: str, timeout_s: float = 120.0):
        self.path = path
        self.timeout_s = timeout_s

    def scan(self, target: ScanTarget) -> Verdict:
        try:
            proc = subprocess.Popen(
                [self.path, "--no-summary", "--stdout", "-"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise ScanUnavailable(f"clamscan at {self.path}: {exc}") from exc
        assert proc.stdin is not None
        try:
            for chunk in target.chunks():
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # it stopped reading; its exit code tells why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        try:
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise ScanUnavailable(f"clamscan took longer than {self.timeout_s:.0f}s") from exc
        text = out.decode("utf-8", "replace").strip()
        if proc.returncode == 0:
            return Verdict(False, self.name)
        if proc.returncode == 1:
            line = next((ln for ln in text.splitlines() if ln.endswith(" FOUND")), "stdin: unknown FOUND")
            return _clam_verdict(self.name, line.split(":", 1)[-1].strip())
        raise ScanUnavailable(f"clamscan exited {proc.returncode}: {err.decode('utf-8', 'replace').strip()[:200]}")


class GuardDutyTagScanner:
    """GuardDuty Malware Protection for S3: the object's scan-status tag is the verdict."""

    name = "guardduty"

    def scan(self, target: ScanTarget) -> Verdict:
        status = target.tags().get(GUARDDUTY_TAG)
        if status is None:
            raise ScanPending("GuardDuty has not tagged the object yet")
        if status == "NO_THREATS_FOUND":
            return Verdict(False, self.name)
        if status == "THREATS_FOUND":
            return Verdict(True, self.name, "GuardDuty: THREATS_FOUND")
        # UNSUPPORTED, ACCESS_DENIED, FAILED: no verdict, so nothing is served from it.
        raise ScanInconclusive(f"GuardDuty scan status {status}")


def configured_scanner(settings: MediaSettings, *, cloud: bool) -> Scanner:
    """The scanner MEDIA_SCANNER names; `auto` in the cloud (`cloud`) falls back to GuardDuty's tag."""
    choice = settings.media_scanner
    timeout = settings.media_scan_timeout_s
    if choice in ("auto", "clamd"):
        address = settings.clamd_address or next((s for s in CLAMD_SOCKETS if Path(s).exists()), None)
        if address:
            return ClamdScanner(address, timeout)
        if choice == "clamd":
            raise ScanUnavailable("MEDIA_SCANNER=clamd but no CLAMD_ADDRESS and no clamd socket found")
    if choice in ("auto", "clamscan"):
        path = shutil.which("clamscan")
        if path:
            return ClamscanScanner(path, timeout)
        if choice == "clamscan":
            raise ScanUnavailable("MEDIA_SCANNER=clamscan but clamscan is not on PATH")
    if choice == "guardduty" or (choice == "auto" and cloud):
        return GuardDutyTagScanner()
    return EicarOnlyScanner()
