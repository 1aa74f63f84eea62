"""Fixtures of the security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.config import reset_settings


@pytest.fixture
def env(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The media pipeline as `make dev` runs it: no MediaConvert, the EICAR scanner."""
    for name in ("MEDIACONVERT_ENDPOINT", "MEDIACONVERT_ROLE_ARN", "CLAMD_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIA_SCANNER", "eicar")
    reset_settings()
    yield None
    monkeypatch.undo()
    reset_settings()
