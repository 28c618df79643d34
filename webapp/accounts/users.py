"""Accounts: register, authenticate, create and change users (API tokens: services.api_tokens)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.accounts import sessions
from webapp.accounts.passwords import MAX_LOGIN_PASSWORD, check_password_policy
from webapp.accounts.principal import USER_BY_ID, active, to_current
from webapp.kernel.audit import record
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, Conflict, NotFound, invalid
from webapp.kernel.security import hash_password, verify_password
from webapp.kernel.storage.models import ROLES, District, User
from webapp.kernel.validation import EMAIL_RE, Errors, clean_optional_id, clean_text

# Names no account: the e-mail may be someone else's. Registration never logs in (a password
# typed here is never checked: that would be a login without the login's per-address limit).
REGISTERED_EMAIL_MESSAGE = N_(
    "This e-mail address cannot be used for a new account. If it is yours, log in."
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


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
    pw = check_password_policy(errors, password, password_min_length, email_s, password_max_length)
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
        session,
        email,
        display_name,
        password,
        district_id,
        password_min_length,
        password_max_length,
        role,
    )
    if session.scalar(select(User.id).where(User.email == email_s)) is not None:
        hash_password(pw)  # the same argon2 work as a new account: the answer time tells nothing
        raise Conflict(REGISTERED_EMAIL_MESSAGE, field="email")
    user = _add_user(
        session,
        email_s,
        name,
        pw,
        district,
        role=role,
        verified_resident=verified_resident,
        locale=locale,
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
    return active(session.connection().execute(USER_BY_ID, {"user_id": user_id}).first())


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
    if before != role:  # a new role signs in afresh, under its own session timeouts
        _end_sessions(session, user.id, "role", actor_id)
    return to_current(user)


def _end_sessions(session: Session, user_id: int, reason: str, actor_id: int | None) -> None:
    """End every session of the account and record it (webapp.accounts.sessions)."""
    session.flush()
    sessions.end_all_and_record(session, user_id, "sessions_ended", reason=reason, by=actor_id)


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
    if blocked and not before:
        _end_sessions(session, user.id, "blocked", actor_id)
    return to_current(user)


def set_locale(session: Session, user_id: int, locale: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
