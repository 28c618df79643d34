"""E-mails about accounts: the link that confirms a registration, and the note to an address's
owner that someone tried to register it again (webapp.services.users.register_pending).

The link carries a signed, dated token (``itsdangerous``, keyed by ``SECRET_KEY``) naming the
account, its address and a fingerprint of the password it was registered with; nothing is
stored. It works for :data:`CONFIRM_HOURS` hours, once the account has not changed since.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from webapp.services.mailer import Mailer
from webapp.services.notification_text import clip
from webapp.services.users import AccountMail

log = logging.getLogger("veche.mailer")

CONFIRM_HOURS = 48
_SALT = "veche-confirm-email"


def confirm_token(secret: str, mail: AccountMail) -> str:
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps(
        [mail.user_id, mail.email, mail.fingerprint]
    )


def read_confirm_token(
    secret: str, token: str, max_age: int = CONFIRM_HOURS * 3600
) -> tuple[int, str, str] | None:
    """(user id, e-mail, password fingerprint) of a genuine, unexpired link; else None."""
    try:
        data: Any = URLSafeTimedSerializer(secret, salt=_SALT).loads(token, max_age=max_age)
    except BadSignature:  # includes SignatureExpired
        return None
    if (
        not isinstance(data, list)
        or len(data) != 3
        or not isinstance(data[0], int)
        or not all(isinstance(x, str) for x in data[1:])
    ):
        return None
    return data[0], data[1], data[2]


def compose(mailer: Mailer, mail: AccountMail, secret: str) -> EmailMessage:
    """The message for ``mail``, in the registrant's language, plain text."""
    lang = mail.locale if mail.locale in mailer.translators else mailer.settings.default_language
    tr = mailer.translators[lang]
    hello = tr.gettext("Hello, %(name)s!", name=clip(mail.display_name, 100))
    if mail.kind == "confirm":
        link = mailer.base_url + str(
            mailer.path_for("confirm_email", token=confirm_token(secret, mail))
        )
        subject = tr.gettext("Confirm your e-mail address for Veche")
        lines = [
            hello, "",
            tr.gettext(
                "To finish creating your account, open this link within %(hours)s hours:",
                hours=CONFIRM_HOURS,
            ),
            link, "",
            tr.gettext(
                "If you did not register on Veche, ignore this message: "
                "the account will not be activated."
            ),
        ]
    else:
        login = mailer.base_url + str(mailer.path_for("login"))
        subject = tr.gettext("Someone tried to register on Veche with your e-mail address")
        lines = [
            hello, "",
            tr.gettext(
                "Someone, perhaps you, tried to create a new account on Veche with this e-mail "
                "address. You already have an account: log in here:"
            ),
            login, "",
            tr.gettext("If it was not you, ignore this message: your account has not changed."),
        ]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = mailer.settings.smtp_from
    msg["To"] = formataddr((clip(mail.display_name, 100), mail.email))
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=mailer.domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(lines) + "\n")
    msg["Content-Language"] = lang
    return msg


def send(mailer: Mailer, mail: AccountMail, secret: str) -> None:
    """Send at once (after the answer went out: see views.auth). A failure is logged; the
    registrant who gets nothing registers again, which sends a new message."""
    try:
        mailer.send_message(compose(mailer, mail, secret))
    except Exception:  # noqa: BLE001 - SMTP down or refusing: logged, never raised into a page
        log.exception("could not send the %s e-mail for account %s", mail.kind, mail.user_id)
