"""Registration on a site that sends e-mail (webapp.accounts.registration), against a real SMTP
server on localhost (aiosmtpd): no account enumeration, no account before its link is followed
with the registration's own password, no pre-hijack, single-use links, no login by GET."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.helpers import CSRF_RE, PASSWORD, Browser, make_user
from tests.test_accessibility import Controls
from tests.test_email_delivery import BASE_URL, Received, body, free_port, start_server
from webapp.accounts import registration
from webapp.app import create_app
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import LoginEvent, PendingRegistration, User, utcnow

SiteFactory = Callable[..., tuple[Any, Received]]


@pytest.fixture
def make_site(settings: Any) -> Iterator[SiteFactory]:
    """Apps sending e-mail to a real SMTP server on localhost, and what that server got."""
    port, received = free_port(), Received()
    controller = start_server(port, received)
    apps: list[Any] = []

    def make(**changes: Any) -> tuple[Any, Received]:
        app = create_app(
            dataclasses.replace(
                settings,
                smtp_host="127.0.0.1",
                smtp_port=port,
                base_url=BASE_URL,
                smtp_from="Veche <noreply@veche.example.org>",
                **changes,
            )
        )
        apps.append(app)
        return app, received

    try:
        yield make
    finally:
        for app in apps:
            app.state.engine.dispose()
        controller.stop()


@pytest.fixture
def site(make_site: SiteFactory) -> tuple[Any, Received]:
    return make_site()


LINK_RE = re.compile(r"https://veche\.example\.org(/register/confirm/\S+)")
NEW_PASSWORD = "Sirenevyj-tuman-nad-Yauzoj-7"
ATTACKER_PASSWORD = "Chuzhoj-parol-zloumyshlennika-1"


def register(
    app: Any, email: str, password: str = NEW_PASSWORD, name: str = "Мария Соседова"
) -> tuple[Any, str]:
    """Register in a fresh browser; (the answer, the page it leads to)."""
    with Browser(app) as b:
        answer = b.submit("/register", {"email": email, "display_name": name, "password": password})
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


def follow(b: Browser, path: str, password: str) -> Any:
    """Open a link and send its form, as a person does: GET the page, POST the password."""
    page = b.get(path)
    assert page.status_code == 200, page.text[:500]
    token = CSRF_RE.search(page.text)
    assert token is not None
    return b.post(path, data={"csrf_token": token.group(1), "password": password})


def signed_in(b: Browser) -> bool:
    return int(b.get("/my/ideas").status_code) == 200


def accounts(factory: Any, email: str) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(User).where(User.email == email)) or 0


def pending(factory: Any, email: str) -> int:
    with transaction(factory) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(PendingRegistration)
                .where(PendingRegistration.email == email)
            )
            or 0
        )


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
    assert "введите пароль, который вы выбрали при регистрации" in body(confirm)
    assert (
        notice["Subject"]
        == "Кто-то пытался зарегистрироваться на «Вече» с вашим адресом электронной почты"
    )
    assert "/login" in body(notice) and "/register/confirm/" not in body(notice)

    # the owner of the taken address keeps their password; the stranger's does not work
    with Browser(mail_app) as owner:
        owner.login("taken@example.org", PASSWORD)
    with Browser(mail_app) as stranger:
        r = stranger.submit("/login", {"email": "taken@example.org", "password": NEW_PASSWORD})
        assert r.status_code == 401
    assert pending(factory, "taken@example.org") == 0  # nothing stored for a taken address

    # no account exists until the link is followed: logging in is like an unknown address
    assert accounts(factory, "free@example.org") == 0
    with transaction(factory) as s:
        row = s.scalar(select(PendingRegistration))
        assert row is not None
        token = link_in(confirm).rsplit("/", 1)[1]
        assert row.token_hash == registration.token_digest(token) and token not in row.token_hash
        assert row.password_hash.startswith("$argon2") and NEW_PASSWORD not in row.password_hash
    with Browser(mail_app) as b:
        r = b.submit("/login", {"email": "free@example.org", "password": NEW_PASSWORD})
        assert r.status_code == 401 and "Неверный адрес или пароль" in r.text
        # the link asks for the password and changes nothing ...
        page = b.get(link_in(confirm))
        assert page.status_code == 200 and "Завершение регистрации" in page.text
        assert page.headers["cache-control"] == "no-store"
        controls = Controls()
        controls.feed(page.text)
        assert controls.controls and all(c.get("id") in controls.labels for c in controls.controls)
        assert accounts(factory, "free@example.org") == 0 and not signed_in(b)
        # ... the registration's password creates the account and signs it in
        r = follow(b, link_in(confirm), NEW_PASSWORD)
        assert r.status_code == 303 and r.headers["location"] == "/"
        home = b.get("/").text
        assert "Адрес электронной почты подтверждён" in home and "Мария Соседова" in home
    with Browser(mail_app) as again:
        again.login("free@example.org", NEW_PASSWORD)
    with transaction(factory) as s:
        user = s.scalar(select(User).where(User.email == "free@example.org"))
        assert user is not None
        assert user.role == "citizen" and user.locale == "ru"
        events = s.scalars(select(LoginEvent).where(LoginEvent.user_id == user.id)).all()
        assert "registration_confirmed" in [e.kind for e in events]
    assert pending(factory, "free@example.org") == 0


def test_an_intruder_who_registers_a_pending_address_gets_nothing(site: Any) -> None:
    """Pen-test finding 1 (pre-hijack): the victim registers, an intruder registers the same
    address with a password of their own. The victim's newest link is the intruder's: it
    does not take the victim's password; the victim's own link gives the victim an account
    with the victim's password, and the intruder's password opens nothing."""
    mail_app, smtp_server = site
    factory = mail_app.state.session_factory
    register(mail_app, "victim@example.org", NEW_PASSWORD, name="Жертва")
    register(mail_app, "victim@example.org", ATTACKER_PASSWORD, name="Злоумышленник")
    victims, intruders = for_address(smtp_server, 2, "victim@example.org")
    assert pending(factory, "victim@example.org") == 2  # the first registration is untouched

    with Browser(mail_app) as b:  # the victim opens the newest message first
        page = b.get(link_in(intruders))
        assert page.status_code == 200
        r = follow(b, link_in(intruders), NEW_PASSWORD)
        assert r.status_code == 422
        assert "Это не тот пароль, который вы выбрали при регистрации" in r.text
        assert accounts(factory, "victim@example.org") == 0 and not signed_in(b)
        # ... then their own
        r = follow(b, link_in(victims), NEW_PASSWORD)
        assert r.status_code == 303 and signed_in(b)
        assert "Жертва" in b.get("/").text
    with Browser(mail_app) as intruder:
        r = intruder.submit(
            "/login", {"email": "victim@example.org", "password": ATTACKER_PASSWORD}
        )
        assert r.status_code == 401
        assert intruder.get(link_in(intruders)).status_code == 400  # died with the other
    with Browser(mail_app) as owner:
        owner.login("victim@example.org", NEW_PASSWORD)


def test_the_intruder_registering_first_cannot_get_in_either(site: Any) -> None:
    mail_app, smtp_server = site
    register(mail_app, "early@example.org", ATTACKER_PASSWORD)
    register(mail_app, "early@example.org", NEW_PASSWORD)
    intruders, victims = for_address(smtp_server, 2, "early@example.org")
    with Browser(mail_app) as b:
        assert follow(b, link_in(intruders), NEW_PASSWORD).status_code == 422
        assert follow(b, link_in(victims), NEW_PASSWORD).status_code == 303
    with Browser(mail_app) as intruder:
        r = intruder.submit("/login", {"email": "early@example.org", "password": ATTACKER_PASSWORD})
        assert r.status_code == 401


def test_a_link_works_once_and_never_by_get(site: Any) -> None:
    """Pen-test finding 2: a used link opened again, from another client, does nothing; and a
    GET (a cross-site link or image) never signs anyone in."""
    mail_app, smtp_server = site
    factory = mail_app.state.session_factory
    register(mail_app, "once@example.org")
    (msg,) = for_address(smtp_server, 1, "once@example.org")
    path = link_in(msg)
    with Browser(mail_app) as cross_site:  # no session, no form: just the GET
        for _ in range(2):
            assert cross_site.get(path).status_code == 200
        assert not signed_in(cross_site)
        # a POST from another site carries no CSRF token of this browser
        r = cross_site.post(path, data={"password": NEW_PASSWORD})
        assert r.status_code == 403
        r = cross_site.post(path, data={"password": NEW_PASSWORD, "csrf_token": "forged"})
        assert r.status_code == 403
        assert not signed_in(cross_site)
    assert accounts(factory, "once@example.org") == 0

    with Browser(mail_app) as first:
        assert follow(first, path, NEW_PASSWORD).status_code == 303
    with Browser(mail_app) as second:
        again = second.get(path)
        assert again.status_code == 400
        assert "Ссылка недействительна, устарела или уже использована" in again.text
        csrf = CSRF_RE.search(second.get("/login").text)
        assert csrf is not None
        r = second.post(path, data={"csrf_token": csrf.group(1), "password": NEW_PASSWORD})
        assert r.status_code == 400 and not signed_in(second)
    assert accounts(factory, "once@example.org") == 1


def test_following_one_link_kills_the_others(site: Any) -> None:
    mail_app, smtp_server = site
    register(mail_app, "twice@example.org")
    register(mail_app, "twice@example.org")
    one, two = for_address(smtp_server, 2, "twice@example.org")
    with Browser(mail_app) as b:
        assert follow(b, link_in(two), NEW_PASSWORD).status_code == 303
    with Browser(mail_app) as b:
        assert b.get(link_in(one)).status_code == 400
    assert pending(mail_app.state.session_factory, "twice@example.org") == 0


def test_forged_and_expired_links_are_refused(site: Any) -> None:
    mail_app, smtp_server = site
    factory = mail_app.state.session_factory
    register(mail_app, "late@example.org")
    (msg,) = for_address(smtp_server, 1, "late@example.org")
    path = link_in(msg)
    token = path.rsplit("/", 1)[1]
    with Browser(mail_app) as b:
        forged = [
            secrets.token_urlsafe(32),
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
            "x",
            token + ".",
            "x" * 5000,
            registration.token_digest(token),  # the stored digest is not a link
        ]
        for bad in forged:
            assert b.get(f"/register/confirm/{bad}").status_code == 400, bad
            csrf = CSRF_RE.search(b.get("/login").text)
            assert csrf is not None
            r = b.post(
                f"/register/confirm/{bad}",
                data={"csrf_token": csrf.group(1), "password": NEW_PASSWORD},
            )
            assert r.status_code == 400, bad
        assert not signed_in(b)
        # 48 hours later
        with transaction(factory) as s:
            s.execute(
                update(PendingRegistration).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert b.get(path).status_code == 400
        csrf = CSRF_RE.search(b.get("/login").text)
        assert csrf is not None
        r = b.post(path, data={"csrf_token": csrf.group(1), "password": NEW_PASSWORD})
        assert r.status_code == 400 and not signed_in(b)
    assert accounts(factory, "late@example.org") == 0
    # the next registration (of any address) deletes expired rows
    register(mail_app, "someone@example.org")
    assert pending(factory, "late@example.org") == 0
    assert pending(factory, "someone@example.org") == 1


def test_pending_registrations_per_address_are_capped_and_the_newest_always_works(
    site: Any,
) -> None:
    """An intruder who registers a stranger's address again and again cannot use up its slots:
    the oldest registration makes room, so the stranger's own (newest) link works."""
    mail_app, smtp_server = site
    cap = registration.MAX_PENDING_PER_ADDRESS
    answers = [register(mail_app, "busy@example.org", ATTACKER_PASSWORD)[0] for _ in range(cap + 2)]
    answers.append(register(mail_app, "busy@example.org")[0])  # the owner, last
    assert {(a.status_code, a.headers["location"]) for a in answers} == {(303, "/register/sent")}
    assert pending(mail_app.state.session_factory, "busy@example.org") == cap
    messages = for_address(smtp_server, cap + 3, "busy@example.org")
    assert len(messages) == cap + 3
    with Browser(mail_app) as b:  # the oldest link made room: it no longer works
        assert b.get(link_in(messages[0])).status_code == 400
    with Browser(mail_app) as b:
        assert follow(b, link_in(messages[-1]), NEW_PASSWORD).status_code == 303
        assert signed_in(b)
    assert accounts(mail_app.state.session_factory, "busy@example.org") == 1


def test_wrong_passwords_at_a_link_are_limited(make_site: SiteFactory) -> None:
    mail_app, smtp_server = make_site(login_rate_limit=3)
    register(mail_app, "slow@example.org")
    (msg,) = for_address(smtp_server, 1, "slow@example.org")
    with Browser(mail_app) as b:
        codes = [follow(b, link_in(msg), f"wrong-password-{i}").status_code for i in range(3)]
        assert codes == [422, 422, 422]
        csrf = CSRF_RE.search(b.get("/login").text)
        assert csrf is not None
        r = b.post(link_in(msg), data={"csrf_token": csrf.group(1), "password": NEW_PASSWORD})
        assert r.status_code == 429 and "retry-after" in r.headers
    assert accounts(mail_app.state.session_factory, "slow@example.org") == 0


def test_an_address_that_got_an_account_meanwhile(site: Any) -> None:
    mail_app, smtp_server = site
    factory = mail_app.state.session_factory
    register(mail_app, "meanwhile@example.org")
    (msg,) = for_address(smtp_server, 1, "meanwhile@example.org")
    make_user(factory, "meanwhile@example.org")  # e.g. an administrator's command
    with Browser(mail_app) as b:
        r = follow(b, link_in(msg), NEW_PASSWORD)
        assert r.status_code == 409 and "уже есть учётная запись" in r.text
        assert not signed_in(b)
    assert (
        pending(factory, "meanwhile@example.org") == 0
        and accounts(factory, "meanwhile@example.org") == 1
    )


def test_the_link_page_speaks_english_to_an_english_browser(site: Any) -> None:
    mail_app, smtp_server = site
    with Browser(mail_app, headers={"accept-language": "en"}) as b:
        b.submit(
            "/register",
            {"email": "en@example.org", "display_name": "Mary", "password": NEW_PASSWORD},
        )
        (msg,) = for_address(smtp_server, 1, "en@example.org")
        assert "enter the password you chose when you registered" in body(msg)
        r = follow(b, link_in(msg), "not-my-password-1")
        assert r.status_code == 422
        assert "This is not the password you chose when you registered" in r.text
        assert b.get("/register/confirm/nope").status_code == 400


def test_invalid_forms_are_answered_as_before(site: Any) -> None:
    mail_app, smtp_server = site
    answer, _ = register(mail_app, "weak@example.org", "12345")
    assert answer.status_code == 422
    assert smtp_server.wait_for(1, timeout=0.5) == []
    assert pending(mail_app.state.session_factory, "weak@example.org") == 0
