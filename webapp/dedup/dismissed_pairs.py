"""Pairs the moderators said are not duplicates, as the duplicate finder reads them.

A dismissal (``dismissed_pairs``, ``idea_a < idea_b``, written by ``webapp.dedup.dismissals``)
stores the hash of both texts as they were then (:func:`text_hash_of`: the embedder's
``text_hash`` of ``join_idea``). ``dedup_groups.score_edges`` asks :func:`blocked_pairs` before
scoring, so neither an incremental refresh nor ``veche reindex`` proposes the pair again while
both texts hash the same; once one text changes the dismissal is deleted and the pair may be
proposed again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.dedup.similar_ideas import idea_text, text_hash
from webapp.kernel.storage.models import DismissedPair, Idea

CHUNK = 500  # ids per IN (...) query

Pair = tuple[int, int]


def text_hash_of(title: str, body: str | None) -> str:
    """The embedder's hash of an idea's text (``text_hash`` of ``idea_text``)."""
    return text_hash(idea_text(title, body))


def current_hashes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """idea id -> the hash of its current text (ids not found are left out)."""
    wanted = sorted(set(ids))
    out: dict[int, str] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for idea_id, title, body in session.execute(
            select(Idea.id, Idea.title, Idea.body).where(Idea.id.in_(chunk))
        ):
            out[idea_id] = text_hash_of(title, body)
    return out


def blocked_pairs(session: Session, pairs: Collection[Pair], texts: Mapping[int, str]) -> set[Pair]:
    """The pairs among ``pairs`` (``a < b``) dismissed while both texts were as in ``texts``.

    ``texts`` maps idea ids to their current ``join_idea`` text. A dismissal whose stored hash no
    longer matches (one text was edited since) is deleted: the pair may be proposed again.
    """
    if not pairs:
        return set()
    wanted = set(pairs)
    firsts = sorted({a for a, _ in wanted})
    blocked: set[Pair] = set()
    stale: list[Pair] = []
    for start in range(0, len(firsts), CHUNK):
        chunk = firsts[start : start + CHUNK]
        rows = session.execute(
            select(
                DismissedPair.idea_a,
                DismissedPair.idea_b,
                DismissedPair.text_hash_a,
                DismissedPair.text_hash_b,
            ).where(DismissedPair.idea_a.in_(chunk))
        ).all()
        for a, b, hash_a, hash_b in rows:
            if (a, b) not in wanted or a not in texts or b not in texts:
                continue
            if text_hash(texts[a]) == hash_a and text_hash(texts[b]) == hash_b:
                blocked.add((a, b))
            else:
                stale.append((a, b))
    for a, b in stale:
        session.execute(
            delete(DismissedPair).where(DismissedPair.idea_a == a, DismissedPair.idea_b == b)
        )
    return blocked
