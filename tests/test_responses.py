"""Official answers: the status workflow, public responses, notifications, audit, the form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.officials_helpers import (
    add_idea,
    logged_in,
    merge_into,
    officials_settings,
    vote,
    voters,
)
from webapp.app import create_app
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, InvalidInput, PermissionDenied
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    Idea,
    Notification,
    OfficialResponse,
    RankingEvent,
)
from webapp.officials import responses

TEXT = "Мы изучили предложение и включили его в план работ на следующий год."


@pytest.fixture
def app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(officials_settings(settings))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def official(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "official@example.org", role="official", name="Oleg")


def _answer(
    factory: Any, user: Any, idea_id: int, status: str, body: str = TEXT, email: bool = False
) -> responses.AnswerResult:
    with transaction(factory) as s:
        return responses.answer(s, user, idea_id, status, body, email=email)


def _status(factory: Any, idea_id: int) -> str:
    with transaction(factory) as s:
        return str(s.scalar(select(Idea.status).where(Idea.id == idea_id)))


def _count(factory: Any, model: Any, *where: Any) -> int:
    with transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --- the workflow table -----------------------------------------------------------------------

PATHS_ALLOWED = [
    ["under_review", "accepted", "in_progress", "implemented"],
    ["accepted", "implemented"],
    ["under_review", "rejected", "under_review", "in_progress"],
    ["rejected"],
    ["under_review", "under_review", "accepted", "accepted"],  # further responses keep a status
]
REFUSED = [
    ("published", "implemented"),
    ("published", "in_progress"),
    ("implemented", "rejected"),
    ("implemented", "in_progress"),
    ("rejected", "accepted"),
    ("in_progress", "accepted"),
    ("accepted", "under_review"),
]


@pytest.mark.parametrize("path", PATHS_ALLOWED)
def test_allowed_paths_through_the_workflow(
    session_factory: sessionmaker[Session], official: CurrentUser, path: list[str]
) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы")
    for status in path:
        result = _answer(session_factory, official, idea, status)
        assert result.status == status
        assert _status(session_factory, idea) == status
    assert _count(session_factory, OfficialResponse, OfficialResponse.idea_id == idea) == len(path)


@pytest.mark.parametrize(("start", "target"), REFUSED)
def test_steps_outside_the_table_are_refused_and_change_nothing(
    session_factory: sessionmaker[Session], official: CurrentUser, start: str, target: str
) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы", status=start)
    with pytest.raises(Conflict):
        _answer(session_factory, official, idea, target)
    assert _status(session_factory, idea) == start
    assert _count(session_factory, OfficialResponse) == 0
    assert _count(session_factory, AuditLog) == 0


def test_the_table_is_the_one_the_service_enforces() -> None:
    for current, targets in responses.TRANSITIONS.items():
        allowed = responses.allowed_statuses(current)
        assert set(targets) <= set(allowed)
        assert "published" not in allowed and "hidden" not in allowed and "merged" not in allowed
        assert set(allowed) - set(targets) <= {current}
    assert responses.TRANSITIONS["implemented"] == ()


def test_text_is_required_except_for_review_and_limited_in_length(
    session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы")
    with pytest.raises(InvalidInput) as exc:
        _answer(session_factory, official, idea, "accepted", "   ")
    assert set(exc.value.errors) == {"body"}
    with pytest.raises(InvalidInput) as exc:
        _answer(session_factory, official, idea, "rejected", "Нет.")
    assert "body" in exc.value.errors
    with pytest.raises(InvalidInput) as exc:
        _answer(
            session_factory, official, idea, "accepted", "x" * (responses.RESPONSE_MAX_LENGTH + 1)
        )
    assert exc.value.errors["body"][1] == {"max": responses.RESPONSE_MAX_LENGTH}
    for bad in ("", "merged", "hidden", "published", "done"):
        with pytest.raises(InvalidInput) as exc:
            _answer(session_factory, official, idea, bad)
        assert "status" in exc.value.errors
    assert _status(session_factory, idea) == "published"
    # under review: no text needed, and it does not count as a response
    result = _answer(session_factory, official, idea, "under_review", "")
    assert result.status == "under_review" and result.response.body == ""
    with transaction(session_factory) as s:
        row = s.get_one(Idea, idea)
        assert row.responded_at is None and row.status_changed_at is not None
    # the same status without text is nothing to publish
    with pytest.raises(Conflict):
        _answer(session_factory, official, idea, "under_review", "")


def test_citizens_and_moderators_cannot_answer(session_factory: sessionmaker[Session]) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы")
    for role in ("citizen", "moderator"):
        user = make_user(session_factory, f"{role}@example.org", role=role)
        with pytest.raises(PermissionDenied):
            _answer(session_factory, user, idea, "accepted")
    assert _status(session_factory, idea) == "published"


def test_merged_and_hidden_ideas_cannot_be_answered(
    session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    canonical = add_idea(session_factory, "Светофор у школы номер пять")
    member = add_idea(session_factory, "Светофор возле пятой школы")
    merge_into(session_factory, member, canonical)
    hidden = add_idea(session_factory, "Оскорбительный текст", status="hidden")
    for idea in (member, hidden):
        with pytest.raises(Conflict):
            _answer(session_factory, official, idea, "accepted")
    assert _count(session_factory, OfficialResponse) == 0


# --- what an answer writes --------------------------------------------------------------------


def test_an_answer_writes_status_clocks_ranking_event_audit_and_notifications(
    session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    author = make_user(session_factory, "author@example.org", name="Galina")
    idea = add_idea(session_factory, "Новый светофор у школы", author=author)
    people = voters(session_factory, 3)
    for v in people:
        vote(session_factory, v, idea)
    vote(session_factory, official, idea)  # the official supports it too: not notified
    events_before = _count(session_factory, RankingEvent, RankingEvent.kind == "idea")

    first = _answer(session_factory, official, idea, "accepted", TEXT, email=True)
    assert (first.previous_status, first.status) == ("published", "accepted")
    assert first.notified == 4  # three supporters and the author, not the official
    with transaction(session_factory) as s:
        row = s.get_one(Idea, idea)
        responded, changed = row.responded_at, row.status_changed_at
        assert responded is not None and changed is not None
        answer_row = s.scalars(select(OfficialResponse)).one()
        assert (answer_row.status, answer_row.previous_status, answer_row.body) == (
            "accepted",
            "published",
            TEXT,
        )
        assert answer_row.author_id == official.id
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "idea.status")).one()
        assert (entry.actor_id, entry.target_type, entry.target_id) == (official.id, "idea", idea)
        assert entry.details["before"]["status"] == "published"
        assert entry.details["before"]["responded_at"] is None
        assert entry.details["after"]["status"] == "accepted"
        assert entry.details["after"]["response_id"] == answer_row.id
        assert entry.reason == TEXT
        notes = s.scalars(select(Notification).order_by(Notification.user_id)).all()
        assert sorted(n.user_id for n in notes) == sorted([author.id, *(v.id for v in people)])
        assert {n.kind for n in notes} == {"response"}
        assert {n.email_state for n in notes} == {"pending"}
        assert (
            notes[0].data["status"] == "accepted"
            and notes[0].data["title"] == "Новый светофор у школы"
        )
        assert notes[0].data["response"] == TEXT and notes[0].idea_id == idea
    assert _count(session_factory, RankingEvent, RankingEvent.kind == "idea") == events_before + 1

    # a second response: the status clock moves, the response clock keeps the first answer
    second = _answer(session_factory, official, idea, "in_progress", "Работы начались в марте.")
    assert second.previous_status == "accepted"
    with transaction(session_factory) as s:
        row = s.get_one(Idea, idea)
        assert row.responded_at == responded
        assert changed is not None and row.status_changed_at is not None
        assert row.status_changed_at >= changed
        assert [
            n.email_state
            for n in s.scalars(
                select(Notification).where(
                    Notification.data["response_id"].as_integer() == second.response.id
                )
            )
        ] == [None] * 4
    assert _count(session_factory, AuditLog, AuditLog.action == "idea.status") == 2


def test_a_status_change_without_text_notifies_as_status(
    session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы")
    people = voters(session_factory, 2)
    for v in people:
        vote(session_factory, v, idea)
    _answer(session_factory, official, idea, "under_review", "")
    with transaction(session_factory) as s:
        kinds = s.scalars(select(Notification.kind)).all()
    assert kinds == ["status", "status"]


def test_supporters_of_merged_ideas_are_notified_once(
    session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    canonical = add_idea(session_factory, "Светофор у школы номер пять")
    member = add_idea(session_factory, "Светофор возле пятой школы")
    both, only_member = voters(session_factory, 2)
    for idea in (canonical, member):
        vote(session_factory, both, idea)
    vote(session_factory, only_member, member)
    merge_into(session_factory, member, canonical)
    result = _answer(session_factory, official, canonical, "accepted")
    assert result.notified == 2
    with transaction(session_factory) as s:
        users = sorted(s.scalars(select(Notification.user_id)))
    assert users == sorted([both.id, only_member.id])


# --- the site ---------------------------------------------------------------------------------


@pytest.fixture
def official_browser(app: Starlette, session_factory: sessionmaker[Session]) -> Iterator[Browser]:
    b = logged_in(app, session_factory, "official")
    yield b
    b.__exit__(None, None, None)


def test_the_form_answers_and_the_public_page_shows_the_response(
    app: Starlette, session_factory: sessionmaker[Session], official_browser: Browser
) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы")
    page = official_browser.get(f"/officials/ideas/{idea}")
    assert page.status_code == 200
    assert 'name="status"' in page.text and 'value="accepted"' in page.text
    assert 'value="implemented"' not in page.text  # not a step from "published"
    response = official_browser.submit(
        f"/officials/ideas/{idea}/status", {"status": "accepted", "body": TEXT}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/officials/ideas/{idea}"
    assert _status(session_factory, idea) == "accepted"
    after = official_browser.get(f"/officials/ideas/{idea}").text
    assert TEXT in after
    with Browser(app) as visitor:
        public = visitor.get(f"/ideas/{idea}").text
        assert TEXT in public and "Oleg" in public
        assert f"/officials/ideas/{idea}" not in public  # the officials' link is for officials
    assert f"/officials/ideas/{idea}" in official_browser.get(f"/ideas/{idea}").text


def test_the_form_shows_localised_errors_and_keeps_the_text(
    session_factory: sessionmaker[Session], official_browser: Browser
) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы")
    response = official_browser.submit(
        f"/officials/ideas/{idea}/status", {"status": "rejected", "body": "Нет."}
    )
    assert response.status_code == 422
    assert "Нет." in response.text
    assert "Должно быть не короче 10 символов." in response.text
    assert 'aria-invalid="true"' in response.text
    assert _status(session_factory, idea) == "published"
    english = official_browser.submit(
        f"/officials/ideas/{idea}/status",
        {"status": "accepted", "body": ""},
        headers={"accept-language": "en"},
    )
    assert english.status_code == 422
    assert "Write the public response: it is required for this status." in english.text
    # a step not allowed from the current status: 409 with a message
    conflict = official_browser.submit(
        f"/officials/ideas/{idea}/status", {"status": "implemented", "body": TEXT}
    )
    assert conflict.status_code == 409
    assert "Такая смена статуса невозможна из текущего статуса идеи." in conflict.text
    assert TEXT in conflict.text  # the text typed is kept
    assert _count(session_factory, OfficialResponse) == 0


def test_the_form_needs_the_csrf_token_and_the_answer_permission(
    app: Starlette, session_factory: sessionmaker[Session], official_browser: Browser
) -> None:
    idea = add_idea(session_factory, "Новый светофор у школы")
    forged = official_browser.post(
        f"/officials/ideas/{idea}/status", data={"status": "accepted", "body": TEXT}
    )
    assert forged.status_code == 403
    for role in ("citizen", "moderator"):
        b = logged_in(app, session_factory, role)
        try:
            assert (
                b.submit(
                    f"/officials/ideas/{idea}/status", {"status": "accepted", "body": TEXT}
                ).status_code
                == 403
            )
            assert b.get(f"/officials/ideas/{idea}").status_code == 403
        finally:
            b.__exit__(None, None, None)
    assert _status(session_factory, idea) == "published"


def test_merged_and_hidden_ideas_show_no_form(
    session_factory: sessionmaker[Session], official_browser: Browser
) -> None:
    canonical = add_idea(session_factory, "Светофор у школы номер пять")
    member = add_idea(session_factory, "Светофор возле пятой школы")
    merge_into(session_factory, member, canonical)
    page = official_browser.get(f"/officials/ideas/{member}")
    assert page.status_code == 200
    assert 'name="status"' not in page.text
    assert f"/officials/ideas/{canonical}" in page.text
    refused = official_browser.submit(
        f"/officials/ideas/{member}/status", {"status": "accepted", "body": TEXT}
    )
    assert refused.status_code == 409
