"""The home band on the first page of ideas: real counts, the city's answers, empty states."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from sqlalchemy import func, or_, select, update

from tests.helpers import Browser, make_user
from tests.officials_helpers import add_idea, vote, voters
from webapp.app import create_app
from webapp.i18n import Translator
from webapp.ideas.home import first_line
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import PUBLIC_STATUSES, Idea
from webapp.officials.responses import answer

RU = Translator("ru")
ANSWER = "Велодорожку проложат весной.\nПодробности — в плане работ управы."


def number(html: str, name: str) -> int:
    """The figure of one home number, digits only (the locale separates thousands)."""
    match = re.search(rf'data-home-number="{name}"><span class="stat-value">([^<]+)<', html)
    assert match, f"no home number {name}"
    return int(re.sub(r"\D", "", match.group(1)))


def database_counts(factory: Any) -> dict[str, int]:
    """The same four figures, counted straight from the tables."""
    public = Idea.status.in_(PUBLIC_STATUSES)
    decided = ("accepted", "in_progress", "implemented", "rejected")
    with transaction(factory) as s:
        return {
            "ideas": s.scalar(select(func.count()).where(public)) or 0,
            "supports": s.scalar(select(func.sum(Idea.support_count)).where(public)) or 0,
            "answered": s.scalar(
                select(func.count()).where(
                    public, or_(Idea.responded_at.is_not(None), Idea.status.in_(decided))
                )
            )
            or 0,
            "implemented": s.scalar(select(func.count()).where(Idea.status == "implemented")) or 0,
        }


def plant_city(factory: Any) -> dict[str, int]:
    """Ideas in every state: open with votes, answered in text, decided, implemented, hidden."""
    ids = {
        "open": add_idea(factory, "Скамейки во дворе на Лесной"),
        "answered": add_idea(factory, "Велодорожка вдоль набережной"),
        "accepted": add_idea(factory, "Новый сквер у метро", status="accepted"),
        "implemented": add_idea(factory, "Освещение в парке Дружбы", status="implemented"),
        "rejected": add_idea(factory, "Фонтан на площади", status="rejected"),
        "hidden": add_idea(factory, "Скрытая модератором идея", status="hidden"),
    }
    people = voters(factory, 3)
    for user in people:
        vote(factory, user, ids["open"])
    vote(factory, people[0], ids["answered"])
    with transaction(factory) as s:  # imported counts: the demo's ideas carry theirs
        s.execute(update(Idea).where(Idea.id == ids["hidden"]).values(support_count=500))
        s.execute(update(Idea).where(Idea.id == ids["implemented"]).values(support_count=1234))
    official = make_user(factory, "official@example.org", role="official", name="Oleg")
    with transaction(factory) as s:
        answer(s, official, ids["answered"], "under_review", ANSWER, email=False)
    return ids


def test_the_home_numbers_equal_the_database_counts(browser: Browser, session_factory: Any) -> None:
    plant_city(session_factory)
    html = browser.get("/").text
    expected = database_counts(session_factory)
    assert expected == {"ideas": 5, "supports": 1238, "answered": 4, "implemented": 1}
    assert {name: number(html, name) for name in expected} == expected


def test_the_band_shows_the_latest_answers_with_their_first_line(
    browser: Browser, session_factory: Any
) -> None:
    ids = plant_city(session_factory)
    html = browser.get("/").text
    answered = html.split('data-home-list="answered"', 1)[1].split("</section>", 1)[0]
    implemented = html.split('data-home-list="implemented"', 1)[1].split("</section>", 1)[0]
    assert f'href="/ideas/{ids["answered"]}"' in answered
    assert "Велодорожку проложат весной." in answered
    assert "Подробности" not in answered  # the first line only
    assert "badge-status-under_review" in answered
    # decided without a text: listed, without an answer line; implemented ones only below
    assert f'href="/ideas/{ids["accepted"]}"' in answered
    assert f'href="/ideas/{ids["implemented"]}"' not in answered
    assert f'href="/ideas/{ids["implemented"]}"' in implemented
    assert "badge-status-implemented" in implemented
    assert f'href="/ideas/{ids["hidden"]}"' not in html
    assert f'href="/ideas/{ids["open"]}"' not in answered + implemented


def test_an_empty_city_shows_helpful_empty_states(browser: Browser) -> None:
    html = browser.get("/").text
    for name in ("ideas", "supports", "answered", "implemented"):
        assert number(html, name) == 0
    assert RU.gettext("The city has not answered any idea yet.") in html
    assert RU.gettext("No idea has been implemented yet.") in html
    assert RU.gettext("No ideas yet") in html


def test_the_band_is_only_on_the_first_unfiltered_page(
    browser: Browser, session_factory: Any
) -> None:
    plant_city(session_factory)
    assert "data-home-number" in browser.get("/").text
    assert "data-home-number" in browser.get("/?sort=new").text
    for query in ("?status=published", "?q=сквер", "?page=2", "?category=1"):
        assert "data-home-number" not in browser.get("/" + query).text, query


def test_the_band_is_cached_with_the_list_for_anonymous_visitors(
    settings: Settings,
) -> None:
    app = create_app(dataclasses.replace(settings, page_cache_seconds=60.0))
    try:
        with Browser(app) as visitor:
            factory = app.state.session_factory
            add_idea(factory, "Скамейки во дворе на Лесной")
            first = visitor.get("/").text
            assert number(first, "ideas") == 1
            misses = app.state.page_cache.misses
            assert number(visitor.get("/").text, "ideas") == 1
            assert app.state.page_cache.misses == misses  # served from the cache
        with Browser(app) as member:  # signed in: the page is rendered, the band is shared
            make_user(factory, "member@example.org")
            member.login("member@example.org")
            add_idea(factory, "Освещение в парке Дружбы")
            page = member.get("/").text
            assert page.count('class="idea-title"') == 2  # the list itself is fresh
            assert number(page, "ideas") == 1  # the counts, for the cache's period
    finally:
        app.state.engine.dispose()


def test_first_line_skips_blank_lines_and_cuts_at_a_word() -> None:
    assert first_line("\n\n  Сделаем.  \nПотом ещё.") == "Сделаем."
    assert first_line("   \n ") is None
    long = "слово " * 60
    cut = first_line(long, 30)
    assert cut is not None and cut.endswith("…") and len(cut) <= 31
