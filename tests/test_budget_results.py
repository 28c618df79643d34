"""Budget results: the count equals ranking.budgets, equal shares vs greedy, publishing, the page."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from ranking import budgets
from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea
from webapp.campaigns import results as results_service
from webapp.campaigns.pots import pots
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    Ballot,
    BallotChoice,
    BudgetResult,
    District,
    Idea,
    Notification,
    Project,
    User,
)
from webapp.notifications.mailer import Item, Mailer, Outgoing
from webapp.notifications.views.email import EmailTemplates

K = 1_000  # roubles


def voters(factory: sessionmaker[Session], count: int, prefix: str = "voter") -> list[int]:
    """Citizens written directly (they never log in: no password hashing)."""
    with transaction(factory) as session:
        users = [
            User(email=f"{prefix}{n}@example.org", display_name="Ivan", password_hash="x")
            for n in range(count)
        ]
        session.add_all(users)
        session.flush()
        return [u.id for u in users]


def cast(
    factory: sessionmaker[Session], project_id: int, user_id: int, idea_ids: list[int]
) -> None:
    """A ballot in the project's (only or first) pot, written directly."""
    with transaction(factory) as session:
        pot_id = pots(session, project_id)[0].id
        ballot = Ballot(project_id=project_id, pot_id=pot_id, user_id=user_id)
        session.add(ballot)
        session.flush()
        session.add_all(BallotChoice(ballot_id=ballot.id, idea_id=i) for i in idea_ids)


def big_and_small(
    factory: sessionmaker[Session], current: str = "results", **fields: Any
) -> tuple[int, dict[str, int], list[int], list[int]]:
    """60 voters want three park ideas, 40 want one library idea; 1,000,000 ₽ for 400,000 ₽ ideas.

    Greedy funds two park ideas (the big group takes everything); equal shares funds one park
    idea and the library (each group pays from its own shares).
    """
    fields.setdefault("rule", "equal_shares")
    project = make_project(
        factory, current=current, voting="approval", pots={None: 1_000 * K}, **fields
    )
    ideas = {
        name: make_project_idea(factory, project, title, cost=400 * K, feasible=True)
        for name, title in (
            ("park1", "Скамейки в парке"),
            ("park2", "Фонтан в парке"),
            ("park3", "Дорожки в парке"),
            ("library", "Библиотека во дворе"),
        )
    }
    big, small = voters(factory, 60, "big"), voters(factory, 40, "small")
    for uid in big:
        cast(factory, project, uid, [ideas["park1"], ideas["park2"], ideas["park3"]])
    for uid in small:
        cast(factory, project, uid, [ideas["library"]])
    return project, ideas, big, small


def stored(factory: sessionmaker[Session], project_id: int) -> dict[int, tuple[int, bool, bool]]:
    with transaction(factory) as session:
        rows = session.execute(
            select(
                BudgetResult.idea_id,
                BudgetResult.votes,
                BudgetResult.selected,
                BudgetResult.greedy_selected,
            ).where(BudgetResult.project_id == project_id)
        ).all()
        return {r.idea_id: (r.votes, r.selected, r.greedy_selected) for r in rows}


@pytest.fixture
def official(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "official@example.org", role="official", name="Oleg")


def _logged_in(app: Starlette, email: str) -> Browser:
    b = Browser(app)
    b.login(email)
    return b


# --- the count -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["greedy", "equal_shares"])
def test_the_stored_outcome_equals_ranking_budgets_on_the_same_ballots(
    session_factory: sessionmaker[Session], rule: str
) -> None:
    rng = np.random.default_rng(15)
    project = make_project(
        session_factory, current="results", voting="approval", pots={None: 900 * K}, rule=rule
    )
    costs = [int(c) * 10 * K for c in rng.integers(5, 40, size=9)]
    ids = [
        make_project_idea(session_factory, project, f"Идея {n}", cost=c, feasible=True)
        for n, c in enumerate(costs)
    ]
    people = voters(session_factory, 40)
    approvals = rng.random((40, 9)) < rng.uniform(0.05, 0.6, size=9)
    approvals[:, 0] = True  # everyone likes the first idea: ties and a clear winner
    for uid, row in zip(people, approvals, strict=True):
        cast(session_factory, project, uid, [i for i, a in zip(ids, row, strict=True) if a])

    with transaction(session_factory) as session:
        out = results_service.compute_results(session, project)

    matrix = sp.csr_matrix(approvals.astype(np.int8))
    greedy = set(budgets.greedy(costs, matrix, 900 * K).selected.tolist())
    expected = (
        set(
            budgets.equal_shares(costs, matrix, 900 * K, completion="add1-greedy").selected.tolist()
        )
        if rule == "equal_shares"
        else greedy
    )
    rows = stored(session_factory, project)
    assert {ids.index(i) for i, r in rows.items() if r[1]} == expected
    assert {ids.index(i) for i, r in rows.items() if r[2]} == greedy
    assert {i: r[0] for i, r in rows.items()} == {
        i: int(approvals[:, j].sum()) for j, i in enumerate(ids)
    }
    (pot,) = out.pots
    assert pot.voters == 40 and pot.spent <= pot.amount
    assert [i.votes for i in pot.ideas] == sorted((i.votes for i in pot.ideas), reverse=True)


def test_equal_shares_gives_the_small_group_its_idea_where_greedy_gives_all_to_the_big_one(
    session_factory: sessionmaker[Session],
) -> None:
    project, ideas, _, _ = big_and_small(session_factory)
    with transaction(session_factory) as session:
        out = results_service.compute_results(session, project)
    rows = stored(session_factory, project)
    assert {i for i, r in rows.items() if r[1]} == {ideas["park1"], ideas["library"]}
    assert {i for i, r in rows.items() if r[2]} == {ideas["park1"], ideas["park2"]}
    assert [i.idea_id for i in out.gained] == [ideas["library"]]
    assert [i.idea_id for i in out.lost] == [ideas["park2"]]
    # the tie among the three park ideas (60 votes each) goes to the oldest idea
    assert rows[ideas["park1"]] == (60, True, True)
    # everyone got an idea they chose under equal shares; only the big group under greedy
    (pot,) = out.pots
    assert (pot.voters, pot.satisfied, pot.greedy_satisfied) == (100, 100, 60)


def test_a_recount_replaces_the_previous_one_and_ignores_ideas_nobody_chose(
    session_factory: sessionmaker[Session],
) -> None:
    project = make_project(session_factory, current="results", voting="approval", pots={None: K})
    a = make_project_idea(session_factory, project, "Никто не выбрал", cost=100, feasible=True)
    b = make_project_idea(session_factory, project, "Выбрали", cost=100, feasible=True)
    (uid,) = voters(session_factory, 1)
    cast(session_factory, project, uid, [b])
    for _ in range(2):
        with transaction(session_factory) as session:
            results_service.compute_results(session, project)
    rows = stored(session_factory, project)
    assert rows == {a: (0, False, False), b: (1, True, True)}


def test_counting_is_refused_while_voting_is_open(session_factory: sessionmaker[Session]) -> None:
    project = make_project(session_factory, current="voting", voting="approval")
    with pytest.raises(Conflict), transaction(session_factory) as session:
        results_service.compute_results(session, project)
    assert stored(session_factory, project) == {}


# --- publishing ----------------------------------------------------------------------------------


def test_publish_is_refused_during_voting_with_409_and_nothing_changes(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    project, _, _, _ = big_and_small(session_factory, current="voting")
    b = _logged_in(app, "official@example.org")
    response = b.submit(f"/officials/projects/{project}/results/publish")
    assert response.status_code == 409
    assert b.submit(f"/officials/projects/{project}/results").status_code == 409
    with transaction(session_factory) as session:
        assert session.get_one(Project, project).results_published_at is None
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert stored(session_factory, project) == {}


def test_citizens_cannot_count_or_publish(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    project, _, _, _ = big_and_small(session_factory)
    make_user(session_factory, "citizen@example.org")
    b = _logged_in(app, "citizen@example.org")
    assert b.submit(f"/officials/projects/{project}/results").status_code == 403
    assert b.submit(f"/officials/projects/{project}/results/publish").status_code == 403
    assert stored(session_factory, project) == {}


def test_publishing_notifies_each_participant_once_and_accepts_the_funded_ideas(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    author = make_user(session_factory, "author@example.org", name="Vera")
    project, ideas, big, small = big_and_small(session_factory)
    with transaction(session_factory) as session:
        # the author wrote one idea and also voted: still one notification
        session.get_one(Idea, ideas["library"]).author_id = author.id
    cast(session_factory, project, author.id, [ideas["library"]])
    b = _logged_in(app, "official@example.org")
    assert b.submit(f"/officials/projects/{project}/results/publish").status_code == 303
    assert b.submit(f"/officials/projects/{project}/results/publish").status_code == 303

    with transaction(session_factory) as session:
        assert session.get_one(Project, project).results_published_at is not None
        per_user = dict(
            session.execute(
                select(Notification.user_id, func.count())
                .where(Notification.kind == "results")
                .group_by(Notification.user_id)
            ).all()
        )
        statuses = dict(session.execute(select(Idea.id, Idea.status)).all())
        audited = session.scalars(
            select(AuditLog.target_id).where(AuditLog.action == "idea.status")
        ).all()
        published = session.scalars(
            select(AuditLog.target_id).where(AuditLog.action == "project.results_publish")
        ).all()
    assert per_user == {uid: 1 for uid in [*big, *small, author.id]}
    assert statuses[ideas["park1"]] == statuses[ideas["library"]] == "accepted"
    assert statuses[ideas["park2"]] == statuses[ideas["park3"]] == "published"
    assert sorted(i or 0 for i in audited) == sorted(
        [ideas["park1"], ideas["library"]]
    )  # once each
    assert published == [project, project]


def test_the_results_notification_reads_in_the_inbox_and_by_email_in_the_readers_language(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    ru = make_user(session_factory, "ru@example.org", name="Vera")
    en = make_user(session_factory, "en@example.org", name="John")
    with transaction(session_factory) as session:
        session.get_one(User, en.id).locale = "en"
    project, ideas, _, _ = big_and_small(session_factory)
    cast(session_factory, project, ru.id, [ideas["library"]])
    cast(session_factory, project, en.id, [ideas["library"]])
    with transaction(session_factory) as session:
        results_service.publish_results(session, official, project, email=True)
        rows = {
            n.user_id: (n.kind, n.idea_id, dict(n.data), n.email_state)
            for n in session.scalars(select(Notification).where(Notification.kind == "results"))
        }
    assert rows[ru.id][2]["title"] == "Как изменить наши парки?"
    assert rows[en.id][2]["title"] == "How should our parks change?"
    assert rows[ru.id][3] == "pending"

    mailer = Mailer(
        app.state.settings,
        session_factory,
        app.state.translators,
        app.url_path_for,
        templates=EmailTemplates(app.state.jinja),
    )
    for user, lang, words in (
        (ru, "ru", "Опубликованы итоги голосования «Как изменить наши парки?»"),
        (en, "en", "The results of the vote “How should our parks change?” are published"),
    ):
        kind, idea_id, data, _ = rows[user.id]
        msg = mailer.compose(
            Outgoing(
                user.id, user.email, user.display_name, lang, (Item(1, kind, idea_id, data, 0),)
            )
        )
        text = str(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        assert words in text, text
        assert f"/projects/{project}/results" in text
        assert msg["Content-Language"] == lang

    b = _logged_in(app, "ru@example.org")
    page = b.get("/notifications")
    assert "Опубликованы итоги голосования" in page.text
    with transaction(session_factory) as session:
        nid = session.scalar(select(Notification.id).where(Notification.user_id == ru.id))
    opened = b.get(f"/notifications/{nid}/open")
    assert (
        opened.status_code == 303 and opened.headers["location"] == f"/projects/{project}/results"
    )


# --- the page ------------------------------------------------------------------------------------


def test_the_page_is_an_empty_state_before_publication_and_a_preview_for_officials(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    project, _, _, _ = big_and_small(session_factory)
    with transaction(session_factory) as session:
        results_service.compute_results(session, project)
    with Browser(app) as visitor:
        page = visitor.get(f"/projects/{project}/results")
    assert page.status_code == 200
    assert "Итоги ещё не опубликованы" in page.text and "Библиотека во дворе" not in page.text
    b = _logged_in(app, "official@example.org")
    preview = b.get(f"/projects/{project}/results")
    assert "Не опубликовано" in preview.text and "Библиотека во дворе" in preview.text
    assert f'action="/officials/projects/{project}/results/publish"' in preview.text


def test_the_published_page_shows_winners_money_chart_and_what_equal_shares_changed(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    project, _, _, _ = big_and_small(session_factory)
    with transaction(session_factory) as session:
        results_service.publish_results(session, official, project, email=False)
    with Browser(app) as visitor:
        page = visitor.get(f"/projects/{project}/results")
    html = page.text
    assert page.status_code == 200
    assert "Что изменило правило равных долей" in html
    gained = html.split("Профинансировано благодаря равным долям", 1)[1].split("</div>", 1)[0]
    assert "Библиотека во дворе" in gained and "Фонтан в парке" not in gained
    assert '<progress value="800000" max="1000000"' in html
    assert html.count('class="results-dot results-dot-funded"') == 2
    assert '<progress value="100" max="100"' in html and '<progress value="60" max="100"' in html
    assert "<table" in html and 'role="img"' in html
    assert "Не опубликовано" not in html and "/results/publish" not in html


def test_a_greedy_project_has_no_comparison_section(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    project, _, _, _ = big_and_small(session_factory, rule="greedy")
    with transaction(session_factory) as session:
        results_service.publish_results(session, official, project, email=False)
    with Browser(app) as visitor:
        html = visitor.get(f"/projects/{project}/results").text
    assert "Фонтан в парке" in html and 'id="rule-difference"' not in html


def test_a_draft_project_has_no_results_page_for_visitors(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    project = make_project(session_factory, current="results", voting="approval", published=False)
    with Browser(app) as visitor:
        assert visitor.get(f"/projects/{project}/results").status_code == 404
        assert visitor.get("/projects/2147483000/results").status_code == 404


def test_a_project_with_district_budgets_has_one_section_per_district(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    from tests.officials_helpers import district

    first, _ = district(session_factory, index=0)
    second, _ = district(session_factory, index=1)
    project = make_project(
        session_factory,
        current="results",
        voting="approval",
        pots={None: 100 * K, first: 50 * K, second: 50 * K},
    )
    a = make_project_idea(
        session_factory,
        project,
        "Идея первого района",
        cost=40 * K,
        feasible=True,
        district_id=first,
    )
    b = make_project_idea(
        session_factory,
        project,
        "Идея второго района",
        cost=40 * K,
        feasible=True,
        district_id=second,
    )
    c = make_project_idea(session_factory, project, "Идея для всех", cost=90 * K, feasible=True)
    people = voters(session_factory, 3)
    with transaction(session_factory) as session:
        by_district = {p.district_id: p.id for p in pots(session, project)}
        for uid in people:
            for district_id, idea in ((first, a), (second, b), (None, c)):
                ballot = Ballot(project_id=project, pot_id=by_district[district_id], user_id=uid)
                session.add(ballot)
                session.flush()
                session.add(BallotChoice(ballot_id=ballot.id, idea_id=idea))
        out = results_service.publish_results(session, official, project, email=False).results
        names = dict(session.execute(select(District.id, District.name_ru)).all())
    assert [(p.district_id, [i.idea_id for i in p.winners]) for p in out.pots] == [
        (None, [c]),
        (min(first, second), [a if first < second else b]),
        (max(first, second), [b if first < second else a]),
    ]
    with Browser(app) as visitor:
        html = visitor.get(f"/projects/{project}/results").text
    sections = html.split('<section class="results-pot"')[1:]
    assert len(sections) == 3
    assert "Весь проект" in sections[0] and "Идея для всех" in sections[0]
    assert names[min(first, second)] in sections[1] and names[max(first, second)] in sections[2]
    assert "Идея первого района" in sections[1 if first < second else 2]
