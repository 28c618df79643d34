"""The citizens' idea pages read plainly and work on a phone.

«Фильтры (n)» counts the filters in use; each idea shows how far it is from the city's answer;
a word search that finds nothing offers the search by meaning; the idea page carries its own
link-preview tags; and in Chromium at 360×740 the first idea shows in the first screen, the
similar ideas show right under the title while it is typed, and nothing scrolls sideways.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from tests.browser_support import chromium, requires_chromium, serve
from tests.helpers import PASSWORD, Browser, make_user
from tests.officials_helpers import add_idea, category, district, vote, voters
from tests.similar_support import TYPED, plant_corpus, similar_app
from webapp.app import create_app
from webapp.i18n import Translator
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, IdeaPhoto
from webapp.officials.responses import answer

RU = Translator("ru")
PHONE = {"width": 360, "height": 740}


def text_of(page_html: str) -> str:
    """The page's text with tags dropped and entities and spaces normalised."""
    flat = html_lib.unescape(re.sub(r"<[^>]+>", " ", page_html))
    return " ".join(flat.replace("\xa0", " ").replace("\u202f", " ").split())


def plain(message: str) -> str:
    return " ".join(message.replace("\xa0", " ").replace("\u202f", " ").split())


@pytest.fixture
def threshold_app(settings: Settings) -> Iterator[Any]:
    app = create_app(dataclasses.replace(settings, response_threshold=3))
    yield app
    app.state.engine.dispose()


# --- «Фильтры (n)» --------------------------------------------------------------------------


def test_the_filters_button_counts_the_filters_in_use(
    browser: Browser, session_factory: Any
) -> None:
    cat = category(session_factory)
    place, _ = district(session_factory)
    two = browser.get(f"/?category={cat}&district={place}").text
    assert plain(RU.gettext("Filters (%(num)s)", num=2)) in text_of(two)
    three = browser.get(f"/?category={cat}&status=implemented&sort=new").text
    assert plain(RU.gettext("Filters (%(num)s)", num=3)) in text_of(three)
    none = browser.get("/").text
    summary = re.search(r"<summary>([^<]*)</summary>", none.split("ideas-filters", 1)[1])
    assert summary and summary.group(1) == RU.gettext("Filters")
    # a search is not a filter: its default order (relevance) is not counted either
    assert re.search(r"<summary>[^<(]*</summary>", browser.get("/?q=парк").text)


# --- progress to the city's answer ---------------------------------------------------------


def test_each_idea_shows_its_way_to_the_city_answer(threshold_app: Any) -> None:
    factory = threshold_app.state.session_factory
    below = add_idea(factory, "Скамейки во дворе на Лесной")
    reached = add_idea(factory, "Велодорожка вдоль набережной")
    answered = add_idea(factory, "Освещение в парке Дружбы")
    people = voters(factory, 3)
    vote(factory, people[0], below)
    for user in people:
        vote(factory, user, reached)
        vote(factory, user, answered)
    official = make_user(factory, "official@example.org", role="official", name="Oleg")
    with transaction(factory) as s:
        answer(s, official, answered, "accepted", "Сделаем освещение летом.", email=False)

    below_text = plain(
        RU.ngettext(
            "%(num)s more vote until the city answers",
            "%(num)s more votes until the city answers",
            2,
        )
    )
    reached_text = plain(
        RU.gettext(
            "%(supporters)s of %(threshold)s — awaiting the city's answer",
            supporters="3",
            threshold="3",
        )
    )
    answered_text = RU.gettext("The city has answered")
    with Browser(threshold_app) as visitor:
        listing = visitor.get("/?sort=new").text
        cards = {
            int(m.group(1)): text_of(m.group(0))
            for m in re.finditer(
                r'<article class="idea-card[^>]*>.*?/ideas/(\d+).*?</article>', listing, re.S
            )
        }
        assert (
            below_text in cards[below]
            and plain(RU.gettext("%(supporters)s of %(threshold)s", supporters="1", threshold="3"))
            in cards[below]
        )
        assert reached_text in cards[reached] and answered_text not in cards[reached]
        assert answered_text in cards[answered] and below_text not in cards[answered]
        for idea_id, expected in (
            (below, below_text),
            (reached, reached_text),
            (answered, answered_text),
        ):
            page = visitor.get(f"/ideas/{idea_id}").text
            assert expected in text_of(page.split('class="idea-progress"', 1)[1]), idea_id
        # the bar: its value is the supporters, capped at the threshold; full once answered
        page = visitor.get(f"/ideas/{below}").text
        assert '<progress max="3" value="1"' in page
        assert '<progress max="3" value="3"' in visitor.get(f"/ideas/{answered}").text


# --- plain words ------------------------------------------------------------------------------


def test_idea_pages_show_dates_without_seconds_and_translated_statuses(
    browser: Browser, session_factory: Any
) -> None:
    idea = add_idea(session_factory, "Новый сквер у метро", status="in_progress")
    page = browser.get(f"/ideas/{idea}").text
    stamp = re.search(r'<time datetime="[^"]+">([^<]+)</time>', page)
    assert stamp and not re.search(r"\d:\d\d:\d\d", stamp.group(1)), stamp
    assert RU.gettext("In progress") in page and ">in_progress<" not in page
    for jargon in ("априорн", "векторы предложений", "доля считается от"):
        assert jargon not in page and jargon not in browser.get("/").text


# --- search -----------------------------------------------------------------------------------


def test_a_word_search_that_finds_nothing_offers_the_search_by_meaning(
    browser: Browser, session_factory: Any
) -> None:
    add_idea(session_factory, "Скамейки во дворе на Лесной")
    page = browser.get("/?q=аэродинамика").text
    assert 'data-empty="search"' in page
    link = re.search(r'<a class="button" href="([^"]+)" data-meaning-search>([^<]+)</a>', page)
    assert link, "no offer of the search by meaning"
    assert link.group(2) == RU.gettext("Search by meaning")
    target = html_lib.unescape(link.group(1))
    assert "mode=meaning" in target and "q=%D0%B0%D1%8D%D1%80%D0%BE" in target
    meaning = browser.get(target)
    assert meaning.status_code in (200, 503)  # 503: the model is still loading; it says so
    assert "data-meaning-search" not in meaning.text  # offered once, not in a loop
    # a search that finds something does not offer it in the empty state
    assert "data-meaning-search" not in browser.get("/?q=скамейки").text


# --- the idea page's link preview ------------------------------------------------------------


def test_the_idea_page_describes_itself_for_link_previews(
    browser: Browser, session_factory: Any
) -> None:
    body = "Во дворе нет ни одной скамейки. Пожилым жителям негде отдохнуть."
    idea = add_idea(session_factory, "Скамейки во дворе на Лесной", body=body)
    page = browser.get(f"/ideas/{idea}").text
    assert '<meta property="og:title" content="Скамейки во дворе на Лесной">' in page
    assert '<meta name="description" content="Во дворе нет ни одной скамейки.">' in page
    assert '<meta property="og:image" content="http' in page
    assert '<meta property="og:type" content="article">' in page
    with transaction(session_factory) as s:  # a stored photo: the preview shows the first one
        for position, key in ((1, "b" * 64), (0, "a" * 64)):
            s.add(
                IdeaPhoto(idea_id=idea, key=key, width=800, height=600, bytes=1, position=position)
            )
    page = browser.get(f"/ideas/{idea}").text
    assert f'<meta property="og:image" content="http://testserver/media/{"a" * 64}.jpg">' in page


def test_foreign_language_titles_carry_their_language(
    browser: Browser, session_factory: Any
) -> None:
    idea = add_idea(
        session_factory,
        "Free Wi-Fi in public libraries",
        body="Every library should offer free Wi-Fi to all visitors.",
    )
    with transaction(session_factory) as s:
        s.execute(update(Idea).where(Idea.id == idea).values(language="en"))
    listing = browser.get("/").text
    assert f'<a href="/ideas/{idea}" lang="en">Free Wi-Fi in public libraries</a>' in listing
    assert '<p class="idea-excerpt" lang="en">' in listing
    page = browser.get(f"/ideas/{idea}").text
    assert '<article class="idea" lang="en">' in page
    assert '<p class="idea-meta" lang="ru">' in page  # the page's own words stay Russian


@pytest.mark.parametrize(
    ("ref", "whole_city"),
    [(None, True), ("roi:77Р1328", True), ("roi:77Ф1328", False), ("uk_petitions:300000", False)],
)
def test_only_the_citys_own_ideas_without_a_district_say_whole_city(
    browser: Browser, session_factory: Any, ref: str | None, whole_city: bool
) -> None:
    idea = add_idea(session_factory, "Скамейки у остановок")
    with transaction(session_factory) as s:
        s.execute(update(Idea).where(Idea.id == idea).values(external_ref=ref))
    card = browser.get("/").text
    assert ('<span class="tag">Весь город</span>' in card) is whole_city
    page = text_of(browser.get(f"/ideas/{idea}").text)
    assert ("· Весь город ·" in page) is whole_city


# --- in a real browser, on a phone ------------------------------------------------------------


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    with chromium() as b:
        yield b


def phone_page(chrome: Any) -> Any:
    context = chrome.new_context(locale="ru-RU", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@requires_chromium()
def test_on_a_phone_the_first_idea_is_in_the_first_screen(settings: Settings, chrome: Any) -> None:
    app = create_app(settings)
    factory = app.state.session_factory
    author = make_user(factory, "author@example.org", name="Vera")
    ideas = [
        add_idea(factory, f"Идея номер {n}: скамейки и урны во дворе", author=author)
        for n in range(25)
    ]
    official = make_user(factory, "official@example.org", role="official", name="Oleg")
    with transaction(factory) as s:
        answer(s, official, ideas[0], "accepted", "Скамейки поставят в мае.", email=False)
        answer(s, official, ideas[1], "under_review", "Урны обсудим с управой.", email=False)
    with serve(app) as base:
        page = phone_page(chrome)
        page.goto(base + "/")
        first = page.locator(".idea-list .idea-card").first
        box = first.bounding_box()
        title = first.locator(".idea-title").bounding_box()
        assert box is not None and title is not None
        assert title["y"] + title["height"] <= PHONE["height"], (box, title)
        assert page.evaluate("window.scrollY") == 0
        assert page.locator("[data-home-number=ideas]").is_visible()
        summary = page.locator(".ideas-filters > summary")
        assert summary.is_visible() and not page.locator("#category").is_visible()
        summary.click()
        assert page.locator("#category").is_visible()  # opens without any script
        for path in ("/", f"/ideas/{ideas[0]}", "/?q=скамейки", "/?q=аэродинамика"):
            page.goto(base + path)
            assert overflow(page) <= 0, path
        # wide screens: the filters are simply there, no button to press
        wide = chrome.new_context(
            locale="ru-RU", viewport={"width": 1280, "height": 900}
        ).new_page()
        wide.goto(base + "/")
        assert wide.locator("#category").is_visible()
        assert not wide.locator(".ideas-filters > summary").is_visible()
        wide.context.close()
        page.context.close()


@requires_chromium()
def test_on_a_phone_similar_ideas_show_under_the_title_while_typing(
    settings: Settings, chrome: Any
) -> None:
    app = similar_app(settings, similar_rate_limit=10_000)
    factory = app.state.session_factory
    author = make_user(factory, "author@example.org", name="Vera")
    make_user(factory, "typist@example.org", name="Nina")
    with serve(app) as base:
        ids = plant_corpus(app, author)  # embedded by the served app's model
        page = phone_page(chrome)
        page.goto(base + "/login")
        page.fill("#email", "typist@example.org")
        page.fill("#password", PASSWORD)
        page.locator("#password").press("Enter")
        page.wait_for_url(base + "/")
        page.goto(base + "/ideas/new")
        assert overflow(page) <= 0
        title = page.locator("#title")
        title.press_sequentially(TYPED[0], delay=40)
        item = page.locator(f'[data-similar-region] [data-similar-id="{ids["target"]}"]')
        item.wait_for(state="visible")
        assert page.evaluate("document.activeElement.id") == "title"  # still typing
        heading = page.locator("#similar-heading").bounding_box()
        field = title.bounding_box()
        found = item.bounding_box()
        assert heading is not None and field is not None and found is not None
        assert field["y"] + field["height"] <= heading["y"]  # under the title …
        assert heading["y"] + heading["height"] <= PHONE["height"]  # … in the first screen
        assert found["y"] < PHONE["height"]
        assert page.locator("#body").bounding_box()["y"] > found["y"]  # before the description
        assert overflow(page) <= 0
        page.goto(base + "/my/ideas")
        assert overflow(page) <= 0
        page.context.close()
