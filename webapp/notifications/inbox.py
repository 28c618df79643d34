"""A citizen's notifications page: list, unread count, mark as read, the e-mail preference.

Every function takes the viewer's id and touches only that viewer's rows: a notification of
someone else is "not found", never "forbidden", so ids reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.kernel.dto import Page
from webapp.kernel.errors import NotFound
from webapp.kernel.storage.models import Notification, User, utcnow
from webapp.notifications.notification_facts import (
    Facts,
    facts,
    target_anchor,
    target_idea,
    target_poll,
    target_project,
)
from webapp.notifications.notifications import add_languages, mark_undone

MAX_PAGE = 10_000


@dataclass(frozen=True)
class NotificationView:
    id: int
    kind: str
    idea_id: int | None
    target_idea_id: int | None
    data: dict[str, Any]
    facts: Facts  # what ``data`` says, checked (the page words it: notifications/_notices.html)
    created_at: datetime
    read_at: datetime | None
    target_project_id: int | None = None  # ``results``: the project's results page
    target_poll_id: int | None = None  # ``poll``: the poll that opened

    @property
    def linked(self) -> bool:
        """Whether the notification leads somewhere (an idea, a project's results, a poll)."""
        return (
            self.target_idea_id is not None
            or self.target_project_id is not None
            or self.target_poll_id is not None
        )

    @property
    def unread(self) -> bool:
        return self.read_at is None


@dataclass(frozen=True)
class Inbox:
    """One page of notifications and what the page around it shows."""

    page: Page[NotificationView]
    unread: int
    newest_id: int  # "mark all as read" marks up to this one: nothing that arrived later
    email_notifications: bool


def unread_count(session: Session, user_id: int) -> int:
    """Unread notifications of a user (one COUNT on ix_notifications_user_unread)."""
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(session.scalar(query) or 0)


def _data(row: Notification) -> dict[str, Any]:
    return dict(row.data) if isinstance(row.data, dict) else {}


def _view(row: Notification, data: dict[str, Any]) -> NotificationView:
    return NotificationView(
        id=row.id,
        kind=row.kind,
        idea_id=row.idea_id,
        target_idea_id=target_idea(row.kind, row.idea_id, data),
        data=data,
        facts=facts(row.kind, row.idea_id, data),
        created_at=row.created_at,
        read_at=row.read_at,
        target_project_id=target_project(row.kind, data),
        target_poll_id=target_poll(row.kind, data),
    )


def inbox(session: Session, user_id: int, page: int, size: int) -> Inbox:
    """Newest first, ``size`` a page."""
    number = min(max(1, page), MAX_PAGE)
    total = int(session.scalar(select(func.count()).where(Notification.user_id == user_id)) or 0)
    rows = session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(size)
        .offset((number - 1) * size)
    ).all()
    newest = session.scalar(
        select(func.max(Notification.id)).where(Notification.user_id == user_id)
    )
    wants_email = session.scalar(select(User.email_notifications).where(User.id == user_id))
    data = [_data(r) for r in rows]
    mark_undone(session, zip((r.kind for r in rows), data, strict=True))
    add_languages(
        session, zip((r.kind for r in rows), (r.idea_id for r in rows), data, strict=True)
    )
    return Inbox(
        page=Page([_view(r, d) for r, d in zip(rows, data, strict=True)], number, size, total),
        unread=unread_count(session, user_id),
        newest_id=int(newest or 0),
        email_notifications=bool(wants_email),
    )


def _own(session: Session, user_id: int, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound("Notification not found.")
    return row


def mark_read(session: Session, user_id: int, notification_id: int) -> bool:
    """Mark one notification read; False if it already was."""
    row = _own(session, user_id, notification_id)
    if row.read_at is not None:
        return False
    row.read_at = utcnow()
    session.flush()
    return True


def mark_all_read(session: Session, user_id: int, up_to_id: int | None = None) -> int:
    """Mark the user's unread notifications read (only ids <= ``up_to_id`` when given)."""
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if up_to_id is not None:
        stmt = stmt.where(Notification.id <= up_to_id)
    ids = session.execute(stmt.values(read_at=utcnow()).returning(Notification.id)).all()
    return len(ids)


def open_notification(
    session: Session, user_id: int, notification_id: int
) -> tuple[str, dict[str, int], str] | None:
    """Mark a notification read; return where it leads — a route name, its parameters and the
    anchor on the page (the idea, a project's results, a poll) — or None if nowhere."""
    row = _own(session, user_id, notification_id)
    if row.read_at is None:
        row.read_at = utcnow()
    data = _data(row)
    project_id = target_project(row.kind, data)
    if project_id is not None:
        return ("project_results", {"project_id": project_id}, "")
    poll_id = target_poll(row.kind, data)
    if poll_id is not None:
        return ("poll", {"poll_id": poll_id}, "")
    mark_undone(session, [(row.kind, data)])
    target = target_idea(row.kind, row.idea_id, data)
    return None if target is None else ("idea", {"idea_id": target}, target_anchor(row.kind, data))


def set_email_notifications(session: Session, user_id: int, enabled: bool) -> bool:
    """Turn e-mail of notifications on or off; returns the value stored.

    Turning it off also skips the e-mails still waiting, so none arrives after the click.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    user.email_notifications = enabled
    if not enabled:
        session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.email_state == "pending")
            .values(email_state="skipped", email_next_at=None)
        )
    session.flush()
    return enabled
