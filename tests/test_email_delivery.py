"""E-mail of notifications against a real SMTP server on localhost (aiosmtpd).

Notifications are made by the real writers (``notify_supporters``); the sender runs either as
the app's background loop or one batch at a time with a controlled clock.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import update
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.notification_helpers import add_idea, notify, notify_supporters, rows, support
from webapp.accounts.account_mail import AccountMail
from webapp.accounts.account_mail import compose as account_message
from webapp.accounts.principal import to_current
from webapp.app import create_app
from webapp.cli import main
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import User, utcnow
from webapp.notifications.mailer import MAX_ATTEMPTS, Item, Mailer, Outgoing
from webapp.notifications.views.email import EmailTemplates

BASE_URL = "https://veche.example.org"


class Received:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = [content for _, _, content in self.envelopes]
        return [message_from_bytes(c, policy=policy.default) for c in raw]

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for _, rcpts, _ in self.envelopes for r in rcpts]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.envelopes) >= count:
                    break
            time.sleep(0.05)
        return self.messages()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, handler: Received, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def smtp_server(smtp_port: int, received: Received) -> Iterator[Received]:
    controller = start_server(smtp_port, received)
    try:
        yield received
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp_port: int) -> Settings:
    return dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        email_poll_seconds=0.1,
        base_url=BASE_URL,
        smtp_from="Veche <noreply@veche.example.org>",
    )


@pytest.fixture
def mail_app(mail_settings: Settings) -> Iterator[Any]:
    app = create_app(mail_settings)
    yield app
    app.state.engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def mailer_for(app: Any, clock: Callable[[], datetime] | None = None, **kwargs: Any) -> Mailer:
    return Mailer(
        app.state.settings,
        app.state.session_factory,
        app.state.translators,
        app.url_path_for,
        templates=EmailTemplates(app.state.jinja),
        clock=clock or utcnow,
        **kwargs,
    )


def many_users(factory: Any, count: int) -> list[Any]:
    """Citizens without hashing a password for each (argon2 is slow on purpose)."""
    first = make_user(factory, "citizen0@example.org", name="Ivan")
    with transaction(factory) as session:
        digest = session.get_one(User, first.id).password_hash
        users = [
            User(email=f"citizen{n}@example.org", display_name="Ivan", password_hash=digest)
            for n in range(1, count)
        ]
        session.add_all(users)
        session.flush()
        return [first, *(to_current(u) for u in users)]


def body(msg: EmailMessage, kind: str = "plain") -> str:
    part = msg.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())


def set_user(app: Any, user_id: int, **values: Any) -> None:
    with transaction(app.state.session_factory) as session:
        session.execute(update(User).where(User.id == user_id).values(**values))


def test_background_sender_emails_each_supporter_in_their_language(
    mail_app: Starlette, smtp_server: Received
) -> None:
    factory = mail_app.state.session_factory
    author = make_user(factory, "author@example.org", name="Pavel")
    russian = make_user(factory, "vera@example.org", name="Vera")
    english = make_user(factory, "john@example.org", name="John")
    idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
    for user in (russian, english):
        support(factory, user, idea)
    set_user(mail_app, english.id, locale="en")
    official = make_user(factory, "official@example.org", role="official", name="Olga")
    with Browser(mail_app):  # the lifespan starts the sender loop
        sent = notify_supporters(
            factory,
            [idea],
            "status",
            idea,
            {
                "title": "Bike lanes on Tverskaya street",
                "status": "accepted",
                "previous_status": "under_review",
            },
            email=mail_app.state.settings.email_enabled,
            exclude=(official.id,),
        )
        assert sent == 3  # two supporters and the author
        messages = smtp_server.wait_for(3)
    assert sorted(smtp_server.recipients()) == sorted(
        ["author@example.org", "vera@example.org", "john@example.org"]
    )
    by_to = {m["To"].addresses[0].addr_spec: m for m in messages}
    en, ru = by_to["john@example.org"], by_to["vera@example.org"]
    assert en["Subject"] == "New status of “Bike lanes on Tverskaya street”"
    assert ru["Subject"] == "Новый статус идеи «Bike lanes on Tverskaya street»"
    assert en["From"] == "Veche <noreply@veche.example.org>"
    assert en["Content-Language"] == "en" and ru["Content-Language"] == "ru"
    assert "Hello, John!" in body(en)
    assert "changed from Under review to Accepted." in body(en)
    assert "Здравствуйте, Vera!" in body(ru)
    assert "был «На рассмотрении», стал «Принята»." in body(ru)
    link = f"{BASE_URL}/ideas/{idea}"
    for msg in (en, ru):
        assert link in body(msg)
        assert f'<a href="{link}">' in body(msg, "html")
        assert f"{BASE_URL}/notifications" in body(msg)
        assert msg["List-Unsubscribe"] == f"<{BASE_URL}/notifications>"
    assert all(r.email_state == "sent" and r.emailed_at is not None for r in rows(factory))


def test_several_notifications_to_one_user_make_one_digest(
    mail_app: Starlette, smtp_server: Received
) -> None:
    factory = mail_app.state.session_factory
    author = make_user(factory, "author@example.org", name="Pavel")
    reader = make_user(factory, "vera@example.org", name="Vera")
    first = add_idea(factory, author, "Benches in Gorky park")
    second = add_idea(factory, author, "Night buses to Butovo")
    for idea in (first, second):
        support(factory, reader, idea)
    canonical = add_idea(factory, author, "More benches in parks")
    notify_supporters(
        factory,
        [first],
        "merged",
        first,
        {
            "title": "Benches in Gorky park",
            "canonical_id": canonical,
            "canonical_title": "More benches in parks",
        },
        authors=False,
    )
    notify_supporters(
        factory,
        [second],
        "response",
        second,
        {"title": "Night buses to Butovo", "body": "The route <N1> starts in June."},
        authors=False,
    )
    notify(
        factory,
        [reader.id],
        "comment_hidden",
        second,
        {"title": "Night buses to Butovo", "reason": "Insults", "excerpt": "You <all> are wrong"},
        email=True,
    )
    report = mailer_for(mail_app).send_batch()
    assert (report.sent, report.messages, report.retrying) == (3, 1, 0)
    (msg,) = smtp_server.messages()
    assert msg["Subject"] == "3 новых уведомления на «Вече»"
    text = body(msg)
    assert "объединена с идеей «More benches in parks»" in text
    assert f"{BASE_URL}/ideas/{canonical}" in text  # a merge links to the canonical idea
    assert (
        "Официальный ответ на идею «Night buses to Butovo»: The route <N1> starts in June." in text
    )
    assert f"{BASE_URL}/ideas/{second}" in text
    assert (
        "Модератор скрыл ваш комментарий к идее «Night buses to Butovo». Причина: Insults\n> You <all> are wrong"
        in text
    )
    html = body(msg, "html")
    assert "The route &lt;N1&gt; starts in June." in html and "<N1>" not in html
    assert "<blockquote>You &lt;all&gt; are wrong</blockquote>" in html


# Every kind of notification, with the variants its wording has (as the writers store them).
EVERY_KIND: list[tuple[str, dict[str, Any]]] = [
    ("merged", {"canonical_id": 2, "canonical_title": "{other}"}),
    (
        "merged",
        {"merged_titles": ["{title}", "{other}"], "canonical_id": 2, "canonical_title": "{other}"},
    ),
    ("merged", {"merged_titles": ["{title}", "{other}"]}),
    ("merged", {}),
    ("status", {"status": "accepted", "previous_status": "under_review"}),
    ("status", {"status": "implemented"}),
    ("status", {}),
    ("response", {"status": "in_progress", "body": "{text}"}),
    ("response", {"response": "{text}"}),
    ("response", {}),
    ("hidden", {"auto": True}),
    ("hidden", {"reason": "{text}"}),
    ("hidden", {}),
    ("unhidden", {"reason": "{text}"}),
    ("unhidden", {}),
    ("comment_hidden", {"auto": True, "excerpt": "{text}"}),
    ("comment_hidden", {"reason": "{text}", "excerpt": "{text}"}),
    ("comment_hidden", {"excerpt": "{text}"}),
    ("comment_unhidden", {"reason": "{text}", "excerpt": "{text}"}),
    ("comment_unhidden", {}),
    ("comment", {"by": "{name}", "excerpt": "{text}", "comment_id": 5}),
    ("comment", {}),
    ("reply", {"by": "{name}", "excerpt": "{text}", "comment_id": 6}),
    ("reply", {}),
    ("unmerged", {"canonical_id": 2, "canonical_title": "{other}", "merged_ids": [1]}),
    ("unmerged", {"merged_titles": ["{title}", "{other}"], "canonical_title": "{other}"}),
    ("unmerged", {}),
    ("merged", {"canonical_id": 2, "canonical_title": "{other}", "merge_undone": True}),
    ("merged", {"merged_titles": ["{title}", "{other}"], "merge_undone": True}),
    ("news", {}),  # a kind this version does not know
]
WORDS = {
    "ru": {"name": "Вера", "title": "Велодорожки", "other": "Велосипеды", "text": "Причина"},
    "en": {"name": "Vera", "title": "Bike lanes", "other": "Bicycles", "text": "Because"},
}


def _filled(data: dict[str, Any], words: dict[str, str]) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format(**words)
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return {"title": words["title"], **{k: fill(v) for k, v in data.items()}}


def _wording(msg: EmailMessage) -> list[str]:
    """The subject and both parts, without the links, the HTML tags and entities."""
    texts = [str(msg["Subject"]), body(msg)]
    if msg.get_body(preferencelist=("html",)) is not None:
        texts.append(re.sub(r"<[^>]*>|&[#\w]+;", " ", body(msg, "html")))
    return [re.sub(r"https?://\S+", " ", t) for t in texts]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_email_is_wholly_in_the_recipients_language(mail_app: Starlette, lang: str) -> None:
    """The templates word every e-mail through the recipient's catalog: a Russian e-mail has no
    Latin letter outside its links (the data is Russian too), an English one no Cyrillic."""
    mailer = mailer_for(mail_app)
    words = WORDS[lang]
    items = [Item(n, kind, 1, _filled(data, words), 0) for n, (kind, data) in enumerate(EVERY_KIND)]
    to = (1, "vera@example.org", words["name"], lang)
    messages = [mailer.compose(Outgoing(*to, (item,))) for item in items]
    messages.append(mailer.compose(Outgoing(*to, tuple(items))))  # the digest
    messages += [
        account_message(mailer, AccountMail(kind, "vera@example.org", words["name"], lang, "t0k"))
        for kind in ("confirm", "exists")
    ]
    foreign = re.compile(r"[A-Za-z]" if lang == "ru" else r"[А-Яа-яЁё«»]")
    for msg in messages:
        assert msg["Content-Language"] == lang
        for text in _wording(msg):
            assert not foreign.search(text), (lang, msg["Subject"], text)
    assert len({str(m["Subject"]) for m in messages[: len(items)]}) >= 8  # one subject a kind


def test_retries_while_the_server_is_down_then_sends(
    mail_app: Starlette, smtp_port: int, received: Received
) -> None:
    factory = mail_app.state.session_factory
    author = make_user(factory, "author@example.org", name="Pavel")
    idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
    notify_supporters(factory, [idea], "unhidden", idea, {"title": "Bike lanes"})
    clock = Clock()
    mailer = mailer_for(mail_app, clock, retry_seconds=(30.0, 60.0))

    report = mailer.send_batch()  # nobody listens on the port
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    assert report.errors and "cannot connect" in report.errors[0]
    (row,) = rows(factory)
    assert (row.email_state, row.email_attempts) == ("pending", 1)
    assert row.email_next_at == clock.now + timedelta(seconds=30)

    controller = start_server(smtp_port, received)
    try:
        clock.advance(10)
        assert mailer.send_batch().claimed == 0  # backing off: not due yet
        assert received.messages() == []
        clock.advance(25)
        report = mailer.send_batch()
        assert (report.sent, report.messages) == (1, 1)
    finally:
        controller.stop()
    assert received.recipients() == ["author@example.org"]
    (row,) = rows(factory)
    assert (row.email_state, row.email_attempts, row.email_next_at) == ("sent", 1, None)
    assert row.emailed_at == clock.now


def test_gives_up_after_the_last_attempt(mail_app: Starlette) -> None:
    factory = mail_app.state.session_factory
    author = make_user(factory, "author@example.org", name="Pavel")
    idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
    notify_supporters(factory, [idea], "unhidden", idea, {"title": "Bike lanes"})
    clock = Clock()
    mailer = mailer_for(mail_app, clock, retry_seconds=(5.0, 10.0, 20.0, 40.0))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = mailer.send_batch()
        (row,) = rows(factory)
        assert row.email_attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert report.retrying == 1 and row.email_state == "pending"
            clock.advance(41)
    assert report.failed == 1
    assert (row.email_state, row.email_next_at) == ("failed", None)
    clock.advance(3600)
    assert mailer.send_batch().claimed == 0


def test_opted_out_and_blocked_users_are_skipped(
    mail_app: Starlette, smtp_server: Received
) -> None:
    factory = mail_app.state.session_factory
    author = make_user(factory, "author@example.org", name="Pavel")
    before = make_user(factory, "before@example.org", name="Boris")
    after = make_user(factory, "after@example.org", name="Anna")
    blocked = make_user(factory, "blocked@example.org", name="Gleb")
    keen = make_user(factory, "keen@example.org", name="Kira")
    idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
    for user in (before, after, blocked, keen):
        support(factory, user, idea)
    set_user(mail_app, before.id, email_notifications=False)
    notify_supporters(factory, [idea], "status", idea, {"title": "Bike lanes"}, authors=False)
    set_user(mail_app, after.id, email_notifications=False)
    set_user(mail_app, blocked.id, blocked=True)

    report = mailer_for(mail_app).send_batch()
    assert (report.sent, report.skipped) == (1, 2)
    assert smtp_server.recipients() == ["keen@example.org"]
    states = {r.user_id: r.email_state for r in rows(factory)}
    assert states == {
        before.id: "skipped",
        after.id: "skipped",
        blocked.id: "skipped",
        keen.id: "sent",
    }


def test_two_sender_loops_never_send_twice(mail_settings: Settings, smtp_server: Received) -> None:
    apps = [create_app(mail_settings), create_app(mail_settings)]
    factory = apps[0].state.session_factory
    author = make_user(factory, "author@example.org", name="Pavel")
    idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
    people = many_users(factory, 30)
    for user in people:
        support(factory, user, idea)
    for app in apps:
        app.state.mailer.batch_size = 2  # many small batches: the loops contend for rows
    try:
        with Browser(apps[0]), Browser(apps[1]):
            notify_supporters(factory, [idea], "status", idea, {"title": "Bike lanes"})
            smtp_server.wait_for(31)
            time.sleep(0.5)  # anything sent twice would arrive by now
    finally:
        for app in apps:
            app.state.engine.dispose()
    recipients = smtp_server.recipients()
    assert len(recipients) == 31
    assert sorted(recipients) == sorted([u.email for u in people] + [author.email])
    assert {r.email_state for r in rows(factory)} == {"sent"}


def test_racing_senders_claim_disjoint_batches(mail_app: Starlette, smtp_server: Received) -> None:
    factory = mail_app.state.session_factory
    author = make_user(factory, "author@example.org", name="Pavel")
    idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
    people = many_users(factory, 20)
    for user in people:
        support(factory, user, idea)
    notify_supporters(factory, [idea], "status", idea, {"title": "Bike lanes"}, authors=False)
    senders = [mailer_for(mail_app, batch_size=1) for _ in range(3)]
    start = threading.Barrier(len(senders))
    reports: list[Any] = []

    def run(mailer: Mailer) -> None:
        start.wait()
        reports.append(mailer.send_due())

    threads = [threading.Thread(target=run, args=(m,)) for m in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.sent for r in reports) == 20
    assert sorted(smtp_server.recipients()) == sorted(u.email for u in people)
    assert {r.email_state for r in rows(factory)} == {"sent"}


def test_login_and_starttls_when_configured(
    mail_settings: Settings,
    smtp_port: int,
    received: Received,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts our test certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[str, str]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
    ) -> AuthResult:
        assert isinstance(auth, LoginPassword)
        logins.append((auth.login.decode(), auth.password.decode()))
        ok = (auth.login, auth.password) == (b"veche", b"s3cret-pass")
        return AuthResult(success=ok, handled=False)

    settings = dataclasses.replace(
        mail_settings, smtp_starttls=True, smtp_user="veche", smtp_password="s3cret-pass"
    )
    app = create_app(settings)
    controller = start_server(
        smtp_port,
        received,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    try:
        factory = app.state.session_factory
        author = make_user(factory, "author@example.org", name="Pavel")
        idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
        notify_supporters(factory, [idea], "unhidden", idea, {"title": "Bike lanes"})
        report = mailer_for(app).send_batch()
        assert report.errors == [] and report.sent == 1
        assert logins == [("veche", "s3cret-pass")]
        assert received.recipients() == ["author@example.org"]

        wrong = dataclasses.replace(settings, smtp_password="wrong")
        notify_supporters(factory, [idea], "unhidden", idea, {"title": "Bike lanes"})
        mailer = Mailer(
            wrong,
            factory,
            app.state.translators,
            app.url_path_for,
            templates=EmailTemplates(app.state.jinja),
        )
        report = mailer.send_batch()
        assert report.retrying == 1 and "535" in report.errors[0]
        assert "wrong" not in report.errors[0]
    finally:
        controller.stop()
        app.state.engine.dispose()


def test_cli_sends_what_is_due(
    mail_app: Starlette,
    smtp_server: Received,
    smtp_port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = mail_app.state.session_factory
    url = mail_app.state.settings.database_url
    author = make_user(factory, "author@example.org", name="Pavel")
    idea = add_idea(factory, author, "Bike lanes on Tverskaya street")
    notify_supporters(factory, [idea], "unhidden", idea, {"title": "Bike lanes"})

    monkeypatch.delenv("VECHE_SMTP_HOST", raising=False)
    assert main(["--database-url", url, "notify", "send", "--quiet"]) == 2
    assert "veche: error: VECHE_SMTP_HOST is not set" in capsys.readouterr().err

    monkeypatch.setenv("VECHE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("VECHE_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("VECHE_BASE_URL", BASE_URL)
    assert main(["--database-url", url, "notify", "send", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 notification e-mailed in 1 message" in out
    assert smtp_server.recipients() == ["author@example.org"]
    assert main(["--database-url", url, "notify", "send", "--quiet"]) == 0
    assert "Nothing to send" in capsys.readouterr().out
