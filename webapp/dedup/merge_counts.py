"""Merge counters: recompute support, oppose and comment counts from the raw rows.

For a canonical or ordinary idea ``support_count`` is the number of distinct users with a +1 vote
on it or on any idea merged into it; ``oppose_count`` the distinct users with a -1 vote in that
cluster and no +1 in it (support wins). A merged idea keeps its own raw counts (the rows whose
``idea_id`` is it). ``comment_count`` counts the visible comments whose ``idea_id`` is the idea.
``webapp.ideas.votes`` keeps the same numbers exact vote by vote; merges and unmerges call
:func:`recount` for the ideas they touch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import Comment, Idea, Vote

_CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def recount(session: Session, idea_ids: Iterable[int]) -> None:
    """Recompute support, oppose and comment counters of the ideas from the raw rows."""
    ids = sorted(set(idea_ids))
    if not ids:
        return
    session.flush()
    for chunk in _chunks(ids):
        merged_into = dict(
            session.execute(select(Idea.id, Idea.merged_into_id).where(Idea.id.in_(chunk))).all()
        )
        roots = [i for i, m in merged_into.items() if m is None]
        merged = [i for i, m in merged_into.items() if m is not None]
        counts: dict[int, tuple[int, int]] = {i: (0, 0) for i in merged_into}
        if roots:
            cluster = func.coalesce(Idea.merged_into_id, Idea.id)
            per_user = (
                select(cluster.label("c"), Vote.user_id, func.max(Vote.value).label("mv"))
                .join(Idea, Idea.id == Vote.idea_id)
                .where(
                    Vote.idea_id.in_(
                        select(Idea.id).where(Idea.id.in_(roots) | Idea.merged_into_id.in_(roots))
                    )
                )
                .group_by(cluster, Vote.user_id)
                .subquery()
            )
            rows = session.execute(
                select(
                    per_user.c.c,
                    func.sum(case((per_user.c.mv == 1, 1), else_=0)),
                    func.sum(case((per_user.c.mv == -1, 1), else_=0)),
                ).group_by(per_user.c.c)
            ).all()
            for c, sup, opp in rows:
                if c in counts:
                    counts[c] = (int(sup or 0), int(opp or 0))
        if merged:
            rows = session.execute(
                select(
                    Vote.idea_id,
                    func.sum(case((Vote.value == 1, 1), else_=0)),
                    func.sum(case((Vote.value == -1, 1), else_=0)),
                )
                .where(Vote.idea_id.in_(merged))
                .group_by(Vote.idea_id)
            ).all()
            for i, sup, opp in rows:
                counts[i] = (int(sup or 0), int(opp or 0))
        comments = dict(
            session.execute(
                select(Comment.idea_id, func.count(Comment.id))
                .where(Comment.idea_id.in_(chunk), Comment.hidden.is_(False))
                .group_by(Comment.idea_id)
            ).all()
        )
        for idea_id, (sup, opp) in counts.items():
            session.execute(
                update(Idea)
                .where(Idea.id == idea_id)
                .values(
                    support_count=sup,
                    oppose_count=opp,
                    comment_count=int(comments.get(idea_id, 0)),
                )
            )
