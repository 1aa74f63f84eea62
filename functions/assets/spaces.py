"""Shared spaces and their members.

Rules (issue 20): the creator is the owner; the owner manages any member below owner and grants
any role below owner; an editor manages viewers only and grants viewer only; anyone may leave but
the owner, whose role changes hands only by transfer (the old owner becomes editor). Every change
is one conditional statement under the caller's locked membership, and every one is an audit
event of the space. Share links follow the space: deleting it revokes the links of its assets
(which go back to their uploaders' personal libraries), and a member who leaves or is removed
loses the links they made of its assets.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from assets import scopes
from assets.settings import AssetSettings
from assets.space_access import EDITOR, OWNER, SPACE_COLUMNS, SpaceView, below, lock_spaces, space_for
from core import audit, memberships
from core.errors import Conflict, Forbidden, NotFound
from core.memberships import MemberView
from core.models.assets import asset_table, share_table
from core.models.spaces import space_member_table, space_table
from core.models.user import user_table
from core.pagination import keyset, page_of

SCOPE = scopes.SPACES
MEMBERS_SCOPE = scopes.SPACE_MEMBERS
UNSET: Any = object()  # a PATCH field not sent


# ------------------------------------------------------------------ spaces


def create(session: Connection, user_id: uuid.UUID, name: str, quota_bytes: int | None, ip: str) -> SpaceView:
    space_id = uuid.uuid4()
    session.execute(insert(space_table).values(id=space_id, name=name, quota_bytes=quota_bytes))
    session.execute(insert(space_member_table).values(space_id=space_id, user_id=user_id, role=OWNER))
    _audit(session, "space.created", user_id, space_id, ip, target_type="space", target_id=space_id)
    return space_for(session, space_id, user_id)


def default_quota() -> int | None:
    return AssetSettings.current().space_default_quota_bytes


def mine(session: Connection, user_id: uuid.UUID, limit: int, cursor: str | None) -> tuple[list[SpaceView], str | None]:
    """The spaces I am a member of, with my role, the latest joined first."""
    sm = space_member_table.c
    query = (
        select(*SPACE_COLUMNS, sm.role, sm.joined_at)
        .join(space_member_table, sm.space_id == space_table.c.id)
        .where(sm.user_id == user_id)
    )
    query = keyset(query, (sm.joined_at, sm.space_id), SCOPE, cursor, limit)
    rows, next_cursor = page_of(list(session.execute(query).all()), limit, SCOPE, lambda r: (r.joined_at, r.id))
    return [SpaceView.of(r) for r in rows], next_cursor


def update_space(
    session: Connection, space_id: uuid.UUID, user_id: uuid.UUID, name: str | None, quota_bytes: Any, ip: str
) -> SpaceView:
    """Owner: rename, set or lift the quota (a quota under what the space holds refuses new bytes)."""
    space_for(session, space_id, user_id, at_least=OWNER, lock=True)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if quota_bytes is not UNSET:
        values["quota_bytes"] = quota_bytes
    if values:
        session.execute(update(space_table).where(space_table.c.id == space_id).values(**values, updated_at=func.now()))
        data = {k: v for k, v in values.items() if k == "quota_bytes"}
        _audit(session, "space.updated", user_id, space_id, ip, target_type="space", target_id=space_id, data=data)
    return space_for(session, space_id, user_id)


def remove_space(session: Connection, space_id: uuid.UUID, user_id: uuid.UUID, ip: str) -> None:
    """Owner. Its assets go back to their uploaders' personal libraries (the foreign key's SET
    NULL), every link to them is revoked, its members go with it. Its assets are locked, then its
    row (the one lock order, assets.space_access.lock_spaces), so an upload or a move into it
    either commits before or finds no space, and a completion or move in flight never deadlocks."""
    space_for(session, space_id, user_id, at_least=OWNER, lock=True)
    asset = asset_table.c
    session.execute(select(asset.id).where(asset.space_id == space_id).order_by(asset.id).with_for_update())
    lock_spaces(session, {space_id})
    in_space = select(asset.id).where(asset.space_id == space_id).scalar_subquery()
    revoke_shares(session, share_table.c.asset_id.in_(in_space), user_id, space_id, ip, "space_deleted")
    _audit(session, "space.deleted", user_id, space_id, ip, target_type="space", target_id=space_id)
    session.execute(delete(space_table).where(space_table.c.id == space_id))


def revoke_shares(
    session: Connection, where: Any, user_id: uuid.UUID, space_id: uuid.UUID | None, ip: str, reason: str
) -> list[uuid.UUID]:
    """Revoke every live link `where` selects, each an audit event (of the space, if any)."""
    share = share_table.c
    revoked = list(
        session.scalars(
            update(share_table)
            .where(where, share.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(share.id)
        )
    )
    audit.record_all(
        session,
        [
            audit.event(
                "share.revoked",
                user_id=user_id,
                ip=ip,
                target_type="share",
                target_id=share_id,
                space_id=space_id,
                data={"reason": reason},
            )
            for share_id in revoked
        ],
    )
    return revoked


def _audit(
    session: Connection,
    action: str,
    user_id: uuid.UUID,
    space_id: uuid.UUID,
    ip: str,
    *,
    target_type: str,
    target_id: uuid.UUID,
    data: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        action,
        user_id=user_id,
        ip=ip,
        target_type=target_type,
        target_id=target_id,
        space_id=space_id,
        data=data,
    )


# ------------------------------------------------------------------ members


def member(session: Connection, space_id: uuid.UUID, user_id: uuid.UUID) -> MemberView:
    return memberships.member(session, space_member_table, space_member_table.c.space_id == space_id, user_id)


def members(
    session: Connection, space_id: uuid.UUID, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[MemberView], str | None]:
    """Viewer+. In joining order."""
    space_for(session, space_id, user_id)
    of_space = space_member_table.c.space_id == space_id
    return memberships.page(session, space_member_table, of_space, MEMBERS_SCOPE, limit, cursor)


def _manages(actor: SpaceView, target_role: str, role: str | None = None) -> None:
    if not actor.at_least(EDITOR) or not below(target_role, actor.my_role) or (role and not below(role, actor.my_role)):
        raise Forbidden("You may only manage members, and grant roles, below your own role")


def _target_role(session: Connection, space_id: uuid.UUID, user_id: uuid.UUID) -> str:
    sm = space_member_table.c
    role = session.scalar(select(sm.role).where(sm.space_id == space_id, sm.user_id == user_id).with_for_update())
    if role is None:
        raise NotFound("Member not found")
    return role


def add_member(
    session: Connection, space_id: uuid.UUID, actor_id: uuid.UUID, username: str, role: str, ip: str
) -> MemberView:
    """Owner: viewer or editor; editor: viewer. The space row is locked, so the member limit holds
    under concurrent adds."""
    actor = space_for(session, space_id, actor_id, at_least=EDITOR, lock_space=True)
    if not below(role, actor.my_role):
        raise Forbidden("You may only grant roles below your own role")
    user_id = session.scalar(select(user_table.c.id).where(func.lower(user_table.c.username) == username.lower()))
    if user_id is None:  # a conflict, not a 404: the URL names the space, which exists
        detail = {"field": "username", "in": "body", "message": "no such user", "type": "unknown_user"}
        raise Conflict("No user with that username", details=[detail])
    sm = space_member_table.c
    if session.scalar(select(sm.role).where(sm.space_id == space_id, sm.user_id == user_id)):
        raise Conflict("That user is already a member of this space")
    limit = AssetSettings.current().space_member_limit
    count = session.scalar(select(func.count()).select_from(space_member_table).where(sm.space_id == space_id))
    if (count or 0) >= limit:
        raise Conflict(f"A space has at most {limit} members")
    session.execute(insert(space_member_table).values(space_id=space_id, user_id=user_id, role=role))
    _audit(
        session,
        "space.member_added",
        actor_id,
        space_id,
        ip,
        target_type="user",
        target_id=user_id,
        data={"role": role},
    )
    return member(session, space_id, user_id)


def change_role(
    session: Connection, space_id: uuid.UUID, actor_id: uuid.UUID, target_id: uuid.UUID, role: str, ip: str
) -> MemberView:
    actor = space_for(session, space_id, actor_id, at_least=EDITOR, lock=True)
    current = _target_role(session, space_id, target_id)
    _manages(actor, current, role)
    if role != current:
        sm = space_member_table.c
        session.execute(
            update(space_member_table).where(sm.space_id == space_id, sm.user_id == target_id).values(role=role)
        )
        _audit(
            session,
            "space.member_role_changed",
            actor_id,
            space_id,
            ip,
            target_type="user",
            target_id=target_id,
            data={"from": current, "role": role},
        )
    return member(session, space_id, target_id)


def remove_member(session: Connection, space_id: uuid.UUID, actor_id: uuid.UUID, target_id: uuid.UUID, ip: str) -> None:
    """Leave (yourself; not the owner), or remove a member below you (editor+). The links the
    member made of the space's assets are revoked with their membership."""
    actor = space_for(session, space_id, actor_id, lock=True)
    if target_id == actor_id:
        if actor.my_role == OWNER:
            raise Conflict("The owner cannot leave; transfer ownership first (PATCH /spaces/{space_id}/owner)")
        action = "space.member_left"
    else:
        _manages(actor, _target_role(session, space_id, target_id))
        action = "space.member_removed"
    sm, share = space_member_table.c, share_table.c
    session.execute(delete(space_member_table).where(sm.space_id == space_id, sm.user_id == target_id))
    in_space = select(asset_table.c.id).where(asset_table.c.space_id == space_id).scalar_subquery()
    revoke_shares(session, (share.owner_id == target_id) & share.asset_id.in_(in_space), actor_id, space_id, ip, action)
    _audit(session, action, actor_id, space_id, ip, target_type="user", target_id=target_id)


def transfer(
    session: Connection, space_id: uuid.UUID, actor_id: uuid.UUID, target_id: uuid.UUID, ip: str
) -> MemberView:
    """Owner only: the target becomes owner, the old owner editor, in one transaction. Demoting
    first keeps the one-owner index satisfied; the demotion is conditional, so of two racing
    transfers the second finds no owner to demote."""
    space_for(session, space_id, actor_id, at_least=OWNER)
    if target_id == actor_id:
        raise Conflict("You are already the owner")
    sm = space_member_table.c
    target = session.scalar(select(sm.role).where(sm.space_id == space_id, sm.user_id == target_id).with_for_update())
    if target is None:
        detail = {"field": "user_id", "in": "body", "message": "not a member of this space", "type": "membership"}
        raise Conflict("Ownership can only go to a member of the space", details=[detail])
    demoted = session.execute(
        update(space_member_table)
        .where(sm.space_id == space_id, sm.user_id == actor_id, sm.role == OWNER)
        .values(role=EDITOR)
        .returning(sm.user_id)
    ).first()
    if demoted is None:
        raise Forbidden("Only the owner may transfer ownership")
    session.execute(
        update(space_member_table).where(sm.space_id == space_id, sm.user_id == target_id).values(role=OWNER)
    )
    _audit(
        session,
        "space.owner_transferred",
        actor_id,
        space_id,
        ip,
        target_type="user",
        target_id=target_id,
        data={"from": target},
    )
    return member(session, space_id, target_id)
