"""Notifications: what citizens should know about ideas they wrote or support.

Writers (merges, official answers, status changes, moderation) call :func:`notify_users` or
:func:`notify_supporters` in their own transaction, so a notification exists exactly when the
change it announces was committed. Supporters are selected in SQL (``INSERT … SELECT``), never
loaded into Python: a merge of ideas with 100,000 supporters is one statement.

``email`` says whether an e-mail is due (the caller passes ``settings.email_enabled``): the row
is then ``pending``, or ``skipped`` for a user who turned e-mail off; without it the row has no
e-mail state. The sender (``webapp.notifications.mailer``) sends the pending ones in the background.
What ``data`` may hold is in ``webapp.notifications.notification_facts``; how each kind reads, in
the template ``notifications/_notices.html``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Integer, String, case, insert, literal, literal_column, select, union
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import NOTIFICATION_KINDS, Idea, Notification, User, Vote, utcnow


def _check(kind: str) -> None:
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")


def _insert_from(
    session: Session,
    users: Any,
    kind: str,
    idea_id: int | None,
    data: dict[str, Any],
    email: bool,
) -> int:
    """Insert one notification per distinct id in the ``users`` subquery (column ``uid``)."""
    sub = users.subquery()
    email_state = (
        case((User.email_notifications.is_(True), literal("pending")), else_=literal("skipped"))
        if email
        else literal(None, String)
    )
    query = (
        select(
            User.id,
            literal(kind, String),
            literal(idea_id, Integer),
            literal(data, JSON),
            literal(utcnow()),
            email_state,
            literal_column("0"),
        )
        .select_from(sub)
        .join(User, User.id == sub.c.uid)
        .where(User.blocked.is_(False))
    )
    stmt = insert(Notification).from_select(
        ["user_id", "kind", "idea_id", "data", "created_at", "email_state", "email_attempts"],
        query,
    )
    # rowcount of INSERT … SELECT is not reported by every driver: count the returned ids.
    return len(session.execute(stmt.returning(Notification.id)).all())


def notify_users(
    session: Session,
    user_ids: Iterable[int],
    kind: str,
    idea_id: int | None,
    data: dict[str, Any],
    *,
    email: bool,
    exclude: Iterable[int] = (),
) -> int:
    """One notification to each of ``user_ids`` (duplicates and ``exclude`` dropped)."""
    _check(kind)
    wanted = sorted(set(user_ids) - set(exclude))
    if not wanted:
        return 0
    total = 0
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        total += _insert_from(
            session,
            select(User.id.label("uid")).where(User.id.in_(chunk)),
            kind,
            idea_id,
            data,
            email,
        )
    return total


def notify_supporters(
    session: Session,
    idea_ids: Iterable[int],
    kind: str,
    idea_id: int | None,
    data: dict[str, Any],
    *,
    email: bool,
    authors: bool = True,
    exclude: Iterable[int] = (),
) -> int:
    """One notification to every distinct supporter (and, with ``authors``, author) of the ideas.

    A citizen who supported several of ``idea_ids`` gets one notification. ``exclude`` (e.g. the
    moderator or official who acted) gets none.
    """
    _check(kind)
    ids = sorted(set(idea_ids))
    if not ids:
        return 0
    skip = sorted(set(exclude))
    voters = select(Vote.user_id.label("uid")).where(Vote.idea_id.in_(ids), Vote.value == 1)
    users: Any = voters
    if authors:
        writers = select(Idea.author_id.label("uid")).where(
            Idea.id.in_(ids), Idea.author_id.is_not(None)
        )
        users = union(voters, writers)
    sub = users.subquery()
    query = select(sub.c.uid)
    if skip:
        query = query.where(sub.c.uid.not_in(skip))
    return _insert_from(session, query, kind, idea_id, data, email)
