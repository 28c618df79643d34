"""Themes of a poll question's free-text "other" answers, for officials: grouped by meaning.

An official reads twenty labelled themes instead of twenty thousand lines. Three steps, so that
no transaction stays open while the model works:

1. :func:`answer_key` (one short query): how many "other" answers the question has and when the
   poll's answers last changed — the cache key (:class:`ThemeKey`);
2. :func:`load_texts`: the answers' texts, all of them up to :data:`SAMPLE`, else a seeded
   uniform random sample of :data:`SAMPLE` (the cost of a page does not grow with the city);
3. :func:`compute` (blocking, seconds: run it in a worker thread): the platform's embedder
   (``SimilarityService.finder``, wrapped by :func:`embedder`), then ``ml.topics.find_topics``
   for the clusters and their keyword labels (c-TF-IDF on stems, stop words removed).

**Privacy.** Only staff see this, and even they never see an answer: a result holds numbers and
keyword labels only, never a text. A keyword must be used by at least
:data:`MIN_KEYWORD_ANSWERS` answers of its theme (``find_topics`` already asks for two and 10 %
of them), a theme of fewer than :data:`MIN_THEME` answers is pooled into "other/unsorted", and a
question with fewer than :data:`MIN_ANSWERS` free answers gets no themes at all (the reason says
so).

**Sampling.** With more than :data:`SAMPLE` answers, each theme's share is its share of the
sample, its count the share scaled to all answers, and a 95 % interval (Wilson, with the finite
population correction) says how far the sample may be from the whole; the result says it was
sampled (``sampled < total``).

:class:`ThemeCache` keeps results per worker, keyed by :class:`ThemeKey`: a new, changed or
withdrawn answer changes the key, so a reload is free until then.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import PollAnswer, PollQuestion, PollResponse, utcnow

if TYPE_CHECKING:
    from ml.finder import DuplicateFinder

# At most this many answers are embedded and clustered per question. A theme's share from a
# uniform sample of 2,000 is within 2.2 points of the whole's (95 %, worst case); embedding is
# the cost (the default model: about 20-60 answers a second per core, so 30 s to a minute on
# one busy core; clustering 2,000 rows takes a few seconds).
SAMPLE = 2_000
MIN_ANSWERS = 5  # fewer free answers: no themes (a theme could point at one resident)
MIN_THEME = 5  # smaller themes are pooled into "other/unsorted"
MIN_KEYWORD_ANSWERS = 3  # a label word is used by at least this many answers of its theme
MAX_THEMES = 20
KEYWORDS = 5
TEXT_CHARS = 500  # of each answer (the longest an answer may be), for the model and labels
EMBED_BATCH = 128
FETCH_CHUNK = 500  # ids per IN (...) when reading the sampled texts
CACHE_ENTRIES = 128
Z95 = 1.959963984540054

# Why a question has no themes (QuestionThemes.reason; the page words each one).
TOO_FEW = "too_few"  # fewer than MIN_ANSWERS free answers
NO_THEMES = "no_themes"  # enough answers, but no group of MIN_THEME alike ones

Embed = Callable[[Sequence[str]], NDArray[np.float32]]


@dataclass(frozen=True)
class ThemeKey:
    """What a result depends on: a changed, new or withdrawn answer changes the key."""

    poll_id: int
    question_id: int
    count: int  # the question's non-empty "other" answers
    updated: datetime | None  # the poll's latest answer (created or replaced)


@dataclass(frozen=True)
class PollTheme:
    number: int  # 1-based, largest first
    keywords: tuple[str, ...]  # the most telling first; may be empty
    count: int  # answers of the theme among those clustered (the sample when sampled)
    estimate: int  # answers among all "other" answers: ``count``, or the share scaled up
    share: float  # of the question's "other" answers (of the sample when sampled)
    low: float  # 95 % interval of the share (equal to it when every answer was read)
    high: float


@dataclass(frozen=True)
class QuestionThemes:
    question_id: int
    total: int  # the question's "other" answers
    sampled: int  # answers clustered: ``total``, or SAMPLE when there were more
    themes: tuple[PollTheme, ...]
    unsorted: int  # clustered answers in no theme
    unsorted_share: float
    unsorted_estimate: int
    reason: str  # "" when themes were found; else TOO_FEW or NO_THEMES
    computed_at: datetime

    @property
    def is_sample(self) -> bool:
        return self.sampled < self.total


# --- reading (short transactions) ---------------------------------------------------------------


def _others(poll_id: int, question_id: int) -> list[ColumnElement[bool]]:
    return [
        PollResponse.poll_id == poll_id,
        PollAnswer.question_id == question_id,
        PollAnswer.option_id.is_(None),
        PollAnswer.other_text.is_not(None),
        PollAnswer.other_text != "",
    ]


def answer_key(session: Session, poll_id: int, question_id: int) -> ThemeKey:
    """The cache key of one question's themes: its "other" answers and the last change."""
    count = session.scalar(
        select(func.count())
        .select_from(PollAnswer)
        .join(PollResponse, PollResponse.id == PollAnswer.response_id)
        .where(*_others(poll_id, question_id))
    )
    updated = session.scalar(
        select(func.max(PollResponse.updated_at)).where(PollResponse.poll_id == poll_id)
    )
    return ThemeKey(poll_id, question_id, int(count or 0), updated)


def sample_rows(total: int, size: int, seed: Sequence[int]) -> NDArray[np.int64]:
    """Sorted positions ``0..total-1`` to read: all of them, or a uniform random ``size``.

    The sample is seeded (by the poll and question), so the same answers give the same themes.

    >>> sample_rows(4, 10, (1, 2)).tolist()
    [0, 1, 2, 3]
    >>> rows = sample_rows(1000, 10, (1, 2))
    >>> len(rows), len(set(rows.tolist())), bool((rows == sample_rows(1000, 10, (1, 2))).all())
    (10, 10, True)
    """
    if total <= size:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng(list(seed))
    return np.sort(rng.choice(total, size=size, replace=False)).astype(np.int64)


def load_texts(session: Session, key: ThemeKey, sample: int | None = None) -> list[str]:
    """The texts of the question's "other" answers: every one up to ``sample`` (default
    :data:`SAMPLE`), else a seeded uniform random sample of that many. Staff use only: the
    texts go to :func:`compute` and never further."""
    size = SAMPLE if sample is None else sample
    where = _others(key.poll_id, key.question_id)
    ids = list(
        session.scalars(
            select(PollAnswer.id)
            .join(PollResponse, PollResponse.id == PollAnswer.response_id)
            .where(*where)
            .order_by(PollAnswer.id)
        )
    )
    chosen = [ids[i] for i in sample_rows(len(ids), size, (key.poll_id, key.question_id))]
    texts: list[str] = []
    for start in range(0, len(chosen), FETCH_CHUNK):
        chunk = chosen[start : start + FETCH_CHUNK]
        rows = session.execute(
            select(PollAnswer.id, PollAnswer.other_text).where(PollAnswer.id.in_(chunk))
        ).all()
        by_id = {int(r.id): r.other_text or "" for r in rows}
        texts.extend(by_id.get(i, "") for i in chunk)
    return texts


def free_questions(session: Session, poll_id: int) -> list[int]:
    """Ids of the poll's questions that take a free-text "other" answer, in order."""
    return list(
        session.scalars(
            select(PollQuestion.id)
            .where(PollQuestion.poll_id == poll_id, PollQuestion.allow_other.is_(True))
            .order_by(PollQuestion.position, PollQuestion.id)
        )
    )


# --- computing (blocking: a worker thread) ------------------------------------------------------


def embedder(finder: DuplicateFinder) -> Embed:
    """The platform's embedder (``SimilarityService.finder``) as ``texts -> (n, d)`` rows: each
    distinct text once, in batches of :data:`EMBED_BATCH`."""

    def embed(texts: Sequence[str]) -> NDArray[np.float32]:
        unique = list(dict.fromkeys(texts))  # "нет", "всё устраивает": embedded once
        parts = [
            np.asarray(finder.embed(unique[i : i + EMBED_BATCH]), dtype=np.float32)
            for i in range(0, len(unique), EMBED_BATCH)
        ]
        if not parts:
            return np.zeros((0, finder.dim), dtype=np.float32)
        vectors = np.concatenate(parts, axis=0)
        row = {t: i for i, t in enumerate(unique)}
        return vectors[[row[t] for t in texts]]

    return embed


def interval(count: int, n: int, total: int) -> tuple[float, float]:
    """95 % Wilson interval of the share ``count / n`` of a uniform sample of ``n`` out of
    ``total`` answers, with the finite population correction (no width when ``n == total``).

    >>> interval(30, 30, 30)
    (1.0, 1.0)
    >>> low, high = interval(100, 1000, 20000)
    >>> round(low, 3), round(high, 3)
    (0.083, 0.12)
    """
    p = count / n if n else 0.0
    if n == 0 or n >= total:
        return p, p
    fpc = (total - n) / (total - 1)
    m = n / fpc  # the effective size of a sample without replacement
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * m)) / (1 + z2 / m)
    half = Z95 * math.sqrt(p * (1 - p) / m + z2 / (4 * m * m)) / (1 + z2 / m)
    return max(0.0, centre - half), min(1.0, centre + half)


def _language(text: str) -> str:
    """ "ru" for a text with Cyrillic letters, else "en" (only picks the Latin stemmer)."""
    return "ru" if any("а" <= c <= "я" or c == "ё" for c in text.lower()) else "en"


def _private_keywords(keywords: Sequence[str], texts: Sequence[str]) -> tuple[str, ...]:
    """The keywords used (as a stem) by at least MIN_KEYWORD_ANSWERS of ``texts``."""
    from ml.topics import tokens

    used = [{s for s, _ in tokens(t, _language(t))} for t in texts]
    kept = []
    for word in keywords:
        stems = [s for s, _ in tokens(word, _language(word))]
        if stems and sum(stems[0] in u for u in used) >= MIN_KEYWORD_ANSWERS:
            kept.append(word)
    return tuple(kept)


def _empty(question_id: int, total: int, sampled: int, reason: str) -> QuestionThemes:
    return QuestionThemes(
        question_id=question_id,
        total=total,
        sampled=sampled,
        themes=(),
        unsorted=sampled,
        unsorted_share=1.0 if sampled else 0.0,
        unsorted_estimate=total,
        reason=reason,
        computed_at=utcnow(),
    )


def compute(key: ThemeKey, texts: Sequence[str], embed: Embed) -> QuestionThemes:
    """The themes of one question's answers (``texts``: all of them or a uniform sample).

    Blocking (the model and k-means run here): call it in a worker thread. The result holds
    counts, shares and keyword labels, never a text.
    """
    from ml.topics import find_topics  # scikit-learn loads only when themes are asked for

    total = key.count
    if total < MIN_ANSWERS:
        return _empty(key.question_id, total, min(total, len(texts)), TOO_FEW)
    clean = [t.strip()[:TEXT_CHARS] for t in texts]
    clean = [t for t in clean if t]
    n = len(clean)
    if n < MIN_ANSWERS:
        return _empty(key.question_id, total, n, TOO_FEW)
    vectors = np.asarray(embed(clean), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    usable = np.flatnonzero(np.isfinite(norms) & (norms > 0))
    rows = vectors[usable] / norms[usable, None]
    kept = [clean[i] for i in usable]
    topics = find_topics(
        rows,
        kept,
        languages=[_language(t) for t in kept],
        min_size=MIN_THEME,
        max_topics=MAX_THEMES,
        n_keywords=KEYWORDS,
    )
    themes: list[PollTheme] = []
    for topic in topics.topics:
        count = len(topic.members)
        if count < MIN_THEME:  # find_topics already pools these; kept as the privacy floor
            continue
        share = count / n
        low, high = interval(count, n, total)
        themes.append(
            PollTheme(
                number=len(themes) + 1,
                keywords=_private_keywords(topic.keywords, [kept[i] for i in topic.members]),
                count=count,
                estimate=round(share * total),
                share=share,
                low=low,
                high=high,
            )
        )
    unsorted = n - sum(t.count for t in themes)
    return QuestionThemes(
        question_id=key.question_id,
        total=total,
        sampled=n,
        themes=tuple(themes),
        unsorted=unsorted,
        unsorted_share=unsorted / n,
        unsorted_estimate=round(unsorted / n * total),
        reason="" if themes else NO_THEMES,
        computed_at=utcnow(),
    )


def question_themes(
    session_factory: Callable[[], Session],
    embed: Embed,
    poll_id: int,
    question_id: int,
    *,
    cache: ThemeCache | None = None,
    model: str = "",
) -> QuestionThemes:
    """Everything at once, blocking (a CLI, a job; the web page runs the steps itself so that
    the rate limit is charged only on a cache miss): key, cache, texts, :func:`compute`."""
    with session_factory() as session:
        key = answer_key(session, poll_id, question_id)
    cache_key = (model, SAMPLE, key)
    if cache is not None and (hit := cache.get(cache_key)) is not None:
        return hit
    with session_factory() as session:
        texts = load_texts(session, key)
    result = compute(key, texts, embed)
    if cache is not None:
        cache.put(cache_key, result)
    return result


class ThemeCache:
    """Results per key in this worker (thread-safe), the least recently used dropped first.

    The key holds the answers' count and last change, so an entry is never stale; no expiry.
    """

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[Hashable, QuestionThemes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> QuestionThemes | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Hashable, value: QuestionThemes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def charge(texts: int) -> int:
    """Hits of the ``similar`` rate limit one uncached computation counts: one per started
    100 answers embedded (2,000 answers: 20 of the default 120 a minute).

    >>> charge(0), charge(100), charge(2000)
    (1, 1, 20)
    """
    return max(1, -(-texts // 100))
