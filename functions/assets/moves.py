"""Moving an asset between a user's personal library and shared spaces (issue 20).

Only the asset's uploader moves it, and only as an editor (or owner) of both ends: the space it
leaves and the space it enters (the personal library is always theirs). Bytes leave the one
space's counters and enter the other's under its quota (413 quota_exceeded). Share links follow
the asset's space: a move revokes every live link of the asset.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy.engine import Row

from assets import quota
from assets.space_access import EDITOR, asset_for, lock_spaces, space_for
from assets.spaces import revoke_shares
from core import audit
from core.errors import Conflict
from core.models.assets import asset_table, share_table


def move(session: Connection, asset_id: uuid.UUID, user_id: uuid.UUID, target: uuid.UUID | None, ip: str) -> Row[Any]:
    asset = asset_for(session, asset_id, user_id, EDITOR, lock=True, uploader=True).asset
    source = asset.space_id
    if target == source:
        return asset  # already there: nothing changes, no link is revoked
    if target is not None:
        space_for(session, target, user_id, at_least=EDITOR)
    if asset.upload_id:
        raise Conflict("The asset's upload is still in progress; complete or abort it first")
    lock_spaces(session, {source, target})  # assets, then spaces by id: the one lock order
    if target is not None:
        quota.take(session, target, asset.size, multipart=False)
    if source is not None:
        quota.give_back(session, source, asset.size, multipart=False)
    moved = session.execute(
        update(asset_table).where(asset_table.c.id == asset.id).values(space_id=target).returning(asset_table)
    ).one()
    revoke_shares(session, share_table.c.asset_id == asset.id, user_id, source, ip, "asset.moved")
    audit.record_all(
        session,
        [
            audit.event(
                action,
                user_id=user_id,
                ip=ip,
                target_type="asset",
                target_id=asset.id,
                space_id=space_id,
                data=data,
            )
            for space_id, action, data in (
                (source, "asset.moved_out", {"to": str(target) if target else None}),
                (target, "asset.moved_in", {"from": str(source) if source else None}),
            )
            if space_id is not None
        ],
    )
    return moved
