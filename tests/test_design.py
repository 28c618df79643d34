"""The design system (issue 14, point 2) and the phone header (point 3).

Every idea status has its badge colours as tokens, with AA contrast; the header's menu works in
Chromium at 360×740 without JavaScript (a <details>) and with it (aria-expanded follows); the
header of the role with the most links (an administrator) stays one line high on that phone; the
public pages carry Open Graph and description tags; the component macros render what the
stylesheet styles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette

from tests.browser_support import chromium, requires_chromium, serve
from tests.e2e_flows import t
from tests.helpers import PASSWORD, Browser, make_user
from tests.similar_support import plant
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.models import IDEA_STATUSES

CSS = Path(__file__).resolve().parents[1] / "webapp" / "static" / "veche.css"
STATUSES = IDEA_STATUSES  # every status the model allows has a badge
PHONE = {"width": 360, "height": 740}
IDEA = ("Велодорожка вдоль Яузы", "Проложить велодорожку от Сокольников до Лефортова.")


def tokens() -> dict[str, str]:
    """The custom properties declared in the stylesheet's :root block."""
    root = re.search(r":root\s*\{(.*?)\n\}", CSS.read_text(encoding="utf-8"), re.S)
    assert root, "veche.css has no :root block of tokens"
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root.group(1)))


def luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_has_a_badge_colour_with_aa_contrast(status: str) -> None:
    found = tokens()
    text, fill = found[f"--status-{status}"], found[f"--status-{status}-bg"]
    assert contrast(text, fill) >= 4.5, (status, text, fill)
    rule = re.search(rf"\.badge-status-{status}\b[^{{]*\{{([^}}]*)\}}", CSS.read_text())
    assert rule, f"no .badge-status-{status} rule"
    assert f"var(--status-{status}-bg)" in rule.group(1)
    assert f"var(--status-{status})" in rule.group(1)


def test_the_core_tokens_exist_and_text_colours_pass_aa() -> None:
    found = tokens()
    for name in (
        *(f"--space-{n}" for n in range(1, 9)),
        *(f"--text-{size}" for size in ("xs", "sm", "base", "md", "lg", "xl", "2xl")),
        "--radius",
        "--shadow",
        "--color-line",
    ):
        assert name in found, name
    pairs = [
        ("--color-text", "--color-bg"),
        ("--color-muted", "--color-bg"),
        ("--color-muted", "--color-surface"),
        ("--color-on-primary", "--color-primary"),
        ("--color-primary-dark", "--color-surface"),
    ]
    for fg, bg in pairs:
        assert contrast(found[fg], found[bg]) >= 4.5, (fg, bg)


def test_the_component_macros_render_the_classes_the_stylesheet_styles(
    browser: Browser, session_factory: Any
) -> None:
    """status_badge, empty_state, tabs, progress, responsive_table/cell, collapsible."""
    env = browser.app.state.jinja["ru"]  # type: ignore[attr-defined]
    html = env.from_string(
        '{% from "_macros.html" import status_badge, empty_state, tabs, progress,'
        " responsive_table, cell, collapsible %}"
        "{{ status_badge('implemented') }}"
        "{{ empty_state('Пусто', 'Идей пока нет.', ('Предложить', '/ideas/new')) }}"
        "{{ tabs([('a', 'Жалобы', '/a', 3), ('b', 'Скрытое', '/b')], current='b', label='Модерация') }}"
        "{{ progress(27913, 100, 'Поддержка') }}"
        "{% call responsive_table(['Идея', ('Голоса', 'num')]) %}<tr>{{ cell('Идея', 'Парк') }}"
        "{{ cell('Голоса', 5, 'num') }}</tr>{% endcall %}"
        "{% call collapsible('Подробнее') %}Текст{% endcall %}"
    ).render()
    implemented = t("ru", "Implemented")
    assert f'<span class="badge badge-status-implemented">{implemented}</span>' in html
    assert '<a class="button button-secondary" href="/ideas/new">Предложить</a>' in html
    assert 'href="/b" aria-current="page"' in html and 'href="/a" aria-current' not in html
    assert '<progress value="100" max="100" aria-label="Поддержка">' in html
    assert "27\xa0913" in html or "27 913" in html  # the number as it was, not capped
    assert '<td data-label="Голоса" class="num">5</td>' in html
    assert '<details class="collapsible">' in html
    css = CSS.read_text()
    for cls in (
        "badge",
        "empty-state",
        "tabs",
        "tab",
        "progress",
        "table-responsive",
        "collapsible",
    ):
        assert re.search(rf"\.{cls}\b", css), cls


# --- in a browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def served(app: Starlette, session_factory: Any) -> Iterator[tuple[str, int]]:
    author = make_user(session_factory, "author@example.org", name="Анна Петрова")
    make_user(session_factory, "admin@example.org", role="admin", name="Администратор Городов")
    make_user(session_factory, "moderator@example.org", role="moderator", name="Модератор Иванов")
    make_user(session_factory, "official@example.org", role="official", name="Ольга Служащая")
    idea = plant(session_factory, author, IDEA)
    with serve(app) as base:
        yield base, idea


def signed_in(chrome: Any, base: str, email: str, *, javascript: bool = True) -> Any:
    context = chrome.new_context(locale="ru-RU", viewport=PHONE, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"{base}/")
    return page


@requires_chromium()
def test_the_phone_menu_works_without_javascript(chrome: Any, served: tuple[str, int]) -> None:
    base, _ = served
    page = signed_in(chrome, base, "admin@example.org", javascript=False)
    audit = page.get_by_role("link", name=t("ru", "Audit log"))
    expect(audit).to_be_hidden()  # the menu is closed until asked for
    toggle = page.locator(".nav-toggle")
    assert toggle.inner_text().strip() == t("ru", "Menu")
    toggle.click()
    expect(audit).to_be_visible()
    audit.click()
    page.wait_for_url(f"{base}/admin/audit*")
    page.context.close()


@requires_chromium()
def test_the_phone_menu_button_reports_its_state(chrome: Any, served: tuple[str, int]) -> None:
    base, _ = served
    page = signed_in(chrome, base, "author@example.org")
    toggle = page.locator(".nav-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("link", name=t("ru", "Projects"), exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    expect(page.get_by_role("link", name=t("ru", "Projects"), exact=True)).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    menu = page.locator("#site-nav").bounding_box()
    assert menu is not None and menu["y"] + menu["height"] < 720, menu
    page.mouse.click(180, 730)  # a click below the open menu, outside it, closes it
    expect(toggle).to_have_attribute("aria-expanded", "false")
    page.context.close()


@requires_chromium()
@pytest.mark.parametrize(
    "who",
    [
        "anonymous",
        "author@example.org",
        "moderator@example.org",
        "official@example.org",
        "admin@example.org",
    ],
)
def test_the_header_is_one_line_on_a_360px_phone(
    chrome: Any, served: tuple[str, int], who: str
) -> None:
    base, _ = served
    if who == "anonymous":
        page = chrome.new_context(locale="ru-RU", viewport=PHONE).new_page()
        page.goto(f"{base}/")
    else:
        page = signed_in(chrome, base, who)
    box = page.locator(".site-header").bounding_box()
    assert box is not None and box["height"] <= 64, box
    brand, toggle = (
        page.locator(".brand").bounding_box(),
        page.locator(".nav-toggle").bounding_box(),
    )
    assert brand and toggle and abs(brand["y"] - toggle["y"]) < 16, (brand, toggle)
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    page.context.close()


@requires_chromium()
def test_on_a_desktop_the_links_are_shown_without_a_menu_button(
    chrome: Any, served: tuple[str, int]
) -> None:
    base, _ = served
    page = chrome.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{base}/")
    assert not page.locator(".nav-toggle").is_visible()
    assert page.get_by_role("link", name=t("ru", "Log in")).is_visible()
    page.context.close()


@requires_chromium()
def test_on_a_desktop_the_staff_pages_are_a_dropdown(chrome: Any, served: tuple[str, int]) -> None:
    base, _ = served
    page = signed_in(chrome, base, "admin@example.org")
    page.set_viewport_size({"width": 1280, "height": 800})
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["height"] <= 72, header  # one line for an admin too
    staff = page.locator(".nav-work > summary")
    audit = page.get_by_role("link", name=t("ru", "Audit log"))
    expect(audit).to_be_hidden()
    staff.click()
    expect(staff).to_have_attribute("aria-expanded", "true")
    expect(audit).to_be_visible()
    page.keyboard.press("Escape")
    expect(audit).to_be_hidden()
    expect(staff).to_be_focused()
    page.context.close()


# --- Open Graph -------------------------------------------------------------------------------


def meta(html: str, key: str) -> str | None:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    return found.group(1) if found else None


def test_the_home_page_carries_open_graph_and_description_tags(browser: Browser) -> None:
    html = browser.get("/").text
    assert meta(html, "description")
    assert meta(html, "og:type") == "website"
    assert meta(html, "og:locale") == "ru_RU"
    assert meta(html, "og:title")
    assert meta(html, "twitter:card") == "summary_large_image"
    image = meta(html, "og:image")
    assert image and image.startswith("http") and image.endswith(".png"), image
    path = image.split("://", 1)[1].split("/", 1)[1]
    assert browser.get(f"/{path}").headers["content-type"] == "image/png"
    base = browser.app.state.settings.base_url.rstrip("/")  # type: ignore[attr-defined]
    assert image.startswith(base + "/static/"), image  # the public address, not the Host header
    forged = browser.get("/", headers={"Host": "evil.example"}).text
    assert "evil.example" not in (meta(forged, "og:image") or "") + (meta(forged, "og:url") or "")
    browser.submit("/language", {"lang": "en", "next": "/"})
    assert meta(browser.get("/").text, "og:locale") == "en_GB"


def test_an_idea_page_carries_open_graph_tags(browser: Browser, citizen: CurrentUser) -> None:
    idea = plant(browser.app.state.session_factory, citizen, IDEA)  # type: ignore[attr-defined]
    html = browser.get(f"/ideas/{idea}").text
    for key in ("description", "og:title", "og:image", "og:url", "og:locale", "twitter:card"):
        assert meta(html, key), key
    assert f"/ideas/{idea}" in (meta(html, "og:url") or "")


def test_the_brand_assets_are_served(browser: Browser) -> None:
    for path, kind in (
        ("/static/favicon.svg", "image/svg+xml"),
        ("/static/brand/mark.svg", "image/svg+xml"),
        ("/static/brand/favicon-32.png", "image/png"),
        ("/static/brand/apple-touch-icon.png", "image/png"),
        ("/static/brand/og-image.png", "image/png"),
    ):
        response = browser.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == kind, path
