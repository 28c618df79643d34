"""`veche reindex`: embed every idea with one model, then rebuild every duplicate pair and group.

Runs under the embedder lock (``webapp.dedup.embedder``), so no server embeds meanwhile; running
workers pick the new vectors up by polling ``idea_embeddings``. The command line draws the
progress (``webapp.kernel.progress``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from webapp.dedup import dedup_groups
from webapp.dedup.embedder import POLL_BATCH, embedder_lock
from webapp.dedup.similar_ideas import idea_text, text_hash
from webapp.kernel.progress import Progress, no_progress
from webapp.kernel.settings import Settings
from webapp.kernel.storage.models import PUBLIC_STATUSES, Idea, IdeaEmbedding, utcnow
from webapp.kernel.storage.vectors import decode, encode

if TYPE_CHECKING:
    from ml.finder import DuplicateFinder


@dataclass(frozen=True)
class ReindexReport:
    model: str
    ideas: int
    embedded: int
    unchanged: int
    skipped: int
    replaced: int  # vectors of another model that were replaced
    pairs: int
    groups: int
    embed_seconds: float
    group_seconds: float

    def describe(self) -> str:
        rate = self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0
        lines = [
            f"Model {self.model}: {self.ideas} ideas, {self.embedded} embedded "
            f"({self.replaced} replacing another model's vectors) in {self.embed_seconds:.1f} s"
            f" ({rate:.0f} ideas/s), {self.unchanged} already current",
            f"Duplicate detection: {self.pairs} pairs, {self.groups} candidate groups "
            f"in {self.group_seconds:.1f} s",
        ]
        if self.skipped:
            lines.append(f"{self.skipped} ideas have no text to embed and were skipped")
        return "\n".join(lines)


def reindex(
    factory: sessionmaker[Session],
    settings: Settings,
    finder: DuplicateFinder,
    *,
    batch: int = 64,
    force: bool = False,
    progress: Progress = no_progress,
    wait: float = 600.0,
) -> ReindexReport:
    """Embed every idea with ``finder``'s model (those already current are kept unless
    ``force``), replacing other models' vectors, then rebuild every duplicate pair and group.

    Holds the embedder lock throughout, so running servers embed nothing meanwhile; their
    workers pick the new vectors up by polling. Raises RuntimeError if the lock stays busy.
    ``progress`` gets two stages: "embed" (every idea) and "groups" (public ideas with a vector).
    """
    if batch < 1:
        raise ValueError("batch must be >= 1")
    with embedder_lock(factory, settings, wait=wait) as got:
        if not got:
            raise RuntimeError(
                f"another process kept the embedder lock for {wait:.0f} s; try again later"
            )
        with factory() as session:
            total = int(session.scalar(select(func.count()).select_from(Idea)) or 0)
        embedded = unchanged = skipped = replaced = 0
        started = time.perf_counter()
        after = 0
        with progress("embed", total, "idea") as advance:
            while True:
                with factory() as session:
                    rows = session.execute(
                        select(
                            Idea.id,
                            Idea.title,
                            Idea.body,
                            Idea.updated_at,
                            IdeaEmbedding.model,
                            IdeaEmbedding.text_hash,
                        )
                        .outerjoin(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
                        .where(Idea.id > after)
                        .order_by(Idea.id)
                        .limit(batch)
                    ).all()
                if not rows:
                    break
                after = rows[-1].id
                items = [(r, idea_text(r.title, r.body)) for r in rows]
                todo = [
                    (r, t, text_hash(t))
                    for r, t in items
                    if t.strip()
                    and (force or r.model != finder.identity or r.text_hash != text_hash(t))
                ]
                skipped += sum(1 for _, t in items if not t.strip())
                unchanged += len(items) - len(todo) - sum(1 for _, t in items if not t.strip())
                vectors = finder.embed([t for _, t, _ in todo]) if todo else None
                now = utcnow()
                with factory() as session, session.begin():
                    current = [r for r, t in items if t.strip() and r.model == finder.identity]
                    for r in current:  # keep idea_updated_at in step: nothing left to re-check
                        session.execute(
                            update(IdeaEmbedding)
                            .where(IdeaEmbedding.idea_id == r.id)
                            .values(idea_updated_at=r.updated_at)
                        )
                    if todo and vectors is not None:
                        ids = [r.id for r, _, _ in todo]
                        session.execute(delete(IdeaEmbedding).where(IdeaEmbedding.idea_id.in_(ids)))
                        session.execute(
                            insert(IdeaEmbedding),
                            [
                                {
                                    "idea_id": r.id,
                                    "model": finder.identity,
                                    "dim": finder.dim,
                                    "vector": encode(v),
                                    "text_hash": h,
                                    "idea_updated_at": r.updated_at,
                                    "created_at": now,
                                }
                                for (r, _, h), v in zip(todo, vectors, strict=True)
                            ],
                        )
                embedded += len(todo)
                replaced += sum(
                    1 for r, _, _ in todo if r.model is not None and r.model != finder.identity
                )
                advance(len(rows))
        embed_seconds = time.perf_counter() - started
        started = time.perf_counter()
        _index_all(factory, finder)
        with factory() as session, session.begin():
            public = int(
                session.scalar(
                    select(func.count())
                    .select_from(IdeaEmbedding)
                    .join(Idea, Idea.id == IdeaEmbedding.idea_id)
                    .where(IdeaEmbedding.model == finder.identity, Idea.status.in_(PUBLIC_STATUSES))
                )
                or 0
            )
            with progress("groups", public, "idea") as advance:
                pairs, groups = dedup_groups.rebuild_all(session, finder, advance)
        return ReindexReport(
            model=finder.identity,
            ideas=total,
            embedded=embedded,
            unchanged=unchanged,
            skipped=skipped,
            replaced=replaced,
            pairs=pairs,
            groups=groups,
            embed_seconds=embed_seconds,
            group_seconds=time.perf_counter() - started,
        )


def _index_all(factory: sessionmaker[Session], finder: DuplicateFinder) -> int:
    """Load every stored vector of ``finder``'s model into its index; returns how many."""
    cursor = 0
    n = 0
    while True:
        with factory() as session:
            rows = session.execute(
                select(IdeaEmbedding.id, IdeaEmbedding.idea_id, IdeaEmbedding.vector)
                .where(IdeaEmbedding.id > cursor, IdeaEmbedding.model == finder.identity)
                .order_by(IdeaEmbedding.id)
                .limit(POLL_BATCH)
            ).all()
        if not rows:
            return n
        finder.index_vectors(
            np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
            np.stack([decode(r[2], finder.dim) for r in rows]),
        )
        cursor = int(rows[-1][0])
        n += len(rows)
