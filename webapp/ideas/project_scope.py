"""Which project an idea belongs to, as the ideas pages show it: names, the projects a citizen may
propose to now, and whether supports are open on an idea's project.

The stage rules themselves live in ``webapp.projects`` (``stages``, ``gates``); this module only
reads what the idea form, the lists and the idea page need, in few queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.errors import Conflict, NotFound
from webapp.kernel.storage.models import (
    PERMANENT_PROJECT_ID,
    Idea,
    Project,
    ProjectStage,
    utcnow,
)
from webapp.kernel.validation import Errors, clean_optional_id
from webapp.projects.gates import check
from webapp.projects.projects import gate_info
from webapp.projects.stages import Window, allows, state_at


@dataclass(frozen=True)
class ProjectRef:
    """A project as a link: its id and question (``permanent``: the always-open idea pool)."""

    id: int
    title_ru: str
    title_en: str
    permanent: bool

    def name(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ru


@dataclass(frozen=True)
class ActionGate:
    """Whether an action is open in a project; if not, why (a message id and its params)."""

    open: bool
    message: str = ""
    params: dict[str, Any] = field(default_factory=dict)


_REF_COLUMNS = (Project.id, Project.title_ru, Project.title_en, Project.permanent)


def _ref(row: Any) -> ProjectRef:
    return ProjectRef(int(row[0]), row[1], row[2], bool(row[3]))


def published_projects(session: Session) -> list[ProjectRef]:
    """Every published project, the permanent pool first, then the newest first (the filter)."""
    rows = session.execute(
        select(*_REF_COLUMNS)
        .where(Project.published.is_(True))
        .order_by(Project.permanent.desc(), Project.id.desc())
    ).all()
    return [_ref(r) for r in rows]


def proposable_projects(session: Session, now: datetime | None = None) -> list[ProjectRef]:
    """The published projects whose proposals are open now, the permanent pool first."""
    now = now or utcnow()
    rows = session.execute(
        select(*_REF_COLUMNS, Project.stage_override, Project.voting)
        .where(Project.published.is_(True))
        .order_by(Project.permanent.desc(), Project.id.desc())
    ).all()
    stages: dict[int, list[Window]] = defaultdict(list)
    for s in session.execute(
        select(
            ProjectStage.project_id,
            ProjectStage.stage,
            ProjectStage.starts_at,
            ProjectStage.ends_at,
        ).where(ProjectStage.stage == "proposals")
    ):
        stages[s[0]].append(Window(s[1], s[2], s[3]))
    out = []
    for r in rows:
        state = state_at(now, stages[r[0]], permanent=bool(r[3]), override=r[4])
        if allows(state, "propose", r[5]):
            out.append(_ref(r))
    return out


def project_ref(session: Session, project_id: int) -> ProjectRef | None:
    """A published project, None if it does not exist or is a draft."""
    row = session.execute(
        select(*_REF_COLUMNS).where(Project.id == project_id, Project.published.is_(True))
    ).first()
    return None if row is None else _ref(row)


def clean_project(session: Session, value: Any) -> int:
    """The project an idea is proposed to (default: the permanent pool); raises InvalidInput
    "Unknown value." on ``project_id`` for a malformed id, an unknown project or a draft."""
    errors = Errors()
    project_id = clean_optional_id(errors, "project_id", value)
    errors.raise_if_any()
    if project_id is None:
        return PERMANENT_PROJECT_ID
    if project_ref(session, project_id) is None:
        errors.add("project_id", "Unknown value.")
        errors.raise_if_any()
    return project_id


def idea_projects(session: Session, idea_ids: list[int]) -> dict[int, ProjectRef]:
    """The project of each given idea (ids not found are left out)."""
    if not idea_ids:
        return {}
    rows = session.execute(
        select(Idea.id, *_REF_COLUMNS)
        .join(Project, Project.id == Idea.project_id)
        .where(Idea.id.in_(idea_ids))
    ).all()
    return {int(r[0]): _ref(r[1:]) for r in rows}


def action_gate(
    session: Session, project_id: int, action: str, now: datetime | None = None
) -> ActionGate:
    """Whether ``action`` ("propose", "support") is open in the project now; the permanent pool
    is always open (no query). A project that is not found or a draft counts as open here: the
    action itself answers that."""
    if project_id == PERMANENT_PROJECT_ID:
        return ActionGate(True)
    try:
        gate = gate_info(session, project_id, now)
    except NotFound:
        return ActionGate(True)
    if not gate.published:
        return ActionGate(True)
    try:
        check(gate, action)
    except Conflict as exc:
        return ActionGate(False, exc.message, exc.params)
    return ActionGate(True)
