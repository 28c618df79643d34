"""The password policy: length bounds, not the e-mail, not a common password.

Following NIST SP 800-63B §5.1.1.2: a minimum length, a generous maximum (argon2 hashes the whole
password, so the cap bounds the work an attacker can make one login cost), no composition rules,
and a check against passwords known from breaches (``data/passwords/common.txt.gz``, 10,000
entries; provenance and licence in its README.md).
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

from webapp.kernel.errors import N_
from webapp.kernel.validation import Errors

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "passwords" / "common.txt.gz"
MIN_EMAIL_PART = 4  # a shorter local part ("ann") may well occur in a good password by chance
_EDGES = re.compile(r"^[\d\W_]+|[\d\W_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased (loaded once per process)."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def is_common(password: str) -> bool:
    """True for a listed password, also with digits or symbols added before or after it.

    ``Password2024!`` and ``!!qwertyuiop`` are as guessable as the words inside them; a word
    kept this way must be at least 4 characters, so that ``ab-2024-cd`` is not refused for ``ab``.
    """
    lowered = password.lower()
    listed = common_passwords()
    if lowered in listed:
        return True
    core = _EDGES.sub("", lowered)
    return len(core) >= 4 and core != lowered and core in listed


def contains_email(password: str, email: str) -> bool:
    """True when the password is, or contains, the e-mail address or its local part."""
    lowered = password.lower()
    email = email.strip().lower()
    if not email:
        return False
    local = email.split("@", 1)[0]
    return email in lowered or (len(local) >= MIN_EMAIL_PART and local in lowered)


def problem(
    password: str, email: str, min_length: int, max_length: int
) -> tuple[str, dict[str, int]] | None:
    """The message id (and its parameters) saying what is wrong with ``password``, or None."""
    if len(password) < min_length:
        return N_("Must be at least %(min)s characters long."), {"min": min_length}
    if len(password) > max_length:
        return N_("Must be at most %(max)s characters long."), {"max": max_length}
    if contains_email(password, email):
        return N_("The password must not contain your e-mail address."), {}
    if len(set(password)) < 4 or is_common(password):
        return N_("This password is too easy to guess."), {}
    return None


# No password longer than this is ever verified (the policy's own cap is lower, 256 by default).
MAX_LOGIN_PASSWORD = 1024


def check_password_policy(
    errors: Errors, password: object, min_length: int, email: str, max_length: int = 256
) -> str:
    """Add the password's problem to ``errors`` (webapp/accounts/passwords.py: length, e-mail, common)."""
    if not isinstance(password, str) or not password:
        errors.add("password", "This field is required.")
        return ""
    found = problem(password, email, min_length, max_length)
    if found is not None:
        errors.add("password", found[0], **found[1])
    return password
