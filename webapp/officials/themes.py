"""Themes for officials: clusters of related public ideas, labelled with keywords (``ml.topics``).

Three steps, so that no transaction stays open while k-means runs:

1. :func:`load_corpus` reads the public ideas (never hidden or merged ones) that have a vector
   of the similarity model in use, filtered by category and district, the best supported first,
   at most ``MAX_IDEAS`` of them;
2. :func:`cluster` (pure arrays, seconds at most) calls ``ml.topics.find_topics``;
3. :func:`describe` adds each theme's distinct supporters and its strongest ideas.

:class:`ThemeCache` keeps results per process for ``TTL_SECONDS``: themes move slowly, and a
recomputation costs a few seconds of CPU on a large city.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from webapp.ideas.ideas import district_and_children
from webapp.kernel.storage.models import PUBLIC_STATUSES, Idea, IdeaEmbedding, Vote, utcnow
from webapp.kernel.storage.vectors import decode
from webapp.officials.officials import distinct_supporters

if TYPE_CHECKING:
    from ml.topics import Topics

MAX_IDEAS = 5_000  # the best supported ideas of a filter that are clustered
TEXT_CHARS = 2_000  # of each description, for the keyword labels
IDEAS_PER_THEME = 5
TTL_SECONDS = 300.0
INCOMPLETE_TTL_SECONDS = 15.0  # while some ideas have no vector yet
CACHE_ENTRIES = 64


@dataclass(frozen=True)
class Corpus:
    ids: list[int]
    texts: list[str]
    languages: list[str]
    vectors: NDArray[np.float32]  # (n, d), L2-normalised
    without_vector: int  # public ideas of the filter the model has not embedded (yet)
    truncated: bool  # more than MAX_IDEAS matched: only the best supported are clustered


@dataclass(frozen=True)
class ThemeIdea:
    id: int
    title: str
    language: str
    status: str
    supporters: int


@dataclass(frozen=True)
class Theme:
    number: int  # 1-based, largest first
    keywords: tuple[str, ...]  # in ``language``, the most telling first
    language: str  # most of its ideas' language (the labels' language)
    size: int
    supporters: int  # distinct citizens supporting any of its ideas
    cohesion: float
    ideas: list[ThemeIdea]  # the strongest first


@dataclass(frozen=True)
class ThemesResult:
    themes: list[Theme]
    ideas: int  # clustered
    other: int  # in no theme (clusters too small or too loosely related)
    without_vector: int
    truncated: bool
    computed_at: datetime
    loose: int = 0  # groups left out because their ideas have too little in common


def load_corpus(
    session: Session, model: str, category_id: int | None, district_id: int | None
) -> Corpus:
    """Public ideas of the filter with a vector of ``model``, the best supported first."""
    where: list[ColumnElement[bool]] = [Idea.status.in_(PUBLIC_STATUSES)]
    if category_id is not None:
        where.append(Idea.category_id == category_id)
    if district_id is not None:
        where.append(Idea.district_id.in_(district_and_children(session, district_id)))
    rows = session.execute(
        select(
            Idea.id, Idea.title, Idea.body, Idea.language, IdeaEmbedding.vector, IdeaEmbedding.dim
        )
        .join(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
        .where(*where, IdeaEmbedding.model == model)
        .order_by(Idea.support_count.desc(), Idea.id)
        .limit(MAX_IDEAS + 1)
    ).all()
    truncated = len(rows) > MAX_IDEAS
    rows = rows[:MAX_IDEAS]
    matching = session.scalar(select(func.count()).select_from(Idea).where(*where)) or 0
    embedded = (
        session.scalar(
            select(func.count())
            .select_from(Idea)
            .join(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
            .where(*where, IdeaEmbedding.model == model)
        )
        or 0
    )
    kept, vectors = [], []
    for r in rows:
        vec = decode(r.vector, r.dim).astype(np.float32)
        norm = float(np.linalg.norm(vec))
        if norm > 0 and np.isfinite(norm):
            kept.append(r)
            vectors.append(vec / norm)
    dim = rows[0].dim if rows else 0
    return Corpus(
        ids=[r.id for r in kept],
        texts=[f"{r.title}\n{r.body[:TEXT_CHARS]}" for r in kept],
        languages=[r.language for r in kept],
        vectors=np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32),
        without_vector=max(0, matching - embedded),
        truncated=truncated,
    )


def cluster(corpus: Corpus) -> Topics:
    """The themes of a corpus (blocking: run it in a worker thread)."""
    from ml.topics import find_topics  # scikit-learn loads only when themes are asked for

    return find_topics(corpus.vectors, corpus.texts, languages=corpus.languages)


def describe(session: Session, corpus: Corpus, topics: Topics) -> ThemesResult:
    """Themes with their distinct supporters and strongest ideas."""
    theme_ids = [[corpus.ids[i] for i in t.members] for t in topics.topics]
    every = [i for ids in theme_ids for i in ids]
    supporters = distinct_supporters(session, every)
    info: dict[int, Any] = {}
    merged: dict[int, int] = {}  # merged idea -> the theme idea it was merged into
    if every:
        found = select(Idea.id, Idea.title, Idea.language, Idea.status).where(Idea.id.in_(every))
        info = {r.id: r for r in session.execute(found)}
        members = select(Idea.id, Idea.merged_into_id).where(
            Idea.merged_into_id.in_(every), Idea.status == "merged"
        )
        merged = {int(m): int(c) for m, c in session.execute(members) if c is not None}
    themes = []
    for n, (topic, ids) in enumerate(zip(topics.topics, theme_ids, strict=True), 1):
        inside = set(ids)
        voted_on = [*ids, *(m for m, c in merged.items() if c in inside)]
        count = session.scalar(
            select(func.count(func.distinct(Vote.user_id))).where(
                Vote.idea_id.in_(voted_on), Vote.value == 1
            )
        )
        strongest = sorted(ids, key=lambda i: (-supporters.get(i, 0), i))[:IDEAS_PER_THEME]
        spoken = Counter(corpus.languages[i] for i in topic.members)
        themes.append(
            Theme(
                number=n,
                keywords=topic.keywords,
                language=min(spoken, key=lambda w: (-spoken[w], w)) if spoken else "",
                size=len(ids),
                supporters=int(count or 0),
                cohesion=topic.cohesion,
                ideas=[
                    ThemeIdea(
                        i, info[i].title, info[i].language, info[i].status, supporters.get(i, 0)
                    )
                    for i in strongest
                    if i in info
                ],
            )
        )
    return ThemesResult(
        themes=themes,
        ideas=len(corpus.ids),
        other=int((topics.labels < 0).sum()),
        loose=topics.dropped,
        without_vector=corpus.without_vector,
        truncated=corpus.truncated,
        computed_at=utcnow(),
    )


class ThemeCache:
    """Results per key for ``ttl`` seconds (15 s while some ideas lack a vector), in this
    process (thread-safe). Entries hold their expiry time."""

    def __init__(self, ttl: float = TTL_SECONDS, entries: int = CACHE_ENTRIES) -> None:
        self.ttl = ttl
        self.entries = entries
        self._items: dict[Hashable, tuple[float, ThemesResult]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> ThemesResult | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() > item[0]:
                self._items.pop(key, None)
                return None
            return item[1]

    def put(self, key: Hashable, value: ThemesResult) -> None:
        with self._lock:
            if len(self._items) >= self.entries:
                oldest = min(self._items, key=lambda k: self._items[k][0])
                del self._items[oldest]
            # While the embedder is still catching up the result is incomplete: keep it briefly.
            ttl = self.ttl if value.without_vector == 0 else min(self.ttl, INCOMPLETE_TTL_SECONDS)
            self._items[key] = (time.monotonic() + ttl, value)
