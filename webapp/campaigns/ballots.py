"""Residents cast budget ballots: approval (choose at most k) or knapsack (fill the budget).

A budget project has a pot for its whole scope and maybe one per district or okrug
(``pots.py``). A voter may vote in the scope-wide pot and in the pot of their own district or
okrug (``users.district_id``), one ballot per pot, replaceable until the voting stage closes.
Who may vote is the project's ``eligibility``: everyone signed in, residents of the project's
scope (city scope: anyone with a district set), or verified residents of the scope.

A ballot is checked whole before anything is written: the stage (409, the gate's message), the
voter's eligibility (403), the pot (one of the voter's), every idea on that pot's ballot
(feasible, costed, public, of this project), at most ``approval_limit`` ideas (approval) or a
total cost within the pot (knapsack). A refused ballot changes nothing; an accepted one replaces
the previous choices in the same transaction (an empty choice withdraws the ballot).

Privacy: the content of a ballot is read only for its own voter (``my_ballots``); everyone else
gets counts (``evaluations.ballot_counts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.campaigns.pots import BallotIdea, Pot, ballot_ideas, pots
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, Conflict, InvalidInput, NotFound, PermissionDenied
from webapp.kernel.security import require_permission
from webapp.kernel.storage.models import Ballot, BallotChoice, District, Project, User, utcnow
from webapp.projects.gates import check, require_open
from webapp.projects.projects import ProjectGate, gate_info
from webapp.projects.stages import allows

NOT_RESIDENT = N_(
    "Only residents of the project's area can vote in it. Set your district in your profile."
)
NOT_RESIDENT_CITY = N_(
    "Only residents of the city can vote in this project. Set your district in your profile."
)
NOT_VERIFIED = N_("Only verified residents can vote in this project.")


@dataclass(frozen=True)
class PotBallot:
    """One pot as a voter sees it: its ideas, the limit or budget, and the voter's choices."""

    pot: Pot
    ideas: list[BallotIdea]
    chosen: frozenset[int]
    saved_at: datetime | None

    @property
    def total(self) -> int:
        return sum(i.cost for i in self.ideas if i.id in self.chosen)


@dataclass(frozen=True)
class BallotPage:
    project_id: int
    title_ru: str
    title_en: str
    voting: str  # approval | knapsack | supports
    approval_limit: int | None
    open: bool  # the voting stage is open now
    closed_message: tuple[str, dict[str, object]] | None  # the gate's message when not open
    ineligible: str | None  # why the voter may not vote (message id), None when they may
    pots: list[PotBallot]
    district_ids: dict[int, int | None]  # pot id -> its district (for the names)


@dataclass(frozen=True)
class CastResult:
    project_id: int
    pot_id: int
    chosen: tuple[int, ...]
    total: int
    saved_at: datetime | None  # None: the ballot was withdrawn (nothing chosen)


def _parents(session: Session) -> dict[int, int | None]:
    return {r.id: r.parent_id for r in session.execute(select(District.id, District.parent_id))}


def _areas(district_id: int | None, parents: dict[int, int | None]) -> set[int]:
    """A district and its okrug."""
    if district_id is None:
        return set()
    parent = parents.get(district_id)
    return {district_id} | ({parent} if parent is not None else set())


def ineligibility(
    session: Session,
    user: CurrentUser,
    gate: ProjectGate,
    parents: dict[int, int | None] | None = None,
) -> str | None:
    """Why ``user`` may not vote in the project (a message id), or None when they may.

    Read from the users row, not the session's copy, so a district set a moment ago counts.
    """
    row = session.execute(
        select(User.district_id, User.verified_resident).where(User.id == user.id)
    ).one_or_none()
    if row is None:
        return NOT_RESIDENT
    if gate.eligibility == "everyone":
        return None
    parents = parents if parents is not None else _parents(session)
    if gate.scope_district_id is None:
        resident = row.district_id is not None
    else:
        resident = gate.scope_district_id in _areas(row.district_id, parents)
    if not resident:
        return NOT_RESIDENT_CITY if gate.scope_district_id is None else NOT_RESIDENT
    if gate.eligibility == "verified" and not row.verified_resident:
        return NOT_VERIFIED
    return None


def voter_pots(
    session: Session,
    user: CurrentUser,
    project_id: int,
    parents: dict[int, int | None] | None = None,
) -> list[Pot]:
    """The pots the voter may vote in: the scope-wide one and their district's or okrug's."""
    parents = parents if parents is not None else _parents(session)
    district_id = session.scalar(select(User.district_id).where(User.id == user.id))
    mine = _areas(district_id, parents)
    return [p for p in pots(session, project_id) if p.district_id is None or p.district_id in mine]


def _own(
    session: Session, user_id: int, project_id: int
) -> dict[int, tuple[frozenset[int], datetime]]:
    """The voter's own ballots in the project: pot id -> (chosen idea ids, saved at)."""
    ballots = session.execute(
        select(Ballot.id, Ballot.pot_id, Ballot.updated_at).where(
            Ballot.project_id == project_id, Ballot.user_id == user_id
        )
    ).all()
    if not ballots:
        return {}
    choices: dict[int, set[int]] = {b.id: set() for b in ballots}
    for ballot_id, idea_id in session.execute(
        select(BallotChoice.ballot_id, BallotChoice.idea_id).where(
            BallotChoice.ballot_id.in_(list(choices))
        )
    ):
        choices[ballot_id].add(idea_id)
    return {b.pot_id: (frozenset(choices[b.id]), b.updated_at) for b in ballots}


def ballot_page(
    session: Session, user: CurrentUser, project_id: int, now: datetime | None = None
) -> BallotPage:
    """What the voter sees: each pot they may vote in, its ideas and their own choices."""
    gate = gate_info(session, project_id, now)
    if not gate.published:
        raise NotFound("Project not found.")
    project = session.get(Project, project_id)
    assert project is not None
    message: tuple[str, dict[str, object]] | None = None
    is_open = allows(gate.state, "ballot", gate.voting)
    if not is_open:
        try:
            check(gate, "ballot")
        except Conflict as exc:  # the gate's message says when the stage opens or why it closed
            message = (exc.message, dict(exc.params))
    parents = _parents(session)
    why = ineligibility(session, user, gate, parents)
    sections: list[PotBallot] = []
    if gate.voting != "supports":
        by_pot = ballot_ideas(session, project_id)
        own = _own(session, user.id, project_id)
        for pot in voter_pots(session, user, project_id, parents):
            chosen, saved = own.get(pot.id, (frozenset(), None))
            sections.append(PotBallot(pot, by_pot.get(pot.id, []), chosen, saved))
    return BallotPage(
        project_id=project_id,
        title_ru=gate.title_ru,
        title_en=gate.title_en,
        voting=gate.voting,
        approval_limit=project.approval_limit,
        open=is_open,
        closed_message=message,
        ineligible=why,
        pots=sections,
        district_ids={s.pot.id: s.pot.district_id for s in sections},
    )


def my_ballots(session: Session, user: CurrentUser, project_id: int) -> list[PotBallot]:
    """The voter's own ballots in the project (pots where they chose nothing are left out)."""
    page = ballot_page(session, user, project_id)
    return [s for s in page.pots if s.chosen]


def validate(
    session: Session,
    user: CurrentUser,
    project_id: int,
    pot_id: int | None,
    idea_ids: Iterable[int],
    now: datetime | None = None,
) -> tuple[ProjectGate, Pot, list[BallotIdea]]:
    """Check a ballot without storing it; returns the gate, the pot and the chosen ideas.

    409 out of the voting stage (the gate's message), 403 for a voter the project does not
    admit or a pot that is not theirs, 422 for an unknown pot, an idea not on the pot's ballot,
    too many ideas (approval) or a total over the pot (knapsack).
    """
    require_permission(user.role, "vote")
    gate = require_open(session, project_id, "ballot", now)
    parents = _parents(session)
    why = ineligibility(session, user, gate, parents)
    if why is not None:
        raise PermissionDenied(why)
    project_pots = pots(session, project_id)
    if pot_id is None and len(project_pots) == 1:
        pot_id = project_pots[0].id
    pot = next((p for p in project_pots if p.id == pot_id), None)
    if pot is None:
        raise InvalidInput({"pot": (N_("Choose one of this project's budgets."), {})})
    if pot not in voter_pots(session, user, project_id, parents):
        raise PermissionDenied("This budget is for the residents of another district.")
    wanted = list(dict.fromkeys(idea_ids))
    offered = {i.id: i for i in ballot_ideas(session, project_id).get(pot.id, [])}
    stray = [i for i in wanted if i not in offered]
    if stray:
        raise InvalidInput(
            {
                "ideas": (
                    N_("Idea no. %(id)s is not on this ballot: choose from the list."),
                    {"id": stray[0]},
                )
            }
        )
    chosen = [offered[i] for i in wanted]
    limit = _approval_limit(session, project_id) if gate.voting == "approval" else None
    if limit is not None and len(chosen) > limit:
        raise InvalidInput(
            {
                "ideas": (
                    N_("You may choose at most %(limit)s ideas; you chose %(count)s."),
                    {"limit": limit, "count": len(chosen)},
                )
            }
        )
    total = sum(i.cost for i in chosen)
    if gate.voting == "knapsack" and total > pot.amount:
        raise InvalidInput(
            {
                "ideas": (
                    N_(
                        "The chosen ideas cost %(total)s roubles, more than the budget of "
                        "%(amount)s roubles. Remove some of them."
                    ),
                    {"total": total, "amount": pot.amount},
                )
            }
        )
    return gate, pot, chosen


def _approval_limit(session: Session, project_id: int) -> int | None:
    limit = session.scalar(select(Project.approval_limit).where(Project.id == project_id))
    return int(limit) if limit else None


def cast(
    session: Session,
    user: CurrentUser,
    project_id: int,
    pot_id: int | None,
    idea_ids: Iterable[int],
    now: datetime | None = None,
) -> CastResult:
    """Store the voter's ballot in one pot, replacing their previous one; flushes.

    Checked whole first (``validate``); nothing is written when it is refused. An empty choice
    withdraws the ballot. Two submissions at once: ``uq_ballots_pot_user`` lets one insert win,
    the other replaces its choices.
    """
    _gate, pot, chosen = validate(session, user, project_id, pot_id, idea_ids, now)
    moment = now or utcnow()
    ids = [i.id for i in chosen]
    existing = session.scalar(
        select(Ballot.id)
        .where(Ballot.pot_id == pot.id, Ballot.user_id == user.id)
        .with_for_update()
    )
    if not ids:
        if existing is not None:
            session.execute(delete(BallotChoice).where(BallotChoice.ballot_id == existing))
            session.execute(delete(Ballot).where(Ballot.id == existing))
            session.flush()
        return CastResult(project_id, pot.id, (), 0, None)
    if existing is None:
        try:
            with session.begin_nested():
                ballot = Ballot(
                    project_id=project_id,
                    pot_id=pot.id,
                    user_id=user.id,
                    created_at=moment,
                    updated_at=moment,
                )
                session.add(ballot)
                session.flush()
                existing = ballot.id
        except IntegrityError:  # the same voter's other request inserted it first: replace it
            existing = session.scalar(
                select(Ballot.id)
                .where(Ballot.pot_id == pot.id, Ballot.user_id == user.id)
                .with_for_update()
            )
            if existing is None:  # pragma: no cover - the winner cannot vanish in between
                raise
    session.execute(delete(BallotChoice).where(BallotChoice.ballot_id == existing))
    session.execute(insert(BallotChoice), [{"ballot_id": existing, "idea_id": i} for i in ids])
    session.execute(update(Ballot).where(Ballot.id == existing).values(updated_at=moment))
    session.flush()
    return CastResult(project_id, pot.id, tuple(ids), sum(i.cost for i in chosen), moment)
