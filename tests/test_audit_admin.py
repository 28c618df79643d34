"""Admins browse and export the audit log; nobody else can."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from webapp.kernel import audit
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Idea, User

ROUTES = ["/admin/audit", "/admin/audit.csv"]


def _csv(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("role", ["citizen", "moderator", "official", "admin"])
def test_only_admins_see_the_audit_log(
    app: Starlette, session_factory: sessionmaker[Session], role: str, path: str
) -> None:
    make_user(session_factory, f"{role}@example.org", role=role)
    with Browser(app, headers={"accept-language": "en"}) as b:
        anonymous = b.get(path)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
        b.login(f"{role}@example.org")
        assert b.get(path).status_code == (200 if role == "admin" else 403)


def test_admin_nav_links_to_the_audit_log(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "admin@example.org", role="admin")
    make_user(session_factory, "mod@example.org", role="moderator")
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("admin@example.org")
        assert 'href="/admin/audit"' in b.get("/").text
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("mod@example.org")
        assert 'href="/admin/audit"' not in b.get("/").text


def test_empty_state(app: Starlette, session_factory: sessionmaker[Session]) -> None:
    make_user(session_factory, "admin@example.org", role="admin")
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("admin@example.org")
        page = b.get("/admin/audit?action=nothing.here")
        assert page.status_code == 200
        assert "No audit log entries match these filters." in page.text
        rows = _csv(b.get("/admin/audit.csv?action=nothing.here").content)
        assert rows == [list(audit.CSV_HEADER)]


def test_real_actions_appear_and_filters_work(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "admin@example.org", role="admin", name="Анна Админ")
    make_user(session_factory, "other@example.org", role="admin", name="Other Admin")
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("admin@example.org")
        with transaction(session_factory) as s:  # re-save a seeded category unchanged:
            c = s.scalar(select(Category).order_by(Category.id))  # categories are not reset
            assert c is not None
            form = {"category_id": str(c.id), "slug": c.slug, "name_ru": c.name_ru}
            form["name_en"] = c.name_en
        r = b.submit("/admin/categories", form)
        assert r.status_code == 303
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("other@example.org")
        with transaction(session_factory) as s:
            cat = s.scalar(select(Category.id))
            idea = Idea(
                title="Идея для журнала", body="Описание идеи для журнала.", category_id=cat
            )
            s.add(idea)
            s.flush()
            idea_id = idea.id
        with transaction(session_factory) as s:
            other_id = s.scalar(select(User.id).where(User.email == "other@example.org"))
            audit.record(
                s,
                other_id,
                "idea.hide",
                "idea",
                idea_id,
                reason="Спам",
                details={"before": {"status": "published"}, "after": {"status": "hidden"}},
            )
        page = b.get("/admin/audit")
        assert page.status_code == 200
        text = page.text
        assert "category.save" in text and "idea.hide" in text
        assert f'href="/ideas/{idea_id}"' in text
        assert "Анна Админ" in text and "&lt;admin@example.org&gt;" in text
        assert "<details>" in text and f"&#34;{form['name_ru']}&#34;" in text
        assert text.index("idea.hide") < text.index("<code>category.save")  # newest first
        # the action select offers the actions that occur
        assert '<option value="category.save">' in text

        only_cat = b.get("/admin/audit?action=category.save").text
        assert "<code>category.save</code>" in only_cat and "<code>idea.hide</code>" not in only_cat
        by_actor = b.get("/admin/audit?actor=OTHER@example.org").text
        assert "<code>idea.hide</code>" in by_actor and "<code>category.save</code>" not in by_actor
        by_target = b.get("/admin/audit?target_type=category").text
        assert (
            "<code>category.save</code>" in by_target and "<code>idea.hide</code>" not in by_target
        )
        today = datetime.now(UTC).date()
        in_range = b.get(
            f"/admin/audit?since={today - timedelta(days=1)}&until={today + timedelta(days=1)}"
        )
        assert "<code>idea.hide</code>" in in_range.text
        later = b.get(f"/admin/audit?since={today + timedelta(days=2)}").text
        assert "No audit log entries match these filters." in later
        earlier = b.get(f"/admin/audit?until={today - timedelta(days=2)}").text
        assert "No audit log entries match these filters." in earlier

        rows = _csv(b.get("/admin/audit.csv").content)
        assert rows[0] == list(audit.CSV_HEADER)
        assert [r[4] for r in rows[1:]][:2] == ["idea.hide", "category.save"]
        hide = dict(zip(rows[0], rows[1], strict=True))
        assert hide["actor_email"] == "other@example.org"
        assert hide["target_id"] == str(idea_id) and hide["reason"] == "Спам"
        assert datetime.fromisoformat(hide["created_at"]).tzinfo is not None
        assert '"after": {"status": "hidden"}' in hide["details"]
        filtered = _csv(b.get("/admin/audit.csv?action=category.save").content)
        assert len(filtered) == 2 and filtered[1][4] == "category.save"
        assert form["name_ru"] in filtered[1][8]


def test_reason_is_escaped_and_csv_injection_is_defused(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin")
    with transaction(session_factory) as s:
        audit.record(s, admin.id, "idea.hide", "idea", 1, reason="<script>alert(1)</script>")
        audit.record(s, admin.id, "idea.hide", "idea", 2, reason='=HYPERLINK("http://evil","x")')
        audit.record(
            s, admin.id, "user.ban", "user", 3, reason="-2+3", details={"note": "@SUM(A1)"}
        )
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("admin@example.org")
        html = b.get("/admin/audit").text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        rows = _csv(b.get("/admin/audit.csv").content)
        reasons = {r[6]: r[7] for r in rows[1:]}
        assert reasons["2"] == '\'=HYPERLINK("http://evil","x")'
        assert reasons["3"] == "'-2+3"
        assert reasons["1"] == "<script>alert(1)</script>"
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert audit.csv_safe("\tx") == "'\tx" and audit.csv_safe("plain") == "plain"


@pytest.mark.parametrize(
    "query", ["since=31.05.2024", "until=2024-13-40", "since=2024-06-02&until=2024-06-01"]
)
@pytest.mark.parametrize("path", ROUTES)
def test_bad_filters_are_a_translated_4xx(
    app: Starlette, session_factory: sessionmaker[Session], path: str, query: str
) -> None:
    make_user(session_factory, "admin@example.org", role="admin")
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("admin@example.org")
        r = b.get(f"{path}?{query}")
        assert 400 <= r.status_code < 500
        assert "YYYY-MM-DD" in r.text or "start date" in r.text
        r = b.get(f"{path}?{query}", headers={"accept-language": "ru"})
        assert 400 <= r.status_code < 500
        assert "дат" in r.text


def test_pagination_and_service(app: Starlette, session_factory: sessionmaker[Session]) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin")
    with transaction(session_factory) as s:
        for n in range(55):
            audit.record(s, admin.id, "test.bulk", "thing", n, reason=f"r{n}")
        audit.record(s, None, "system.job", "thing", None)
    with transaction(session_factory) as s:
        entries, total = audit.list_entries(s, action="test.bulk", limit=10, offset=0)
        assert total == 55 and len(entries) == 10
        assert entries[0].actor_email == "admin@example.org"
        with pytest.raises(AttributeError):
            entries[0].reason = "x"  # type: ignore[misc]  # frozen: the point is that it fails
        system, _ = audit.list_entries(s, action="system.job", limit=5, offset=0)
        assert system[0].actor_email is None
        rows = list(audit.export_rows(s, target_type="thing", batch=7))
        assert len(rows) == 57
    with Browser(app, headers={"accept-language": "en"}) as b:
        b.login("admin@example.org")
        first = b.get("/admin/audit?action=test.bulk").text
        assert 'rel="next"' in first
        second = b.get("/admin/audit?action=test.bulk&page=2").text
        assert second.count("<code>test.bulk</code>") == 5
        assert "System" in b.get("/admin/audit?action=system.job").text
        assert b.get("/admin/audit?page=abc").status_code == 200
