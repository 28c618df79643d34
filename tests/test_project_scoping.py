"""Lists, search, the ranking schemes, similar-idea suggestions and the duplicate queue work
within a project: /ideas?project=, the JSON API's project_id, the ranked snapshot's filter, the
suggestions of the idea form, pairs and groups of one project only, no merge across projects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea
from tests.similar_support import TARGET, TYPED, category_id, settle, similar_app
from tests.similarity_helpers import BIKE, BIKE_COPY, OTHER, TREES, TREES_COPY, add_idea
from webapp.dedup import merges
from webapp.dedup.duplicate_queue import queue_page
from webapp.dedup.embedder import embedder_lock
from webapp.ideas.project_scope import proposable_projects
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import PERMANENT_PROJECT_ID, Idea, IdeaMerge
from webapp.ranking import ranking_log

API = "/api/v1"
PARK = "Каток в парке зимой"
POOL = "Каток во дворе школы"


def ids_on(page: str, ids: list[int]) -> list[int]:
    return [i for i in ids if f'href="/ideas/{i}"' in page]


@pytest.fixture
def two(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """A project in its voting stage with one idea, and an idea of the permanent pool."""
    project_id = make_project(session_factory, current="voting", title_ru="Зимние парки")
    park = make_project_idea(session_factory, project_id, PARK)
    pool = make_project_idea(session_factory, PERMANENT_PROJECT_ID, POOL)
    with transaction(session_factory) as s:  # as the site would: the ranking log knows them
        ranking_log.idea_changed(s, park)
        ranking_log.idea_changed(s, pool)
    return {"project": project_id, "park": park, "pool": pool}


# --- lists and search --------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["supporters", "new", "top", "trending"])
def test_the_list_filters_by_project_in_sql_and_in_the_ranking(
    browser: Browser, two: dict[str, int], sort: str
) -> None:
    ideas = [two["park"], two["pool"]]
    everything = browser.get(f"/?sort={sort}")
    assert ids_on(everything.text, ideas) == ideas
    only = browser.get(f"/ideas?sort={sort}&project={two['project']}")
    assert only.status_code == 200
    assert ids_on(only.text, ideas) == [two["park"]]
    pooled = browser.get(f"/?sort={sort}&project={PERMANENT_PROJECT_ID}")
    assert ids_on(pooled.text, ideas) == [two["pool"]]


def test_a_new_idea_joins_its_projects_ranked_list(
    browser: Browser, two: dict[str, int], session_factory: sessionmaker[Session]
) -> None:
    """The snapshot grows by the poll (no rebuild) and knows the new idea's project."""
    browser.get("/?sort=top")  # the snapshot is built
    later = make_project_idea(session_factory, two["project"], "Горка для санок в парке")
    with transaction(session_factory) as s:
        ranking_log.idea_changed(s, later)
    page = browser.get(f"/?sort=top&project={two['project']}")
    assert ids_on(page.text, [two["park"], two["pool"], later]) == [two["park"], later]


def test_search_respects_the_project(browser: Browser, two: dict[str, int]) -> None:
    ideas = [two["park"], two["pool"]]
    both = browser.get("/?q=каток")
    assert ids_on(both.text, ideas) == ideas
    for sort in ("relevance", "top"):
        one = browser.get(f"/?q=каток&sort={sort}&project={two['project']}")
        assert ids_on(one.text, ideas) == [two["park"]]


def test_cards_and_the_filter_name_the_project(browser: Browser, two: dict[str, int]) -> None:
    page = browser.get("/")
    assert 'name="project"' in page.text and "Зимние парки" in page.text
    assert f'data-idea-project="{two["project"]}"' in page.text
    assert f'<a href="/projects/{two["project"]}">Зимние парки</a>' in page.text
    assert page.text.count("data-idea-project=") == 1  # none for the permanent pool


def test_the_api_lists_filter_by_project_and_return_it(
    browser: Browser, two: dict[str, int]
) -> None:
    for path in ("/ideas", "/ideas?sort=top", "/search?q=каток"):
        sep = "&" if "?" in path else "?"
        listed = browser.get(f"{API}{path}{sep}project_id={two['project']}")
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [i["id"] for i in items] == [two["park"]]
        assert items[0]["project_id"] == two["project"]
    everything = browser.get(f"{API}/ideas").json()["items"]
    assert {i["id"]: i["project_id"] for i in everything} == {
        two["park"]: two["project"],
        two["pool"]: PERMANENT_PROJECT_ID,
    }
    one = browser.get(f"{API}/ideas/{two['park']}").json()
    assert one["project_id"] == two["project"]
    bad = browser.get(f"{API}/ideas?project_id=abc")
    assert bad.status_code == 422


def test_only_projects_open_for_proposals_are_offered(
    session_factory: sessionmaker[Session],
) -> None:
    open_id = make_project(session_factory, current="proposals")
    make_project(session_factory, current="review")
    make_project(session_factory, current="proposals", stage_override="closed")
    make_project(session_factory, current="review", stage_override="proposals")  # reopened
    with transaction(session_factory) as s:
        offered = [p.id for p in proposable_projects(s)]
    assert offered[0] == PERMANENT_PROJECT_ID
    assert open_id in offered and len(offered) == 3


# --- similar ideas and the duplicate queue -----------------------------------------------------


@pytest.fixture
def sim_app(settings: Settings) -> Iterator[Starlette]:
    application = similar_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def site(sim_app: Starlette) -> Iterator[Browser]:
    with Browser(sim_app) as b:
        yield b


@pytest.fixture
def factory(sim_app: Starlette) -> sessionmaker[Session]:
    session_factory: sessionmaker[Session] = sim_app.state.session_factory
    return session_factory


@pytest.fixture
def author(factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(factory, "author@example.org", name="Anna Petrova")


def move(factory: Any, idea_id: int, project_id: int) -> None:
    with transaction(factory) as s:
        s.execute(update(Idea).where(Idea.id == idea_id).values(project_id=project_id))


def settled(app: Any) -> None:
    settle(app)
    with embedder_lock(app.state.session_factory, app.state.settings, wait=60.0) as got:
        assert got


def test_suggestions_while_typing_come_from_the_chosen_project(
    sim_app: Starlette, site: Browser, factory: sessionmaker[Session], author: CurrentUser
) -> None:
    project_id = make_project(factory, current="proposals")
    target = add_idea(factory, author, *TARGET)
    move(factory, target, project_id)
    settled(sim_app)
    query = {"title": TYPED[0], "description": TYPED[1]}
    inside = site.get("/ideas/similar", params={**query, "project": project_id})
    assert f'data-similar-id="{target}"' in inside.text
    pool = site.get("/ideas/similar", params={**query, "project": PERMANENT_PROJECT_ID})
    assert f'data-similar-id="{target}"' not in pool.text
    default = site.get("/ideas/similar", params=query)  # the form's default: the permanent pool
    assert f'data-similar-id="{target}"' not in default.text
    # the API: every project unless one is named
    api = f"{API}/ideas/similar"
    assert target in [i["id"] for i in site.get(api, params=query).json()["items"]]
    scoped = site.get(api, params={**query, "project_id": PERMANENT_PROJECT_ID}).json()
    assert target not in [i["id"] for i in scoped["items"]]
    # publishing into the permanent pool is not stopped by the other project's idea
    site.login(author.email)
    published = site.submit(
        "/ideas/new",
        {
            "title": TYPED[0],
            "body": TYPED[1],
            "category_id": str(category_id(factory)),
            "project_id": "1",
        },
    )
    assert published.status_code == 303, published.text[:300]
    checked = site.submit(
        "/ideas/new",
        {
            "title": TYPED[0] + " снова",
            "body": TYPED[1],
            "category_id": str(category_id(factory)),
            "project_id": str(project_id),
        },
    )
    assert checked.status_code == 200
    assert f'data-similar-id="{target}"' in checked.text  # the check step, in its project


def test_pairs_and_groups_stay_within_one_project(
    sim_app: Starlette, site: Browser, factory: sessionmaker[Session], author: CurrentUser
) -> None:
    project_id = make_project(factory, current="proposals", title_ru="Велосипедный город")
    # the bike copies are in two projects, the tree copies both in the project; each idea is in
    # its project from its first commit, so the embedder never groups them before they move
    bike = add_idea(factory, author, *BIKE)
    bike2 = add_idea(factory, author, *BIKE_COPY, project_id=project_id)
    trees = add_idea(factory, author, *TREES, project_id=project_id)
    trees2 = add_idea(factory, author, *TREES_COPY, project_id=project_id)
    for other in OTHER:
        add_idea(factory, author, *other)
    settled(sim_app)
    with transaction(factory) as s:
        page, _ = queue_page(s, limit=50)
        groups = {frozenset(m.idea.id for m in g.members) for g in page}
        in_project, _ = queue_page(s, limit=50, project_id=project_id)
        in_pool, total_pool = queue_page(s, limit=50, project_id=PERMANENT_PROJECT_ID)
    assert groups == {frozenset({trees, trees2})}  # never the bike copies across projects
    assert [frozenset(m.idea.id for m in g.members) for g in in_project] == [
        frozenset({trees, trees2})
    ]
    assert in_pool == [] and total_pool == 0
    moderator = make_user(factory, "moderator@example.org", role="moderator")
    site.login(moderator.email)
    listed = site.get(f"/moderation/duplicates?project={project_id}")
    assert listed.status_code == 200 and f"/ideas/{trees2}" in listed.text
    assert 'name="project"' in listed.text and "Велосипедный город" in listed.text
    empty = site.get(f"/moderation/duplicates?project={PERMANENT_PROJECT_ID}")
    assert f"/ideas/{trees2}" not in empty.text

    # merging across projects is refused, by the service and from the idea page
    with pytest.raises(Conflict) as refused, transaction(factory) as s:
        merges.merge(s, moderator, bike, [bike2], reason="Одно и то же")
    assert refused.value.status == 409 and "project" in refused.value.message
    answer = site.submit(
        f"/moderation/ideas/{bike2}/merge", {"target_id": str(bike), "reason": "Одно и то же"}
    )
    assert answer.status_code == 303
    shown = site.get(answer.headers["location"])
    assert "разных проектов" in shown.text
    with transaction(factory) as s:
        assert s.scalar(select(Idea.status).where(Idea.id == bike2)) == "published"
        assert s.scalar(select(IdeaMerge.id)) is None
