"""What moderation adds to the idea pages: why an idea is hidden, open reports, hidden notes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from webapp.kernel.dto import CurrentUser
from webapp.kernel.hooks import Hooks
from webapp.moderation.moderation import hidden_notes, idea_moderation


def _idea_panel(
    session: Session, idea_id: int, viewer: CurrentUser | None, comment_ids: Sequence[int]
) -> dict[str, Any]:
    return {"moderation": idea_moderation(session, idea_id, viewer)}


def _list_notes(session: Session, idea_ids: Sequence[int]) -> dict[int, Any]:
    return dict(hidden_notes(session, list(idea_ids)))


def install(hooks: Hooks) -> None:
    hooks.idea_panels.append(_idea_panel)
    hooks.idea_list_notes.append(_list_notes)
