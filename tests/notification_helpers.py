"""Helpers for the notification tests: ideas, supporters, notifications through the real writers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from webapp.ideas import votes
from webapp.ideas.ideas import submit_idea
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Notification
from webapp.notifications import notifications


def add_idea(factory: sessionmaker[Session], author: CurrentUser, title: str) -> int:
    with transaction(factory) as session:
        category = session.scalars(select(Category.id).order_by(Category.id)).first()
        body = f"{title}. A longer description of the problem and of what should be done."
        return submit_idea(session, author, {"title": title, "body": body, "category_id": category})


def support(factory: sessionmaker[Session], user: CurrentUser, idea_id: int) -> None:
    with transaction(factory) as session:
        votes.cast_vote(session, user, idea_id, 1)


def notify(
    factory: sessionmaker[Session],
    user_ids: list[int],
    kind: str,
    idea_id: int | None,
    data: dict[str, Any],
    email: bool = False,
) -> int:
    with transaction(factory) as session:
        return notifications.notify_users(session, user_ids, kind, idea_id, data, email=email)


def notify_supporters(
    factory: sessionmaker[Session],
    idea_ids: list[int],
    kind: str,
    idea_id: int | None,
    data: dict[str, Any],
    email: bool = True,
    exclude: tuple[int, ...] = (),
    authors: bool = True,
) -> int:
    with transaction(factory) as session:
        return notifications.notify_supporters(
            session, idea_ids, kind, idea_id, data, email=email, exclude=exclude, authors=authors
        )


def rows(factory: sessionmaker[Session], user_id: int | None = None) -> list[Notification]:
    with transaction(factory) as session:
        query = select(Notification).order_by(Notification.id)
        if user_id is not None:
            query = query.where(Notification.user_id == user_id)
        found = list(session.scalars(query).all())
        session.expunge_all()
        return found
