"""Passwords, CSRF tokens, API tokens and roles (rate limits: webapp.kernel.ratelimit)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import replace

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

from webapp.kernel.errors import PermissionDenied
from webapp.kernel.ratelimit import RateLimiter as RateLimiter  # re-exported: it lived here
from webapp.kernel.settings import Settings

# Which roles may do what. Admins may do everything.
PERMISSIONS: dict[str, frozenset[str]] = {
    "submit": frozenset({"citizen", "moderator", "official", "admin"}),
    "vote": frozenset({"citizen", "moderator", "official", "admin"}),
    "comment": frozenset({"citizen", "moderator", "official", "admin"}),
    "moderate": frozenset({"moderator", "admin"}),
    "answer": frozenset({"official", "admin"}),
    "administer": frozenset({"admin"}),
}

# Argon2 cost profiles. "production" is argon2-cffi's default (RFC 9106, low memory: t=3,
# m=64 MiB, p=4), the only one a server ever uses. "test" is the cheapest argon2id (t=1, m=8 KiB,
# p=1; salt and hash as long as production's) so that the test suite does not spend a quarter of
# a second on every password it stores; it is chosen only by a call to use_password_profile()
# (tests/conftest.py), never by a setting or an environment variable, and refused where
# VECHE_ENV=production. Argon2 writes its parameters into every hash, so a hash of either profile
# verifies under the other.
PASSWORD_PROFILES: dict[str, Parameters] = {
    "production": RFC_9106_LOW_MEMORY,
    "test": replace(CHEAPEST, salt_len=16, hash_len=32),
}
_profile = "production"
_hasher = PasswordHasher.from_parameters(PASSWORD_PROFILES[_profile])
# A hash of a random password, verified against when an e-mail is unknown so that login takes
# the same time whether or not the account exists (no account enumeration by timing). Made by
# the hasher in use, so it always costs what a real account's hash costs.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
UNUSABLE_PASSWORD = "!"


class PasswordProfileError(RuntimeError):
    """A cheap password-hash profile was asked for where it must never be used."""


def password_profile() -> str:
    """The name of the argon2 cost profile in use ("production" unless a test chose another)."""
    return _profile


def use_password_profile(name: str) -> None:
    """Hash new passwords (and the dummy hash) with the named profile, from now on.

    For the test suite only. Any profile but "production" is refused when the process's
    environment says production (VECHE_ENV=production), and check_password_profile() refuses a
    production Settings while one is active.
    """
    global _profile, _hasher, _DUMMY_HASH
    if name not in PASSWORD_PROFILES:
        raise PasswordProfileError(
            f"unknown password profile {name!r}; one of {', '.join(PASSWORD_PROFILES)}"
        )
    environment = os.environ.get(Settings.ENV_NAMES["environment"], "").strip()
    if name != "production" and environment == "production":
        raise PasswordProfileError(
            f"the {name!r} password profile is for tests; refused with VECHE_ENV=production"
        )
    hasher = PasswordHasher.from_parameters(PASSWORD_PROFILES[name])
    _profile, _hasher, _DUMMY_HASH = name, hasher, hasher.hash(secrets.token_urlsafe(16))


def check_password_profile(settings: Settings) -> None:
    """Refuse (PasswordProfileError) production settings while a cheap profile is in use."""
    if settings.environment == "production" and _profile != "production":
        raise PasswordProfileError(
            f"the {_profile!r} password profile is active; production needs 'production'"
        )


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
