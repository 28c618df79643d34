"""End to end in a real browser: headless Chromium (Debian's) against the app served by uvicorn.

The app runs with its lifespan, so the background embedder, the vector index, the duplicate
finder and the per-worker ranking are the real ones. The encoder is the lexical
``hashing-char-ngrams`` (no weights, ready at once; tests/similar_support.py): the real default
model's cold load in a server thread would take most of this file's time budget on a busy
machine, and the ml/ tests run it. Nothing about the flows is faked: the similar ideas come from
the index through the debounced lookups, with a typed text that is not a copy of the planted one
(and near copies that are hidden or merged never shown); the duplicate group is written by the
embedder's dedup pipeline from planted near-duplicates, not inserted.

Skipped only where /usr/bin/chromium is absent, and never under CI (``CI`` set): there it fails.
`make screenshots` runs the same flows (tools/screenshots.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import chromium, requires_chromium, serve
from tests.e2e_access import keyboard_only, plant_tour_data, tour_pages
from tests.e2e_flows import (
    Site,
    citizen_registers_types_and_supports_instead,
    moderator_merges_a_duplicate_group,
    official_answers_the_strongest,
)
from tests.similar_support import similar_app

pytestmark = requires_chromium()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def site(settings: Any, browser: Any) -> Iterator[Site]:
    app = similar_app(settings, similar_rate_limit=10_000)
    with serve(app) as base:
        yield Site(app, base, browser)


def test_a_citizen_registers_sees_similar_ideas_while_typing_and_supports_one_instead(
    site: Site,
) -> None:
    citizen_registers_types_and_supports_instead(site)


def test_a_moderator_merges_a_group_the_dedup_pipeline_proposed(site: Site) -> None:
    moderator_merges_a_duplicate_group(site)


def test_an_official_answers_the_strongest_proposal_and_its_supporter_is_notified(
    site: Site,
) -> None:
    official_answers_the_strongest(site)


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_main_page_speaks_one_language(site: Site, lang: str) -> None:
    problems = tour_pages(site, lang, plant_tour_data(site))
    assert len(problems) == 12
    assert {name: found for name, found in problems.items() if found} == {}


def test_a_keyboard_alone_logs_in_proposes_and_supports(site: Site) -> None:
    keyboard_only(site)
