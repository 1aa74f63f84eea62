"""Every test of this folder runs the fork worker itself."""

from __future__ import annotations

import pytest

from core import room_forks


@pytest.fixture(autouse=True)
def no_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs wait for the worker each test runs itself (the pump test gives the queue back)."""
    monkeypatch.delenv(room_forks.QUEUE_URL_ENV, raising=False)
