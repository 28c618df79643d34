"""What pages show about merges: the history, and the ideas merged into a canonical one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from webapp.kernel.errors import NotFound
from webapp.kernel.storage.models import Comment, Idea, IdeaMerge, IdeaMergeMember, User, Vote


@dataclass(frozen=True)
class MergeMemberView:
    """One idea a merge folded in, and what it was before."""

    idea_id: int
    title: str
    author_id: int | None
    author_name: str | None
    previous_status: str
    previous_merged_into_id: int | None
    language: str = "ru"  # of the title (pages mark it with ``lang``)

    @property
    def repointed(self) -> bool:
        """Folded in because it was merged into one of the chosen members."""
        return self.previous_merged_into_id is not None


@dataclass(frozen=True)
class MergeView:
    id: int
    canonical_id: int
    canonical_title: str
    group_id: int | None
    actor_id: int | None
    actor_name: str | None
    reason: str
    created_at: datetime
    undone_at: datetime | None
    undone_by_id: int | None
    undone_by_name: str | None
    undo_reason: str | None
    members: tuple[MergeMemberView, ...]
    moved_comments: int
    canonical_language: str = "ru"  # of ``canonical_title``

    @property
    def active(self) -> bool:
        return self.undone_at is None


@dataclass(frozen=True)
class MergedIdea:
    """An idea merged into the canonical one, as the canonical page lists it."""

    idea_id: int
    title: str
    author_id: int | None
    author_name: str | None
    merge_id: int
    merged_at: datetime
    support_count: int  # its own raw supporters (rows on it)
    language: str = "ru"  # of the title (pages mark it with ``lang``)


@dataclass(frozen=True)
class MergeInfo:
    """What an idea page shows about merges.

    ``merged``: ideas merged into this one, oldest merge first. ``credited``: display names of
    their authors other than this idea's author, each once ("also proposed by").
    ``via``: titles of merged ideas through which the viewer is counted as a supporter.
    """

    idea_id: int
    merged: tuple[MergedIdea, ...]
    credited: tuple[str, ...]
    via: tuple[str, ...]


def _views(session: Session, records: Sequence[IdeaMerge]) -> list[MergeView]:
    if not records:
        return []
    ids = [r.id for r in records]
    actor = aliased(User)
    undoer = aliased(User)
    people = {
        r[0]: (r[1], r[2])
        for r in session.execute(
            select(IdeaMerge.id, actor.display_name, undoer.display_name)
            .outerjoin(actor, actor.id == IdeaMerge.actor_id)
            .outerjoin(undoer, undoer.id == IdeaMerge.undone_by_id)
            .where(IdeaMerge.id.in_(ids))
        )
    }
    canonicals = {
        i: (title, language)
        for i, title, language in session.execute(
            select(Idea.id, Idea.title, Idea.language).where(
                Idea.id.in_({r.canonical_id for r in records})
            )
        )
    }
    members: dict[int, list[MergeMemberView]] = {i: [] for i in ids}
    for row, title, language, author_id, author_name in session.execute(
        select(IdeaMergeMember, Idea.title, Idea.language, Idea.author_id, User.display_name)
        .join(Idea, Idea.id == IdeaMergeMember.idea_id)
        .outerjoin(User, User.id == Idea.author_id)
        .where(IdeaMergeMember.merge_id.in_(ids))
        .order_by(IdeaMergeMember.merge_id, IdeaMergeMember.idea_id)
    ):
        members[row.merge_id].append(
            MergeMemberView(
                row.idea_id,
                title,
                author_id,
                author_name,
                row.previous_status,
                row.previous_merged_into_id,
                language,
            )
        )
    moved = dict(
        session.execute(
            select(Comment.moved_by_merge_id, func.count(Comment.id))
            .where(Comment.moved_by_merge_id.in_(ids))
            .group_by(Comment.moved_by_merge_id)
        ).all()
    )
    return [
        MergeView(
            id=r.id,
            canonical_id=r.canonical_id,
            canonical_title=canonicals.get(r.canonical_id, ("", "ru"))[0],
            group_id=r.group_id,
            actor_id=r.actor_id,
            actor_name=people.get(r.id, (None, None))[0],
            reason=r.reason or "",
            created_at=r.created_at,
            undone_at=r.undone_at,
            undone_by_id=r.undone_by_id,
            undone_by_name=people.get(r.id, (None, None))[1],
            undo_reason=r.undo_reason,
            members=tuple(members[r.id]),
            moved_comments=int(moved.get(r.id, 0)),
            canonical_language=canonicals.get(r.canonical_id, ("", "ru"))[1],
        )
        for r in records
    ]


def get_merge(session: Session, merge_id: int) -> MergeView:
    record = session.get(IdeaMerge, merge_id)
    if record is None:
        raise NotFound("Merge not found.")
    return _views(session, [record])[0]


def list_merges(
    session: Session, *, limit: int, offset: int, canonical_id: int | None = None
) -> tuple[list[MergeView], int]:
    """One page of merges, newest first, and how many there are in all."""
    query = select(IdeaMerge)
    count = select(func.count(IdeaMerge.id))
    if canonical_id is not None:
        query = query.where(IdeaMerge.canonical_id == canonical_id)
        count = count.where(IdeaMerge.canonical_id == canonical_id)
    total = int(session.scalar(count) or 0)
    records = session.scalars(
        query.order_by(IdeaMerge.created_at.desc(), IdeaMerge.id.desc()).limit(limit).offset(offset)
    ).all()
    return _views(session, records), total


def merged_into_info(session: Session, idea_id: int, viewer_id: int | None = None) -> MergeInfo:
    """The ideas merged into ``idea_id`` (with the active merge that did it) and their authors."""
    latest = (
        select(IdeaMergeMember.idea_id, func.max(IdeaMerge.id).label("merge_id"))
        .join(IdeaMerge, IdeaMerge.id == IdeaMergeMember.merge_id)
        .where(IdeaMerge.canonical_id == idea_id, IdeaMerge.undone_at.is_(None))
        .group_by(IdeaMergeMember.idea_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Idea.id,
            Idea.title,
            Idea.author_id,
            User.display_name,
            latest.c.merge_id,
            IdeaMerge.created_at,
            Idea.support_count,
            Idea.language,
        )
        .join(latest, latest.c.idea_id == Idea.id)
        .join(IdeaMerge, IdeaMerge.id == latest.c.merge_id)
        .outerjoin(User, User.id == Idea.author_id)
        .where(Idea.merged_into_id == idea_id)
        .order_by(IdeaMerge.created_at, Idea.id)
    ).all()
    merged = tuple(
        MergedIdea(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6] or 0), r[7]) for r in rows
    )
    own_author = session.scalar(select(Idea.author_id).where(Idea.id == idea_id))
    credited: list[str] = []
    seen: set[int] = set()
    for m in merged:
        if m.author_id is None or m.author_id == own_author or m.author_id in seen:
            continue
        seen.add(m.author_id)
        if m.author_name:
            credited.append(m.author_name)
    via: tuple[str, ...] = ()
    if viewer_id is not None and merged:
        supported = set(
            session.scalars(
                select(Vote.idea_id).where(
                    Vote.user_id == viewer_id,
                    Vote.value == 1,
                    Vote.idea_id.in_([m.idea_id for m in merged]),
                )
            )
        )
        via = tuple(m.title for m in merged if m.idea_id in supported)
    return MergeInfo(idea_id, merged, tuple(credited), via)


def moved_from(session: Session, comment_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """For the comments a merge moved: comment id -> (id, title) of the idea it was written on."""
    if not comment_ids:
        return {}
    rows = session.execute(
        select(Comment.id, Idea.id, Idea.title)
        .join(Idea, Idea.id == Comment.moved_from_idea_id)
        .where(Comment.id.in_(list(comment_ids)), Comment.moved_by_merge_id.is_not(None))
    ).all()
    return {cid: (iid, title) for cid, iid, title in rows}
