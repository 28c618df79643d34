"""axe-core over every main page of every role, on a desktop and a phone: zero WCAG 2.2 AA
violations; titles in a foreign language carry their ``lang`` wherever they appear.

The pages come from the app's routes (tests/a11y_support.py: every GET route, parameterised
ones with planted samples, for each role the pages that answer it), so a new page is checked
without editing this file. axe-core is vendored (tests/vendor/axe-core, `python -m
tools.vendor_frontend`); it runs with the WCAG 2.0/2.1/2.2 A and AA tags, plus ``target-size``
and ``scrollable-region-focusable`` named explicitly. One browser for the module, one context
per role, the pages in a loop; every violation of a role and viewport is collected before the
test fails, with the rule, its impact, the elements and the page.

Skipped only where /usr/bin/chromium is absent, and never under CI (``CI`` set): there it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y_support import (
    EMBANKMENT,
    LANG_OF_TEXT,
    RINK,
    ROLES,
    VIEWPORTS,
    A11yData,
    Opened,
    axe_violations,
    classify,
    describe,
    main_pages,
    pages_of,
    role_context,
    served_site,
)
from tests.browser_support import requires_chromium
from tests.e2e_flows import Site
from tests.similar_support import TYPED
from tests.similarity_helpers import BIKE

pytestmark = requires_chromium()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, A11yData]]:
    with served_site(Path(tmp_path_factory.mktemp("a11y"))) as site_and_data:
        yield site_and_data


@pytest.fixture(scope="module")
def contexts(world: tuple[Site, A11yData]) -> Iterator[dict[str, Any]]:
    site, _ = world
    made = {role: role_context(site, role, axe=True) for role in ROLES}
    yield made
    for context in made.values():
        context.close()


@pytest.fixture(scope="module")
def opened(world: tuple[Site, A11yData], contexts: dict[str, Any]) -> dict[str, list[Opened]]:
    """How every page answered each role."""
    site, data = world
    pages = main_pages(site.app, data.samples, routes=data.routes)
    return {role: classify(site, contexts[role], pages) for role in ROLES}


def test_every_page_is_some_roles_page(opened: dict[str, list[Opened]]) -> None:
    """Each route is checked for at least one role, and none fails or answers other than HTML."""
    problems = [f"{role}: {p}" for role, found in opened.items() for p in pages_of(found)[1]]
    reached = {o.route for found in opened.values() for o in found if o.reached}
    unreached = sorted({o.route for o in opened["admin"]} - reached)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    assert not unreached, f"no role opens these pages with the planted data: {unreached}"
    urls = {role: pages_of(found)[0] for role, found in opened.items()}
    assert "/" in urls["anonymous"] and "/ideas/new" not in urls["anonymous"]
    assert "/admin/audit" in urls["admin"] and "/admin/audit" not in urls["moderator"]
    assert "/moderation/duplicates" in urls["moderator"]
    assert "/officials" in urls["official"]


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("role", ROLES)
def test_no_accessibility_violations(
    contexts: dict[str, Any],
    opened: dict[str, list[Opened]],
    world: tuple[Site, A11yData],
    role: str,
    viewport: str,
) -> None:
    site, _ = world
    urls, _ = pages_of(opened[role])
    assert urls, f"{role} has no pages"
    page = contexts[role].new_page()
    page.set_viewport_size(VIEWPORTS[viewport])
    size = "{width}×{height}".format(**VIEWPORTS[viewport])
    found: dict[str, list[dict[str, Any]]] = {}
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        for url in urls:
            page.goto(f"{site.base}{url}", wait_until="load")
            if violations := axe_violations(page):
                found[url] = violations
    finally:
        page.close()
    if found:
        count = sum(len(n["nodes"]) for vs in found.values() for n in vs)
        pytest.fail(
            f"[{role}, {viewport} {size}] axe-core: {count} violation(s) on {len(found)} of "
            f"{len(urls)} pages:\n" + "\n".join(describe(found)),
            pytrace=False,
        )
    assert not errors, errors


def _open(summary: str) -> Any:
    """Open a ``<details>`` by its summary where it is shown (the menu button: phones only)."""

    def act(page: Any) -> bool:
        toggle = page.locator(summary).first
        if not toggle.count() or not toggle.is_visible():
            return False
        toggle.click()
        return True

    return act


def _refused_login(page: Any) -> bool:
    page.fill("#email", "nobody@example.org")
    page.fill("#password", "not-the-password-123")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    return True


def _empty_idea(page: Any) -> bool:
    page.locator("#idea-form button[type=submit]").first.click()
    page.wait_for_load_state()
    return True


def _typing_a_duplicate(page: Any) -> bool:
    page.locator("#title").press_sequentially(TYPED[0], delay=20)
    page.locator("#body").press_sequentially(TYPED[1][:40], delay=10)
    page.locator("[data-similar-region] [data-similar-id]").first.wait_for(state="visible")
    return True


# What a page turns into after a click or some typing: menus and filters opened, forms refused
# with their errors, the similar-ideas panel filled. (role, page, state, how to get there;
# the step answers False where the page has no such state at this width.)
STATES = [
    ("anonymous", "/", "menu opened", _open("summary.nav-toggle")),
    ("anonymous", "/", "filters opened", _open("details.ideas-filters > summary")),
    ("anonymous", "/login", "login refused", _refused_login),
    ("citizen", "/ideas/new", "empty idea refused", _empty_idea),
    ("citizen", "/ideas/new", "similar ideas while typing", _typing_a_duplicate),
    ("admin", "/", "menu opened", _open("summary.nav-toggle")),
]


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_no_accessibility_violations_after_interaction(
    contexts: dict[str, Any], world: tuple[Site, A11yData], viewport: str
) -> None:
    site, _ = world
    found: dict[str, list[dict[str, Any]]] = {}
    reached = 0
    for role, url, state, act in STATES:
        page = contexts[role].new_page()
        page.set_viewport_size(VIEWPORTS[viewport])
        page.goto(f"{site.base}{url}", wait_until="load")
        if act(page):
            reached += 1
            if violations := axe_violations(page):
                found[f"{url} ({role}, {state})"] = violations
        page.close()
    assert reached >= 3, "the forms' states were not reached"
    if found:
        pytest.fail(
            f"[{viewport}] axe-core violations after interaction:\n" + "\n".join(describe(found)),
            pytrace=False,
        )


# Pages where the English idea's title must show (with lang="en"), by role.
TITLE_SHOWN = {
    "anonymous": ["/", "/ideas/{english}"],
    "moderator": ["/moderation/reports"],
    "official": ["/officials", "/officials/ideas/{english}"],
}


def test_foreign_titles_carry_their_language(
    contexts: dict[str, Any], opened: dict[str, list[Opened]], world: tuple[Site, A11yData]
) -> None:
    """Every title not in Russian (English ones here), on every page of every role, is inside
    an element marked with its language; the English idea's shows where it must."""
    site, data = world
    english = data.ideas["english"]
    unmarked: list[str] = []
    shown: dict[str, set[str]] = {}
    for role in ROLES:
        page = contexts[role].new_page()
        for url in pages_of(opened[role])[0]:
            page.goto(f"{site.base}{url}", wait_until="load")
            for title, language in data.foreign.items():
                places = page.evaluate(LANG_OF_TEXT, title)
                if places and title == data.english_title:
                    shown.setdefault(role, set()).add(url)
                unmarked += [
                    f"[{role}] {url}: “{title}” in <{p['tag']} class={p['cls']!r}> "
                    f"inside lang={p['lang']!r}"
                    for p in places
                    if not p["lang"].startswith(language)
                ]
        page.close()
    if unmarked:
        pytest.fail(
            "Titles in another language not marked with it:\n" + "\n".join(unmarked),
            pytrace=False,
        )
    for role, urls in TITLE_SHOWN.items():
        for url in urls:
            wanted = url.format(english=english)
            assert wanted in shown.get(role, set()), f"{role}: the English title not on {wanted}"


def test_russian_titles_carry_their_language_on_english_pages(
    opened: dict[str, list[Opened]], world: tuple[Site, A11yData]
) -> None:
    """For a visitor reading the site in English, Russian titles are the foreign ones."""
    site, data = world
    titles = [EMBANKMENT[0], RINK[0], BIKE[0]]
    unmarked: list[str] = []
    seen = 0
    for role in ROLES:
        context = role_context(site, role, locale="en-GB")
        page = context.new_page()
        for url in pages_of(opened[role])[0]:
            page.goto(f"{site.base}{url}", wait_until="load")
            assert page.get_attribute("html", "lang") == "en", url
            for title in titles:
                places = page.evaluate(LANG_OF_TEXT, title)
                seen += len(places)
                unmarked += [
                    f"[{role}] {url}: “{title}” in <{p['tag']} class={p['cls']!r}> "
                    f"inside lang={p['lang']!r}"
                    for p in places
                    if not p["lang"].startswith("ru")
                ]
        context.close()
    assert seen, "the Russian titles were on no page"
    if unmarked:
        pytest.fail(
            "On English pages, Russian titles not marked lang=ru:\n" + "\n".join(unmarked),
            pytrace=False,
        )
