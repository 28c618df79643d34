"""A whole city project in a real browser (tests/e2e_project.py): create → propose → evaluate →
knapsack ballot → results published with equal shares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import chromium, requires_chromium, serve
from tests.e2e_flows import Site
from tests.e2e_project import city_runs_a_budget_project, real_budget_pages
from webapp.app import create_app

pytestmark = requires_chromium()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_a_city_runs_a_budget_project_from_question_to_published_results(
    settings: Any, browser: Any
) -> None:
    app = create_app(settings)
    with serve(app) as base:
        outcome = city_runs_a_budget_project(Site(app, base, browser))
    assert outcome["funded"]


def test_the_seeded_real_budget_shows_its_published_results(settings: Any, browser: Any) -> None:
    app = create_app(settings)
    with serve(app) as base:
        site = Site(app, base, browser)
        project_id = real_budget_pages(site)
        page = site.page("ru")
        page.goto(f"{base}/projects/{project_id}/results")
        text = page.inner_text("main")
    assert "Wieliczka" in text or "Велич" in text
    assert "равных долей" in text
