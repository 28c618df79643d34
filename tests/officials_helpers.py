"""Shared set-up for the officials tests: ideas and votes with controlled dates, role browsers."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from tests.helpers import Browser, make_user
from webapp.ideas import votes as votes_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.search_text import search_document
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, District, Idea, Vote
from webapp.ranking import ranking_log

# Real-looking names for the voters (display names must be words).
NAMES = [
    "Ivan",
    "Maria",
    "Pyotr",
    "Olga",
    "Sergei",
    "Anna",
    "Dmitri",
    "Elena",
    "Nikolai",
    "Irina",
    "Alexei",
    "Tatiana",
    "Mikhail",
    "Natalia",
    "Andrei",
    "Svetlana",
]


def officials_settings(settings: Settings, **changes: Any) -> Settings:
    changes.setdefault("response_threshold", 3)
    changes.setdefault("response_days", 10)
    return dataclasses.replace(settings, **changes)


def category(factory: Any, slug: str = "transport") -> int:
    with transaction(factory) as s:
        return s.execute(select(Category.id).where(Category.slug == slug)).scalar_one()


def district(factory: Any, parent: bool = False, index: int = 0) -> tuple[int, int]:
    """(district id, its okrug id) of the index-th district that has an okrug."""
    with transaction(factory) as s:
        rows = s.execute(
            select(District.id, District.parent_id)
            .where(District.parent_id.is_not(None))
            .order_by(District.id)
        ).all()
        district_id, okrug_id = rows[index]
        assert okrug_id is not None
        return district_id, okrug_id


def add_idea(
    factory: Any,
    title: str,
    *,
    author: CurrentUser | None = None,
    category_slug: str = "transport",
    district_id: int | None = None,
    created_at: datetime | None = None,
    status: str = "published",
    body: str | None = None,
) -> int:
    body = body or f"{title}: подробное описание предложения для жителей района."
    with transaction(factory) as s:
        cat = s.scalar(select(Category.id).where(Category.slug == category_slug))
        idea = Idea(
            title=title,
            body=body,
            category_id=cat,
            district_id=district_id,
            author_id=author.id if author else None,
            status=status,
            search_doc=search_document(title, body),
        )
        if created_at is not None:
            idea.created_at = idea.updated_at = created_at
        s.add(idea)
        s.flush()
        ranking_log.idea_changed(s, idea.id)
        return int(idea.id)


def voters(factory: Any, n: int, prefix: str = "voter") -> list[CurrentUser]:
    return [
        make_user(factory, f"{prefix}{i}@example.org", name=NAMES[i % len(NAMES)]) for i in range(n)
    ]


def vote(factory: Any, user: CurrentUser, idea_id: int, at: datetime | None = None) -> None:
    """Support through the service (counter, ranking log), then date the vote row."""
    with transaction(factory) as s:
        votes_service.cast_vote(s, user, idea_id)
        if at is not None:
            s.execute(
                update(Vote)
                .where(Vote.user_id == user.id, Vote.idea_id == idea_id)
                .values(created_at=at)
            )


def merge_into(factory: Any, member: int, canonical: int) -> None:
    """What a merge does to the member idea (the merge service owns the full operation)."""
    with transaction(factory) as s:
        s.execute(
            update(Idea).where(Idea.id == member).values(status="merged", merged_into_id=canonical)
        )
        ranking_log.recompute(s)


def logged_in(app: Any, factory: Any, role: str, email: str | None = None) -> Browser:
    email = email or f"{role}@example.org"
    names = {"citizen": "Vera", "moderator": "Boris", "official": "Oleg", "admin": "Anna"}
    make_user(factory, email, role=role, name=names[role])
    b = Browser(app)
    b.__enter__()
    b.login(email)
    return b
