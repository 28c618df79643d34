"""End-to-end flows in a real browser, shared by tests/test_e2e_browser.py and `make screenshots`.

Each flow drives headless Chromium (Playwright) against the app served by uvicorn, asserts what a
person would see, and, when given a folder, saves a PNG per step. Test data is planted through
the services (the way the site stores it); everything the flow is about happens in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tests.helpers import PASSWORD, make_user
from tests.similar_support import TARGET, TYPED, plant, plant_corpus, settle
from tests.similarity_helpers import BIKE, BIKE_COPY
from webapp.i18n import Translator
from webapp.ideas.votes import cast_vote
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, Notification, User, Vote

VIEWPORT = {"width": 1280, "height": 800}


@cache
def translator(lang: str) -> Translator:
    return Translator(lang)


def t(lang: str, message: str, **params: object) -> str:
    """What the page says for ``message`` in ``lang`` (from the real catalogs)."""
    return translator(lang).gettext(message, **params)


@dataclass
class Site:
    """The served app, its URL, a browser, and where screenshots go (None: nowhere)."""

    app: Any
    base: str
    browser: Any
    shots: Path | None = None

    @property
    def factory(self) -> Any:
        return self.app.state.session_factory

    def page(self, lang: str = "ru") -> Any:
        """A fresh visitor (own cookies) whose browser asks for ``lang``."""
        context = self.browser.new_context(
            locale="ru-RU" if lang == "ru" else "en-GB", viewport=VIEWPORT
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.js_errors = errors
        return page

    def shot(self, page: Any, name: str) -> None:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(self.shots / f"{name}.png"))


def user_id(factory: Any, email: str) -> int:
    with transaction(factory) as s:
        found = s.scalar(select(User.id).where(User.email == email))
    assert found is not None, email
    return int(found)


def votes_of(factory: Any, email: str, idea_id: int) -> int:
    with transaction(factory) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Vote)
                .join(User, User.id == Vote.user_id)
                .where(User.email == email, Vote.idea_id == idea_id, Vote.value == 1)
            )
            or 0
        )


def support(factory: Any, voters: list[CurrentUser], idea_id: int) -> None:
    with transaction(factory) as s:
        for voter in voters:
            cast_vote(s, voter, idea_id)


def log_in(site: Site, page: Any, email: str) -> None:
    page.goto(f"{site.base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main form.stack button[type=submit]")
    page.wait_for_url(f"{site.base}/")


# --- a. a citizen registers, types an idea, sees similar ones, supports one instead ---------


def citizen_registers_types_and_supports_instead(site: Site) -> dict[str, int]:
    ids = plant_corpus(site.app, make_user(site.factory, "author@example.org"))
    page = site.page("ru")
    lookups: list[str] = []
    page.on("request", lambda r: lookups.append(r.url) if "/ideas/similar?" in r.url else None)

    page.goto(f"{site.base}/register")
    page.fill("#email", "typist@example.org")
    page.fill("#display_name", "Наборщица")
    page.fill("#password", PASSWORD)
    site.shot(page, "01-citizen-register-ru")
    page.click("main form.stack button[type=submit]")
    page.wait_for_url(f"{site.base}/")

    page.goto(f"{site.base}/ideas/new")
    page.locator("#title").press_sequentially(TYPED[0], delay=60)
    page.locator("#body").press_sequentially(TYPED[1][:40], delay=30)
    item = page.locator(f'[data-similar-region] [data-similar-id="{ids["target"]}"]')
    item.wait_for(state="visible")
    assert TARGET[0] in item.inner_text()
    assert t("ru", "Likely duplicate") in item.inner_text()
    shown = page.locator("[data-similar-region] [data-similar-id]").evaluate_all(
        "els => els.map(e => e.dataset.similarId)"
    )
    assert str(ids["hidden"]) not in shown and str(ids["merged"]) not in shown
    assert shown[0] == str(ids["target"])
    # Debounced: ~75 keys typed 30-60 ms apart, a lookup only after a pause.
    assert 1 <= len(lookups) <= 4, lookups
    site.shot(page, "02-citizen-similar-ideas-ru")

    item.get_by_role("button", name=t("ru", "Support this instead")).click()
    item.get_by_role("status").wait_for()
    assert t("ru", "You support this idea. Thank you!") in item.inner_text()
    assert item.locator("[data-support-count]").inner_text() == "1"
    assert page.url == f"{site.base}/ideas/new"  # the draft stays
    assert page.locator("#title").input_value() == TYPED[0]
    seen = page.locator("input[name=similar_seen]").input_value()
    assert str(ids["target"]) in seen.split(",")  # the form carries the ids the citizen saw
    site.shot(page, "03-citizen-supported-instead-ru")
    assert page.js_errors == []
    page.context.close()
    assert votes_of(site.factory, "typist@example.org", ids["target"]) == 1
    return ids


# --- b. a moderator merges a duplicate group found by the dedup pipeline --------------------


def plant_duplicates(site: Site) -> tuple[int, int]:
    """Two near-duplicates by different authors, embedded so the finder groups them.

    Supporters overlap: one citizen supports both, one each, so the merged idea must count
    three distinct supporters, not four votes.
    """
    bike = plant(site.factory, make_user(site.factory, "anna@example.org", name="Анна"), BIKE)
    copy = plant(site.factory, make_user(site.factory, "oleg@example.org", name="Олег"), BIKE_COPY)
    both, first, second = (
        make_user(site.factory, f"{n}@example.org") for n in ("both", "first", "second")
    )
    support(site.factory, [both, first], bike)
    support(site.factory, [both, second], copy)
    settle(site.app)
    return bike, copy


def moderator_merges_a_duplicate_group(site: Site) -> tuple[int, int]:
    bike, copy = plant_duplicates(site)
    make_user(site.factory, "moderator@example.org", role="moderator", name="Модератор")
    page = site.page("ru")
    log_in(site, page, "moderator@example.org")
    page.goto(f"{site.base}/moderation/duplicates")
    group = page.locator(
        "section.dup-group",
        has=page.locator(f'a[href="/ideas/{bike}"]'),
    ).filter(has=page.locator(f'a[href="/ideas/{copy}"]'))
    for _ in range(40):  # the embedder writes the group moments after the vectors
        if group.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    assert group.count() == 1, "the dedup pipeline did not propose the planted pair"
    suggested = group.locator("article.dup-suggested")
    assert suggested.locator(f'a[href="/ideas/{bike}"]').count() == 1  # equal support: oldest
    group.locator("textarea[name=reason]").first.fill("Одна и та же велодорожка на Тверской.")
    group.evaluate("e => e.scrollIntoView({block: 'start'})")
    site.shot(page, "04-moderator-duplicate-queue-ru")
    group.get_by_role("button", name=t("ru", "Merge the ticked ideas")).click()
    page.wait_for_load_state()
    assert page.locator(".flash").count() >= 1

    page.goto(f"{site.base}/ideas/{copy}")
    page.wait_for_url(f"{site.base}/ideas/{bike}")  # the merged idea redirects
    flash = t("ru", "“%(title)s” was merged into this idea.", title=BIKE_COPY[0])
    assert flash in page.locator("main .flash").inner_text()
    info = page.locator("section.merge-info")
    assert t("ru", "Merged into this idea") in info.inner_text()
    assert page.locator("[data-support-count]").inner_text() == "3"  # both@ counted once
    site.shot(page, "05-moderator-merged-redirect-ru")
    assert page.js_errors == []
    page.context.close()
    with transaction(site.factory) as s:
        merged = s.get(Idea, copy)
        assert merged is not None and merged.status == "merged" and merged.merged_into_id == bike
    return bike, copy


# --- c. an official answers the strongest proposal; the supporter is notified --------------

PROPOSALS = [
    (
        "Остановка автобуса у поликлиники",
        "Перенести остановку автобуса ближе ко входу в районную поликлинику.",
    ),
    (
        "Фонтан на Пушкинской площади",
        "Включать фонтан на Пушкинской площади с мая по сентябрь каждый вечер.",
    ),
    (
        "Каток в парке Сокольники",
        "Заливать бесплатный каток у главного входа в парк Сокольники зимой.",
    ),
]
RESPONSE = "Каток будет залит к декабрю: подрядчик выбран, работы оплачены из бюджета округа."


def official_answers_the_strongest(site: Site) -> int:
    author = make_user(site.factory, "proposer@example.org", name="Пётр Заявкин")
    ids = [plant(site.factory, author, text, "transport") for text in PROPOSALS]
    supporter = make_user(site.factory, "supporter@example.org", name="Сторонница")
    crowd = [make_user(site.factory, f"crowd{n}@example.org") for n in range(5)]
    support(site.factory, crowd[:1], ids[0])
    support(site.factory, crowd[:2], ids[1])
    support(site.factory, [supporter, *crowd], ids[2])  # the strongest: six supporters
    strongest = ids[2]
    make_user(site.factory, "official@example.org", role="official", name="Чиновник")

    page = site.page("ru")
    log_in(site, page, "official@example.org")
    first = page.locator("table tbody tr").first
    for _ in range(40):  # each worker's ranking catches up with the votes within a second or two
        page.goto(f"{site.base}/officials")
        if first.count() and PROPOSALS[2][0] in first.inner_text():
            break
        page.wait_for_timeout(250)
    assert PROPOSALS[2][0] in first.inner_text(), page.locator("main").inner_text()[:500]
    site.shot(page, "06-official-dashboard-ru")
    first.get_by_role("link", name=PROPOSALS[2][0]).click()
    page.wait_for_url(f"{site.base}/officials/ideas/{strongest}*")
    page.select_option("#answer-status", "accepted")
    page.fill("#answer-body", RESPONSE)
    site.shot(page, "07-official-answer-form-ru")
    page.get_by_role("button", name=t("ru", "Publish the answer")).click()
    page.wait_for_load_state()
    assert RESPONSE in page.locator(".response-history").inner_text()

    page.goto(f"{site.base}/ideas/{strongest}")
    answer = page.locator("section.official-info")
    assert RESPONSE in answer.inner_text()
    assert t("ru", "The city's answer") in answer.inner_text()
    site.shot(page, "08-official-answer-public-ru")
    assert page.js_errors == []
    page.context.close()

    page = site.page("ru")
    log_in(site, page, "supporter@example.org")
    assert page.locator(".nav-notifications .count-badge").count() == 1  # an unread count
    page.goto(f"{site.base}/notifications")
    item = page.locator("li.notification-unread").first
    assert PROPOSALS[2][0] in item.inner_text()
    assert RESPONSE[:40] in item.inner_text()
    site.shot(page, "09-supporter-notification-ru")
    page.context.close()
    with transaction(site.factory) as s:
        notes = s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == supporter.id, Notification.idea_id == strongest)
        )
    assert notes == 1
    return strongest
