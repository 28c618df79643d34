"""Citizens' reports (flags) on ideas and comments; the moderation queue reads them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotFound
from webapp.kernel.storage.models import Comment, Idea, Report, utcnow
from webapp.kernel.validation import Errors, clean_text
from webapp.moderation import moderation


def report(
    session: Session,
    user: CurrentUser,
    *,
    reason: object,
    idea_id: int | None = None,
    comment_id: int | None = None,
    on_idea: int | None = None,
    auto_hide: int = 0,
    email: bool = False,
) -> int:
    """Flag an idea or a comment once per user; returns the report id.

    ``on_idea``: the idea page the comment was reported on (it must be the comment's idea).
    ``auto_hide``: hide the target pending review once its open reports weigh this much,
    more for a supported idea (``VECHE_AUTO_HIDE_REPORTS``; 0 = never). The report's weight
    (account age, verification, past accuracy) is fixed now and stored; see
    ``services.moderation.report_weight``. The target row is locked first, so concurrent
    reports count each other.
    """
    errors = Errors()
    text = clean_text(errors, "reason", reason, min_length=3, max_length=1000, multiline=True)
    errors.raise_if_any()
    if idea_id is not None:
        idea = session.scalar(select(Idea).where(Idea.id == idea_id).with_for_update())
        if idea is None or idea.status == "hidden":
            raise NotFound("Idea not found.")
        author_id = idea.author_id
        same = Report.idea_id == idea_id
    elif comment_id is not None:
        comment = session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update())
        if (
            comment is None
            or comment.hidden
            or (on_idea is not None and comment.idea_id != on_idea)
        ):
            raise NotFound("Comment not found.")
        if session.scalar(select(Idea.status).where(Idea.id == comment.idea_id)) == "hidden":
            raise NotFound("Comment not found.")
        author_id = comment.author_id
        same = Report.comment_id == comment_id
    else:
        raise NotFound("Nothing to report.")
    if author_id is not None and author_id == user.id:
        raise Conflict("You cannot report what you wrote yourself.")
    if session.scalar(
        select(Report.id).where(same, Report.reporter_id == user.id, Report.resolved_at.is_(None))
    ):
        raise Conflict("You have already reported this.")
    now = utcnow()
    weighed = moderation.report_weight(session, user.id, now)
    row = Report(
        reporter_id=user.id,
        idea_id=idea_id,
        comment_id=comment_id,
        reason=text,
        created_at=now,
        weight=weighed.weight,
    )
    session.add(row)
    session.flush()
    moderation.auto_hide_if_due(
        session, idea_id=idea_id, comment_id=comment_id, threshold=auto_hide, email=email
    )
    return row.id
