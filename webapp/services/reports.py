"""Citizens' reports (flags) on ideas and comments; the moderation queue reads them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.errors import Conflict, NotFound
from webapp.services.dto import CurrentUser
from webapp.services.validation import Errors, clean_text
from webapp.storage.models import Comment, Idea, Report


def report(
    session: Session,
    user: CurrentUser,
    *,
    reason: object,
    idea_id: int | None = None,
    comment_id: int | None = None,
) -> int:
    """Flag an idea or a comment once per user; returns the report id."""
    errors = Errors()
    text = clean_text(errors, "reason", reason, min_length=3, max_length=1000, multiline=True)
    errors.raise_if_any()
    if idea_id is not None:
        idea = session.get(Idea, idea_id)
        if idea is None or idea.status == "hidden":
            raise NotFound("Idea not found.")
        same = Report.idea_id == idea_id
    elif comment_id is not None:
        comment = session.get(Comment, comment_id)
        if comment is None or comment.hidden:
            raise NotFound("Comment not found.")
        same = Report.comment_id == comment_id
    else:
        raise NotFound("Nothing to report.")
    if session.scalar(
        select(Report.id).where(same, Report.reporter_id == user.id, Report.resolved_at.is_(None))
    ):
        raise Conflict("You have already reported this.")
    row = Report(reporter_id=user.id, idea_id=idea_id, comment_id=comment_id, reason=text)
    session.add(row)
    session.flush()
    return row.id
