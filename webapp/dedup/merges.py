"""Merging duplicate ideas into a canonical one, and undoing it exactly.

Semantics (the contract the property test in ``tests/test_merge_property.py`` checks):

- **Vote rows are never touched** by a merge or an unmerge. Who counts where follows from
  ``ideas.merged_into_id``. There are no chains: a merge target is always canonical itself;
  merging B, which already has ideas merged into it, re-points those to the new canonical and
  records ``previous_merged_into_id`` in ``idea_merge_members`` so an unmerge restores them.
- **Counters.** For a canonical or ordinary idea ``support_count`` is the number of distinct
  users with a +1 vote on it or on any idea merged into it; ``oppose_count`` the distinct users
  with a -1 vote in that cluster and no +1 in it (support wins). A merged idea keeps its own raw
  counts (the rows whose ``idea_id`` is it). ``comment_count`` counts the visible comments whose
  current ``idea_id`` is the idea. :func:`recount` recomputes all three from the raw rows;
  ``webapp.ideas.votes`` keeps them exact vote by vote.
- **Merge**: members get status 'merged' and ``merged_into_id`` = canonical; their comments move
  to the canonical (``moved_from_idea_id`` keeps where each was written, ``moved_by_merge_id``
  the merge that moved it); counters are recounted, the ranking is rebuilt, an ``idea.merge``
  audit entry and one notification per distinct supporter or author of the merged ideas written.
- **Unmerge** restores exactly the pre-merge state of the merge's members (status,
  ``merged_into_id``) and moves back exactly the comments it moved. Votes cast on the canonical
  after the merge stay where their rows are. Only a merge whose members are still as it left
  them can be undone: when a later merge folded one of them (or the canonical) further, that
  later merge must be undone first, and the error names it. Later merges into the same
  canonical of *other* ideas do not block it.
- Counters live in :mod:`webapp.dedup.merge_counts`, what pages show in
  :mod:`webapp.dedup.merge_views` (both re-exported here).
- **Locking**: every involved idea row is locked ``FOR UPDATE`` in ascending id order before
  its state is checked; casting and withdrawing a vote lock the idea row first, so a vote and a
  merge serialise (PostgreSQL READ COMMITTED re-reads the row after the wait) and no voter is
  lost or counted twice. SQLite ignores ``FOR UPDATE``: there every write transaction begins
  with BEGIN IMMEDIATE (``webapp.kernel.storage.db.WRITE``), so it holds the write lock before it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.dedup.merge_counts import recount
from webapp.dedup.merge_views import (
    MergedIdea,
    MergeInfo,
    MergeMemberView,
    MergeView,
    get_merge,
    list_merges,
    merged_into_info,
    moved_from,
)
from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotFound
from webapp.kernel.security import require_permission
from webapp.kernel.storage.models import (
    PUBLIC_STATUSES,
    Comment,
    DuplicateGroup,
    DuplicateGroupMember,
    Idea,
    IdeaMerge,
    IdeaMergeMember,
    utcnow,
)
from webapp.kernel.validation import Errors, clean_text
from webapp.notifications import notifications
from webapp.ranking import ranking_log

__all__ = [
    "REASON_MAX",
    "MergeInfo",
    "MergeMemberView",
    "MergeView",
    "MergedIdea",
    "get_merge",
    "list_merges",
    "merge",
    "merged_into_info",
    "moved_from",
    "recount",
    "unmerge",
]

REASON_MIN = 3
REASON_MAX = 1000


# --- helpers ---------------------------------------------------------------------------------


def _clean_reason(reason: object) -> str:
    errors = Errors()
    text = clean_text(
        errors, "reason", reason, min_length=REASON_MIN, max_length=REASON_MAX, multiline=True
    )
    errors.raise_if_any()
    return text


def _lock(session: Session, idea_ids: Iterable[int]) -> dict[int, Idea]:
    """Lock the idea rows FOR UPDATE in ascending id order and return them, freshly read."""
    ids = sorted(set(idea_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Idea)
        .where(Idea.id.in_(ids))
        .order_by(Idea.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {idea.id: idea for idea in rows}


def _snapshot(ideas: Iterable[Idea]) -> dict[str, dict[str, Any]]:
    return {
        str(i.id): {
            "status": i.status,
            "merged_into": i.merged_into_id,
            "support_count": i.support_count,
            "oppose_count": i.oppose_count,
            "comment_count": i.comment_count,
        }
        for i in sorted(ideas, key=lambda i: i.id)
    }


def _refresh(session: Session, ideas: Iterable[Idea]) -> None:
    for idea in ideas:
        session.refresh(idea)


def _forget_threshold(session: Session, idea_ids: list[int]) -> None:
    """The supporters changed: the cached moment an idea reached the response threshold
    (``webapp.officials.officials``) is recomputed from the votes when next needed."""
    session.execute(
        update(Idea)
        .where(Idea.id.in_(idea_ids))
        .values(threshold_reached_at=None)
        .execution_options(synchronize_session=False)
    )


def _group_members_left(session: Session, group_id: int, canonical_id: int) -> int:
    """Public ideas of the group other than the canonical one (0: the group is resolved)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(DuplicateGroupMember)
            .join(Idea, Idea.id == DuplicateGroupMember.idea_id)
            .where(
                DuplicateGroupMember.group_id == group_id,
                Idea.status.in_(PUBLIC_STATUSES),
                Idea.id != canonical_id,
            )
        )
        or 0
    )


# --- merge -----------------------------------------------------------------------------------


def merge(
    session: Session,
    actor: CurrentUser,
    canonical_id: int,
    member_ids: Sequence[int],
    *,
    reason: str,
    group_id: int | None = None,
    email: bool = False,
) -> MergeView:
    """Merge ``member_ids`` into ``canonical_id``; see the module docstring for what changes."""
    require_permission(actor.role, "moderate")
    text = _clean_reason(reason)
    members = sorted({int(m) for m in member_ids})
    if not members:
        raise Conflict("Choose at least one idea to merge.")
    if canonical_id in members:
        raise Conflict("An idea cannot be merged into itself.")
    group = None
    if group_id is not None:
        group = session.get(DuplicateGroup, group_id, with_for_update=True)
        if group is None:
            raise NotFound("Duplicate group not found.")

    # Ideas already merged into the members follow them (no chains). Lock everything in one
    # ascending pass; re-read the followers under the lock (an unmerge may have just moved one).
    followers = list(session.scalars(select(Idea.id).where(Idea.merged_into_id.in_(members))))
    locked = _lock(session, [canonical_id, *members, *followers])
    now_following = list(
        session.scalars(select(Idea.id).where(Idea.merged_into_id.in_(members)).order_by(Idea.id))
    )
    extra = [i for i in now_following if i not in locked]
    if extra:
        locked.update(_lock(session, extra))
    followers = now_following

    canonical = locked.get(canonical_id)
    if canonical is None:
        raise NotFound("Idea not found.")
    if canonical.status == "merged":
        target = session.get(Idea, canonical.merged_into_id) if canonical.merged_into_id else None
        raise Conflict(
            "“%(title)s” is itself merged into “%(target)s”; merge into that idea instead.",
            title=canonical.title,
            target=target.title if target else "?",
        )
    if canonical.status not in PUBLIC_STATUSES:
        raise Conflict(
            "“%(title)s” is hidden; hidden ideas cannot be merged.", title=canonical.title
        )
    for member_id in members:
        idea = locked.get(member_id)
        if idea is None:
            raise NotFound("Idea not found.")
        if idea.status == "merged":
            target = session.get(Idea, idea.merged_into_id) if idea.merged_into_id else None
            raise Conflict(
                "“%(title)s” is already merged into “%(target)s”.",
                title=idea.title,
                target=target.title if target else "?",
            )
        if idea.status not in PUBLIC_STATUSES:
            raise Conflict(
                "“%(title)s” is hidden; hidden ideas cannot be merged.", title=idea.title
            )
        if idea.project_id != canonical.project_id:
            raise Conflict(
                "“%(title)s” belongs to another project than “%(target)s”; ideas of different "
                "projects cannot be merged.",
                title=idea.title,
                target=canonical.title,
            )

    involved = [canonical, *(locked[m] for m in members), *(locked[f] for f in followers)]
    before = _snapshot(involved)
    group_before = group.status if group is not None else None

    record = IdeaMerge(canonical_id=canonical_id, group_id=group_id, actor_id=actor.id, reason=text)
    session.add(record)
    session.flush()
    for member_id in members:
        idea = locked[member_id]
        session.add(
            IdeaMergeMember(
                merge_id=record.id,
                idea_id=member_id,
                previous_status=idea.status,
                previous_merged_into_id=idea.merged_into_id,
            )
        )
        idea.status = "merged"
        idea.merged_into_id = canonical_id
    for follower_id in followers:
        idea = locked[follower_id]
        session.add(
            IdeaMergeMember(
                merge_id=record.id,
                idea_id=follower_id,
                previous_status=idea.status,
                previous_merged_into_id=idea.merged_into_id,
            )
        )
        idea.merged_into_id = canonical_id
    session.flush()

    # Every comment now on a member (its own, and those an earlier merge moved onto it) moves.
    moved = list(
        session.scalars(select(Comment.id).where(Comment.idea_id.in_(members)).order_by(Comment.id))
    )
    if moved:
        session.execute(
            update(Comment)
            .where(Comment.idea_id.in_(members))
            .values(
                moved_from_idea_id=func.coalesce(Comment.moved_from_idea_id, Comment.idea_id),
                idea_id=canonical_id,
                moved_by_merge_id=record.id,
            )
            .execution_options(synchronize_session=False)
        )
    recount(session, [i.id for i in involved])
    _forget_threshold(session, [i.id for i in involved])
    _refresh(session, involved)

    if group is not None and _group_members_left(session, group.id, canonical_id) == 0:
        group.status = "merged"
        group.updated_at = utcnow()
    ranking_log.recompute(session)
    after = _snapshot(involved)
    audit.record(
        session,
        actor.id,
        "idea.merge",
        "idea",
        canonical_id,
        reason=text,
        details={
            "merge_id": record.id,
            "group_id": group_id,
            "members": members,
            "followers": followers,
            "before": {"ideas": before, "group_status": group_before},
            "after": {
                "ideas": after,
                "group_status": group.status if group is not None else None,
                "moved_comment_ids": moved,
            },
        },
    )
    notifications.notify_supporters(
        session,
        [*members, *followers],
        "merged",
        canonical_id,
        {
            # The sentence quotes "title": several members read “B”, “C” (one notification each).
            "title": "”, “".join(locked[m].title for m in members),
            "merge_id": record.id,
            "canonical_id": canonical_id,
            "canonical_title": canonical.title,
            "merged_ids": members,
            "merged_titles": [locked[m].title for m in members],
        },
        email=email,
        exclude=[actor.id],
    )
    session.flush()
    return get_merge(session, record.id)


# --- unmerge ---------------------------------------------------------------------------------


def _blocking_merge(session: Session, merge_record: IdeaMerge, idea_ids: list[int]) -> int | None:
    """The latest active merge after this one that folded one of ``idea_ids`` further."""
    return session.scalar(
        select(func.max(IdeaMerge.id))
        .join(IdeaMergeMember, IdeaMergeMember.merge_id == IdeaMerge.id)
        .where(
            IdeaMerge.id > merge_record.id,
            IdeaMerge.undone_at.is_(None),
            IdeaMergeMember.idea_id.in_(idea_ids),
        )
    )


def unmerge(
    session: Session, actor: CurrentUser, merge_id: int, *, reason: str, email: bool = False
) -> MergeView:
    """Undo a merge exactly (see the module docstring); ``email``: whether notices are e-mailed."""
    require_permission(actor.role, "moderate")
    text = _clean_reason(reason)
    record = session.get(IdeaMerge, merge_id, with_for_update=True, populate_existing=True)
    if record is None:
        raise NotFound("Merge not found.")
    if record.undone_at is not None:
        raise Conflict("This merge was already undone.")
    rows = list(
        session.scalars(
            select(IdeaMergeMember)
            .where(IdeaMergeMember.merge_id == merge_id)
            .order_by(IdeaMergeMember.idea_id)
        )
    )
    member_ids = [r.idea_id for r in rows]
    locked = _lock(session, [record.canonical_id, *member_ids])
    # Re-read under the locks: a concurrent unmerge of the same merge has committed by now.
    session.refresh(record)
    if record.undone_at is not None:
        raise Conflict("This merge was already undone.")

    later = _blocking_merge(session, record, [record.canonical_id, *member_ids])
    if later is not None:
        raise Conflict(
            "Merge #%(later)s changed ideas of this merge; undo merge #%(later)s first.",
            later=later,
        )
    for row in rows:
        idea = locked[row.idea_id]
        if idea.status != "merged" or idea.merged_into_id != record.canonical_id:
            raise Conflict(
                "“%(title)s” has changed since this merge, so the merge cannot be undone.",
                title=idea.title,
            )

    involved = [locked[record.canonical_id], *(locked[i] for i in member_ids)]
    before = _snapshot(involved)
    moved = list(
        session.scalars(
            select(Comment.id).where(Comment.moved_by_merge_id == merge_id).order_by(Comment.id)
        )
    )
    for row in rows:
        idea = locked[row.idea_id]
        idea.status = row.previous_status
        idea.merged_into_id = row.previous_merged_into_id
    session.flush()

    # Each moved comment goes back to where its original idea now points.
    for row in rows:
        values: dict[str, Any]
        if row.previous_merged_into_id is None:
            values = {"idea_id": row.idea_id, "moved_from_idea_id": None, "moved_by_merge_id": None}
        else:
            earlier = session.scalar(
                select(func.max(IdeaMerge.id))
                .join(IdeaMergeMember, IdeaMergeMember.merge_id == IdeaMerge.id)
                .where(
                    IdeaMergeMember.idea_id == row.idea_id,
                    IdeaMerge.canonical_id == row.previous_merged_into_id,
                    IdeaMerge.undone_at.is_(None),
                    IdeaMerge.id != merge_id,
                )
            )
            values = {"idea_id": row.previous_merged_into_id, "moved_by_merge_id": earlier}
        session.execute(
            update(Comment)
            .where(Comment.moved_by_merge_id == merge_id, Comment.moved_from_idea_id == row.idea_id)
            .values(values)
            .execution_options(synchronize_session=False)
        )
    # Anything left (should not happen): back to where it was written.
    session.execute(
        update(Comment)
        .where(Comment.moved_by_merge_id == merge_id)
        .values(
            idea_id=func.coalesce(Comment.moved_from_idea_id, Comment.idea_id),
            moved_from_idea_id=None,
            moved_by_merge_id=None,
        )
        .execution_options(synchronize_session=False)
    )
    recount(session, [i.id for i in involved])
    _forget_threshold(session, [i.id for i in involved])
    _refresh(session, involved)

    record.undone_at = utcnow()
    record.undone_by_id = actor.id
    record.undo_reason = text
    group_before = group_after = None
    if record.group_id is not None:
        group = session.get(DuplicateGroup, record.group_id, with_for_update=True)
        if group is not None:
            group_before = group.status
            if group.status == "merged":
                group.status = "open"
                group.updated_at = utcnow()
            group_after = group.status
    ranking_log.recompute(session)
    audit.record(
        session,
        actor.id,
        "idea.unmerge",
        "idea",
        record.canonical_id,
        reason=text,
        details={
            "merge_id": merge_id,
            "group_id": record.group_id,
            "members": member_ids,
            "before": {"ideas": before, "group_status": group_before},
            "after": {
                "ideas": _snapshot(involved),
                "group_status": group_after,
                "returned_comment_ids": moved,
            },
        },
    )
    # exactly the citizens told about the merge learn that it was undone (notifications.py)
    notifications.notify_unmerge(
        session,
        merge_id,
        member_ids[0] if member_ids else record.canonical_id,
        {
            "title": "”, “".join(locked[m].title for m in member_ids),
            "canonical_id": record.canonical_id,
            "canonical_title": locked[record.canonical_id].title,
            "merged_ids": member_ids,
            "merged_titles": [locked[m].title for m in member_ids],
        },
        email=email,
        exclude=[actor.id],
    )
    session.flush()
    return get_merge(session, merge_id)
