"""Every user-visible string is in the catalogs, Russian translates all of them, pages switch language."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from starlette.applications import Starlette

from tests.helpers import Browser

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "webapp" / "i18n"
KEYWORDS = [
    "_",
    "gettext",
    "ngettext:1,2",
    "N_",
    "add:2",
    "flash:2",
    "invalid:2",
    "NotFound",
    "Conflict",
    "PermissionDenied",
    "NotAuthenticated",
    "RateLimited",
    "PayloadTooLarge",
    "DomainError",
]


def _catalog(lang: str) -> Catalog:
    with (CATALOG / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def test_the_catalog_template_is_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "messages.pot"
    pybabel = str(Path(sys.executable).parent / "pybabel")
    args = [pybabel, "extract", "-F", "babel.cfg", "-o", str(out), "--no-location", "--sort-output"]
    for k in KEYWORDS:
        args += ["-k", k]
    subprocess.run([*args, "."], cwd=ROOT, check=True, capture_output=True)
    with out.open("rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    in_ru = {m.id for m in _catalog("ru") if m.id}
    missing = fresh - in_ru
    assert not missing, f"run `make messages` and translate: {sorted(map(str, missing))[:10]}"


def test_every_message_has_a_russian_translation() -> None:
    untranslated = []
    for m in _catalog("ru"):
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings) or "fuzzy" in m.flags:
            untranslated.append(m.id)
    assert not untranslated, untranslated[:10]


def test_placeholders_survive_translation() -> None:
    pattern = re.compile(r"%\((\w+)\)[sdr]")
    for m in _catalog("ru"):
        if not m.id:
            continue
        ids = tuple(m.id) if isinstance(m.id, (tuple, list)) else (m.id,)
        strings = tuple(m.string) if isinstance(m.string, (tuple, list)) else (m.string or "",)
        wanted = set().union(*(pattern.findall(i) for i in ids)) - {"num"}
        for s in strings:
            assert wanted <= set(pattern.findall(s)), (m.id, s)


def test_pages_switch_language_and_remember_it(browser: Browser) -> None:
    assert "Идеи для города" in browser.get("/").text
    response = browser.submit("/language", {"lang": "en", "next": "/?sort=top"})
    assert response.status_code == 303 and response.headers["location"] == "/?sort=top"
    page = browser.get("/").text
    assert "Ideas for the city" in page and "Идеи для города" not in page
    assert browser.submit("/language", {"lang": "xx"}).status_code == 422


def test_browser_language_is_used_when_nothing_was_chosen(app: Starlette) -> None:
    with Browser(app) as b:
        assert (
            "Ideas for the city" in b.get("/", headers={"accept-language": "en-GB,en;q=0.9"}).text
        )
        assert "Идеи для города" in b.get("/", headers={"accept-language": "de-DE"}).text


def test_numbers_and_dates_are_localised(app: Starlette) -> None:
    from datetime import UTC, datetime

    tr_ru, tr_en = app.state.translators["ru"], app.state.translators["en"]
    assert tr_ru.number(1234567) == "1\xa0234\xa0567"
    assert tr_en.number(1234567) == "1,234,567"
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert "марта" in tr_ru.date(moment)
    assert "March" in tr_en.date(moment)


def test_russian_plural_forms() -> None:
    from webapp.i18n import Translator

    tr = Translator("ru")
    forms = [tr.ngettext("%(num)s supporter", "%(num)s supporters", n) for n in (1, 3, 5, 21)]
    assert forms == ["1 сторонник", "3 сторонника", "5 сторонников", "21 сторонник"]
