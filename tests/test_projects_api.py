"""The projects' JSON API: list and one project for everyone, create / change / override for
officials (real HTTP, the documented schemas, 409 and 422 as on the form)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project
from tests.test_api import bearer
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import AuditLog, Project

API = "/api/v1"


@pytest.fixture
def doc(browser: Browser) -> dict[str, Any]:
    document: dict[str, Any] = browser.get(f"{API}/openapi.json").json()
    return document


def _official(browser: Browser, session_factory: sessionmaker[Session]) -> dict[str, str]:
    make_user(session_factory, "official@example.org", role="official")
    return bearer(browser, "official@example.org")


def test_list_and_one_project_hide_drafts_and_conform(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    pid = make_project(session_factory, current="voting", voting="approval", approval_limit=3)
    draft = make_project(session_factory, current="proposals", published=False)
    listed = browser.get(f"{API}/projects")
    assert listed.status_code == 200
    ids = [p["id"] for p in listed.json()["items"]]
    assert pid in ids and 1 in ids and draft not in ids
    one = browser.get(f"{API}/projects/{pid}")
    assert one.status_code == 200
    data = one.json()
    assert data["stage"] == "voting" and data["phase"] == "open"
    assert [s["state"] for s in data["stages"]] == ["done", "done", "now", "later", "later"]
    assert data["pots"] == [{"district": None, "amount": 10_000_000}]
    assert data["approval_limit"] == 3
    assert browser.get(f"{API}/projects/{draft}").status_code == 404


def test_official_creates_patches_and_overrides(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    headers = _official(browser, session_factory)
    created = browser.post(
        f"{API}/projects",
        json={
            "title_ru": "Как изменить наши дворы?",
            "proposals_starts_at": "2030-03-01T09:00:00+03:00",
            "proposals_ends_at": "2030-04-01T09:00",
            "voting": "knapsack",
            "budget": 5_000_000,
            "published": 1,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    pid = body["id"]
    assert created.headers["location"].endswith(f"/api/v1/projects/{pid}")
    assert body["slug"] == "kak-izmenit-nashi-dvory"
    assert body["stages"][0]["starts_at"].startswith("2030-03-01T06:00")
    bad = browser.patch(
        f"{API}/projects/{pid}", json={"proposals_ends_at": "2030-02-01T00:00"}, headers=headers
    )
    assert bad.status_code == 422
    assert "proposals_ends_at" in bad.json()["error"]["fields"]
    patched = browser.patch(
        f"{API}/projects/{pid}", json={"title_en": "Our yards"}, headers=headers
    )
    assert patched.status_code == 200 and patched.json()["title_en"] == "Our yards"
    assert patched.json()["budget"] == 5_000_000
    override = browser.post(
        f"{API}/projects/{pid}/override",
        json={"stage": "closed", "reason": "Пауза"},
        headers=headers,
    )
    assert override.status_code == 200 and override.json()["phase"] == "closed"
    with transaction(session_factory) as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.target_id == pid)))
    assert sorted(actions) == ["project.create", "project.override", "project.update"]


def test_late_changes_are_409_over_the_api(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    headers = _official(browser, session_factory)
    pid = make_project(session_factory, current="voting", voting="knapsack")
    refused = browser.patch(f"{API}/projects/{pid}", json={"budget": 1}, headers=headers)
    assert refused.status_code == 409
    with transaction(session_factory) as s:
        assert s.get(Project, pid).voting == "knapsack"  # type: ignore[union-attr]


def test_citizens_may_not_write(browser: Browser, session_factory: sessionmaker[Session]) -> None:
    make_user(session_factory, "citizen@example.org")
    headers = bearer(browser, "citizen@example.org")
    response = browser.post(f"{API}/projects", json={"title_ru": "Проект"}, headers=headers)
    assert response.status_code == 403


def test_responses_match_the_document(
    browser: Browser, session_factory: sessionmaker[Session], doc: dict[str, Any]
) -> None:
    pid = make_project(session_factory, current="proposals", pots={None: 100})
    for url in (f"{API}/projects", f"{API}/projects/{pid}"):
        response = browser.get(url)
        path = url.removeprefix(API).replace(f"/{pid}", "/{project_id}")
        operation = doc["paths"][path]["get"]
        assert "200" in operation["responses"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": doc["components"]})
        assert not list(validator.iter_errors(response.json()))
