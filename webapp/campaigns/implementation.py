"""Building what residents chose: progress, a public note and dated milestones of an idea, and
the gallery of what the city built.

Officials (permission "answer") report on an idea the city took on — one funded by a published
budget vote, or one they accepted — its progress in percent (0..100), a public note, and
milestones (a title, a planned date, the date reached). Every change is audited. The status
follows the progress through the officials' answer (``webapp.officials.responses.answer``, so the
author and supporters are told and the change is audited there too): the first progress above
0 % moves an accepted idea to "in progress", 100 % moves it to "implemented". An idea an official
marked "implemented" counts as built whatever its percent says.

The gallery (``/implemented``) lists the ideas being built and built: in progress or
implemented, or funded by a published vote (not hidden, merged or rejected), built ones first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from webapp.ideas.photos import PhotoView, first_photos
from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser, Page
from webapp.kernel.errors import Conflict, NotFound
from webapp.kernel.security import require_permission
from webapp.kernel.storage.models import (
    BudgetResult,
    District,
    Idea,
    IdeaMilestone,
    IdeaProgress,
    Project,
    utcnow,
)
from webapp.kernel.validation import Errors, clean_text
from webapp.officials import responses

NOTE_MAX_LENGTH = 2_000
MILESTONE_TITLE_MAX = 300
MAX_MILESTONES = 50
# Ideas whose building officials report on.
BUILDING_STATUSES = ("accepted", "in_progress", "implemented")
GALLERY_STATUSES = ("accepted", "in_progress", "implemented")
GALLERY_PAGE_SIZE = 12


@dataclass(frozen=True)
class MilestoneView:
    id: int
    title: str
    due_on: date | None
    done_on: date | None
    position: int

    @property
    def done(self) -> bool:
        return self.done_on is not None

    # dates as moments at noon UTC: the templates' date filter formats them in the city's zone
    @property
    def due_at(self) -> datetime | None:
        return _noon(self.due_on)

    @property
    def done_at(self) -> datetime | None:
        return _noon(self.done_on)


def _noon(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(12), tzinfo=UTC)


@dataclass(frozen=True)
class Implementation:
    """How far the city is in building one idea (``percent`` None: nothing reported yet)."""

    idea_id: int
    title: str
    status: str
    funded: bool  # funded by a published budget vote
    project_id: int | None  # the project whose vote funded it
    percent: int | None
    note: str
    updated_at: datetime | None
    milestones: tuple[MilestoneView, ...]

    @property
    def built(self) -> bool:
        return self.status == "implemented" or self.percent == 100

    @property
    def shown(self) -> bool:
        """Whether the idea page has anything to show about building it."""
        return self.funded or self.percent is not None or bool(self.milestones)


def _funding_project(session: Session, idea_id: int) -> int | None:
    return session.scalar(
        select(BudgetResult.project_id)
        .join(Project, Project.id == BudgetResult.project_id)
        .where(
            BudgetResult.idea_id == idea_id,
            BudgetResult.selected.is_(True),
            Project.results_published_at.is_not(None),
        )
        .limit(1)
    )


def _milestones(session: Session, idea_id: int) -> tuple[MilestoneView, ...]:
    rows = session.scalars(
        select(IdeaMilestone)
        .where(IdeaMilestone.idea_id == idea_id)
        .order_by(IdeaMilestone.position, IdeaMilestone.id)
    )
    return tuple(MilestoneView(m.id, m.title, m.due_on, m.done_on, m.position) for m in rows)


def implementation(session: Session, idea_id: int, *, staff: bool = False) -> Implementation:
    """An idea's building report (``NotFound`` for a missing idea, or a hidden one for visitors)."""
    idea = session.get(Idea, idea_id)
    if idea is None or (idea.status == "hidden" and not staff):
        raise NotFound("Idea not found.")
    progress = session.get(IdeaProgress, idea_id)
    project_id = _funding_project(session, idea_id)
    return Implementation(
        idea_id=idea.id,
        title=idea.title,
        status=idea.status,
        funded=project_id is not None,
        project_id=project_id,
        percent=None if progress is None else int(progress.percent),
        note=progress.note if progress is not None else "",
        updated_at=progress.updated_at if progress is not None else None,
        milestones=_milestones(session, idea_id),
    )


def _idea_to_build(session: Session, idea_id: int) -> Idea:
    idea = session.get(Idea, idea_id, with_for_update=True)
    if idea is None:
        raise NotFound("Idea not found.")
    if idea.status not in BUILDING_STATUSES and _funding_project(session, idea_id) is None:
        raise Conflict("Progress is reported for ideas the city took on: accept the idea first.")
    return idea


def _percent(errors: Errors, raw: object) -> int:
    text = raw.strip() if isinstance(raw, str) else str(raw) if isinstance(raw, int) else ""
    if not text:
        errors.add("percent", "Enter the progress in percent, from 0 to 100.")
        return 0
    try:
        value = int(text.rstrip("%").strip())
    except ValueError:
        errors.add("percent", "Enter the progress in percent, from 0 to 100.")
        return 0
    if not 0 <= value <= 100:
        errors.add("percent", "Enter the progress in percent, from 0 to 100.")
    return value


def _move_status(
    session: Session, official: CurrentUser, idea: Idea, percent: int, note: str, email: bool
) -> str | None:
    """Move the status along with the progress (through the officials' answer)."""
    target = None
    if percent == 100 and idea.status in ("accepted", "in_progress"):
        target = "implemented"
    elif 0 < percent < 100 and idea.status == "accepted":
        target = "in_progress"
    if target is None:
        return None
    default = (
        ("The idea is implemented." if target == "implemented" else "The city started building it.")
        if idea.language == "en"
        else ("Идея реализована." if target == "implemented" else "Город начал реализацию идеи.")
    )
    text = note if len(note) >= responses.RESPONSE_MIN_LENGTH else default
    responses.answer(session, official, idea.id, target, text, email=email)
    return target


def save_progress(
    session: Session,
    official: CurrentUser,
    idea_id: int,
    percent: object,
    note: object,
    *,
    email: bool,
) -> Implementation:
    """Set an idea's progress and public note (audited); 100 % marks it implemented. Flushes."""
    require_permission(official.role, "answer")
    errors = Errors()
    value = _percent(errors, percent)
    text = clean_text(
        errors, "note", note, min_length=0, max_length=NOTE_MAX_LENGTH, multiline=True
    )
    errors.raise_if_any()
    idea = _idea_to_build(session, idea_id)
    row = session.get(IdeaProgress, idea_id)
    before: dict[str, Any] = (
        {"percent": row.percent, "note": row.note} if row is not None else {"percent": None}
    )
    if row is None:
        row = IdeaProgress(idea_id=idea_id)
        session.add(row)
    row.percent = value
    row.note = text
    row.updated_by = official.id
    row.updated_at = utcnow()
    session.flush()
    status = _move_status(session, official, idea, value, text, email)
    audit.record(
        session,
        official.id,
        "idea.progress",
        "idea",
        idea_id,
        reason=text,
        details={"before": before, "after": {"percent": value, "note": text, "status": status}},
    )
    session.flush()
    return implementation(session, idea_id, staff=True)


def _date(errors: Errors, name: str, raw: object, required: bool = False) -> date | None:
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        if required:
            errors.add(name, "Enter a date.")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.add(name, "Enter a date as YYYY-MM-DD.")
        return None


def add_milestone(
    session: Session, official: CurrentUser, idea_id: int, title: object, due_on: object
) -> Implementation:
    """Add a dated step at the end of an idea's milestones (audited). Flushes."""
    require_permission(official.role, "answer")
    errors = Errors()
    text = clean_text(errors, "title", title, min_length=3, max_length=MILESTONE_TITLE_MAX)
    due = _date(errors, "due_on", due_on)
    errors.raise_if_any()
    _idea_to_build(session, idea_id)
    count, last = session.execute(
        select(func.count(), func.max(IdeaMilestone.position)).where(
            IdeaMilestone.idea_id == idea_id
        )
    ).one()
    if count >= MAX_MILESTONES:
        raise Conflict("An idea has at most %(max)s milestones.", max=MAX_MILESTONES)
    row = IdeaMilestone(idea_id=idea_id, title=text, due_on=due, position=(last or 0) + 1)
    session.add(row)
    session.flush()
    audit.record(
        session,
        official.id,
        "idea.milestone_add",
        "idea",
        idea_id,
        reason=text,
        details={"milestone_id": row.id, "title": text, "due_on": due.isoformat() if due else None},
    )
    return implementation(session, idea_id, staff=True)


def _milestone(session: Session, idea_id: int, milestone_id: int) -> IdeaMilestone:
    row = session.get(IdeaMilestone, milestone_id)
    if row is None or row.idea_id != idea_id:
        raise NotFound("Milestone not found.")
    return row


def mark_done(
    session: Session,
    official: CurrentUser,
    idea_id: int,
    milestone_id: int,
    done_on: object = None,
    *,
    today: date | None = None,
) -> Implementation:
    """Mark a milestone reached on ``done_on`` (default: ``today``); audited. Flushes."""
    require_permission(official.role, "answer")
    errors = Errors()
    day = _date(errors, "done_on", done_on) or today or utcnow().date()
    errors.raise_if_any()
    row = _milestone(session, idea_id, milestone_id)
    before = row.done_on.isoformat() if row.done_on else None
    row.done_on = day
    session.flush()
    audit.record(
        session,
        official.id,
        "idea.milestone_done",
        "idea",
        idea_id,
        reason=row.title,
        details={"milestone_id": row.id, "before": before, "after": day.isoformat()},
    )
    return implementation(session, idea_id, staff=True)


def remove_milestone(
    session: Session, official: CurrentUser, idea_id: int, milestone_id: int
) -> Implementation:
    """Delete a milestone (audited, with what it said). Flushes."""
    require_permission(official.role, "answer")
    row = _milestone(session, idea_id, milestone_id)
    title = row.title
    details: dict[str, Any] = {
        "milestone_id": row.id,
        "title": row.title,
        "due_on": row.due_on.isoformat() if row.due_on else None,
        "done_on": row.done_on.isoformat() if row.done_on else None,
    }
    session.delete(row)
    session.flush()
    audit.record(
        session,
        official.id,
        "idea.milestone_remove",
        "idea",
        idea_id,
        reason=title,
        details=details,
    )
    return implementation(session, idea_id, staff=True)


# --- the gallery ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryItem:
    idea_id: int
    title: str
    language: str
    status: str
    district_id: int | None
    percent: int | None
    note: str
    photo: PhotoView | None

    @property
    def built(self) -> bool:
        return self.status == "implemented" or self.percent == 100


def _gallery_query(district_id: int | None) -> Select[Any]:
    funded = (
        select(BudgetResult.idea_id)
        .join(Project, Project.id == BudgetResult.project_id)
        .where(BudgetResult.selected.is_(True), Project.results_published_at.is_not(None))
    )
    query = select(Idea.id).where(
        Idea.status.in_(GALLERY_STATUSES),
        or_(
            Idea.status.in_(("in_progress", "implemented")),
            Idea.id.in_(funded),
            Idea.id.in_(select(IdeaProgress.idea_id)),
        ),
    )
    if district_id is not None:
        inside = select(District.id).where(
            or_(District.id == district_id, District.parent_id == district_id)
        )
        query = query.where(Idea.district_id.in_(inside))
    return query


def gallery(
    session: Session, district_id: int | None, page: int, size: int = GALLERY_PAGE_SIZE
) -> Page[GalleryItem]:
    """Ideas built and being built, built first, then by progress; ``district_id``: a district,
    or an okrug (its districts too)."""
    ids = _gallery_query(district_id).subquery()
    total = int(session.scalar(select(func.count()).select_from(ids)) or 0)
    built_first = (Idea.status == "implemented") | (func.coalesce(IdeaProgress.percent, 0) == 100)
    rows = session.execute(
        select(
            Idea.id,
            Idea.title,
            Idea.language,
            Idea.status,
            Idea.district_id,
            IdeaProgress.percent,
            IdeaProgress.note,
        )
        .join(ids, ids.c.id == Idea.id)
        .outerjoin(IdeaProgress, IdeaProgress.idea_id == Idea.id)
        .order_by(
            built_first.desc(),
            func.coalesce(IdeaProgress.percent, 0).desc(),
            Idea.id.desc(),
        )
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    photos = first_photos(session, [r.id for r in rows])
    items = [
        GalleryItem(
            r.id,
            r.title,
            r.language,
            r.status,
            r.district_id,
            None if r.percent is None else int(r.percent),
            r.note or "",
            photos.get(r.id),
        )
        for r in rows
    ]
    return Page(items, page, size, total)
