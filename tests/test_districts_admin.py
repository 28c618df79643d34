"""The districts admin page: grouped by okrug, a filter that works without JavaScript (and as you
type with it), and ONE save for the whole page — all changed rows in one transaction, or none."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.browser_support import chromium, requires_chromium, serve
from tests.helpers import PASSWORD, Browser, make_user
from webapp.app import create_app
from webapp.kernel.errors import InvalidInput
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import AuditLog, District
from webapp.taxonomy import taxonomy


@pytest.fixture(autouse=True)
def restore_names(session_factory: sessionmaker[Session]) -> Iterator[None]:
    """Districts are reference data that outlive a test's tables: put the names back."""
    with transaction(session_factory) as s:
        names = {d.id: (d.name_ru, d.name_en) for d in s.scalars(select(District))}
    yield
    with transaction(session_factory) as s:
        for d in s.scalars(select(District)):
            d.name_ru, d.name_en = names[d.id]


@pytest.fixture
def admin(app: Starlette, session_factory: sessionmaker[Session]) -> Any:
    make_user(session_factory, "admin@example.org", role="admin", name="Anna")
    with Browser(app) as b:
        b.login("admin@example.org")
        yield b


def _districts(factory: sessionmaker[Session]) -> dict[str, District]:
    with transaction(factory) as s:
        rows = {d.slug: d for d in s.scalars(select(District))}
        s.expunge_all()
        return rows


def _form(html: str) -> dict[str, str]:
    """The page's save form as a browser would send it (every name input, CSRF, the filter)."""
    form = html.split('class="district-form"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))
    return {k: v.replace("&#34;", '"').replace("&amp;", "&") for k, v in fields.items()}


def test_the_page_groups_districts_by_okrug_with_one_form_and_one_save(
    admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    rows = _districts(session_factory)
    okrugs = [d for d in rows.values() if d.parent_id is None]
    page = admin.get("/admin/districts")
    assert page.status_code == 200
    html = page.text
    assert html.count('<details class="collapsible okrug-section"') == len(okrugs)
    assert html.count('class="district-form"') == 1  # one form …
    assert html.count('<button type="submit">') == 1  # … with one Save
    arbat = rows["arbat"]
    okrug = next(o for o in okrugs if o.id == arbat.parent_id)
    section = html.split(f'id="name_ru-{okrug.id}"', 1)[1].split("</details>", 1)[0]
    assert f'id="name_ru-{arbat.id}"' in section  # Arbat inside its okrug's section
    assert len(_form(html)) == 2 + 2 * len(rows)  # csrf, q, and two names per row


def test_the_filter_works_as_a_plain_get_form(
    admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    rows = _districts(session_factory)
    arbat = rows["arbat"]
    html = admin.get("/admin/districts", params={"q": "  арбат "}).text
    assert f'id="name_ru-{arbat.id}"' in html
    names = set(re.findall(r'id="name_ru-(\d+)"', html))
    okrug_ids = {str(d.id) for d in rows.values() if d.parent_id is None}
    assert names - okrug_ids == {str(arbat.id)}  # only the matching district, under its okrug
    assert 'value="арбат"' in html  # the box keeps what was typed
    okrug = rows[next(s for s, d in rows.items() if d.id == arbat.parent_id)]
    whole = admin.get("/admin/districts", params={"q": okrug.name_en.upper()}).text
    children = [d for d in rows.values() if d.parent_id == okrug.id]
    assert all(f'id="name_ru-{d.id}"' in whole for d in children)  # an okrug: all of it
    nothing = admin.get("/admin/districts", params={"q": "Атлантида"})
    assert nothing.status_code == 200 and "district-form" not in nothing.text
    assert "Атлантида" in nothing.text
    assert 'src="/static/districts.js"' in html  # and, with JavaScript, as you type


def test_one_save_changes_every_changed_row_in_one_go(
    admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    rows = _districts(session_factory)
    arbat, khamovniki = rows["arbat"], rows["khamovniki"]
    form = _form(admin.get("/admin/districts").text)
    form[f"name_ru-{arbat.id}"] = "Арбат (ЦАО)"
    form[f"name_en-{khamovniki.id}"] = "Khamovniki district"
    form.pop("csrf_token")
    with transaction(session_factory) as s:
        audits = s.scalar(select(func.count()).select_from(AuditLog)) or 0
    response = admin.submit("/admin/districts", form)
    assert response.status_code == 303
    after = _districts(session_factory)
    assert after["arbat"].name_ru == "Арбат (ЦАО)" and after["arbat"].name_en == arbat.name_en
    assert after["khamovniki"].name_en == "Khamovniki district"
    changed = {
        s
        for s in rows
        if (rows[s].name_ru, rows[s].name_en) != (after[s].name_ru, after[s].name_en)
    }
    assert changed == {"arbat", "khamovniki"}
    with transaction(session_factory) as s:
        entries = list(s.scalars(select(AuditLog).where(AuditLog.action == "district.save")))
        assert s.scalar(select(func.count()).select_from(AuditLog)) == audits + 2
    assert {e.target_id for e in entries} == {arbat.id, khamovniki.id}
    page = admin.get(response.headers["location"]).text
    assert "2" in page.split('class="toast', 1)[1].split("</div>", 1)[0]


def test_an_invalid_row_saves_nothing_and_is_named(
    admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    rows = _districts(session_factory)
    arbat, khamovniki = rows["arbat"], rows["khamovniki"]
    form = _form(admin.get("/admin/districts").text)
    form.pop("csrf_token")
    form[f"name_ru-{arbat.id}"] = "Арбат (новое)"
    form[f"name_ru-{khamovniki.id}"] = "   "
    response = admin.submit("/admin/districts", form)
    assert response.status_code == 422
    after = _districts(session_factory)
    assert after["arbat"].name_ru == arbat.name_ru  # nothing changed
    html = response.text
    summary = html.split('id="district-errors"', 1)[1].split("</div>", 1)[0]
    assert khamovniki.name_ru in summary  # the row is named, in Russian (the default language)
    assert f'href="#name_ru-{khamovniki.id}"' in summary
    assert f'id="name_ru-{khamovniki.id}-error"' in html
    assert 'aria-invalid="true"' in html
    assert 'value="Арбат (новое)"' in html  # what was typed is kept
    with transaction(session_factory) as s:
        assert s.scalar(select(AuditLog).where(AuditLog.action == "district.save")) is None


def test_save_needs_csrf_and_an_admin(
    app: Starlette, admin: Browser, session_factory: sessionmaker[Session]
) -> None:
    arbat = _districts(session_factory)["arbat"]
    forged = admin.post(
        "/admin/districts", data={f"name_ru-{arbat.id}": "X", f"name_en-{arbat.id}": "X"}
    )
    assert forged.status_code == 403
    make_user(session_factory, "official@example.org", role="official", name="Oleg")
    with Browser(app) as b:
        b.login("official@example.org")
        assert b.get("/admin/districts").status_code == 403
    assert _districts(session_factory)["arbat"].name_ru == arbat.name_ru


def test_save_districts_checks_every_row_before_writing(
    session_factory: sessionmaker[Session],
) -> None:
    rows = _districts(session_factory)
    admin_id = make_user(session_factory, "a@example.org", role="admin", name="Anna").id
    with transaction(session_factory) as s:
        with pytest.raises(InvalidInput) as info:
            taxonomy.save_districts(
                s, admin_id, {rows["arbat"].id: ("Арбат 2", "Arbat 2"), 999_999: ("X", "Y")}
            )
        assert set(info.value.errors) == {"district-999999"}
    assert _districts(session_factory)["arbat"].name_ru == rows["arbat"].name_ru
    with transaction(session_factory) as s:
        same = taxonomy.save_districts(
            s, admin_id, {rows["arbat"].id: (rows["arbat"].name_ru, rows["arbat"].name_en)}
        )
    assert same == []


# --- in a real browser ------------------------------------------------------------------------


@requires_chromium()
def test_on_a_phone_the_filter_works_as_you_type_and_one_save_saves(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "admin@example.org", role="admin", name="Anna")
    arbat = _districts(session_factory)["arbat"]
    with serve(create_app(settings)) as base, chromium() as browser:
        context = browser.new_context(locale="ru-RU", viewport={"width": 360, "height": 740})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/login")
        page.fill("#email", "admin@example.org")
        page.fill("#password", PASSWORD)
        page.click("main form.stack button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/admin/districts")
        width = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(width), "the page scrolls sideways at 360 px"
        page.fill("#district-q", "арбат")  # typed, not submitted
        assert page.url == f"{base}/admin/districts"
        visible = page.locator("details.okrug-section:visible")
        assert visible.count() == 1
        rows = visible.locator("tbody tr:visible")
        assert rows.count() == 2  # the okrug itself and Arbat
        assert page.locator(f"#name_ru-{arbat.id}").is_visible()
        assert page.evaluate(width)
        page.fill(f"#name_ru-{arbat.id}", "Арбат (ЦАО)")
        page.click(".district-save button[type=submit]")
        page.wait_for_url(f"{base}/admin/districts")
        assert page.locator(".flash-success, .toast-success").count() == 1
        assert errors == []
    assert _districts(session_factory)["arbat"].name_ru == "Арбат (ЦАО)"
