"""The ai_replies feature flag through `make dev` (a real local stack, real HTTP): editing the flags
file turns AI replies off for the stage, then for one room only, then on again, with no restart; a
message without invoke_ai is never affected, and a broken file leaves AI replies on."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from core import flags
from tests.e2e.conftest import ROOT, LocalStack, _stop_orphaned_postgres

pytestmark = pytest.mark.e2e
WAIT_S = 10.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, Path]]:
    flag_file = tmp_path_factory.mktemp("flags") / "feature_flags.json"
    flag_file.write_text(flags.baseline_document(), encoding="utf-8")
    local = LocalStack(ROOT / ".local" / f"e2e-flags-{os.getpid()}")
    shutil.rmtree(local.data_dir, ignore_errors=True)
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("FEATURE_FLAGS_FILE", str(flag_file))
            local.start()
        yield local, flag_file
    finally:
        if local.running:
            local.stop()
        _stop_orphaned_postgres(local.data_dir / "pgdata")
        shutil.rmtree(local.data_dir, ignore_errors=True)


def _write(path: Path, document: dict[str, Any] | str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    tmp.replace(path)  # as an editor saves it


def _register(local: LocalStack) -> str:
    name = f"ff{uuid.uuid4().hex[:10]}"
    body = {"email": f"{name}@example.com", "username": name, "password": "correct horse battery"}
    answer = requests.post(f"{local.api}/api/v1/auth/register", json=body, timeout=WAIT_S)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["access_token"])


def _post(local: LocalStack, path: str, token: str, body: Any = None) -> requests.Response:
    return requests.post(
        f"{local.api}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT_S
    )


def _ask_ai(local: LocalStack, room: str, token: str) -> requests.Response:
    return _post(local, f"/rooms/{room}/messages", token, {"content": "summarize, please", "invoke_ai": True})


def _regenerate(local: LocalStack, room: str, token: str) -> requests.Response:
    return _post(local, f"/rooms/{room}/messages/{uuid.uuid4()}/regenerate", token)


def _assert_disabled(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "feature_disabled"
    assert "invoke_ai" in error["message"] and error["request_id"]


def test_ai_replies_off_and_on_again_without_a_restart(stack: tuple[LocalStack, Path]) -> None:
    local, flag_file = stack
    token = _register(local)
    room = _post(local, "/rooms", token, {"name": "flags"}).json()["id"]
    assert _ask_ai(local, room, token).status_code in (201, 202)
    assert _regenerate(local, room, token).status_code == 404  # the flag is on: the lookup answers

    _write(flag_file, {"ai_replies": {"default": False}})
    _assert_disabled(_ask_ai(local, room, token))
    _assert_disabled(_regenerate(local, room, token))
    # Plain messages do not depend on the flag.
    assert _post(local, f"/rooms/{room}/messages", token, {"content": "still here"}).status_code == 201

    _write(flag_file, flags.baseline_document())
    assert _ask_ai(local, room, token).status_code in (201, 202)
    assert _regenerate(local, room, token).status_code == 404


def test_ai_replies_off_in_one_room_only(stack: tuple[LocalStack, Path]) -> None:
    local, flag_file = stack
    token = _register(local)
    quiet, busy = (_post(local, "/rooms", token, {"name": n}).json()["id"] for n in ("quiet", "busy"))
    rule = {"when_match": False, "conditions": [{"action": "KEY_IN_VALUE", "key": "room_id", "value": [quiet]}]}
    _write(flag_file, {"ai_replies": {"default": True, "rules": {"no AI in quiet": rule}}})
    try:
        _assert_disabled(_ask_ai(local, quiet, token))
        assert _ask_ai(local, busy, token).status_code in (201, 202)
    finally:
        _write(flag_file, flags.baseline_document())
    assert _ask_ai(local, quiet, token).status_code in (201, 202)


def test_a_broken_flags_file_keeps_ai_replies_on(stack: tuple[LocalStack, Path]) -> None:
    local, flag_file = stack
    token = _register(local)
    room = _post(local, "/rooms", token, {"name": "broken"}).json()["id"]
    _write(flag_file, "{ this is not JSON")
    try:
        assert _ask_ai(local, room, token).status_code in (201, 202)
    finally:
        _write(flag_file, flags.baseline_document())
