"""Passwords, CSRF tokens, API tokens, roles and rate limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from webapp.errors import PermissionDenied

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


class RateLimiter:
    """Sliding-window limiter: at most ``limit`` hits per ``window`` seconds per key.

    In-process; a shared backend across worker processes is planned with the hardening work.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Record a hit; False when the key is over its limit (the hit is not recorded)."""
        if self.limit <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] > self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:
                self._evict(now)
            return True

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or now - v[-1] > self.window]:
            del self._hits[key]
