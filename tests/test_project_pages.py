"""Public project pages: the list (open first, drafts hidden), one project with its timeline,
numbers and action, and the home page's "open projects" band (real HTTP, real database)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea, stages_around
from webapp.ideas.home import home_band
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, Project, Vote, utcnow


def _order(html: str) -> list[int]:
    return [
        int(x)
        for x in re.findall(r'<article class="card project-card[^"]*" data-project="(\d+)"', html)
    ]


def test_projects_list_shows_open_ones_first_and_hides_drafts(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    upcoming = make_project(session_factory, current=None, title_ru="Будущий проект")
    voting = make_project(session_factory, current="voting", title_ru="Голосуем за дворы")
    draft = make_project(session_factory, current="proposals", published=False, title_ru="Черновик")
    page = browser.get("/projects")
    assert page.status_code == 200
    order = _order(page.text)
    assert draft not in order
    assert order.index(voting) < order.index(1) < order.index(upcoming)
    assert "Черновик" not in page.text
    assert browser.get(f"/projects/{draft}").status_code == 404


def test_empty_list_explains_itself(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as s:
        s.get(Project, 1).published = False  # type: ignore[union-attr]
    page = browser.get("/projects")
    assert page.status_code == 200 and 'class="empty-state"' in page.text


def test_officials_see_drafts_with_a_badge(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    draft = make_project(session_factory, current="proposals", published=False)
    make_user(session_factory, "official@example.org", role="official")
    with Browser(app) as b:
        b.login("official@example.org")
        page = b.get(f"/projects/{draft}")
    assert page.status_code == 200
    assert 'class="badge badge-draft"' in page.text


def test_timeline_marks_the_current_stage_with_aria_current(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="review")
    html = browser.get(f"/projects/{pid}").text
    timeline = html.split('<ol class="project-timeline">', 1)[1].split("</ol>", 1)[0]
    steps = re.findall(
        r'<li class="timeline-step timeline-(\w+)" data-stage="(\w+)"([^>]*)>', timeline
    )
    assert [s[1] for s in steps] == ["proposals", "review", "voting", "results", "implementation"]
    assert [s[0] for s in steps] == ["done", "now", "later", "later", "later"]
    assert [s[1] for s in steps if 'aria-current="step"' in s[2]] == ["review"]
    # dates in the city's time zone, in Russian
    assert "<time datetime=" in timeline


def test_project_page_action_numbers_and_ideas(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    author = make_user(session_factory, "author@example.org")
    voter = make_user(session_factory, "voter@example.org")
    pid = make_project(session_factory, current="proposals", source_note="Данные: Pabulib")
    low = make_project_idea(session_factory, pid, "Фонтан у пруда", author_id=author.id)
    top = make_project_idea(session_factory, pid, "Скамейки в парке", author_id=author.id)
    other = make_project(session_factory, current="proposals")
    make_project_idea(session_factory, other, "Чужая идея")
    with transaction(session_factory) as s:
        s.add(Vote(user_id=voter.id, idea_id=top, value=1))
        s.get_one(Idea, top).support_count = 1
    html = browser.get(f"/projects/{pid}").text
    assert f'href="/ideas/new?project={pid}"' in html  # proposals open: propose
    assert "Чужая идея" not in html
    assert html.index("Скамейки в парке") < html.index("Фонтан у пруда")  # most supported first
    assert re.search(r'data-number="ideas"><span class="stat-value">2<', html)
    assert re.search(r'data-number="authors"><span class="stat-value">1<', html)
    assert re.search(r'data-number="supporters"><span class="stat-value">1<', html)
    assert f'href="/ideas?project={pid}"' in html
    assert "Данные: Pabulib" in html
    assert low


def test_budget_voting_offers_the_ballot_and_shows_pots(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="voting", voting="knapsack", pots={None: 5_000_000})
    html = browser.get(f"/projects/{pid}").text
    assert f'href="/projects/{pid}/ballot"' in html
    assert 'data-number="ballots"' in html and 'data-number="budget"' in html


def test_home_band_lists_projects_open_now(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as s:
        assert home_band(s).projects == ()
    assert 'data-home-list="projects"' not in browser.get("/").text  # no empty band
    open_now = make_project(session_factory, current="proposals", title_ru="Парки района")
    review = make_project(session_factory, current="review", title_ru="На проверке")
    later = make_project(
        session_factory,
        stages=stages_around(None, utcnow() + timedelta(days=30)),
        title_ru="Позже",
    )
    with transaction(session_factory) as s:
        band = home_band(s)
    ids = [p.id for p in band.projects]
    assert ids == [open_now]
    assert review not in ids and later not in ids
    home = browser.get("/").text
    assert 'data-home-list="projects"' in home and "Парки района" in home
