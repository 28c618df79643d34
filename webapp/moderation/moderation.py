"""Hiding and unhiding ideas and comments, automatically after reports or by a moderator.

- **Hide** an idea: its status is kept in ``status_before_hide`` and becomes 'hidden'; only its
  author and moderators still see it, with ``hidden_reason``. A comment gets ``hidden``. The
  open reports on it are resolved ('hidden'), the author is notified, an audit entry written.
- **Unhide** restores the status exactly and resolves the open reports ('unhidden').
- **Auto-hide**: when the open reports on a target from (not blocked) users weigh at least
  ``VECHE_AUTO_HIDE_REPORTS`` × (1 + log10(1 + the idea's supporters)), it is hidden with
  ``auto_hidden`` set, pending a moderator's review: the reports stay open, so it heads the
  moderation queue. The audit entry has no actor. Each report's weight is fixed when it is made
  (:func:`report_weight`): account age × verification × past accuracy; staff count 1.
- **Dismiss** ("no violation"): resolves the open reports ('dismissed') and unhides the target
  if it was hidden automatically (a moderator's own hide stays).

``comment_count`` counts visible comments (as ``merges.recount`` does): hiding a comment takes
it off, unhiding puts it back. Every function locks the target row first (``FOR UPDATE``), so
two moderators, or a report and a moderator, never interleave on one target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, Conflict, NotFound
from webapp.kernel.security import can, require_permission
from webapp.kernel.storage.models import Comment, Idea, Report, User, utcnow
from webapp.kernel.validation import Errors, clean_text
from webapp.notifications import notifications
from webapp.ranking import ranking_log

REASON_MIN = 3
REASON_MAX = 1000
# Stored as the hidden_reason of an automatic hide (pages show it translated).
AUTO_HIDE_REASON = N_("Hidden automatically after several reports; a moderator will review it.")
EXCERPT = 200

# Report weights (docs/moderation.md, "How much a report weighs"). An account counts nothing for
# its first day and reaches full weight at 30 days; an unverified one counts half; past reports
# that moderators dismissed lower it (Laplace-smoothed share upheld, doubled and capped at 1, so
# a reporter with no history counts fully). Moderators and admins count 1.
WEIGHT_MIN_AGE = timedelta(hours=24)
WEIGHT_FULL_AGE = timedelta(days=30)
UNVERIFIED_FACTOR = 0.5
STAFF_ROLES = ("moderator", "admin")
UPHELD = ("hidden",)  # a moderator hid the target
NOT_UPHELD = ("dismissed", "unhidden")  # "no violation", or the auto-hidden target unhidden


@dataclass(frozen=True)
class HiddenNote:
    """Why something is hidden, for its author's and moderators' eyes."""

    auto_hidden: bool
    reason: str


@dataclass(frozen=True)
class IdeaModeration:
    """What the idea page shows about moderation (``templates/moderation/_moderation_info.html``)."""

    idea_id: int
    hidden: HiddenNote | None
    status_before_hide: str | None
    open_reports: int  # distinct reporters; filled for moderators only


@dataclass(frozen=True)
class ReportWeight:
    """How much one report counts towards auto-hiding, and why."""

    weight: float
    staff: bool
    age: timedelta  # of the account when it reported
    verified: bool
    upheld: int  # earlier reports a moderator upheld (hid the target)
    resolved: int  # earlier reports a moderator decided (upheld or not)


def age_factor(age: timedelta) -> float:
    """0 for an account younger than a day, rising linearly to 1 at 30 days."""
    span = (WEIGHT_FULL_AGE - WEIGHT_MIN_AGE).total_seconds()
    return min(1.0, max(0.0, (age - WEIGHT_MIN_AGE).total_seconds() / span))


def accuracy_factor(upheld: int, resolved: int) -> float:
    """1 with no history or a good one; 2·(upheld+1)/(resolved+2) below half upheld."""
    return min(1.0, 2.0 * (upheld + 1) / (resolved + 2))


def combined_weight(age: timedelta, verified: bool, upheld: int, resolved: int) -> float:
    factor = age_factor(age) * (1.0 if verified else UNVERIFIED_FACTOR)
    return round(factor * accuracy_factor(upheld, resolved), 4)


def report_weight(session: Session, reporter_id: int, at: datetime) -> ReportWeight:
    """The weight of a report the user makes at ``at``, from the account as it is then."""
    user = session.execute(
        select(User.role, User.created_at, User.verified_resident).where(User.id == reporter_id)
    ).one()
    age = max(timedelta(0), at - user.created_at)
    if user.role in STAFF_ROLES:
        return ReportWeight(1.0, True, age, bool(user.verified_resident), 0, 0)
    upheld, resolved = session.execute(
        select(
            func.coalesce(func.sum(case((Report.resolution.in_(UPHELD), 1), else_=0)), 0),
            func.count(),
        ).where(
            Report.reporter_id == reporter_id,
            Report.resolution.in_(UPHELD + NOT_UPHELD),
            Report.resolved_at <= at,
        )
    ).one()
    verified = bool(user.verified_resident)
    weight = combined_weight(age, verified, int(upheld), int(resolved))
    return ReportWeight(weight, False, age, verified, int(upheld), int(resolved))


def weight_needed(threshold: int, supporters: int) -> float:
    """The report weight that hides a target with this many supporters (0 = never).

    ``threshold`` (``VECHE_AUTO_HIDE_REPORTS``) for a comment or an unsupported idea, growing
    with the logarithm of the supporters: ×3 at 99, ×4.4 at 2,362, ×5 at 9,999.
    """
    return threshold * (1.0 + math.log10(1 + max(0, supporters)))


def clean_reason(reason: object, required: bool = True) -> str:
    """A moderator's reason: required (3–1000 characters) where someone will read it."""
    errors = Errors()
    text = clean_text(
        errors,
        "reason",
        reason,
        min_length=REASON_MIN if required else 0,
        max_length=REASON_MAX,
        multiline=True,
    )
    errors.raise_if_any()
    return text


def _require_moderator(actor: CurrentUser | None) -> None:
    if actor is not None:  # None: the platform itself (auto-hide)
        require_permission(actor.role, "moderate")


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def _lock_idea(session: Session, idea_id: int) -> Idea:
    idea = session.scalar(
        select(Idea)
        .where(Idea.id == idea_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if idea is None:
        raise NotFound("Idea not found.")
    return idea


def _lock_comment(session: Session, comment_id: int) -> Comment:
    comment = session.scalar(
        select(Comment)
        .where(Comment.id == comment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if comment is None:
        raise NotFound("Comment not found.")
    return comment


def _idea_state(idea: Idea) -> dict[str, Any]:
    return {
        "status": idea.status,
        "status_before_hide": idea.status_before_hide,
        "hidden_reason": idea.hidden_reason,
        "auto_hidden": idea.auto_hidden,
    }


def _comment_state(comment: Comment) -> dict[str, Any]:
    return {
        "hidden": comment.hidden,
        "hidden_reason": comment.hidden_reason,
        "auto_hidden": comment.auto_hidden,
    }


def resolve_reports(
    session: Session,
    actor_id: int | None,
    resolution: str,
    *,
    idea_id: int | None = None,
    comment_id: int | None = None,
) -> int:
    """Close the open reports on one target; returns how many were closed."""
    target = Report.idea_id == idea_id if idea_id is not None else Report.comment_id == comment_id
    result = session.execute(
        update(Report)
        .where(target, Report.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolved_by_id=actor_id, resolution=resolution)
        .returning(Report.id)
    )
    return len(result.all())


def open_reporters(
    session: Session, *, idea_id: int | None = None, comment_id: int | None = None
) -> int:
    """Distinct users, not blocked, with an open report on the target."""
    return open_report_weight(session, idea_id=idea_id, comment_id=comment_id)[0]


def open_report_weight(
    session: Session, *, idea_id: int | None = None, comment_id: int | None = None
) -> tuple[int, float]:
    """Distinct users, not blocked, with an open report on the target, and what they weigh."""
    target = Report.idea_id == idea_id if idea_id is not None else Report.comment_id == comment_id
    query = (
        select(func.count(func.distinct(Report.reporter_id)), func.sum(Report.weight))
        .join(User, User.id == Report.reporter_id)
        .where(target, Report.resolved_at.is_(None), User.blocked.is_(False))
    )
    count, weight = session.execute(query).one()
    return int(count or 0), float(weight or 0.0)


# --- ideas -----------------------------------------------------------------------------------


def hide_idea(
    session: Session,
    actor: CurrentUser | None,
    idea_id: int,
    reason: object,
    *,
    email: bool,
    reports: int = 0,
    weighed: tuple[float, float] | None = None,
) -> None:
    """Hide an idea; ``actor`` None = automatically after ``reports`` reports (kept open),
    ``weighed`` = (their weight, the weight needed)."""
    _require_moderator(actor)
    text = AUTO_HIDE_REASON if actor is None else clean_reason(reason)
    idea = _lock_idea(session, idea_id)
    if idea.status == "merged":
        raise Conflict("A merged idea cannot be hidden; hide the idea it was merged into.")
    if idea.status == "hidden" and (actor is None or not idea.auto_hidden):
        raise Conflict("This idea is already hidden.")
    before = _idea_state(idea)
    if idea.status != "hidden":
        idea.status_before_hide = idea.status
        idea.status = "hidden"
    idea.hidden_reason = text
    idea.auto_hidden = actor is None
    details: dict[str, Any] = {"before": before, "after": _idea_state(idea)}
    if actor is None:
        details["reports"] = reports
        if weighed is not None:
            details["report_weight"], details["weight_needed"] = (round(w, 3) for w in weighed)
    else:
        details["reports_resolved"] = resolve_reports(session, actor.id, "hidden", idea_id=idea.id)
    audit.record(
        session,
        None if actor is None else actor.id,
        "idea.hide",
        "idea",
        idea.id,
        reason=text,
        details=details,
    )
    session.flush()
    ranking_log.idea_changed(session, idea.id)
    if idea.author_id is not None:
        notifications.notify_users(
            session,
            [idea.author_id],
            "hidden",
            idea.id,
            {"title": idea.title, "reason": "" if actor is None else text, "auto": actor is None},
            email=email,
            exclude=[] if actor is None else [actor.id],
        )


def unhide_idea(
    session: Session,
    actor: CurrentUser,
    idea_id: int,
    reason: object,
    *,
    email: bool,
) -> int:
    """Make a hidden idea visible again with exactly its previous status; returns its id."""
    _require_moderator(actor)
    text = clean_reason(reason, required=False)
    idea = _lock_idea(session, idea_id)
    if idea.status != "hidden":
        raise Conflict("This idea is not hidden.")
    before = _idea_state(idea)
    idea.status = idea.status_before_hide or "published"
    idea.status_before_hide = None
    idea.hidden_reason = None
    idea.auto_hidden = False
    resolved = resolve_reports(session, actor.id, "unhidden", idea_id=idea.id)
    audit.record(
        session,
        actor.id,
        "idea.unhide",
        "idea",
        idea.id,
        reason=text,
        details={"before": before, "after": _idea_state(idea), "reports_resolved": resolved},
    )
    session.flush()
    ranking_log.idea_changed(session, idea.id)
    if idea.author_id is not None:
        notifications.notify_users(
            session,
            [idea.author_id],
            "unhidden",
            idea.id,
            {"title": idea.title, "reason": text},
            email=email,
            exclude=[actor.id],
        )
    return idea.id


# --- comments --------------------------------------------------------------------------------


def _idea_title(session: Session, idea_id: int) -> str:
    return session.scalar(select(Idea.title).where(Idea.id == idea_id)) or ""


def hide_comment(
    session: Session,
    actor: CurrentUser | None,
    comment_id: int,
    reason: object,
    *,
    email: bool,
    reports: int = 0,
    weighed: tuple[float, float] | None = None,
) -> int:
    """Hide a comment (``actor`` None = automatically, see :func:`hide_idea`); returns its
    idea's id."""
    _require_moderator(actor)
    text = AUTO_HIDE_REASON if actor is None else clean_reason(reason)
    comment = _lock_comment(session, comment_id)
    if comment.hidden and (actor is None or not comment.auto_hidden):
        raise Conflict("This comment is already hidden.")
    before = _comment_state(comment)
    was_visible = not comment.hidden
    comment.hidden = True
    comment.hidden_reason = text
    comment.auto_hidden = actor is None
    notifications.withdraw_comment_notices(session, comment.id)  # hidden: it notifies no one
    if was_visible:
        session.execute(
            update(Idea)
            .where(Idea.id == comment.idea_id, Idea.comment_count > 0)
            .values(comment_count=Idea.comment_count - 1)
        )
    details: dict[str, Any] = {
        "before": before,
        "after": _comment_state(comment),
        "idea_id": comment.idea_id,
    }
    if actor is None:
        details["reports"] = reports
        if weighed is not None:
            details["report_weight"], details["weight_needed"] = (round(w, 3) for w in weighed)
    else:
        details["reports_resolved"] = resolve_reports(
            session, actor.id, "hidden", comment_id=comment.id
        )
    audit.record(
        session,
        None if actor is None else actor.id,
        "comment.hide",
        "comment",
        comment.id,
        reason=text,
        details=details,
    )
    session.flush()
    if comment.author_id is not None:
        notifications.notify_users(
            session,
            [comment.author_id],
            "comment_hidden",
            comment.idea_id,
            {
                "title": _idea_title(session, comment.idea_id),
                "comment_id": comment.id,
                "excerpt": _excerpt(comment.body),
                "reason": "" if actor is None else text,
                "auto": actor is None,
            },
            email=email,
            exclude=[] if actor is None else [actor.id],
        )
    return comment.idea_id


def unhide_comment(
    session: Session,
    actor: CurrentUser,
    comment_id: int,
    reason: object,
    *,
    email: bool,
) -> int:
    """Show a hidden comment again; returns its idea's id."""
    _require_moderator(actor)
    text = clean_reason(reason, required=False)
    comment = _lock_comment(session, comment_id)
    if not comment.hidden:
        raise Conflict("This comment is not hidden.")
    before = _comment_state(comment)
    comment.hidden = False
    comment.hidden_reason = None
    comment.auto_hidden = False
    session.execute(
        update(Idea).where(Idea.id == comment.idea_id).values(comment_count=Idea.comment_count + 1)
    )
    resolved = resolve_reports(session, actor.id, "unhidden", comment_id=comment.id)
    audit.record(
        session,
        actor.id,
        "comment.unhide",
        "comment",
        comment.id,
        reason=text,
        details={
            "before": before,
            "after": _comment_state(comment),
            "idea_id": comment.idea_id,
            "reports_resolved": resolved,
        },
    )
    session.flush()
    if comment.author_id is not None:
        notifications.notify_users(
            session,
            [comment.author_id],
            "comment_unhidden",
            comment.idea_id,
            {
                "title": _idea_title(session, comment.idea_id),
                "comment_id": comment.id,
                "excerpt": _excerpt(comment.body),
                "reason": text,
            },
            email=email,
            exclude=[actor.id],
        )
    return comment.idea_id


# --- reports ---------------------------------------------------------------------------------


def auto_hide_if_due(
    session: Session,
    *,
    idea_id: int | None = None,
    comment_id: int | None = None,
    threshold: int,
    email: bool,
) -> bool:
    """After a report (its target row locked): hide the target once its open reports weigh
    :func:`weight_needed` (``threshold`` grown with the idea's supporters; a comment has none).

    ``threshold`` 0 turns auto-hiding off. Returns whether the target was hidden now.
    """
    if threshold <= 0:
        return False
    if idea_id is not None:
        idea = _lock_idea(session, idea_id)
        if idea.status in ("hidden", "merged"):
            return False
        needed = weight_needed(threshold, idea.support_count)
    elif comment_id is not None:
        comment = _lock_comment(session, comment_id)
        if comment.hidden:
            return False
        needed = weight_needed(threshold, 0)
    else:
        return False
    count, weight = open_report_weight(session, idea_id=idea_id, comment_id=comment_id)
    if weight < needed - 1e-9:
        return False
    if idea_id is not None:
        hide_idea(
            session, None, idea_id, None, email=email, reports=count, weighed=(weight, needed)
        )
    else:
        assert comment_id is not None
        hide_comment(
            session, None, comment_id, None, email=email, reports=count, weighed=(weight, needed)
        )
    return True


def dismiss_reports(
    session: Session,
    actor: CurrentUser,
    reason: object,
    *,
    idea_id: int | None = None,
    comment_id: int | None = None,
    email: bool,
) -> int:
    """ "No violation": close the open reports, unhide the target if reports hid it.

    Returns the idea id (the target, or the comment's idea).
    """
    _require_moderator(actor)
    text = clean_reason(reason, required=False)
    if idea_id is not None:
        idea = _lock_idea(session, idea_id)
        auto = idea.status == "hidden" and idea.auto_hidden
        result_idea = idea.id
    elif comment_id is not None:
        comment = _lock_comment(session, comment_id)
        auto = comment.hidden and comment.auto_hidden
        result_idea = comment.idea_id
    else:
        raise NotFound("Nothing to report.")
    pending = open_reporters(session, idea_id=idea_id, comment_id=comment_id)
    if pending == 0 and not auto:
        raise Conflict("There are no open reports on this.")
    resolved = resolve_reports(
        session, actor.id, "dismissed", idea_id=idea_id, comment_id=comment_id
    )
    if auto and idea_id is not None:
        unhide_idea(session, actor, idea_id, text, email=email)
    elif auto and comment_id is not None:
        unhide_comment(session, actor, comment_id, text, email=email)
    audit.record(
        session,
        actor.id,
        "reports.dismiss",
        "idea" if idea_id is not None else "comment",
        idea_id if idea_id is not None else comment_id,
        reason=text,
        details={
            "before": {"open_reports": pending, "auto_hidden": auto},
            "after": {"open_reports": 0, "auto_hidden": False, "unhidden": auto},
            "reports_resolved": resolved,
        },
    )
    session.flush()
    return result_idea


# --- what pages show -------------------------------------------------------------------------


def idea_moderation(
    session: Session, idea_id: int, viewer: CurrentUser | None
) -> IdeaModeration | None:
    """For the idea page: why it is hidden (author, moderators), open reports (moderators)."""
    if viewer is None:
        return None
    row = session.execute(
        select(
            Idea.status,
            Idea.author_id,
            Idea.hidden_reason,
            Idea.auto_hidden,
            Idea.status_before_hide,
        ).where(Idea.id == idea_id)
    ).first()
    if row is None:
        return None
    status, author_id, reason, auto, before = row
    moderator = can(viewer.role, "moderate")
    if not moderator and viewer.id != author_id:
        return None
    hidden = HiddenNote(bool(auto), reason or "") if status == "hidden" else None
    reports = open_reporters(session, idea_id=idea_id) if moderator else 0
    return IdeaModeration(idea_id, hidden, before if status == "hidden" else None, reports)


def hidden_notes(session: Session, idea_ids: list[int]) -> dict[int, HiddenNote]:
    """Why each of the given ideas is hidden (those that are), e.g. for "my ideas"."""
    if not idea_ids:
        return {}
    rows = session.execute(
        select(Idea.id, Idea.auto_hidden, Idea.hidden_reason).where(
            Idea.id.in_(idea_ids), Idea.status == "hidden"
        )
    ).all()
    return {i: HiddenNote(bool(auto), reason or "") for i, auto, reason in rows}
