"""Poll results: raw and corrected shares, who sees them when, the CSV, and no individual answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import Browser, make_user
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    District,
    Poll,
    PollAnswer,
    PollOption,
    PollQuestion,
    PollResponse,
)
from webapp.polls import results as results_service

SECRET = "planted-other-text-7f3a9c"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    results_service.clear_cache()


def _poll(session_factory: Any, *, closed: bool, live: bool = False) -> dict[str, int]:
    """A poll with one single-choice question: 3 Arbat residents say A, 1 Tverskoy resident says
    B (and writes a free-text "other")."""
    now = datetime.now(UTC)
    users = [make_user(session_factory, f"r{i}-{closed}-{live}@example.org") for i in range(4)]
    with transaction(session_factory) as s:
        ids = {d.slug: d.id for d in s.scalars(select(District))}
        poll = Poll(
            slug=f"p-{closed}-{live}",
            title_ru="Парк",
            title_en="Park",
            opens_at=now - timedelta(days=5),
            closes_at=now - timedelta(days=1) if closed else now + timedelta(days=5),
            results_live=live,
            published=True,
        )
        s.add(poll)
        s.flush()
        q = PollQuestion(
            poll_id=poll.id, position=0, kind="single", text_ru="Что?", allow_other=True
        )
        s.add(q)
        s.flush()
        a = PollOption(question_id=q.id, position=0, text_ru="Вариант А", text_en="Option A")
        b = PollOption(question_id=q.id, position=1, text_ru="Вариант Б", text_en="Option B")
        s.add_all([a, b])
        s.flush()
        for n, user in enumerate(users):
            district = ids["arbat"] if n < 3 else ids["tverskoy"]
            r = PollResponse(poll_id=poll.id, user_id=user.id, district_id=district)
            s.add(r)
            s.flush()
            s.add(PollAnswer(response_id=r.id, question_id=q.id, option_id=a.id if n < 3 else b.id))
            if n == 3:
                s.add(
                    PollAnswer(
                        response_id=r.id, question_id=q.id, option_id=None, other_text=SECRET
                    )
                )
        return {"poll": poll.id, "user": users[3].id}


def test_raw_and_corrected_shares(app: Any, session_factory: Any) -> None:
    ids = _poll(session_factory, closed=True)
    browser = Browser(app)
    page = browser.get(f"/polls/{ids['poll']}/results", headers={"Accept-Language": "ru"})
    assert page.status_code == 200, page.text[:500]
    # raw: 3 of 4 chose A; corrected: Arbat 35,675 vs Tverskoy 76,387 people -> A = 31.8 %
    assert "75,0 %" in page.text
    assert "31,8 %" in page.text
    assert "68,2 %" in page.text
    data = browser.get(f"/polls/{ids['poll']}/results.json").json()
    opt = data["questions"][0]["options"][0]
    assert opt["count"] == 3
    assert opt["raw"]["value"] == pytest.approx(0.75)
    assert opt["corrected"]["value"] == pytest.approx(35675 / (35675 + 76387))
    assert opt["raw"]["low"] < 0.75 < opt["raw"]["high"]
    assert data["questions"][0]["other_count"] == 1
    assert data["design_effect"] > 1.0


def test_visibility_before_and_after_close(app: Any, session_factory: Any) -> None:
    open_poll = _poll(session_factory, closed=False)["poll"]
    live_poll = _poll(session_factory, closed=False, live=True)["poll"]
    anon = Browser(app)
    for suffix in ("", ".csv", ".json"):
        assert anon.get(f"/polls/{open_poll}/results{suffix}").status_code == 404
        assert anon.get(f"/polls/{live_poll}/results{suffix}").status_code == 200
    make_user(session_factory, "official-pr@example.org", role="official")
    official = Browser(app)
    official.login("official-pr@example.org")
    page = official.get(f"/polls/{open_poll}/results", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Preview" in page.text or "Предпросмотр" in page.text
    closed_poll = _poll(session_factory, closed=True)["poll"]
    assert anon.get(f"/polls/{closed_poll}/results").status_code == 200


def test_csv_opens_in_excel(app: Any, session_factory: Any) -> None:
    ids = _poll(session_factory, closed=True)
    response = Browser(app).get(f"/polls/{ids['poll']}/results.csv")
    assert response.status_code == 200
    body = response.content
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    assert "\r\n" in text
    header = text.split("\r\n")[0]
    assert header.count(";") == 12
    assert "0,7500" in text  # decimal comma


def test_no_individual_answer_leaks(app: Any, session_factory: Any) -> None:
    ids = _poll(session_factory, closed=True)
    make_user(session_factory, "official-leak@example.org", role="official")
    official = Browser(app)
    official.login("official-leak@example.org")
    for client in (Browser(app), official):
        for suffix in ("", ".csv", ".json"):
            body = client.get(f"/polls/{ids['poll']}/results{suffix}").text
            assert SECRET not in body
            assert f'"user_id": {ids["user"]}' not in body


def test_api_results_same_visibility_and_aggregates(app: Any, session_factory: Any) -> None:
    closed = _poll(session_factory, closed=True)
    hidden = _poll(session_factory, closed=False)["poll"]
    client = Browser(app)
    assert client.get(f"/api/v1/polls/{hidden}/results").status_code == 404
    response = client.get(f"/api/v1/polls/{closed['poll']}/results")
    assert response.status_code == 200, response.text[:300]
    assert response.json()["questions"][0]["options"][0]["count"] == 3
    assert SECRET not in response.text


def test_a_breakdown_never_shows_what_a_handful_of_people_answered(
    app: Any, session_factory: Any
) -> None:
    """The lone Tverskoy resident's choice must not be readable from the district breakdown:
    groups under MIN_GROUP respondents are pooled, and a pool that small is withheld."""
    ids = _poll(session_factory, closed=True)
    browser = Browser(app)
    data = browser.get(f"/polls/{ids['poll']}/results.json").json()
    question = data["questions"][0]
    for groups in (question["okrugs"], question["districts"]):
        assert all(g["respondents"] >= results_service.MIN_GROUP or not g["values"] for g in groups)
        assert sum(g["respondents"] for g in groups) == 4
    page = browser.get(f"/polls/{ids['poll']}/results", headers={"Accept-Language": "ru"}).text
    assert "слишком мало ответов" in page


def test_csv_defuses_formulas_in_texts(app: Any, session_factory: Any) -> None:
    """An option text that a spreadsheet would run as a formula is written with a quote."""
    ids = _poll(session_factory, closed=True)
    with transaction(session_factory) as s:
        option = s.scalars(select(PollOption).order_by(PollOption.id.desc())).first()
        assert option is not None
        option.text_ru = '=HYPERLINK("http://evil.example","x")'
    text = Browser(app).get(f"/polls/{ids['poll']}/results.csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert ';"=HYPERLINK' not in text and ";=HYPERLINK" not in text


def test_the_shared_body_never_carries_one_readers_page_to_another(
    app: Any, session_factory: Any
) -> None:
    """The results body is rendered once and shared; each reader still gets their own frame
    (name, menu) and only their own links (the moderators' link only for moderators)."""
    ids = _poll(session_factory, closed=True)
    make_user(session_factory, "mod-body@example.org", role="moderator", name="Модератор Ключ")
    make_user(session_factory, "cit-body@example.org", name="Житель Замок")
    mod, cit = Browser(app), Browser(app)
    mod.login("mod-body@example.org")
    cit.login("cit-body@example.org")
    url = f"/polls/{ids['poll']}/results"
    for _ in range(2):  # the second round comes from the shared body
        m, c = mod.get(url).text, cit.get(url).text
        assert "Модератор Ключ" in m and "Житель Замок" not in m
        assert "Житель Замок" in c and "Модератор Ключ" not in c
        assert "/flagged" in m and "/flagged" not in c
        assert "31,8 %" in m and "31,8 %" in c
