"""How far an idea is from the city's answer: its supporters against VECHE_RESPONSE_THRESHOLD.

Once an idea has ``threshold`` supporters the city owes it a public answer (webapp/officials).
Cards and the idea page show where each idea stands: "ещё 73 голоса до ответа города",
"27 913 из 100 — ждёт ответа города" or "Город ответил". An idea counts as answered when an
official published a response, or when its status is already a decision (accepted, in progress,
implemented, rejected: imported ideas may carry one without a text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import Idea

DECIDED_STATUSES = ("accepted", "in_progress", "implemented", "rejected")


@dataclass(frozen=True)
class Progress:
    """Where one idea stands on the way to the city's answer."""

    supporters: int
    threshold: int
    answered: bool

    @property
    def reached(self) -> bool:
        return self.supporters >= self.threshold

    @property
    def remaining(self) -> int:
        """Supporters still missing before the city must answer (0 once reached)."""
        return max(0, self.threshold - self.supporters)

    @property
    def shown(self) -> int:
        """The bar's value: the supporters, capped at the threshold."""
        return min(self.supporters, self.threshold)

    @property
    def state(self) -> str:
        """'answered', 'awaiting' (threshold reached, no answer yet) or 'collecting'."""
        if self.answered:
            return "answered"
        return "awaiting" if self.reached else "collecting"


def progress(supporters: int, threshold: int, status: str, responded: bool) -> Progress:
    """The progress of one idea; ``responded``: an official published an answer to it."""
    answered = responded or status in DECIDED_STATUSES
    return Progress(supporters=supporters, threshold=max(1, threshold), answered=answered)


def responded_ids(session: Session, idea_ids: Iterable[int]) -> set[int]:
    """Those of ``idea_ids`` that an official answered publicly (one query by primary key)."""
    ids = list(idea_ids)
    if not ids:
        return set()
    stmt = select(Idea.id).where(Idea.id.in_(ids), Idea.responded_at.is_not(None))
    return set(session.scalars(stmt))


def progress_of(
    session: Session, ideas: Sequence[tuple[int, int, str]], threshold: int
) -> dict[int, Progress]:
    """Progress per idea id, for ``(id, supporters, status)`` triples (a list page's cards)."""
    responded = responded_ids(session, (i for i, _, _ in ideas))
    return {i: progress(n, threshold, status, i in responded) for i, n, status in ideas}
