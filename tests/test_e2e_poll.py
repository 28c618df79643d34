"""A city poll end to end in a real browser (tests/e2e_poll.py), in Russian and in English:
an official creates and publishes it → residents of two districts answer (one changes their
answer; a third district is refused) → the close date moves to the past, audited → the results
show the census correction the population file predicts → "my answers" lists the poll."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import chromium, requires_chromium, serve
from tests.e2e_flows import Site
from tests.e2e_poll import city_poll_end_to_end, demo_poll_results_with_maps, expected_correction
from webapp.app import create_app
from webapp.polls import results

pytestmark = requires_chromium()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_the_expected_correction_follows_the_population_file() -> None:
    """The flow's expectations are computed, not copied: a small district answering A three
    times against a big one answering B once gives A its population share, not 75 %."""
    expected = expected_correction()
    assert expected["raw_a"] == 0.75
    assert 0.0 < expected["corrected_a"] < 0.25 < 0.75 < expected["corrected_b"] < 1.0
    assert expected["design_effect"] > 1.0
    assert expected["corrected_mean"] < expected["raw_mean"]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_a_city_poll_from_the_official_form_to_corrected_results(
    settings: Any, browser: Any, lang: str
) -> None:
    results.clear_cache()
    app = create_app(settings)
    with serve(app) as base:
        outcome = city_poll_end_to_end(Site(app, base, browser), lang)
    assert outcome["poll_id"] > 0


def test_the_demo_poll_shows_district_maps_in_both_languages(settings: Any, browser: Any) -> None:
    """The simulated demo poll's results draw a district map per question in a real browser;
    no district with fewer than five answers is coloured."""
    results.clear_cache()
    app = create_app(settings)
    with serve(app) as base:
        site = Site(app, base, browser)
        poll_id = demo_poll_results_with_maps(site)
        page = browser.new_page()
        page.goto(f"{base}/polls/{poll_id}/results")
        maps = page.locator("svg.choropleth-map")
        assert maps.count() == 1  # one map at a time; the other questions link to theirs
        assert page.locator(".poll-map-link a").count() >= 1
        html = maps.first.inner_html()
        page.close()
    with site.factory() as s:
        doc = results.poll_results(s, poll_id)
    shown = {g.district_id for g in doc.questions[0].districts if g.values}
    assert all(g.respondents >= results.MIN_GROUP for g in doc.questions[0].districts if g.values)
    assert shown and html.count("<title>") >= len(shown)
