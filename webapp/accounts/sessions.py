"""Server-side sessions: a signed-in browser is a row of ``user_sessions``, ended by deleting it.

The signed cookie (Starlette's SessionMiddleware) keeps the language, the CSRF token and flash
messages, and a random session id ``sid`` (``secrets.token_urlsafe(32)``); the database stores
only its SHA-256 digest with the account, when the session started, when it was last used, when
it ends at the latest, and the address and browser it came from. Deleting the row ends the
session at once on every worker: logout, "log out everywhere", ending one session from the
account page, a password change, a role change and blocking all do.

Two timeouts, both checked on every request with the account's role *at that moment*:

- absolute: a session ends ``session_max_age`` after it started (moderators, officials and
  admins: ``staff_session_max_age``), however busy it is;
- idle: a session unused for ``session_idle_seconds`` (staff: ``staff_session_idle_seconds``)
  ends.

``last_seen_at`` is written at most once every :data:`TOUCH_SECONDS` per session, in a
transaction of its own that may fail without failing the request (a full disk must not fail
reads). Every signed-in request runs :data:`_SESSION_USER`, one prebuilt Core statement
(webapp.ideas.votes explains why prebuilt).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.accounts import login_audit
from webapp.accounts.passwords import MAX_LOGIN_PASSWORD, check_password_policy
from webapp.accounts.principal import CURRENT_USER_COLUMNS, active
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import NotFound
from webapp.kernel.security import hash_password, verify_password
from webapp.kernel.storage.models import User, UserSession
from webapp.kernel.validation import Errors

TOUCH_SECONDS = 60  # last_seen_at is written at most this often per session
STAFF_ROLES = frozenset({"moderator", "official", "admin"})
LIST_LIMIT = 50  # sessions shown on the account page (the newest; "end all others" ends all)

_sessions = cast(Table, UserSession.__table__)
_users = cast(Table, User.__table__)


@dataclass(frozen=True)
class Policy:
    """The timeouts, in seconds (from Settings: see :meth:`of`)."""

    max_age: int
    idle: int
    staff_max_age: int
    staff_idle: int

    @classmethod
    def of(cls, settings: Any) -> Policy:
        return cls(
            settings.session_max_age,
            settings.session_idle_seconds,
            settings.staff_session_max_age,
            settings.staff_session_idle_seconds,
        )

    def limits(self, role: str) -> tuple[int, int]:
        """(absolute, idle) seconds for an account of ``role``."""
        if role in STAFF_ROLES:
            return self.staff_max_age, self.staff_idle
        return self.max_age, self.idle


def new_sid() -> str:
    return secrets.token_urlsafe(32)


def hash_sid(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite: naive UTC


def _live(
    policy: Policy, role: str, created: datetime, seen: datetime, expires: datetime, now: datetime
) -> bool:
    """Whether a session is still valid for an account that has ``role`` now."""
    max_age, idle = policy.limits(role)
    created, seen, expires = _aware(created), _aware(seen), _aware(expires)
    return (
        now < expires
        and now < created + timedelta(seconds=max_age)
        and now < seen + timedelta(seconds=idle)
    )


# The session's account and the session's times, by the digest of the cookie's sid.
_SESSION_USER = (
    select(
        *CURRENT_USER_COLUMNS,
        _sessions.c.id.label("session_id"),
        _sessions.c.created_at,
        _sessions.c.last_seen_at,
        _sessions.c.expires_at,
    )
    .select_from(_sessions.join(_users, _users.c.id == _sessions.c.user_id))
    .where(_sessions.c.token_hash == bindparam("token_hash"))
)
_TOUCH = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("sid_row"))
    .values(last_seen_at=bindparam("now"), ip=bindparam("ip"))
)
_DELETE_ONE = delete(_sessions).where(_sessions.c.id == bindparam("sid_row"))


@dataclass(frozen=True)
class Found:
    """What a session cookie stands for.

    ``user`` None: anonymous (no such session, ended, expired, or the account blocked); then
    ``session_id`` names a row to delete when there is one. ``stale``: the row's last_seen_at
    should be written (see :func:`touch`).
    """

    user: CurrentUser | None
    session_id: int | None
    stale: bool = False


def resolve(
    session: Session, token_hash: str, policy: Policy, now: datetime | None = None
) -> Found:
    """The session and its account, in one statement; reads only."""
    row = session.connection().execute(_SESSION_USER, {"token_hash": token_hash}).first()
    if row is None:
        return Found(None, None)
    now = now or datetime.now(UTC)
    user = active(row)  # None when blocked
    if user is None or not _live(
        policy, row.role, row.created_at, row.last_seen_at, row.expires_at, now
    ):
        return Found(None, row.session_id)
    stale = _aware(row.last_seen_at) < now - timedelta(seconds=TOUCH_SECONDS)
    return Found(user, row.session_id, stale)


def touch(session: Session, session_id: int, ip: str) -> None:
    """Record that the session was used now (from ``ip``)."""
    session.connection().execute(
        _TOUCH, {"sid_row": session_id, "now": datetime.now(UTC), "ip": ip[:64]}
    )


def drop(session: Session, session_id: int) -> None:
    """Delete one (expired) session row."""
    session.connection().execute(_DELETE_ONE, {"sid_row": session_id})


def session_user(session: Session, token_hash: str, policy: Policy) -> CurrentUser | None:
    """The account of a live session (for a write that checks it in its own transaction, e.g.
    a vote); records the use when due, as the same transaction writes anyway."""
    found = resolve(session, token_hash, policy)
    if found.user is not None and found.stale and found.session_id is not None:
        session.connection().execute(
            update(_sessions)
            .where(_sessions.c.id == found.session_id)
            .values(last_seen_at=datetime.now(UTC))
        )
    return found.user


def _expired_condition(policy: Policy, role: str, now: datetime) -> Any:
    max_age, idle = policy.limits(role)
    return or_(
        _sessions.c.expires_at <= now,
        _sessions.c.created_at <= now - timedelta(seconds=max_age),
        _sessions.c.last_seen_at <= now - timedelta(seconds=idle),
    )


def create(
    session: Session,
    user_id: int,
    policy: Policy,
    *,
    ip: str = "",
    user_agent: str = "",
    event: str | None = None,
) -> str:
    """Start a session for ``user_id`` and return its sid (for the cookie).

    Deletes the account's expired sessions on the way, and records ``event`` (e.g. 'login') in
    the login audit when given.
    """
    role = session.scalar(select(User.role).where(User.id == user_id))
    if role is None:
        raise NotFound("No such account.")
    now = datetime.now(UTC)
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user_id, _expired_condition(policy, role, now)
        )
    )
    sid = new_sid()
    max_age, _idle = policy.limits(role)
    session.add(
        UserSession(
            user_id=user_id,
            token_hash=hash_sid(sid),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=max_age),
            ip=ip[:64],
            user_agent=user_agent[:300],
        )
    )
    if event is not None:
        login_audit.record(session, user_id, event, ip=ip, user_agent=user_agent)
    session.flush()
    return sid


def end(session: Session, token_hash: str, *, ip: str = "", user_agent: str = "") -> int | None:
    """Log out: delete this session; records 'logout'. The account's id, or None if none."""
    row = session.execute(
        select(UserSession.id, UserSession.user_id).where(UserSession.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    session.execute(delete(UserSession).where(UserSession.id == row.id))
    login_audit.record(session, row.user_id, "logout", ip=ip, user_agent=user_agent)
    return int(row.user_id)


def end_all(session: Session, user_id: int, *, except_id: int | None = None) -> int:
    """End every session of the account (but ``except_id``); how many were ended.

    Records nothing: callers record why (a role change, a block, a password change, "log out
    everywhere").
    """
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if except_id is not None:
        stmt = stmt.where(UserSession.id != except_id)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def end_all_and_record(
    session: Session,
    user_id: int,
    kind: str,
    *,
    except_id: int | None = None,
    ip: str = "",
    user_agent: str = "",
    **details: Any,
) -> int:
    """:func:`end_all` and one login event ``kind`` with the number ended (for
    'sessions_ended', only when there were some)."""
    ended = end_all(session, user_id, except_id=except_id)
    if ended or kind != "sessions_ended":
        login_audit.record(
            session, user_id, kind, ip=ip, user_agent=user_agent, ended=ended, **details
        )
    return ended


def revoke(
    session: Session, user_id: int, session_id: int, *, ip: str = "", user_agent: str = ""
) -> None:
    """End one of the account's own sessions; NotFound for anyone else's (or none)."""
    result = session.execute(
        delete(UserSession)
        .where(UserSession.id == session_id, UserSession.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound("This session has already ended.")
    login_audit.record(session, user_id, "session_revoked", ip=ip, user_agent=user_agent)


@dataclass(frozen=True)
class SessionInfo:
    id: int
    created_at: datetime
    last_seen_at: datetime
    ip: str
    user_agent: str
    current: bool


def list_active(
    session: Session, user_id: int, policy: Policy, current_id: int | None
) -> tuple[list[SessionInfo], int]:
    """The account's live sessions, most recently used first (at most :data:`LIST_LIMIT`),
    and how many there are."""
    role = session.scalar(select(User.role).where(User.id == user_id)) or "citizen"
    now = datetime.now(UTC)
    live = (UserSession.user_id == user_id, ~_expired_condition(policy, role, now))
    total = int(session.scalar(select(func.count()).select_from(UserSession).where(*live)) or 0)
    rows = session.scalars(
        select(UserSession)
        .where(*live)
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    items = [
        SessionInfo(
            r.id,
            _aware(r.created_at),
            _aware(r.last_seen_at),
            r.ip,
            r.user_agent,
            r.id == current_id,
        )
        for r in rows
    ]
    if current_id is not None and not any(i.current for i in items):
        mine = session.get(UserSession, current_id)
        if mine is not None and mine.user_id == user_id:
            items.insert(
                0,
                SessionInfo(
                    mine.id,
                    _aware(mine.created_at),
                    _aware(mine.last_seen_at),
                    mine.ip,
                    mine.user_agent,
                    True,
                ),
            )
    return items, total


def change_password(
    session: Session,
    user_id: int,
    current: object,
    new: object,
    policy: Policy,
    *,
    min_length: int,
    max_length: int,
    ip: str = "",
    user_agent: str = "",
) -> str:
    """Change the account's password (the current one must be given) and end every session:
    the caller's own is replaced by a new one, whose sid is returned. Raises InvalidInput."""
    user = session.get(User, user_id, with_for_update=True)
    if user is None or user.blocked:
        raise NotFound("No such account.")
    errors = Errors()
    if not isinstance(current, str) or not current:
        errors.add("current_password", "This field is required.")
        verify_password(None, "")  # the same work either way
    elif len(current) > MAX_LOGIN_PASSWORD or not verify_password(user.password_hash, current):
        errors.add("current_password", "This is not your current password.")
    password = check_password_policy(errors, new, min_length, user.email, max_length)
    if password and password == current and "password" not in errors.errors:
        errors.add("password", "The new password must differ from the current one.")
    errors.raise_if_any()
    user.password_hash = hash_password(password)
    others = max(0, end_all(session, user_id) - 1)  # all; the caller's own is replaced below
    login_audit.record(session, user_id, "password_changed", ip=ip, user_agent=user_agent)
    if others:
        login_audit.record(
            session,
            user_id,
            "sessions_ended",
            ip=ip,
            user_agent=user_agent,
            reason="password",
            ended=others,
        )
    return create(session, user_id, policy, ip=ip, user_agent=user_agent)
