"""Room forks (issue 19.1): POST /rooms/{id}/forks makes the room and the job (rooms function), the
room_forks worker copies the conversation in batches of 1,000 (through the moto queue and the local
pump, or invoked directly with the SQS event the pump would send), GET /rooms/{id}/fork shows it.

What is proved: the copy's content and numbering, 10,000 messages, constant statements per batch,
crash-and-resume and concurrent workers copying nothing twice (messages and their images), the
archived room's 409, the failure path, the progress events on the forking user's WebSockets, and
the abuse cases. The images' own tests: test_room_fork_images.py."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import boto3
import pytest
from room_forks import copy as fork_copy
from room_forks import handler as worker
from sqlalchemy import text

from core import db as core_db
from core import room_forks
from core.routes import function
from local.lambda_context import LocalLambdaContext
from local.pump import SqsPump
from tests.client import call
from tests.integration.realtime.realtime_helpers import eventually, open_socket, realtime_server, receive, silent, sql
from tests.integration.room_forks.fork_helpers import copies, fork, forked, progress, run_worker
from tests.integration.rooms.rooms_helpers import Person, add_member, new_room, person, sent
from tests.statements import counting


def fill(room: str, author: Person, other: Person, n: int) -> None:
    """n messages straight into the database: every 10th is `other`'s private one, every 3rd
    excluded from the AI, every 50th deleted; every 5th carries a (ready) image."""
    sql(
        "INSERT INTO messages (id, room_id, seq, sender_id, kind, content, visibility, requester_id, "
        "exclude_from_ai, deleted_at) "
        "SELECT gen_random_uuid(), :r, g, CASE WHEN mod(g, 10) = 0 THEN CAST(:o AS uuid) ELSE CAST(:a AS uuid) END, "
        "'human', 'm' || g, CASE WHEN mod(g, 10) = 0 THEN 'private' ELSE 'public' END, "
        "CASE WHEN mod(g, 10) = 0 THEN CAST(:o AS uuid) END, mod(g, 3) = 0, CASE WHEN mod(g, 50) = 25 THEN now() END "
        "FROM generate_series(1, :n) g",
        r=room,
        a=author.id,
        o=other.id,
        n=n,
    )
    sql(
        "INSERT INTO room_images (id, room_id, uploader_id, message_id, position, image_key, content_type, size, "
        "status, width, height) "
        "SELECT gen_random_uuid(), :r, m.sender_id, m.id, 0, 'room-images/' || :r || '/' || m.id || '.png', "
        "'image/png', 100, 'ready', 64, 48 FROM messages m WHERE m.room_id = :r AND mod(m.seq, 5) = 0",
        r=room,
    )
    sql("UPDATE rooms SET last_seq = :n WHERE id = :r", n=n, r=room)


def expected_contents(n: int, up_to: int | None = None) -> list[str]:
    last = n if up_to is None else up_to
    return [f"m{g}" for g in range(1, last + 1) if g % 10 != 0 and g % 50 != 25]


def copied_images(room: str) -> list[str]:
    """The contents of the fork's messages that carry an image (one each, ready, copied once)."""
    rows = sql(
        "SELECT m.content, i.status, i.origin_image_id FROM room_images i JOIN messages m ON m.id = i.message_id "
        "WHERE i.room_id = :r ORDER BY m.seq",
        r=room,
    )
    assert all(r.status == "ready" and r.origin_image_id is not None for r in rows)
    assert len({r.origin_image_id for r in rows}) == len(rows)
    return [r.content for r in rows]


def with_images(contents: list[str]) -> list[str]:
    return [c for c in contents if int(c[1:]) % 5 == 0]


# --- the copy ---


def test_a_fork_copies_what_the_forker_may_read_renumbered_with_its_attributes(db: str) -> None:
    owner, mate, reader = person(), person(), person()
    room = new_room(owner)
    add_member(room, mate, "member")
    add_member(room, reader, "reader")
    sent(room, owner, "hello")  # 1
    sent(room, mate, "mine only", private=True)  # 2: the mate's private message
    sent(room, mate, "secret question", invoke_ai=True, private=True)  # 3, 4: the mate's private AI exchange
    asked = sent(room, owner, "public question", invoke_ai=True)  # 5, 6: a public AI exchange
    sent(room, owner, "my own secret", private=True)  # 7: the forker's private message
    gone = sent(room, mate, "deleted later")["message"]["id"]  # 8
    assert call("DELETE", f"/api/v1/rooms/{room}/messages/{gone}", token=mate.token).status == 204
    excluded = sent(room, mate, "not for the AI")["message"]["id"]  # 9
    call("PATCH", f"/api/v1/rooms/{room}/messages/{excluded}", {"exclude_from_ai": True}, token=mate.token)
    sent(room, mate, "after the fork point")  # 10

    made = forked(room, owner, name="take two", up_to_seq=9)
    new = made["room"]["id"]
    assert made["room"]["my_role"] == "master" and made["room"]["archived"] is True
    assert (made["room"]["forked_from_room_id"], made["room"]["forked_at_seq"]) == (room, 9)
    assert made["fork"] == {
        **made["fork"],
        "room_id": new,
        "status": "copying",
        "copied": 0,
        "total": 5,
        "forked_at_seq": 9,
        "error": None,
    }
    assert run_worker(new) == {"batchItemFailures": []}

    rows = copies(new)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert [r.content for r in rows] == ["hello", asked["message"]["content"], asked["ai_message"]["content"],
                                         "my own secret", "not for the AI"]  # fmt: skip
    assert [(r.kind, str(r.sender_id) if r.sender_id else None) for r in rows] == [
        ("human", owner.id),
        ("human", owner.id),
        ("ai", None),
        ("human", owner.id),
        ("human", mate.id),
    ]
    assert [r.visibility for r in rows] == ["public", "public", "public", "private", "public"]
    assert [r.exclude_from_ai for r in rows] == [False, False, False, False, True]
    assert rows[2].reply_to_id == rows[1].id  # the AI reply answers the copy, not the original
    assert {str(r.id) for r in rows}.isdisjoint(m["id"] for m in call(
        "GET", f"/api/v1/rooms/{room}/messages?limit=100", token=owner.token).body["items"])  # fmt: skip

    done = progress(new, owner).body
    assert (done["status"], done["copied"], done["total"], done["completed_at"] is not None) == (
        "completed",
        5,
        5,
        True,
    )
    room_now = call("GET", f"/api/v1/rooms/{new}", token=owner.token).body
    assert room_now["archived"] is False
    # The history reads like any room's, and the next message continues the numbering.
    history = call("GET", f"/api/v1/rooms/{new}/messages", token=owner.token).body["items"]
    assert [m["seq"] for m in history] == [5, 4, 3, 2, 1]
    assert sent(new, owner, "onwards")["message"]["seq"] == 6
    # Nobody else is in the fork; the source is unchanged.
    members = call("GET", f"/api/v1/rooms/{new}/members", token=owner.token).body["items"]
    assert [m["user"]["id"] for m in members] == [owner.id]
    assert call("GET", f"/api/v1/rooms/{new}", token=mate.token).status == 404
    assert len(copies(room)) == 10


def test_the_fork_of_another_member_keeps_their_private_exchange_not_the_owners(db: str) -> None:
    owner, mate = person(), person()
    room = new_room(owner)
    add_member(room, mate, "member")
    sent(room, owner, "owner's secret", private=True)
    sent(room, mate, "mate's secret", invoke_ai=True, private=True)
    new = forked(room, mate)["room"]["id"]
    run_worker(new)
    rows = copies(new)
    assert rows[0].content == "mate's secret" and len(rows) == 2
    assert all(r.visibility == "private" and str(r.requester_id) == mate.id for r in rows)
    assert "owner's secret" not in json.dumps(call("GET", f"/api/v1/rooms/{new}/messages", token=mate.token).body)


def test_until_the_copy_completes_the_fork_reads_but_refuses_posts(db: str) -> None:
    owner = person()
    room = new_room(owner)
    sent(room, owner, "one")
    sent(room, owner, "two")
    new = forked(room, owner)["room"]["id"]
    assert call("GET", f"/api/v1/rooms/{new}", token=owner.token).status == 200
    assert call("GET", f"/api/v1/rooms/{new}/messages", token=owner.token).body["items"] == []
    refused = call("POST", f"/api/v1/rooms/{new}/messages", {"content": "too soon"}, token=owner.token)
    assert (refused.status, refused.error_code) == (409, "conflict")
    assert progress(new, owner).body["status"] == "copying"
    run_worker(new)
    assert call("POST", f"/api/v1/rooms/{new}/messages", {"content": "now"}, token=owner.token).status == 201


def test_an_empty_fork_is_complete_at_once(db: str) -> None:
    owner = person()
    room = new_room(owner)
    made = forked(room, owner)
    assert made["room"]["archived"] is False and made["room"]["forked_at_seq"] == 0
    assert (made["fork"]["status"], made["fork"]["total"]) == ("completed", 0)


# --- 10,000 messages, batches, crashes ---


def test_ten_thousand_messages_copy_in_batches_of_a_thousand_with_constant_statements(db: str) -> None:
    owner, other = person(), person()
    room = new_room(owner)
    add_member(room, other, "member")
    fill(room, owner, other, 10_000)
    want = expected_contents(10_000)
    new = forked(room, owner)["room"]["id"]
    assert progress(new, owner).body["total"] == len(want) == 8800

    per_batch = []
    while True:
        with counting() as seen:
            step = fork_copy.copy_batch(uuid.UUID(new))
        assert step is not None
        per_batch.append(len(seen))
        if step.done:
            break
    assert len(per_batch) == 9  # 8 full batches and the last 800
    assert len(set(per_batch)) == 1 and per_batch[0] <= 4, per_batch  # the images too: no statement more

    rows = copies(new)
    assert [r.seq for r in rows] == list(range(1, 8801))
    assert [r.content for r in rows] == want
    assert not any(r.visibility == "private" for r in rows)
    assert sum(r.exclude_from_ai for r in rows) == sum(1 for c in want if int(c[1:]) % 3 == 0)
    state = progress(new, owner).body
    assert (state["status"], state["copied"], state["total"]) == ("completed", 8800, 8800)
    assert sql("SELECT last_seq FROM rooms WHERE id = :r", r=new)[0].last_seq == 8800
    assert copied_images(new) == with_images(want) and len(with_images(want)) == 800


def test_a_crash_mid_copy_resumes_where_it_stopped_and_copies_nothing_twice(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, other = person(), person()
    room = new_room(owner)
    add_member(room, other, "member")
    fill(room, owner, other, 3_500)
    new = forked(room, owner, up_to_seq=3_400)["room"]["id"]
    fork_copy.copy_batch(uuid.UUID(new))
    fork_copy.copy_batch(uuid.UUID(new))
    # The third batch dies after its INSERT ran, before the cursor moved: the whole batch rolls back.
    monkeypatch.setattr(fork_copy, "_ADVANCE", text("SELECT 1 / 0"))
    assert run_worker(new)["batchItemFailures"]  # the record is retried
    state = progress(new, owner).body
    assert (state["status"], state["copied"]) == ("copying", 2000)
    assert "DataError" in state["error"] or "copy failed" in state["error"]
    assert len(copies(new)) == 2000
    monkeypatch.undo()
    assert run_worker(new, receives=2) == {"batchItemFailures": []}
    rows = copies(new)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert [r.content for r in rows] == expected_contents(3_500, up_to=3_400)
    assert copied_images(new) == with_images(expected_contents(3_500, up_to=3_400))  # each once
    # A late duplicate of the record changes nothing.
    run_worker(new)
    assert len(copies(new)) == len(rows)


def test_two_workers_on_one_fork_copy_each_message_once(db: str) -> None:
    owner, other = person(), person()
    room = new_room(owner)
    add_member(room, other, "member")
    fill(room, owner, other, 5_000)
    new = forked(room, owner)["room"]["id"]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            worker.copy_fork(uuid.UUID(new), LocalLambdaContext("room_forks", timeout_s=120))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    run_worker(new)  # whichever worker skipped a locked batch left the rest to the next delivery
    rows = copies(new)
    assert [r.content for r in rows] == expected_contents(5_000)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert copied_images(new) == with_images(expected_contents(5_000))


def test_the_last_failed_delivery_ends_the_job_failed_with_its_error(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = person()
    room = new_room(owner)
    sent(room, owner, "one")
    new = forked(room, owner)["room"]["id"]
    monkeypatch.setattr(fork_copy, "_COPY", text("SELECT 1 / 0 AS n, 0 AS last_seq"))
    assert run_worker(new, receives=worker.MAX_RECEIVES) == {"batchItemFailures": []}  # not retried again
    state = progress(new, owner).body
    assert state["status"] == "failed" and state["error"].startswith("copy failed")
    assert call("GET", f"/api/v1/rooms/{new}", token=owner.token).body["archived"] is True


def test_a_fork_deleted_while_copying_stops(db: str) -> None:
    owner = person()
    room = new_room(owner)
    sent(room, owner, "one")
    new = forked(room, owner)["room"]["id"]
    assert call("DELETE", f"/api/v1/rooms/{new}", token=owner.token).status == 204
    run_worker(new)
    assert copies(new) == []
    assert sql("SELECT status, error FROM room_forks WHERE room_id = :r", r=new)[0] == (
        "failed",
        "the fork was deleted",
    )


# --- through the queue, and the events ---


@pytest.fixture
def queue(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The room-forks queue (moto) pumped into the worker, as `make dev` runs it."""
    from local.aws import LocalAws

    spec = function("room_forks").queue
    assert spec is not None
    url = LocalAws(endpoint_url=s3_endpoint, bucket="unused").create_queue_pair(spec)[1]
    monkeypatch.setenv(room_forks.QUEUE_URL_ENV, url)
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint)
    sqs.purge_queue(QueueUrl=url)
    pump = SqsPump("room_forks", url, sqs, wait_s=1, batch_size=spec.batch_size)
    pump.start()
    try:
        yield url
    finally:
        pump.stop()


def test_a_fork_is_copied_through_the_queue_and_its_user_hears_of_it(db: str, queue: str) -> None:
    owner, other = person(), person()
    room = new_room(owner)
    add_member(room, other, "member")
    fill(room, owner, other, 2_100)  # 1,848 to copy: two batches
    with realtime_server(), open_socket(owner) as mine, open_socket(other) as theirs:
        new = forked(room, owner)["room"]["id"]
        first = receive(mine, timeout=20)
        assert first["type"] == "fork.progress" and first["room_id"] == new
        assert (first["data"]["copied"], first["data"]["total"], first["data"]["status"]) == (1000, 1848, "copying")
        last = receive(mine, timeout=20)
        assert last["type"] == "fork.completed"
        assert (last["data"]["copied"], last["data"]["status"], last["data"]["forked_from_room_id"]) == (
            1848,
            "completed",
            room,
        )
        assert silent(theirs)  # the events are the forker's alone
    assert eventually(lambda: progress(new, owner).body["status"] == "completed")
    assert [r.content for r in copies(new)] == expected_contents(2_100)


# --- abuse ---


def test_who_may_fork(db: str) -> None:
    owner, guest, reader, outsider = person(), person(), person(), person()
    room = new_room(owner)
    add_member(room, guest, "guest")
    add_member(room, reader, "reader")
    sent(room, owner, "hello")
    for who in (guest, reader):
        assert (fork(room, who).status, fork(room, who).error_code) == (403, "forbidden")
    refused = fork(room, outsider)
    assert (refused.status, refused.error_code) == (404, "not_found")
    assert fork(str(uuid.uuid4()), outsider).status == 404
    assert sql("SELECT count(*) AS n FROM rooms WHERE forked_from_room_id = :r", r=room)[0].n == 0


def test_up_to_seq_beyond_the_newest_is_409_and_a_malformed_one_422(db: str) -> None:
    owner = person()
    room = new_room(owner)
    sent(room, owner, "one")
    beyond = call("POST", f"/api/v1/rooms/{room}/forks", {"name": "f", "up_to_seq": 2}, token=owner.token)
    assert (beyond.status, beyond.error_code) == (409, "conflict")
    assert beyond.body["error"]["details"][0]["field"] == "up_to_seq"
    for body in ({"up_to_seq": -1}, {"up_to_seq": "1"}, {"up_to_seq": None}, {"name": ""}, {"up_to_seq": 2**53}):
        answer = call("POST", f"/api/v1/rooms/{room}/forks", {"name": "f", **body}, token=owner.token)
        assert (answer.status, answer.error_code) == (422, "validation_error"), body
    assert sql("SELECT count(*) AS n FROM rooms WHERE forked_from_room_id = :r", r=room)[0].n == 0


def test_a_forks_progress_is_404_outside_it_or_for_a_room_that_is_no_fork(db: str) -> None:
    owner, mate = person(), person()
    room = new_room(owner)
    add_member(room, mate, "member")
    sent(room, owner, "one")
    new = forked(room, owner)["room"]["id"]
    assert progress(new, mate).status == 404  # a member of the source, not of the fork
    assert progress(room, owner).status == 404  # no fork
    with core_db.get_engine().begin() as conn:  # invited into the fork, a reader sees its progress
        conn.execute(text("INSERT INTO room_members (room_id, user_id, role) VALUES (:r, :u, 'reader')"),
                     {"r": new, "u": mate.id})  # fmt: skip
    assert progress(new, mate).status == 200


def test_a_lost_queue_message_is_sent_again_when_the_job_is_stale(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = person()
    room = new_room(owner)
    sent(room, owner, "one")
    new = forked(room, owner)["room"]["id"]
    sent_again: list[uuid.UUID] = []
    monkeypatch.setattr(room_forks, "enqueue", lambda room_id, **_: sent_again.append(room_id) or True)
    assert progress(new, owner).status == 200 and sent_again == []  # fresh: not stale
    sql("UPDATE room_forks SET updated_at = now() - interval '2 minutes' WHERE room_id = :r", r=new)
    assert progress(new, owner).status == 200 and sent_again == [uuid.UUID(new)]
    assert progress(new, owner).status == 200 and sent_again == [uuid.UUID(new)]  # once per STALE_S


def test_a_reply_still_pending_when_forked_is_copied_failed(db: str) -> None:
    owner = person()
    room = new_room(owner)
    asked = sent(room, owner, "question")["message"]
    sql(
        "INSERT INTO messages (id, room_id, seq, kind, content, status, requester_id, reply_to_id, job_id, "
        "pending_until) VALUES (gen_random_uuid(), :r, 2, 'ai', '', 'pending', :u, :q, gen_random_uuid(), "
        "now() + interval '1 minute')",
        r=room,
        u=owner.id,
        q=asked["id"],
    )
    sql("UPDATE rooms SET last_seq = 2 WHERE id = :r", r=room)
    new = forked(room, owner)["room"]["id"]
    run_worker(new)
    rows = copies(new)
    assert [(r.kind, r.status) for r in rows] == [("human", "completed"), ("ai", "failed")]
    assert rows[1].reply_to_id == rows[0].id
    assert sql("SELECT job_id, pending_until FROM messages WHERE room_id = :r AND seq = 2", r=new)[0] == (None, None)
