"""Domain errors and the one table that maps them to HTTP statuses.

Messages are message ids (English source strings) translated when rendered, so a service never
needs to know the user's language. ``params`` fill ``%(name)s`` placeholders after translation.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a message id for extraction into the catalogs without translating it yet."""
    return message


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params


class InvalidInput(DomainError):
    """Input failed validation. ``errors`` maps field name -> message id (with params)."""

    status = 422

    def __init__(
        self,
        errors: dict[str, tuple[str, dict[str, Any]]] | None = None,
        message: str = "Please correct the errors below.",
    ) -> None:
        super().__init__(message)
        self.errors = errors or {}


class NotAuthenticated(DomainError):
    status = 401


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class PayloadTooLarge(DomainError):
    status = 413


class RateLimited(DomainError):
    status = 429
    retry_after = 60  # seconds, sent as Retry-After; rate_limit() sets the real wait


class ServiceUnavailable(DomainError):
    """The database is down, restarting or unreachable (``webapp.kernel.storage.faults``): try again."""

    status = 503
    retry_after = 5  # seconds, sent as Retry-After


class StorageFull(DomainError):
    """The database's disk is full: reads work, writes are refused until space is freed."""

    status = 507


def invalid(field: str, message: str, **params: Any) -> InvalidInput:
    """One field's error, e.g. ``raise invalid("role", "Unknown value.")``."""
    return InvalidInput({field: (message, params)})


STATUS_BY_ERROR: dict[type[DomainError], int] = {
    cls: cls.status
    for cls in (
        DomainError,
        InvalidInput,
        NotAuthenticated,
        PermissionDenied,
        NotFound,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        ServiceUnavailable,
        StorageFull,
    )
}
