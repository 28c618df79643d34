"""Projects across the platform: the officials' dashboard, its CSV and API filtered by project;
the duplicate queue keeping its project filter after a merge or a dismiss; the project page's
ballots per pot (counts only) and the experts' progress during the review; the API's boolean
and ids body fields."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.officials_helpers import logged_in
from tests.project_helpers import make_project, make_project_idea
from tests.similar_support import settle, similar_app
from tests.similarity_helpers import BIKE, BIKE_COPY, OTHER, TREES, TREES_COPY, add_idea
from tests.test_api import bearer
from webapp.app import create_app
from webapp.campaigns import ballots, pots
from webapp.dedup.duplicate_queue import queue_page
from webapp.dedup.embedder import embedder_lock
from webapp.kernel.errors import InvalidInput
from webapp.kernel.openapi import Field, parse_body
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    PERMANENT_PROJECT_ID,
    District,
    DuplicateGroup,
    Idea,
    Project,
    User,
)
from webapp.ranking import ranking_log

PARK = "Каток в парке зимой"
POOL = "Каток во дворе школы"


def _query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


# --- 1. the officials' dashboard ----------------------------------------------------------------


@pytest.fixture
def small_pages(settings: Settings) -> Iterator[Starlette]:
    """The site with one idea per page, so that the dashboard paginates two ideas."""
    application = create_app(dataclasses.replace(settings, page_size=1))
    yield application
    application.state.engine.dispose()


def _two_projects(factory: sessionmaker[Session]) -> dict[str, int]:
    project = make_project(factory, current="proposals", title_ru="Зимние парки")
    ids = {
        "project": project,
        "park": make_project_idea(factory, project, PARK),
        "park2": make_project_idea(factory, project, PARK + " и в сквере"),
        "pool": make_project_idea(factory, PERMANENT_PROJECT_ID, POOL),
    }
    with transaction(factory) as s:  # as the site would: the ranking log knows them
        for key in ("park", "park2", "pool"):
            ranking_log.idea_changed(s, ids[key])
    return ids


def _listed(html: str, ids: dict[str, int]) -> set[str]:
    return {k for k in ("park", "park2", "pool") if f'/officials/ideas/{ids[k]}"' in html}


def test_the_dashboard_its_pages_csv_and_api_filter_by_project(
    small_pages: Starlette,
) -> None:
    factory = small_pages.state.session_factory
    ids = _two_projects(factory)
    official = logged_in(small_pages, factory, "official")
    try:
        every = official.get("/officials")
        assert every.status_code == 200
        assert 'name="project"' in every.text and "Зимние парки" in every.text
        assert "Идеи для города" in every.text or f'value="{PERMANENT_PROJECT_ID}"' in every.text

        page1 = official.get(f"/officials?project={ids['project']}&scheme=new")
        assert page1.status_code == 200
        assert f'<option value="{ids["project"]}" selected>' in page1.text
        assert _listed(page1.text, ids) <= {"park", "park2"} and len(_listed(page1.text, ids)) == 1
        # the next page keeps the project (and the order)
        nxt = page1.text.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        assert _query(nxt)["project"] == [str(ids["project"])] and _query(nxt)["page"] == ["2"]
        page2 = official.get(nxt)
        assert _listed(page2.text, ids) | _listed(page1.text, ids) == {"park", "park2"}
        assert 'rel="next"' not in page2.text  # two ideas in the project, one a page

        pool = official.get(f"/officials?project={PERMANENT_PROJECT_ID}")
        assert _listed(pool.text, ids) == {"pool"} and 'rel="next"' not in pool.text
        # a period goes through SQL rather than the snapshot: the filter holds there too
        assert _listed(
            official.get(f"/officials?project={PERMANENT_PROJECT_ID}&period=7").text, ids
        ) == {"pool"}
        assert official.get("/officials?project=999999").text.count("/officials/ideas/") == 0
        assert official.get("/officials?project=abc").status_code == 200  # ignored, not a 500
        assert official.get(f"/officials/overdue?project={ids['project']}").status_code == 200

        # the CSV link carries the filter, and the file holds only the project's ideas
        csv_link = page1.text.split('" download>', 1)[0].rsplit('href="', 1)[1]
        assert f"project={ids['project']}" in csv_link.replace("&amp;", "&")
        sheet = official.get(f"/officials/shortlist.csv?project={ids['project']}")
        assert sheet.status_code == 200
        rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig")), delimiter=";"))
        assert sorted(int(r[1]) for r in rows[1:]) == sorted([ids["park"], ids["park2"]])
    finally:
        official.__exit__(None, None, None)

    with Browser(small_pages) as client:
        token = bearer(client, "official@example.org")
        api = client.get(
            f"/api/v1/officials/shortlist?project_id={PERMANENT_PROJECT_ID}", headers=token
        )
        assert api.status_code == 200, api.text
        assert [r["id"] for r in api.json()["items"]] == [ids["pool"]]
        bad = client.get("/api/v1/officials/shortlist?project_id=0", headers=token)
        assert bad.status_code == 422


# --- 2. the duplicate queue -------------------------------------------------------------------


@pytest.fixture
def sim_app(settings: Settings) -> Iterator[Starlette]:
    application = similar_app(settings)
    yield application
    application.state.engine.dispose()


def test_merge_and_dismiss_go_back_to_the_same_project_and_page(sim_app: Starlette) -> None:
    factory = sim_app.state.session_factory
    with Browser(sim_app) as site:  # started: the model loads and the embedder runs
        author = make_user(factory, "author@example.org", name="Anna Petrova")
        project = make_project(factory, current="proposals", title_ru="Велосипедный город")
        bike, bike2 = add_idea(factory, author, *BIKE), add_idea(factory, author, *BIKE_COPY)
        trees, trees2 = add_idea(factory, author, *TREES), add_idea(factory, author, *TREES_COPY)
        for other in OTHER:
            add_idea(factory, author, *other)
        with transaction(factory) as s:
            s.execute(
                update(Idea)
                .where(Idea.id.in_([bike, bike2, trees, trees2]))
                .values(project_id=project)
            )
        settle(sim_app)
        with embedder_lock(factory, sim_app.state.settings, wait=60.0) as got:
            assert got
        with transaction(factory) as s:
            page, _ = queue_page(s, limit=50, project_id=project)
        groups = {frozenset(m.idea.id for m in g.members): g.id for g in page}
        bikes, trees_group = groups[frozenset({bike, bike2})], groups[frozenset({trees, trees2})]

        moderator = make_user(factory, "moderator@example.org", role="moderator")
        site.login(moderator.email)
        listed = site.get(f"/moderation/duplicates?project={project}")
        assert listed.status_code == 200
        assert f'name="project" value="{project}"' in listed.text  # in the action forms

        # a refused action shows the queue again in the same project, nothing changed
        refused = site.submit(
            f"/moderation/duplicates/{trees_group}/dismiss",
            {"page": "1", "project": str(project), "reason": ""},
        )
        assert refused.status_code == 422, refused.text[:300]
        assert f'<option value="{project}" selected>' in refused.text
        with transaction(factory) as s:
            assert s.get(DuplicateGroup, trees_group) is not None

        dismissed = site.submit(
            f"/moderation/duplicates/{trees_group}/dismiss",
            {"page": "1", "project": str(project), "reason": "Разные просьбы жителей"},
        )
        assert dismissed.status_code == 303, dismissed.text[:300]
        assert _query(dismissed.headers["location"]) == {
            "page": ["1"],
            "project": [str(project)],
        }
        merged = site.submit(
            f"/moderation/duplicates/{bikes}/merge",
            {
                "page": "1",
                "project": str(project),
                "canonical": str(bike),
                f"merge-{bike2}": "1",
                "reason": "Одна и та же велодорожка",
            },
        )
        assert merged.status_code == 303, merged.text[:300]
        back = _query(merged.headers["location"])
        assert back["project"] == [str(project)] and back["page"] == ["1"] and back["merged"]
        shown = site.get(merged.headers["location"])
        assert shown.status_code == 200
        assert f'<option value="{project}" selected>' in shown.text
        with transaction(factory) as s:
            assert s.scalar(select(Idea.status).where(Idea.id == bike2)) == "merged"


# --- 3. the project page -------------------------------------------------------------------------


def _district(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as s:
        return int(
            s.scalars(
                select(District.id).where(District.parent_id.is_not(None)).order_by(District.id)
            ).first()
            or 0
        )


def _budget_project(
    factory: sessionmaker[Session], current: str
) -> tuple[int, int, dict[str, int]]:
    district = _district(factory)
    project = make_project(
        factory,
        current=current,
        voting="approval",
        pots={None: 1_000_000, district: 500_000},
        slug=f"budget-{current}",
    )
    make_project_idea(factory, project, "Скамейки у пруда", feasible=True, cost=400_000)
    make_project_idea(
        factory, project, "Детская площадка", feasible=True, cost=200_000, district_id=district
    )
    with transaction(factory) as s:
        by_pot = {
            "city" if p.district_id is None else "district": p.id for p in pots.pots(s, project)
        }
    return project, district, by_pot


def _vote(
    factory: sessionmaker[Session], email: str, district: int | None, project: int, pot: int
) -> None:
    """A resident (living in ``district``) casts a ballot of one idea in ``pot``."""
    user = make_user(factory, email)
    with transaction(factory) as s:
        s.execute(update(User).where(User.id == user.id).values(district_id=district))
    with transaction(factory) as s:
        idea = pots.ballot_ideas(s, project)[pot][0].id
        ballots.cast(s, user, project, pot, [idea])


def _pot_line(html: str, pot: int) -> str:
    return html.split(f'data-pot="{pot}"', 1)[1].split("</li>", 1)[0]


def test_ballots_per_pot_are_shown_to_everyone_during_and_after_the_vote(
    app: Starlette, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    project, district, by_pot = _budget_project(session_factory, "voting")
    before = browser.get(f"/projects/{project}")
    assert before.status_code == 200
    assert "0 бюллетеней" in _pot_line(before.text, by_pot["city"])
    _vote(session_factory, "anna@example.org", None, project, by_pot["city"])
    _vote(session_factory, "boris@example.org", district, project, by_pot["city"])
    _vote(session_factory, "clara@example.org", district, project, by_pot["district"])

    during = browser.get(f"/projects/{project}")  # anonymous
    assert "2 бюллетеня" in _pot_line(during.text, by_pot["city"])
    assert "1 бюллетень" in _pot_line(during.text, by_pot["district"])
    assert "кто что выбрал — тайна" in during.text
    assert "Скамейки у пруда" not in _pot_line(during.text, by_pot["city"])  # counts only

    with transaction(session_factory) as s:  # the vote is over: the results are being prepared
        s.execute(update(Project).where(Project.id == project).values(stage_override="results"))
    after = browser.get(f"/projects/{project}")
    assert "2 бюллетеня" in _pot_line(after.text, by_pot["city"])
    with Browser(app, headers={"accept-language": "en"}) as english:
        shown = english.get(f"/projects/{project}")
        assert "2 ballots" in _pot_line(shown.text, by_pot["city"])
        assert "1 ballot<" in _pot_line(shown.text, by_pot["district"])


def test_no_ballot_counts_before_the_vote_and_the_review_shows_the_experts_progress(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    project, _district_id, by_pot = _budget_project(session_factory, "review")
    make_project_idea(session_factory, project, "Фонтан без оценки")
    hidden = make_project_idea(session_factory, project, "Скрытая", feasible=False)
    with transaction(session_factory) as s:
        s.execute(update(Idea).where(Idea.id == hidden).values(status="hidden"))
    page = browser.get(f"/projects/{project}")
    assert page.status_code == 200
    assert "Оценено экспертами: 2 из 3" in page.text  # the hidden idea counts in neither
    assert "pot-ballots" not in page.text and "бюллетен" not in _pot_line(page.text, by_pot["city"])

    proposals, _d, _p = _budget_project(session_factory, "proposals")
    assert "Оценено экспертами" not in browser.get(f"/projects/{proposals}").text
    supports = make_project(session_factory, current="voting")
    assert "pot-ballots" not in browser.get(f"/projects/{supports}").text


# --- 5. boolean and ids body fields ---------------------------------------------------------------

FIELDS = (
    Field("flag", "boolean", "A flag.", required=False, nullable=True),
    Field("ids", "ids", "Some ids.", required=False, nullable=True, max_items=3),
)


@pytest.mark.parametrize(
    ("sent", "flag"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("No", False),
        (" TRUE ", True),
        ("false", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        (None, None),
    ],
)
def test_a_boolean_field_takes_json_booleans_and_form_words(
    settings: Settings, sent: Any, flag: bool | None
) -> None:
    body = json.dumps({"flag": sent}).encode()
    assert parse_body(FIELDS, "application/json", body, settings)["flag"] is flag


@pytest.mark.parametrize("sent", ["maybe", "", 2, -1, 1.0, [], {}, "да"])
def test_a_boolean_field_refuses_anything_else(settings: Settings, sent: Any) -> None:
    body = json.dumps({"flag": sent}).encode()
    with pytest.raises(InvalidInput) as refused:
        parse_body(FIELDS, "application/json", body, settings)
    assert set(refused.value.errors) == {"flag"}


@pytest.mark.parametrize(
    ("sent", "ids"),
    [
        ([12, 15, 17], [12, 15, 17]),
        ([], []),
        ("12,15,17", [12, 15, 17]),
        (" 12 , 15,17 ", [12, 15, 17]),
        ("", []),
        ([2147483647], [2147483647]),
    ],
)
def test_an_ids_field_takes_an_array_or_a_comma_separated_string(
    settings: Settings, sent: Any, ids: list[int]
) -> None:
    body = json.dumps({"ids": sent}).encode()
    assert parse_body(FIELDS, "application/json", body, settings)["ids"] == ids


@pytest.mark.parametrize(
    "sent",
    [
        [1, 2, 3, 4],  # more than max_items
        "1,2,3,4",
        [0],
        [-5],
        [2147483648],
        [True],
        ["12"],
        [1.5],
        "1,abc",
        "12,",
        "1;2",
        12,
        {"a": 1},
        "9" * 11,
    ],
)
def test_an_ids_field_refuses_anything_else(settings: Settings, sent: Any) -> None:
    body = json.dumps({"ids": sent}).encode()
    with pytest.raises(InvalidInput) as refused:
        parse_body(FIELDS, "application/json", body, settings)
    assert set(refused.value.errors) == {"ids"}


def test_the_openapi_document_describes_both_types(browser: Browser) -> None:
    doc = browser.get("/api/v1/openapi.json").json()
    paths = doc["paths"]

    def body(path: str, method: str) -> dict[str, Any]:
        content = paths[path][method]["requestBody"]["content"]["application/json"]
        props: dict[str, Any] = content["schema"]["properties"]
        return props

    feasible = body("/projects/{project_id}/ideas/{idea_id}/evaluation", "put")["feasible"]
    kinds = [s.get("type") for s in feasible["anyOf"]]
    assert kinds == ["boolean", "string", "integer"]
    assert set(feasible["anyOf"][1]["enum"]) == {"yes", "no", "true", "false", "1", "0"}
    ideas = body("/projects/{project_id}/ballot", "put")["ideas"]
    array, text, null = ideas["anyOf"]
    assert array["type"] == "array" and array["maxItems"] == 1000
    assert array["items"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert text["type"] == "string" and null == {"type": "null"}
    published = body("/projects", "post")["published"]
    assert published["anyOf"][0] == {"type": "boolean"} and {"type": "null"} in published["anyOf"]


def test_the_campaign_api_takes_booleans_and_id_arrays(
    app: Starlette, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    expert = make_user(session_factory, "expert@example.org", name="Egor")
    review = make_project(
        session_factory, current="review", voting="approval", experts=(expert.id,)
    )
    bench = make_project_idea(session_factory, review, "Скамейки у пруда")
    pond = make_project_idea(session_factory, review, "Новый пруд")
    token = bearer(browser, "expert@example.org")
    url = f"/api/v1/projects/{review}/ideas/{{}}/evaluation"
    yes = browser.put(url.format(bench), json={"feasible": True, "cost": 400_000}, headers=token)
    assert yes.status_code == 200, yes.text
    assert yes.json()["feasible"] is True and yes.json()["cost"] == 400_000
    no = browser.put(
        url.format(pond), json={"feasible": "NO", "reason": "Нет места."}, headers=token
    )
    assert no.status_code == 200 and no.json()["feasible"] is False
    bad = browser.put(url.format(pond), json={"feasible": "maybe"}, headers=token)
    assert bad.status_code == 422 and "feasible" in bad.json()["error"]["fields"]
    assert bad.json()["error"]["fields"]["feasible"] == "Должно быть true или false."

    project, _district, by_pot = _budget_project(session_factory, "voting")
    with transaction(session_factory) as s:
        on_ballot = [i.id for i in pots.ballot_ideas(s, project)[by_pot["city"]]]
    voter = make_user(session_factory, "voter@example.org", name="Vera")
    headers = bearer(browser, voter.email)
    cast = browser.put(
        f"/api/v1/projects/{project}/ballot",
        json={"pot": by_pot["city"], "ideas": on_ballot},
        headers=headers,
    )
    assert cast.status_code == 200, cast.text
    assert cast.json()["chosen"] == on_ballot
    many = browser.put(
        f"/api/v1/projects/{project}/ballot",
        json={"pot": by_pot["city"], "ideas": list(range(1, 1002))},
        headers=headers,
    )
    assert many.status_code == 422 and "ideas" in many.json()["error"]["fields"]
    withdrawn = browser.put(
        f"/api/v1/projects/{project}/ballot",
        json={"pot": by_pot["city"], "ideas": []},
        headers=headers,
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["saved_at"] is None

    make_user(session_factory, "official@example.org", role="official", name="Oleg")
    staff = bearer(browser, "official@example.org")
    draft = browser.post(
        "/api/v1/projects",
        json={
            "title_ru": "Как изменить наши дворы?",
            "proposals_starts_at": "2030-03-01T09:00",
            "published": False,
        },
        headers=staff,
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["published"] is False
    pid = draft.json()["id"]
    for sent, expected in (("yes", True), (0, False), (True, True)):
        r = browser.patch(f"/api/v1/projects/{pid}", json={"published": sent}, headers=staff)
        assert r.status_code == 200, r.text
        assert r.json()["published"] is expected
