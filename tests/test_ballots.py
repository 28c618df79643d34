"""Budget ballots: who may vote where, approval and knapsack limits enforced on the server,
replace and withdraw, refusals that change nothing, the stage gate, privacy, and the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea
from tests.test_api import error_of
from webapp.campaigns import ballots, pots
from webapp.kernel.errors import InvalidInput
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Ballot, BallotChoice, District, Idea, Project, User

API = "/api/v1"


def conforms(doc: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The status is documented for the operation at ``path`` (the document's form, with
    ``{project_id}``...) and the body matches its schema."""
    declared = doc["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in declared, (method, path, response.status_code)
    schema = declared[str(response.status_code)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    assert not list(validator.iter_errors(response.json())), response.text[:300]


@dataclass
class World:
    project: int
    pots: dict[str, int]  # "city" / "district" -> pot id
    ideas: dict[str, int]
    district: int  # has its own pot
    okrug: int
    elsewhere: int  # a district of another okrug


def _districts(factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with transaction(factory) as s:
        rows = s.execute(
            select(District.id, District.parent_id)
            .where(District.parent_id.is_not(None))
            .order_by(District.id)
        ).all()
    first = rows[0]
    other = next(r for r in rows if r.parent_id != first.parent_id)
    return first.id, first.parent_id, other.id


def _set_district(factory: sessionmaker[Session], email: str, district_id: int | None) -> None:
    with transaction(factory) as s:
        s.execute(update(User).where(User.email == email).values(district_id=district_id))


def build(factory: sessionmaker[Session], voting: str = "knapsack", **fields: Any) -> World:
    district, okrug, elsewhere = _districts(factory)
    pid = make_project(
        factory,
        current=fields.pop("current", "voting"),
        voting=voting,
        pots={None: 1_000_000, district: 500_000},
        slug=fields.pop("slug", f"budget-{voting}"),
        **fields,
    )
    ideas = {
        "bench": make_project_idea(factory, pid, "Скамейки у пруда", feasible=True, cost=400_000),
        "lamps": make_project_idea(factory, pid, "Фонари в аллее", feasible=True, cost=300_000),
        "stage": make_project_idea(factory, pid, "Летняя сцена", feasible=True, cost=500_000),
        "no": make_project_idea(factory, pid, "Канатная дорога", feasible=False),
        "nocost": make_project_idea(factory, pid, "Фонтан без сметы", feasible=True),
        "hidden": make_project_idea(factory, pid, "Скрытая идея", feasible=True, cost=10),
        "local": make_project_idea(
            factory, pid, "Детская площадка", feasible=True, cost=200_000, district_id=district
        ),
    }
    with transaction(factory) as s:
        s.execute(update(Idea).where(Idea.id == ideas["hidden"]).values(status="hidden"))
    by_pot = {}
    with transaction(factory) as s:
        for p in pots.pots(s, pid):
            by_pot["city" if p.district_id is None else "district"] = p.id
    return World(pid, by_pot, ideas, district, okrug, elsewhere)


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    return build(session_factory)


@pytest.fixture
def voter(
    app: Starlette, session_factory: sessionmaker[Session], world: World
) -> Iterator[Browser]:
    make_user(session_factory, "voter@example.org", name="Ivan")
    _set_district(session_factory, "voter@example.org", world.district)
    b = Browser(app)
    b.__enter__()
    b.login("voter@example.org")
    yield b
    b.__exit__(None, None, None)


def login(app: Starlette, factory: sessionmaker[Session], email: str, **kw: Any) -> Browser:
    make_user(factory, email, **kw)
    b = Browser(app)
    b.__enter__()
    b.login(email)
    return b


def stored(factory: sessionmaker[Session], email: str = "voter@example.org") -> dict[int, set[int]]:
    """pot id -> chosen idea ids of the user's ballots."""
    with transaction(factory) as s:
        rows = s.execute(
            select(Ballot.pot_id, BallotChoice.idea_id)
            .join(BallotChoice, BallotChoice.ballot_id == Ballot.id)
            .join(User, User.id == Ballot.user_id)
            .where(User.email == email)
        ).all()
    out: dict[int, set[int]] = {}
    for pot_id, idea_id in rows:
        out.setdefault(pot_id, set()).add(idea_id)
    return out


def vote(b: Browser, w: World, pot: str | int | None, *ideas: str, action: str = "save") -> Any:
    data: dict[str, Any] = {"action": action, "idea": [w.ideas[i] for i in ideas]}
    if pot is not None:
        data["pot"] = w.pots[pot] if isinstance(pot, str) else pot
    return b.submit(f"/projects/{w.project}/ballot", data)


# --- the page -----------------------------------------------------------------------------------


def test_only_feasible_costed_public_ideas_are_on_the_ballot_in_their_pot(
    voter: Browser, world: World
) -> None:
    page = voter.get(f"/projects/{world.project}/ballot")
    assert page.status_code == 200
    text = page.text
    for title in ("Скамейки у пруда", "Фонари в аллее", "Летняя сцена", "Детская площадка"):
        assert title in text
    for title in ("Канатная дорога", "Фонтан без сметы", "Скрытая идея"):
        assert title not in text
    assert text.count('name="pot"') == 2  # the whole area's budget and the district's
    assert 'data-budget="1000000"' in text and 'data-budget="500000"' in text


def test_a_resident_of_another_district_sees_only_the_scope_wide_pot(
    app: Starlette, session_factory: sessionmaker[Session], world: World
) -> None:
    b = login(app, session_factory, "far@example.org")
    _set_district(session_factory, "far@example.org", world.elsewhere)
    text = b.get(f"/projects/{world.project}/ballot").text
    assert text.count('name="pot"') == 1 and "Детская площадка" not in text
    r = vote(b, world, "district", "local")
    assert r.status_code == 403
    assert stored(session_factory, "far@example.org") == {}
    b.__exit__(None, None, None)


def test_an_okrug_pot_is_open_to_the_residents_of_its_districts(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    district, okrug, _ = _districts(session_factory)
    pid = make_project(session_factory, current="voting", voting="approval", pots={okrug: 100})
    idea = make_project_idea(
        session_factory, pid, "Детская площадка", feasible=True, cost=50, district_id=district
    )
    b = login(app, session_factory, "local@example.org")
    _set_district(session_factory, "local@example.org", district)
    r = b.submit(f"/projects/{pid}/ballot", {"idea": [idea]})
    assert r.status_code == 303, r.text[:300]
    assert list(stored(session_factory, "local@example.org").values()) == [{idea}]
    b.__exit__(None, None, None)


# --- save, replace, withdraw --------------------------------------------------------------------


def test_a_ballot_is_saved_shown_replaced_and_withdrawn(
    voter: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    r = vote(voter, world, "city", "bench", "lamps")
    assert r.status_code == 303, r.text[:500]
    assert stored(session_factory) == {
        world.pots["city"]: {world.ideas["bench"], world.ideas["lamps"]}
    }
    page = voter.get(f"/projects/{world.project}/ballot").text
    assert "Ваш выбор сохранён" in page
    assert f'value="{world.ideas["bench"]}" data-cost="400000" checked' in page
    assert "700\u00a0000 из 1\u00a0000\u00a0000" in page
    # replace
    assert vote(voter, world, "city", "stage").status_code == 303
    assert stored(session_factory) == {world.pots["city"]: {world.ideas["stage"]}}
    # the district's pot is a ballot of its own
    assert vote(voter, world, "district", "local").status_code == 303
    assert stored(session_factory) == {
        world.pots["city"]: {world.ideas["stage"]},
        world.pots["district"]: {world.ideas["local"]},
    }
    # withdraw: nothing ticked
    assert vote(voter, world, "city").status_code == 303
    assert stored(session_factory) == {world.pots["district"]: {world.ideas["local"]}}
    with transaction(session_factory) as s:
        assert s.query(Ballot).count() == 1


def test_check_recomputes_the_bar_without_saving(
    voter: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    r = vote(voter, world, "city", "bench", "lamps", action="check")
    assert r.status_code == 200
    assert "700\u00a0000 из 1\u00a0000\u00a0000" in r.text
    assert "Осталось 300\u00a0000" in r.text or "300\u00a0000" in r.text
    assert stored(session_factory) == {}
    over = vote(voter, world, "city", "bench", "lamps", "stage", action="check")
    assert over.status_code == 422
    assert "budget-over" in over.text
    assert stored(session_factory) == {}


# --- refusals change nothing --------------------------------------------------------------------


def _previous(
    voter: Browser, session_factory: sessionmaker[Session], world: World
) -> dict[int, set[int]]:
    assert vote(voter, world, "city", "lamps").status_code == 303
    before = stored(session_factory)
    assert before == {world.pots["city"]: {world.ideas["lamps"]}}
    return before


def test_over_budget_is_refused_and_the_stored_ballot_stays(
    voter: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    before = _previous(voter, session_factory, world)
    r = vote(voter, world, "city", "bench", "lamps", "stage")  # 1 200 000 > 1 000 000
    assert r.status_code == 422
    assert "1\u00a0200\u00a0000" in r.text and "1\u00a0000\u00a0000" in r.text
    assert stored(session_factory) == before


@pytest.mark.parametrize("idea", ["no", "nocost", "hidden", "local"])
def test_an_idea_not_on_that_pots_ballot_is_refused(
    voter: Browser, session_factory: sessionmaker[Session], world: World, idea: str
) -> None:
    before = _previous(voter, session_factory, world)
    r = vote(voter, world, "city", "bench", idea)
    assert r.status_code == 422, idea
    assert stored(session_factory) == before


def test_an_idea_of_another_project_is_refused(
    voter: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    other = make_project(session_factory, current="voting", voting="knapsack", slug="other")
    stray = make_project_idea(session_factory, other, "Чужая идея", feasible=True, cost=10)
    before = _previous(voter, session_factory, world)
    r = voter.submit(
        f"/projects/{world.project}/ballot", {"pot": world.pots["city"], "idea": [stray]}
    )
    assert r.status_code == 422
    assert stored(session_factory) == before
    # and a pot of another project is not this project's
    with transaction(session_factory) as s:
        other_pot = pots.pots(s, other)[0].id
    r = voter.submit(
        f"/projects/{world.project}/ballot", {"pot": other_pot, "idea": [world.ideas["bench"]]}
    )
    assert r.status_code == 422
    r = voter.submit(f"/projects/{world.project}/ballot", {"pot": "abc", "idea": ["x"]})
    assert r.status_code == 422
    assert stored(session_factory) == before


def test_approval_allows_at_most_k_ideas(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    w = build(session_factory, voting="approval", approval_limit=2)
    b = login(app, session_factory, "voter@example.org")
    r = vote(b, w, "city", "bench", "lamps", "stage")
    assert r.status_code == 422
    assert "не больше 2" in r.text or "at most 2" in r.text
    assert stored(session_factory) == {}
    # approval ignores costs: 1 200 000 worth of ideas is fine when within k
    w3 = build(session_factory, voting="approval", approval_limit=3, slug="approval-3")
    assert vote(b, w3, "city", "bench", "lamps", "stage").status_code == 303
    assert stored(session_factory) == {
        w3.pots["city"]: set(w3.ideas[i] for i in ("bench", "lamps", "stage"))
    }
    b.__exit__(None, None, None)


def test_after_the_voting_stage_closes_a_ballot_is_409_and_nothing_changes(
    app: Starlette, session_factory: sessionmaker[Session], world: World, voter: Browser
) -> None:
    before = _previous(voter, session_factory, world)
    with transaction(session_factory) as s:
        s.execute(
            update(Project).where(Project.id == world.project).values(stage_override="results")
        )
    r = vote(voter, world, "city", "bench")
    assert r.status_code == 409
    assert stored(session_factory) == before
    page = voter.get(f"/projects/{world.project}/ballot").text
    assert 'name="action" value="save"' not in page  # no form to send any more
    assert "Ваш выбор сохранён" in page  # still shows what was chosen
    # dated: a project whose voting is over
    closed = build(session_factory, current="results", slug="closed")
    r = vote(voter, closed, "city", "bench")
    assert r.status_code == 409
    assert "Голосование в этом проекте завершилось" in r.text


# --- eligibility --------------------------------------------------------------------------------


def test_residents_only_projects_explain_and_refuse_others(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    district, okrug, elsewhere = _districts(session_factory)
    w = build(session_factory, eligibility="residents", scope_district_id=okrug, slug="res")
    nowhere = login(app, session_factory, "nowhere@example.org")
    page = nowhere.get(f"/projects/{w.project}/ballot")
    assert page.status_code == 200 and "Голосовать могут только жители" in page.text
    assert vote(nowhere, w, "city", "bench").status_code == 403
    _set_district(session_factory, "nowhere@example.org", elsewhere)
    assert vote(nowhere, w, "city", "bench").status_code == 403
    _set_district(session_factory, "nowhere@example.org", district)
    assert vote(nowhere, w, "city", "bench").status_code == 303
    nowhere.__exit__(None, None, None)


def test_verified_only_projects_need_a_verified_resident(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    district, _okrug, _ = _districts(session_factory)
    w = build(session_factory, eligibility="verified", slug="ver")
    b = login(app, session_factory, "plain@example.org")
    _set_district(session_factory, "plain@example.org", district)
    assert "подтверждённые" in b.get(f"/projects/{w.project}/ballot").text
    assert vote(b, w, "city", "bench").status_code == 403
    with transaction(session_factory) as s:
        s.execute(
            update(User).where(User.email == "plain@example.org").values(verified_resident=True)
        )
    assert vote(b, w, "city", "bench").status_code == 303
    b.__exit__(None, None, None)


def test_a_supports_project_has_no_ballot(
    voter: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="voting", slug="supports")
    page = voter.get(f"/projects/{pid}/ballot")
    assert page.status_code == 200 and 'name="pot"' not in page.text
    r = voter.submit(f"/projects/{pid}/ballot", {"idea": []})
    assert r.status_code == 409


# --- privacy ------------------------------------------------------------------------------------


def test_nobody_else_sees_what_a_voter_chose(
    app: Starlette, session_factory: sessionmaker[Session], world: World, voter: Browser
) -> None:
    assert vote(voter, world, "city", "bench", "lamps").status_code == 303
    for email, role in (
        ("other@example.org", "citizen"),
        ("mod@example.org", "moderator"),
        ("off@example.org", "official"),
    ):
        b = login(app, session_factory, email, role=role)
        _set_district(session_factory, email, world.district)
        page = b.get(f"/projects/{world.project}/ballot").text
        assert " checked" not in page, role
        r = b.get(f"{API}/projects/{world.project}/ballot")
        assert r.status_code == 200
        assert all(p["chosen"] == [] for p in r.json()["pots"]), role
        b.__exit__(None, None, None)
    # officials see how many ballots were cast, not their content
    off = Browser(app)
    off.__enter__()
    off.login("off@example.org")
    review = off.get(f"/projects/{world.project}/review").text
    assert "1 бюллетень" in review or "1 ballot" in review
    off.__exit__(None, None, None)
    with Browser(app) as anonymous:
        r = anonymous.get(f"{API}/projects/{world.project}/ballot")
        assert r.status_code == 401
        assert anonymous.get(f"/projects/{world.project}/ballot").status_code in (303, 401)


# --- the API ------------------------------------------------------------------------------------


def _api(b: Browser, method: str, url: str, json: Any = None) -> Any:
    headers = {"accept": "application/json", "x-csrf-token": b.csrf()}
    return b.request(method, API + url, headers=headers, json=json)


def test_the_api_reads_and_replaces_the_callers_own_ballot_with_the_same_checks(
    app: Starlette, voter: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    doc = voter.get(f"{API}/openapi.json").json()
    url = f"/projects/{world.project}/ballot"
    ideas = f"{world.ideas['bench']},{world.ideas['lamps']}"
    r = _api(voter, "PUT", url, {"pot": world.pots["city"], "ideas": ideas})
    assert r.status_code == 200, r.text
    conforms(doc, "PUT", "/projects/{project_id}/ballot", r)
    assert sorted(r.json()["chosen"]) == sorted([world.ideas["bench"], world.ideas["lamps"]])
    assert r.json()["total"] == 700_000
    before = stored(session_factory)
    over = f"{ideas},{world.ideas['stage']}"
    for body, status in (
        ({"pot": world.pots["city"], "ideas": over}, 422),
        ({"pot": world.pots["city"], "ideas": str(world.ideas["no"])}, 422),
        ({"pot": world.pots["city"], "ideas": "1,abc"}, 422),
        ({"ideas": ideas}, 422),  # two pots: which one?
        ({"pot": 999_999, "ideas": ideas}, 422),
        ({"pot": world.pots["city"], "ideas": [world.ideas["bench"], "x"]}, 422),
        ({"pot": world.pots["city"], "ideas": [0]}, 422),
    ):
        r = _api(voter, "PUT", url, body)
        assert r.status_code == status, (body, r.text)
        error_of(r)
        conforms(doc, "PUT", "/projects/{project_id}/ballot", r)
    assert stored(session_factory) == before
    r = voter.get(API + url)
    assert r.status_code == 200
    conforms(doc, "GET", "/projects/{project_id}/ballot", r)
    city = next(p for p in r.json()["pots"] if p["pot_id"] == world.pots["city"])
    assert city["chosen"] == sorted([world.ideas["bench"], world.ideas["lamps"]])
    assert {i["id"] for i in city["ideas"]} == {world.ideas[k] for k in ("bench", "lamps", "stage")}
    # withdraw
    r = _api(voter, "PUT", url, {"pot": world.pots["city"], "ideas": ""})
    assert r.status_code == 200 and r.json()["saved_at"] is None
    assert stored(session_factory) == {}


def test_the_use_case_replaces_an_existing_ballot_atomically(
    session_factory: sessionmaker[Session], world: World
) -> None:
    user = make_user(session_factory, "direct@example.org")
    city = world.pots["city"]
    with transaction(session_factory) as s:
        ballots.cast(s, user, world.project, city, [world.ideas["bench"]])
    with pytest.raises(InvalidInput):
        with transaction(session_factory) as s:
            ballots.cast(s, user, world.project, city, [world.ideas["lamps"], world.ideas["no"]])
    assert stored(session_factory, "direct@example.org") == {city: {world.ideas["bench"]}}
    with transaction(session_factory) as s:
        result = ballots.cast(s, user, world.project, city, [world.ideas["lamps"]] * 2)
    assert result.chosen == (world.ideas["lamps"],)
    assert stored(session_factory, "direct@example.org") == {city: {world.ideas["lamps"]}}


def test_the_pages_read_in_english_too(
    app: Starlette, voter: Browser, session_factory: sessionmaker[Session], world: World
) -> None:
    assert vote(voter, world, "city", "bench").status_code == 303
    page = voter.get(f"/projects/{world.project}/ballot", headers={"accept-language": "en"}).text
    assert "Your choice is saved on" in page and "400,000 of 1,000,000 roubles" in page
    off = login(app, session_factory, "off@example.org", role="official")
    review = off.get(f"/projects/{world.project}/review", headers={"accept-language": "en"}).text
    assert "Expert review" in review and "1 ballot" in review
    off.__exit__(None, None, None)
