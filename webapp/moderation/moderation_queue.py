"""What moderators read: the queue of reported ideas and comments, and what is hidden.

The queue groups open reports by target: hidden automatically (waiting for a decision) first,
then the most reported, then the longest waiting. Each item carries the text, its author, the
reporters' reasons (the newest few) and dates, and what the reports weigh towards auto-hiding
(each report's weight and why, ``services.moderation.report_weight``). Counting and ordering
run in SQL over the open reports (``ix_reports_open``); only one page of targets is then loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.models import AuditLog, Comment, Idea, Report, User
from webapp.moderation import moderation
from webapp.moderation.blocking import may_block

REASONS_SHOWN = 10


@dataclass(frozen=True)
class Author:
    id: int | None
    name: str | None
    role: str | None
    blocked: bool
    can_block: bool


@dataclass(frozen=True)
class ReportReason:
    reporter_name: str | None
    reason: str
    created_at: datetime
    weight: float = 1.0  # stored when the report was made
    staff: bool = False
    age: timedelta = timedelta(0)  # of the reporter's account when it reported
    verified: bool = True
    upheld: int = 0  # the reporter's earlier reports upheld, of ``resolved`` decided
    resolved: int = 0

    @property
    def age_days(self) -> int:
        return self.age.days

    @property
    def weight_notes(self) -> tuple[str, ...]:
        """Why the report weighs what it does, as codes the template puts in words."""
        if self.staff:
            return ("staff",)
        notes: list[str] = []
        if self.age < moderation.WEIGHT_MIN_AGE:
            notes.append("new")
        elif self.age < moderation.WEIGHT_FULL_AGE:
            notes.append("young")
        if not self.verified:
            notes.append("unverified")
        if moderation.accuracy_factor(self.upheld, self.resolved) < 1.0:
            notes.append("dismissed")
        return tuple(notes)


@dataclass(frozen=True)
class QueueItem:
    """One reported idea or comment."""

    target_type: str  # 'idea' or 'comment'
    target_id: int
    idea_id: int
    idea_title: str
    idea_language: str
    idea_status: str
    body: str  # the idea's description or the comment's text
    created_at: datetime
    author: Author
    hidden: bool
    auto_hidden: bool
    hidden_reason: str
    reporters: int
    first_reported: datetime
    last_reported: datetime
    reasons: tuple[ReportReason, ...]
    weight: float = 0.0  # of the open reports from accounts not blocked
    supporters: int = 0  # the idea's (a comment has none): more are needed to hide it

    def weight_needed(self, threshold: int) -> float:
        """The report weight that hides this automatically (``VECHE_AUTO_HIDE_REPORTS``)."""
        return round(moderation.weight_needed(threshold, self.supporters), 2)


@dataclass(frozen=True)
class HiddenItem:
    """A hidden idea or comment, with who hid it and when (from the audit log)."""

    target_type: str
    target_id: int
    idea_id: int
    idea_title: str
    idea_language: str
    body: str
    author: Author
    auto_hidden: bool
    reason: str
    status_before_hide: str | None
    hidden_at: datetime | None
    hidden_by: str | None
    open_reports: int


def _author(actor: CurrentUser, user: User | None) -> Author:
    if user is None:
        return Author(None, None, None, False, False)
    return Author(
        user.id, user.display_name, user.role, user.blocked, may_block(actor, user.id, user.role)
    )


def _reasons(
    session: Session, idea_ids: Sequence[int], comment_ids: Sequence[int]
) -> dict[tuple[str, int], list[ReportReason]]:
    out: dict[tuple[str, int], list[ReportReason]] = {}
    conditions = []
    if idea_ids:
        conditions.append(Report.idea_id.in_(idea_ids))
    if comment_ids:
        conditions.append(Report.comment_id.in_(comment_ids))
    if not conditions:
        return out
    rows = session.execute(
        select(Report, User)
        .outerjoin(User, User.id == Report.reporter_id)
        .where(Report.resolved_at.is_(None), or_(*conditions))
        .order_by(Report.created_at.desc(), Report.id.desc())
    ).all()
    shown: list[tuple[tuple[str, int], Report, User | None]] = []
    counts: dict[tuple[str, int], int] = {}
    for report, user in rows:
        key = (
            ("idea", report.idea_id)
            if report.idea_id is not None
            else ("comment", int(report.comment_id or 0))
        )
        counts[key] = counts.get(key, 0) + 1
        if counts[key] <= REASONS_SHOWN:
            shown.append((key, report, user))
    history = _history(session, [report.id for _, report, _ in shown])
    for key, report, who in shown:
        upheld, resolved = history.get(report.id, (0, 0))
        out.setdefault(key, []).append(
            ReportReason(
                who.display_name if who is not None else None,
                report.reason,
                report.created_at,
                weight=report.weight,
                staff=who is not None and who.role in moderation.STAFF_ROLES,
                age=report.created_at - who.created_at if who is not None else timedelta(0),
                verified=bool(who is not None and who.verified_resident),
                upheld=upheld,
                resolved=resolved,
            )
        )
    return out


def _history(session: Session, report_ids: list[int]) -> dict[int, tuple[int, int]]:
    """For each report: its reporter's earlier reports upheld and decided when it was made."""
    if not report_ids:
        return {}
    earlier = aliased(Report)
    rows = session.execute(
        select(
            Report.id,
            func.sum(case((earlier.resolution.in_(moderation.UPHELD), 1), else_=0)),
            func.count(earlier.id),
        )
        .join(earlier, earlier.reporter_id == Report.reporter_id)
        .where(
            Report.id.in_(report_ids),
            earlier.resolution.in_(moderation.UPHELD + moderation.NOT_UPHELD),
            earlier.resolved_at <= Report.created_at,
        )
        .group_by(Report.id)
    ).all()
    return {int(i): (int(up or 0), int(n)) for i, up, n in rows}


def list_queue(
    session: Session, actor: CurrentUser, limit: int, offset: int
) -> tuple[list[QueueItem], int]:
    """One page of reported targets (see the module docstring) and how many there are."""
    grouped = (
        select(
            Report.idea_id.label("idea_id"),
            Report.comment_id.label("comment_id"),
            func.count(func.distinct(Report.reporter_id)).label("reporters"),
            func.min(Report.created_at).label("first_at"),
            func.max(Report.created_at).label("last_at"),
            func.sum(case((User.blocked.is_(True), 0.0), else_=Report.weight)).label("weight"),
        )
        .outerjoin(User, User.id == Report.reporter_id)
        .where(Report.resolved_at.is_(None))
        .group_by(Report.idea_id, Report.comment_id)
        .subquery()
    )
    total = int(session.scalar(select(func.count()).select_from(grouped)) or 0)
    auto = case(
        (and_(Idea.status == "hidden", Idea.auto_hidden.is_(True)), 1),
        (and_(Comment.hidden.is_(True), Comment.auto_hidden.is_(True)), 1),
        else_=0,
    )
    rows = session.execute(
        select(grouped)
        .outerjoin(Idea, Idea.id == grouped.c.idea_id)
        .outerjoin(Comment, Comment.id == grouped.c.comment_id)
        .order_by(
            auto.desc(),
            grouped.c.reporters.desc(),
            grouped.c.first_at,
            grouped.c.idea_id,
            grouped.c.comment_id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    idea_ids = [r.idea_id for r in rows if r.idea_id is not None]
    comment_ids = [r.comment_id for r in rows if r.comment_id is not None]
    comments = (
        {c.id: c for c in session.scalars(select(Comment).where(Comment.id.in_(comment_ids)))}
        if comment_ids
        else {}
    )
    all_ideas = set(idea_ids) | {c.idea_id for c in comments.values()}
    ideas = (
        {i.id: i for i in session.scalars(select(Idea).where(Idea.id.in_(all_ideas)))}
        if all_ideas
        else {}
    )
    author_ids = {i.author_id for i in ideas.values()} | {c.author_id for c in comments.values()}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(author_ids - {None})))}
    reasons = _reasons(session, idea_ids, comment_ids)
    items: list[QueueItem] = []
    for r in rows:
        if r.idea_id is not None and r.idea_id in ideas:
            idea = ideas[r.idea_id]
            item = QueueItem(
                "idea",
                idea.id,
                idea.id,
                idea.title,
                idea.language,
                idea.status,
                idea.body,
                idea.created_at,
                _author(actor, users.get(idea.author_id or 0)),
                idea.status == "hidden",
                idea.status == "hidden" and idea.auto_hidden,
                idea.hidden_reason or "",
                int(r.reporters),
                r.first_at,
                r.last_at,
                tuple(reasons.get(("idea", idea.id), [])),
                weight=round(float(r.weight or 0.0), 2),
                supporters=idea.support_count,
            )
        elif r.comment_id is not None and r.comment_id in comments:
            c = comments[r.comment_id]
            parent = ideas[c.idea_id]
            item = QueueItem(
                "comment",
                c.id,
                c.idea_id,
                parent.title,
                parent.language,
                parent.status,
                c.body,
                c.created_at,
                _author(actor, users.get(c.author_id or 0)),
                c.hidden,
                c.hidden and c.auto_hidden,
                c.hidden_reason or "",
                int(r.reporters),
                r.first_at,
                r.last_at,
                tuple(reasons.get(("comment", c.id), [])),
                weight=round(float(r.weight or 0.0), 2),
            )
        else:
            continue
        items.append(item)
    return items, total


def _hidden_by(session: Session, target_type: str, ids: list[int]) -> dict[int, Any]:
    """The latest hide entry of each target in the audit log: (created_at, actor name)."""
    if not ids:
        return {}
    actor = aliased(User)
    rows = session.execute(
        select(AuditLog.target_id, AuditLog.created_at, actor.display_name)
        .outerjoin(actor, actor.id == AuditLog.actor_id)
        .where(
            AuditLog.target_type == target_type,
            AuditLog.action == f"{target_type}.hide",
            AuditLog.target_id.in_(ids),
        )
        .order_by(AuditLog.id)
    ).all()
    return {int(target): (at, name) for target, at, name in rows if target is not None}


def _open_counts(session: Session, column: Any, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(column, func.count(func.distinct(Report.reporter_id)))
        .where(column.in_(ids), Report.resolved_at.is_(None))
        .group_by(column)
    ).all()
    return {int(i): int(n) for i, n in rows}


def list_hidden_ideas(
    session: Session, actor: CurrentUser, limit: int, offset: int
) -> tuple[list[HiddenItem], int]:
    """Hidden ideas: those awaiting review (hidden automatically) first, then the newest."""
    total = int(session.scalar(select(func.count()).where(Idea.status == "hidden")) or 0)
    rows = session.execute(
        select(Idea, User)
        .outerjoin(User, User.id == Idea.author_id)
        .where(Idea.status == "hidden")
        .order_by(Idea.auto_hidden.desc(), Idea.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [i.id for i, _ in rows]
    by = _hidden_by(session, "idea", ids)
    reports = _open_counts(session, Report.idea_id, ids)
    items = []
    for i, u in rows:
        at, name = by.get(i.id, (None, None))
        items.append(
            HiddenItem(
                "idea",
                i.id,
                i.id,
                i.title,
                i.language,
                i.body,
                _author(actor, u),
                i.auto_hidden,
                i.hidden_reason or "",
                i.status_before_hide,
                at,
                name,
                reports.get(i.id, 0),
            )
        )
    return items, total


def list_hidden_comments(
    session: Session, actor: CurrentUser, limit: int, offset: int
) -> tuple[list[HiddenItem], int]:
    """Hidden comments: those awaiting review first, then the newest."""
    total = int(session.scalar(select(func.count()).where(Comment.hidden.is_(True))) or 0)
    rows = session.execute(
        select(Comment, Idea.title, Idea.language, User)
        .join(Idea, Idea.id == Comment.idea_id)
        .outerjoin(User, User.id == Comment.author_id)
        .where(Comment.hidden.is_(True))
        .order_by(Comment.auto_hidden.desc(), Comment.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [c.id for c, _, _, _ in rows]
    by = _hidden_by(session, "comment", ids)
    reports = _open_counts(session, Report.comment_id, ids)
    items = []
    for c, title, language, u in rows:
        at, name = by.get(c.id, (None, None))
        items.append(
            HiddenItem(
                "comment",
                c.id,
                c.idea_id,
                title,
                language,
                c.body,
                _author(actor, u),
                c.auto_hidden,
                c.hidden_reason or "",
                None,
                at,
                name,
                reports.get(c.id, 0),
            )
        )
    return items, total
