"""What notifications adds to every page: the unread-notices badge in the navigation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from webapp.kernel.dto import CurrentUser
from webapp.kernel.hooks import Hooks
from webapp.notifications.inbox import unread_count


def _badge(session: Session, user: CurrentUser) -> dict[str, Any]:
    return {"unread_notifications": unread_count(session, user.id)}


def install(hooks: Hooks) -> None:
    hooks.page_context.append(_badge)
