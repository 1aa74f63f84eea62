"""A fork copies its messages' images (issue 19.1 with 19.5), through the real database, the local S3
and the media function: the fork shows the same images under new ids (a ready one with its variant
URLs, a pending one pending); the media pipeline finishing an upload ends its copies the same way,
ready or refused, in forks of forks too; the fork's AI is shown a copied image; the races between a
fork batch and the pipeline lose no update, whichever goes first; and the abuse cases: a copy is
never sent again, by its uploader or anyone else, and another member's private exchange leaves its
images behind. (Statements per batch with images: test_room_forks.py's 10,000 messages carry some.)"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import pytest
import requests
from PIL import Image
from room_forks import copy as fork_copy
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from core import db as core_db
from core import storage
from core.config import reset_settings
from local.pump import SqsPump
from media import room_images as media_room_images
from media.scan import EICAR
from tests.client import call
from tests.conftest import reset_app_state
from tests.integration.ai_worker.ai_helpers import ai_worker_pump, answered
from tests.integration.media_world import run
from tests.integration.realtime.realtime_helpers import eventually, sql
from tests.integration.room_forks.fork_helpers import forked, run_worker
from tests.integration.rooms.room_images_helpers import BUCKET, image, png, s3_body, uploaded
from tests.integration.rooms.rooms_helpers import add_member, history, person, send, sent, team

WAIT_S = 20.0


def images_of(room: str, who: Any) -> dict[str, list[dict[str, Any]]]:
    """The images of the room's messages as `who` reads them, by message content."""
    return {m["content"]: m["images"] for m in history(room, who, "?limit=100")}


def image_rows(room: str) -> list[Any]:
    return sql(
        "SELECT i.id, i.origin_image_id, i.status, i.position, i.image_key, i.uploader_id, m.content "
        "FROM room_images i JOIN messages m ON m.id = i.message_id WHERE i.room_id = :r ORDER BY m.seq, i.position",
        r=room,
    )


def status_of(image_id: str) -> str:
    return str(sql("SELECT status FROM room_images WHERE id = :i", i=image_id)[0].status)


def stale_claim(key: str) -> None:
    """The media pipeline claimed this upload and never finished it (a crashed run): a stale claim,
    which the next event for the key takes again."""
    version = storage.s3_client().head_object(Bucket=BUCKET, Key=key)["VersionId"]
    assert media_room_images.claim(key, version, 60) == "image/png"
    sql(
        "UPDATE room_images SET updated_at = now() - interval '1 hour' "
        "WHERE image_key = :k AND origin_image_id IS NULL",
        k=key,
    )


# --- what a fork shows, and how its copies end ---


def test_a_fork_shows_its_messages_images_and_a_pending_copy_ends_as_its_upload_does(media_env: None) -> None:
    room = team()
    ada, master = room["member"], room["master"]
    ready, _ = uploaded(room.room, ada, png((800, 600), "red"))
    claimed, claimed_key = uploaded(room.room, ada, png((320, 240), "green"), process=False)
    waiting, waiting_key = uploaded(room.room, ada, png((640, 480), "blue"), process=False)
    sent(room.room, ada, "one ready", image_ids=[ready])
    sent(room.room, ada, "two waiting", image_ids=[claimed, waiting])
    stale_claim(claimed_key)  # `processing` when forked: copied `pending`

    new = forked(room.room, master)["room"]["id"]
    assert run_worker(new) == {"batchItemFailures": []}
    (original,) = images_of(room.room, master)["one ready"]
    shown = images_of(new, master)
    (copy,) = shown["one ready"]
    assert copy["id"] != ready and copy["status"] == "ready" and (copy["width"], copy["height"]) == (800, 600)
    sizes = [(v["kind"], v["width"]) for v in original["variants"]]
    assert [(v["kind"], v["width"]) for v in copy["variants"]] == sizes
    preview = next(v for v in copy["variants"] if v["kind"] == "preview")
    picture = Image.open(BytesIO(requests.get(preview["url"], timeout=10).content))
    assert picture.format == "JPEG" and picture.size == (800, 600)
    assert [(i["status"], i["variants"]) for i in shown["two waiting"]] == [("pending", []), ("pending", [])]
    assert image(new, master, copy["id"]).body["status"] == "ready"  # GET /rooms/{fork}/images/{copy}
    rows = image_rows(new)
    assert [(str(r.origin_image_id), r.status, r.position, r.content, str(r.uploader_id)) for r in rows] == [
        (ready, "ready", 0, "one ready", ada.id),
        (claimed, "pending", 0, "two waiting", ada.id),
        (waiting, "pending", 1, "two waiting", ada.id),
    ]
    assert {str(r.id) for r in rows}.isdisjoint({ready, claimed, waiting})
    assert [i["id"] for i in shown["two waiting"]] == [str(r.id) for r in rows[1:]]
    # A fork of the fork: its copies name the uploads, not the copies.
    newer = forked(new, master)["room"]["id"]
    run_worker(newer)
    assert [str(r.origin_image_id) for r in image_rows(newer)] == [ready, claimed, waiting]

    # The pipeline claims only the upload: its copies stay `pending` until it ends.
    stale_claim(waiting_key)
    assert status_of(waiting) == "processing"
    assert [r.status for r in image_rows(new)[1:]] == ["pending", "pending"]
    assert run(s3_body(claimed_key), s3_body(waiting_key)) == []  # both stale claims taken again, finished
    for where in (room.room, new, newer):
        images = images_of(where, master)["two waiting"]
        assert [i["status"] for i in images] == ["ready", "ready"], where
        assert [(i["width"], i["height"]) for i in images] == [(320, 240), (640, 480)]
        assert all({v["kind"] for v in i["variants"]} == {"thumb", "preview"} for i in images)
    assert sql("SELECT count(*) AS n FROM room_images WHERE image_key = :k", k=waiting_key)[0].n == 3
    # The source room is unchanged: its messages keep their own images.
    assert [i["id"] for i in images_of(room.room, master)["two waiting"]] == [claimed, waiting]


def test_a_refused_upload_refuses_its_copies_and_an_image_refused_before_the_fork_is_copied_refused(
    media_env: None,
) -> None:
    room = team()
    ada, master = room["member"], room["master"]
    infected, infected_key = uploaded(room.room, ada, EICAR, process=False)
    liar, liar_key = uploaded(room.room, ada, b"<html>not a png</html>", process=False)
    sent(room.room, ada, "infected, found later", image_ids=[infected])
    sent(room.room, ada, "a liar", image_ids=[liar])
    assert run(s3_body(liar_key)) == []  # refused before the fork
    new = forked(room.room, master)["room"]["id"]
    run_worker(new)
    shown = images_of(new, master)
    assert [(i["status"], i["variants"]) for i in shown["a liar"]] == [("refused", [])]
    assert [i["status"] for i in shown["infected, found later"]] == ["pending"]

    assert run(s3_body(infected_key)) == []
    for where in (room.room, new):
        assert [(i["status"], i["variants"]) for i in images_of(where, master)["infected, found later"]] == [
            ("refused", [])
        ]
    # A refused copy blocks the fork's AI as its upload would (409, not a silent omission).
    copied = next(m for m in history(new, master) if m["content"] == "infected, found later")
    again = call("POST", f"/api/v1/rooms/{new}/messages/{copied['id']}/regenerate", token=master.token)
    assert again.status == 409


@pytest.fixture(scope="module")
def ai_worker(database_url: str, s3_endpoint: str) -> Iterator[SqsPump]:
    with ai_worker_pump(s3_endpoint) as pump:
        yield pump


def test_the_forks_ai_is_shown_a_copied_image(
    media_env: None, ai_worker: SqsPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOMS_AI_ECHO_DELAY_S", "0")
    reset_settings()
    room = team()
    ada, master = room["member"], room["master"]
    image_id, _ = uploaded(room.room, ada, png((2000, 1000), "red"))
    asked = sent(room.room, ada, "what is this?", image_ids=[image_id], invoke_ai=True)
    first = answered(room.room, ada, asked["ai_message"]["id"])
    assert first["status"] == "completed" and first["content"].startswith("what is this? [1 image: jpeg ")

    new = forked(room.room, master)["room"]["id"]
    run_worker(new)
    question = next(m for m in history(new, master) if m["content"] == "what is this?")
    assert question["images"][0]["id"] != image_id and question["images"][0]["status"] == "ready"
    again = call("POST", f"/api/v1/rooms/{new}/messages/{question['id']}/regenerate", token=master.token)
    assert again.status == 202, again.body
    reply = answered(new, master, again.body["id"])
    assert reply["status"] == "completed" and reply["content"] == first["content"]  # the same preview's bytes


# --- races between a fork batch and the media pipeline ---


@contextmanager
def paused(fragment: str, thread: str) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The thread named `thread` stops right after it executed a statement containing `fragment`
    (inside its transaction, holding its locks) until `go` is set: (reached, go)."""
    reached, go = threading.Event(), threading.Event()

    def pause(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if threading.current_thread().name == thread and fragment in statement:
            reached.set()
            go.wait(WAIT_S)

    engine = core_db.get_engine()
    event.listen(engine, "after_cursor_execute", pause)
    try:
        yield reached, go
    finally:
        go.set()
        event.remove(engine, "after_cursor_execute", pause)


@pytest.fixture
def parallel_pool(media_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions' engine with a connection for each racing thread (the tests' default is one)."""
    monkeypatch.setenv("DB_POOL_SIZE", "4")
    reset_app_state()
    yield
    monkeypatch.undo()
    reset_app_state()


@pytest.fixture
def lock_waits(owner_engine: Engine) -> Callable[[], int]:
    """How many sessions of the database wait for a lock right now."""

    def waiting() -> int:
        with owner_engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar_one()
            )

    return waiting


def _racing() -> tuple[Any, str, str, str]:
    room = team()
    image_id, key = uploaded(room.room, room["member"], png((300, 200)), process=False)
    sent(room.room, room["member"], "racing", image_ids=[image_id])
    new = forked(room.room, room["master"])["room"]["id"]
    return room, image_id, key, new


def _thread(name: str, target: Callable[[], Any], errors: list[BaseException]) -> threading.Thread:
    def body() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=body, name=name)
    worker.start()
    return worker


def test_an_upload_finished_while_a_fork_batch_holds_it_waits_then_ends_the_new_copy(
    parallel_pool: None, monkeypatch: pytest.MonkeyPatch, lock_waits: Callable[[], int]
) -> None:
    room, image_id, key, new = _racing()
    examined, finishing = threading.Event(), threading.Event()
    real_finish = media_room_images.finish

    def finish_when_told(*args: Any, **kwargs: Any) -> Any:
        examined.set()
        finishing.wait(WAIT_S)
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(media_room_images, "finish", finish_when_told)
    errors: list[BaseException] = []
    failed: list[str] = []
    pipeline = _thread("pipeline", lambda: failed.extend(run(s3_body(key))), errors)
    assert examined.wait(WAIT_S)  # claimed (`processing`), scanned, variants written; not finished
    with paused("source_images", "fork") as (copied, go):
        batch = _thread("fork", lambda: fork_copy.copy_batch(uuid.UUID(new)), errors)
        assert copied.wait(WAIT_S)  # the batch copied the image (as `pending`), not committed yet
        finishing.set()
        waited = eventually(lambda: lock_waits() >= 1, timeout=5)  # finish waits for the batch's FOR SHARE
        go.set()
        batch.join(WAIT_S)
        pipeline.join(WAIT_S)
    assert errors == [] and failed == [], (errors, failed)
    assert status_of(image_id) == "ready"
    (shown,) = images_of(new, room["master"])["racing"]
    assert shown["status"] == "ready" and {v["kind"] for v in shown["variants"]} == {"thumb", "preview"}
    assert waited  # and it was this order


def test_a_fork_batch_meeting_an_upload_being_finished_waits_then_copies_its_ending(
    parallel_pool: None, lock_waits: Callable[[], int]
) -> None:
    room, image_id, key, new = _racing()
    errors: list[BaseException] = []
    failed: list[str] = []
    # finish updated the upload (its row locked) and found no copy of it yet; not committed yet
    with paused("WHERE room_images.origin_image_id = ", "pipeline") as (finished, go):
        pipeline = _thread("pipeline", lambda: failed.extend(run(s3_body(key))), errors)
        assert finished.wait(WAIT_S)
        batch = _thread("fork", lambda: fork_copy.copy_batch(uuid.UUID(new)), errors)
        waited = eventually(lambda: lock_waits() >= 1, timeout=5)  # the batch waits for the upload's row
        go.set()
        pipeline.join(WAIT_S)
        batch.join(WAIT_S)
    assert errors == [] and failed == [], (errors, failed)
    assert status_of(image_id) == "ready"
    (shown,) = images_of(new, room["master"])["racing"]
    assert shown["status"] == "ready" and shown["variants"]
    assert waited  # and it was this order


# --- abuse ---


def test_a_copied_image_cannot_be_sent_again_and_another_members_private_exchange_keeps_its_images(
    media_env: None,
) -> None:
    room = team()
    ada, bob = room["member"], room["admin"]
    mine, _ = uploaded(room.room, ada, png(colour="red"))
    theirs, _ = uploaded(room.room, bob, png(colour="blue"))
    sent(room.room, ada, "shared", image_ids=[mine])
    sent(room.room, bob, "bob's secret question", image_ids=[theirs], invoke_ai=True, private=True)

    new = forked(room.room, ada)["room"]["id"]  # ada's fork: bob's private exchange stays behind
    run_worker(new)
    rows = image_rows(new)
    assert [(str(r.origin_image_id), r.content) for r in rows] == [(mine, "shared")]
    assert sql("SELECT count(*) AS n FROM room_images WHERE origin_image_id = :i", i=theirs)[0].n == 0
    assert theirs not in json.dumps(history(new, ada))
    copy = str(rows[0].id)

    # Its uploader cannot send the copy with a new message (it has its message), nor the original here.
    again = send(new, ada, "again", image_ids=[copy])
    assert (again.status, again.error_code) == (409, "conflict")
    assert send(new, ada, "the original", image_ids=[mine]).status == 404
    # Another member of the fork cannot either, and is not told whose it is.
    carol = person()
    add_member(new, carol, "member")
    stolen = send(new, carol, "mine now", image_ids=[copy])
    assert (stolen.status, stolen.error_code) == (404, "not_found")
    assert image(new, carol, copy).status == 200  # she sees it, on its public message
    assert [m["content"] for m in history(new, ada)] == ["shared"]  # no message was stored
    assert image_rows(new) == rows  # nothing moved
    # Nor does the database let a copy leave its message.
    with pytest.raises(DBAPIError, match="ck_room_images_copy_with_message"), core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE room_images SET message_id = NULL, position = NULL WHERE id = :i"), {"i": copy})
