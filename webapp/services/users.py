"""Accounts: register, authenticate, create and change users, API tokens."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from webapp import passwords
from webapp.errors import N_, Conflict, NotFound, invalid
from webapp.security import (
    hash_api_token,
    hash_password,
    new_api_token,
    verify_password,
)
from webapp.services.audit import record
from webapp.services.dto import CurrentUser
from webapp.services.validation import EMAIL_RE, Errors, clean_optional_id, clean_text
from webapp.storage.models import ROLES, ApiToken, District, User

TOKEN_TOUCH_SECONDS = 60  # an API token's last_used_at is recorded at most this often


# No password longer than this is ever verified (the policy's own cap is lower, 256 by default).
MAX_LOGIN_PASSWORD = 1024
# Names no account: the e-mail may be someone else's (see register_or_log_in).
REGISTERED_EMAIL_MESSAGE = N_(
    "This e-mail address cannot be used for a new account. If it is yours, log in with your "
    "password (or enter that password here)."
)


def to_current(user: User) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        district_id=user.district_id,
        verified_resident=user.verified_resident,
        locale=user.locale,
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_policy(
    errors: Errors, password: object, min_length: int, email: str, max_length: int = 256
) -> str:
    """Add the password's problem to ``errors`` (webapp/passwords.py: length, e-mail, common)."""
    if not isinstance(password, str) or not password:
        errors.add("password", "This field is required.")
        return ""
    found = passwords.problem(password, email, min_length, max_length)
    if found is not None:
        errors.add("password", found[0], **found[1])
    return password


def _clean_account(
    session: Session,
    email: object,
    display_name: object,
    password: object,
    district_id: object,
    password_min_length: int,
    password_max_length: int,
    role: str,
) -> tuple[str, str, str, int | None]:
    """(email, display name, password, district) checked as registration checks them."""
    errors = Errors()
    email_s = normalise_email(email) if isinstance(email, str) else ""
    if not email_s:
        errors.add("email", "This field is required.")
    elif len(email_s) > 254 or not EMAIL_RE.match(email_s):
        errors.add("email", "Enter a valid e-mail address.")
    name = clean_text(
        errors, "display_name", display_name, min_length=2, max_length=100, one_script_words=True
    )
    pw = check_password_policy(
        errors, password, password_min_length, email_s, password_max_length
    )
    district = clean_optional_id(errors, "district_id", district_id)
    if district is not None and session.get(District, district) is None:
        errors.add("district_id", "Unknown value.")
    if role not in ROLES:
        errors.add("role", "Unknown value.")
    errors.raise_if_any()
    return email_s, name, pw, district


def register(
    session: Session,
    *,
    email: object,
    display_name: object,
    password: object,
    district_id: object = None,
    password_min_length: int = 10,
    password_max_length: int = 256,
    role: str = "citizen",
    verified_resident: bool = False,
    locale: str | None = None,
) -> CurrentUser:
    """Create an account; raises InvalidInput (with per-field messages) or Conflict."""
    email_s, name, pw, district = _clean_account(
        session, email, display_name, password, district_id,
        password_min_length, password_max_length, role,
    )
    if session.scalar(select(User.id).where(User.email == email_s)) is not None:
        raise Conflict(REGISTERED_EMAIL_MESSAGE, field="email")
    user = _add_user(
        session, email_s, name, pw, district,
        role=role, verified_resident=verified_resident, locale=locale,
    )
    return to_current(user)


def _add_user(
    session: Session,
    email: str,
    name: str,
    password: str,
    district_id: int | None,
    *,
    role: str = "citizen",
    verified_resident: bool = False,
    locale: str | None = None,
) -> User:
    """Insert an account from checked fields (:func:`_clean_account`)."""
    user = User(
        email=email,
        display_name=name,
        password_hash=hash_password(password),
        role=role,
        district_id=district_id,
        verified_resident=verified_resident,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class AccountMail:
    """What a registration on a site that sends e-mail mails to the address it was given.

    ``kind`` 'confirm': a link that activates the account (new, or still waiting for its link);
    'exists': the address already has an account — its owner is told, nobody else is.
    """

    kind: str
    user_id: int
    email: str
    display_name: str
    locale: str | None
    fingerprint: str  # of the password hash a confirmation link is bound to


def password_fingerprint(password_hash: str) -> str:
    """Binds a confirmation link to the password it was sent for: if someone registers the
    same pending address again (and so sets another password), the older link stops working."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


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
) -> AccountMail:
    """Registration when the site can send e-mail: the same answer whether the address is free.

    A free address gets an account that waits for its link. An address still waiting gets the
    latest registration's name, password and district (only the mailbox's owner can activate
    it, and a link sent before stops working). An address with an account gets nothing here;
    its owner is told by e-mail. One argon2 operation on every path, like a new account.
    """
    email_s, name, pw, district = _clean_account(
        session, email, display_name, password, district_id,
        password_min_length, password_max_length, "citizen",
    )
    user = session.scalar(select(User).where(User.email == email_s))
    if user is None:
        user = _add_user(session, email_s, name, pw, district, locale=locale,
                         awaiting_confirmation=True)
        kind = "confirm"
    elif user.awaiting_confirmation and not user.blocked:
        user.password_hash = hash_password(pw)
        user.display_name = name
        user.district_id = district
        user.locale = locale
        kind = "confirm"
    else:
        hash_password(pw)  # the same work as a new account: the answer time tells nothing
        kind = "exists"
    return AccountMail(
        kind, user.id, user.email, user.display_name, user.locale,
        password_fingerprint(user.password_hash),
    )


def confirm_email(
    session: Session, user_id: int, email: str, fingerprint: str
) -> CurrentUser | None:
    """Activate the account a confirmation link names; None when the link no longer fits it
    (another password set since, another address, blocked, or no such account)."""
    user = session.get(User, user_id, with_for_update=True)
    if (
        user is None
        or user.blocked
        or user.email != email
        or not hmac.compare_digest(password_fingerprint(user.password_hash), fingerprint)
    ):
        return None
    user.awaiting_confirmation = False
    return to_current(user)


def register_or_log_in(session: Session, **fields: Any) -> tuple[CurrentUser, bool]:
    """``(user, created)``: a new account, or the existing one when its password was given.

    An e-mail that has an account with another password is refused (Conflict) with a message
    that names no account; the argon2 work is alike either way (hash or verify). README.md,
    "Passwords and accounts", says what this does and does not hide.
    """
    email = fields.get("email")
    try:
        return register(session, **fields), False
    except Conflict:
        user = authenticate(session, email, fields.get("password"))
        if user is None:
            raise
        return user, True


def authenticate(session: Session, email: object, password: object) -> CurrentUser | None:
    """The user if the e-mail and password match an active account; same work either way."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    # argon2 hashes all of a password: never a long one; no stored address holds a NUL (and
    # PostgreSQL refuses one in a query): the same work as a wrong password either way
    if len(password) > MAX_LOGIN_PASSWORD or "\x00" in email or len(email) > 320:
        verify_password(None, "")
        return None
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.blocked:
        return None
    return to_current(user)


def active_user(session: Session, user_id: int) -> CurrentUser | None:
    """The account if it exists and is not blocked (every signed-in request, every vote)."""
    return _active(session.connection().execute(_USER, {"user_id": user_id}).first())


def find_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound("No user with e-mail %(email)s.", email=email)
    return user


def grant_role(session: Session, email: str, role: str, actor_id: int | None = None) -> CurrentUser:
    if role not in ROLES:
        raise invalid("role", "Unknown value.")
    user = find_by_email(session, email)
    before = user.role
    user.role = role
    record(
        session, actor_id, "user.grant", "user", user.id, details={"before": before, "after": role}
    )
    return to_current(user)


def set_blocked(
    session: Session, email: str, blocked: bool, actor_id: int | None = None, reason: str = ""
) -> CurrentUser:
    user = find_by_email(session, email)
    before = user.blocked
    user.blocked = blocked
    record(
        session,
        actor_id,
        "user.block" if blocked else "user.unblock",
        "user",
        user.id,
        reason=reason,
        details={"before": before, "after": blocked},
    )
    return to_current(user)


def set_locale(session: Session, user_id: int, locale: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale


def create_api_token(session: Session, user_id: int, name: str = "") -> str:
    """Store a new token's digest and return the token (shown once); raises InvalidInput."""
    errors = Errors()
    label = clean_text(errors, "name", name, min_length=0, max_length=100)
    errors.raise_if_any()
    token, digest = new_api_token()
    session.add(ApiToken(user_id=user_id, token_hash=digest, name=label))
    session.flush()
    return token


_tokens = cast(Table, ApiToken.__table__)
_users = cast(Table, User.__table__)
# Prebuilt Core statements: every signed-in request and API call runs one (webapp.services.votes
# explains why). The columns of a CurrentUser, in its field order, then `blocked`.
_CURRENT_USER_COLUMNS = (
    _users.c.id,
    _users.c.email,
    _users.c.display_name,
    _users.c.role,
    _users.c.district_id,
    _users.c.verified_resident,
    _users.c.locale,
    _users.c.blocked,
)
_USER = select(*_CURRENT_USER_COLUMNS).where(_users.c.id == bindparam("user_id"))
_TOKEN_USER = (
    select(*_CURRENT_USER_COLUMNS, _tokens.c.last_used_at)
    .select_from(_tokens.join(_users, _users.c.id == _tokens.c.user_id))
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)


def _active(row: Any) -> CurrentUser | None:
    """A CurrentUser from a row of :data:`_CURRENT_USER_COLUMNS`; None if missing or blocked."""
    if row is None or row.blocked:
        return None
    return CurrentUser(*row[:7])


def user_for_token(session: Session, token: str) -> tuple[CurrentUser | None, bool]:
    """The token's active user (None: unknown token), and whether its use should be recorded.

    Reads only: a GET with a token must keep working when the disk is full or the database is
    read-only for a moment; :func:`touch_token` records the use, at most once a minute, in a
    separate transaction the caller may let fail.
    """
    row = (
        session.connection().execute(_TOKEN_USER, {"token_hash": hash_api_token(token)}).first()
    )
    if row is None or (user := _active(row)) is None:
        return None, False
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)  # SQLite returns naive UTC
    stale = last is None or last < datetime.now(UTC) - timedelta(seconds=TOKEN_TOUCH_SECONDS)
    return user, stale


def touch_token(session: Session, token: str) -> None:
    """Record that the token was used now."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_api_token(token))
        .values(last_used_at=datetime.now(UTC))
    )


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
