"""Server-side sessions (security issue #12, finding 3): logout ends the session for every copy of
the cookie, "log out everywhere", idle and absolute timeouts (staff shorter), password, role and
block changes end sessions, the account security page, no-store on personal answers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import PASSWORD, Browser, make_user
from tests.test_ideas_web import idea_id_from, submit
from webapp.accounts import users as users_service
from webapp.accounts.principal import to_current
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Comment, User, UserSession, Vote
from webapp.moderation import blocking

NEW_PASSWORD = "a-brand-new-passphrase-42"

EN = {"accept-language": "en"}  # the assertions read English text


def _cookie(b: Browser) -> str:
    value = b.cookies.get("veche_session")
    assert value
    return value


def _replay(app: Any, cookie: str) -> Browser:
    """Another client holding a copy of a captured cookie."""
    thief = Browser(app, headers=EN)
    thief.cookies.set("veche_session", cookie)
    return thief


def _sessions(session_factory: Any, user_id: int | None = None) -> int:
    with transaction(session_factory) as s:
        stmt = select(func.count()).select_from(UserSession)
        if user_id is not None:
            stmt = stmt.where(UserSession.user_id == user_id)
        return int(s.scalar(stmt) or 0)


def _set_times(session_factory: Any, user_id: int, **values: Any) -> None:
    with transaction(session_factory) as s:
        s.execute(update(UserSession).where(UserSession.user_id == user_id).values(**values))


def test_the_cookie_holds_a_random_session_id_not_the_account(
    app: Starlette, citizen: CurrentUser
) -> None:
    with Browser(app, headers=EN) as b:
        b.login(citizen.email)
        payload = _cookie(b).split(".")[0]
        data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
        assert "user_id" not in data
        assert isinstance(data["sid"], str) and len(data["sid"]) >= 40
        assert b.get("/api/v1/me").json()["id"] == citizen.id


def test_logout_ends_the_session_for_a_captured_cookie(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as b:
        b.login(citizen.email)
        idea_id = idea_id_from(submit(b, session_factory))
        me = b.get("/api/v1/me")
        assert me.status_code == 200
        csrf = me.json()["csrf_token"]
        captured = _cookie(b)
        assert _sessions(session_factory, citizen.id) == 1
        assert b.submit("/logout").status_code == 303
        assert _sessions(session_factory, citizen.id) == 0
        with _replay(app, captured) as thief:
            assert thief.get("/api/v1/me").status_code == 401
            response = thief.post(
                f"/ideas/{idea_id}/comments", data={"csrf_token": csrf, "body": "Чужой комментарий"}
            )
            assert response.status_code == 401  # "Please log in first."
            # the vote's own fast path checks the session too
            vote = thief.post(f"/ideas/{idea_id}/support", data={"csrf_token": csrf})
            assert vote.status_code == 401
        with transaction(session_factory) as s:
            assert s.scalar(select(func.count()).select_from(Comment)) == 0
            assert s.scalar(select(func.count()).select_from(Vote)) == 0


def test_a_vote_with_a_session_ended_elsewhere_is_refused(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as a, Browser(app, headers=EN) as b:
        a.login(citizen.email)
        idea_id = idea_id_from(submit(a, session_factory))
        b.login(citizen.email)
        token = b.csrf()
        assert a.submit("/account/logout-everywhere").status_code == 303
        response = b.post(f"/ideas/{idea_id}/support", data={"csrf_token": token})
        assert response.status_code == 401
        with transaction(session_factory) as s:
            assert s.scalar(select(func.count()).select_from(Vote)) == 0
        # and a live session votes through the same path
        b.login(citizen.email)
        assert b.submit(f"/ideas/{idea_id}/support").status_code == 303
        with transaction(session_factory) as s:
            assert s.scalar(select(func.count()).select_from(Vote)) == 1


def test_logout_everywhere_from_one_browser_ends_the_other(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as a, Browser(app, headers=EN) as b:
        a.login(citizen.email)
        b.login(citizen.email)
        assert _sessions(session_factory, citizen.id) == 2
        assert a.submit("/account/logout-everywhere").status_code == 303
        assert _sessions(session_factory, citizen.id) == 0
        assert a.get("/api/v1/me").status_code == 401
        assert b.get("/api/v1/me").status_code == 401
        assert b.get("/account/security").status_code in (303, 401)


def test_logout_everywhere_needs_the_csrf_token(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as a:
        a.login(citizen.email)
        response = a.post("/account/logout-everywhere", data={"csrf_token": "forged"})
        assert response.status_code == 403
        assert _sessions(session_factory, citizen.id) == 1


def test_idle_citizen_session_ends(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with Browser(app, headers=EN) as b:
        b.login(citizen.email)
        idle = timedelta(seconds=settings.session_idle_seconds)
        _set_times(session_factory, citizen.id, last_seen_at=datetime.now(UTC) - idle / 2)
        assert b.get("/api/v1/me").status_code == 200
        _set_times(
            session_factory,
            citizen.id,
            last_seen_at=datetime.now(UTC) - idle - timedelta(seconds=5),
        )
        assert b.get("/api/v1/me").status_code == 401
        assert _sessions(session_factory, citizen.id) == 0  # the expired row is removed
        home = b.get("/")  # still a page, for an anonymous visitor
        assert home.status_code == 200 and 'href="/login"' in home.text


def test_staff_sessions_idle_out_sooner_than_citizens(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin")
    with Browser(app, headers=EN) as c, Browser(app, headers=EN) as a:
        c.login(citizen.email)
        a.login(admin.email)
        forty_minutes_ago = datetime.now(UTC) - timedelta(minutes=40)
        _set_times(session_factory, citizen.id, last_seen_at=forty_minutes_ago)
        _set_times(session_factory, admin.id, last_seen_at=forty_minutes_ago)
        assert c.get("/api/v1/me").status_code == 200
        assert a.get("/api/v1/me").status_code == 401


def test_absolute_timeout_even_when_busy(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin")
    with Browser(app, headers=EN) as c, Browser(app, headers=EN) as a:
        c.login(citizen.email)
        a.login(admin.email)
        # 13 hours old but used a moment ago: past the staff limit (12 h), within the citizens'
        now = datetime.now(UTC)
        for uid in (citizen.id, admin.id):
            _set_times(session_factory, uid, created_at=now - timedelta(hours=13), last_seen_at=now)
        assert c.get("/api/v1/me").status_code == 200
        assert a.get("/api/v1/me").status_code == 401
        # and a citizen's session stops at its expires_at however busy it is
        _set_times(session_factory, citizen.id, expires_at=now - timedelta(seconds=1))
        assert c.get("/api/v1/me").status_code == 401


def test_the_login_sets_the_expiry_by_role(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin")
    with Browser(app, headers=EN) as c, Browser(app, headers=EN) as a:
        c.login(citizen.email)
        a.login(admin.email)
    with transaction(session_factory) as s:
        rows = {r.user_id: r for r in s.scalars(select(UserSession))}

    def lifetime(row: UserSession) -> float:
        return (row.expires_at - row.created_at).total_seconds()

    assert abs(lifetime(rows[citizen.id]) - settings.session_max_age) < 5
    assert abs(lifetime(rows[admin.id]) - settings.staff_session_max_age) < 5


def test_last_seen_is_written_at_most_once_a_minute(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as b:
        b.login(citizen.email)
        recent = datetime.now(UTC) - timedelta(seconds=20)
        _set_times(session_factory, citizen.id, last_seen_at=recent)
        b.get("/api/v1/me")
        with transaction(session_factory) as s:
            seen = s.scalar(select(UserSession.last_seen_at))
            assert seen is not None
        assert abs((seen.replace(tzinfo=UTC) - recent).total_seconds()) < 1  # not rewritten
        old = datetime.now(UTC) - timedelta(minutes=5)
        _set_times(session_factory, citizen.id, last_seen_at=old)
        b.get("/api/v1/me")
        with transaction(session_factory) as s:
            seen = s.scalar(select(UserSession.last_seen_at))
            assert seen is not None
        assert (datetime.now(UTC) - seen.replace(tzinfo=UTC)).total_seconds() < 30


def test_password_change_ends_other_sessions(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as a, Browser(app, headers=EN) as b:
        a.login(citizen.email)
        b.login(citizen.email)
        before = _cookie(a)
        wrong = a.submit(
            "/account/password", {"current_password": "not-my-password", "password": NEW_PASSWORD}
        )
        assert wrong.status_code == 422
        assert "This is not your current password." in wrong.text
        assert _sessions(session_factory, citizen.id) == 2
        weak = a.submit("/account/password", {"current_password": PASSWORD, "password": "short"})
        assert weak.status_code == 422
        done = a.submit(
            "/account/password", {"current_password": PASSWORD, "password": NEW_PASSWORD}
        )
        assert done.status_code == 303
        assert a.get("/api/v1/me").status_code == 200  # this browser stays, with a new session
        assert b.get("/api/v1/me").status_code == 401
        assert _sessions(session_factory, citizen.id) == 1
        with _replay(app, before) as thief:  # the session id was rotated
            assert thief.get("/api/v1/me").status_code == 401
    with Browser(app, headers=EN) as c:
        old = c.submit("/login", {"email": citizen.email, "password": PASSWORD})
        assert old.status_code == 401
        c.login(citizen.email, NEW_PASSWORD)
    with transaction(session_factory) as s:
        stored = s.scalar(select(User.password_hash).where(User.id == citizen.id))
        assert stored is not None and stored.startswith("$argon2")


def test_role_change_and_blocking_end_all_sessions(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin")
    with Browser(app, headers=EN) as a, Browser(app, headers=EN) as b:
        a.login(citizen.email)
        b.login(citizen.email)
        with transaction(session_factory) as s:
            users_service.grant_role(s, citizen.email, "moderator", actor_id=admin.id)
        assert a.get("/api/v1/me").status_code == 401
        assert b.get("/api/v1/me").status_code == 401
        a.login(citizen.email)
        assert a.get("/api/v1/me").json()["role"] == "moderator"
        with transaction(session_factory) as s:  # the same role again changes nothing
            users_service.grant_role(s, citizen.email, "moderator", actor_id=admin.id)
        assert a.get("/api/v1/me").status_code == 200
        with transaction(session_factory) as s:
            users_service.set_blocked(s, citizen.email, True, actor_id=admin.id, reason="spam")
        assert a.get("/api/v1/me").status_code == 401
        assert _sessions(session_factory, citizen.id) == 0


def test_blocking_from_the_moderation_page_ends_sessions(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "mod@example.org", role="moderator")
    with Browser(app, headers=EN) as victim:
        victim.login(citizen.email)
        assert _sessions(session_factory, citizen.id) == 1
        with transaction(session_factory) as s:
            actor = to_current(users_service.find_by_email(s, "mod@example.org"))
            blocking.block_user(s, actor, citizen.id, "Спам в комментариях")
        assert _sessions(session_factory, citizen.id) == 0
        assert victim.get("/api/v1/me").status_code == 401


def test_the_session_list_and_ending_one_session(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    chrome_android = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    )
    with Browser(app, headers=EN) as a, Browser(app, headers=EN) as b:
        b.headers["user-agent"] = chrome_android  # (TestClient puts its own first)
        a.login(citizen.email)
        b.login(citizen.email)
        page = a.get("/account/security")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "Chrome on Android" in page.text
        assert page.text.count('class="badge badge-ok"') == 1  # "this device"
        with transaction(session_factory) as s:
            b_id = s.scalar(select(UserSession.id).where(UserSession.user_agent == chrome_android))
        assert f'action="/account/sessions/{b_id}/end"' in page.text
        assert a.submit(f"/account/sessions/{b_id}/end").status_code == 303
        assert b.get("/api/v1/me").status_code == 401
        assert a.get("/api/v1/me").status_code == 200
        # ending it again: already gone
        assert a.submit(f"/account/sessions/{b_id}/end").status_code == 404


def test_a_user_cannot_end_another_users_session(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    other = make_user(session_factory, "other@example.org")
    with Browser(app, headers=EN) as victim, Browser(app, headers=EN) as attacker:
        victim.login(citizen.email)
        attacker.login(other.email)
        with transaction(session_factory) as s:
            victims = s.scalar(select(UserSession.id).where(UserSession.user_id == citizen.id))
        response = attacker.submit(f"/account/sessions/{victims}/end")
        assert response.status_code == 404
        assert victim.get("/api/v1/me").status_code == 200
        assert "This session has already ended." in response.text


def test_end_all_other_sessions_keeps_this_one(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with (
        Browser(app, headers=EN) as a,
        Browser(app, headers=EN) as b,
        Browser(app, headers=EN) as c,
    ):
        for x in (a, b, c):
            x.login(citizen.email)
        assert a.submit("/account/sessions/end-others").status_code == 303
        assert a.get("/api/v1/me").status_code == 200
        assert b.get("/api/v1/me").status_code == 401
        assert c.get("/api/v1/me").status_code == 401


def test_account_pages_need_a_session(app: Starlette, citizen: CurrentUser) -> None:
    with Browser(app, headers=EN) as anon:
        assert anon.get("/account/security").status_code in (303, 401)
        assert anon.post("/account/logout-everywhere", data={"csrf_token": "x"}).status_code in (
            303,
            401,
            403,
        )


def test_no_store_on_personal_answers_only(app: Starlette, citizen: CurrentUser) -> None:
    with Browser(app, headers=EN) as b:
        anonymous = b.get("/")
        assert "no-store" not in anonymous.headers.get("cache-control", "")
        b.login(citizen.email)
        for url in ("/", "/api/v1/me", "/account/security", "/my/ideas", "/notifications"):
            response = b.get(url)
            assert response.status_code == 200, url
            assert response.headers.get("cache-control") == "no-store", url
        assert "no-store" not in b.get("/static/veche.css").headers.get("cache-control", "")


def test_a_blocked_accounts_cookie_is_anonymous(
    app: Starlette, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    with Browser(app, headers=EN) as b:
        b.login(citizen.email)
        with transaction(session_factory) as s:  # blocked behind the services' back
            s.execute(update(User).where(User.id == citizen.id).values(blocked=True))
        assert b.get("/api/v1/me").status_code == 401
        assert b.get("/account/security").status_code in (303, 401)
