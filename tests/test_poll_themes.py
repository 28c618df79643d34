"""Themes of a poll's free-text "other" answers (webapp/polls/themes.py, /officials/polls/{id}/themes):
planted groups come back as labelled themes, a handful of answers gets none, only officials and
admins see the page, no answer's text ever shows, and a large question is sampled (and says so)."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.officials_helpers import logged_in
from webapp.app import create_app
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Poll, PollAnswer, PollOption, PollQuestion, PollResponse
from webapp.polls import themes
from webapp.polls.views import themes as themes_view

# Three subjects, each said in varied words; different sizes so that each theme can be told apart
# by its count alone.
LIGHT = [
    "Фонари вдоль дорожек, вечером в парке совсем темно",
    "Нужны фонари у пруда, темно и страшно гулять",
    "Поставить фонари на аллее, по вечерам темно",
    "Больше фонарей: в парке темно после шести",
    "Фонари на центральной аллее не горят, темно",
    "Освещение и фонари у входа, зимой рано темно",
    "Почините фонари возле детской площадки, вечером темно",
    "Яркие фонари на спортивной площадке, темно играть",
    "Фонари у лодочной станции, темно возвращаться домой",
    "Вечером темно у теннисных кортов, нужны фонари",
]
BENCHES = [
    "Скамейки вдоль дорожек, пожилым негде присесть",
    "Больше скамеек у пруда, чтобы отдыхать",
    "Поставить скамейки в тени деревьев",
    "Скамейки со спинками для пенсионеров",
    "Новые скамейки на аллее, старые сломаны",
    "Скамейки возле детской площадки для родителей",
    "Удобные скамейки у фонтана",
    "Покрасить и починить скамейки на главной аллее",
]
DOGS = [
    "Площадка для выгула собак, собаки бегают без поводка",
    "Отдельная площадка для собак у пруда",
    "Собаки гуляют без намордника, нужна площадка для выгула собак",
    "Урны для собачьих пакетов и площадка для собак",
    "Огороженная площадка для собак с препятствиями",
    "Выгул собак только на специальной площадке для собак",
]
PLANTED = {"фонар": LIGHT, "скамейк": BENCHES, "собак": DOGS}
FEW = ["Каток зимой", "Прокат лодок", "Кафе у входа"]
NOW = datetime.now(UTC)


@pytest.fixture
def official(app: Starlette, session_factory: sessionmaker[Session]) -> Iterator[Browser]:
    b = logged_in(app, session_factory, "official")
    assert app.state.similarity.wait_ready(60)
    yield b
    b.__exit__(None, None, None)


def plant(factory: Any, main: list[str], few: list[str] = FEW, *, tag: str = "p") -> dict[str, int]:
    """A poll: question 1 (single choice, "other") answered by every text of ``main``, question 2
    ("other") by the texts of ``few``, question 3 (a scale) has no "other"."""
    residents = [
        make_user(factory, f"{tag}-resident{n}@example.org")
        for n in range(max(len(main), len(few)))
    ]
    with transaction(factory) as s:
        poll = Poll(
            slug=f"themes-{tag}",
            title_ru="Каким быть парку?",
            title_en="What should the park be like?",
            opens_at=NOW - timedelta(days=5),
            closes_at=NOW + timedelta(days=5),
            published=True,
        )
        s.add(poll)
        s.flush()
        q1 = PollQuestion(
            poll_id=poll.id,
            position=0,
            kind="single",
            text_ru="Чего не хватает парку?",
            text_en="What does the park lack?",
            allow_other=True,
        )
        q2 = PollQuestion(
            poll_id=poll.id,
            position=1,
            kind="single",
            text_ru="Что открыть летом?",
            text_en="What should open in summer?",
            allow_other=True,
        )
        q3 = PollQuestion(
            poll_id=poll.id, position=2, kind="scale", text_ru="Оценка", scale_min=1, scale_max=5
        )
        s.add_all([q1, q2, q3])
        s.flush()
        option = PollOption(question_id=q1.id, position=0, text_ru="Туалеты", text_en="Toilets")
        s.add(option)
        s.flush()
        for n, resident in enumerate(residents):
            response = PollResponse(poll_id=poll.id, user_id=resident.id)
            s.add(response)
            s.flush()
            if n < len(main):
                s.add(PollAnswer(response_id=response.id, question_id=q1.id, other_text=main[n]))
            else:
                s.add(PollAnswer(response_id=response.id, question_id=q1.id, option_id=option.id))
            if n < len(few):
                s.add(PollAnswer(response_id=response.id, question_id=q2.id, other_text=few[n]))
            s.add(PollAnswer(response_id=response.id, question_id=q3.id, value=1 + n % 5))
        return {"poll": poll.id, "q1": q1.id, "q2": q2.id, "q3": q3.id}


def sections(html: str) -> dict[str, str]:
    """The page's question sections by question id."""
    found = re.findall(r'<section [^>]*aria-labelledby="q-(\d+)">(.*?)</section>', html, re.S)
    return {qid: body for qid, body in found}


def rows(section: str) -> list[tuple[str, int]]:
    """(keywords, answers) of each row of a section's themes table."""
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", section, re.S):
        cells = re.findall(r'<td data-label="[^"]*"[^>]*>(.*?)</td>', row, re.S)
        if len(cells) == 4:
            count = int(re.sub(r"\D", "", cells[2]))
            out.append((re.sub(r"<[^>]+>", "", cells[1]).strip(), count))
    return out


def assert_recovered(found: list[tuple[str, int]]) -> None:
    """Each planted group is mostly one theme (over half of it, and the theme not much larger),
    labelled with a stem of its subject."""
    used: set[int] = set()
    for stem, texts in PLANTED.items():
        match = [
            i
            for i, (words, count) in enumerate(found)
            if stem in words.lower() and len(texts) / 2 < count <= len(texts) + 2 and i not in used
        ]
        assert match, (stem, found)
        used.add(match[0])


def assert_no_answer_text(html: str) -> None:
    for text in [*LIGHT, *BENCHES, *DOGS, *FEW]:
        assert text not in html, text
        assert text.lower() not in html.lower(), text


# --- the page ------------------------------------------------------------------------------------


def test_planted_groups_come_back_as_labelled_themes_and_no_text_shows(
    app: Starlette,
    session_factory: sessionmaker[Session],
    official: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = plant(session_factory, LIGHT + BENCHES + DOGS)
    page = official.get(f"/officials/polls/{ids['poll']}/themes", headers={"Accept-Language": "ru"})
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert_no_answer_text(html)
    by_question = sections(html)
    assert set(by_question) == {str(ids["q1"]), str(ids["q2"])}  # the scale has no "other"
    main = by_question[str(ids["q1"])]
    found = rows(main)
    themes_found = [r for r in found if r[0] != "Другое, без темы"]
    assert len(themes_found) == 3, found
    assert_recovered(themes_found)
    assert sum(count for _, count in found) == len(LIGHT + BENCHES + DOGS)
    assert "24 собственных ответа" in main and "3 темы" in main
    assert 'class="chart poll-chart"' in main and main.count('class="bar-corrected"') == 3
    assert "случайной выборке" not in main  # every answer was read
    # three answers: no themes, and the page says why
    few = by_question[str(ids["q2"])]
    assert "<table" not in few and "Слишком мало собственных ответов" in few
    # cached per worker: a reload does not recompute
    cache = app.state.poll_theme_cache
    assert len(cache) == 2

    def fail(*args: Any) -> Any:
        raise AssertionError("recomputed")

    monkeypatch.setattr(themes, "compute", fail)
    again = official.get(f"/officials/polls/{ids['poll']}/themes")
    assert again.status_code == 200 and len(cache) == 2
    monkeypatch.undo()
    english = official.get(
        f"/officials/polls/{ids['poll']}/themes", headers={"Accept-Language": "en"}
    )
    assert "24 own answers" in english.text and "Too few own answers" in english.text


def test_a_new_answer_changes_the_key_and_themes_are_recomputed(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    ids = plant(session_factory, LIGHT + BENCHES + DOGS)
    url = f"/officials/polls/{ids['poll']}/themes"
    assert official.get(url).status_code == 200
    late = make_user(session_factory, "late@example.org")
    with transaction(session_factory) as s:
        response = PollResponse(
            poll_id=ids["poll"],
            user_id=late.id,
            updated_at=datetime.now(UTC) + timedelta(minutes=1),
        )
        s.add(response)
        s.flush()
        s.add(PollAnswer(response_id=response.id, question_id=ids["q1"], other_text=DOGS[0]))
    html = official.get(url, headers={"Accept-Language": "ru"}).text
    assert "25 собственных ответов" in html
    assert len(app.state.poll_theme_cache) == 4  # both questions again, under the new key


def test_only_officials_and_admins_see_the_themes(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    ids = plant(session_factory, LIGHT + BENCHES + DOGS)
    url = f"/officials/polls/{ids['poll']}/themes"
    for role, expected in (("citizen", 403), ("moderator", 403), ("official", 200), ("admin", 200)):
        b = logged_in(app, session_factory, role)
        try:
            app.state.similarity.wait_ready(60)
            response = b.get(url)
            assert response.status_code == expected, role
            assert_no_answer_text(response.text)
        finally:
            b.__exit__(None, None, None)
    with Browser(app) as anonymous:
        response = anonymous.get(url)
        assert response.status_code == 303 and "/login" in response.headers["location"]
        assert_no_answer_text(response.text)
    official = logged_in(app, session_factory, "official", "official2@example.org")
    try:
        assert official.get("/officials/polls/999999/themes").status_code == 404
    finally:
        official.__exit__(None, None, None)


def test_a_large_question_is_sampled_and_the_page_says_so(
    app: Starlette,
    session_factory: sessionmaker[Session],
    official: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = (LIGHT + BENCHES + DOGS) * 2  # 48 answers
    ids = plant(session_factory, answers, tag="big")
    monkeypatch.setattr(themes, "SAMPLE", 30)
    read: list[int] = []
    load = themes.load_texts

    def counting(session: Session, key: themes.ThemeKey, sample: int | None = None) -> list[str]:
        texts = load(session, key, sample)
        read.append(len(texts))
        return texts

    monkeypatch.setattr(themes, "load_texts", counting)
    html = official.get(
        f"/officials/polls/{ids['poll']}/themes", headers={"Accept-Language": "ru"}
    ).text
    assert read == [30], read  # question 2 has three answers: refused without reading them
    main = sections(html)[str(ids["q1"])]
    assert "Темы по случайной выборке из 30 ответов из 48" in main, main[:2000]
    found = rows(main)
    assert found and sum(count for _, count in found) in range(47, 50)  # scaled to all answers
    assert "≈" in main and 'class="whisker"' in main
    assert_no_answer_text(html)
    english = official.get(
        f"/officials/polls/{ids['poll']}/themes", headers={"Accept-Language": "en"}
    ).text
    assert "Themes from a random sample of 30 of 48 answers" in english


def test_the_page_speaks_plainly_when_the_model_is_off_or_nothing_asks_for_text(
    settings: Settings,
) -> None:
    off = create_app(dataclasses.replace(settings, embedding_model="off"))
    try:
        ids = plant(off.state.session_factory, LIGHT)
        b = logged_in(off, off.state.session_factory, "official")
        try:
            page = b.get(f"/officials/polls/{ids['poll']}/themes")
            assert page.status_code == 200 and "VECHE_EMBEDDING_MODEL=off" in page.text
            with transaction(off.state.session_factory) as s:
                poll = Poll(
                    slug="no-free-text",
                    title_ru="Без своих ответов",
                    opens_at=NOW,
                    closes_at=NOW + timedelta(days=1),
                )
                s.add(poll)
                s.flush()
                empty = poll.id
            page = b.get(f"/officials/polls/{empty}/themes", headers={"Accept-Language": "ru"})
            assert page.status_code == 200 and "В этом опросе нет собственных ответов" in page.text
        finally:
            b.__exit__(None, None, None)
    finally:
        off.state.engine.dispose()


def test_an_uncached_computation_is_rate_limited(settings: Settings) -> None:
    limited = create_app(dataclasses.replace(settings, similar_rate_limit=1))
    try:
        factory = limited.state.session_factory
        first = plant(factory, LIGHT + BENCHES + DOGS, FEW * 2, tag="one")
        b = logged_in(limited, factory, "official")
        try:
            assert limited.state.similarity.wait_ready(60)
            # one hit for each question: the second computation is over the limit
            assert b.get(f"/officials/polls/{first['poll']}/themes").status_code == 429
        finally:
            b.__exit__(None, None, None)
    finally:
        limited.state.engine.dispose()


def test_one_computation_at_a_time_and_a_second_one_is_told_to_come_back(
    app: Starlette,
    session_factory: sessionmaker[Session],
    official: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = plant(session_factory, LIGHT + BENCHES + DOGS)
    url = f"/officials/polls/{ids['poll']}/themes"
    monkeypatch.setattr(themes_view, "BUSY_WAIT_SECONDS", 0.2)
    lock = app.state.poll_theme_lock = threading.Lock()
    lock.acquire()  # another page is computing themes in this worker
    try:
        busy = official.get(url, headers={"Accept-Language": "ru"})
        assert busy.status_code == 503 and "retry-after" in busy.headers
        assert "обновите эту страницу через минуту" in busy.text
        assert_no_answer_text(busy.text)
    finally:
        lock.release()
    assert official.get(url).status_code == 200
    lock.acquire()
    try:  # computed already: the cache answers without waiting for the lock
        assert official.get(url).status_code == 200
    finally:
        lock.release()


# --- the use-case ------------------------------------------------------------------------------


def test_fewer_than_five_answers_get_no_themes_and_no_keywords_from_one_answer() -> None:
    key = themes.ThemeKey(1, 2, 4, None)
    result = themes.compute(key, FEW + ["Каток"], lambda texts: pytest.fail("embedded"))
    assert result.reason == themes.TOO_FEW and not result.themes and result.total == 4
    # a word of a single answer never labels a theme
    labels = themes._private_keywords(("фонари", "лодочной"), LIGHT)
    assert labels == ("фонари",)


def test_sampling_is_uniform_seeded_and_bounded() -> None:
    a = themes.sample_rows(10_000, 300, (7, 8))
    assert len(a) == 300 and len(set(a.tolist())) == 300
    assert (a == themes.sample_rows(10_000, 300, (7, 8))).all()
    assert not (a == themes.sample_rows(10_000, 300, (7, 9))).all()
    assert 3_500 < float(a.mean()) < 6_500  # spread over the whole range, not the first rows
    low, high = themes.interval(50, 300, 10_000)
    assert low < 50 / 300 < high and high - low < 0.1
    assert themes.interval(5, 30, 30) == (5 / 30, 5 / 30)


@pytest.mark.slow
def test_with_the_platforms_default_model_planted_groups_are_recovered(
    settings: Settings,
) -> None:
    """The real path: the default encoder (``veche-embedded-v1``, weights from its package)."""
    real = create_app(dataclasses.replace(settings, embedding_model="veche-embedded-v1"))
    try:
        factory = real.state.session_factory
        ids = plant(factory, LIGHT + BENCHES + DOGS, tag="real")
        b = logged_in(real, factory, "official")
        try:
            svc = real.state.similarity
            assert svc.wait_ready(300), svc.error
            assert svc.model_identity == "veche-embedded-v1"
            html = b.get(
                f"/officials/polls/{ids['poll']}/themes", headers={"Accept-Language": "ru"}
            ).text
            assert_no_answer_text(html)
            found = [r for r in rows(sections(html)[str(ids["q1"])]) if r[0] != "Другое, без темы"]
            assert len(found) == 3, found
            assert_recovered(found)
        finally:
            b.__exit__(None, None, None)
    finally:
        real.state.engine.dispose()
