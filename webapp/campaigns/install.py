"""What campaigns adds to the idea page: the experts' public evaluation of the idea, and how the
city is building it once funded (``views.implementation.idea_panel``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from webapp.campaigns.evaluations import evaluation_of
from webapp.campaigns.views.implementation import idea_panel as implementation_panel
from webapp.kernel.dto import CurrentUser
from webapp.kernel.hooks import Hooks


def _evaluation_panel(
    session: Session, idea_id: int, viewer: CurrentUser | None, comment_ids: Sequence[int]
) -> dict[str, Any]:
    return {"evaluation": evaluation_of(session, idea_id)}


def install(hooks: Hooks) -> None:
    hooks.idea_panels.append(_evaluation_panel)
    hooks.idea_panels.append(implementation_panel)
