"""Moderators' review of the manipulation-signal discounts: confirm them or lift them.

The ranking (``RankingService``) finds bursts, waves of fresh accounts and lockstep rings at
every full rebuild and discounts the votes concerned. Here a moderator decides per idea — per
duplicate cluster, named by its canonical idea, since the ranking counts a cluster as one:

- **lifted**: the signals were wrong (a real campaign, a neighbourhood meeting): the ranking
  ignores them for the cluster's votes cast up to the decision. Votes cast later are judged
  afresh, so a lift cannot be used as a free pass for a later attack; new flagged votes put the
  idea back on the review list.
- **confirmed**: the discounts stay; the idea leaves the review list.

The latest decision per idea is in force; confirming a lifted idea revokes the lift. Every
decision writes a ``signal_reviews`` row, an audit entry and a 'recompute' ranking event, so
every worker rebuilds with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser, Page
from webapp.kernel.errors import Conflict, NotFound, PermissionDenied
from webapp.kernel.security import can
from webapp.kernel.storage.models import SIGNAL_DECISIONS, Idea, SignalReview, User
from webapp.kernel.validation import Errors, clean_text
from webapp.ranking import ranking_log

REASON_MIN = 3
REASON_MAX = 1000
TABS = ("review", "reviewed")
CHUNK = 500


@dataclass(frozen=True)
class Decision:
    idea_id: int
    decision: str
    actor_name: str | None
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class ReviewItem:
    """One cluster on the review list: its canonical idea, the signals, the latest decision."""

    idea_id: int
    title: str
    language: str
    status: str
    support_count: int
    votes: int  # flagged votes
    burst: int
    fresh: int
    lockstep: int
    cleared: int  # flagged votes whose discount is lifted
    at_stake: float  # weight the signals take without a decision
    lost: float  # weight they take now
    last_flagged: datetime
    decision: Decision | None
    needs_review: bool


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _epoch(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def lift_times(session: Session) -> dict[int, int]:
    """Ideas whose latest decision is 'lifted' -> Unix time of that decision."""
    rows = session.execute(
        select(SignalReview.idea_id, SignalReview.decision, SignalReview.created_at).order_by(
            SignalReview.created_at, SignalReview.id
        )
    ).all()
    latest: dict[int, tuple[str, datetime]] = {}
    for idea_id, decision, created_at in rows:
        latest[idea_id] = (decision, created_at)
    return {i: _epoch(at) for i, (d, at) in latest.items() if d == "lifted"}


def latest_decisions(session: Session, idea_ids: Iterable[int]) -> dict[int, Decision]:
    """The decision in force for each of the ideas that has one."""
    ids = sorted(set(idea_ids))
    out: dict[int, Decision] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(SignalReview, User.display_name)
            .outerjoin(User, User.id == SignalReview.actor_id)
            .where(SignalReview.idea_id.in_(chunk))
            .order_by(SignalReview.created_at, SignalReview.id)
        ).all()
        for review, name in rows:
            out[review.idea_id] = Decision(
                review.idea_id, review.decision, name, review.reason, review.created_at
            )
    return out


def decide(
    session: Session,
    actor: CurrentUser,
    idea_id: int,
    decision: str,
    reason: object,
    numbers: dict[str, Any] | None = None,
) -> None:
    """Record a moderator's decision on an idea's signal discounts (see the module docstring).

    ``numbers``: the signal counts the moderator saw, kept in the audit entry.
    """
    if not can(actor.role, "moderate"):
        raise PermissionDenied("You do not have permission to do this.")
    if decision not in SIGNAL_DECISIONS:
        raise NotFound("Unknown decision.")
    errors = Errors()
    text = clean_text(
        errors, "reason", reason, min_length=REASON_MIN, max_length=REASON_MAX, multiline=True
    )
    errors.raise_if_any()
    idea = session.get(Idea, idea_id, with_for_update=True)
    if idea is None:
        raise NotFound("Idea not found.")
    if idea.merged_into_id is not None:
        raise Conflict(
            "This idea was merged into another one; decide on the idea it was merged into."
        )
    before = latest_decisions(session, [idea_id]).get(idea_id)
    session.add(SignalReview(idea_id=idea_id, decision=decision, actor_id=actor.id, reason=text))
    audit.record(
        session,
        actor.id,
        "signals.confirm" if decision == "confirmed" else "signals.lift",
        "idea",
        idea_id,
        reason=text,
        details={
            "before": {"decision": before.decision if before else None},
            "after": {"decision": decision},
            "signals": dict(numbers or {}),
        },
    )
    session.flush()
    ranking_log.recompute(session)


def review_page(
    session: Session, clusters: Sequence[dict[str, Any]], tab: str, page: int, size: int
) -> Page[ReviewItem]:
    """One page of the review list built from ``RankingService.signal_clusters()``.

    ``tab`` 'review': clusters without a decision, or with flagged votes newer than it;
    'reviewed': the others. Both keep the ranking's order (largest weight at stake first).
    """
    decisions = latest_decisions(session, [c["idea_id"] for c in clusters])
    chosen = []
    for c in clusters:
        decision = decisions.get(c["idea_id"])
        needs = decision is None or c["last_flagged"] > _epoch(decision.created_at)
        if needs == (tab == "review"):
            chosen.append((c, decision, needs))
    total = len(chosen)
    page = max(1, page)
    window = chosen[(page - 1) * size : page * size]
    ideas = (
        {
            i.id: i
            for i in session.scalars(
                select(Idea).where(Idea.id.in_([c["idea_id"] for c, _, _ in window]))
            )
        }
        if window
        else {}
    )
    items = []
    for c, decision, needs in window:
        idea = ideas.get(c["idea_id"])
        if idea is None:  # deleted since the ranking was built
            continue
        items.append(
            ReviewItem(
                idea_id=idea.id,
                title=idea.title,
                language=idea.language,
                status=idea.status,
                support_count=idea.support_count,
                votes=c["votes"],
                burst=c["burst"],
                fresh=c["fresh"],
                lockstep=c["lockstep"],
                cleared=c["cleared"],
                at_stake=c["at_stake"],
                lost=c["lost"],
                last_flagged=datetime.fromtimestamp(c["last_flagged"], UTC),
                decision=decision,
                needs_review=needs,
            )
        )
    return Page(items, page, size, total)
