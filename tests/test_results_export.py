"""Results as open data: CSV for Excel (BOM, semicolons) and JSON, and the API; hidden before
publication from everyone but officials."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.test_budget_results import big_and_small
from webapp.campaigns import results as results_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction


@pytest.fixture
def official(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "official@example.org", role="official", name="Oleg")


def _official_browser(app: Starlette) -> Browser:
    b = Browser(app)
    b.login("official@example.org")
    return b


def test_exports_are_404_before_publication_except_for_officials(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    project, _, _, _ = big_and_small(session_factory)
    with transaction(session_factory) as session:
        results_service.compute_results(session, project)
    make_user(session_factory, "citizen@example.org")
    citizen = Browser(app)
    citizen.login("citizen@example.org")
    with Browser(app) as visitor:
        for client in (visitor, citizen):
            for path in ("results.csv", "results.json"):
                assert client.get(f"/projects/{project}/{path}").status_code == 404
            assert client.get(f"/api/v1/projects/{project}/results").status_code == 404
    b = _official_browser(app)
    assert b.get(f"/projects/{project}/results.csv").status_code == 200
    preview = b.get(f"/api/v1/projects/{project}/results").json()
    assert preview["published"] is False and len(preview["ideas"]) == 4


def test_the_csv_opens_in_russian_excel_and_the_json_has_every_field(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    project, ideas, _, _ = big_and_small(session_factory)
    with transaction(session_factory) as session:
        results_service.publish_results(session, official, project, email=False)
    with Browser(app) as visitor:
        response = visitor.get(f"/projects/{project}/results.csv")
        data = visitor.get(f"/projects/{project}/results.json").json()
        api = visitor.get(f"/api/v1/projects/{project}/results").json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the Cyrillic
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == [
        "Бюджет",
        "Район",
        "Номер идеи",
        "Название идеи",
        "Стоимость, ₽",
        "Голоса",
        "Получит деньги",
        "Получила бы деньги при подсчёте по числу голосов",
        "Правило",
    ]
    by_title = {r[3]: r for r in rows[1:]}
    assert by_title["Библиотека во дворе"][4:] == [
        "400000",
        "40",
        "да",
        "нет",
        "Метод равных долей",
    ]
    assert by_title["Фонтан в парке"][6:8] == ["нет", "да"]
    assert by_title["Скамейки в парке"][1] == "Весь проект"

    assert data["rule"] == "equal_shares" and data["published_at"]
    assert data["pots"][0]["budget"] == 1_000_000 and data["pots"][0]["voters"] == 100
    record = next(i for i in data["ideas"] if i["idea_id"] == ideas["library"])
    assert record == {
        "pot_id": data["pots"][0]["pot_id"],
        "pot_district_id": None,
        "pot_district": "",
        "idea_id": ideas["library"],
        "title": "Библиотека во дворе",
        "district_id": None,
        "district": "",
        "cost": 400_000,
        "votes": 40,
        "selected": True,
        "greedy_selected": False,
        "rule": "equal_shares",
    }
    assert api["published"] is True and api["ideas"] == data["ideas"]
    assert api["html_url"].endswith(f"/projects/{project}/results")


def test_a_title_that_looks_like_a_formula_is_defused_in_the_csv(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    from tests.project_helpers import make_project, make_project_idea
    from tests.test_budget_results import cast, voters

    project = make_project(session_factory, current="results", voting="approval")
    idea = make_project_idea(session_factory, project, "=HYPERLINK(1)", cost=10, feasible=True)
    (uid,) = voters(session_factory, 1)
    cast(session_factory, project, uid, [idea])
    with transaction(session_factory) as session:
        results_service.publish_results(session, official, project, email=False)
    with Browser(app) as visitor:
        text = visitor.get(f"/projects/{project}/results.csv").content.decode("utf-8-sig")
    assert ";'=HYPERLINK(1);" in text or ';"\'=HYPERLINK(1)";' in text
