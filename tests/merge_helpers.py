"""Shared helpers for the merge tests: fast users and ideas, and counters recomputed from raw rows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from webapp.kernel.dto import CurrentUser
from webapp.kernel.search_text import search_document
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Comment, Idea, User, Vote

NAMES = ("Anna", "Boris", "Vera", "Gleb", "Daria", "Egor", "Zoya", "Ilya", "Kira", "Lev")


def quick_user(session_factory: Any, name: str, role: str = "citizen") -> CurrentUser:
    """A user without a usable password (no argon2 hashing: fast enough for property tests)."""
    email = f"{name.lower()}.{uuid.uuid4().hex[:8]}@example.org"
    with transaction(session_factory) as s:
        user = User(email=email, display_name=name, password_hash="!", role=role)
        s.add(user)
        s.flush()
        return CurrentUser(user.id, email, name, role, None, False, None)


def add_idea(
    session_factory: Any, title: str, author: CurrentUser | None = None, status: str = "published"
) -> int:
    body = f"{title}: подробное описание предложения для жителей района и города."
    with transaction(session_factory) as s:
        cat = s.scalar(select(Category.id).where(Category.slug == "parks"))
        idea = Idea(
            title=title,
            body=body,
            category_id=cat,
            author_id=author.id if author else None,
            status=status,
            search_doc=search_document(title, body),
        )
        s.add(idea)
        s.flush()
        return idea.id


def add_comment(
    session_factory: Any, idea_id: int, author: CurrentUser, body: str, hidden: bool = False
) -> int:
    with transaction(session_factory) as s:
        comment = Comment(idea_id=idea_id, author_id=author.id, body=body, hidden=hidden)
        s.add(comment)
        s.flush()
        idea = s.get(Idea, idea_id)
        assert idea is not None
        if not hidden:
            idea.comment_count += 1
        return comment.id


def expected_counts(session: Any, idea_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(support, oppose, comments) per idea, recomputed in Python from the raw rows."""
    # Clusters never reach outside the ideas given (merged ideas point at one of them).
    merged_into = dict(
        session.execute(
            select(Idea.id, Idea.merged_into_id).where(
                Idea.id.in_(idea_ids) | Idea.merged_into_id.in_(idea_ids)
            )
        ).all()
    )
    votes = session.execute(
        select(Vote.user_id, Vote.idea_id, Vote.value).where(Vote.idea_id.in_(merged_into))
    ).all()
    comments = session.execute(
        select(Comment.idea_id, Comment.hidden).where(Comment.idea_id.in_(idea_ids))
    ).all()
    out = {}
    for idea_id in idea_ids:
        if merged_into[idea_id] is not None:
            sup = sum(1 for _, i, v in votes if i == idea_id and v == 1)
            opp = sum(1 for _, i, v in votes if i == idea_id and v == -1)
        else:
            cluster = {i for i, m in merged_into.items() if i == idea_id or m == idea_id}
            plus = {u for u, i, v in votes if i in cluster and v == 1}
            minus = {u for u, i, v in votes if i in cluster and v == -1} - plus
            sup, opp = len(plus), len(minus)
        shown = sum(1 for i, hidden in comments if i == idea_id and not hidden)
        out[idea_id] = (sup, opp, shown)
    return out


def stored_counts(session: Any, idea_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    rows = session.execute(
        select(Idea.id, Idea.support_count, Idea.oppose_count, Idea.comment_count).where(
            Idea.id.in_(idea_ids)
        )
    ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}
