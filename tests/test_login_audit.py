"""The login audit (security issue #12): what is recorded, the owner's history, /admin/logins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import PASSWORD, Browser, make_user
from webapp.accounts import login_audit
from webapp.accounts import users as users_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import LoginEvent

EN = {"accept-language": "en"}  # the assertions read English text


def _events(session_factory: Any) -> list[LoginEvent]:
    with transaction(session_factory) as s:
        rows = list(s.scalars(select(LoginEvent).order_by(LoginEvent.id)))
        s.expunge_all()
        return rows


def _kinds(session_factory: Any) -> list[str]:
    return [e.kind for e in _events(session_factory)]


def test_logins_failures_and_logouts_are_recorded(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile Safari/604.1"
    with Browser(app, headers=EN) as b:
        b.headers["user-agent"] = ua  # (TestClient puts its own first)
        assert (
            b.submit("/login", {"email": citizen.email, "password": "wrong-pass-1"}).status_code
            == 401
        )
        assert (
            b.submit("/login", {"email": "nobody@example.org", "password": "x-1234567"}).status_code
            == 401
        )
        b.login(citizen.email)
        b.submit("/logout")
    events = _events(session_factory)
    assert [e.kind for e in events] == ["login_failed", "login_failed", "login", "logout"]
    known, unknown, login, logout = events
    assert known.user_id == citizen.id and "email_tag" not in known.details
    assert unknown.user_id is None
    assert unknown.details == {"email_tag": login_audit.email_tag("nobody@example.org")}
    assert "nobody" not in str(unknown.details)
    assert login.user_id == logout.user_id == citizen.id
    assert login.user_agent == ua and login.ip


def test_session_events_are_recorded(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin")
    with (
        Browser(app, headers=EN) as a,
        Browser(app, headers=EN) as b,
        Browser(app, headers=EN) as c,
    ):
        for x in (a, b, c):
            x.login(citizen.email)
        with transaction(session_factory) as s:
            ids = [e.id for e in s.scalars(select(LoginEvent))]
        page = a.get("/account/security")
        target = page.text.split('action="/account/sessions/')[1].split("/end")[0]
        a.submit(f"/account/sessions/{target}/end")
        a.submit("/account/sessions/end-others")
        a.submit(
            "/account/password", {"current_password": PASSWORD, "password": "another-pass-phrase-7"}
        )
        b.login(citizen.email, "another-pass-phrase-7")
        a.submit("/account/logout-everywhere")
    with transaction(session_factory) as s:
        users_service.grant_role(s, citizen.email, "official", actor_id=admin.id)
    events = [e for e in _events(session_factory) if e.id not in ids]
    kinds = [e.kind for e in events]
    assert kinds == [
        "session_revoked",
        "logout_everywhere",  # the others
        "password_changed",
        "login",
        "logout_everywhere",
    ]  # the role change ended no session: there were none left
    assert events[1].details == {"ended": 1, "kept_this_device": True}
    assert events[4].details == {"ended": 2}
    with Browser(app, headers=EN) as d:
        d.login(citizen.email, "another-pass-phrase-7")
        with transaction(session_factory) as s:
            users_service.set_blocked(s, citizen.email, True, actor_id=admin.id)
    last = _events(session_factory)[-1]
    assert last.kind == "sessions_ended"
    assert last.details == {"reason": "blocked", "by": admin.id, "ended": 1}


def test_password_change_records_the_other_sessions_ended(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as a, Browser(app, headers=EN) as b:
        a.login(citizen.email)
        b.login(citizen.email)
        a.submit(
            "/account/password", {"current_password": PASSWORD, "password": "another-pass-phrase-7"}
        )
    tail = _events(session_factory)[-2:]
    assert [e.kind for e in tail] == ["password_changed", "sessions_ended"]
    assert tail[1].details == {"reason": "password", "ended": 1}


def test_the_owner_sees_their_history_in_plain_words(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    other = make_user(session_factory, "other@example.org")
    with Browser(app, headers=EN) as o:
        o.login(other.email)
    with transaction(session_factory) as s:
        for _ in range(24):
            login_audit.record(s, citizen.id, "login_failed", ip="203.0.113.9")
    with Browser(app, headers=EN) as b:
        b.submit("/login", {"email": citizen.email, "password": "wrong-pass-1"})
        b.login(citizen.email)
        page = b.get("/account/security")
        assert page.status_code == 200
        assert "Logged in" in page.text
        assert page.text.count("Failed login: wrong e-mail or password") == 19  # 20 per page
        assert "?page=2" in page.text
        second = b.get("/account/security?page=2")
        assert second.text.count("Failed login: wrong e-mail or password") == 6
        assert "other@example.org" not in page.text + second.text
        b.submit("/language", {"lang": "ru"})
        russian = b.get("/account/security")
        assert (
            "Безопасность" in russian.text
            and "Неудачный вход: неверная почта или пароль" in russian.text
        )


def test_admin_login_log_is_for_admins_and_filters(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "admin@example.org", role="admin")
    make_user(session_factory, "mod@example.org", role="moderator")
    with Browser(app, headers=EN) as c:
        c.submit("/login", {"email": "ghost@example.org", "password": "whatever-123"})
        c.submit("/login", {"email": citizen.email, "password": "wrong-pass-1"})
        c.login(citizen.email)
        assert c.get("/admin/logins").status_code == 403
        assert c.get("/admin/logins.csv").status_code == 403
    with Browser(app, headers=EN) as m:
        m.login("mod@example.org")
        assert m.get("/admin/logins").status_code == 403
    with Browser(app, headers=EN) as a:
        a.login("admin@example.org")
        page = a.get("/admin/logins")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "citizen@example.org" in page.text and "admin@example.org" in page.text
        failed = a.get("/admin/logins?kind=login_failed").text.split("result-count", 1)[1]
        assert failed.count("Failed login: wrong e-mail or password") == 2
        mine = a.get("/admin/logins?email=citizen@example.org")
        assert "admin@example.org" not in mine.text.split("result-count", 1)[1]
        assert mine.text.count('class="notification"') == 2  # the failure and the login
        ghost = a.get("/admin/logins?email=Ghost@example.org")  # by the address's tag
        assert ghost.text.count('class="notification"') == 1
        assert a.get("/admin/logins?kind=nonsense").status_code == 422
        csv = a.get("/admin/logins.csv?kind=login_failed")
        assert csv.status_code == 200
        assert csv.content.startswith("\ufeff".encode())
        lines = csv.content.decode("utf-8-sig").strip().splitlines()
        assert len(lines) == 3 and "login_failed" in lines[1]
