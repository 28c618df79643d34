"""What dedup adds to the idea pages: the merge an idea is part of, comments a merge moved,
and similar ideas while a citizen writes or searches by meaning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request

from webapp.dedup.merge_views import merged_into_info, moved_from
from webapp.dedup.views import similar
from webapp.kernel.dto import CurrentUser
from webapp.kernel.hooks import Hooks


def _idea_panel(
    session: Session, idea_id: int, viewer: CurrentUser | None, comment_ids: Sequence[int]
) -> dict[str, Any]:
    return {
        "merge_info": merged_into_info(session, idea_id, viewer.id if viewer else None),
        "moved_from": moved_from(session, comment_ids),
    }


class SimilarIdeasPanel:
    """The similar-ideas panel of the idea form and the "by meaning" list (hooks.similar)."""

    async def form_context(self, request: Request) -> dict[str, Any]:
        return await similar.form_context(request)

    async def check_before_publish(
        self, request: Request, values: dict[str, str], user: CurrentUser
    ) -> dict[str, Any] | None:
        return await similar.check_before_publish(request, values, user)

    def note_changed(self, request: Request, idea_id: int) -> None:
        similar.note_changed(request, idea_id)

    async def like_page(self, request: Request, flt: Any, text: str, size: int) -> Any:
        return await similar.like_page(request, flt, text, size)

    def like_message(self, state: str) -> str:
        return similar.LIKE_MESSAGES.get(state, similar.STATE_MESSAGES.get(state, ""))


def install(hooks: Hooks) -> None:
    hooks.idea_panels.append(_idea_panel)
    hooks.similar = SimilarIdeasPanel()
