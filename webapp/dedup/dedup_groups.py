"""Duplicate pairs and candidate duplicate groups, stored for the moderation queue.

The finder's index answers "which stored ideas are nearest to this one"; this module turns those
neighbours into scored pairs (``duplicate_pairs``) and the pairs into groups
(``duplicate_groups`` + ``duplicate_group_members``):

1. For each changed idea: its ``NEIGHBOURS`` nearest public ideas (script-weighted similarity),
   re-scored by ``finder.score_vectors`` (guards, copy rules, calibrated score).
2. A pair is kept when its score is at least ``finder.threshold`` and the two ideas are mutual
   nearest neighbours (each among the other's ``NEIGHBOURS`` best): chains of "a bit like" do
   not glue a topic together.
3. Groups are the connected components of the kept pairs, split by average linkage
   (``ml.cluster.group_edges``, missing pairs count as 0) so that a chain of pairs does not
   glue unrelated ideas into one group.

Incremental: only the pairs touching the changed ideas are recomputed, then only the groups of
the components they belong to are rewritten. Only 'open' groups are rewritten; an open group
whose member set is unchanged keeps its id. Groups the moderators dismissed or merged stay as
records. A pair a moderator dismissed (``webapp.dedup.dismissed_pairs``) is never kept while both
texts are unchanged, so a dismissed group cannot come back. ``rebuild_all`` recomputes every
pair and open group (``veche reindex``). Pure ``ml`` code does the maths; this module only reads
and writes rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from ml.cluster import Edge, group_edges
from ml.text import join_idea
from webapp.dedup.dismissed_pairs import blocked_pairs
from webapp.ideas.ideas import summaries
from webapp.kernel.dto import IdeaSummary
from webapp.kernel.progress import Advance
from webapp.kernel.storage.models import (
    PUBLIC_STATUSES,
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicatePair,
    Idea,
    IdeaEmbedding,
    utcnow,
)
from webapp.kernel.storage.vectors import decode

if TYPE_CHECKING:
    from ml.finder import DuplicateFinder

log = logging.getLogger("veche.dedup")

NEIGHBOURS = 10  # nearest neighbours looked at per idea (the mutual-kNN k)
MAX_COMPONENT = 2_000  # nodes walked per affected component before giving up on growing it
MAX_GROUP = 50  # ml.cluster.group_edges splits larger groups
CHUNK = 500  # ids per IN (...) query


@dataclass(frozen=True)
class GroupMember:
    idea: IdeaSummary
    score: float  # strongest edge score to the rest of the group
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DuplicateGroupView:
    id: int
    score: float
    members: tuple[GroupMember, ...]  # strongest / oldest first; suggested canonical = members[0]
    updated_at: datetime


def strict_threshold(finder: DuplicateFinder) -> float:
    """The average-linkage floor of ``ml.cluster.group_edges``: the finder's threshold.

    Every kept pair already scores at least the threshold, so a lone pair always stays a group;
    a chain a~b~c without an a-c pair averages at most half the threshold across the join
    (missing pairs count as 0), so it is split.
    """
    return float(finder.threshold)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


@dataclass
class Stored:
    """Texts, vectors and projects of public ideas that have a vector of the finder's model."""

    texts: dict[int, str]
    vectors: dict[int, NDArray[np.float32]]
    projects: dict[int, int] = field(default_factory=dict)


def load_stored(
    session: Session, finder: DuplicateFinder, ids: Iterable[int], *, public_only: bool = True
) -> Stored:
    out = Stored({}, {})
    wanted = sorted(set(ids))
    for chunk in _chunks(wanted):
        stmt = (
            select(Idea.id, Idea.title, Idea.body, IdeaEmbedding.vector, Idea.project_id)
            .join(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
            .where(Idea.id.in_(chunk), IdeaEmbedding.model == finder.identity)
        )
        if public_only:
            stmt = stmt.where(Idea.status.in_(PUBLIC_STATUSES))
        for idea_id, title, body, blob, project_id in session.execute(stmt):
            out.texts[idea_id] = join_idea(title, body)
            out.vectors[idea_id] = decode(blob, finder.dim)
            out.projects[idea_id] = project_id
    return out


def _reasons(codes: Iterable[str]) -> str:
    return ",".join(codes)[:200]


def _split(reasons: str) -> tuple[str, ...]:
    return tuple(r for r in reasons.split(",") if r)


# --- pairs ----------------------------------------------------------------------------------


def _neighbours(
    finder: DuplicateFinder, stored: Stored, ids: Iterable[int]
) -> dict[int, list[int]]:
    """Each idea's NEIGHBOURS nearest indexed ideas (itself excluded), nearest first."""
    out: dict[int, list[int]] = {}
    for idea_id in ids:
        if idea_id not in stored.vectors:
            continue
        found = finder.search(stored.texts[idea_id], stored.vectors[idea_id], NEIGHBOURS + 1)
        out[idea_id] = [c.id for c in found if c.id != idea_id][:NEIGHBOURS]
    return out


def score_edges(
    session: Session, finder: DuplicateFinder, ids: Iterable[int], stored: Stored | None = None
) -> list[Edge]:
    """The kept pairs (score >= threshold, mutual nearest neighbours) touching ``ids``."""
    sources = sorted(set(ids))
    stored = stored or load_stored(session, finder, sources)
    near = _neighbours(finder, stored, sources)
    others = {n for ns in near.values() for n in ns} - stored.vectors.keys()
    if others:
        more = load_stored(session, finder, others)
        stored.texts.update(more.texts)
        stored.vectors.update(more.vectors)
        stored.projects.update(more.projects)
    pairs = sorted(
        {
            (min(a, b), max(a, b))
            for a, ns in near.items()
            for b in ns
            # public, with a vector of this model, and of the same project (ideas of two
            # projects answer different questions: they are never proposed for merging)
            if b in stored.vectors and stored.projects.get(a) == stored.projects.get(b)
        }
    )
    blocked = blocked_pairs(session, pairs, stored.texts)
    pairs = [p for p in pairs if p not in blocked]  # moderators said "not duplicates"
    if not pairs:
        return []
    verdicts = finder.score_vectors(
        [stored.texts[a] for a, _ in pairs],
        [stored.texts[b] for _, b in pairs],
        np.stack([stored.vectors[a] for a, _ in pairs]),
        np.stack([stored.vectors[b] for _, b in pairs]),
    )
    strong = [
        (a, b, v) for (a, b), v in zip(pairs, verdicts, strict=True) if v.score >= finder.threshold
    ]
    # Mutual rule: the far end must list the near end among its own nearest neighbours too.
    missing = {x for a, b, _ in strong for x in (a, b)} - near.keys()
    near.update(_neighbours(finder, stored, missing))
    return [
        Edge(a, b, v.score, tuple(v.reasons))
        for a, b, v in strong
        if b in near.get(a, ()) and a in near.get(b, ())
    ]


def _write_pairs(
    session: Session,
    finder: DuplicateFinder,
    ids: Sequence[int],
    edges: Sequence[Edge],
    similarity: dict[tuple[int, int], float],
) -> set[int]:
    """Replace the stored pairs touching ``ids`` by ``edges``; returns every idea concerned."""
    touched = set(ids)
    for chunk in _chunks(sorted(ids)):
        old = session.execute(
            select(DuplicatePair.idea_a, DuplicatePair.idea_b).where(
                or_(DuplicatePair.idea_a.in_(chunk), DuplicatePair.idea_b.in_(chunk))
            )
        ).all()
        touched.update(x for row in old for x in row)
        session.execute(
            delete(DuplicatePair).where(
                or_(DuplicatePair.idea_a.in_(chunk), DuplicatePair.idea_b.in_(chunk))
            )
        )
    now = utcnow()
    seen: set[tuple[int, int]] = set()
    rows = []
    for e in edges:
        if (e.a, e.b) in seen:
            continue
        seen.add((e.a, e.b))
        touched.update((e.a, e.b))
        rows.append(
            {
                "idea_a": e.a,
                "idea_b": e.b,
                "score": float(e.score),
                "similarity": float(similarity.get((e.a, e.b), e.score)),
                "reasons": _reasons(e.reasons),
                "model": finder.identity,
                "updated_at": now,
            }
        )
    if rows:
        session.execute(insert(DuplicatePair), rows)
    return touched


# --- groups ---------------------------------------------------------------------------------


def _component(session: Session, seeds: Iterable[int]) -> tuple[set[int], list[Edge]]:
    """Every idea connected to ``seeds`` through stored pairs, and those pairs."""
    nodes: set[int] = set()
    frontier = set(seeds)
    edges: dict[tuple[int, int], Edge] = {}
    while frontier and len(nodes) < MAX_COMPONENT:
        nodes |= frontier
        found: set[int] = set()
        for chunk in _chunks(sorted(frontier)):
            for a, b, score, reasons in session.execute(
                select(
                    DuplicatePair.idea_a,
                    DuplicatePair.idea_b,
                    DuplicatePair.score,
                    DuplicatePair.reasons,
                ).where(or_(DuplicatePair.idea_a.in_(chunk), DuplicatePair.idea_b.in_(chunk)))
            ):
                edges[(a, b)] = Edge(a, b, float(score), _split(reasons))
                found.update((a, b))
        frontier = found - nodes
    # Hidden and merged ideas keep their stored pairs (unhiding restores them) but never join a
    # group: a group over them would hold on to members the moderators removed.
    public: set[int] = set()
    for chunk in _chunks(sorted(nodes)):
        public.update(
            session.scalars(
                select(Idea.id).where(Idea.id.in_(chunk), Idea.status.in_(PUBLIC_STATUSES))
            )
        )
    kept = [e for e in edges.values() if e.a in public and e.b in public]
    return nodes, kept


def _members(group_edges_: Sequence[Edge], members: Sequence[int]) -> list[tuple[int, float, str]]:
    """(idea id, strongest edge score, its reasons) per member; strongest first, then oldest."""
    best: dict[int, tuple[float, tuple[str, ...]]] = {}
    for e in group_edges_:
        for node in (e.a, e.b):
            if node not in best or e.score > best[node][0]:
                best[node] = (e.score, e.reasons)
    rows = [(m, *best.get(m, (0.0, ()))) for m in members]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [(m, s, _reasons(r)) for m, s, r in rows]


def _rewrite_groups(
    session: Session, finder: DuplicateFinder, nodes: set[int], edges: Sequence[Edge]
) -> tuple[int, int]:
    """Replace the groups that contain any of ``nodes`` by the groups of ``edges``.

    Returns (groups removed, groups written). Only 'open' groups are replaced (dismissed and
    merged ones are the moderators' records). A new group with exactly the member set of an
    old one keeps the old row (id, created_at).
    """
    old: dict[int, frozenset[int]] = {}
    for chunk in _chunks(sorted(nodes)):
        group_ids = session.scalars(
            select(DuplicateGroupMember.group_id)
            .join(DuplicateGroup, DuplicateGroup.id == DuplicateGroupMember.group_id)
            .where(DuplicateGroupMember.idea_id.in_(chunk), DuplicateGroup.status == "open")
        ).all()
        for gid_chunk in _chunks(sorted(set(group_ids))):
            for gid, idea_id in session.execute(
                select(DuplicateGroupMember.group_id, DuplicateGroupMember.idea_id).where(
                    DuplicateGroupMember.group_id.in_(gid_chunk)
                )
            ):
                old[gid] = old.get(gid, frozenset()) | {idea_id}
    by_members = {members: gid for gid, members in old.items()}
    groups = [
        g
        for g in group_edges(edges, strict=strict_threshold(finder), max_size=MAX_GROUP)
        if len(g.members) >= 2
    ]
    now = utcnow()
    kept: set[int] = set()
    written = 0
    for g in groups:
        members = frozenset(int(m) for m in g.members)
        same = by_members.get(members)
        row = None if same is None or same in kept else session.get(DuplicateGroup, same)
        if row is not None:
            gid = row.id
            kept.add(gid)
            row.score = float(g.score)
            row.model = finder.identity
            row.updated_at = now
            session.execute(
                delete(DuplicateGroupMember).where(DuplicateGroupMember.group_id == gid)
            )
        else:
            row = DuplicateGroup(
                score=float(g.score),
                status="open",
                model=finder.identity,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            gid = row.id
        session.add_all(
            DuplicateGroupMember(group_id=gid, idea_id=m, score=float(s), reasons=r, position=i)
            for i, (m, s, r) in enumerate(_members(g.edges, sorted(members)))
        )
        written += 1
    gone = sorted(set(old) - kept)
    for chunk in _chunks(gone):
        session.execute(delete(DuplicateGroup).where(DuplicateGroup.id.in_(chunk)))
    session.flush()
    return len(gone), written


def refresh(session: Session, finder: DuplicateFinder, ids: Sequence[int]) -> int:
    """Recompute the pairs of ``ids`` (just embedded or edited) and rewrite their groups.

    The finder's index must already hold the new vectors. Returns the groups written.
    """
    if not ids:
        return 0
    stored = load_stored(session, finder, ids)
    edges = score_edges(session, finder, ids, stored)
    sims = _similarities(finder, stored, edges)
    touched = _write_pairs(session, finder, ids, edges, sims)
    session.flush()
    nodes, comp_edges = _component(session, touched)
    _, written = _rewrite_groups(session, finder, nodes, comp_edges)
    return written


def regroup(session: Session, finder: DuplicateFinder, ids: Sequence[int]) -> int:
    """Rewrite the open groups around ``ids`` from the stored pairs (after a moderator removed
    pairs or members); nothing is re-scored. Returns the groups written."""
    if not ids:
        return 0
    session.flush()
    nodes, comp_edges = _component(session, ids)
    _, written = _rewrite_groups(session, finder, nodes, comp_edges)
    return written


def _similarities(
    finder: DuplicateFinder, stored: Stored, edges: Sequence[Edge]
) -> dict[tuple[int, int], float]:
    if not edges:
        return {}
    verdicts = finder.score_vectors(
        [stored.texts[e.a] for e in edges],
        [stored.texts[e.b] for e in edges],
        np.stack([stored.vectors[e.a] for e in edges]),
        np.stack([stored.vectors[e.b] for e in edges]),
    )
    return {(e.a, e.b): v.similarity for e, v in zip(edges, verdicts, strict=True)}


def rebuild_all(
    session: Session,
    finder: DuplicateFinder,
    progress: Advance | None = None,
) -> tuple[int, int]:
    """Recompute every pair and open group from scratch; returns (pairs, groups).

    ``progress`` counts the public ideas with a vector as their pairs are scored."""
    open_groups = select(DuplicateGroup.id).where(DuplicateGroup.status == "open")
    session.execute(
        delete(DuplicateGroupMember).where(DuplicateGroupMember.group_id.in_(open_groups))
    )
    session.execute(delete(DuplicateGroup).where(DuplicateGroup.status == "open"))
    session.execute(delete(DuplicatePair))
    ids = list(
        session.scalars(
            select(Idea.id)
            .join(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
            .where(Idea.status.in_(PUBLIC_STATUSES), IdeaEmbedding.model == finder.identity)
            .order_by(Idea.id)
        )
    )
    edges: dict[tuple[int, int], Edge] = {}
    sims: dict[tuple[int, int], float] = {}
    for chunk in _chunks(ids):
        stored = load_stored(session, finder, chunk)
        found = score_edges(session, finder, chunk, stored)
        sims.update(_similarities(finder, stored, found))
        edges.update(((e.a, e.b), e) for e in found)
        if progress is not None:
            progress(len(chunk))
    _write_pairs(session, finder, [], list(edges.values()), sims)
    session.flush()
    _, written = _rewrite_groups(session, finder, set(), list(edges.values()))
    return len(edges), written


# --- reading ---------------------------------------------------------------------------------


def list_groups(
    session: Session, *, limit: int = 20, offset: int = 0, project_id: int | None = None
) -> tuple[list[DuplicateGroupView], int]:
    """Open candidate groups, strongest first: (page, total); with ``project_id``, the groups
    of that project's ideas (a group never spans two projects: :func:`score_edges`).

    Members that became hidden or merged since are left out; a group left with fewer than two
    public members is not shown (and not counted).
    """
    if limit < 1 or offset < 0:
        raise ValueError("limit must be >= 1 and offset >= 0")
    public = (
        select(DuplicateGroupMember.group_id)
        .join(Idea, Idea.id == DuplicateGroupMember.idea_id)
        .where(Idea.status.in_(PUBLIC_STATUSES))
        .group_by(DuplicateGroupMember.group_id)
        .having(func.count() >= 2)
    )
    if project_id is not None:
        public = public.where(Idea.project_id == project_id)
    visible = select(DuplicateGroup).where(
        DuplicateGroup.status == "open", DuplicateGroup.id.in_(public)
    )
    total = session.scalar(select(func.count()).select_from(visible.subquery())) or 0
    groups = session.scalars(
        visible.order_by(DuplicateGroup.score.desc(), DuplicateGroup.id).limit(limit).offset(offset)
    ).all()
    if not groups:
        return [], total
    rows = (
        session.execute(
            select(DuplicateGroupMember)
            .where(DuplicateGroupMember.group_id.in_([g.id for g in groups]))
            .order_by(DuplicateGroupMember.group_id, DuplicateGroupMember.position)
        )
        .scalars()
        .all()
    )
    ideas = {
        s.id: s
        for s in summaries(session, sorted({r.idea_id for r in rows}))
        if s.status in PUBLIC_STATUSES
    }
    out = []
    for g in groups:
        members = tuple(
            GroupMember(ideas[r.idea_id], float(r.score), _split(r.reasons))
            for r in rows
            if r.group_id == g.id and r.idea_id in ideas
        )
        if len(members) >= 2:
            out.append(DuplicateGroupView(g.id, float(g.score), members, g.updated_at))
    return out, total
