"""The ai_worker pumped for every test of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.pump import SqsPump
from tests.integration.ai_worker.ai_helpers import ai_worker_pump


@pytest.fixture(scope="module")
def worker(database_url: str, s3_endpoint: str) -> Iterator[SqsPump]:
    with ai_worker_pump(s3_endpoint) as pump:
        yield pump
