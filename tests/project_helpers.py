"""Projects for tests: rows written directly (the officials' form is tested on its own)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from webapp.kernel.search_text import search_document
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    Idea,
    IdeaEvaluation,
    Project,
    ProjectExpert,
    ProjectPot,
    ProjectStage,
    utcnow,
)

STAGE_ORDER = ("proposals", "review", "voting", "results", "implementation")


def stages_around(
    current: str | None, now: datetime | None = None
) -> dict[str, tuple[datetime, datetime | None]]:
    """Five consecutive week-long stages with ``current`` open now (None: all in the future)."""
    now = now or utcnow()
    week = timedelta(days=7)
    index = STAGE_ORDER.index(current) if current else -1
    start = now - week / 2 - index * week if current else now + week
    out: dict[str, tuple[datetime, datetime | None]] = {}
    for i, stage in enumerate(STAGE_ORDER):
        s = start + i * week
        out[stage] = (s, None if stage == "implementation" else s + week)
    return out


def make_project(
    factory: sessionmaker[Session],
    *,
    current: str | None = "proposals",
    stages: dict[str, tuple[datetime, datetime | None]] | None = None,
    voting: str = "supports",
    pots: dict[int | None, int] | None = None,
    experts: tuple[int, ...] = (),
    **fields: Any,
) -> int:
    """A published project whose ``current`` stage is open now; returns its id.

    ``pots``: district id (None: the whole scope) -> amount in roubles, for budget projects.
    """
    with transaction(factory) as session:
        n = session.query(Project).count()
        project = Project(
            slug=fields.pop("slug", f"test-project-{n + 1}"),
            title_ru=fields.pop("title_ru", "Как изменить наши парки?"),
            title_en=fields.pop("title_en", "How should our parks change?"),
            description_ru=fields.pop("description_ru", "Предлагайте, как обновить парки района."),
            published=fields.pop("published", True),
            voting=voting,
            **fields,
        )
        session.add(project)
        session.flush()
        for stage, (start, end) in (stages or stages_around(current)).items():
            session.add(
                ProjectStage(project_id=project.id, stage=stage, starts_at=start, ends_at=end)
            )
        if pots is None and voting != "supports":
            pots = {None: 10_000_000}
        for district_id, amount in (pots or {}).items():
            session.add(ProjectPot(project_id=project.id, district_id=district_id, amount=amount))
        for user_id in experts:
            session.add(ProjectExpert(project_id=project.id, user_id=user_id))
        return project.id


def make_project_idea(
    factory: sessionmaker[Session],
    project_id: int,
    title: str,
    *,
    cost: int | None = None,
    feasible: bool | None = None,
    district_id: int | None = None,
    author_id: int | None = None,
    body: str = "Подробное описание идеи для проверки.",
) -> int:
    """An idea in a project; with ``feasible``/``cost``, an expert evaluation too."""
    with transaction(factory) as session:
        idea = Idea(
            project_id=project_id,
            title=title,
            body=body,
            district_id=district_id,
            author_id=author_id,
            search_doc=search_document(title, body),
        )
        session.add(idea)
        session.flush()
        if feasible is not None:
            session.add(
                IdeaEvaluation(
                    idea_id=idea.id,
                    feasible=feasible,
                    cost=cost,
                    reason="Проверено экспертом.",
                    department="Департамент ЖКХ",
                )
            )
        return idea.id
