"""The outcome of a budget vote: count the ballots, run the project's rule, publish, notify.

Each pot is counted on its own: its approval ballots (``ballots`` + ``ballot_choices``) become a
voter × idea matrix (``scipy.sparse``), the costs are the experts' estimates of the ideas on that
pot's ballot (``webapp.campaigns.pots.ballot_ideas``) and the budget is the pot's amount. The pure
rules of ``ranking.budgets`` decide: the project's rule (greedy, or the Method of Equal Shares
with the Add1 completion followed by greedy filling, as equalshares.net recommends) and, for the
comparison on the results page, greedy as well. Every ballot counts as a voter, even an empty one
(with equal shares each voter holds an equal share of the budget).

Decisions made here, documented for the city and the tests:

- **Ties** are broken by idea id: of two ideas that tie (the same number of votes under greedy,
  the same price per vote under equal shares), the older idea (smaller id) wins. The rules are
  given the ideas in id order and break ties by that order (their default ``tie_rank``).
- **An idea nobody chose is never funded.** The rules run on the ideas with at least one vote;
  dropping the others changes nothing for the rest (equal shares never funds an idea without
  supporters, and greedy filling reaches them last).
- **Choices of ideas no longer on the ballot** (hidden, merged or found infeasible after the
  ballot was cast) are ignored; the ballot still counts as a voter.

The outcome is stored in ``budget_results`` (one row per idea on each pot's ballot; a new count
replaces the previous one). Officials count it once voting has closed and look at the preview;
publishing counts again, stamps ``projects.results_published_at``, moves each funded idea to
"accepted" through the officials' answer (so its author and supporters are told and the change is
audited) and sends every participant — ballot casters and authors of the project's ideas — one
notification of kind ``results``. Publishing again recounts but tells no one twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import delete, func, select, union
from sqlalchemy.orm import Session

from ranking import budgets
from webapp.campaigns.pots import BallotIdea, ballot_ideas, pots
from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotFound
from webapp.kernel.security import require_permission
from webapp.kernel.storage.models import (
    Ballot,
    BallotChoice,
    BudgetResult,
    Idea,
    IdeaProgress,
    Project,
    ProjectPot,
    User,
    utcnow,
)
from webapp.notifications.notifications import notify_users
from webapp.officials import responses
from webapp.projects.projects import gate_info
from webapp.projects.stages import StageState

# Ideas whose status a publication moves to "accepted" when funded (the others keep theirs).
ACCEPT_FROM = ("published", "under_review")


@dataclass(frozen=True)
class PotCount:
    """One pot's ballots as the rules read them (ideas in id order: the tie-breaking order)."""

    pot_id: int
    budget: int
    idea_ids: tuple[int, ...]
    costs: tuple[int, ...]
    ballots: sp.csr_matrix  # voters × ideas, 1 = chosen
    votes: tuple[int, ...]
    selected: frozenset[int]  # idea ids funded by the project's rule
    greedy_selected: frozenset[int]  # idea ids greedy would fund


@dataclass(frozen=True)
class IdeaOutcome:
    idea_id: int
    title: str
    language: str
    district_id: int | None
    status: str
    cost: int
    votes: int
    selected: bool
    greedy_selected: bool
    percent: int | None  # implementation progress, when the city has reported any


@dataclass(frozen=True)
class PotOutcome:
    pot_id: int
    district_id: int | None
    amount: int
    voters: int
    ideas: tuple[IdeaOutcome, ...]  # most votes first (ties: idea id)
    satisfied: int = 0  # voters with at least one idea they chose funded by the project's rule
    greedy_satisfied: int = 0  # … had greedy decided

    @property
    def winners(self) -> tuple[IdeaOutcome, ...]:
        return tuple(i for i in self.ideas if i.selected)

    @property
    def spent(self) -> int:
        return sum(i.cost for i in self.ideas if i.selected)

    @property
    def greedy_spent(self) -> int:
        return sum(i.cost for i in self.ideas if i.greedy_selected)

    @property
    def gained(self) -> tuple[IdeaOutcome, ...]:
        """Funded by the project's rule but not by greedy."""
        return tuple(i for i in self.ideas if i.selected and not i.greedy_selected)

    @property
    def lost(self) -> tuple[IdeaOutcome, ...]:
        """Funded by greedy but not by the project's rule."""
        return tuple(i for i in self.ideas if i.greedy_selected and not i.selected)


@dataclass(frozen=True)
class Results:
    project_id: int
    title_ru: str
    title_en: str
    rule: str
    voting: str
    published_at: datetime | None
    computed_at: datetime | None  # None: never counted
    voting_closed: bool
    pots: tuple[PotOutcome, ...]
    project_published: bool = True  # False: a draft project (officials only)

    @property
    def published(self) -> bool:
        return self.published_at is not None

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ru

    @property
    def gained(self) -> tuple[IdeaOutcome, ...]:
        """Every pot's ideas funded by the project's rule but not by greedy."""
        return tuple(i for p in self.pots for i in p.gained)

    @property
    def lost(self) -> tuple[IdeaOutcome, ...]:
        """Every pot's ideas greedy would have funded but the project's rule did not."""
        return tuple(i for p in self.pots for i in p.lost)

    @property
    def voters(self) -> int:
        return sum(p.voters for p in self.pots)

    @property
    def satisfied(self) -> int:
        return sum(p.satisfied for p in self.pots)

    @property
    def greedy_satisfied(self) -> int:
        return sum(p.greedy_satisfied for p in self.pots)

    @property
    def differs(self) -> bool:
        """Whether the project's rule funded other ideas than greedy would have."""
        return any(p.gained or p.lost for p in self.pots)


@dataclass(frozen=True)
class Publication:
    results: Results
    first: bool  # the first publication (participants were notified now)
    accepted: tuple[int, ...]  # ideas moved to "accepted"
    notified: int  # "results" notifications written


def voting_closed(state: StageState, now: datetime) -> bool:
    """Whether the voting stage is over: its dates passed, or an official moved the project on
    (to results or implementation) or closed it."""
    if state.phase == "permanent":
        return False
    if state.phase == "closed":
        return True
    if state.phase == "override":
        return state.stage in ("results", "implementation")
    window = state.window("voting")
    return window is not None and window.ends_at is not None and now >= window.ends_at


def _project(session: Session, project_id: int, lock: bool = False) -> Project:
    project = session.get(Project, project_id, with_for_update=lock)
    if project is None or project.permanent:
        raise NotFound("Project not found.")
    return project


def _require_closed(session: Session, project: Project) -> None:
    if project.voting == "supports":
        raise Conflict("This project collects supports: it has no budget ballots to count.")
    gate = gate_info(session, project.id)
    if not voting_closed(gate.state, gate.now):
        raise Conflict("Voting in this project is still open: results are counted after it closes.")


def count_pot(
    session: Session, pot_id: int, budget: int, ideas: Sequence[BallotIdea], rule: str
) -> PotCount:
    """Read one pot's ballots and run the rules on them (stores nothing)."""
    ordered = sorted(ideas, key=lambda i: i.id)
    column = {idea.id: j for j, idea in enumerate(ordered)}
    ballot_ids = list(
        session.scalars(select(Ballot.id).where(Ballot.pot_id == pot_id).order_by(Ballot.id))
    )
    row = {b: n for n, b in enumerate(ballot_ids)}
    pairs = session.execute(
        select(BallotChoice.ballot_id, BallotChoice.idea_id)
        .join(Ballot, Ballot.id == BallotChoice.ballot_id)
        .where(Ballot.pot_id == pot_id)
    ).all()
    rows = [row[p.ballot_id] for p in pairs if p.idea_id in column]
    cols = [column[p.idea_id] for p in pairs if p.idea_id in column]
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(ballot_ids), len(ordered))
    )
    matrix.sum_duplicates()
    votes = np.asarray((matrix != 0).sum(axis=0)).ravel().astype(np.int64)
    costs = np.asarray([i.cost for i in ordered], dtype=np.int64)
    # only ideas someone chose compete (an idea nobody chose is never funded)
    live = np.flatnonzero(votes > 0)
    greedy_ids: frozenset[int] = frozenset()
    chosen_ids: frozenset[int] = frozenset()
    if live.size:
        sub = matrix[:, live]
        greedy = budgets.greedy(costs[live], sub, budget)
        greedy_ids = frozenset(ordered[int(live[j])].id for j in greedy.selected.tolist())
        if rule == "equal_shares":
            mes = budgets.equal_shares(costs[live], sub, budget, completion="add1-greedy")
            chosen_ids = frozenset(ordered[int(live[j])].id for j in mes.selected.tolist())
        else:
            chosen_ids = greedy_ids
    return PotCount(
        pot_id=pot_id,
        budget=budget,
        idea_ids=tuple(i.id for i in ordered),
        costs=tuple(int(c) for c in costs),
        ballots=matrix,
        votes=tuple(int(v) for v in votes),
        selected=chosen_ids,
        greedy_selected=greedy_ids,
    )


def compute_results(session: Session, project_id: int) -> Results:
    """Count every pot of the project and store the outcome (replacing the previous count).

    ``Conflict`` while voting is open (or for a project that collects supports); flushes.
    """
    project = _project(session, project_id, lock=True)
    _require_closed(session, project)
    by_pot = ballot_ideas(session, project_id)
    now = utcnow()
    session.execute(delete(BudgetResult).where(BudgetResult.project_id == project_id))
    for pot in pots(session, project_id):
        count = count_pot(session, pot.id, pot.amount, by_pot.get(pot.id, []), project.rule)
        session.add_all(
            BudgetResult(
                project_id=project_id,
                pot_id=pot.id,
                idea_id=idea_id,
                votes=votes,
                cost=cost,
                selected=idea_id in count.selected,
                greedy_selected=idea_id in count.greedy_selected,
                computed_at=now,
            )
            for idea_id, votes, cost in zip(count.idea_ids, count.votes, count.costs, strict=True)
        )
    session.flush()
    return read_results(session, project_id)


def read_results(session: Session, project_id: int) -> Results:
    """The stored outcome of a project (published or not: the caller decides who may see it)."""
    project = _project(session, project_id)
    gate = gate_info(session, project_id)
    pot_rows = session.execute(
        select(ProjectPot.id, ProjectPot.district_id, ProjectPot.amount)
        .where(ProjectPot.project_id == project_id)
        .order_by(ProjectPot.district_id.is_not(None), ProjectPot.district_id)
    ).all()
    voters = dict(_voters(session, project_id))
    satisfied = _satisfied(session, project_id, BudgetResult.selected)
    greedy_satisfied = _satisfied(session, project_id, BudgetResult.greedy_selected)
    rows = session.execute(
        select(
            BudgetResult.pot_id,
            BudgetResult.idea_id,
            BudgetResult.votes,
            BudgetResult.cost,
            BudgetResult.selected,
            BudgetResult.greedy_selected,
            BudgetResult.computed_at,
            Idea.title,
            Idea.language,
            Idea.district_id,
            Idea.status,
            IdeaProgress.percent,
        )
        .join(Idea, Idea.id == BudgetResult.idea_id)
        .outerjoin(IdeaProgress, IdeaProgress.idea_id == BudgetResult.idea_id)
        .where(BudgetResult.project_id == project_id)
        .order_by(BudgetResult.votes.desc(), BudgetResult.idea_id)
    ).all()
    computed_at = max((r.computed_at for r in rows), default=None)
    ideas: dict[int, list[IdeaOutcome]] = {p.id: [] for p in pot_rows}
    for r in rows:
        ideas.setdefault(r.pot_id, []).append(
            IdeaOutcome(
                idea_id=r.idea_id,
                title=r.title,
                language=r.language,
                district_id=r.district_id,
                status=r.status,
                cost=int(r.cost),
                votes=int(r.votes),
                selected=bool(r.selected),
                greedy_selected=bool(r.greedy_selected),
                percent=None if r.percent is None else int(r.percent),
            )
        )
    return Results(
        project_id=project.id,
        title_ru=project.title_ru,
        title_en=project.title_en,
        rule=project.rule,
        voting=project.voting,
        published_at=project.results_published_at,
        computed_at=computed_at,
        voting_closed=voting_closed(gate.state, gate.now),
        pots=tuple(
            PotOutcome(
                p.id,
                p.district_id,
                int(p.amount),
                voters.get(p.id, 0),
                tuple(ideas[p.id]),
                satisfied.get(p.id, 0),
                greedy_satisfied.get(p.id, 0),
            )
            for p in pot_rows
        ),
        project_published=project.published,
    )


def _voters(session: Session, project_id: int) -> list[tuple[int, int]]:
    return [
        (r.pot_id, int(r.n))
        for r in session.execute(
            select(Ballot.pot_id, func.count().label("n"))
            .where(Ballot.project_id == project_id)
            .group_by(Ballot.pot_id)
        )
    ]


def _satisfied(session: Session, project_id: int, funded: Any) -> dict[int, int]:
    """Pot id -> how many ballots chose at least one idea that ``funded`` (a column) marks."""
    rows = session.execute(
        select(Ballot.pot_id, func.count(func.distinct(Ballot.id)))
        .join(BallotChoice, BallotChoice.ballot_id == Ballot.id)
        .join(
            BudgetResult,
            (BudgetResult.pot_id == Ballot.pot_id) & (BudgetResult.idea_id == BallotChoice.idea_id),
        )
        .where(Ballot.project_id == project_id, funded.is_(True))
        .group_by(Ballot.pot_id)
    ).all()
    return {int(pot): int(n) for pot, n in rows}


def published_results(session: Session, project_id: int, *, staff: bool = False) -> Results:
    """The results as open data: ``NotFound`` before publication (and for a draft project)
    unless ``staff`` (officials and admins see the preview)."""
    results = read_results(session, project_id)
    if not staff and (not results.project_published or results.published_at is None):
        raise NotFound("The results of this project are not published yet.")
    return results


def page_results(session: Session, project_id: int, *, staff: bool = False) -> Results:
    """The results as the page shows them: before publication a visitor gets the project without
    numbers (the page says they are not published yet); a draft project is not found for them."""
    results = read_results(session, project_id)
    if staff or results.published_at is not None:
        if not results.project_published and not staff:
            raise NotFound("Project not found.")
        return results
    if not results.project_published:
        raise NotFound("Project not found.")
    return replace(results, pots=(), computed_at=None)


def participants(session: Session, project_id: int) -> list[tuple[int, str | None]]:
    """(user id, locale) of everyone who cast a ballot in the project or wrote one of its ideas."""
    ids = union(
        select(Ballot.user_id.label("uid")).where(Ballot.project_id == project_id),
        select(Idea.author_id.label("uid")).where(
            Idea.project_id == project_id, Idea.author_id.is_not(None)
        ),
    ).subquery()
    rows = session.execute(
        select(User.id, User.locale).join(ids, ids.c.uid == User.id).order_by(User.id)
    ).all()
    return [(r.id, r.locale) for r in rows]


def _acceptance_text(project: Project, idea: Idea) -> str:
    if idea.language == "en":
        title = project.title_en or project.title_ru
        return f"The idea won the vote in “{title}” and will be funded from the project's budget."
    return (
        f"Идея победила в голосовании «{project.title_ru}» "
        "и будет профинансирована из бюджета проекта."
    )


def publish_results(
    session: Session, official: CurrentUser, project_id: int, *, email: bool
) -> Publication:
    """Count again and publish; on the first publication notify every participant once.

    Funded ideas still "published" or "under review" become "accepted" through the officials'
    answer (audited, their authors and supporters told); others keep their status. ``Conflict``
    while voting is open. Flushes.
    """
    require_permission(official.role, "answer")
    results = compute_results(session, project_id)  # locks the project row, checks the stage
    project = _project(session, project_id)
    first = project.results_published_at is None
    now = utcnow()
    if first:
        project.results_published_at = now
        project.updated_at = now
    accepted: list[int] = []
    for pot in results.pots:
        for outcome in pot.winners:
            idea = session.get(Idea, outcome.idea_id)
            if idea is None or idea.status not in ACCEPT_FROM:
                continue
            responses.answer(
                session,
                official,
                idea.id,
                "accepted",
                _acceptance_text(project, idea),
                email=email,
            )
            accepted.append(idea.id)
    audit.record(
        session,
        official.id,
        "project.results_publish",
        "project",
        project_id,
        details={
            "first": first,
            "rule": project.rule,
            "funded": sorted(i.idea_id for p in results.pots for i in p.winners),
            "accepted": accepted,
        },
    )
    notified = 0
    if first:
        notified = _notify(session, project, official.id, email=email)
    session.flush()
    return Publication(read_results(session, project_id), first, tuple(accepted), notified)


def _notify(session: Session, project: Project, official_id: int, *, email: bool) -> int:
    """One ``results`` notification to each participant, its title in their language."""
    by_language: dict[str, list[int]] = {"ru": [], "en": []}
    for user_id, locale in participants(session, project.id):
        by_language["en" if locale == "en" and project.title_en else "ru"].append(user_id)
    total = 0
    for language, user_ids in by_language.items():
        data: dict[str, Any] = {
            "project_id": project.id,
            "title": project.title_en if language == "en" else project.title_ru,
        }
        total += notify_users(
            session, user_ids, "results", None, data, email=email, exclude=[official_id]
        )
    return total
