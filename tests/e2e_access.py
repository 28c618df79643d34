"""End-to-end checks of languages and keyboard use, shared by tests and `make screenshots`.

``tour_pages`` renders each main page in Russian and English and returns what a reader would
miss: a wrong ``<html lang>``, an untranslated heading, or a catalog string of the other
language leaking into the page. ``keyboard_only`` logs in, proposes and supports an idea with
Tab, Shift+Tab, Enter and Space alone, checking the skip link and that focus is visible.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from babel.messages.pofile import read_po

from tests.e2e_flows import Site, log_in, support, t, votes_of
from tests.helpers import PASSWORD, make_user
from tests.similar_support import plant, settle
from tests.similarity_helpers import TREES, TREES_COPY
from webapp.i18n import CATALOG_DIR
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea
from webapp.officials import responses

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%")
# The visible text of the page in its own language: elements marked with another language
# (user content, the language switch) are left out; hidden text and labels are kept.
PAGE_TEXT = """lang => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('[lang]').forEach(e => { if (!e.lang.startsWith(lang)) e.remove(); });
  // data, not interface text: scripts, styles, and what is marked not to translate (e-mail
  // addresses, browser names)
  body.querySelectorAll('script, style, [translate="no"]').forEach(e => e.remove());
  const attrs = [...body.querySelectorAll('[aria-label], [title], [placeholder], [alt]')]
    .flatMap(e => ['aria-label', 'title', 'placeholder', 'alt'].map(a => e.getAttribute(a) || ''));
  return [document.title, body.textContent, ...attrs].join('\\n').replace(/\\s+/g, ' ');
}"""


@cache
def foreign_strings(lang: str) -> tuple[re.Pattern[str], ...]:
    """Patterns of the other language's catalog strings that must not show on a ``lang`` page.

    On a Russian page: the English msgids whose translation differs; on an English page: the
    Russian translations. A string with placeholders contributes its literal pieces of two
    words or more; single words of four letters or more are matched as whole words.
    """
    with (CATALOG_DIR / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="ru")
    texts: set[str] = set()
    for m in catalog:
        if not m.id:
            continue
        ids = tuple(m.id) if isinstance(m.id, (tuple, list)) else (m.id,)
        strings = tuple(m.string) if isinstance(m.string, (tuple, list)) else (m.string or "",)
        if set(ids) & set(strings):
            continue  # the same in both languages (a name, an acronym)
        for text in strings if lang == "en" else ids:
            texts.update(p.strip(" .,:;·—()«»“”\"'") for p in PLACEHOLDER.split(text))
    patterns = []
    for text in sorted(texts):
        words = text.split()
        if len(words) >= 2:
            patterns.append(re.compile(re.escape(text)))
        elif len(words) == 1 and len(text) >= 4 and text.isalpha():
            patterns.append(re.compile(rf"(?<!\w){re.escape(text)}(?!\w)"))
    return tuple(patterns)


def leaks(lang: str, text: str) -> list[str]:
    return [p.pattern for p in foreign_strings(lang) if p.search(text)]


def plant_tour_data(site: Site) -> dict[str, int]:
    """An idea with a comment-free page, a duplicate pair, a notification for the admin."""
    author = make_user(site.factory, "tour-author@example.org", name="Вера Обходова")
    admin = make_user(site.factory, "tour-admin@example.org", role="admin", name="Админ")
    official = make_user(site.factory, "tour-official@example.org", role="official")
    trees = plant(site.factory, author, TREES)
    copy = plant(site.factory, author, TREES_COPY)
    support(site.factory, [admin], trees)
    with transaction(site.factory) as s:
        responses.answer(s, official, trees, "under_review", "", email=False)
    settle(site.app)
    return {"idea": trees, "copy": copy}


def tour_pages(site: Site, lang: str, ids: dict[str, int]) -> dict[str, list[str]]:
    """Each main page in ``lang``: the problems found on it, by page name (empty: none)."""
    anonymous = [
        (20, "home", "/", "Ideas for the city"),
        (21, "idea", f"/ideas/{ids['idea']}", "Comments"),
        (22, "login", "/login", "Log in"),
        (23, "register", "/register", "Register"),
        (24, "not-found", "/no-such-page", "Page not found"),
    ]
    signed_in = [
        (25, "new-idea", "/ideas/new", "Propose an idea"),
        (26, "notifications", "/notifications", "Notifications"),
        (27, "moderation-duplicates", "/moderation/duplicates", "Possible duplicates"),
        (28, "officials-dashboard", "/officials", "Strongest proposals"),
        (29, "account-security", "/account/security", "Account security"),
        (30, "account-tokens", "/account/tokens", "Access keys for apps"),
        (31, "admin-logins", "/admin/logins", "Login log"),
    ]
    problems: dict[str, list[str]] = {}
    for who, pages in ((None, anonymous), ("tour-admin@example.org", signed_in)):
        page = site.page(lang)
        if who:
            log_in(site, page, who)
        for number, name, url, heading in pages:
            page.goto(f"{site.base}{url}")
            found = []
            if (got := page.get_attribute("html", "lang")) != lang:
                found.append(f"<html lang={got!r}>")
            wanted = t(lang, heading)
            headings = page.locator("main h1, main h2").all_inner_texts()
            if not any(h.strip().startswith(wanted) for h in headings):
                found.append(f"no heading {wanted!r} in {headings}")
            found += [f"leak {s!r}" for s in leaks(lang, page.evaluate(PAGE_TEXT, lang))]
            problems[name] = found
            site.shot(page, f"{number}-page-{name}-{lang}")
        assert page.js_errors == [], page.js_errors
        page.context.close()
    return problems


# --- e. keyboard only ------------------------------------------------------------------------

FOCUS = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  return {tag: e.tagName, id: e.id, cls: e.className, text: (e.innerText || e.value || '').trim(),
          href: e.getAttribute('href'), visible: e.matches(':focus-visible'),
          ring: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none',
          inMain: !!e.closest('main'), top: e.getBoundingClientRect().top,
          left: e.getBoundingClientRect().left};
}"""
OVERLAP = """([a, b]) => {
  const r = document.querySelector(a).getBoundingClientRect();
  const q = document.querySelector(b).getBoundingClientRect();
  return r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom;
}"""
KEYBOARD_IDEA = (
    "Питьевой фонтанчик у школы",
    "Поставить питьевой фонтанчик во дворе школы, чтобы дети пили воду на переменах.",
)
BENCHES = ("Скамейки у пруда", "Поставить скамейки вокруг пруда, чтобы пожилым было где сесть.")


def focused(page: Any) -> dict[str, Any]:
    return dict(page.evaluate(FOCUS))


def tab_to(page: Any, wanted: Any, limit: int = 200, key: str = "Tab") -> dict[str, Any]:
    """Press ``key`` until the focused element satisfies ``wanted``; every stop shows focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        if now["tag"] != "BODY":
            assert now["visible"] and now["ring"], f"focus not visible on {now}"
        if wanted(now):
            return now
    raise AssertionError(f"{key} never reached the element; last {focused(page)}")


def keyboard_only(site: Site) -> dict[str, int]:
    other = make_user(site.factory, "bench-author@example.org", name="Игорь Лавочкин")
    benches = plant(site.factory, other, BENCHES)
    make_user(site.factory, "keys@example.org", name="Клавиатурный")
    settle(site.app)
    page = site.page("ru")
    page.goto(f"{site.base}/")

    # The first Tab reaches the skip link, shown on screen; Enter jumps past the menu.
    now = tab_to(page, lambda f: True, limit=1)
    assert "skip-link" in now["cls"] and now["text"] == t("ru", "Skip to content"), now
    assert now["top"] >= 0 and now["left"] >= 0, "the focused skip link is off screen"
    covers = page.evaluate(OVERLAP, [".skip-link", ".site-header .brand"])
    assert not covers, "the focused skip link covers the site's name"
    site.shot(page, "10-keyboard-skip-link-ru")
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    assert tab_to(page, lambda f: True, limit=1)["inMain"], "Tab after the skip link left main"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert not focused(page)["inMain"], "Shift+Tab did not go back to the menu"

    # The main navigation: log in.
    tab_to(page, lambda f: f["href"] == "/login")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.base}/login")
    tab_to(page, lambda f: f["id"] == "email")
    page.keyboard.type("keys@example.org")
    tab_to(page, lambda f: f["id"] == "password")
    page.keyboard.type(PASSWORD)
    site.shot(page, "11-keyboard-login-ru")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.base}/")

    # Propose an idea.
    tab_to(page, lambda f: f["href"] == "/ideas/new")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.base}/ideas/new")
    tab_to(page, lambda f: f["id"] == "title")
    page.keyboard.type(KEYBOARD_IDEA[0])
    tab_to(page, lambda f: f["id"] == "body")
    page.keyboard.type(KEYBOARD_IDEA[1])
    tab_to(page, lambda f: f["id"] == "category_id")
    page.keyboard.press("ArrowDown")  # a closed <select> takes arrow keys
    assert page.locator("#category_id").input_value() != ""
    tab_to(page, lambda f: f["tag"] == "BUTTON" and f["text"] == t("ru", "Publish idea"))
    site.shot(page, "12-keyboard-idea-form-ru")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ideas/\d+$"))
    assert page.locator("main h1").inner_text() == KEYBOARD_IDEA[0]
    mine = int(page.url.rsplit("/", 1)[1])
    with transaction(site.factory) as s:
        idea = s.get(Idea, mine)
        assert idea is not None and idea.title == KEYBOARD_IDEA[0]

    # Support another idea: through the list, with Space on the button.
    tab_to(page, lambda f: f["href"] == "/" and f["text"] == t("ru", "Ideas"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.base}/")
    tab_to(page, lambda f: f["href"] == f"/ideas/{benches}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.base}/ideas/{benches}")
    button = tab_to(page, lambda f: f["tag"] == "BUTTON" and t("ru", "Support") in f["text"])
    page.keyboard.press("Shift+Tab")
    assert focused(page) != button
    tab_to(page, lambda f: f["tag"] == "BUTTON" and t("ru", "Support") in f["text"], limit=1)
    page.keyboard.press("Space")
    page.locator("[data-my-vote]").wait_for()
    assert page.locator("[data-support-count]").inner_text() == "1"
    site.shot(page, "13-keyboard-supported-ru")
    assert page.js_errors == []
    page.context.close()
    assert votes_of(site.factory, "keys@example.org", benches) == 1
    return {"idea": mine, "supported": benches}
