"""Passwords, CSRF tokens, API tokens and roles (rate limits: webapp.kernel.ratelimit)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from webapp.kernel.errors import PermissionDenied
from webapp.kernel.ratelimit import RateLimiter as RateLimiter  # re-exported: it lived here

# Which roles may do what. Admins may do everything.
PERMISSIONS: dict[str, frozenset[str]] = {
    "submit": frozenset({"citizen", "moderator", "official", "admin"}),
    "vote": frozenset({"citizen", "moderator", "official", "admin"}),
    "comment": frozenset({"citizen", "moderator", "official", "admin"}),
    "moderate": frozenset({"moderator", "admin"}),
    "answer": frozenset({"official", "admin"}),
    "administer": frozenset({"admin"}),
}

_hasher = PasswordHasher()
# A hash of a random password, verified against when an e-mail is unknown so that login takes
# the same time whether or not the account exists (no account enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
UNUSABLE_PASSWORD = "!"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check; an unusable or missing hash never verifies."""
    if not password_hash or password_hash == UNUSABLE_PASSWORD:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def can(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


def require_permission(role: str | None, permission: str) -> None:
    """Refuse (PermissionDenied, HTTP 403) a role that lacks ``permission``."""
    if not can(role, permission):
        raise PermissionDenied("You do not have permission to do this.")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def new_api_token() -> tuple[str, str]:
    """Return (token shown once to the user, SHA-256 digest to store)."""
    token = "veche_" + secrets.token_urlsafe(32)
    return token, hash_api_token(token)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
