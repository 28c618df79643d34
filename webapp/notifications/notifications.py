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

Merges and unmerges: a ``merged`` notification stores its ``merge_id``. An unmerge tells exactly
the citizens who were told about that merge (:func:`notify_unmerge`), and from then on the old
``merged`` notification reads as history ("was merged … the merge was undone later"): the inbox
and the mailer look up which merges are undone (:func:`undone_merges`) when they read them, so
the wording is right after any sequence of merges and unmerges (a merge again is a new merge,
with its own notifications that read as current).

Comments: a new comment notifies the idea's author, a reply the author of the comment it
answers (``webapp.ideas.comments``); hiding a comment withdraws those notifications
(:func:`withdraw_comment_notices`), so a hidden comment never notifies anyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    String,
    case,
    delete,
    insert,
    literal,
    literal_column,
    select,
    union,
)
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import (
    NOTIFICATION_KINDS,
    Idea,
    IdeaMerge,
    Notification,
    User,
    Vote,
    utcnow,
)

REPLY_KINDS = ("comment", "reply")


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


def notify_selected(
    session: Session, users: Any, kind: str, data: dict[str, Any], *, email: bool
) -> int:
    """One notification to each user that ``users`` selects (a SELECT whose one column is
    labelled ``uid``), in one ``INSERT … SELECT``: an audience of a million is one statement.
    Blocked users are skipped; the caller makes ``users`` distinct."""
    _check(kind)
    return _insert_from(session, users, kind, None, data, email)


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


def notify_unmerge(
    session: Session,
    merge_id: int,
    idea_id: int | None,
    data: dict[str, Any],
    *,
    email: bool,
    exclude: Iterable[int] = (),
) -> int:
    """An ``unmerged`` notification to everyone who got the ``merged`` one of ``merge_id``.

    Those are the supporters and authors of the merged ideas at the time of the merge: people
    who supported them later were never told about the merge and are not told about its undoing.
    """
    told = (
        select(Notification.user_id.label("uid"))
        .where(
            Notification.kind == "merged",
            Notification.data["merge_id"].as_integer() == merge_id,
        )
        .distinct()
    )
    skip = sorted(set(exclude))
    sub = told.subquery()
    query = select(sub.c.uid)
    if skip:
        query = query.where(sub.c.uid.not_in(skip))
    return _insert_from(session, query, "unmerged", idea_id, {**data, "merge_id": merge_id}, email)


def undone_merges(session: Session, merge_ids: Iterable[Any]) -> set[int]:
    """Which of ``merge_ids`` (anything; non-integers are ignored) have been undone."""
    ids = sorted({i for i in merge_ids if isinstance(i, int) and not isinstance(i, bool)})
    if not ids:
        return set()
    query = select(IdeaMerge.id).where(IdeaMerge.id.in_(ids), IdeaMerge.undone_at.is_not(None))
    return set(session.scalars(query))


def mark_undone(session: Session, rows: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Add ``merge_undone: True`` to the data of each ``merged`` row whose merge was undone
    (``rows``: (kind, data) pairs whose data dicts are copies the caller may change)."""
    pairs = [(k, d) for k, d in rows if k == "merged" and isinstance(d, dict)]
    undone = undone_merges(session, (d.get("merge_id") for _, d in pairs))
    for _, data in pairs:
        if data.get("merge_id") in undone:
            data["merge_undone"] = True


def add_languages(session: Session, rows: Iterable[tuple[str, int | None, dict[str, Any]]]) -> None:
    """Add ``title_language`` and ``canonical_language`` (the quoted ideas' languages, for the
    page's ``lang``) to the data of each (kind, idea_id, data) row; data dicts are copies the
    caller may change. One query for all rows."""
    wanted: list[tuple[dict[str, Any], int | None, int | None]] = []
    for kind, idea_id, data in rows:
        merged = data.get("merged_ids")
        first = merged[0] if isinstance(merged, list) and merged else None
        quoted = first if kind in ("merged", "unmerged") and isinstance(first, int) else idea_id
        canonical = data.get("canonical_id")
        wanted.append((data, quoted, canonical if isinstance(canonical, int) else None))
    ids = sorted({i for _, a, b in wanted for i in (a, b) if isinstance(i, int)})
    if not ids:
        return
    languages = dict(session.execute(select(Idea.id, Idea.language).where(Idea.id.in_(ids))).all())
    for data, quoted, canonical in wanted:
        if quoted in languages:
            data["title_language"] = languages[quoted]
        if canonical in languages:
            data["canonical_language"] = languages[canonical]


def withdraw_comment_notices(session: Session, comment_id: int) -> int:
    """Delete the notifications a comment caused (on the idea's author, on the author of the
    comment it answers): a hidden comment notifies no one, and an e-mail not sent yet is not."""
    stmt = delete(Notification).where(
        Notification.kind.in_(REPLY_KINDS),
        Notification.data["comment_id"].as_integer() == comment_id,
    )
    return len(session.execute(stmt.returning(Notification.id)).all())
