"""Citizens' flows through the real app: submit, view, edit, browse, search, support, comment."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Comment, District, Idea, User, Vote
from webapp.ranking import ranking_log

BODY = "Нужно проложить безопасные велодорожки вдоль парков и набережных района."


def category_id(session_factory: Any, slug: str = "transport") -> int:
    with transaction(session_factory) as s:
        return s.execute(select(Category.id).where(Category.slug == slug)).scalar_one()


def district_id(session_factory: Any, slug: str) -> int:
    with transaction(session_factory) as s:
        return s.execute(select(District.id).where(District.slug == slug)).scalar_one()


def submit(browser: Browser, session_factory: Any, **overrides: Any) -> Any:
    data = {
        "title": "Велодорожки в парках",
        "body": BODY,
        "category_id": str(category_id(session_factory)),
        "district_id": "",
        "confirm_similar": "1",  # past the "check for similar ideas" step
    }
    data.update(overrides)
    return browser.submit("/ideas/new", data)


def idea_id_from(response: Any) -> int:
    match = re.search(r"/ideas/(\d+)$", response.headers["location"])
    assert match, response.headers.get("location")
    return int(match.group(1))


def count(session_factory: Any, model: Any, *where: Any) -> int:
    with transaction(session_factory) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_submitted_idea_is_shown_on_its_own_page(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    response = submit(browser, session_factory)
    assert response.status_code == 303
    page = browser.get(response.headers["location"])
    assert page.status_code == 200
    assert "Велодорожки в парках" in page.text
    assert "Ваша идея опубликована" in page.text or "Your idea is published" in page.text


def test_anonymous_visitor_is_sent_to_login_to_submit(browser: Browser) -> None:
    response = browser.get("/ideas/new")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("field", "value", "message_ru"),
    [
        ("title", "", "Обязательное поле"),
        ("title", "abc", "не короче 5"),
        ("title", "x" * 201, "не длиннее 200"),
        ("body", "коротко", "не короче 20"),
        ("category_id", "", "Выберите категорию"),
        ("category_id", "999999", "Неизвестное значение"),
        ("category_id", "abc", "целое число"),
        ("district_id", "999999", "Неизвестное значение"),
        ("title", "Заголовок\x00с нулём", "управляющие"),
        ("body", "Текст с подменой направления \u202e внутри описания", "управляющие"),
    ],
)
def test_invalid_idea_is_refused_with_a_russian_message_and_nothing_stored(
    browser: Browser,
    citizen: CurrentUser,
    session_factory: sessionmaker[Session],
    field: str,
    value: str,
    message_ru: str,
) -> None:
    browser.login(citizen.email)
    response = submit(browser, session_factory, **{field: value})
    assert response.status_code == 422
    assert message_ru in response.text
    assert count(session_factory, Idea) == 0


def test_validation_messages_follow_the_chosen_language(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    browser.submit("/language", {"lang": "en", "next": "/"})
    response = submit(browser, session_factory, title="")
    assert response.status_code == 422
    assert "This field is required." in response.text
    assert '<html lang="en">' in response.text


def test_user_text_is_escaped(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    evil = "<script>alert('x')</script> парк"
    response = submit(
        browser, session_factory, title=evil, body=BODY + " <img src=x onerror=alert(1)>"
    )
    page = browser.get(response.headers["location"])
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "<img src=x" not in page.text


def test_author_can_edit_until_someone_supports(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session], app: Starlette
) -> None:
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    response = browser.submit(
        f"/ideas/{idea_id}/edit",
        {
            "title": "Велодорожки во всех парках",
            "body": BODY,
            "category_id": str(category_id(session_factory)),
        },
    )
    assert response.status_code == 303
    assert "Велодорожки во всех парках" in browser.get(f"/ideas/{idea_id}").text

    other = Browser(app)
    make_user(session_factory, "neighbour@example.org")
    other.login("neighbour@example.org")
    assert (
        other.submit(
            f"/ideas/{idea_id}/edit",
            {
                "title": "Чужая правка",
                "body": BODY,
                "category_id": str(category_id(session_factory)),
            },
        ).status_code
        == 403
    )
    assert other.submit(f"/ideas/{idea_id}/support").status_code == 303

    response = browser.submit(
        f"/ideas/{idea_id}/edit",
        {"title": "Поздняя правка", "body": BODY, "category_id": str(category_id(session_factory))},
    )
    assert response.status_code == 409
    with transaction(session_factory) as s:
        assert s.get_one(Idea, idea_id).title == "Велодорожки во всех парках"


def test_support_is_idempotent_and_can_be_withdrawn(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    for _ in range(3):  # a triple click
        assert browser.submit(f"/ideas/{idea_id}/support").status_code == 303
    assert count(session_factory, Vote, Vote.idea_id == idea_id) == 1
    with transaction(session_factory) as s:
        assert s.get_one(Idea, idea_id).support_count == 1
    page = browser.get(f"/ideas/{idea_id}")
    assert "Отозвать поддержку" in page.text

    browser.submit(f"/ideas/{idea_id}/withdraw")
    browser.submit(f"/ideas/{idea_id}/withdraw")
    assert count(session_factory, Vote, Vote.idea_id == idea_id) == 0
    with transaction(session_factory) as s:
        assert s.get_one(Idea, idea_id).support_count == 0


def test_support_without_reload_answers_json_with_the_new_box(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    response = browser.submit(f"/ideas/{idea_id}/support", headers={"accept": "application/json"})
    assert response.status_code == 200
    data = response.json()
    assert data["support_count"] == 1 and data["my_vote"] == 1 and data["changed"] is True
    assert "data-support-box" in data["html"] and "Отозвать поддержку" in data["html"]


def test_the_json_box_follows_the_vote_and_the_authors_right_to_edit(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session], app: Starlette
) -> None:
    """The box is rendered from the vote's own transaction: counts, my vote, and "Edit idea"
    for the author only while nobody has voted."""
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    json_accept = {"accept": "application/json"}
    with Browser(app) as other:
        make_user(session_factory, "neighbour@example.org")
        other.login("neighbour@example.org")
        first = other.submit(f"/ideas/{idea_id}/support", headers=json_accept).json()
        assert (first["support_count"], first["my_vote"], first["changed"]) == (1, 1, True)
        again = other.submit(f"/ideas/{idea_id}/support", headers=json_accept).json()
        assert (again["support_count"], again["changed"]) == (1, False)
        assert "Изменить идею" not in first["html"]  # not the author's box
        gone = other.submit(f"/ideas/{idea_id}/withdraw", headers=json_accept).json()
        assert (gone["support_count"], gone["my_vote"], gone["changed"]) == (0, 0, True)
        assert "▲ Поддержать" in gone["html"]
    # the author withdraws from an idea nobody else supports: editable again
    mine = browser.submit(f"/ideas/{idea_id}/support", headers=json_accept).json()
    assert mine["support_count"] == 1 and "Изменить идею" not in mine["html"]
    back = browser.submit(f"/ideas/{idea_id}/withdraw", headers=json_accept).json()
    assert back["support_count"] == 0 and "Изменить идею" in back["html"]
    with transaction(session_factory) as s:
        assert s.get_one(Idea, idea_id).support_count == 0
    assert count(session_factory, Vote, Vote.idea_id == idea_id) == 0


def test_a_session_of_a_blocked_citizen_cannot_vote(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session], app: Starlette
) -> None:
    """The vote button trusts the session only for who is asking: the same transaction that
    records the vote checks that the account is still active."""
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    with Browser(app) as voter:
        make_user(session_factory, "troll@example.org")
        voter.login("troll@example.org")
        with transaction(session_factory) as s:
            s.execute(update(User).where(User.email == "troll@example.org").values(blocked=True))
        r = voter.submit(f"/ideas/{idea_id}/support", headers={"accept": "application/json"})
        assert r.status_code == 401
        r = voter.submit(f"/ideas/{idea_id}/support")
        assert r.status_code == 401 or "/login" in r.headers.get("location", "")
    assert count(session_factory, Vote, Vote.idea_id == idea_id) == 0
    with transaction(session_factory) as s:
        assert s.get_one(Idea, idea_id).support_count == 0


def test_opposing_is_off_by_default(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    assert "Против" not in browser.get(f"/ideas/{idea_id}").text
    assert browser.submit(f"/ideas/{idea_id}/oppose").status_code == 403
    assert count(session_factory, Vote) == 0


def test_opposing_when_enabled(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    from dataclasses import replace

    from webapp.app import create_app

    app = create_app(replace(settings, allow_oppose=True))
    with Browser(app) as b:
        make_user(session_factory, "opp@example.org")
        b.login("opp@example.org")
        idea_id = idea_id_from(submit(b, session_factory))
        b.submit(f"/ideas/{idea_id}/support")
        assert b.submit(f"/ideas/{idea_id}/oppose").status_code == 303
        with transaction(session_factory) as s:
            idea = s.get_one(Idea, idea_id)
            assert (idea.support_count, idea.oppose_count) == (0, 1)
        assert count(session_factory, Vote) == 1
    app.state.engine.dispose()


def test_comments_are_published_and_listed(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    assert (
        browser.submit(
            f"/ideas/{idea_id}/comments", {"body": "Поддерживаю, <b>очень</b> нужно!"}
        ).status_code
        == 303
    )
    page = browser.get(f"/ideas/{idea_id}")
    assert "Поддерживаю, &lt;b&gt;очень&lt;/b&gt; нужно!" in page.text
    assert count(session_factory, Comment) == 1
    browser.submit(f"/ideas/{idea_id}/comments", {"body": ""})
    assert count(session_factory, Comment) == 1


def test_my_ideas_lists_only_my_ideas(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session], app: Starlette
) -> None:
    browser.login(citizen.email)
    submit(browser, session_factory, title="Моя первая идея для района")
    make_user(session_factory, "other@example.org")
    with Browser(app) as other:
        other.login("other@example.org")
        submit(other, session_factory, title="Чужая идея про дворы")
    page = browser.get("/my/ideas").text
    assert "Моя первая идея для района" in page
    assert "Чужая идея про дворы" not in page


def _seed_ideas(session_factory: Any, n: int) -> None:
    from webapp.kernel.search_text import search_document

    with transaction(session_factory) as s:
        cat = s.scalar(select(Category.id).where(Category.slug == "parks"))
        for i in range(n):
            title = f"Идея номер {i}"
            body = "Описание идеи про парк и деревья для жителей района."
            s.add(
                Idea(
                    title=title,
                    body=body,
                    category_id=cat,
                    language="ru",
                    support_count=i,
                    search_doc=search_document(title, body),
                )
            )
        ranking_log.recompute(s)  # a bulk insert, as `veche import` logs it


def test_list_is_paginated_and_sorted(
    browser: Browser, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _seed_ideas(session_factory, settings.page_size + 5)
    for sort in ("supporters", "new"):  # the raw counter in SQL, and the snapshot's order
        first = browser.get(f"/?sort={sort}").text
        assert "Идея номер 24" in first and "Идея номер 0<" not in first
        assert "Страница 1 из 2" in first
        second = browser.get(f"/?sort={sort}&page=2").text
        assert "Идея номер 0<" in second
    assert browser.get("/?page=abc").status_code == 200
    assert browser.get("/?page=99999999999").status_code == 200


def test_filters_by_category_district_and_status(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    arbat = district_id(session_factory, "arbat")
    cao = district_id(session_factory, "cao")
    submit(browser, session_factory, title="Скамейки на Арбате", district_id=str(arbat))
    submit(
        browser,
        session_factory,
        title="Новый парк в Митино",
        category_id=str(category_id(session_factory, "parks")),
    )
    assert (
        "Скамейки на Арбате" in browser.get(f"/?district={cao}").text
    )  # an okrug includes its districts
    assert "Новый парк в Митино" not in browser.get(f"/?district={cao}").text
    parks = category_id(session_factory, "parks")
    page = browser.get(f"/?category={parks}").text
    assert "Новый парк в Митино" in page and "Скамейки на Арбате" not in page
    assert "Ничего не нашлось" in browser.get("/?status=implemented").text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("велодорожка", "Велодорожки в парках"),  # Russian morphology
        ("парков", "Велодорожки в парках"),
        ("cycling", "Cycle lanes on the embankment"),  # English stemming
        ("cycle lane", "Cycle lanes on the embankment"),
        ("велодо", "Велодорожки в парках"),  # prefix while typing
    ],
)
def test_full_text_search_understands_russian_and_english(
    browser: Browser,
    citizen: CurrentUser,
    session_factory: sessionmaker[Session],
    query: str,
    expected: str,
) -> None:
    browser.login(citizen.email)
    submit(browser, session_factory)
    submit(
        browser,
        session_factory,
        title="Cycle lanes on the embankment",
        body="Build protected cycling lanes along the river embankment for commuters.",
    )
    submit(
        browser,
        session_factory,
        title="Ремонт подъездов",
        body="Отремонтировать подъезды в старых домах, покрасить стены и заменить лампы.",
    )
    page = browser.get("/", params={"q": query}).text
    assert expected in page
    assert "Ремонт подъездов" not in page


def test_search_input_cannot_break_the_query(browser: Browser) -> None:
    for q in ['"', "AND OR NOT", "*", "'; DROP TABLE ideas; --", "NEAR(", ":*", "\\", "()"]:
        assert browser.get("/", params={"q": q}).status_code == 200


def test_hidden_idea_is_not_found_for_others(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session], app: Starlette
) -> None:
    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    with transaction(session_factory) as s:
        s.get_one(Idea, idea_id).status = "hidden"
    with Browser(app) as anon:
        assert anon.get(f"/ideas/{idea_id}").status_code == 404
    assert browser.get(f"/ideas/{idea_id}").status_code == 200  # the author still sees it


def test_merged_idea_redirects_to_the_canonical_one(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    a = idea_id_from(submit(browser, session_factory, title="Первая копия идеи"))
    b = idea_id_from(submit(browser, session_factory, title="Вторая копия идеи"))
    with transaction(session_factory) as s:
        idea = s.get_one(Idea, b)
        idea.status, idea.merged_into_id = "merged", a
    response = browser.get(f"/ideas/{b}")
    # 303, not a permanent 301: an unmerge brings the idea's own page back.
    assert response.status_code == 303 and response.headers["location"] == f"/ideas/{a}"
    assert browser.submit(f"/ideas/{b}/support").status_code == 409


def test_report_an_idea(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    from webapp.kernel.storage.models import Report

    browser.login(citizen.email)
    idea_id = idea_id_from(submit(browser, session_factory))
    # the author cannot report their own idea; the refusal is said on the idea page
    assert browser.submit(f"/ideas/{idea_id}/report", {"reason": "Спам"}).status_code == 303
    assert "пожаловаться на то, что вы написали сами" in browser.get(f"/ideas/{idea_id}").text
    assert count(session_factory, Report) == 0
    browser.submit("/logout")
    make_user(session_factory, "reader@example.org", name="Пётр")
    browser.login("reader@example.org")
    assert browser.submit(f"/ideas/{idea_id}/report", {"reason": "Спам"}).status_code == 303
    assert browser.submit(f"/ideas/{idea_id}/report", {"reason": "Спам"}).status_code == 303
    assert "Вы уже пожаловались" in browser.get(f"/ideas/{idea_id}").text
    assert count(session_factory, Report) == 1


def test_empty_list_has_a_helpful_empty_state(browser: Browser) -> None:
    page = browser.get("/").text
    assert "Идей пока нет" in page
    assert 'href="/ideas/new"' in page


def test_unknown_page_is_a_helpful_404(browser: Browser) -> None:
    response = browser.get("/no/such/page")
    assert response.status_code == 404
    assert "Страница не найдена" in response.text
    assert 'role="search"' in response.text


def test_a_single_spanish_word_finds_a_spanish_idea(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    submit(
        browser,
        session_factory,
        title="Remodelación de la rotonda de Canillejas",
        body="Proponemos la remodelación de la rotonda y de la vía de servicio para los vecinos.",
    )
    for query in ("Remodelación", "remodelacion", "rotondas"):
        assert "Remodelación de la rotonda" in browser.get("/", params={"q": query}).text, query


@pytest.mark.parametrize("idea_id", [str(2**31), "99999999999", str(10**30)])
def test_ids_beyond_a_database_integer_are_404_not_500(
    app: Any, browser: Browser, citizen: Any, idea_id: str
) -> None:
    """Regression (fuzzing): /ideas/10**30/edit overflowed the database integer and answered 500."""
    browser.login(citizen.email)
    for url in [f"/ideas/{idea_id}", f"/ideas/{idea_id}/edit", f"/api/v1/ideas/{idea_id}"]:
        assert browser.get(url).status_code == 404, url
    for url in [f"/ideas/{idea_id}/support", f"/ideas/{idea_id}/comments"]:
        assert browser.submit(url, {"body": "Хороший комментарий"}).status_code == 404, url
    assert browser.get("/ideas/2147483647").status_code == 404  # the largest id is a real URL
