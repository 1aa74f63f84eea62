"""AI token balances through the API (issue 19.4): GET /me/balance and its ledger, `make grant`
(local.grant) through the same logic, 402 `insufficient_balance` before an AI call is queued, the
per-user message rate limits, and what an attacker cannot do (another user's ledger, granting
oneself tokens, bad numbers)."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core import balances
from core import db as core_db
from core.config import reset_settings
from core.errors import Conflict
from core.models.balances import MAX_BALANCE
from local import grant as grant_command
from tests.client import call
from tests.integration.rooms.rooms_helpers import Person, add_member, history, new_room, person, send, sent, team

BALANCE = "/api/v1/me/balance"
LEDGER = "/api/v1/me/balance/transactions"
WELCOME = balances.BalancesSettings().balances_welcome_tokens


def settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    yield
    reset_settings()


def balance(who: Person) -> dict:
    answer = call("GET", BALANCE, token=who.token)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def ledger(who: Person, query: str = "") -> dict:
    answer = call("GET", f"{LEDGER}{query}", token=who.token)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def grant(who: Person | str, tokens: int, note: str | None = None) -> balances.Change:
    user_id = uuid.UUID(who.id if isinstance(who, Person) else who)
    with core_db.session_scope() as session:
        change = balances.grant(session, user_id, tokens, actor="tests", note=note)
    return change


def set_tokens(who: Person, tokens: int) -> None:
    """The balance as a test wants it (a row as its first change would make it)."""
    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO balances (user_id, tokens) VALUES (:u, :t) "
                "ON CONFLICT (user_id) DO UPDATE SET tokens = excluded.tokens"
            ),
            {"u": who.id, "t": tokens},
        )


def test_a_balance_starts_with_the_welcome_tokens_and_an_empty_ledger(db: str) -> None:
    me = person()
    assert balance(me) == {"tokens": WELCOME, "updated_at": None}
    assert ledger(me) == {"items": [], "next_cursor": None}


def test_grants_show_in_the_balance_and_the_ledger_newest_first(db: str) -> None:
    me = person()
    first = grant(me, 1000, note="first refill")
    grant(me, 250)
    assert balance(me)["tokens"] == WELCOME + 1250
    items = ledger(me)["items"]
    assert [(i["kind"], i["delta"], i["balance_after"]) for i in items] == [
        ("grant", 250, WELCOME + 1250),
        ("grant", 1000, WELCOME + 1000),
        ("welcome", WELCOME, WELCOME),
    ]
    assert items[1]["id"] == str(first.transaction_id) and items[1]["note"] == "first refill"
    assert sum(i["delta"] for i in items) == balance(me)["tokens"]  # the ledger sums to the balance
    assert "actor" not in items[0]  # the operator's name stays in the ledger and the audit trail


def test_the_ledger_pages_with_keyset_cursors(db: str) -> None:
    me = person()
    for n in range(1, 6):
        grant(me, n)
    first = ledger(me, "?limit=2")
    assert [i["delta"] for i in first["items"]] == [5, 4] and first["next_cursor"]
    second = ledger(me, f"?limit=2&cursor={first['next_cursor']}")
    third = ledger(me, f"?limit=2&cursor={second['next_cursor']}")
    assert [i["delta"] for i in second["items"] + third["items"]] == [3, 2, 1, WELCOME]
    assert third["next_cursor"] is None
    for tampered in (first["next_cursor"][:-1], first["next_cursor"] + "A", "bm90LWEtY3Vyc29y"):
        answer = call("GET", f"{LEDGER}?cursor={tampered}", token=me.token)
        assert answer.status == 400 and answer.body["error"]["code"] == "bad_request", tampered


def test_the_grant_command_adds_tokens_audited_and_says_so(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    me = person()
    assert grant_command.main(["--user", me.username.upper(), "--tokens", "5_000", "--actor", "ops-ann"]) == 0
    assert f"{me.username} now holds {WELCOME + 5000} tokens" in capsys.readouterr().out
    assert balance(me)["tokens"] == WELCOME + 5000
    assert grant_command.main(["--user", me.id, "--tokens", "1", "--note", "sorry"]) == 0
    rows = sql("SELECT kind, delta, actor, note FROM balance_transactions WHERE user_id = :u ORDER BY created_at", me)
    assert rows[1:] == [("grant", 5000, "ops-ann", None), ("grant", 1, getpass.getuser(), "sorry")]
    events = sql("SELECT action, data FROM audit_events WHERE user_id = :u ORDER BY created_at", me)
    assert [a for a, _ in events] == ["balance.granted", "balance.granted"]
    assert events[0][1]["tokens"] == 5000 and events[0][1]["actor"] == "ops-ann"


def sql(statement: str, who: Person) -> list[tuple]:
    with core_db.get_engine().connect() as conn:
        return [tuple(r) for r in conn.execute(text(statement), {"u": who.id})]


def test_the_grant_command_refuses_bad_input_clearly(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    me = person()
    assert grant_command.main(["--user", "nobody_here", "--tokens", "10"]) == 2
    assert "no user 'nobody_here'" in capsys.readouterr().err
    for bad in ("-5", "0", "1e6", "abc", str(balances.MAX_GRANT + 1)):
        with pytest.raises(SystemExit) as exited:
            grant_command.main(["--user", me.username, "--tokens", bad])
        assert exited.value.code == 2
        assert "TOKENS must be" in capsys.readouterr().err
    set_tokens(me, MAX_BALANCE - 10)
    assert grant_command.main(["--user", me.username, "--tokens", "11"]) == 1
    assert "would exceed" in capsys.readouterr().err
    assert balance(me)["tokens"] == MAX_BALANCE - 10


def test_grants_refuse_nonsense_amounts(db: str) -> None:
    me = person()
    for bad in (0, -1, balances.MAX_GRANT + 1, True):
        with pytest.raises(ValueError), core_db.session_scope() as session:
            balances.grant(session, uuid.UUID(me.id), bad, actor="tests")  # type: ignore[arg-type]
    with pytest.raises(ValueError), core_db.session_scope() as session:
        balances.grant(session, uuid.UUID(me.id), 5, actor="  ")
    set_tokens(me, MAX_BALANCE)
    with pytest.raises(Conflict):
        grant(me, 1)
    assert balance(me)["tokens"] == MAX_BALANCE


# --- 402 before the AI is called ---


def test_asking_the_ai_needs_the_masters_balance_to_cover_the_estimate(db: str) -> None:
    room = team()
    set_tokens(room["master"], 10)  # the member has the welcome tokens; the master pays
    refused = send(room.room, room["member"], "what is the plan?", invoke_ai=True)
    assert refused.status == 402, refused.body
    error = refused.body["error"]
    assert error["code"] == "insufficient_balance" and error["request_id"]
    assert "10" not in error["message"] + str(error["details"])  # the master's balance is not told
    assert history(room.room, room["master"]) == []  # nothing stored
    assert sent(room.room, room["member"], "just talking")["ai_message"] is None  # plain messages still go
    set_tokens(room["master"], 1000)
    assert sent(room.room, room["member"], "now?", invoke_ai=True)["ai_message"]["kind"] == "ai"


def test_regenerate_is_refused_too_when_the_master_cannot_pay(db: str) -> None:
    room = team()
    asked = sent(room.room, room["member"], "first", invoke_ai=True)
    set_tokens(room["master"], 0)
    url = f"/api/v1/rooms/{room.room}/messages/{asked['message']['id']}/regenerate"
    answer = call("POST", url, None, token=room["member"].token)
    assert answer.status == 402 and answer.body["error"]["code"] == "insufficient_balance"


def test_the_estimate_grows_with_the_question(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings(monkeypatch, BALANCES_AI_OUTPUT_RESERVE_TOKENS="0")
    room = team()
    set_tokens(room["master"], 60)
    assert send(room.room, room["member"], "x" * 200, invoke_ai=True).status == 201  # ~54 tokens
    assert send(room.room, room["member"], "x" * 400, invoke_ai=True).status == 402  # ~104 tokens


# --- abuse ---


def test_another_users_ledger_is_unreachable(db: str) -> None:
    mine, theirs = person(), person()
    grant(theirs, 777, note="theirs")
    for query in (f"?user_id={theirs.id}", f"?user={theirs.username}"):
        assert ledger(mine, query)["items"] == []
        assert balance(mine)["tokens"] == WELCOME
    for path in (f"/api/v1/users/{theirs.id}/balance", f"{BALANCE}/{theirs.id}", f"{LEDGER}/{theirs.id}"):
        assert call("GET", path, token=mine.token).status == 404
    assert call("GET", BALANCE).status == 401 and call("GET", LEDGER).status == 401


def test_no_request_grants_tokens(db: str) -> None:
    me = person()
    for method in ("POST", "PUT", "PATCH"):
        for path in (BALANCE, LEDGER):
            answer = call(method, path, {"tokens": 10**9, "kind": "grant", "delta": 10**9}, token=me.token)
            assert answer.status in (404, 405), (method, path, answer.status)
    assert call("DELETE", LEDGER, token=me.token).status in (404, 405)
    assert balance(me) == {"tokens": WELCOME, "updated_at": None}


@pytest.mark.parametrize("query", ["?limit=0", "?limit=-1", "?limit=101", "?limit=99999999999999999999", "?limit=x"])
def test_bad_page_sizes_are_refused(db: str, query: str) -> None:
    answer = call("GET", f"{LEDGER}{query}", token=person().token)
    assert answer.status in (400, 422) and "error" in answer.body


# --- message rate limits ---


def test_one_member_cannot_flood_a_room(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings(monkeypatch, ROOMS_MESSAGES_PER_MINUTE_PER_ROOM="3")
    room = team()
    other = new_room(room["member"])
    for i in range(3):
        sent(room.room, room["member"], f"m{i}")
    flood = send(room.room, room["member"], "one too many")
    assert flood.status == 429, flood.body
    assert flood.body["error"]["code"] == "rate_limited"
    assert 1 <= int(flood.headers["Retry-After"][0]) <= 60
    assert len(history(room.room, room["guest"])) == 3  # the refused message was not stored
    sent(room.room, room["guest"], "others still talk")  # the limit is the member's, in this room
    sent(other, room["member"], "and the member elsewhere")


def test_the_overall_message_limit_spans_rooms(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings(monkeypatch, ROOMS_MESSAGES_PER_MINUTE="4")
    me = person()
    rooms = [new_room(me, f"r{i}") for i in range(3)]
    for i in range(4):
        sent(rooms[i % 3], me, f"m{i}")
    refused = send(rooms[2], me, "fifth")
    assert refused.status == 429 and refused.headers["Retry-After"]
    someone = person()
    add_member(rooms[0], someone, "member")
    sent(rooms[0], someone, "I am not limited")
