"""Ideas belong to a project, and the project's stage opens and closes proposing and supporting:
the idea form and POST /api/v1/ideas (409 out of stage, 422 for an unknown or draft project),
supports and withdrawals (409, nothing stored), and the idea page that says when voting opens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import PASSWORD, Browser
from tests.project_helpers import make_project, make_project_idea, stages_around
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    PERMANENT_PROJECT_ID,
    Category,
    Idea,
    ProjectStage,
    RankingEvent,
    Vote,
    utcnow,
)

API = "/api/v1"
TITLE = "Скамейки вдоль набережной"
BODY = "Поставить скамейки через каждые сто метров вдоль всей набережной."


def category_id(factory: Any) -> int:
    with transaction(factory) as s:
        return int(s.execute(select(Category.id).where(Category.slug == "parks")).scalar_one())


def count(factory: Any, model: Any, *where: Any) -> int:
    with transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def form(factory: Any, **overrides: Any) -> dict[str, str]:
    data = {"title": TITLE, "body": BODY, "category_id": str(category_id(factory))}
    data.update(overrides)
    return data


def bearer(client: Any, email: str) -> dict[str, str]:
    response = client.post(f"{API}/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def signed_in(browser: Browser, citizen: CurrentUser) -> Browser:
    browser.login(citizen.email)
    return browser


# --- proposing -------------------------------------------------------------------------------


def test_the_form_offers_open_projects_and_the_permanent_pool_first(
    signed_in: Browser, session_factory: sessionmaker[Session]
) -> None:
    open_id = make_project(session_factory, current="proposals", title_ru="Как обновить парки?")
    make_project(session_factory, current="voting", title_ru="Проект на голосовании")
    make_project(session_factory, current="proposals", title_ru="Черновик", published=False)
    page = signed_in.get("/ideas/new")
    assert page.status_code == 200
    assert 'name="project_id"' in page.text
    assert "Как обновить парки?" in page.text
    assert "Проект на голосовании" not in page.text
    assert "Черновик" not in page.text
    assert page.text.index("Идеи для города") < page.text.index("Как обновить парки?")
    preselected = signed_in.get(f"/ideas/new?project={open_id}")
    assert f'<option value="{open_id}" selected>' in preselected.text


def test_an_idea_goes_to_the_chosen_project(
    signed_in: Browser, session_factory: sessionmaker[Session]
) -> None:
    project_id = make_project(session_factory, current="proposals")
    response = signed_in.submit("/ideas/new", form(session_factory, project_id=str(project_id)))
    assert response.status_code == 303, response.text[:500]
    default = signed_in.submit("/ideas/new", form(session_factory, title="Фонтан у библиотеки"))
    assert default.status_code == 303
    with transaction(session_factory) as s:
        rows = {t: p for t, p in s.execute(select(Idea.title, Idea.project_id))}
    assert rows == {TITLE: project_id, "Фонтан у библиотеки": PERMANENT_PROJECT_ID}


def test_proposing_too_early_keeps_the_text_and_says_when_proposals_open(
    signed_in: Browser, session_factory: sessionmaker[Session]
) -> None:
    project_id = make_project(session_factory, current=None)  # every stage in the future
    response = signed_in.submit("/ideas/new", form(session_factory, project_id=str(project_id)))
    assert response.status_code == 409
    assert "Приём предложений в этом проекте откроется" in response.text
    assert TITLE in response.text and BODY in response.text  # the typed text is kept
    assert count(session_factory, Idea) == 0
    # the project page's link says so before anything is typed
    page = signed_in.get(f"/ideas/new?project={project_id}")
    assert "Приём предложений в этом проекте откроется" in page.text


def test_proposing_too_late_is_refused(
    signed_in: Browser, session_factory: sessionmaker[Session]
) -> None:
    project_id = make_project(session_factory, current="review")
    response = signed_in.submit("/ideas/new", form(session_factory, project_id=str(project_id)))
    assert response.status_code == 409
    assert "Приём предложений в этом проекте завершился" in response.text
    assert count(session_factory, Idea) == 0


@pytest.mark.parametrize("value", ["999999", "draft", "abc"])
def test_an_unknown_or_draft_project_is_refused_with_422(
    signed_in: Browser, session_factory: sessionmaker[Session], value: str
) -> None:
    if value == "draft":
        value = str(make_project(session_factory, current="proposals", published=False))
    response = signed_in.submit("/ideas/new", form(session_factory, project_id=value))
    assert response.status_code == 422
    assert 'id="project_id-error"' in response.text
    assert count(session_factory, Idea) == 0


def test_the_api_takes_a_project_and_answers_409_out_of_stage(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    headers = bearer(browser, citizen.email)
    open_id = make_project(session_factory, current="proposals")
    later_id = make_project(session_factory, current=None)
    payload = {"title": TITLE, "body": BODY, "category_id": category_id(session_factory)}
    made = browser.post(f"{API}/ideas", json={**payload, "project_id": open_id}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["project_id"] == open_id
    default = browser.post(
        f"{API}/ideas", json={**payload, "title": "Другая идея про парк"}, headers=headers
    )
    assert default.status_code == 201 and default.json()["project_id"] == PERMANENT_PROJECT_ID
    early = browser.post(
        f"{API}/ideas",
        json={**payload, "title": "Третья идея", "project_id": later_id},
        headers=headers,
    )
    assert early.status_code == 409
    assert "откроется" in early.json()["error"]["message"]
    unknown = browser.post(
        f"{API}/ideas",
        json={**payload, "title": "Четвёртая идея", "project_id": 999_999},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert "project_id" in unknown.json()["error"]["fields"]
    assert count(session_factory, Idea) == 2


# --- supporting ------------------------------------------------------------------------------


def _idea_in(factory: Any, current: str | None, **kw: Any) -> tuple[int, int]:
    project_id = make_project(factory, current=current, **kw)
    return project_id, make_project_idea(factory, project_id, "Новая площадка в парке")


def test_supporting_is_open_only_in_the_voting_stage(
    signed_in: Browser, session_factory: sessionmaker[Session]
) -> None:
    _, idea_id = _idea_in(session_factory, "proposals")
    events = count(session_factory, RankingEvent)
    refused = signed_in.submit(f"/ideas/{idea_id}/support")
    assert refused.status_code == 409
    assert "Голосование в этом проекте откроется" in refused.text
    assert count(session_factory, Vote) == 0
    assert count(session_factory, RankingEvent) == events  # nothing logged either
    with transaction(session_factory) as s:
        assert s.get(Idea, idea_id).support_count == 0  # type: ignore[union-attr]

    _, open_idea = _idea_in(session_factory, "voting", slug="voting-now")
    assert signed_in.submit(f"/ideas/{open_idea}/support").status_code == 303
    assert count(session_factory, Vote, Vote.idea_id == open_idea) == 1


def test_withdrawing_after_voting_closed_is_refused(
    signed_in: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    project_id, idea_id = _idea_in(session_factory, "voting")
    assert signed_in.submit(f"/ideas/{idea_id}/support").status_code == 303
    with transaction(session_factory) as s:  # voting closes: the results stage begins
        now = utcnow()
        for stage in s.scalars(select(ProjectStage).where(ProjectStage.project_id == project_id)):
            start, end = stages_around("results", now)[stage.stage]
            stage.starts_at, stage.ends_at = start, end
    withdraw = signed_in.submit(f"/ideas/{idea_id}/withdraw")
    assert withdraw.status_code == 409
    assert "Голосование в этом проекте завершилось" in withdraw.text
    assert count(session_factory, Vote, Vote.idea_id == idea_id) == 1


def test_a_budget_project_takes_no_supports(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    _, idea_id = _idea_in(session_factory, "voting", voting="knapsack")
    headers = bearer(browser, citizen.email)
    response = browser.post(f"{API}/ideas/{idea_id}/support", headers=headers)
    assert response.status_code == 409
    assert count(session_factory, Vote) == 0


def test_the_permanent_pool_stays_open_for_supports(
    signed_in: Browser, session_factory: sessionmaker[Session]
) -> None:
    idea_id = make_project_idea(session_factory, PERMANENT_PROJECT_ID, "Скамейки у пруда")
    assert signed_in.submit(f"/ideas/{idea_id}/support").status_code == 303
    assert count(session_factory, Vote, Vote.idea_id == idea_id) == 1


def test_the_idea_page_hides_the_button_and_says_when_voting_opens(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    starts = utcnow().replace(microsecond=0) + timedelta(days=3)
    stages: dict[str, tuple[datetime, datetime | None]] = {
        "proposals": (starts - timedelta(days=10), starts - timedelta(days=1)),
        "voting": (starts, starts + timedelta(days=7)),
    }
    project_id = make_project(session_factory, stages=stages, title_ru="Парки района")
    idea_id = make_project_idea(session_factory, project_id, "Новая площадка в парке")
    browser.login(citizen.email)
    page = browser.get(f"/ideas/{idea_id}")
    assert page.status_code == 200
    assert "data-support-closed" in page.text
    assert "Голосование в этом проекте откроется" in page.text
    tr = browser.app.state.translators["ru"]  # type: ignore[attr-defined]
    assert tr.datetime(starts) in page.text  # e.g. "1 марта 2027 г., 10:00", in the city's time
    assert f'action="/ideas/{idea_id}/support"' not in page.text
    assert f'href="/projects/{project_id}"' in page.text and "Парки района" in page.text
    # the permanent pool's ideas keep the button, and name no project
    pooled = make_project_idea(session_factory, PERMANENT_PROJECT_ID, "Скамейки у пруда")
    pooled_page = browser.get(f"/ideas/{pooled}")
    assert f'action="/ideas/{pooled}/support"' in pooled_page.text
    assert "data-support-closed" not in pooled_page.text
    assert "data-idea-project" not in pooled_page.text
