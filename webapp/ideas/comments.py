"""Comments on ideas, replies to comments, and who is told about them.

A comment may answer another comment of the same idea (``parent_id``): the page shows it under
the comment its thread starts with (:func:`list_comments` with ``threaded``). A new comment
notifies the idea's author (``comment``), a reply the author of the comment it answers
(``reply``) — never the writer themself, and one notification each even when the idea's author
is also the one answered. Hiding a comment withdraws them (``webapp.moderation``), so a hidden
comment never notifies anyone.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select, true, update
from sqlalchemy.orm import Session

from webapp.kernel.dto import CommentView, CurrentUser, Page
from webapp.kernel.errors import N_, Conflict, NotFound, PermissionDenied
from webapp.kernel.security import can
from webapp.kernel.storage.models import Comment, Idea, User
from webapp.kernel.validation import Errors, clean_text
from webapp.notifications import notifications
from webapp.notifications.notification_facts import EXCERPT_CHARS, clip

COMMENTABLE = ("published", "under_review", "accepted", "in_progress", "implemented", "rejected")
MAX_THREAD_COMMENTS = 5_000  # of one idea, read to thread a page (more: the oldest only)


def _parent(
    session: Session, errors: Errors, idea_id: int, parent_id: object
) -> tuple[int, int | None] | None:
    """The answered comment (id, author) — visible and on the same idea — or None."""
    if parent_id in (None, ""):
        return None
    raw = str(parent_id).strip()
    if not raw.isdigit() or len(raw) > 10:
        errors.add("parent_id", N_("The comment you answer was not found."))
        return None
    row = session.execute(
        select(Comment.id, Comment.author_id, Comment.idea_id, Comment.hidden).where(
            Comment.id == int(raw)
        )
    ).first()
    if row is None or row.idea_id != idea_id or row.hidden:
        errors.add("parent_id", N_("The comment you answer was not found."))
        return None
    return int(row.id), row.author_id


def add_comment(
    session: Session,
    user: CurrentUser,
    idea_id: int,
    body: object,
    max_length: int = 5000,
    *,
    parent_id: object = None,
    email: bool = False,
) -> int:
    """Publish a comment (a reply when ``parent_id`` names a visible comment of the idea) and
    notify the idea's author and the author answered; ``email``: whether e-mail is due."""
    if not can(user.role, "comment"):
        raise PermissionDenied("You may not comment.")
    # Locked, as merges lock it: a comment cannot land on an idea being merged away.
    idea = session.execute(
        select(Idea.status, Idea.title, Idea.author_id).where(Idea.id == idea_id).with_for_update()
    ).first()
    if idea is None or idea.status == "hidden":
        raise NotFound("Idea not found.")
    if idea.status not in COMMENTABLE:
        raise Conflict("This idea is closed for comments.")
    errors = Errors()
    text = clean_text(errors, "body", body, min_length=2, max_length=max_length, multiline=True)
    parent = _parent(session, errors, idea_id, parent_id)
    errors.raise_if_any()
    comment = Comment(
        idea_id=idea_id, author_id=user.id, body=text, parent_id=parent[0] if parent else None
    )
    session.add(comment)
    session.execute(
        update(Idea).where(Idea.id == idea_id).values(comment_count=Idea.comment_count + 1)
    )
    session.flush()
    data = {
        "title": idea.title,
        "comment_id": comment.id,
        "excerpt": clip(text, EXCERPT_CHARS),
        "by": user.display_name,
    }
    answered = parent[1] if parent else None
    if answered is not None:
        notifications.notify_users(
            session, [answered], "reply", idea_id, data, email=email, exclude=[user.id]
        )
    if idea.author_id is not None and idea.author_id != answered:
        notifications.notify_users(
            session, [idea.author_id], "comment", idea_id, data, email=email, exclude=[user.id]
        )
    return comment.id


def _view(c: Comment, name: str | None) -> CommentView:
    return CommentView(
        c.id,
        c.idea_id,
        c.author_id,
        name,
        c.body,
        c.created_at,
        hidden=c.hidden,
        hidden_reason=c.hidden_reason if c.hidden else None,
        auto_hidden=c.hidden and c.auto_hidden,
        parent_id=c.parent_id,
    )


def _threads(pairs: list[tuple[int, int | None]]) -> tuple[list[int], dict[int, list[int]]]:
    """Roots in order, and each root's replies (at any depth) in order.

    ``pairs``: (id, parent_id) of the listed comments, oldest first. A comment whose parent is
    not listed (hidden from the viewer, on another idea after a merge was undone) starts a
    thread of its own.

    >>> _threads([(1, None), (2, 1), (3, None), (4, 2), (5, 9)])
    ([1, 3, 5], {1: [2, 4], 3: [], 5: []})
    """
    listed = {i for i, _ in pairs}
    parent = dict(pairs)
    roots: list[int] = []
    replies: dict[int, list[int]] = {}
    for i, _p in pairs:
        top, seen = i, {i}
        while parent.get(top) in listed and parent[top] not in seen:
            top = parent[top]  # type: ignore[assignment]
            seen.add(top)
        if top == i:
            roots.append(i)
            replies[i] = []
        else:
            replies.setdefault(top, []).append(i)
    return roots, replies


def list_comments(
    session: Session,
    idea_id: int,
    page: int,
    page_size: int,
    viewer: CurrentUser | None = None,
    *,
    threaded: bool = False,
) -> Page[CommentView]:
    """Visible comments, oldest first; a hidden one only to its author and to moderators.

    ``threaded``: a page holds ``page_size`` threads (a comment, then the replies under it,
    oldest first); ``total`` counts threads and ``extra["comments"]`` every comment listed.
    """
    shown: ColumnElement[bool] = Comment.hidden.is_(False)
    if viewer is not None and can(viewer.role, "moderate"):
        shown = true()
    elif viewer is not None:
        shown = or_(shown, Comment.author_id == viewer.id)
    where = (Comment.idea_id == idea_id, shown)
    base = select(Comment, User.display_name).outerjoin(User, User.id == Comment.author_id)
    total = session.scalar(select(func.count()).select_from(Comment).where(*where)) or 0
    page = max(1, page)
    if threaded:
        pairs = session.execute(
            select(Comment.id, Comment.parent_id)
            .where(*where)
            .order_by(Comment.created_at, Comment.id)
            .limit(MAX_THREAD_COMMENTS)
        ).all()
        roots, replies = _threads([(int(i), p) for i, p in pairs])
        on_page = roots[(page - 1) * page_size : page * page_size]
        ids = [i for r in on_page for i in (r, *replies[r])]
        found = {c.id: (c, name) for c, name in session.execute(base.where(Comment.id.in_(ids)))}
        items = [_view(*found[i]) for i in ids if i in found]
        return Page(items, page, page_size, len(roots), extra={"comments": total})
    rows = session.execute(
        base.where(*where)
        .order_by(Comment.created_at, Comment.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return Page([_view(c, name) for c, name in rows], page, page_size, total)


def get_comment(session: Session, comment_id: int) -> CommentView:
    """One comment (e.g. the one just added), hidden or not."""
    row = session.execute(
        select(Comment, User.display_name)
        .outerjoin(User, User.id == Comment.author_id)
        .where(Comment.id == comment_id)
    ).first()
    if row is None:
        raise NotFound("Comment not found.")
    c, name = row
    return CommentView(
        c.id, c.idea_id, c.author_id, name, c.body, c.created_at, parent_id=c.parent_id
    )
