"""The moderators' duplicate queue: candidate groups with the texts to compare.

Built on ``dedup_groups.list_groups`` (open groups, strongest first, public members only). Each
group gets a suggested idea to keep — the one with the most supporters, the oldest among equals:
it is the one most citizens already know and link to, and its author was first — and every
member's title and body as they are. Comparing them word by word (the words that differ from the
suggested idea marked) is presentation: ``webapp.dedup.views.diff``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.dedup import merges
from webapp.dedup.dedup_groups import DuplicateGroupView, GroupMember, list_groups
from webapp.dedup.dismissals import public_members
from webapp.dedup.merges import MergeView
from webapp.kernel.dto import CurrentUser, IdeaSummary
from webapp.kernel.errors import Conflict, NotFound, invalid
from webapp.kernel.security import require_permission
from webapp.kernel.storage.models import DuplicateGroup, DuplicatePair, Idea

Suggestion = Literal["supporters", "oldest"]


@dataclass(frozen=True)
class Link:
    """The stored pair between a member and the suggested idea (or its strongest link)."""

    other_id: int
    score: float
    similarity: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QueueMember:
    idea: IdeaSummary
    title: str
    body: str  # '' when the idea has none
    suggested: bool
    link: Link | None  # to the suggested idea; None for the suggested one itself
    direct: bool  # the link is a pair with the suggested idea (not through another member)


@dataclass(frozen=True)
class QueueGroup:
    id: int
    score: float
    updated_at: datetime
    members: tuple[QueueMember, ...]  # the suggested idea first, then by link strength
    suggested_id: int
    suggested_because: Suggestion


def suggest(members: tuple[GroupMember, ...]) -> tuple[int, Suggestion]:
    """The idea to keep: most supporters, then oldest; and why it was chosen."""
    best = min(members, key=lambda m: (-m.idea.support_count, m.idea.created_at, m.idea.id))
    tied = sum(1 for m in members if m.idea.support_count == best.idea.support_count)
    return best.idea.id, "supporters" if tied == 1 else "oldest"


def _pairs(session: Session, ids: list[int]) -> dict[tuple[int, int], Link]:
    rows = session.execute(
        select(
            DuplicatePair.idea_a,
            DuplicatePair.idea_b,
            DuplicatePair.score,
            DuplicatePair.similarity,
            DuplicatePair.reasons,
        ).where(DuplicatePair.idea_a.in_(ids), DuplicatePair.idea_b.in_(ids))
    ).all()
    out: dict[tuple[int, int], Link] = {}
    for a, b, score, sim, reasons in rows:
        codes = tuple(r for r in (reasons or "").split(",") if r)
        out[(a, b)] = Link(b, float(score), float(sim), codes)
        out[(b, a)] = Link(a, float(score), float(sim), codes)
    return out


def _texts(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = session.execute(select(Idea.id, Idea.title, Idea.body).where(Idea.id.in_(ids)))
    return {i: (t, b or "") for i, t, b in rows}


def _build(
    group: DuplicateGroupView,
    texts: dict[int, tuple[str, str]],
    pairs: dict[tuple[int, int], Link],
) -> QueueGroup:
    keep, because = suggest(group.members)
    members: list[QueueMember] = []
    for m in group.members:
        mid = m.idea.id
        title, body = texts[mid]
        if mid == keep:
            members.append(QueueMember(m.idea, title, body, True, None, False))
            continue
        link = pairs.get((mid, keep))
        direct = link is not None
        if link is None:  # joined the group through another member: show its strongest pair
            links = [v for (a, _), v in pairs.items() if a == mid]
            link = max(links, key=lambda v: v.score, default=None)
        members.append(QueueMember(m.idea, title, body, False, link, direct))
    first = [m for m in members if m.suggested]
    rest = sorted(
        (m for m in members if not m.suggested),
        key=lambda m: (not m.direct, -(m.link.score if m.link else 0.0), m.idea.id),
    )
    return QueueGroup(
        id=group.id,
        score=group.score,
        updated_at=group.updated_at,
        members=tuple(first + rest),
        suggested_id=keep,
        suggested_because=because,
    )


def queue_page(
    session: Session, *, limit: int = 20, offset: int = 0, project_id: int | None = None
) -> tuple[list[QueueGroup], int]:
    """One page of the duplicate queue (open groups, strongest first; of one project's ideas
    with ``project_id``) and the total; each member with its title and body (the views compare
    them with the suggested idea's)."""
    groups, total = list_groups(session, limit=limit, offset=offset, project_id=project_id)
    ids = sorted({m.idea.id for g in groups for m in g.members})
    if not ids:
        return [], total
    texts = _texts(session, ids)
    pairs = _pairs(session, ids)
    out = []
    for g in groups:
        inside = {m.idea.id for m in g.members}
        own = {k: v for k, v in pairs.items() if k[0] in inside and k[1] in inside}
        out.append(_build(g, texts, own))
    return out, total


def merge_group(
    session: Session,
    actor: CurrentUser,
    group_id: int,
    canonical_id: int,
    member_ids: Sequence[int],
    *,
    reason: str,
    email: bool = False,
) -> MergeView:
    """Merge some members of an open group into the chosen one (``merges.merge`` does the
    merge, its audit entry and the notifications). Only ideas the queue shows for this group
    can be chosen."""
    require_permission(actor.role, "moderate")
    # Locked before the check (merges.merge locks it too, first of all): a moderator dismissing
    # the group at the same time waits, then finds it merged; or this merge finds it dismissed.
    group = session.get(DuplicateGroup, group_id, with_for_update=True)
    if group is None:
        raise NotFound("This group of possible duplicates does not exist (any more).")
    if group.status != "open":
        raise Conflict("Another moderator has already dealt with this group.")
    members = set(public_members(session, group_id))
    chosen = {int(m) for m in member_ids} - {canonical_id}
    if canonical_id not in members or chosen - members:
        raise invalid("canonical", "Choose ideas of this group only.")
    if not chosen:
        raise invalid("members", "Tick at least one idea to merge into the one you keep.")
    return merges.merge(
        session,
        actor,
        canonical_id,
        sorted(chosen),
        reason=reason,
        group_id=group_id,
        email=email,
    )
