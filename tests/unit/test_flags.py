"""core.flags over a real JSON file (the local store): baseline without a store, a stage-wide and a
per-room switch, read again on every change; an invalid document falls back to the baseline, an
unreadable store to the last document read (the baseline if none was); and importing core.flags
loads neither Powertools' feature flags nor boto3's AppConfig client."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import flags
from core.config import reset_settings
from core.errors import FeatureDisabled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def flag_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "feature_flags.json"
    path.write_text(flags.baseline_document(), encoding="utf-8")
    monkeypatch.setenv("FEATURE_FLAGS_FILE", str(path))
    reset_settings()
    yield path
    monkeypatch.undo()
    reset_settings()


def write(path: Path, document: dict[str, Any] | str) -> None:
    """Replace the file as an editor does (a new inode), so a change within one mtime tick is seen too."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    tmp.replace(path)


def off_in(*rooms: str) -> dict[str, Any]:
    condition = {"action": "KEY_IN_VALUE", "key": "room_id", "value": list(rooms)}
    return {"ai_replies": {"default": True, "rules": {"off here": {"when_match": False, "conditions": [condition]}}}}


def test_the_repository_file_is_the_baseline() -> None:
    local = json.loads((ROOT / "local" / "feature_flags.json").read_text(encoding="utf-8"))
    assert local == flags.BASELINE == json.loads(flags.baseline_document())


def test_without_a_store_every_flag_is_at_its_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FEATURE_FLAGS_FILE", "APPCONFIG_APPLICATION", "APPCONFIG_ENVIRONMENT", "APPCONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    try:
        assert flags.enabled(flags.AI_REPLIES) is True
        flags.require_ai_replies(uuid.uuid4())
    finally:
        reset_settings()


def test_switched_off_for_the_stage_then_on_again(flag_file: Path) -> None:
    room = str(uuid.uuid4())
    flags.require_ai_replies(room)
    write(flag_file, {"ai_replies": {"default": False}})
    with pytest.raises(FeatureDisabled) as raised:
        flags.require_ai_replies(room)
    assert (raised.value.status, raised.value.code) == (503, "feature_disabled")
    assert "invoke_ai" in raised.value.message
    write(flag_file, flags.baseline_document())
    flags.require_ai_replies(room)


def test_switched_off_for_one_room_only(flag_file: Path) -> None:
    quiet, other = str(uuid.uuid4()), str(uuid.uuid4())
    write(flag_file, off_in(quiet))
    with pytest.raises(FeatureDisabled):
        flags.require_ai_replies(quiet)
    flags.require_ai_replies(other)


@pytest.mark.parametrize(
    "broken", [json.dumps({"ai_replies": {"default": "yes"}}), json.dumps({"ai_replies": {"rules": 1}})]
)
def test_a_document_that_is_read_but_invalid_leaves_the_baseline(flag_file: Path, broken: str) -> None:
    write(flag_file, {"ai_replies": {"default": False}})
    assert flags.enabled(flags.AI_REPLIES) is False
    write(flag_file, broken)
    assert flags.enabled(flags.AI_REPLIES) is True


@pytest.mark.parametrize("unreadable", ["{not json", "[]", None])
def test_a_store_that_cannot_be_read_keeps_the_last_document_read(flag_file: Path, unreadable: str | None) -> None:
    """An outage (AppConfig down or throttled; here the file half-written or gone) keeps the switch
    where the operator set it: AI replies stay off."""
    write(flag_file, {"ai_replies": {"default": False}})
    assert flags.enabled(flags.AI_REPLIES) is False
    if unreadable is None:
        flag_file.unlink()
    else:
        write(flag_file, unreadable)
    assert flags.enabled(flags.AI_REPLIES) is False
    with pytest.raises(FeatureDisabled):
        flags.require_ai_replies(uuid.uuid4())


def test_a_missing_file_leaves_the_baseline(flag_file: Path) -> None:
    flag_file.unlink()
    assert flags.enabled(flags.AI_REPLIES) is True


def test_importing_core_flags_loads_no_feature_flag_machinery() -> None:
    """Cold starts of rooms pay for Powertools' feature_flags and AppConfig only when a flag is evaluated."""
    code = (
        "import sys; import core.flags; "
        "heavy = [m for m in sys.modules if m.startswith(('aws_lambda_powertools.utilities.feature_flags', "
        "'aws_lambda_powertools.utilities.parameters', 'boto3', 'mypy_boto3'))]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'layers' / 'core' / 'python'}", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]"
