"""Expert review: who may evaluate, the form and its checks, the stage gate, the audit, the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea
from tests.test_api import error_of
from webapp.campaigns import evaluations
from webapp.campaigns.install import install
from webapp.kernel.hooks import hooks_of
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import AuditLog, IdeaEvaluation

API = "/api/v1"


def conforms(doc: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The status is documented for the operation at ``path`` (the document's form, with
    ``{project_id}``...) and the body matches its schema."""
    declared = doc["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in declared, (method, path, response.status_code)
    schema = declared[str(response.status_code)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    assert not list(validator.iter_errors(response.json())), response.text[:300]


@pytest.fixture
def people(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    return {
        "expert": make_user(session_factory, "expert@example.org", name="Vera"),
        "other": make_user(session_factory, "other-expert@example.org", name="Gleb"),
        "citizen": make_user(session_factory, "citizen@example.org", name="Ivan"),
        "moderator": make_user(session_factory, "mod@example.org", role="moderator", name="Maria"),
        "official": make_user(session_factory, "off@example.org", role="official", name="Oleg"),
    }


@pytest.fixture
def project(session_factory: sessionmaker[Session], people: dict[str, Any]) -> int:
    pid = make_project(
        session_factory, current="review", voting="knapsack", experts=(people["expert"].id,)
    )
    make_project(session_factory, current="review", experts=(people["other"].id,), slug="other")
    return pid


def login(app: Starlette, email: str) -> Browser:
    b = Browser(app)
    b.__enter__()
    b.login(email)
    return b


@pytest.fixture
def expert(app: Starlette, people: dict[str, Any]) -> Iterator[Browser]:
    b = login(app, "expert@example.org")
    yield b
    b.__exit__(None, None, None)


def _evaluation(factory: sessionmaker[Session], idea_id: int) -> IdeaEvaluation | None:
    with transaction(factory) as s:
        row = s.get(IdeaEvaluation, idea_id)
        if row is not None:
            s.expunge(row)
        return row


def _audits(factory: sessionmaker[Session]) -> list[AuditLog]:
    with transaction(factory) as s:
        rows = list(
            s.scalars(
                select(AuditLog).where(AuditLog.action == "idea.evaluate").order_by(AuditLog.id)
            )
        )
        for r in rows:
            s.expunge(r)
        return rows


# --- who may review -----------------------------------------------------------------------------


def test_the_review_page_is_for_the_projects_experts_and_officials_only(
    app: Starlette, session_factory: sessionmaker[Session], people: dict[str, Any], project: int
) -> None:
    idea = make_project_idea(session_factory, project, "Скамейки у пруда")
    done = make_project_idea(session_factory, project, "Фонари в аллее", feasible=True, cost=900)
    urls = [f"/projects/{project}/review", f"/projects/{project}/review/{idea}"]
    for email, allowed in (
        ("expert@example.org", True),
        ("off@example.org", True),
        ("other-expert@example.org", False),
        ("citizen@example.org", False),
        ("mod@example.org", False),
    ):
        b = login(app, email)
        for url in urls:
            assert b.get(url).status_code == (200 if allowed else 403), (email, url)
        b.__exit__(None, None, None)
    with Browser(app) as anonymous:
        for url in urls:
            assert anonymous.get(url).status_code in (303, 401)
    b = login(app, "expert@example.org")
    page = b.get(f"/projects/{project}/review").text
    assert "Скамейки у пруда" in page and "Фонари в аллее" in page
    todo = b.get(f"/projects/{project}/review?todo=1").text
    assert "Скамейки у пруда" in todo and "Фонари в аллее" not in todo
    assert f"/review/{done}" not in todo
    b.__exit__(None, None, None)


def test_an_expert_of_another_project_cannot_save_an_evaluation(
    app: Starlette, session_factory: sessionmaker[Session], project: int
) -> None:
    idea = make_project_idea(session_factory, project, "Скамейки у пруда")
    for email in ("other-expert@example.org", "citizen@example.org", "mod@example.org"):
        b = login(app, email)
        r = b.submit(f"/projects/{project}/review/{idea}", {"feasible": "yes", "cost": "100 000"})
        assert r.status_code == 403, email
        b.__exit__(None, None, None)
    assert _evaluation(session_factory, idea) is None
    assert _audits(session_factory) == []


# --- the form -----------------------------------------------------------------------------------


def test_an_expert_saves_and_changes_an_evaluation_and_each_save_is_audited(
    expert: Browser, session_factory: sessionmaker[Session], people: dict[str, Any], project: int
) -> None:
    idea = make_project_idea(session_factory, project, "Скамейки у пруда")
    url = f"/projects/{project}/review/{idea}"
    form = {"feasible": "yes", "reason": "", "cost": "1 500 000", "department": "Департамент ЖКХ"}
    r = expert.submit(url, form)
    assert r.status_code == 303, r.text[:400]
    row = _evaluation(session_factory, idea)
    assert row is not None and row.feasible and row.cost == 1_500_000
    assert row.department == "Департамент ЖКХ" and row.expert_id == people["expert"].id
    # the form shows it again, then a change
    assert "1500000" in expert.get(url).text
    r = expert.submit(
        url,
        {"feasible": "no", "reason": "Пруд на земле заповедника.", "cost": "", "department": ""},
    )
    assert r.status_code == 303
    row = _evaluation(session_factory, idea)
    assert row is not None and not row.feasible and row.cost is None
    entries = _audits(session_factory)
    assert [e.actor_id for e in entries] == [people["expert"].id] * 2
    assert entries[0].target_id == idea and entries[0].details["before"] is None
    assert entries[0].details["after"]["cost"] == 1_500_000
    assert entries[1].details["before"]["feasible"] is True
    assert entries[1].details["after"] == {
        "feasible": False,
        "reason": "Пруд на земле заповедника.",
        "cost": None,
        "department": "",
        "expert_id": people["expert"].id,
    }
    assert entries[1].reason == "Пруд на земле заповедника."


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"feasible": "no", "reason": "   "}, "reason"),  # not feasible needs a public reason
        ({"feasible": "yes", "cost": ""}, "cost"),  # a budget project needs a cost
        ({"feasible": "yes", "cost": "-5"}, "cost"),
        ({"feasible": "yes", "cost": "0"}, "cost"),
        ({"feasible": "yes", "cost": "12.5"}, "cost"),
        ({"feasible": "yes", "cost": "сто рублей"}, "cost"),
        ({"feasible": "maybe", "cost": "100"}, "feasible"),
        ({"cost": "100"}, "feasible"),
        ({"feasible": "yes", "cost": "100", "department": "x" * 201}, "department"),
    ],
)
def test_bad_evaluations_are_422_and_nothing_is_stored(
    expert: Browser,
    session_factory: sessionmaker[Session],
    project: int,
    form: dict[str, str],
    field: str,
) -> None:
    idea = make_project_idea(session_factory, project, "Скамейки у пруда")
    r = expert.submit(f"/projects/{project}/review/{idea}", form)
    assert r.status_code == 422, r.text[:300]
    assert f'id="{field}-error"' in r.text
    assert _evaluation(session_factory, idea) is None
    assert _audits(session_factory) == []


def test_a_supports_project_takes_a_feasible_idea_without_a_cost(
    app: Starlette, session_factory: sessionmaker[Session], people: dict[str, Any]
) -> None:
    pid = make_project(session_factory, current="review", experts=(people["expert"].id,))
    idea = make_project_idea(session_factory, pid, "Скамейки у пруда")
    with transaction(session_factory) as s:
        evaluations.evaluate(
            s, people["expert"], pid, idea, feasible="yes", reason="", cost="", department=""
        )
    row = _evaluation(session_factory, idea)
    assert row is not None and row.feasible and row.cost is None


def test_outside_the_review_stage_the_evaluation_is_refused_with_409(
    app: Starlette, session_factory: sessionmaker[Session], people: dict[str, Any]
) -> None:
    for stage in ("proposals", "voting"):
        pid = make_project(
            session_factory,
            current=stage,
            voting="knapsack",
            experts=(people["expert"].id,),
            slug=f"p-{stage}",
        )
        idea = make_project_idea(session_factory, pid, "Скамейки у пруда")
        for email in ("expert@example.org", "off@example.org"):
            b = login(app, email)
            r = b.submit(f"/projects/{pid}/review/{idea}", {"feasible": "yes", "cost": "100"})
            assert r.status_code == 409, (stage, email)
            assert "Экспертная оценка" in r.text or "экспертн" in r.text.lower()
            b.__exit__(None, None, None)
        assert _evaluation(session_factory, idea) is None


def test_an_idea_of_another_project_or_a_hidden_one_is_not_found(
    expert: Browser, session_factory: sessionmaker[Session], project: int
) -> None:
    elsewhere = make_project(session_factory, current="review", slug="elsewhere")
    stray = make_project_idea(session_factory, elsewhere, "Чужая идея")
    r = expert.submit(f"/projects/{project}/review/{stray}", {"feasible": "yes", "cost": "100"})
    assert r.status_code == 404
    assert expert.get(f"/projects/{project}/review/{stray}").status_code == 404
    assert _evaluation(session_factory, stray) is None


def test_costs_are_read_with_spaces_between_digit_groups() -> None:
    assert evaluations.parse_cost("1 500 000") == 1_500_000
    assert evaluations.parse_cost("1\u00a0500\u202f000") == 1_500_000
    assert evaluations.parse_cost(" 42 ") == 42
    assert evaluations.parse_cost("") is None
    assert evaluations.parse_cost(None) is None
    for bad in ("-1", "0", "1,5", "1e6", True, 10**13, "99999999999999"):
        with pytest.raises(ValueError):
            evaluations.parse_cost(bad)


# --- on the idea page ---------------------------------------------------------------------------


def test_the_evaluation_is_shown_on_the_idea_page_for_everyone(
    app: Starlette, session_factory: sessionmaker[Session], people: dict[str, Any], project: int
) -> None:
    hooks = hooks_of(app.state)
    if not any(
        getattr(f, "__module__", "") == "webapp.campaigns.install" for f in hooks.idea_panels
    ):
        install(hooks)  # until webapp/domains.py installs campaigns itself
    idea = make_project_idea(session_factory, project, "Скамейки у пруда")
    with transaction(session_factory) as s:
        evaluations.evaluate(
            s,
            people["expert"],
            project,
            idea,
            feasible="no",
            reason="Пруд на земле заповедника.",
            cost="2 000 000",
            department="Департамент природопользования",
        )
    with Browser(app) as anonymous:
        page = anonymous.get(f"/ideas/{idea}").text
    assert "Оценка экспертов" in page
    assert "Нереализуемо" in page
    assert "Пруд на земле заповедника." in page
    assert "Департамент природопользования" in page
    assert "2\u00a0000\u00a0000" in page


# --- the API ------------------------------------------------------------------------------------


def _api(b: Browser, method: str, url: str, json: Any = None) -> Any:
    headers = {"accept": "application/json", "x-csrf-token": b.csrf()}
    return b.request(method, API + url, headers=headers, json=json)


def test_the_api_lists_evaluations_publicly_and_takes_them_from_experts_only(
    app: Starlette, session_factory: sessionmaker[Session], people: dict[str, Any], project: int
) -> None:
    idea = make_project_idea(session_factory, project, "Скамейки у пруда")
    lamps = make_project_idea(session_factory, project, "Фонари", feasible=True, cost=700)
    doc = Browser(app).get(f"{API}/openapi.json").json()
    body = {"feasible": "yes", "cost": 1_500_000, "department": "ЖКХ"}
    url = f"/projects/{project}/ideas/{idea}/evaluation"
    with Browser(app) as anonymous:
        r = _api(anonymous, "PUT", url, body)
        assert r.status_code == 401
        conforms(doc, "PUT", "/projects/{project_id}/ideas/{idea_id}/evaluation", r)
    for email in ("other-expert@example.org", "citizen@example.org", "mod@example.org"):
        b = login(app, email)
        r = _api(b, "PUT", url, body)
        assert r.status_code == 403, email
        error_of(r)
        b.__exit__(None, None, None)
    assert _evaluation(session_factory, idea) is None
    b = login(app, "expert@example.org")
    r = _api(b, "PUT", url, {"feasible": "no"})
    assert r.status_code == 422 and "reason" in error_of(r)["fields"]
    r = _api(b, "PUT", url, body)
    assert r.status_code == 200, r.text
    conforms(doc, "PUT", "/projects/{project_id}/ideas/{idea_id}/evaluation", r)
    assert r.json()["cost"] == 1_500_000 and r.json()["feasible"] is True
    b.__exit__(None, None, None)
    with Browser(app) as anonymous:
        r = anonymous.get(f"{API}/projects/{project}/evaluations")
        assert r.status_code == 200
        conforms(doc, "GET", "/projects/{project_id}/evaluations", r)
        items = {i["idea_id"]: i for i in r.json()["items"]}
    assert set(items) == {idea, lamps}
    assert items[idea]["department"] == "ЖКХ"
    assert len(_audits(session_factory)) == 1


def test_the_api_refuses_an_evaluation_outside_the_review_stage(
    app: Starlette, session_factory: sessionmaker[Session], people: dict[str, Any]
) -> None:
    pid = make_project(
        session_factory, current="voting", voting="knapsack", experts=(people["expert"].id,)
    )
    idea = make_project_idea(session_factory, pid, "Скамейки у пруда")
    b = login(app, "expert@example.org")
    r = _api(b, "PUT", f"/projects/{pid}/ideas/{idea}/evaluation", {"feasible": "yes", "cost": 5})
    assert r.status_code == 409
    assert "Экспертная оценка в этом проекте завершилась" in error_of(r)["message"]
    b.__exit__(None, None, None)
    assert _evaluation(session_factory, idea) is None
