"""A budget project's page (approval or knapsack): its ideas show the experts' cost, not
supporters, cheapest first; once the results are published, their votes and a "gets the money"
badge, most votes first, and the action reads "See the results". Long sums of money stay whole
on the stat tiles, a zero authors tile is hidden (imported projects), the footer credits Pabulib,
and the seeded Wieliczka budget is published on the day its vote closed (real HTTP and database).
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea
from tests.test_budget_results import big_and_small
from webapp.campaigns import results as results_service
from webapp.demo.pabulib_project import WIELICZKA_REF, seed_pabulib
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Project, ProjectStage


def _cards(html: str) -> list[tuple[int, str]]:
    """(idea id, card HTML) of every budget idea card, in page order."""
    return [
        (int(m.group(1)), m.group(2))
        for m in re.finditer(
            r'<article class="idea-card budget-idea[^"]*" data-idea="(\d+)">(.*?)</article>',
            html,
            re.S,
        )
    ]


def test_a_budget_vote_lists_its_ideas_by_cost_with_no_supporters(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="voting", voting="knapsack")
    dear = make_project_idea(session_factory, pid, "Фонтан у пруда", cost=9_000_000, feasible=True)
    cheap = make_project_idea(session_factory, pid, "Скамейки в парке", cost=250_000, feasible=True)
    no = make_project_idea(session_factory, pid, "Мост через реку", feasible=False)
    new = make_project_idea(session_factory, pid, "Урны у входа")
    html = browser.get(f"/projects/{pid}").text
    cards = _cards(html)
    assert [i for i, _ in cards] == [cheap, dear, new, no]  # no cost: newest first, at the end
    by_id = dict(cards)
    assert "250\u00a0000 ₽" in by_id[cheap] or "250 000 ₽" in by_id[cheap]
    assert "Нереализуемо" in by_id[no]
    assert "Стоимость ещё не оценена" in by_id[new]
    assert "сторонник" not in " ".join(by_id.values())  # supporters are not how it votes
    assert "Получит деньги" not in html  # no results yet
    assert f'href="/projects/{pid}/ballot"' in html


def test_published_results_order_ideas_by_votes_and_mark_the_funded(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    official = make_user(session_factory, "official@example.org", role="official")
    project, ideas, _, _ = big_and_small(session_factory)
    with transaction(session_factory) as session:
        funded = {
            o.idea_id
            for p in results_service.publish_results(
                session, official, project, email=False
            ).results.pots
            for o in p.winners
        }
    assert funded == {ideas["park1"], ideas["library"]}  # equal shares
    html = browser.get(f"/projects/{project}").text
    cards = _cards(html)
    order = [i for i, _ in cards]
    parks = {ideas["park1"], ideas["park2"], ideas["park3"]}
    assert set(order[:3]) == parks and order[3] == ideas["library"]  # 60 votes, then 40
    assert order[0] == ideas["park1"]  # among equals, the funded one first
    for idea_id, card in cards:
        assert ("Получит деньги" in card) == (idea_id in funded), card
        votes = 40 if idea_id == ideas["library"] else 60
        assert f"{votes} голос" in card
    action = html.split('<p class="project-action">', 1)[1].split("</p>", 1)[0]
    assert f'href="/projects/{project}/results"' in action
    assert "Посмотреть итоги" in action


def test_a_long_sum_stays_whole_and_a_zero_authors_tile_is_hidden(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    author = make_user(session_factory, "author@example.org")
    imported = make_project(
        session_factory, current="voting", voting="approval", pots={None: 20_000_000}
    )
    make_project_idea(session_factory, imported, "Скамейки в парке", cost=1_000, feasible=True)
    html = browser.get(f"/projects/{imported}").text
    tile = re.search(r'<li class="stat([^"]*)" data-number="budget">(.*?)</li>', html, re.S)
    assert tile is not None and "stat-long" in tile.group(1)
    value = re.search(r'<span class="stat-value([^"]*)">([^<]*)</span>', tile.group(2))
    assert value is not None and "stat-value-long" in value.group(1)
    assert value.group(2).replace("\u00a0", " ") == "20 000 000 ₽"
    assert 'data-number="authors"' not in html  # nobody here wrote an idea on the site
    small = make_project(session_factory, current="voting", voting="approval", pots={None: 5_000})
    make_project_idea(
        session_factory, small, "Урны", cost=1_000, feasible=True, author_id=author.id
    )
    html = browser.get(f"/projects/{small}").text
    assert re.search(r'data-number="authors"><span class="stat-value">1<', html)
    assert re.search(r'data-number="budget"><span class="stat-value">5\s000 ₽<', html)


def test_the_footer_credits_pabulib(browser: Browser) -> None:
    assert "Pabulib (Величка, 2023)" in browser.get("/").text
    english = browser.get("/", headers={"Accept-Language": "en"}).text
    assert "Pabulib (Wieliczka, 2023)" in english


def test_the_wieliczka_results_are_dated_the_day_its_vote_closed(
    session_factory: sessionmaker[Session],
) -> None:
    seed_pabulib(session_factory)
    with transaction(session_factory) as session:
        project = session.scalars(
            select(Project).where(Project.external_ref == WIELICZKA_REF)
        ).one()
        opened = session.scalar(
            select(ProjectStage.starts_at).where(
                ProjectStage.project_id == project.id, ProjectStage.stage == "results"
            )
        )
        assert opened is not None and project.results_published_at == opened
        assert (opened.year, opened.month) == (2023, 4)
