"""cfn-lint over every stack of dev and prod (processing and monitoring included): zero errors,
and only the warnings reviewed in docs/decisions.md ("cfn-lint warnings")."""

from __future__ import annotations

import json

import pytest
from infra_synth import Synth

pytestmark = pytest.mark.infra

# Warning rule ids reviewed and explained in docs/decisions.md.
REVIEWED_WARNINGS: frozenset[str] = frozenset({"W3005"})


def _matches(synth: Synth) -> list[tuple[str, str, str]]:
    from cfnlint.api import lint

    out = []
    for stack in synth.assembly.stacks:
        for match in lint(json.dumps(stack.template)):
            out.append((stack.stack_name, match.rule.id, f"{match.message} at {'/'.join(map(str, match.path))}"))
    return out


def test_every_stack_passes_cfn_lint(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        matches = _matches(synth)
        assert [m for m in matches if m[1].startswith("E")] == []
        assert [m for m in matches if m[1].startswith("W") and m[1] not in REVIEWED_WARNINGS] == []
