"""Blocking and unblocking accounts, and the list of blocked accounts.

Who may block whom: moderators block citizens only (never staff); admins block anyone; nobody
blocks themselves. Blocking ends every session of the account at once (and a blocked account's
API tokens are refused too); it cannot sign in; nothing it wrote or voted is deleted, and
unblocking restores it as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.accounts import sessions
from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotFound, PermissionDenied
from webapp.kernel.security import can, require_permission
from webapp.kernel.storage.models import AuditLog, User
from webapp.moderation.moderation import clean_reason


@dataclass(frozen=True)
class BlockedUser:
    id: int
    display_name: str
    email: str
    role: str
    reason: str
    blocked_at: datetime | None
    blocked_by: str | None
    can_unblock: bool


def may_block(actor: CurrentUser, target_id: int, target_role: str) -> bool:
    """Moderators: citizens only; admins: anyone; never oneself."""
    if actor.id == target_id or not can(actor.role, "moderate"):
        return False
    return actor.role == "admin" or target_role == "citizen"


def _lock_user(session: Session, user_id: int) -> User:
    user = session.scalar(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise NotFound("No such account.")
    return user


def _set(session: Session, actor: CurrentUser, user_id: int, blocked: bool, reason: str) -> None:
    user = _lock_user(session, user_id)
    if user.id == actor.id:
        raise PermissionDenied("You cannot block or unblock your own account.")
    if not may_block(actor, user.id, user.role):
        raise PermissionDenied("Moderators may block and unblock citizens only.")
    if user.blocked and blocked:
        raise Conflict("This account is already blocked.")
    if not user.blocked and not blocked:
        raise Conflict("This account is not blocked.")
    before = {"blocked": user.blocked, "blocked_reason": user.blocked_reason}
    user.blocked = blocked
    user.blocked_reason = reason if blocked else None
    if blocked:  # signed out everywhere at once, not only at each session's next request
        sessions.end_all_and_record(
            session, user.id, "sessions_ended", reason="blocked", by=actor.id
        )
    audit.record(
        session,
        actor.id,
        "user.block" if blocked else "user.unblock",
        "user",
        user.id,
        reason=reason,
        details={
            "before": before,
            "after": {"blocked": user.blocked, "blocked_reason": user.blocked_reason},
            "role": user.role,
        },
    )
    session.flush()


def block_user(session: Session, actor: CurrentUser, user_id: int, reason: object) -> None:
    """Block an account with a reason (required)."""
    require_permission(actor.role, "moderate")
    _set(session, actor, user_id, True, clean_reason(reason))


def unblock_user(session: Session, actor: CurrentUser, user_id: int, reason: object) -> None:
    """Unblock an account (the reason is optional and kept in the audit log)."""
    require_permission(actor.role, "moderate")
    _set(session, actor, user_id, False, clean_reason(reason, required=False))


def list_blocked(
    session: Session, actor: CurrentUser, limit: int, offset: int
) -> tuple[list[BlockedUser], int]:
    """Blocked accounts, most recently blocked first, with who blocked them and when."""
    total = int(session.scalar(select(func.count()).where(User.blocked.is_(True))) or 0)
    last_block = (
        select(AuditLog.target_id.label("uid"), func.max(AuditLog.id).label("entry"))
        .where(AuditLog.action == "user.block", AuditLog.target_type == "user")
        .group_by(AuditLog.target_id)
        .subquery()
    )
    actor_user = select(User.id, User.display_name).subquery()
    rows = session.execute(
        select(User, AuditLog.created_at, actor_user.c.display_name)
        .outerjoin(last_block, last_block.c.uid == User.id)
        .outerjoin(AuditLog, AuditLog.id == last_block.c.entry)
        .outerjoin(actor_user, actor_user.c.id == AuditLog.actor_id)
        .where(User.blocked.is_(True))
        .order_by(last_block.c.entry.desc().nulls_last(), User.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        BlockedUser(
            id=u.id,
            display_name=u.display_name,
            email=u.email,
            role=u.role,
            reason=u.blocked_reason or "",
            blocked_at=at,
            blocked_by=by,
            can_unblock=may_block(actor, u.id, u.role),
        )
        for u, at, by in rows
    ]
    return items, total
