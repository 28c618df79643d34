"""Who a signed-in request is: the columns of a ``CurrentUser`` and how a row becomes one.

Shared by the session lookup (``sessions``), the API token lookup (``api_tokens``) and the
account use-cases (``users``, ``registration``), so none of them imports another for it.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.models import User


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


_users = cast(Table, User.__table__)
# Prebuilt Core statements: every signed-in request runs one (webapp.ideas.votes explains
# why; webapp.accounts.api_tokens has the token lookup). The columns of a CurrentUser, in its
# field order, then `blocked`.
CURRENT_USER_COLUMNS = (
    _users.c.id,
    _users.c.email,
    _users.c.display_name,
    _users.c.role,
    _users.c.district_id,
    _users.c.verified_resident,
    _users.c.locale,
    _users.c.blocked,
)
USER_BY_ID = select(*CURRENT_USER_COLUMNS).where(_users.c.id == bindparam("user_id"))


def active(row: Any) -> CurrentUser | None:
    """A CurrentUser from a row of :data:`CURRENT_USER_COLUMNS`; None if missing or blocked."""
    if row is None or row.blocked:
        return None
    return CurrentUser(*row[:7])
