"""Shared set-up for the similarity, reindex and duplicate-group tests (real database)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import make_user
from webapp.dedup.engine import SimilarityService
from webapp.ideas.ideas import edit_idea, submit_idea
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    Category,
    DuplicateGroup,
    DuplicatePair,
    Idea,
    IdeaEmbedding,
)

FAST_MODEL = "hashing-char-ngrams"

# Planted duplicates (A, A2) and (B, B2), and ideas on other subjects.
BIKE = ("Велодорожка на Тверской улице", "Нужна выделенная велодорожка вдоль всей Тверской улицы.")
BIKE_COPY = (
    "Велодорожку на Тверскую улицу",
    "Прошу сделать выделенную велодорожку вдоль всей Тверской улицы.",
)
TREES = ("Plant trees in Gorky Park", "More shade trees along the paths of Gorky Park, please.")
TREES_COPY = (
    "Plant more trees in Gorky Park",
    "Please plant more shade trees along the paths in Gorky Park.",
)
OTHER = [
    ("Ремонт детской площадки", "Во дворе дома 12 сломаны качели и горка, нужен ремонт."),
    ("Bus shelter at the station", "The stop by the railway station needs a roof and a bench."),
    ("Освещение в парке", "В парке у пруда совсем нет фонарей, вечером темно и опасно."),
    ("Public toilets downtown", "Open free public toilets near the central square."),
]


def fast(settings: Settings, **changes: Any) -> Settings:
    changes.setdefault("embedding_model", FAST_MODEL)
    return dataclasses.replace(settings, **changes)


def clear_dedup(factory: sessionmaker[Session]) -> None:
    """conftest empties ideas (pairs, members and vectors cascade); groups have no idea FK."""
    with transaction(factory) as session:
        session.execute(delete(DuplicateGroup))
        session.execute(delete(DuplicatePair))
        session.execute(delete(IdeaEmbedding))


def author(factory: sessionmaker[Session], email: str = "author@example.org") -> CurrentUser:
    return make_user(factory, email)


def add_idea(
    factory: sessionmaker[Session],
    user: CurrentUser,
    title: str,
    body: str,
    status: str = "published",
    project_id: int | None = None,
) -> int:
    """An idea, published unless ``status`` says otherwise; in ``project_id`` from its first
    commit when given (so no background job ever sees it elsewhere)."""
    with transaction(factory) as session:
        category = session.scalars(select(Category.id).order_by(Category.id)).first()
        idea_id = submit_idea(
            session, user, {"title": title, "body": body, "category_id": category}
        )
        if status != "published":
            session.execute(update(Idea).where(Idea.id == idea_id).values(status=status))
        if project_id is not None:
            session.execute(update(Idea).where(Idea.id == idea_id).values(project_id=project_id))
    return idea_id


def edit(
    factory: sessionmaker[Session], user: CurrentUser, idea_id: int, title: str, body: str
) -> None:
    with transaction(factory) as session:
        category = session.scalars(select(Category.id).order_by(Category.id)).first()
        edit_idea(session, user, idea_id, {"title": title, "body": body, "category_id": category})


def service(settings: Settings, factory: sessionmaker[Session]) -> SimilarityService:
    """A loaded service, as a worker has it after start-up."""
    svc = SimilarityService(settings, factory)
    svc.load()
    assert svc.status == "ready"
    return svc


def vectors(factory: sessionmaker[Session]) -> dict[int, tuple[int, str, str]]:
    """idea id -> (row id, model, text hash) of the stored vectors."""
    with factory() as session:
        rows = session.execute(
            select(
                IdeaEmbedding.idea_id,
                IdeaEmbedding.id,
                IdeaEmbedding.model,
                IdeaEmbedding.text_hash,
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}
