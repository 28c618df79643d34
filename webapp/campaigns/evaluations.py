"""Experts evaluate a project's ideas: feasible or not (with a public reason), cost, department.

Who may evaluate: the project's experts (``ProjectExpert`` rows, a per-project role) and the
city's officials and admins. Only while the project's review stage is open
(``require_open(..., "evaluate")``; officials move a project by the stage override, they get no
way around the dates here). Every save writes an audit entry with the evaluation before and
after. Evaluations are public: the idea page and the API show them to everyone, and only
feasible ideas with a cost reach a budget ballot (``pots.ballot_ideas``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotFound, PermissionDenied
from webapp.kernel.security import can
from webapp.kernel.storage.models import (
    PUBLIC_STATUSES,
    Ballot,
    Idea,
    IdeaEvaluation,
    Project,
    User,
    utcnow,
)
from webapp.kernel.validation import Errors, clean_text
from webapp.projects.gates import require_open
from webapp.projects.projects import is_expert

REASON_MAX_LENGTH = 2_000
DEPARTMENT_MAX_LENGTH = 200
MAX_COST = 10**12  # a trillion roubles: far above any city budget, far below BIGINT
# Spaces a cost may be typed with: "1 500 000", with no-break or thin spaces, or apostrophes.
_GROUPING = re.compile(r"[\s\u00a0\u202f\u2009'’_]")
_DIGITS = re.compile(r"^[0-9]{1,13}$")


@dataclass(frozen=True)
class EvaluationView:
    """An idea's public evaluation."""

    idea_id: int
    feasible: bool
    reason: str
    cost: int | None
    department: str
    expert_name: str | None
    updated_at: datetime


@dataclass(frozen=True)
class ReviewRow:
    """One idea on the review page with its evaluation, if any."""

    id: int
    title: str
    status: str
    district_id: int | None
    support_count: int
    evaluation: EvaluationView | None

    @property
    def done(self) -> bool:
        return self.evaluation is not None


@dataclass(frozen=True)
class ReviewPage:
    project_id: int
    title_ru: str
    title_en: str
    voting: str
    rows: list[ReviewRow]
    total: int
    done: int
    ballots: dict[int, int]  # pot id -> ballots cast (counts only, never their content)

    @property
    def todo(self) -> int:
        return self.total - self.done


def may_review(session: Session, user: CurrentUser, project_id: int) -> bool:
    """Whether ``user`` may see the review page and evaluate the project's ideas."""
    return can(user.role, "answer") or is_expert(session, user.id, project_id)


def require_reviewer(session: Session, user: CurrentUser, project_id: int) -> None:
    """Refuse (403) anyone but the project's experts, officials and admins; 404 for no project."""
    exists = session.execute(select(Project.id).where(Project.id == project_id)).first()
    if exists is None:
        raise NotFound("Project not found.")
    if not may_review(session, user, project_id):
        raise PermissionDenied("Only the experts of this project and officials can do this.")


def parse_cost(value: object) -> int | None:
    """Roubles from a form or the API: a positive whole number, spaces between groups allowed
    ("1 500 000"); None when empty. ``ValueError`` for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = _GROUPING.sub("", value)
        if not text:
            return None
        if not _DIGITS.match(text):
            raise ValueError("not a whole number")
        number = int(text)
    else:
        raise ValueError("not a number")
    if not 0 < number <= MAX_COST:
        raise ValueError("out of range")
    return number


def parse_feasible(value: object) -> bool | None:
    """Yes/no from a form ("yes"/"no") or the API (a boolean); None when missing or unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("yes", "true", "1"):
            return True
        if text in ("no", "false", "0"):
            return False
    return None


def _view(row: IdeaEvaluation, expert_name: str | None) -> EvaluationView:
    return EvaluationView(
        idea_id=row.idea_id,
        feasible=row.feasible,
        reason=row.reason or "",
        cost=row.cost,
        department=row.department or "",
        expert_name=expert_name,
        updated_at=row.updated_at,
    )


def _evaluations(session: Session, idea_ids: list[int]) -> dict[int, EvaluationView]:
    if not idea_ids:
        return {}
    rows = session.execute(
        select(IdeaEvaluation, User.display_name)
        .outerjoin(User, User.id == IdeaEvaluation.expert_id)
        .where(IdeaEvaluation.idea_id.in_(idea_ids))
    ).all()
    return {ev.idea_id: _view(ev, name) for ev, name in rows}


def evaluation_of(session: Session, idea_id: int) -> EvaluationView | None:
    """The idea's public evaluation, or None when nobody has evaluated it."""
    return _evaluations(session, [idea_id]).get(idea_id)


def project_evaluations(session: Session, project_id: int) -> list[EvaluationView]:
    """Every evaluation of the project's public ideas (hidden and merged ones left out)."""
    ids = list(
        session.scalars(
            select(Idea.id)
            .where(Idea.project_id == project_id, Idea.status.in_(PUBLIC_STATUSES))
            .order_by(Idea.id)
        )
    )
    found = _evaluations(session, ids)
    return [found[i] for i in ids if i in found]


def ballot_counts(session: Session, project_id: int) -> dict[int, int]:
    """Pot id -> how many ballots were cast there (never who chose what)."""
    rows = session.execute(
        select(Ballot.pot_id, func.count(Ballot.id))
        .where(Ballot.project_id == project_id)
        .group_by(Ballot.pot_id)
    ).all()
    return {int(pot_id): int(n) for pot_id, n in rows}


def review_page(
    session: Session, user: CurrentUser, project_id: int, *, todo_only: bool = False
) -> ReviewPage:
    """The project's public ideas with their evaluation state, for its experts and officials."""
    require_reviewer(session, user, project_id)
    project = session.get(Project, project_id)
    assert project is not None  # require_reviewer found it
    ideas = session.execute(
        select(Idea.id, Idea.title, Idea.status, Idea.district_id, Idea.support_count)
        .where(Idea.project_id == project_id, Idea.status.in_(PUBLIC_STATUSES))
        .order_by(Idea.created_at, Idea.id)
    ).all()
    found = _evaluations(session, [r.id for r in ideas])
    rows = [
        ReviewRow(r.id, r.title, r.status, r.district_id, r.support_count, found.get(r.id))
        for r in ideas
    ]
    done = sum(1 for r in rows if r.done)
    return ReviewPage(
        project_id=project.id,
        title_ru=project.title_ru,
        title_en=project.title_en,
        voting=project.voting,
        rows=[r for r in rows if not r.done] if todo_only else rows,
        total=len(rows),
        done=done,
        ballots=ballot_counts(session, project_id),
    )


@dataclass(frozen=True)
class IdeaToEvaluate:
    id: int
    project_id: int
    title: str
    body: str
    status: str
    district_id: int | None
    voting: str
    evaluation: EvaluationView | None


def idea_to_evaluate(
    session: Session, user: CurrentUser, project_id: int, idea_id: int
) -> IdeaToEvaluate:
    """An idea of the project with its current evaluation, for the evaluation form."""
    require_reviewer(session, user, project_id)
    idea = session.get(Idea, idea_id)
    if idea is None or idea.project_id != project_id or idea.status not in PUBLIC_STATUSES:
        raise NotFound("Idea not found.")
    project = session.get(Project, project_id)
    assert project is not None
    return IdeaToEvaluate(
        id=idea.id,
        project_id=project_id,
        title=idea.title,
        body=idea.body,
        status=idea.status,
        district_id=idea.district_id,
        voting=project.voting,
        evaluation=evaluation_of(session, idea_id),
    )


def _state(row: IdeaEvaluation | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "feasible": row.feasible,
        "reason": row.reason,
        "cost": row.cost,
        "department": row.department,
        "expert_id": row.expert_id,
    }


def _clean(
    feasible: object, reason: object, cost: object, department: object, *, budget: bool
) -> tuple[bool, str, int | None, str]:
    errors = Errors()
    verdict = parse_feasible(feasible)
    if verdict is None:
        errors.add("feasible", "Choose whether the idea can be carried out.")
    text = clean_text(
        errors, "reason", reason, min_length=0, max_length=REASON_MAX_LENGTH, multiline=True
    )
    dept = clean_text(
        errors, "department", department, min_length=0, max_length=DEPARTMENT_MAX_LENGTH
    )
    roubles: int | None = None
    try:
        roubles = parse_cost(cost)
    except ValueError:
        errors.add("cost", "Enter the cost in roubles as a whole positive number, e.g. 1 500 000.")
    if verdict is False and "reason" not in errors.errors and not text:
        errors.add("reason", "Explain publicly why the idea cannot be carried out.")
    if verdict is True and budget and "cost" not in errors.errors and roubles is None:
        errors.add("cost", "Enter the cost: only ideas with a cost reach the budget ballot.")
    errors.raise_if_any()
    assert verdict is not None
    return verdict, text, roubles, dept


def evaluate(
    session: Session,
    user: CurrentUser,
    project_id: int,
    idea_id: int,
    *,
    feasible: object,
    reason: object,
    cost: object,
    department: object,
    now: datetime | None = None,
) -> EvaluationView:
    """Save the idea's evaluation (create or replace); audited with before/after. Flushes.

    403 for anyone but the project's experts, officials and admins; 404 for an idea that is not
    a public idea of the project; 409 (the gate's message) outside the review stage; 422 for
    bad values (a reason is required when not feasible, a cost when feasible in a budget project).
    """
    require_reviewer(session, user, project_id)
    gate = require_open(session, project_id, "evaluate", now, staff=can(user.role, "answer"))
    idea = session.get(Idea, idea_id)
    if idea is None or idea.project_id != project_id:
        raise NotFound("Idea not found.")
    if idea.status == "merged":
        raise Conflict("This idea was merged into another one: evaluate that one instead.")
    if idea.status not in PUBLIC_STATUSES:
        raise NotFound("Idea not found.")
    verdict, text, roubles, dept = _clean(
        feasible, reason, cost, department, budget=gate.voting != "supports"
    )
    row = session.get(IdeaEvaluation, idea_id, with_for_update=True)
    before = _state(row)
    moment = now or utcnow()
    if row is None:
        row = IdeaEvaluation(idea_id=idea_id, created_at=moment)
        session.add(row)
    row.expert_id = user.id
    row.feasible = verdict
    row.reason = text
    row.cost = roubles
    row.department = dept
    row.updated_at = moment
    session.flush()
    audit.record(
        session,
        user.id,
        "idea.evaluate",
        "idea",
        idea_id,
        reason=text,
        details={"project_id": project_id, "before": before, "after": _state(row)},
    )
    return _view(row, user.display_name)
