"""E-mail of notifications over SMTP: claim a batch, compose in each recipient's language, send.

A notification due for e-mail has ``email_state='pending'`` (see ``services.notifications``).
One pass (:meth:`Mailer.send_batch`):

1. **claim** (one short transaction): ``UPDATE … SET email_next_at = now + lease WHERE id IN
   (SELECT … FOR UPDATE SKIP LOCKED)``. On PostgreSQL concurrent senders skip each other's rows;
   on SQLite the statement takes the write lock first, so senders are serialised. The lease
   means no transaction stays open while talking to the SMTP server, and a sender that dies
   mid-batch only delays its rows by the lease. Rows of users who turned e-mail off (or were
   blocked) become ``skipped``.
2. **send** outside any transaction, one SMTP connection per batch: all of one user's claimed
   notifications go out as one message (a digest when there are several), composed in the
   recipient's language from the templates in ``notifications/email/`` (rendered through the
   :class:`Templates` the Mailer is given: ``webapp.notifications.views.email.EmailTemplates``).
3. **finish** (a second transaction): ``sent`` + ``emailed_at``; on failure ``email_attempts``
   + 1 and ``email_next_at`` pushed back (:data:`RETRY_SECONDS`), ``failed`` after
   :data:`MAX_ATTEMPTS`. Rows the sender did not get to are released at once.

Delivery is at least once: a sender killed between the SMTP server's "250 OK" and the finish
transaction sends those messages again after the lease.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from webapp.i18n import Translator
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Notification, User, utcnow
from webapp.notifications.notification_facts import (
    Facts,
    clip,
    facts,
    target_anchor,
    target_idea,
    target_poll,
    target_project,
)
from webapp.notifications.notifications import mark_undone

log = logging.getLogger("veche.mailer")

MAX_ATTEMPTS = 5
# Wait after the 1st, 2nd, 3rd, 4th failed attempt; the 5th gives up (about 2.5 hours in all).
RETRY_SECONDS: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)
LEASE_SECONDS = 900.0
BATCH_SIZE = 200
SMTP_TIMEOUT = 15.0

PathFor = Callable[..., Any]  # (route name, **params) -> path, e.g. Starlette's url_path_for
NAME_CHARS = 100  # of the recipient's name, in the greeting and the To header
SUBJECT_CHARS = 200


class Templates(Protocol):
    """E-mail templates by name, rendered in a language (``views.email.EmailTemplates``)."""

    def text(self, language: str, name: str, /, **context: Any) -> str:
        """A subject or a plain-text part (no HTML escaping)."""
        ...

    def html(self, language: str, name: str, /, **context: Any) -> str:
        """An HTML part (escaped like a page)."""
        ...


@dataclass(frozen=True)
class Item:
    id: int
    kind: str
    idea_id: int | None
    data: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Notice:
    """One notification as an e-mail tells it: its facts and the page it links to."""

    facts: Facts
    link: str


@dataclass(frozen=True)
class Outgoing:
    """One e-mail to compose: a user and their claimed notifications, oldest first."""

    user_id: int
    email: str
    name: str
    language: str
    items: tuple[Item, ...]


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0  # notifications e-mailed
    messages: int = 0  # e-mails sent (a digest carries several notifications)
    retrying: int = 0
    failed: int = 0  # gave up after MAX_ATTEMPTS
    skipped: int = 0
    released: int = 0  # claimed but not attempted (stopping): due again at once
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        for name in ("claimed", "sent", "messages", "retrying", "failed", "skipped", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def describe(self) -> str:
        """One line for the command line (English, like the rest of its output)."""

        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        parts = [f"{n(self.sent, 'notification')} e-mailed in {n(self.messages, 'message')}"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped (e-mail turned off or account blocked)")
        if self.retrying:
            parts.append(f"{self.retrying} to retry later")
        if self.failed:
            parts.append(f"{self.failed} given up after {MAX_ATTEMPTS} attempts")
        return "; ".join(parts)


def retry_delay(attempts: int, schedule: Sequence[float] = RETRY_SECONDS) -> float:
    """Seconds to wait after ``attempts`` failed attempts (the last delay repeats)."""
    if not schedule:
        return 0.0
    return float(schedule[min(max(attempts, 1), len(schedule)) - 1])


class Mailer:
    """Sends pending notification e-mails; safe to run in several processes at once."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        translators: dict[str, Translator],
        path_for: PathFor,
        *,
        templates: Templates | None = None,
        batch_size: int = BATCH_SIZE,
        retry_seconds: Sequence[float] = RETRY_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.settings = settings
        self.factory = session_factory
        self.translators = translators  # the languages an e-mail can be written in
        self.path_for = path_for
        self._templates = templates
        self.batch_size = batch_size
        self.retry_seconds = tuple(retry_seconds)
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.base_url = settings.base_url.rstrip("/")
        self.domain = urlsplit(settings.base_url).hostname or "veche.local"

    # --- 1. claim ---------------------------------------------------------------------------

    def _due(self, now: datetime) -> Any:
        return (Notification.email_state == "pending") & or_(
            Notification.email_next_at.is_(None), Notification.email_next_at <= now
        )

    def claim(self, now: datetime) -> tuple[list[Outgoing], int]:
        """Lease a batch of due notifications; returns the e-mails to send and rows skipped."""
        with transaction(self.factory) as session:
            due = self._due(now)
            # a read first: an idle poll must not take SQLite's write lock every few seconds
            if session.scalar(select(Notification.id).where(due).limit(1)) is None:
                return [], 0
            pick = (
                select(Notification.id)
                .where(due)
                .order_by(Notification.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            lease = now + timedelta(seconds=self.lease_seconds)
            claimed = (
                session.execute(
                    update(Notification)
                    .where(Notification.id.in_(pick.scalar_subquery()), due)
                    .values(email_next_at=lease)
                    .returning(Notification.id)
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
            if not claimed:
                return [], 0
            rows = session.execute(
                select(Notification, User)
                .join(User, User.id == Notification.user_id)
                .where(Notification.id.in_(claimed))
                .order_by(Notification.user_id, Notification.id)
            ).all()
            skip = [n.id for n, u in rows if u.blocked or not u.email_notifications]
            if skip:
                session.execute(
                    update(Notification)
                    .where(Notification.id.in_(skip))
                    .values(email_state="skipped", email_next_at=None)
                    .execution_options(synchronize_session=False)
                )
            by_user: dict[int, Outgoing] = {}
            data = {n.id: dict(n.data or {}) for n, _u in rows}
            # a merge undone before its e-mail goes out is told as undone (notifications.py)
            mark_undone(session, ((n.kind, data[n.id]) for n, _u in rows))
            for n, u in rows:
                if u.blocked or not u.email_notifications:
                    continue
                item = Item(n.id, n.kind, n.idea_id, data[n.id], n.email_attempts)
                if u.id in by_user:
                    prev = by_user[u.id]
                    by_user[u.id] = Outgoing(
                        prev.user_id, prev.email, prev.name, prev.language, (*prev.items, item)
                    )
                else:
                    by_user[u.id] = Outgoing(
                        u.id, u.email, u.display_name, self._language(u), (item,)
                    )
            return list(by_user.values()), len(skip)

    def _language(self, user: User) -> str:
        return self.language(user.locale)

    # --- 2. compose -------------------------------------------------------------------------

    def language(self, locale: str | None) -> str:
        """The language to write to someone who chose ``locale`` (the site's default if none)."""
        if locale in self.translators:
            return str(locale)
        return self.settings.default_language

    @property
    def templates(self) -> Templates:
        if self._templates is None:
            raise RuntimeError(
                "this Mailer has no e-mail templates: construct it with "
                "templates=webapp.notifications.views.email.EmailTemplates(jinja)"
            )
        return self._templates

    def url(self, name: str, **params: Any) -> str:
        """The absolute address of a page (route ``name``), for a link in an e-mail."""
        return self.base_url + str(self.path_for(name, **params))

    def _link(self, item: Item) -> str:
        project_id = target_project(item.kind, item.data)
        if project_id is not None:
            return self.url("project_results", project_id=project_id)
        poll_id = target_poll(item.kind, item.data)
        if poll_id is not None:
            return self.url("poll", poll_id=poll_id)
        target = target_idea(item.kind, item.idea_id, item.data)
        if target is None:
            return self.url("notifications")
        anchor = target_anchor(item.kind, item.data)
        return self.url("idea", idea_id=target) + (f"#{anchor}" if anchor else "")

    def compose(self, out: Outgoing) -> EmailMessage:
        """A plain-text message with an HTML alternative, in the recipient's language (the
        wording: ``notifications/email/notification_*.html``)."""
        name = clip(out.name, NAME_CHARS)
        inbox = self.url("notifications")
        context: dict[str, Any] = {
            "language": out.language,
            "name": name,
            "items": [Notice(facts(i.kind, i.idea_id, i.data), self._link(i)) for i in out.items],
            "inbox": inbox,
        }
        render = self.templates
        subject = render.text(
            out.language, "notifications/email/notification_subject.html", **context
        )
        plain = render.text(out.language, "notifications/email/notification_text.html", **context)
        html = render.html(out.language, "notifications/email/notification_html.html", **context)

        msg = EmailMessage()
        msg["Subject"] = clip(subject, SUBJECT_CHARS)
        msg["From"] = self.settings.smtp_from
        msg["To"] = formataddr((name, out.email))
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg["List-Unsubscribe"] = f"<{inbox}>"
        msg.set_content(plain)
        msg.add_alternative(html, subtype="html")
        msg["Content-Language"] = out.language  # after the parts: they would take it along
        return msg

    # --- 3. send and finish -----------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT)
        try:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send_message(self, msg: EmailMessage) -> None:
        """Send one message now, on its own connection (account e-mails:
        ``webapp.accounts.account_mail``)."""
        smtp = self._connect()
        try:
            smtp.send_message(msg)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def deliver(
        self, outgoing: list[Outgoing], should_stop: Callable[[], bool] | None = None
    ) -> tuple[list[Outgoing], list[Outgoing], list[str]]:
        """Send over one connection; returns (sent, failed, errors). Unattempted ones are in neither."""
        sent: list[Outgoing] = []
        failed: list[Outgoing] = []
        errors: list[str] = []
        if not outgoing:
            return sent, failed, errors
        started = time.monotonic()
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            errors.append(
                f"cannot connect to {self.settings.smtp_host}:{self.settings.smtp_port}: {exc}"
            )
            return [], list(outgoing), errors
        try:
            for out in outgoing:
                if should_stop is not None and should_stop():
                    break
                if time.monotonic() - started > self.lease_seconds / 2:
                    break  # keep well inside the lease; the rest is released
                try:
                    message = self.compose(out)
                except Exception as exc:  # a bad row must not hold up the others' e-mail
                    log.exception("cannot compose the notification e-mail to user %s", out.user_id)
                    errors.append(f"user {out.user_id}: cannot compose: {exc!r}")
                    failed.append(out)
                    continue
                try:
                    smtp.send_message(message, to_addrs=[out.email])
                except smtplib.SMTPServerDisconnected as exc:
                    errors.append(f"{out.email}: {exc}")
                    failed.append(out)
                    done = {o.user_id for o in sent} | {o.user_id for o in failed}
                    failed.extend(o for o in outgoing if o.user_id not in done)
                    return sent, failed, errors
                except (OSError, smtplib.SMTPException) as exc:
                    errors.append(f"{out.email}: {exc}")
                    failed.append(out)
                else:
                    sent.append(out)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return sent, failed, errors

    def finish(
        self,
        claimed: list[Outgoing],
        sent: list[Outgoing],
        failed: list[Outgoing],
        now: datetime,
    ) -> SendReport:
        """Record what happened to each claimed notification."""
        report = SendReport(messages=len(sent))
        sent_ids = [i.id for o in sent for i in o.items]
        failed_items = [i for o in failed for i in o.items]
        done = set(sent_ids) | {i.id for i in failed_items}
        released = [i.id for o in claimed for i in o.items if i.id not in done]
        with transaction(self.factory) as session:
            if sent_ids:
                session.execute(
                    update(Notification)
                    .where(Notification.id.in_(sent_ids))
                    .values(email_state="sent", emailed_at=now, email_next_at=None)
                    .execution_options(synchronize_session=False)
                )
            groups: dict[int, list[int]] = {}
            for item in failed_items:
                groups.setdefault(item.attempts + 1, []).append(item.id)
            for attempts, ids in groups.items():
                gave_up = attempts >= MAX_ATTEMPTS
                values: dict[str, Any] = {
                    "email_attempts": attempts,
                    "email_state": "failed" if gave_up else "pending",
                    "email_next_at": None
                    if gave_up
                    else now + timedelta(seconds=retry_delay(attempts, self.retry_seconds)),
                }
                session.execute(
                    update(Notification)
                    .where(Notification.id.in_(ids), Notification.email_state == "pending")
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if gave_up:
                    report.failed += len(ids)
                else:
                    report.retrying += len(ids)
            if released:
                session.execute(
                    update(Notification)
                    .where(Notification.id.in_(released), Notification.email_state == "pending")
                    .values(email_next_at=None)
                    .execution_options(synchronize_session=False)
                )
        report.sent = len(sent_ids)
        report.released = len(released)
        return report

    def send_batch(self, should_stop: Callable[[], bool] | None = None) -> SendReport:
        """Claim, send and record one batch."""
        outgoing, skipped = self.claim(self.clock())
        sent, failed, errors = self.deliver(outgoing, should_stop)
        report = self.finish(outgoing, sent, failed, self.clock())
        report.claimed = sum(len(o.items) for o in outgoing) + skipped
        report.skipped = skipped
        report.errors = errors
        for error in errors:
            log.warning("notification e-mail failed: %s", error)
        return report

    def send_due(
        self,
        should_stop: Callable[[], bool] | None = None,
        on_batch: Callable[[SendReport], None] | None = None,
    ) -> SendReport:
        """Send batches until nothing is due (failures wait for their retry time)."""
        total = SendReport()
        while not (should_stop is not None and should_stop()):
            report = self.send_batch(should_stop)
            total.add(report)
            if on_batch is not None:
                on_batch(report)
            if report.claimed < self.batch_size or report.released:
                break
        return total

    def count_due(self) -> int:
        """Notifications due for e-mail now."""
        with transaction(self.factory) as session:
            return int(session.scalar(select(func.count()).where(self._due(self.clock()))) or 0)
