"""E-mails about accounts: the link that finishes a registration, and the note to an address's
owner that someone tried to register it again (webapp.accounts.registration).

The link holds a random token (``secrets.token_urlsafe(32)``); only its SHA-256 digest is
stored, with the registration it belongs to. It works for :data:`CONFIRM_HOURS` hours and once:
it leads to a page that asks for the password chosen at registration, and only that creates the
account. The wording is in the templates ``accounts/email/{confirm,exists}_{subject,text}.html``,
rendered in the registrant's language through the Mailer's templates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from webapp.notifications.mailer import NAME_CHARS, Mailer
from webapp.notifications.notification_facts import clip

log = logging.getLogger("veche.mailer")

CONFIRM_HOURS = 48


@dataclass(frozen=True)
class AccountMail:
    """What a registration on a site that sends e-mail mails to the address it was given.

    ``kind`` 'confirm': a link to finish this registration (``token``, shown only here);
    'exists': the address already has an account — its owner is told, nobody else is
    (``token`` is empty).
    """

    kind: str
    email: str
    display_name: str
    locale: str | None
    token: str

    def __repr__(self) -> str:  # never the token in a log or a traceback
        return f"AccountMail({self.kind!r}, {self.email!r})"


def compose(mailer: Mailer, mail: AccountMail) -> EmailMessage:
    """The message for ``mail``, in the registrant's language, plain text."""
    lang = mailer.language(mail.locale)
    name = clip(mail.display_name, NAME_CHARS)
    context: dict[str, object] = {"name": name}
    if mail.kind == "confirm":
        kind = "confirm"
        context.update(link=mailer.url("confirm_email", token=mail.token), hours=CONFIRM_HOURS)
    else:
        kind = "exists"
        context.update(login=mailer.url("login"))
    subject = mailer.templates.text(lang, f"accounts/email/{kind}_subject.html", **context)
    body = mailer.templates.text(lang, f"accounts/email/{kind}_text.html", **context)
    msg = EmailMessage()
    msg["Subject"] = subject.strip()
    msg["From"] = mailer.settings.smtp_from
    msg["To"] = formataddr((name, mail.email))
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=mailer.domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    msg["Content-Language"] = lang
    return msg


def send(mailer: Mailer, mail: AccountMail | None) -> None:
    """Send at once (after the answer went out: see views.auth). A failure is logged; the
    registrant who gets nothing registers again, which sends a new message. None: nothing to
    send (webapp.accounts.registration.MAX_PENDING_PER_ADDRESS)."""
    if mail is None:
        return
    try:
        mailer.send_message(compose(mailer, mail))
    except Exception:  # noqa: BLE001 - SMTP down or refusing: logged, never raised into a page
        log.exception("could not send the %s e-mail to a registrant", mail.kind)
