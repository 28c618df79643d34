"""Registration on a site that sends e-mail: pending registrations and their links.

A registration creates no account. It stores a row of ``pending_registrations`` (the name,
district, language and argon2 hash of the password typed) and mails a link holding a random
token, of which only the SHA-256 digest is kept. The account exists only once the mailbox's
owner opens the link *and* types the password of that same registration
(:func:`confirm`); then every pending row of the address is deleted, so each link works once
and the others die with it.

Why (security issue #12): a registration never changes another one, so whoever registers a
stranger's address gets nothing — the stranger's own link still needs the stranger's password,
and the intruder's link needs the intruder's mailbox. Opening a link changes nothing (a GET
that logged in was a login-CSRF vector and a reusable login link).

Every valid form costs one argon2 hash, whether the address is free, taken or over the cap,
and gets the same answer from the view (views.auth); the e-mail goes out after the answer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.accounts import login_audit
from webapp.accounts.account_mail import CONFIRM_HOURS, AccountMail
from webapp.accounts.passwords import MAX_LOGIN_PASSWORD
from webapp.accounts.principal import to_current
from webapp.accounts.users import _add_user, _clean_account
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, DomainError, InvalidInput
from webapp.kernel.security import hash_password, verify_password
from webapp.kernel.storage.models import PendingRegistration, User

# At most this many unexpired registrations per address: a further one replaces the oldest (the
# newest registration always gets a working link, so nobody can hold an address's slots to keep
# its owner from registering; the mail one address gets is bounded by the register rate limit).
MAX_PENDING_PER_ADDRESS = 5
# Expired rows deleted per registration, at most (opportunistic clean-up, bounded work).
EXPIRED_SWEEP = 100
# A token is 43 characters (token_urlsafe(32)); anything far longer is not looked up.
MAX_TOKEN_LENGTH = 200

INVALID_LINK_MESSAGE = N_(
    "This link is invalid, has expired or has already been used. Register again to get a new "
    "one, or log in if your account already exists."
)
WRONG_PASSWORD_MESSAGE = N_(
    "This is not the password you chose when you registered with this link. Try again."
)


class InvalidLink(DomainError):
    """The token names no unexpired registration (forged, expired or already used): 400."""

    status = 400


@dataclass(frozen=True)
class Confirmation:
    """What following a link with the right password did: ``user`` is the new account, or None
    when the address got an account meanwhile (its pending registrations are gone too)."""

    user: CurrentUser | None
    email: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _sweep_expired(session: Session, now: datetime) -> None:
    """Delete up to :data:`EXPIRED_SWEEP` expired registrations (any address)."""
    oldest = (
        select(PendingRegistration.id)
        .where(PendingRegistration.expires_at < now)
        .order_by(PendingRegistration.id)
        .limit(EXPIRED_SWEEP)
    )
    session.execute(
        delete(PendingRegistration)
        .where(PendingRegistration.id.in_(oldest.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )


def register_pending(
    session: Session,
    *,
    email: object,
    display_name: object,
    password: object,
    district_id: object = None,
    password_min_length: int = 10,
    password_max_length: int = 256,
    locale: str | None = None,
    now: datetime | None = None,
) -> AccountMail | None:
    """Check the form (InvalidInput) and say what to mail; None: mail nothing.

    A free address gets a new pending registration and a link ('confirm'); an address with an
    account gets a note to its owner ('exists') and nothing is stored. Other registrations of
    the address are never changed, but at most :data:`MAX_PENDING_PER_ADDRESS` stay: a further
    one deletes the oldest (whoever registers last gets a link that works, so registering a
    stranger's address over and over cannot keep the stranger out). One argon2 hash on every
    path.
    """
    email_s, name, pw, district = _clean_account(
        session,
        email,
        display_name,
        password,
        district_id,
        password_min_length,
        password_max_length,
        "citizen",
    )
    password_hash = hash_password(pw)  # on every path: the answer time tells nothing
    now = now or _now()
    _sweep_expired(session, now)
    user = session.scalar(select(User).where(User.email == email_s))
    if user is not None:
        return AccountMail("exists", user.email, user.display_name, user.locale, "")
    waiting = session.scalars(
        select(PendingRegistration.id)
        .where(PendingRegistration.email == email_s)
        .order_by(PendingRegistration.id.desc())
    ).all()
    if len(waiting) >= MAX_PENDING_PER_ADDRESS:  # the oldest make room for this one
        session.execute(
            delete(PendingRegistration)
            .where(PendingRegistration.id.in_(waiting[MAX_PENDING_PER_ADDRESS - 1 :]))
            .execution_options(synchronize_session=False)
        )
    token = secrets.token_urlsafe(32)
    session.add(
        PendingRegistration(
            email=email_s,
            display_name=name,
            password_hash=password_hash,
            district_id=district,
            locale=locale,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + timedelta(hours=CONFIRM_HOURS),
        )
    )
    session.flush()
    return AccountMail("confirm", email_s, name, locale, token)


def _pending(session: Session, token: str, now: datetime) -> PendingRegistration | None:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return session.scalar(
        select(PendingRegistration).where(
            PendingRegistration.token_hash == token_digest(token),
            PendingRegistration.expires_at > now,
        )
    )


def pending_email(session: Session, token: str, now: datetime | None = None) -> str | None:
    """The address of the unexpired registration ``token`` names, or None. Reads only."""
    row = _pending(session, token, now or _now())
    return row.email if row is not None else None


def confirm(
    session: Session,
    token: str,
    password: object,
    *,
    ip: str = "",
    user_agent: str = "",
    now: datetime | None = None,
) -> Confirmation:
    """Create the account of the registration ``token`` names, if ``password`` is its password.

    Raises InvalidLink (no such unexpired registration: forged, expired or used) or
    InvalidInput on the password field (another password; nothing changes). On success the
    account is created from the registration (citizen; name, district, language), every pending
    registration of the address is deleted (so this and every other link of it stop working)
    and the login audit records 'registration_confirmed'. If the address got an account
    meanwhile, nothing is created, the registrations are deleted all the same, and
    ``Confirmation.user`` is None.
    """
    now = now or _now()
    row = _pending(session, token, now)
    if row is not None:
        # Lock every registration of the address, in one order: two links of it followed at
        # the same moment wait for each other, and the second then finds its row gone.
        rows = session.scalars(
            select(PendingRegistration)
            .where(PendingRegistration.email == row.email)
            .order_by(PendingRegistration.id)
            .with_for_update()
        ).all()
        row = next((r for r in rows if r.id == row.id), None)
    pw = password if isinstance(password, str) and len(password) <= MAX_LOGIN_PASSWORD else ""
    # argon2 work either way; a missing or overlong password is never hashed
    ok = verify_password(row.password_hash if row is not None and pw else None, pw) and bool(pw)
    if row is None:
        raise InvalidLink(INVALID_LINK_MESSAGE)
    if not ok:
        raise InvalidInput({"password": (WRONG_PASSWORD_MESSAGE, {})})
    email = row.email
    user: User | None = None
    if session.scalar(select(User.id).where(User.email == email)) is None:
        user = _add_user(session, email, row.display_name, pw, row.district_id, locale=row.locale)
    session.execute(
        delete(PendingRegistration)
        .where(PendingRegistration.email == email)
        .execution_options(synchronize_session=False)
    )
    if user is None:
        return Confirmation(None, email)
    login_audit.record(session, user.id, "registration_confirmed", ip=ip, user_agent=user_agent)
    return Confirmation(to_current(user), email)
