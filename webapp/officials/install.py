"""What officials adds to the idea page: the city's answers and the status history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from webapp.kernel.dto import CurrentUser
from webapp.kernel.hooks import Hooks
from webapp.officials.responses import public_info


def _idea_panel(
    session: Session, idea_id: int, viewer: CurrentUser | None, comment_ids: Sequence[int]
) -> dict[str, Any]:
    return {"official": public_info(session, idea_id)}


def install(hooks: Hooks) -> None:
    hooks.idea_panels.append(_idea_panel)
