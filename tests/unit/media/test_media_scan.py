"""The scanner interface: EICAR-only, GuardDuty's tag, ClamAV answers, and which one runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from media import scan
from media.scan import (
    EICAR,
    ClamdScanner,
    ClamscanScanner,
    EicarOnlyScanner,
    GuardDutyTagScanner,
    ScanInconclusive,
    ScanPending,
    configured_scanner,
)
from media.settings import MediaSettings


class Target:
    def __init__(self, *chunks: bytes, tags: dict[str, str] | None = None):
        self._chunks = chunks
        self._tags = tags or {}
        self.read = False

    def chunks(self) -> Iterator[bytes]:
        self.read = True
        yield from self._chunks

    def tags(self) -> dict[str, str]:
        return self._tags


def test_eicar_is_found_anywhere_even_across_chunk_borders() -> None:
    scanner = EicarOnlyScanner()
    assert scanner.scan(Target(EICAR)).infected
    assert scanner.scan(Target(b"x" * 1000 + EICAR[:30], EICAR[30:] + b"tail")).infected
    for cut in range(1, len(EICAR)):
        assert scanner.scan(Target(EICAR[:cut], EICAR[cut:])).infected
    clean = scanner.scan(Target(b"\xff\xd8\xff" + b"a" * 5000, EICAR[:-1]))
    assert not clean.infected and clean.scanner == "eicar-only"


@pytest.mark.parametrize(
    ("status", "infected"),
    [("NO_THREATS_FOUND", False), ("THREATS_FOUND", True)],
)
def test_guardduty_reads_only_the_tag(status: str, infected: bool) -> None:
    target = Target(b"bytes", tags={"GuardDutyMalwareScanStatus": status})
    assert GuardDutyTagScanner().scan(target).infected is infected
    assert not target.read


def test_guardduty_not_tagged_yet_is_pending_and_no_verdict_is_inconclusive() -> None:
    with pytest.raises(ScanPending):
        GuardDutyTagScanner().scan(Target(tags={"other": "x"}))
    for status in ("UNSUPPORTED", "ACCESS_DENIED", "FAILED"):
        with pytest.raises(ScanInconclusive, match=status):
            GuardDutyTagScanner().scan(Target(tags={"GuardDutyMalwareScanStatus": status}))


def test_clamav_answers() -> None:
    assert not scan._clam_verdict("clamd", "OK").infected
    found = scan._clam_verdict("clamd", "Win.Test.EICAR_HDB-1 FOUND")
    assert found.infected and found.signature == "Win.Test.EICAR_HDB-1"
    with pytest.raises(ScanInconclusive, match="size limit"):
        scan._clam_verdict("clamd", "INSTREAM size limit exceeded. ERROR")


def _scanner(stage: str = "local", **values: object) -> scan.Scanner:
    return configured_scanner(MediaSettings(**values), cloud=stage != "local")  # type: ignore[arg-type]


def test_which_scanner_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan.shutil, "which", lambda name: None)
    monkeypatch.setattr(scan, "CLAMD_SOCKETS", ())
    assert isinstance(_scanner(), EicarOnlyScanner)
    assert isinstance(_scanner(stage="prod"), GuardDutyTagScanner)
    assert isinstance(_scanner(media_scanner="guardduty"), GuardDutyTagScanner)
    assert isinstance(_scanner(media_scanner="eicar", stage="dev"), EicarOnlyScanner)
    clamd = _scanner(clamd_address="127.0.0.1:3310", stage="prod")
    assert isinstance(clamd, ClamdScanner) and clamd.address == "127.0.0.1:3310"
    with pytest.raises(scan.ScanUnavailable):
        _scanner(media_scanner="clamd")
    with pytest.raises(scan.ScanUnavailable):
        _scanner(media_scanner="clamscan")
    monkeypatch.setattr(scan.shutil, "which", lambda name: "/usr/bin/clamscan")
    found = _scanner()
    assert isinstance(found, ClamscanScanner) and found.path == "/usr/bin/clamscan"
