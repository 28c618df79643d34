"""Moderation that flows: one tab bar on every moderation page, undo right after a merge, the
kept idea shown as staying (no box to tick), tables that become cards on a phone.

Real app, real SQLite database, real templates; the browser checks (what the style sheet hides,
sideways scrolling at 360 px) run in Debian's headless Chromium against the app served by uvicorn.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.a11y_support import axe_source, axe_violations, describe
from tests.browser_support import chromium, requires_chromium, serve
from tests.e2e_flows import Site, log_in, plant_duplicates
from tests.helpers import Browser, make_user
from tests.merge_helpers import add_idea, expected_counts, quick_user, stored_counts
from tests.similar_support import similar_app
from tests.similarity_helpers import BIKE
from webapp.ideas.votes import cast_vote
from webapp.kernel import audit
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, IdeaMerge

TABS = '<nav class="tabs" aria-label="Разделы модерации">'
PAGES = {
    "duplicates": "/moderation/duplicates",
    "merges": "/moderation/merges",
    "reports": "/moderation/reports",
    "hidden": "/moderation/hidden",
    "blocked": "/moderation/blocked",
    "signals": "/moderation/signals",
}


def tab_bar(page: str) -> str:
    assert page.count(TABS) == 1, "expected exactly one moderation tab bar"
    start = page.index(TABS)
    return page[start : page.index("</nav>", start)]


def current_tabs(bar: str) -> list[str]:
    return re.findall(r'href="([^"]+)" aria-current="page"', bar)


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_every_moderation_page_has_the_same_tab_bar_with_its_own_tab_current(
    app: Starlette, session_factory: sessionmaker[Session], role: str
) -> None:
    user = make_user(session_factory, f"{role}@example.org", role=role)
    idea = add_idea(session_factory, "Скамейки во дворе")
    with Browser(app, headers={"accept-language": "ru"}) as b:
        b.login(user.email)
        pages = dict(PAGES)
        if role == "admin":
            pages["audit"] = "/admin/audit"
        bars = {}
        for key, url in pages.items():
            response = b.get(url)
            assert response.status_code == 200, url
            bars[key] = tab_bar(response.text)
            assert current_tabs(bars[key]) == [url], url
        # the same tabs everywhere, merge history and signals included; the audit log for admins
        assert len(set(re.sub(r' aria-current="page"', "", bar) for bar in bars.values())) == 1
        bar = bars["duplicates"]
        for url in pages.values():
            assert f'href="{url}"' in bar
        assert ('href="/admin/audit"' in bar) == (role == "admin")
        for label in ("Дубликаты", "История объединений", "Блокировки", "Накрутка голосов"):
            assert f">{label}</a>" in bar
        # an idea's vote weights: the bar, no tab current
        weights = b.get(f"/moderation/ideas/{idea}/weights")
        assert weights.status_code == 200
        assert current_tabs(tab_bar(weights.text)) == []


def test_merge_history_is_reachable_from_the_duplicate_queue_and_the_reports(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "moderator@example.org", role="moderator")
    with Browser(app, headers={"accept-language": "ru"}) as b:
        b.login("moderator@example.org")
        for url in ("/moderation/duplicates", "/moderation/reports"):
            assert 'href="/moderation/merges"' in tab_bar(b.get(url).text)


def test_moderation_tables_say_what_each_cell_is_for_a_phone(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin", name="Анна")
    blocked = make_user(session_factory, "spam@example.org", name="Спамер")
    with transaction(session_factory) as s:
        audit.record(s, admin.id, "user.block", "user", blocked.id, reason="Спам")
    with Browser(app, headers={"accept-language": "ru"}) as b:
        b.login(admin.email)
        b.submit(f"/moderation/users/{blocked.id}/block", {"reason": "Рассылает рекламу"})
        for url in ("/admin/audit", "/moderation/blocked"):
            page = b.get(url).text
            assert "table-responsive" in page, url
            body = page[page.index("<tbody>") : page.index("</tbody>")]
            cells = re.findall(r"<td([^>]*)>", body)
            assert cells and all("data-label=" in c for c in cells), url
        assert "Спамер" in b.get("/moderation/blocked").text


def test_a_merge_made_on_the_idea_page_can_be_undone_there_exactly(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    moderator = make_user(session_factory, "moderator@example.org", role="moderator")
    keep = add_idea(session_factory, "Освещение в парке")
    fold = add_idea(session_factory, "Фонари в парке")
    voters = [quick_user(session_factory, n) for n in ("Anna", "Boris", "Vera")]
    with transaction(session_factory) as s:
        cast_vote(s, voters[0], keep, 1)
        cast_vote(s, voters[0], fold, 1)  # supports both: counted once while merged
        cast_vote(s, voters[1], fold, 1)
        cast_vote(s, voters[2], keep, 1)
        before = stored_counts(s, [keep, fold])
    with Browser(app, headers={"accept-language": "ru"}) as b:
        b.login(moderator.email)
        merged = b.submit(
            f"/moderation/ideas/{fold}/merge", {"target_id": str(keep), "reason": "Одно и то же"}
        )
        assert merged.status_code == 303 and merged.headers["location"] == f"/ideas/{keep}"
        with transaction(session_factory) as s:
            assert stored_counts(s, [keep, fold]) == expected_counts(s, [keep, fold])
            assert s.get_one(Idea, keep).support_count == 3
            merge_id = s.scalars(select(IdeaMerge.id)).one()
        page = b.get(f"/ideas/{keep}").text
        info = page[page.index('class="merge-info"') :]
        form = info[info.index("<form") : info.index("</form>")]
        assert f'action="/moderation/merges/{merge_id}/unmerge"' in form
        assert "Отменить объединение" in form
        fields = {
            k: html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
        }
        assert set(fields) == {"csrf_token", "back", "reason"}
        undone = b.post(f"/moderation/merges/{merge_id}/unmerge", data=fields)
        assert undone.status_code == 303 and undone.headers["location"] == f"/ideas/{keep}"
        assert "Отменить объединение" not in b.get(f"/ideas/{keep}").text
    with transaction(session_factory) as s:
        assert stored_counts(s, [keep, fold]) == before
        assert s.get_one(Idea, fold).status == "published"


def test_citizens_see_no_undo_button_on_a_merged_idea(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    moderator = make_user(session_factory, "moderator@example.org", role="moderator")
    make_user(session_factory, "citizen@example.org")
    keep = add_idea(session_factory, "Освещение в парке")
    fold = add_idea(session_factory, "Фонари в парке")
    with Browser(app, headers={"accept-language": "ru"}) as b:
        b.login(moderator.email)
        b.submit(f"/moderation/ideas/{fold}/merge", {"target_id": str(keep), "reason": "Дубль"})
    with Browser(app, headers={"accept-language": "ru"}) as b:
        b.login("citizen@example.org")
        page = b.get(f"/ideas/{keep}").text
        assert "Объединено с этой идеей" in page
        assert "/unmerge" not in page


# --- in a real browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[Any, str]]:
    app = similar_app(settings, similar_rate_limit=10_000)
    with serve(app) as base:
        yield app, base


def _group(page: Any, bike: int, copy: int) -> Any:
    group = page.locator("section.dup-group", has=page.locator(f'a[href="/ideas/{bike}"]'))
    group = group.filter(has=page.locator(f'a[href="/ideas/{copy}"]'))
    for _ in range(40):  # the embedder writes the group moments after the vectors
        if group.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    assert group.count() == 1, "the dedup pipeline did not propose the planted pair"
    return group


def _overflow(page: Any) -> int:
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


@requires_chromium()
def test_the_kept_idea_stays_without_a_box_and_the_pages_fit_a_phone(
    served: tuple[Any, str], chrome: Any
) -> None:
    app, base = served
    site = Site(app, base, chrome)
    bike, copy = plant_duplicates(site)
    make_user(site.factory, "admin@example.org", role="admin", name="Админ")
    with transaction(site.factory) as s:
        audit.record(
            s, None, "idea.merge", "idea", bike, reason="x" * 300, details={"a": "b" * 400}
        )
    context = chrome.new_context(locale="ru-RU", viewport={"width": 360, "height": 740})
    context.add_init_script(script=axe_source())  # axe-core on every page (the CSP allows this)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(site, page, "admin@example.org")
        page.goto(f"{base}/moderation/duplicates")
        group = _group(page, bike, copy)
        kept, other = (  # equal support: the oldest (bike) is suggested to keep
            group.locator("article.dup-member", has=page.locator(f'h3 a[href="/ideas/{i}"]'))
            for i in (bike, copy)
        )
        assert kept.locator("input[name=canonical]").is_checked()
        # the kept idea says «остаётся» and has no box to tick; the other one has its box
        assert kept.locator(".dup-stays").is_visible()
        assert kept.locator(".dup-stays").inner_text() == "остаётся"
        assert not kept.locator("input[type=checkbox]").is_visible()
        assert other.locator("input[type=checkbox]").is_visible()
        assert not other.locator(".dup-stays").is_visible()
        # choosing the other idea to keep moves «остаётся» with it (no JavaScript needed)
        other.locator("input[name=canonical]").check()
        assert other.locator(".dup-stays").is_visible()
        assert not other.locator("input[type=checkbox]").is_visible()
        assert kept.locator("input[type=checkbox]").is_visible()
        # "these are different ideas" is collapsed until asked for
        dismiss = group.locator("details.dup-dismiss")
        assert dismiss.get_attribute("open") is None
        assert not dismiss.locator("textarea").is_visible()
        dismiss.locator("summary").click()
        assert dismiss.locator("textarea").is_visible()
        assert describe({"/moderation/duplicates": axe_violations(page)}) == []
        # merge (keeping the copy, as chosen above): the page says so and offers the undo
        group.locator("textarea[name=reason]").first.fill("Одна и та же велодорожка.")
        group.get_by_role("button", name="Объединить отмеченные идеи").click()
        page.wait_for_url(f"{base}/moderation/duplicates?page=1&merged=*")
        done = page.locator("#merge-done")
        assert BIKE[0] in done.inner_text()
        assert _overflow(page) <= 0, "the page after a merge scrolls sideways at 360 px"
        assert describe({"after the merge": axe_violations(page)}) == []
        page.goto(f"{base}/moderation/merges")
        assert _overflow(page) <= 0, "the merge history scrolls sideways at 360 px"
        page.go_back()
        page.locator("#merge-done").get_by_role("button", name="Отменить объединение").click()
        page.wait_for_url(f"{base}/moderation/duplicates?page=1")
        assert page.locator("#merge-done").count() == 0
        _group(page, bike, copy)  # back in the queue
        with transaction(site.factory) as s:
            assert s.get_one(Idea, bike).status == "published"
            assert s.get_one(Idea, bike).support_count == 2  # its own two supporters again
        for url in (*PAGES.values(), "/admin/audit", f"/moderation/ideas/{bike}/weights"):
            page.goto(f"{base}{url}")
            assert _overflow(page) <= 0, f"{url} scrolls sideways at 360 px"
    finally:
        context.close()
