"""Synthesize the CDK app in-process, once per stage per test session (per xdist worker)."""

from __future__ import annotations

import pytest
from infra_synth import Synth, synthesize


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize("dev", tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize("prod", tmp_path_factory.mktemp("cdk-prod"))


@pytest.fixture(scope="session")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize("staging", tmp_path_factory.mktemp("cdk-staging"))
