"""Personal API tokens: create (with a lifetime, within a cap per account), look up, list, revoke.

A token is shown once, when it is created; only its SHA-256 digest is stored, with its first
characters (``hint``) so that its owner can recognise it in a list. Every token expires
(``VECHE_API_TOKEN_DAYS`` by default, at most ``VECHE_API_TOKEN_MAX_DAYS``), an account holds at
most ``VECHE_API_TOKENS_PER_USER`` unexpired tokens, and creating or revoking one leaves a row in
the audit log and in the owner's login audit (docs/security.md, "API tokens").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.accounts import login_audit
from webapp.accounts.principal import CURRENT_USER_COLUMNS, active
from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, Conflict, NotFound, invalid
from webapp.kernel.security import hash_api_token, new_api_token
from webapp.kernel.storage.models import ApiToken, User
from webapp.kernel.validation import Errors, clean_text

TOKEN_TOUCH_SECONDS = 60  # an API token's last_used_at is recorded at most this often
HINT_LENGTH = 10  # "veche_Ab3x": the prefix and four random characters
NAME_MAX_LENGTH = 100

TOO_MANY_TOKENS = N_(
    "You already have %(max)s access keys (API tokens), the most one account may have. Revoke "
    "one you no longer use, then create a new one."
)
TOKEN_NOT_FOUND = N_("API token not found.")
DAYS_RANGE = N_("Choose a lifetime from 1 to %(max)s days.")


@dataclass(frozen=True)
class TokenLimits:
    """The settings that bound tokens (``Settings.api_token_*``)."""

    default_days: int = 90
    max_days: int = 365
    per_user: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> TokenLimits:
        return cls(
            settings.api_token_days, settings.api_token_max_days, settings.api_tokens_per_user
        )


@dataclass(frozen=True)
class TokenInfo:
    """A token as its owner's list shows it: never the token itself."""

    id: int
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @property
    def expired(self) -> bool:
        return self.expires_at is None or self.expires_at <= datetime.now(UTC)


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``token`` is shown once and never again."""

    token: str
    info: TokenInfo


@dataclass(frozen=True)
class Origin:
    """Who did it and from where, for the audit rows: the account's owner on the site or through
    the API (ip, user agent), or an operator at the command line (``actor_id`` None)."""

    actor_id: int | None = None
    via: str = "cli"  # "web", "api", "cli" or "system"
    ip: str = ""
    user_agent: str = ""


def _utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive UTC datetimes; PostgreSQL aware ones."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        hint=row.hint,
        created_at=cast(datetime, _utc(row.created_at)),
        last_used_at=_utc(row.last_used_at),
        expires_at=_utc(row.expires_at),
    )


def _lifetime(days: object, limits: TokenLimits) -> int:
    if days is None or days == "":
        return limits.default_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limits.max_days:
        raise invalid("days", DAYS_RANGE, max=limits.max_days)
    return days


def _audit(
    session: Session,
    kind: str,
    user_id: int,
    token_id: int | None,
    origin: Origin,
    **details: Any,
) -> None:
    action = {"token_created": "api_token.create", "token_revoked": "api_token.revoke"}[kind]
    audit.record(
        session,
        origin.actor_id,
        action,
        "api_token",
        token_id,
        details={"user_id": user_id, "via": origin.via, **details},
    )
    login_audit.record(
        session,
        user_id,
        kind,
        ip=origin.ip,
        user_agent=origin.user_agent,
        token_id=token_id,
        via=origin.via,
        **details,
    )


def _expired(now: datetime) -> Any:
    return or_(ApiToken.expires_at.is_(None), ApiToken.expires_at <= now)


def issue(
    session: Session,
    user_id: int,
    name: object = "",
    *,
    days: object = None,
    limits: TokenLimits | None = None,
    origin: Origin | None = None,
) -> NewToken:
    """Create a token for ``user_id``; raises InvalidInput (name, days) or Conflict (the cap).

    The account's expired tokens are deleted first; then it may hold at most
    ``limits.per_user`` tokens. ``origin`` defaults to the owner acting through the site.
    """
    limits = limits or TokenLimits()
    origin = origin or Origin(actor_id=user_id, via="web")
    errors = Errors()
    label = clean_text(errors, "name", name, min_length=0, max_length=NAME_MAX_LENGTH)
    errors.raise_if_any()
    lifetime = _lifetime(days, limits)
    now = datetime.now(UTC)
    # One creation at a time per account (PostgreSQL: the row lock; SQLite: one writer), so two
    # racing requests cannot both pass the cap.
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id, _expired(now)))
    held = session.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id)
    )
    if (held or 0) >= limits.per_user:
        raise Conflict(TOO_MANY_TOKENS, max=limits.per_user)
    token, digest = new_api_token()
    row = ApiToken(
        user_id=user_id,
        token_hash=digest,
        name=label,
        hint=token[:HINT_LENGTH],
        created_at=now,
        expires_at=now + timedelta(days=lifetime),
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        "token_created",
        user_id,
        row.id,
        origin,
        name=label,
        hint=row.hint,
        days=lifetime,
        expires_at=row.expires_at.isoformat() if row.expires_at else None,
    )
    return NewToken(token, _info(row))


def create_api_token(
    session: Session,
    user_id: int,
    name: object = "",
    *,
    days: object = None,
    limits: TokenLimits | None = None,
    origin: Origin | None = None,
) -> str:
    """Create a token and return it (shown once); see :func:`issue`."""
    return issue(session, user_id, name, days=days, limits=limits, origin=origin).token


def list_tokens(session: Session, user_id: int) -> list[TokenInfo]:
    """The account's tokens, newest first (expired ones too, until they are deleted)."""
    rows = session.execute(
        select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.hint,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.expires_at,
        )
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return [_info(row) for row in rows]


def revoke(
    session: Session, user_id: int, token_id: int, *, origin: Origin | None = None
) -> TokenInfo:
    """Delete one of the account's tokens; NotFound when it has no such token (another
    account's token is not found either: nobody learns which ids exist)."""
    origin = origin or Origin(actor_id=user_id, via="web")
    row = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    )
    if row is None:
        raise NotFound(TOKEN_NOT_FOUND)
    info = _info(row)
    session.delete(row)
    session.flush()
    _audit(session, "token_revoked", user_id, token_id, origin, name=info.name, hint=info.hint)
    return info


def revoke_all(
    session: Session, user_id: int, *, origin: Origin | None = None, reason: str = ""
) -> int:
    """Delete every token of the account (e.g. on a password change); how many were deleted.

    One audit row and one login-audit row for the lot, when there was any. ``origin`` defaults
    to the system (no actor, ``via`` "system"); pass the owner's for their own action.
    """
    origin = origin or Origin(via="system")
    ids = list(session.scalars(select(ApiToken.id).where(ApiToken.user_id == user_id)))
    if not ids:
        return 0
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
    extra = {"reason": reason} if reason else {}
    _audit(session, "token_revoked", user_id, None, origin, token_ids=ids, count=len(ids), **extra)
    return len(ids)


_tokens = cast(Table, ApiToken.__table__)
_users = cast(Table, User.__table__)
# Prebuilt Core statement: every API call with a token runs it (webapp.ideas.votes explains
# why prebuilt). An expired token is refused here, in the same statement; a NULL expires_at
# (never written since migration 0006) counts as expired.
_TOKEN_USER = (
    select(*CURRENT_USER_COLUMNS, _tokens.c.last_used_at)
    .select_from(_tokens.join(_users, _users.c.id == _tokens.c.user_id))
    .where(_tokens.c.token_hash == bindparam("token_hash"))
    .where(_tokens.c.expires_at > bindparam("now"))
)


def user_for_token(session: Session, token: str) -> tuple[CurrentUser | None, bool]:
    """The token's active user (None: unknown, revoked or expired token, or a blocked account),
    and whether its use should be recorded.

    Reads only: a GET with a token must keep working when the disk is full or the database is
    read-only for a moment; :func:`touch_token` records the use, at most once a minute, in a
    separate transaction the caller may let fail.
    """
    now = datetime.now(UTC)
    row = (
        session.connection()
        .execute(_TOKEN_USER, {"token_hash": hash_api_token(token), "now": now})
        .first()
    )
    if row is None or (user := active(row)) is None:
        return None, False
    last = _utc(row.last_used_at)
    stale = last is None or last < now - timedelta(seconds=TOKEN_TOUCH_SECONDS)
    return user, stale


def touch_token(session: Session, token: str) -> None:
    """Record that the token was used now."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == hash_api_token(token))
        .values(last_used_at=datetime.now(UTC))
    )
