"""Fixtures of the security tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def env(media_env: None) -> None:
    """The media pipeline as `make dev` runs it (tests/conftest.py's media_env)."""
