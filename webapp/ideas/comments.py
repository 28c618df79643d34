"""Comments on ideas."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select, true, update
from sqlalchemy.orm import Session

from webapp.kernel.dto import CommentView, CurrentUser, Page
from webapp.kernel.errors import Conflict, NotFound, PermissionDenied
from webapp.kernel.security import can
from webapp.kernel.storage.models import Comment, Idea, User
from webapp.kernel.validation import Errors, clean_text

COMMENTABLE = ("published", "under_review", "accepted", "in_progress", "implemented", "rejected")


def add_comment(
    session: Session, user: CurrentUser, idea_id: int, body: object, max_length: int = 5000
) -> int:
    if not can(user.role, "comment"):
        raise PermissionDenied("You may not comment.")
    # Locked, as merges lock it: a comment cannot land on an idea being merged away.
    status = session.scalar(select(Idea.status).where(Idea.id == idea_id).with_for_update())
    if status is None or status == "hidden":
        raise NotFound("Idea not found.")
    if status not in COMMENTABLE:
        raise Conflict("This idea is closed for comments.")
    errors = Errors()
    text = clean_text(errors, "body", body, min_length=2, max_length=max_length, multiline=True)
    errors.raise_if_any()
    comment = Comment(idea_id=idea_id, author_id=user.id, body=text)
    session.add(comment)
    session.execute(
        update(Idea).where(Idea.id == idea_id).values(comment_count=Idea.comment_count + 1)
    )
    session.flush()
    return comment.id


def list_comments(
    session: Session,
    idea_id: int,
    page: int,
    page_size: int,
    viewer: CurrentUser | None = None,
) -> Page[CommentView]:
    """Visible comments, oldest first; a hidden one only to its author and to moderators."""
    shown: ColumnElement[bool] = Comment.hidden.is_(False)
    if viewer is not None and can(viewer.role, "moderate"):
        shown = true()
    elif viewer is not None:
        shown = or_(shown, Comment.author_id == viewer.id)
    where = (Comment.idea_id == idea_id, shown)
    base = select(Comment, User.display_name).outerjoin(User, User.id == Comment.author_id)
    total = session.scalar(select(func.count()).select_from(Comment).where(*where)) or 0
    page = max(1, page)
    rows = session.execute(
        base.where(*where)
        .order_by(Comment.created_at, Comment.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    items = [
        CommentView(
            c.id,
            c.idea_id,
            c.author_id,
            name,
            c.body,
            c.created_at,
            hidden=c.hidden,
            hidden_reason=c.hidden_reason if c.hidden else None,
            auto_hidden=c.hidden and c.auto_hidden,
        )
        for c, name in rows
    ]
    return Page(items, page, page_size, total)


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
    return CommentView(c.id, c.idea_id, c.author_id, name, c.body, c.created_at)
