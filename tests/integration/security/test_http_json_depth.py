"""Issue 14.6: a deeply nested JSON body is a 400 at the edge (depth 32 at most), never a
RecursionError answered 500, and refusing even 10 MiB of it costs next to nothing."""

from __future__ import annotations

import json
import time

from tests.client import call

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"


def nested(depth: int, inner: str = "1") -> str:
    """`depth` levels of alternating arrays and objects around `inner`."""
    text = inner
    for level in range(depth):
        text = f"[{text}]" if level % 2 else f'{{"k":{text}}}'
    return text


def test_deeply_nested_json_is_400_not_500() -> None:
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, nested(5_000)):
        answer = call("POST", LOGIN, raw_body=body)
        assert answer.status == 400 and answer.error_code == "bad_request", answer.body
        assert "nest" in answer.body["error"]["message"]


def test_ten_mib_of_open_brackets_is_refused_at_once() -> None:
    for body in ("[" * (10 * 1024 * 1024), "[]," * (3 * 1024 * 1024) + "[" * 40 + "]" * 40):
        started = time.perf_counter()
        answer = call("POST", LOGIN, raw_body=body)
        elapsed = time.perf_counter() - started
        assert answer.status == 400 and answer.error_code == "bad_request", answer.body
        assert elapsed < 2.0, elapsed  # a few tens of milliseconds here; the bound leaves room for a busy machine


def test_32_levels_reach_validation_and_33_do_not() -> None:
    # The top-level object is level 1: 31 more around the email value make 32.
    deep_32 = '{"email":' + "[" * 31 + '"a"' + "]" * 31 + ',"password":"x"}'
    answer = call("POST", LOGIN, raw_body=deep_32)
    assert answer.status == 422 and {d["field"] for d in answer.body["error"]["details"]} == {"email"}
    deep_33 = '{"email":' + "[" * 32 + '"a"' + "]" * 32 + ',"password":"x"}'
    refused = call("POST", LOGIN, raw_body=deep_33)
    assert refused.status == 400 and refused.error_code == "bad_request"


def test_brackets_inside_strings_do_not_count() -> None:
    body = {
        "email": "[" * 60 + "@example.com",
        "username": "bad name!",  # the one invalid field: validation ran
        "password": 'an escaped quote \\" then ' + "{[" * 100 + '\\\\"',
    }
    answer = call("POST", REGISTER, raw_body=json.dumps(body))
    assert answer.status == 422, answer.body
    assert {d["field"] for d in answer.body["error"]["details"]} == {"username"}
