"""The login audit: who signed in, who failed, which sessions and tokens came and went.

One row per event in ``login_events`` (webapp.kernel.storage.models.LoginEvent). The account's owner
reads their own rows on /account/security; admins read every row on /admin/logins. A failed
login with an unknown e-mail has no user: only the first characters of a hash of the address
are kept (enough to see one address being tried many times, not enough to read it back).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import LoginEvent, User

# Every kind of event, with what it means (the pages translate these).
KINDS = (
    "login",  # a password login created a session
    "login_failed",  # wrong password, unknown e-mail, blocked account
    "login_throttled",  # refused before checking: too many failures (progressive delay)
    "logout",  # the owner logged out of this session
    "logout_everywhere",  # the owner ended all their sessions
    "session_revoked",  # the owner ended one other session
    "sessions_ended",  # sessions ended by a password, role or block change
    "password_changed",
    "registration_confirmed",  # an e-mail link created the account and signed it in
    "token_created",
    "token_revoked",
)
UA_MAX = 300
IP_MAX = 64


def email_tag(email: str) -> str:
    """A short, one-way tag of an address (12 hex digits of SHA-256 of its normalised form)."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:12]


def record(
    session: Session,
    user_id: int | None,
    kind: str,
    *,
    ip: str = "",
    user_agent: str = "",
    **details: Any,
) -> None:
    """Add one event (in the caller's transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown login event kind {kind!r}")
    session.add(
        LoginEvent(
            user_id=user_id,
            kind=kind,
            ip=(ip or "")[:IP_MAX],
            user_agent=(user_agent or "")[:UA_MAX],
            details=details,
        )
    )


def record_for_address(
    session: Session,
    email: str,
    kind: str,
    *,
    ip: str = "",
    user_agent: str = "",
    **details: Any,
) -> None:
    """An event about a typed address: the account's when the address has one, else with the
    address's tag (:func:`email_tag`), never the address itself."""
    address = email.strip().lower()
    user_id = None
    if address and "\x00" not in address and len(address) <= 320:  # PostgreSQL refuses NUL
        user_id = session.scalar(select(User.id).where(User.email == address))
    if user_id is None:
        details["email_tag"] = email_tag(email)
    record(session, user_id, kind, ip=ip, user_agent=user_agent, **details)
