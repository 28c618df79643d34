"""Accounts and security: registration, login, sessions, CSRF on every form, headers, roles, limits."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

import pytest
from argon2 import extract_parameters
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from tests.helpers import CSRF_RE, PASSWORD, Browser, make_user
from webapp.app import create_app
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import AuditLog, Category, District, Idea, User


def test_registration_hashes_the_password_and_logs_in(
    browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    response = browser.submit(
        "/register",
        {"email": "Anna@Example.org", "display_name": "Анна", "password": "длинный-пароль-42"},
    )
    assert response.status_code == 303
    with transaction(session_factory) as s:
        user = s.scalar(select(User).where(User.email == "anna@example.org"))
        assert user is not None and user.role == "citizen"
        assert user.password_hash.startswith("$argon2")
        assert "длинный-пароль-42" not in user.password_hash
    assert "Анна" in browser.get("/").text


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"email": "not-an-email"}, "правильный адрес"),
        ({"password": "short"}, "не короче 10"),
        ({"password": "aaaaaaaaaaaa"}, "слишком легко угадать"),
        ({"display_name": ""}, "Обязательное поле"),
        ({"district_id": "123456"}, "Неизвестное значение"),
    ],
)
def test_registration_errors_are_shown_and_nothing_is_stored(
    browser: Browser,
    session_factory: sessionmaker[Session],
    data: dict[str, str],
    field_message: str,
) -> None:
    form = {"email": "new@example.org", "display_name": "Новый", "password": "хороший-пароль-1"}
    form.update(data)
    response = browser.submit("/register", form)
    assert response.status_code == 422
    assert field_message in response.text
    assert 'value="хороший-пароль-1"' not in response.text  # the password is never echoed
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_a_registered_email_is_refused_without_saying_the_account_exists(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    response = browser.submit(
        "/register",
        {"email": citizen.email.upper(), "display_name": "Двойник", "password": "другой-пароль-7"},
    )
    assert response.status_code == 409
    assert "Этот адрес нельзя использовать для новой учётной записи. Если он ваш, войдите." in (
        response.text
    )
    assert "уже существует" not in response.text and "пароль здесь" not in response.text
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1


def test_registering_a_taken_address_never_logs_in(
    browser: Browser, citizen: CurrentUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pen-test finding 7: without e-mail, /register with an address and its account's password
    logged in (around the login's per-address limit). Now the password is never checked: the
    account's own password and another one get the same refusal, after one argon2 hash (as a
    new account costs) and no verify."""
    from webapp.kernel import security

    calls: list[str] = []
    real = security._hasher

    class Spy:
        def hash(self, password: str) -> str:
            calls.append("hash")
            return real.hash(password)

        def verify(self, hash_: str, password: str) -> bool:
            calls.append("verify")
            return real.verify(hash_, password)

    monkeypatch.setattr(security, "_hasher", Spy())
    pages = []
    for password in (PASSWORD, "другой-пароль-7"):
        calls.clear()
        response = browser.submit(
            "/register", {"email": citizen.email, "display_name": "Снова я", "password": password}
        )
        assert response.status_code == 409
        assert calls == ["hash"]
        pages.append(CSRF_RE.sub("", response.text))
        assert browser.get("/my/ideas").status_code == 303  # not signed in
    assert pages[0] == pages[1]
    calls.clear()
    free = browser.submit(
        "/register", {"email": "free@example.org", "display_name": "Новый", "password": PASSWORD}
    )
    assert free.status_code == 303 and calls == ["hash"]


def _spy_verify(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the hash of every argon2 verify call."""
    from webapp.kernel import security

    calls: list[str] = []
    real = security._hasher

    class Spy:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(security, "_hasher", Spy())
    return calls


@pytest.mark.parametrize("route", ["login", "token"])
def test_an_unknown_account_costs_an_argon2_verify_like_a_known_one(
    browser: Browser, citizen: CurrentUser, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    from webapp.kernel import security

    calls = _spy_verify(monkeypatch)

    def attempt(email: str) -> int:
        body = {"email": email, "password": "wrong-password-1"}
        if route == "login":
            return int(browser.submit("/login", body).status_code)
        return int(browser.post("/api/v1/tokens", json=body).status_code)

    assert attempt(citizen.email) == 401
    assert len(calls) == 1 and calls[0].startswith("$argon2")
    assert attempt("nobody@example.org") == 401
    assert len(calls) == 2 and calls[1] == security._DUMMY_HASH
    # the dummy hash is made by the hasher in use (tests: the cheap profile), so it costs what
    # the account's own hash costs: the same argon2 parameters
    assert extract_parameters(calls[1]) == extract_parameters(calls[0])
    browser.submit("/login", {"email": citizen.email, "password": "x" * 5000})  # over the cap
    assert calls[-1] == security._DUMMY_HASH  # a very long password is never hashed


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("x" * 257, "Must be at most %(max)s characters long."),
        ("NewComer@example.org!", "The password must not contain your e-mail address."),
        ("my-newcomer-password", "The password must not contain your e-mail address."),
        ("qwertyuiop", "This password is too easy to guess."),
        ("Password2024!", "This password is too easy to guess."),
        ("1q2w3e4r5t", "This password is too easy to guess."),
        ("йцукенгшщз", "This password is too easy to guess."),
    ],
)
def test_password_policy_refuses_long_personal_and_common_passwords(
    app: Starlette,
    browser: Browser,
    session_factory: sessionmaker[Session],
    password: str,
    message: str,
) -> None:
    form = {"email": "newcomer@example.org", "display_name": "Новый", "password": password}
    response = browser.submit("/register", form)
    assert response.status_code == 422
    expected = app.state.translators["ru"].gettext(message, max=256)
    assert expected != message and expected in response.text  # in the user's language
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_password_policy_accepts_a_long_uncommon_password() -> None:
    from webapp.accounts import passwords

    assert len(passwords.common_passwords()) >= 10_000
    assert passwords.problem("тихая-улица-у-реки", "anna@example.org", 10, 256) is None
    assert passwords.problem(PASSWORD, "ann@example.org", 10, 256) is None
    assert passwords.is_common("dragon2024") and not passwords.is_common("dragonfly-over-pond")


def test_login_failure_does_not_reveal_whether_the_account_exists(
    browser: Browser, citizen: CurrentUser
) -> None:
    wrong_password = browser.submit(
        "/login", {"email": citizen.email, "password": "wrong-password-1"}
    )
    unknown_user = browser.submit(
        "/login", {"email": "nobody@example.org", "password": "wrong-password-1"}
    )
    assert wrong_password.status_code == unknown_user.status_code == 401

    def strip(html: str) -> str:
        return re.sub(r'value="[^"]*"', "", html)

    assert strip(wrong_password.text) == strip(unknown_user.text)


def test_blocked_user_cannot_log_in_and_loses_the_session(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    from webapp.accounts import users

    browser.login(citizen.email)
    with transaction(session_factory) as s:
        users.set_blocked(s, citizen.email, True, reason="spam")
    assert browser.get("/ideas/new").status_code == 303  # signed out
    assert (
        browser.submit("/login", {"email": citizen.email, "password": PASSWORD}).status_code == 401
    )
    with transaction(session_factory) as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "user.block"))
        assert entry is not None and entry.reason == "spam"


def test_logout_ends_the_session(browser: Browser, citizen: CurrentUser) -> None:
    browser.login(citizen.email)
    assert browser.submit("/logout").status_code == 303
    assert browser.get("/my/ideas").status_code == 303


def test_login_redirects_only_to_local_pages(browser: Browser, citizen: CurrentUser) -> None:
    ok = browser.submit(
        "/login", {"email": citizen.email, "password": PASSWORD, "next": "/my/ideas"}
    )
    assert ok.headers["location"] == "/my/ideas"
    browser.submit("/logout")
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        r = browser.submit("/login", {"email": citizen.email, "password": PASSWORD, "next": target})
        assert r.headers["location"] == "/"
        browser.submit("/logout")


def test_login_is_rate_limited(settings: Settings, citizen: CurrentUser) -> None:
    app = create_app(replace(settings, login_rate_limit=3))
    with Browser(app) as b:
        codes = [
            b.submit("/login", {"email": citizen.email, "password": "wrong-password"}).status_code
            for _ in range(5)
        ]
        assert codes[:3] == [401, 401, 401]
        assert codes[3:] == [429, 429]
        limited = b.submit("/login", {"email": citizen.email, "password": "wrong-password"})
        assert 1 <= int(limited.headers["retry-after"]) <= 60  # until the oldest attempt expires
        # even the right password is refused while limited
        assert b.submit("/login", {"email": citizen.email, "password": PASSWORD}).status_code == 429
    app.state.engine.dispose()


def test_session_cookie_is_httponly_samesite_and_secure_in_production(
    settings: Settings, production_password_profile: None
) -> None:
    # development and test serve plain http://127.0.0.1 (the browser tests too), where a
    # browser would drop a Secure cookie: Secure is for production, which must be HTTPS.
    for environment in ("development", "test"):
        with Browser(create_app(replace(settings, environment=environment))) as b:
            cookie = b.get("/login").headers.get("set-cookie", "")
            assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
            assert "secure" not in cookie.lower()
    prod = replace(settings, environment="production", secret_key="x" * 40)
    with Browser(create_app(prod), base_url="https://testserver") as b:
        cookie = b.get("/login").headers.get("set-cookie", "")
        assert "secure" in cookie.lower()
        assert "strict-transport-security" in b.get("/").headers


def _assert_security_headers(headers: Mapping[str, str], where: str, hsts: bool = False) -> None:
    csp = headers.get("content-security-policy", "")
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src and "'unsafe-inline'" not in script_src.group(1), where
    assert "'self'" in script_src.group(1) and "unsafe-eval" not in csp, where
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, where
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("referrer-policy") == "same-origin", where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert ("strict-transport-security" in headers) is hsts, where


def test_security_headers(browser: Browser) -> None:
    _assert_security_headers(browser.get("/").headers, "/")


def test_security_headers_on_error_pages_and_the_api(
    settings: Settings, citizen: CurrentUser, production_password_profile: None
) -> None:
    tight = replace(settings, max_body_bytes=1000, login_rate_limit=1)
    app = create_app(tight)
    with Browser(app) as b:
        responses = {
            "page": b.get("/login"),
            "404": b.get("/no-such-page"),
            "403": b.post("/logout", data={"csrf_token": "forged"}),
            "413": b.post("/login", data={"email": "x" * 5000}),
            "api": b.get("/api/v1/categories"),
            "api 404": b.get("/api/v1/ideas/987654"),
            "api 401": b.get("/api/v1/me"),
        }
        b.submit("/login", {"email": citizen.email, "password": "wrong-password-1"})
        responses["429"] = b.submit("/login", {"email": citizen.email, "password": "wrong-1"})
        for where, response in responses.items():
            expected = int(where.split()[-1]) if where.split()[-1].isdigit() else 200
            assert response.status_code == expected, where
            _assert_security_headers(response.headers, where)
    app.state.engine.dispose()
    prod = replace(tight, environment="production", secret_key="x" * 40)
    app = create_app(prod)
    with Browser(app, base_url="https://testserver") as b:
        for url in ("/", "/no-such-page", "/api/v1/categories"):
            _assert_security_headers(b.get(url).headers, url, hsts=True)
        big = b.post("/login", data={"email": "x" * 5000})
        assert big.status_code == 413
        _assert_security_headers(big.headers, "413", hsts=True)
    app.state.engine.dispose()


def test_pages_have_no_inline_script(browser: Browser, citizen: CurrentUser) -> None:
    browser.login(citizen.email)
    for url in ["/", "/ideas/new", "/login", "/register", "/my/ideas", "/nope"]:
        html = browser.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert " onclick=" not in html and "javascript:" not in html


def _form_routes(app: Starlette) -> list[str]:
    paths = []
    for route in app.routes:
        if isinstance(route, Route) and "POST" in (route.methods or set()):
            paths.append(re.sub(r"\{(\w+):id\}", r"{\1}", route.path))
        if isinstance(route, Mount) and route.path == "/api/v1":
            continue
    return paths


def test_every_state_changing_form_requires_a_csrf_token(
    app: Starlette, browser: Browser, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "admin@example.org", role="admin")
    browser.login("admin@example.org")
    with transaction(session_factory) as s:
        cat = s.scalar(select(Category.id))
        idea = Idea(
            title="Идея для проверки", body="Описание идеи для проверки CSRF.", category_id=cat
        )
        s.add(idea)
        s.flush()
        idea_id = idea.id
        district = s.scalar(select(District.id))
    paths = _form_routes(app)
    assert len(paths) >= 12
    payload = {
        "title": "Новая идея без токена",
        "body": "Описание идеи без токена CSRF.",
        "category_id": str(cat),
        "body_comment": "x",
        "reason": "spam",
        "lang": "en",
        "slug": "new-cat",
        "name_ru": "Имя",
        "name_en": "Name",
        "district_id": str(district),
        "email": "x@example.org",
        "password": PASSWORD,
        "display_name": "Имя",
    }

    def snapshot() -> tuple[object, ...]:
        with transaction(session_factory) as s:
            return tuple(
                s.scalar(select(func.count()).select_from(t))
                for t in (Idea, User, AuditLog, Category)
            ) + (s.get_one(Idea, idea_id).title, s.get_one(District, district).name_ru)

    before = snapshot()
    for path in paths:
        # other ids (notifications, merges, …) need not exist: the token is checked first
        url = path.format_map(defaultdict(lambda: 1, idea_id=idea_id))
        for token in (None, "forged-token"):
            data = dict(payload)
            if token:
                data["csrf_token"] = token
            response = browser.post(url, data=data)
            assert response.status_code == 403, (url, response.status_code)
    assert snapshot() == before
    assert browser.get("/my/ideas").status_code == 200  # still logged in: logout was refused too


ROLE_ROUTES = [("/admin/categories", "administer"), ("/admin/districts", "administer")]


@pytest.mark.parametrize("role", ["citizen", "moderator", "official", "admin"])
@pytest.mark.parametrize(("path", "permission"), ROLE_ROUTES)
def test_admin_pages_check_the_role(
    app: Starlette, session_factory: sessionmaker[Session], role: str, path: str, permission: str
) -> None:
    make_user(session_factory, f"{role}@example.org", role=role)
    with Browser(app) as b:
        assert b.get(path).status_code == 303  # anonymous: to the login page
        b.login(f"{role}@example.org")
        expected = 200 if role == "admin" else 403
        assert b.get(path).status_code == expected
        assert b.submit(
            path,
            {
                "district_id": "1",
                "category_id": "",
                "slug": "zzz",
                "name_ru": "Имя",
                "name_en": "Name",
            },
        ).status_code in ((303, 422) if role == "admin" else (403,))


def test_admin_edits_categories_and_districts_with_an_audit_trail(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "admin@example.org", role="admin")
    with Browser(app) as b:
        b.login("admin@example.org")
        r = b.submit(
            "/admin/categories", {"slug": "lighting", "name_ru": "Освещение", "name_en": "Lighting"}
        )
        assert r.status_code == 303
        assert "Освещение" in b.get("/ideas/new").text
        with transaction(session_factory) as s:
            arbat = s.scalar(select(District).where(District.slug == "arbat"))
            assert arbat is not None
            arbat_id, old = arbat.id, arbat.name_ru
        b.submit(
            "/admin/districts",
            {"district_id": str(arbat_id), "name_ru": "Арбат (ЦАО)", "name_en": "Arbat"},
        )
        assert (
            b.submit(
                "/admin/categories", {"slug": "Bad Slug", "name_ru": "x", "name_en": "x"}
            ).status_code
            == 422
        )
        with transaction(session_factory) as s:
            assert s.get_one(District, arbat_id).name_ru == "Арбат (ЦАО)"
            entry = s.scalar(select(AuditLog).where(AuditLog.action == "district.save"))
            assert entry is not None
            assert entry.details["before"]["name_ru"] == old
            s.get_one(District, arbat_id).name_ru = old
            s.execute(delete(Category).where(Category.slug == "lighting"))


def test_body_over_the_limit_is_refused_with_413(settings: Settings) -> None:
    app = create_app(replace(settings, max_body_bytes=1000))
    with Browser(app) as b:
        response = b.submit("/login", {"email": "x" * 5000, "password": "y"})
        assert response.status_code == 413
        assert "слишком большой" in response.text
    app.state.engine.dispose()


def test_invalid_utf8_in_a_form_is_refused(
    browser: Browser, citizen: CurrentUser, session_factory: sessionmaker[Session]
) -> None:
    browser.login(citizen.email)
    token = browser.csrf()
    body = (
        b"csrf_token="
        + token.encode()
        + b"&title=%FF%FE%FD+title&body="
        + b"x" * 30
        + b"&category_id=1"
    )
    response = browser.post(
        "/ideas/new", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code in (400, 422)
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Idea)) == 0
