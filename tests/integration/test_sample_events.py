"""Sample events: ours cover every route, and AWS's own samples pass through our handlers."""

import copy
import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from core.routes import FUNCTIONS, ROUTES
from tests.conftest import ROOT, SHARED, reset_app_state

OWNER_FUNCTIONS = {f.name for f in FUNCTIONS if f.owns_schema}  # as CDK wires DB_USER

OUR_EVENTS = sorted((ROOT / "events").glob("*/*.json"))
# Samples that show a refusal on purpose (their body cannot succeed against the sample world).
EXPECTED_CLIENT_ERRORS = {
    "post_login",
    "post_refresh",
    "post_multipart_complete",
    "delete_multipart",
    "get_multipart",  # the sample asset is ready: no upload in progress (409)
    "post_multipart_parts",
    "get_playback",  # the sample asset is an image: no HLS rendition (409)
}


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def test_every_route_has_a_sample_event() -> None:
    covered = set()
    for path in OUR_EVENTS:
        event = _load(path)
        if "httpMethod" in event:
            covered.add((path.parent.name, event["httpMethod"], event["resource"]))
    missing = [r for r in ROUTES if (r.function, r.method, r.path) not in covered]
    assert missing == []


# The ids our sample events use (events/*/): a user with a session, one post, one comment.
SAMPLE_USER = "3f1c8a9e-0b7d-4e55-9a63-2d4b8c1e7f10"
SAMPLE_SESSION = "9b2e4d6f-1a3c-4e5b-8d7f-0c1e2a3b4c5d"
SAMPLE_POST = "5d1f7a2e-8c3b-4f6a-9e0d-1b2c3d4e5f60"
SAMPLE_COMMENT = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
# Rooms (events/rooms/): the sample user is master of a room with one other member and a human
# message answered by the AI; that member owns a second room with a link invitation.
SAMPLE_ROOM = "4b7e2c1d-9a8f-4e3b-8c5d-6a7b8c9d0e1f"
SAMPLE_ROOM_MEMBER = "8c9d0e1f-2a3b-4c5d-9e6f-7a8b9c0d1e2f"
SAMPLE_MESSAGE = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
SAMPLE_AI_MESSAGE = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
SAMPLE_OTHER_ROOM = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
# Groups (events/rooms/*group*): the sample user manages one with the teammate and a designer in it.
SAMPLE_GROUP = "6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f90"
SAMPLE_DESIGNER = "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a01"
# A fork of the sample room (events/rooms/get_fork.json, events/room_forks/): its copy not started yet.
SAMPLE_FORK = "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
SAMPLE_INVITATION_TOKEN = "sample-invitation-token-kJ8vQ2mX7pL4nR9tW3yZ6bC1dF5gH0"
SAMPLE_ASSET = "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5e7a"
SAMPLE_SHARE = "4e6a8c0d-2f1b-4c3d-8e5f-9a1b3c5d7e9f"
SAMPLE_SHARE_TOKEN = "sample-share-token-0123456789abcdefABCDEF_-xy"
SAMPLE_VIDEO = "9d4f2b6a-1c3e-4a5b-8d7f-0e2a4c6e8b1d"  # transcoding, as events/media/mediaconvert_complete.json expects
# Spaces (events/assets/*space*): the sample user owns a space where the room's teammate is editor;
# "photographer" is no member yet.
SAMPLE_SPACE = "6e1a3c5b-7d9f-4b2a-8c4e-0f1a2b3c4d5e"
SAMPLE_PHOTOGRAPHER = "7f2b4d6c-8e0a-4c3b-9d5f-1a2b3c4d5e6f"
SAMPLE_POST_IMAGE = f"post-images/{SAMPLE_USER}/0123456789abcdef0123456789abcdef.jpg"
# Room images (events/rooms/*image*, events/media/room_image_created.json): one ready and attached to
# the sample message, one uploaded and waiting for the media function.
SAMPLE_ROOM_IMAGE = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
SAMPLE_PENDING_ROOM_IMAGE = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"
SAMPLE_PENDING_ROOM_IMAGE_KEY = f"room-images/{SAMPLE_ROOM}/{SAMPLE_USER}/{SAMPLE_PENDING_ROOM_IMAGE}.png"


@pytest.fixture
def sample_world(db: str, s3_endpoint: str) -> None:
    """What the sample events refer to, so each one takes its real path through the handler."""
    from sqlalchemy import text

    from core import db as core_db

    with core_db.get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, username, password_hash) "
                "VALUES (:u, 'sample@example.com', 'sample', 'x')"
            ),
            {"u": SAMPLE_USER},
        )
        conn.execute(
            text("INSERT INTO auth_sessions (id, user_id) VALUES (:s, :u)"), {"s": SAMPLE_SESSION, "u": SAMPLE_USER}
        )
        conn.execute(
            text("INSERT INTO posts (id, author_id, content, comments_count) VALUES (:p, :u, 'sample post', 1)"),
            {"p": SAMPLE_POST, "u": SAMPLE_USER},
        )
        conn.execute(
            text("INSERT INTO comments (id, post_id, author_id, content) VALUES (:c, :p, :u, 'sample comment')"),
            {"c": SAMPLE_COMMENT, "p": SAMPLE_POST, "u": SAMPLE_USER},
        )
        conn.execute(
            text(
                "INSERT INTO assets (id, owner_id, s3_key, filename, content_type, size, status) "
                "VALUES (:a, :u, 'assets/' || :u || '/' || :a, 'Beach day.jpg', 'image/jpeg', 2048000, 'ready')"
            ),
            {"a": SAMPLE_ASSET, "u": SAMPLE_USER},
        )
        conn.execute(  # a ready JPEG has its metadata-free preview, which a share hands out
            text(
                "INSERT INTO asset_variants (id, asset_id, kind, s3_key, content_type, size) VALUES "
                "(gen_random_uuid(), :a, 'preview', 'variants/' || :u || '/' || :a || '/preview.jpg', 'image/jpeg', 1)"
            ),
            {"a": SAMPLE_ASSET, "u": SAMPLE_USER},
        )
        conn.execute(
            text(
                "INSERT INTO assets (id, owner_id, s3_key, filename, content_type, size, status, status_reason) "
                "VALUES (:a, :u, 'assets/' || :u || '/' || :a, 'clip.mp4', 'video/mp4', 1048576, 'processing', "
                "'transcoding: MediaConvert job 1714565218694-phptj0')"
            ),
            {"a": SAMPLE_VIDEO, "u": SAMPLE_USER},
        )
        conn.execute(
            text(
                "INSERT INTO shares (id, asset_id, owner_id, token_hash, expires_at) "
                "VALUES (:s, :a, :u, :h, now() + interval '7 days')"
            ),
            {
                "s": SAMPLE_SHARE,
                "a": SAMPLE_ASSET,
                "u": SAMPLE_USER,
                "h": hashlib.sha256(SAMPLE_SHARE_TOKEN.encode()).hexdigest(),
            },
        )
        _sample_rooms(conn)
        _sample_spaces(conn)
    _upload_sample_post_image()


def _sample_rooms(conn: Any) -> None:
    from sqlalchemy import text

    ids = {
        "u": SAMPLE_USER,
        "m": SAMPLE_ROOM_MEMBER,
        "r": SAMPLE_ROOM,
        "o": SAMPLE_OTHER_ROOM,
        "h": SAMPLE_MESSAGE,
        "a": SAMPLE_AI_MESSAGE,
        "t": hashlib.sha256(SAMPLE_INVITATION_TOKEN.encode()).hexdigest(),
        "g": SAMPLE_GROUP,
        "d": SAMPLE_DESIGNER,
        "f": SAMPLE_FORK,
        "i": SAMPLE_ROOM_IMAGE,
        "p": SAMPLE_PENDING_ROOM_IMAGE,
        "k": SAMPLE_PENDING_ROOM_IMAGE_KEY,
        "v": json.dumps(
            [
                {
                    "kind": kind,
                    "key": f"variants/room-images/{SAMPLE_ROOM}/{SAMPLE_USER}/{SAMPLE_ROOM_IMAGE}/{kind}.jpg",
                    "width": 32,
                    "height": 24,
                    "content_type": "image/jpeg",
                    "size": 100,
                    "version_id": None,
                }
                for kind in ("thumb", "preview")
            ]
        ),
    }
    for statement in (
        "INSERT INTO users (id, email, username, password_hash) VALUES (:m, 'teammate@example.com', 'teammate', 'x')",
        "INSERT INTO rooms (id, name, last_seq) VALUES (:r, 'Design', 2), (:o, 'Teammate room', 0)",
        "INSERT INTO room_members (room_id, user_id, role) VALUES (:r, :u, 'master'), (:r, :m, 'member'), "
        "(:o, :m, 'master')",
        "INSERT INTO messages (id, room_id, seq, sender_id, kind, content, requester_id) "
        "VALUES (:h, :r, 1, :u, 'human', 'What did we decide?', :u)",
        "INSERT INTO messages (id, room_id, seq, kind, content, requester_id, reply_to_id) "
        "VALUES (:a, :r, 2, 'ai', 'Ship on Friday.', :u, :h)",
        "INSERT INTO room_invitations (id, room_id, token_hash, role, created_by, expires_at) "
        "VALUES (gen_random_uuid(), :o, :t, 'member', :m, now() + interval '1 day')",
        "INSERT INTO users (id, email, username, password_hash) VALUES (:d, 'designer@example.com', 'designer', 'x')",
        "INSERT INTO groups (id, name, manager_id) VALUES (:g, 'Designers', :u)",
        "INSERT INTO group_members (group_id, user_id) VALUES (:g, :m), (:g, :d)",
        "INSERT INTO rooms (id, name, archived_at, forked_from_room_id, forked_at_seq) "
        "VALUES (:f, 'Design, take two', now(), :r, 2)",
        "INSERT INTO room_members (room_id, user_id, role) VALUES (:f, :u, 'master')",
        "INSERT INTO room_forks (room_id, source_room_id, requested_by, up_to_seq, total) VALUES (:f, :r, :u, 2, 2)",
        "INSERT INTO room_images (id, room_id, uploader_id, message_id, position, image_key, content_type, size, "
        "status, variants) VALUES (:i, :r, :u, :h, 0, 'room-images/' || :r || '/' || :u || '/' || :i || '.png', "
        "'image/png', 1024, 'ready', CAST(:v AS jsonb))",
        "INSERT INTO room_images (id, room_id, uploader_id, image_key, content_type, size) "
        "VALUES (:p, :r, :u, :k, 'image/png', 1024)",
    ):
        conn.execute(text(statement), ids)


def _sample_spaces(conn: Any) -> None:
    from sqlalchemy import text

    ids = {"u": SAMPLE_USER, "m": SAMPLE_ROOM_MEMBER, "s": SAMPLE_SPACE, "p": SAMPLE_PHOTOGRAPHER}
    for statement in (
        "INSERT INTO users (id, email, username, password_hash) VALUES (:p, 'photo@example.com', 'photographer', 'x')",
        "INSERT INTO spaces (id, name) VALUES (:s, 'Holiday photos')",
        "INSERT INTO space_members (space_id, user_id, role) VALUES (:s, :u, 'owner'), (:s, :m, 'editor')",
    ):
        conn.execute(text(statement), ids)


def _upload_sample_post_image() -> None:
    import io

    from PIL import Image

    from core import storage

    jpeg = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(jpeg, "JPEG")
    storage.s3_client().put_object(Bucket="assets-test", Key=SAMPLE_POST_IMAGE, Body=jpeg.getvalue())
    png = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 120, 200)).save(png, "PNG")
    storage.s3_client().put_object(Bucket="assets-test", Key=SAMPLE_PENDING_ROOM_IMAGE_KEY, Body=png.getvalue())


@pytest.mark.parametrize("path", OUR_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_our_samples_run_through_their_handler(
    path: Path, sample_world: None, owner_engine: Engine, monkeypatch: pytest.MonkeyPatch, request: Any
) -> None:
    if path.parent.name in OWNER_FUNCTIONS:  # as CDK wires it: migrate connects as the owner
        monkeypatch.setenv("DATABASE_URL", owner_engine.url.render_as_string(hide_password=False))
        reset_app_state()
        request.addfinalizer(reset_app_state)  # the next test's functions connect as the app's role again
    handler = importlib.import_module(f"{path.parent.name}.handler").handler
    event = _load(path)
    if event.get("type") == "REQUEST":  # an authorizer sample holds a placeholder token
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            handler(event, None)
        return
    response = handler(event, None)
    if "statusCode" in response:
        assert response["statusCode"] < 400 or path.stem in EXPECTED_CLIENT_ERRORS, response
        assert response["statusCode"] < 500, response


def test_the_real_api_gateway_sample_reaches_our_handler(db: str) -> None:
    """AWS's own REST proxy event, rewritten to our path, with everything else as AWS sends it."""
    from ops.handler import handler

    event = copy.deepcopy(_load(SHARED / "aws-events" / "apiGatewayProxyEvent.json"))
    event.update(resource="/api/v1/health", path="/api/v1/health", httpMethod="GET")
    event["requestContext"].update(resourcePath="/api/v1/health", httpMethod="GET")
    response = handler(event, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok", "db": "ok"}
    assert response["multiValueHeaders"]["X-Request-Id"] == [event["requestContext"]["requestId"]]


def _signed_in_token() -> str:
    from tests.client import call

    answer = call(
        "POST", "/api/v1/auth/register", {"email": "aws@example.com", "username": "aws", "password": "p" * 12}
    )
    assert answer.status == 201
    return str(answer.body["access_token"])


@pytest.mark.parametrize("sample", ["apiGatewayAuthorizerRequestEvent.json", "apiGatewayAuthorizerTokenEvent.json"])
def test_the_real_authorizer_samples_reach_our_authorizer(sample: str, db: str) -> None:
    from authorizer.handler import handler

    token = _signed_in_token()
    event = copy.deepcopy(_load(SHARED / "aws-events" / sample))
    if event["type"] == "REQUEST":
        event["headers"]["Authorization"] = f"Bearer {token}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {token}"]
    else:
        event["authorizationToken"] = f"Bearer {token}"
    result = handler(event, None)
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert result["context"]["user_id"] == result["principalId"]
    resource = result["policyDocument"]["Statement"][0]["Resource"]
    assert resource.startswith(event["methodArn"].split("/")[0]) and resource.endswith("/*/*")
