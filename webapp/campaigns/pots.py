"""The money of a budget project and which ideas compete for it.

A budget project has one pot for its whole scope (``district_id`` NULL) and optionally one per
district or okrug. An idea competes in the pot of its district, else of its district's okrug,
else in the scope-wide pot. Only ideas that an expert found feasible and costed, and that are
still public (not hidden, merged or rejected), reach the ballot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import District, Idea, IdeaEvaluation, ProjectPot

BALLOT_STATUSES = ("published", "under_review", "accepted", "in_progress", "implemented")


@dataclass(frozen=True)
class Pot:
    id: int
    district_id: int | None
    amount: int


@dataclass(frozen=True)
class BallotIdea:
    id: int
    title: str
    cost: int
    district_id: int | None
    pot_id: int


def pots(session: Session, project_id: int) -> list[Pot]:
    """The project's pots, the scope-wide one first."""
    rows = session.execute(
        select(ProjectPot.id, ProjectPot.district_id, ProjectPot.amount)
        .where(ProjectPot.project_id == project_id)
        .order_by(ProjectPot.district_id.is_not(None), ProjectPot.district_id)
    ).all()
    return [Pot(r.id, r.district_id, r.amount) for r in rows]


def _parents(session: Session) -> dict[int, int | None]:
    return {r.id: r.parent_id for r in session.execute(select(District.id, District.parent_id))}


def pot_of(
    district_id: int | None, project_pots: list[Pot], parents: dict[int, int | None]
) -> Pot | None:
    """The pot an idea in ``district_id`` competes in (None: the project has no pot for it)."""
    by_district = {p.district_id: p for p in project_pots}
    if district_id is not None:
        if district_id in by_district:
            return by_district[district_id]
        parent = parents.get(district_id)
        if parent is not None and parent in by_district:
            return by_district[parent]
    return by_district.get(None)


def ballot_ideas(session: Session, project_id: int) -> dict[int, list[BallotIdea]]:
    """Pot id -> the ideas on that pot's ballot (feasible, costed, public), cheapest first."""
    project_pots = pots(session, project_id)
    parents = _parents(session)
    rows = session.execute(
        select(Idea.id, Idea.title, Idea.district_id, IdeaEvaluation.cost)
        .join(IdeaEvaluation, IdeaEvaluation.idea_id == Idea.id)
        .where(
            Idea.project_id == project_id,
            Idea.status.in_(BALLOT_STATUSES),
            IdeaEvaluation.feasible.is_(True),
            IdeaEvaluation.cost.is_not(None),
        )
        .order_by(IdeaEvaluation.cost, Idea.id)
    ).all()
    out: dict[int, list[BallotIdea]] = {p.id: [] for p in project_pots}
    for r in rows:
        pot = pot_of(r.district_id, project_pots, parents)
        if pot is not None:
            out[pot.id].append(BallotIdea(r.id, r.title, int(r.cost), r.district_id, pot.id))
    return out
