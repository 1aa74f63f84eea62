"""Who may do what in a shared space, and with an asset: the one lookup every such route starts with.

Roles, lowest first: viewer (read, download, variants), editor (also upload, rename, tag, move out,
delete), owner (also members, shares, the space itself). A space that does not exist or that the
caller is not a member of is the same 404, so a space's existence never leaks; a member whose role
is too low gets 403. An asset in the caller's personal library is theirs alone, every capability;
an asset in a space goes by the caller's role in it (its uploader included: one who left the
space no longer sees it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.engine import Row

from core.errors import Forbidden, NotFound
from core.models.assets import asset_table
from core.models.spaces import SPACE_ROLES, space_member_table, space_table

RANK = {role: rank for rank, role in enumerate(SPACE_ROLES)}
VIEWER, EDITOR, OWNER = SPACE_ROLES

SPACE_COLUMNS = (
    space_table.c.id,
    space_table.c.name,
    space_table.c.quota_bytes,
    space_table.c.created_at,
    space_table.c.updated_at,
)


def below(role: str, other: str) -> bool:
    """True when `role` is strictly lower than `other`."""
    return RANK[role] < RANK[other]


@dataclass(frozen=True)
class SpaceView:
    """A space as one member sees it."""

    id: uuid.UUID
    name: str
    quota_bytes: int | None
    created_at: datetime
    updated_at: datetime
    my_role: str

    @classmethod
    def of(cls, row: Any) -> SpaceView:
        return cls(row.id, row.name, row.quota_bytes, row.created_at, row.updated_at, row.role)

    def at_least(self, role: str) -> bool:
        return RANK[self.my_role] >= RANK[role]


def space_for(
    session: Connection,
    space_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    at_least: str = VIEWER,
    lock: bool = False,
    lock_space: bool = False,
) -> SpaceView:
    """The space as `user_id` sees it, if they hold `at_least`; one statement.

    `lock` takes a share lock on the caller's membership row, so their role cannot change under a
    management action until it commits; `lock_space` also locks the space row (FOR UPDATE): what
    changes the whole space (delete, member count) goes one at a time.
    """
    member = space_member_table.c
    query = (
        select(*SPACE_COLUMNS, member.role)
        .join(space_member_table, and_(member.space_id == space_table.c.id, member.user_id == user_id))
        .where(space_table.c.id == space_id)
    )
    if lock_space:
        query = query.with_for_update(of=space_table)
    elif lock:
        query = query.with_for_update(read=True, of=space_member_table)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("Space not found")
    space = SpaceView.of(row)
    if not space.at_least(at_least):
        raise Forbidden(f"This needs the {at_least} role or higher in the space")
    return space


@dataclass(frozen=True)
class AssetAccess:
    asset: Row[Any]  # the asset's columns (and `role`)
    role: str | None  # the caller's role in the asset's space; None: a personal asset (theirs)


def asset_for(
    session: Connection,
    asset_id: uuid.UUID,
    user_id: uuid.UUID,
    at_least: str = VIEWER,
    *,
    lock: bool = False,
    uploader: bool = False,
) -> AssetAccess:
    """The asset, if the caller may act on it at `at_least`: theirs in their personal library, or
    in a space where they hold that role. Anything they cannot see is 404; `uploader`: also only
    the asset's own uploader (its multipart upload, moves), else 403."""
    asset, member = asset_table.c, space_member_table.c
    query = (
        select(asset_table, member.role)
        .outerjoin(space_member_table, and_(member.space_id == asset.space_id, member.user_id == user_id))
        .where(
            asset.id == asset_id,
            or_(and_(asset.space_id.is_(None), asset.owner_id == user_id), member.role.is_not(None)),
        )
    )
    if lock:
        query = query.with_for_update(of=asset_table)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("Asset not found")
    if row.role is not None and below(row.role, at_least):
        raise Forbidden(f"This needs the {at_least} role or higher in the asset's space")
    if uploader and row.owner_id != user_id:
        raise Forbidden("Only the asset's uploader may do this")
    return AssetAccess(row, row.role)


def lock_spaces(session: Connection, space_ids: set[uuid.UUID | None]) -> None:
    """Lock these spaces' rows (FOR UPDATE), in id order.

    The one lock order of every write that touches both: assets first (`asset_for(lock=True)`),
    then spaces by id (their counters: assets.quota; a deletion locks the space's assets before
    the space), so no two of them deadlock."""
    wanted = sorted(s for s in space_ids if s is not None)
    if wanted:
        space = space_table.c
        session.execute(select(space.id).where(space.id.in_(wanted)).order_by(space.id).with_for_update())
