"""Registration on a site that sends e-mail: no account enumeration, a confirmation link that
activates the account, against a real SMTP server on localhost (aiosmtpd)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import CSRF_RE, PASSWORD, Browser, make_user
from tests.test_email_delivery import BASE_URL, Received, body, free_port, start_server
from webapp.app import create_app
from webapp.services import account_mail
from webapp.storage.db import transaction
from webapp.storage.models import User


@pytest.fixture
def site(settings: Any) -> Iterator[tuple[Any, Received]]:
    """The app, sending e-mail to a real SMTP server on localhost, and what that server got."""
    port, received = free_port(), Received()
    controller = start_server(port, received)
    app = create_app(
        dataclasses.replace(
            settings, smtp_host="127.0.0.1", smtp_port=port, base_url=BASE_URL,
            smtp_from="Veche <noreply@veche.example.org>",
        )
    )
    try:
        yield app, received
    finally:
        app.state.engine.dispose()
        controller.stop()


LINK_RE = re.compile(r"https://veche\.example\.org(/register/confirm/\S+)")
NEW_PASSWORD = "Sirenevyj-tuman-nad-Yauzoj-7"


def register(app: Any, email: str, password: str = NEW_PASSWORD) -> tuple[Any, str]:
    """Register in a fresh browser; (the answer, the page it leads to)."""
    with Browser(app) as b:
        answer = b.submit(
            "/register", {"email": email, "display_name": "Мария Соседова", "password": password}
        )
        page = b.get(answer.headers["location"]).text if answer.status_code == 303 else ""
    return answer, page


def neutral(page: str, email: str) -> str:
    """The page without what differs by visitor anyway: the address typed and the CSRF token."""
    return CSRF_RE.sub("", page.replace(email, "EMAIL"))


def link_in(msg: Any) -> str:
    match = LINK_RE.search(body(msg))
    assert match, body(msg)
    return match.group(1)


def for_address(received: Received, count: int, address: str) -> list[Any]:
    return [m for m in received.wait_for(count) if address in str(m["To"])]


def test_a_free_and_a_taken_address_get_the_same_answer(site: Any) -> None:
    mail_app, smtp_server = site
    factory = mail_app.state.session_factory
    make_user(factory, "taken@example.org")
    free, free_page = register(mail_app, "free@example.org")
    taken, taken_page = register(mail_app, "taken@example.org")
    assert free.status_code == taken.status_code == 303
    assert free.headers["location"] == taken.headers["location"] == "/register/sent"
    assert "Проверьте почту" in free_page and "free@example.org" in free_page
    assert neutral(free_page, "free@example.org") == neutral(taken_page, "taken@example.org")

    (confirm,) = for_address(smtp_server, 2, "free@example.org")
    (notice,) = for_address(smtp_server, 2, "taken@example.org")
    assert confirm["Subject"] == "Подтвердите адрес электронной почты на «Вече»"
    assert notice["Subject"] == "Кто-то пытался зарегистрироваться на «Вече» с вашим адресом электронной почты"
    assert "/login" in body(notice) and "/register/confirm/" not in body(notice)

    # the owner of the taken address keeps their password; the stranger's does not work
    with Browser(mail_app) as owner:
        owner.login("taken@example.org", PASSWORD)
    with Browser(mail_app) as stranger:
        r = stranger.submit("/login", {"email": "taken@example.org", "password": NEW_PASSWORD})
        assert r.status_code == 401

    # the new account does not work until its link is followed ...
    with Browser(mail_app) as b:
        r = b.submit("/login", {"email": "free@example.org", "password": NEW_PASSWORD})
        assert r.status_code == 403 and "Сначала подтвердите адрес электронной почты" in r.text
        # ... which logs it in
        r = b.get(link_in(confirm))
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "Адрес электронной почты подтверждён" in b.get("/").text
        assert "Мария Соседова" in b.get("/").text
    with Browser(mail_app) as again:
        again.login("free@example.org", NEW_PASSWORD)
    with transaction(factory) as s:
        assert s.scalar(select(User.awaiting_confirmation).where(User.email == "free@example.org")) is False


def test_registering_a_waiting_address_again_voids_the_earlier_link(site: Any) -> None:
    """Someone who registers a stranger's address first cannot get in with their own password
    when the stranger confirms: the latest registration sets the password, and a link sent for
    an earlier one no longer works."""
    mail_app, smtp_server = site
    register(mail_app, "victim@example.org", "Chuzhoj-parol-zloumyshlennika-1")
    register(mail_app, "victim@example.org", NEW_PASSWORD)
    first, second = for_address(smtp_server, 2, "victim@example.org")
    with Browser(mail_app) as b:
        stale = b.get(link_in(first))
        assert stale.status_code == 400
        assert "Ссылка для подтверждения недействительна или устарела" in stale.text
        assert b.get(link_in(second)).status_code == 303
    with Browser(mail_app) as attacker:
        r = attacker.submit(
            "/login",
            {"email": "victim@example.org", "password": "Chuzhoj-parol-zloumyshlennika-1"},
        )
        assert r.status_code == 401
    with Browser(mail_app) as owner:
        owner.login("victim@example.org", NEW_PASSWORD)


def test_forged_altered_and_expired_links_are_refused(site: Any) -> None:
    mail_app, smtp_server = site
    register(mail_app, "late@example.org")
    (msg,) = for_address(smtp_server, 1, "late@example.org")
    path = link_in(msg)
    token = path.rsplit("/", 1)[1]
    secret = mail_app.state.settings.secret_key
    assert account_mail.read_confirm_token(secret, token) is not None
    assert account_mail.read_confirm_token(secret, token, max_age=-1) is None  # expired
    assert account_mail.read_confirm_token("another-secret" * 4, token) is None
    with Browser(mail_app) as b:
        for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", token + "."):
            r = b.get(f"/register/confirm/{bad}")
            assert r.status_code == 400, bad
        assert "veche_session" not in b.cookies or b.get("/my/ideas").status_code == 303


def test_invalid_forms_are_answered_as_before(site: Any) -> None:
    mail_app, smtp_server = site
    answer, _ = register(mail_app, "weak@example.org", "12345")
    assert answer.status_code == 422
    assert smtp_server.wait_for(1, timeout=0.5) == []
