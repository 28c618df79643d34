"""Reading projects: one project's stage state, the projects open now, the permanent pool.

Writing them (the officials' form, the override, pots and experts) is in ``admin.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from webapp.kernel.errors import NotFound
from webapp.kernel.storage.models import (
    PERMANENT_PROJECT_ID,
    Project,
    ProjectExpert,
    ProjectStage,
    utcnow,
)
from webapp.projects.stages import StageState, Window, state_at


@dataclass(frozen=True)
class ProjectGate:
    """What the gate needs to know of a project (read in the action's own transaction)."""

    id: int
    title_ru: str
    title_en: str
    voting: str
    published: bool
    scope_district_id: int | None
    eligibility: str
    state: StageState
    override_reason: str
    now: datetime


def windows(session: Session | Connection, project_id: int) -> list[Window]:
    rows = session.execute(
        select(ProjectStage.stage, ProjectStage.starts_at, ProjectStage.ends_at).where(
            ProjectStage.project_id == project_id
        )
    ).all()
    return [Window(r.stage, r.starts_at, r.ends_at) for r in rows]


def gate_info(
    session: Session | Connection, project_id: int, now: datetime | None = None
) -> ProjectGate:
    """The project's stage in force at ``now`` (default: the current moment)."""
    row = session.execute(
        select(
            Project.id,
            Project.title_ru,
            Project.title_en,
            Project.voting,
            Project.published,
            Project.scope_district_id,
            Project.eligibility,
            Project.permanent,
            Project.stage_override,
            Project.override_reason,
        ).where(Project.id == project_id)
    ).one_or_none()
    if row is None:
        raise NotFound("Project not found.")
    now = now or utcnow()
    state = state_at(
        now,
        windows(session, project_id),
        permanent=row.permanent,
        override=row.stage_override,
    )
    return ProjectGate(
        id=row.id,
        title_ru=row.title_ru,
        title_en=row.title_en,
        voting=row.voting,
        published=row.published,
        scope_district_id=row.scope_district_id,
        eligibility=row.eligibility,
        state=state,
        override_reason=row.override_reason,
        now=now,
    )


def permanent_project_id() -> int:
    return PERMANENT_PROJECT_ID


# The permanent pool as migration 0008 creates it (tests restore it after emptying the tables).
PERMANENT_PROJECT = {
    "id": PERMANENT_PROJECT_ID,
    "slug": "ideas",
    "title_ru": "Идеи для города",
    "title_en": "Ideas for the city",
    "description_ru": "Постоянный сбор идей: предлагайте и поддерживайте в любое время.",
    "description_en": "The permanent pool: propose and support ideas at any time.",
    "permanent": True,
    "published": True,
    "voting": "supports",
    "rule": "greedy",
    "eligibility": "everyone",
    "languages": "ru,en",
}


def restore_permanent(conn: Connection) -> None:
    """Put back the permanent pool (project 1) if it is missing."""
    if conn.execute(select(Project.id).where(Project.id == PERMANENT_PROJECT_ID)).first():
        return
    now = utcnow()
    conn.execute(insert(Project), [{**PERMANENT_PROJECT, "created_at": now, "updated_at": now}])
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('projects', 'id'), "
            "(SELECT MAX(id) FROM projects))"
        )


def is_expert(session: Session | Connection, user_id: int, project_id: int) -> bool:
    """Whether the user is assigned as an expert of the project (the per-project role)."""
    return (
        session.execute(
            select(ProjectExpert.user_id).where(
                ProjectExpert.project_id == project_id, ProjectExpert.user_id == user_id
            )
        ).first()
        is not None
    )


def expert_projects(session: Session | Connection, user_id: int) -> list[int]:
    """Ids of the projects the user is an expert of."""
    return list(
        session.execute(
            select(ProjectExpert.project_id).where(ProjectExpert.user_id == user_id)
        ).scalars()
    )
