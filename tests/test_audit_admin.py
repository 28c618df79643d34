"""Admins browse and export the audit log; nobody else can."""

from __future__ import annotations

import ast
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from webapp.i18n import Translator
from webapp.kernel import audit
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Idea, User

ROUTES = ["/admin/audit", "/admin/audit.csv"]


def _csv(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


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
        # actions in words, never the raw codes
        assert "Category saved" in text and "Idea hidden" in text
        assert ">category.save<" not in text and ">idea.hide<" not in text
        assert f'href="/ideas/{idea_id}"' in text
        assert "Анна Админ" in text and "&lt;admin@example.org&gt;" in text
        assert "<details>" in text and f"&#34;{form['name_ru']}&#34;" in text
        hide_at = text.index('data-action="idea.hide"')
        assert hide_at < text.index('data-action="category.save"')  # newest first
        # the action select offers the actions that occur, by name
        assert '<option value="category.save">Category saved</option>' in text
        assert '<option value="category">Category</option>' in text

        only_cat = b.get("/admin/audit?action=category.save").text
        assert (
            'data-action="category.save"' in only_cat and 'data-action="idea.hide"' not in only_cat
        )
        by_actor = b.get("/admin/audit?actor=OTHER@example.org").text
        assert (
            'data-action="idea.hide"' in by_actor and 'data-action="category.save"' not in by_actor
        )
        by_target = b.get("/admin/audit?target_type=category").text
        assert (
            'data-action="category.save"' in by_target
            and 'data-action="idea.hide"' not in by_target
        )
        today = datetime.now(UTC).date()
        in_range = b.get(
            f"/admin/audit?since={today - timedelta(days=1)}&until={today + timedelta(days=1)}"
        )
        assert 'data-action="idea.hide"' in in_range.text
        later = b.get(f"/admin/audit?since={today + timedelta(days=2)}").text
        assert "No audit log entries match these filters." in later
        earlier = b.get(f"/admin/audit?until={today - timedelta(days=2)}").text
        assert "No audit log entries match these filters." in earlier

        rows = _csv(b.get("/admin/audit.csv").content)
        assert rows[0] == list(audit.CSV_HEADER)
        assert [r[4] for r in rows[1:]][:2] == ["Idea hidden", "Category saved"]
        hide = dict(zip(rows[0], rows[1], strict=True))
        assert hide["Email"] == "other@example.org" and hide["Target type"] == "Idea"
        assert hide["Target number"] == str(idea_id) and hide["Reason"] == "Спам"
        assert hide["Status change"] == "Published → Hidden"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", hide["When"])  # no seconds
        assert '"after": {"status": "hidden"}' in hide["Details"]
        filtered = _csv(b.get("/admin/audit.csv?action=category.save").content)
        assert len(filtered) == 2 and filtered[1][4] == "Category saved"
        assert form["name_ru"] in filtered[1][9]


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
        assert second.count('data-action="test.bulk"') == 5
        assert "System" in b.get("/admin/audit?action=system.job").text
        assert b.get("/admin/audit?page=abc").status_code == 200


# --- plain words: every action code and target type has a label, in both languages -------------


def _strings(node: ast.expr, assigned: dict[str, ast.expr]) -> set[str]:
    """The string values an action argument can take (constants, a or b, {…}[key], a name)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, assigned) | _strings(node.orelse, assigned)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict):
        return set().union(*(_strings(v, assigned) for v in node.value.values))
    if isinstance(node, ast.Name) and node.id in assigned:
        return _strings(assigned[node.id], assigned)
    raise AssertionError(f"cannot read the audit code of {ast.unparse(node)} statically")


def audit_codes() -> tuple[set[str], set[str], int]:
    """Every action code and target type that ``webapp`` passes to ``kernel.audit.record``."""
    actions: set[str] = set()
    targets: set[str] = set()
    calls = 0
    for path in Path("webapp").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules, functions = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "webapp.kernel":
                modules |= {a.asname or a.name for a in node.names if a.name == "audit"}
            if isinstance(node, ast.ImportFrom) and node.module == "webapp.kernel.audit":
                functions |= {a.asname or a.name for a in node.names if a.name == "record"}
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assigned = {
                t.id: n.value
                for n in ast.walk(func)
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            for call in ast.walk(func):
                if not isinstance(call, ast.Call):
                    continue
                f = call.func
                ours = (isinstance(f, ast.Name) and f.id in functions) or (
                    isinstance(f, ast.Attribute)
                    and f.attr == "record"
                    and isinstance(f.value, ast.Name)
                    and f.value.id in modules
                )
                if not ours:
                    continue
                calls += 1
                kw = {k.arg: k.value for k in call.keywords}
                actions |= _strings(call.args[2] if len(call.args) > 2 else kw["action"], assigned)
                target = call.args[3] if len(call.args) > 3 else kw["target_type"]
                targets |= _strings(target, assigned)
    return actions, targets, calls


def test_every_audit_action_code_has_a_label_in_both_languages() -> None:
    actions, targets, calls = audit_codes()
    assert calls >= 15 and {"idea.merge", "idea.unmerge", "user.block"} <= actions
    assert {"idea", "comment", "user"} <= targets
    assert actions - set(audit.ACTION_LABELS) == set(), "audit actions without a label"
    assert targets - set(audit.TARGET_LABELS) == set(), "audit targets without a label"
    ru, en = Translator("ru"), Translator("en")
    labels = [audit.ACTION_LABELS[a] for a in actions] + [audit.TARGET_LABELS[t] for t in targets]
    for label in [*labels, *audit.CSV_HEADER]:
        assert en.gettext(label) == label and "." not in label.split()[0]
        assert ru.gettext(label) != label, f"no Russian for {label!r}"
        assert re.search("[а-яё]", ru.gettext(label), re.I), label


def test_the_audit_log_reads_in_words_in_russian_and_its_csv_opens_in_excel(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin", name="Анна Админ")
    with transaction(session_factory) as s:
        audit.record(s, admin.id, "idea.merge", "idea", 7, reason="Одно и то же;\nдважды")
        audit.record(s, admin.id, "user.block", "user", 3, reason="Спам")
        audit.record(
            s,
            admin.id,
            "idea.hide",
            "idea",
            8,
            reason="Реклама",
            details={"before": {"status": "under_review"}, "after": {"status": "hidden"}},
        )
    with Browser(app, headers={"accept-language": "ru"}) as b:
        b.login("admin@example.org")
        page = b.get("/admin/audit").text
        assert "Идеи объединены" in page and "Учётная запись заблокирована" in page
        assert ">idea.merge<" not in page and ">user.block<" not in page
        # statuses in words too
        assert "Статус: На рассмотрении → Скрыта" in page
        # dates without seconds
        times = re.findall(r"<time datetime=[^>]*>([^<]+)</time>", page)
        assert times and all(not re.search(r"\d:\d\d:\d\d", t) for t in times)
        # the tab bar of the moderation pages, the audit log current
        nav = page[
            page.index('<nav class="tabs"') : page.index("</nav>", page.index('<nav class="tabs"'))
        ]
        assert 'href="/admin/audit" aria-current="page"' in nav
        assert 'href="/moderation/merges"' in nav
        # a table that becomes cards on a phone: every cell says what it is
        assert 'class="table table-responsive audit-log"' in page
        cells = re.findall(r"<td( data-label=\"[^\"]+\")?", page)
        assert cells and all(c for c in cells)

        raw = b.get("/admin/audit.csv").content
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    assert text.endswith("\r\n")
    header = text.split("\r\n", 1)[0]
    assert header == ";".join(Translator("ru").gettext(h) for h in audit.CSV_HEADER)
    rows = _csv(raw)
    assert text.count("\r\n") == len(rows)  # CRLF after every record (a cell keeps its \n)
    assert rows[0][:5] == ["Номер", "Когда", "Эл. почта", "Кто", "Действие"]
    by_reason = {r[7]: r for r in rows[1:]}
    merge = by_reason["Одно и то же;\nдважды"]  # a cell with ; and a line break survives
    assert merge[4] == "Идеи объединены" and merge[5] == "Идея" and merge[6] == "7"
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", merge[1])  # as Russian Excel reads it
    assert by_reason["Спам"][4] == "Учётная запись заблокирована"
    assert by_reason["Реклама"][8] == "На рассмотрении → Скрыта"
    assert "under_review" not in text.replace('"under_review"', "")  # only inside the JSON
    assert "idea.merge" not in text and "user.block" not in text
