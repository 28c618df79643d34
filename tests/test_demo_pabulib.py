"""`seed-demo`'s city projects: Wieliczka 2023 rebuilt from its Pabulib file, and a current one.

The file is read here independently of the seeding code's choices (ranking.pabulib's parser is
the one tested against pabutools in tests/ranking/test_budgets.py); what is stored must be exactly
the file: its projects and costs and its budget (in roubles: the złoty times one stated whole
rate), one ballot per VOTES row with that row's choices, and the Method of Equal Shares on the
stored ballots (and the results the campaigns domain counts) must fund the official winners.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ranking.budgets import equal_shares, greedy
from ranking.pabulib import PbElection, parse_pb
from webapp.campaigns.pots import ballot_ideas
from webapp.campaigns.results import published_results
from webapp.demo import demo
from webapp.demo.demo_store import load_places
from webapp.demo.pabulib_project import (
    RUB_PER_PLN,
    WIELICZKA_PATH,
    WIELICZKA_REF,
    YARDS_REF,
    seed_pabulib,
    seed_projects,
)
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    Ballot,
    BallotChoice,
    BudgetResult,
    Category,
    Idea,
    IdeaEvaluation,
    Notification,
    OfficialResponse,
    Project,
    ProjectExpert,
    ProjectPot,
    User,
)
from webapp.projects.projects import gate_info
from webapp.projects.stages import allows

Factory = sessionmaker[Session]


@pytest.fixture(scope="module")
def election() -> PbElection:
    return parse_pb(WIELICZKA_PATH.read_text(encoding="utf-8"))


def _project_id(session: Session, ref: str) -> int:
    project_id = session.scalar(select(Project.id).where(Project.external_ref == ref))
    assert project_id is not None
    return project_id


def _ideas(session: Session, project_id: int) -> dict[str, tuple[int, str, int, bool, str]]:
    """Pabulib project id -> (idea id, title, cost, feasible, department)."""
    rows = session.execute(
        select(
            Idea.id,
            Idea.external_ref,
            Idea.title,
            IdeaEvaluation.cost,
            IdeaEvaluation.feasible,
            IdeaEvaluation.department,
        )
        .join(IdeaEvaluation, IdeaEvaluation.idea_id == Idea.id)
        .where(Idea.project_id == project_id)
    ).all()
    return {
        str(r.external_ref).rsplit(":", 1)[1]: (r.id, r.title, r.cost, r.feasible, r.department)
        for r in rows
    }


def _stored_ballots(session: Session, project_id: int) -> dict[str, frozenset[int]]:
    """Voter e-mail -> the idea ids on that voter's ballot."""
    choices: dict[str, set[int]] = {}
    rows = session.execute(
        select(User.email, BallotChoice.idea_id)
        .select_from(Ballot)
        .join(User, User.id == Ballot.user_id)
        .outerjoin(BallotChoice, BallotChoice.ballot_id == Ballot.id)
        .where(Ballot.project_id == project_id)
    ).all()
    for email, idea_id in rows:
        choices.setdefault(email, set())
        if idea_id is not None:
            choices[email].add(idea_id)
    return {email: frozenset(ideas) for email, ideas in choices.items()}


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(
        int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in (Project, Idea, IdeaEvaluation, Ballot, BallotChoice, User, ProjectPot)
    )


def test_the_project_is_exactly_the_file(session_factory: Factory, election: PbElection) -> None:
    started = time.perf_counter()
    report = seed_pabulib(session_factory)
    elapsed = time.perf_counter() - started
    assert report.created and report.ideas == 64 and report.ballots == 6_586
    assert report.voters_created == 6_586
    assert elapsed < 60, elapsed  # bulk inserts: about a second on SQLite
    with transaction(session_factory) as session:
        project_id = _project_id(session, WIELICZKA_REF)
        project = session.get(Project, project_id)
        assert project is not None
        assert (project.voting, project.rule, project.published) == (
            "approval",
            "equal_shares",
            True,
        )
        for words in ("Pabulib", "https://pabulib.org", "злотых", "arXiv:2012.06539"):
            assert words in project.source_note
        assert "злотых" in project.description_ru
        pots = session.execute(
            select(ProjectPot.district_id, ProjectPot.amount).where(
                ProjectPot.project_id == project_id
            )
        ).all()
        # Amounts in roubles at the stated fixed rate: the file's złoty times RUB_PER_PLN.
        assert RUB_PER_PLN == 20 and f"{RUB_PER_PLN} ₽ за 1 злотый" in project.source_note
        assert [tuple(p) for p in pots] == [(None, 20_000_000)]
        assert election.budget == 1_000_000
        ideas = _ideas(session, project_id)
        want = {
            pid: (name, int(cost) * RUB_PER_PLN)
            for pid, name, cost in zip(
                election.project_ids, election.names, election.costs, strict=True
            )
        }
        assert {pid: (i[1], i[2]) for pid, i in ideas.items()} == want
        assert {(i[3], i[4]) for i in ideas.values()} == {(True, "Gmina Wieliczka")}
        body = session.scalar(select(Idea.body).where(Idea.external_ref == f"{WIELICZKA_REF}:24"))
        assert body is not None and body.endswith("Koszt: 5\u00a0000 zł.")  # the original cost
        placed = session.execute(
            select(Category.slug, Idea.latitude, Idea.district_id)
            .outerjoin(Category, Category.id == Idea.category_id)
            .where(Idea.project_id == project_id)
            .distinct()
        ).all()
        assert [tuple(p) for p in placed] == [("ecology", None, None)]
        languages = session.scalars(
            select(Idea.language).where(Idea.project_id == project_id).distinct()
        ).all()
        assert languages == ["pl"]
        # Idea ids follow the project ids compared as strings (Pabulib's tie-breaking).
        by_id = sorted(ideas, key=lambda pid: ideas[pid][0])
        assert by_id == sorted(election.project_ids)
        # One ballot per VOTES row, by its own demo voter, with exactly that row's choices.
        stored = _stored_ballots(session, project_id)
        assert len(stored) == election.ballots.shape[0] == int(election.meta["num_votes"])
        matrix = election.ballots.tocsr()
        for i in range(matrix.shape[0]):
            email = f"wieliczka-2023-voter-{i + 1:05d}@demo.veche.local"
            row = matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]]
            assert stored[email] == frozenset(ideas[election.project_ids[j]][0] for j in row)
        approvals = Counter(idea for ballot in stored.values() for idea in ballot)
        assert {pid: approvals[i[0]] for pid, i in ideas.items()} == dict(
            zip(election.project_ids, election.votes.tolist(), strict=True)
        )
        voters = session.execute(
            select(User.password_hash, User.role).where(
                User.email.like("wieliczka-2023-voter-%@demo.veche.local")
            )
        ).all()
        assert {tuple(v) for v in voters} == {("!", "citizen")}
        # The vote is over (the real dates of April 2023): the project shows its results.
        gate = gate_info(session, project_id)
        assert (gate.state.phase, gate.state.stage) == ("open", "results")
        voting = gate.state.window("voting")
        assert voting is not None
        assert voting.starts_at == datetime(2023, 4, 2, 22, 0, tzinfo=UTC)  # 3.04 in Warsaw
        assert voting.ends_at == datetime(2023, 4, 21, 22, 0, tzinfo=UTC)  # end of 21.04
        assert not allows(gate.state, "ballot", "approval")
        # Every stored ballot was cast inside the voting window.
        cast = session.execute(
            select(func.min(Ballot.created_at), func.max(Ballot.created_at)).where(
                Ballot.project_id == project_id
            )
        ).one()
        assert voting.starts_at <= cast[0] and cast[1] < voting.ends_at


def test_equal_shares_on_the_stored_ballots_funds_the_official_winners(
    session_factory: Factory, election: PbElection
) -> None:
    seed_pabulib(session_factory)
    with transaction(session_factory) as session:
        project_id = _project_id(session, WIELICZKA_REF)
        ideas = _ideas(session, project_id)
        budget = session.scalar(
            select(ProjectPot.amount).where(ProjectPot.project_id == project_id)
        )
        stored = _stored_ballots(session, project_id)
    assert budget is not None
    # Columns in idea-id order: the default tie-breaking (index order) is then by idea id.
    order = sorted(ideas, key=lambda pid: ideas[pid][0])
    column = {ideas[pid][0]: j for j, pid in enumerate(order)}
    costs = np.array([ideas[pid][2] for pid in order], dtype=np.int64)
    rows = [sorted(column[i] for i in ballot) for ballot in stored.values()]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([j for r in rows for j in r], dtype=np.int64)
    ballots = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.int64), indices, indptr), shape=(len(rows), len(order))
    )
    outcome = equal_shares(costs, ballots, budget, completion="add1-greedy")
    official = {election.project_ids[j] for j in np.flatnonzero(election.selected)}
    assert {order[j] for j in outcome.selected} == official
    assert len(official) == 30 and outcome.total_cost <= budget
    # And the rule matters here: greedy by votes would have funded another set.
    assert {order[j] for j in greedy(costs, ballots, budget).selected} != official


def test_the_results_are_counted_and_published_without_notifying_anyone(
    session_factory: Factory, election: PbElection
) -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    report = seed_pabulib(session_factory, now=now)
    assert report.results and "results counted and published" in report.describe()
    official = {election.project_ids[j] for j in np.flatnonzero(election.selected)}
    with transaction(session_factory) as session:
        project_id = _project_id(session, WIELICZKA_REF)
        refs = {
            idea_id: str(ref).rsplit(":", 1)[1]
            for idea_id, ref in session.execute(
                select(Idea.id, Idea.external_ref).where(Idea.project_id == project_id)
            )
        }
        rows = session.execute(
            select(
                BudgetResult.idea_id,
                BudgetResult.votes,
                BudgetResult.cost,
                BudgetResult.selected,
                BudgetResult.greedy_selected,
            ).where(BudgetResult.project_id == project_id)
        ).all()
        assert len(rows) == 64
        assert {refs[r.idea_id] for r in rows if r.selected} == official
        assert {refs[r.idea_id] for r in rows if r.greedy_selected} != official
        assert {refs[r.idea_id]: r.votes for r in rows} == dict(
            zip(election.project_ids, election.votes.tolist(), strict=True)
        )
        results = published_results(session, project_id)
        # published when the vote closed (the results stage opens then), not at the seeding
        assert results.published_at == datetime(2023, 4, 21, 22, 0, tzinfo=UTC)
        assert results.differs
        (pot,) = results.pots
        assert pot.voters == 6_586 and pot.amount == election.budget * RUB_PER_PLN
        assert pot.spent == int(election.costs[election.selected].sum()) * RUB_PER_PLN
        # No official answered for the city, and the demo voters were told nothing.
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
        assert session.scalar(select(func.count()).select_from(OfficialResponse)) == 0
        statuses = session.scalars(
            select(Idea.status).where(Idea.project_id == project_id).distinct()
        ).all()
        assert statuses == ["published"]


def test_seeding_twice_changes_nothing(session_factory: Factory) -> None:
    first = seed_pabulib(session_factory)
    with transaction(session_factory) as session:
        before = _counts(session)
    started = time.perf_counter()
    again = seed_pabulib(session_factory)
    assert time.perf_counter() - started < 5
    assert first.created and not again.created and again.ballots == 0
    with transaction(session_factory) as session:
        assert _counts(session) == before


def test_seed_demo_adds_both_projects_once_and_reports_them(session_factory: Factory) -> None:
    now = datetime.now(UTC)
    report = demo.seed_demo(session_factory, limit=1, projects=True, now=now)
    text = report.describe()
    assert "Зелёный бюджет Велички" in text and "6,586 ballots" in text
    assert "Как обновить дворы" in text
    with transaction(session_factory) as session:
        yards = _project_id(session, YARDS_REF)
        project = session.get(Project, yards)
        assert project is not None
        assert (project.voting, project.rule, project.published) == (
            "knapsack",
            "equal_shares",
            True,
        )
        # Open for proposals now; the ballot comes later.
        gate = gate_info(session, yards, now=now)
        assert (gate.state.phase, gate.state.stage) == ("open", "proposals")
        assert allows(gate.state, "propose", "knapsack")
        assert not allows(gate.state, "ballot", "knapsack")
        amount = session.scalar(select(ProjectPot.amount).where(ProjectPot.project_id == yards))
        assert amount == 20_000_000
        # The demo official is the project's expert and wrote its evaluations.
        official = session.scalar(select(User.id).where(User.email == "official@demo.veche.local"))
        experts = session.scalars(
            select(ProjectExpert.user_id).where(ProjectExpert.project_id == yards)
        ).all()
        assert experts == [official]
        evaluations = session.execute(
            select(IdeaEvaluation.feasible, IdeaEvaluation.cost, IdeaEvaluation.expert_id)
            .join(Idea, Idea.id == IdeaEvaluation.idea_id)
            .where(Idea.project_id == yards)
        ).all()
        assert {e.expert_id for e in evaluations} == {official}
        assert any(not e.feasible and e.cost is None for e in evaluations)
        feasible = sorted(e.cost for e in evaluations if e.feasible)
        # Only the feasible, costed ideas reach the ballot, in the scope-wide pot.
        on_ballot = [i.cost for pot in ballot_ideas(session, yards).values() for i in pot]
        assert sorted(on_ballot) == feasible and len(feasible) >= 3
        total = session.scalar(select(func.count()).where(Idea.project_id == yards))
        assert total is not None and total > len(evaluations)  # some still wait for review
        placed = session.scalar(
            select(func.count()).where(Idea.project_id == yards, Idea.district_id.is_not(None))
        )
        assert placed
        before = _counts(session)
    again = demo.seed_demo(session_factory, limit=1, projects=True, now=now)
    assert [p.created for p in again.projects] == [False, False]
    assert "already there" in again.describe()
    with transaction(session_factory) as session:
        assert _counts(session) == before


def test_without_projects_seed_demo_adds_none(session_factory: Factory) -> None:
    report = demo.seed_demo(session_factory, limit=1)
    assert report.projects == ()
    with transaction(session_factory) as session:
        refs = session.scalars(select(Project.external_ref)).all()
    assert WIELICZKA_REF not in refs and YARDS_REF not in refs


def test_yards_without_demo_accounts_has_no_author_or_expert(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        places = load_places(session)
    seeded = seed_projects(session_factory, places)
    assert [p.external_ref for p in seeded] == [WIELICZKA_REF, YARDS_REF]
    with transaction(session_factory) as session:
        yards = _project_id(session, YARDS_REF)
        authors = session.scalars(
            select(Idea.author_id).where(Idea.project_id == yards).distinct()
        ).all()
        assert authors == [None]
        assert session.scalar(select(func.count()).where(ProjectExpert.project_id == yards)) == 0
