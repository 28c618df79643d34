"""Extension points: how a lower domain's page shows what a higher domain adds, without importing it.

Domains are ordered (``webapp/domains.py``): a domain imports only the kernel and the domains
below it. Some pages still show things that higher domains own — the idea page shows the
moderators' note (moderation), the merge that absorbed the idea (dedup) and the city's answer
(officials); every page shows the unread-notices badge (notifications) for the user that
accounts signed in. Those pages call the hooks here; each domain's ``install(hooks)`` fills them
in (the composition root, ``webapp/app.py``, calls every domain's ``install`` in order). This is
Decidim's "view hooks" and Django's context processors in one small typed object.

A hook that nobody installed does nothing: a page of a lower domain renders without the panel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from webapp.kernel.dto import CurrentUser

if TYPE_CHECKING:  # typing only: the kernel never imports Starlette at run time through here
    from starlette.requests import Request


Identify = Callable[["Request"], Awaitable[CurrentUser | None]]
# (session, user) -> extra context for every full page (the nav badge, ...)
PageContext = Callable[[Session, CurrentUser], dict[str, Any]]
# (session, idea_id, viewer, comment ids on this page) -> context the idea page's panels read
IdeaPanel = Callable[[Session, int, CurrentUser | None, Sequence[int]], dict[str, Any]]
# (session, idea ids in a list, viewer) -> notes shown beside those ideas (hidden, merged ...)
IdeaListNotes = Callable[[Session, Sequence[int]], dict[int, Any]]
# (session, viewer) -> context the home page's bands read (polls: the open polls for the viewer)
HomePanel = Callable[[Session, CurrentUser | None], dict[str, Any]]


class SimilarPanel(Protocol):
    """Ideas like the one being written or searched for (installed by dedup)."""

    async def form_context(self, request: Request) -> dict[str, Any]: ...

    async def check_before_publish(
        self, request: Request, values: dict[str, str], user: CurrentUser
    ) -> dict[str, Any] | None: ...

    def note_changed(self, request: Request, idea_id: int) -> None: ...

    async def like_page(self, request: Request, flt: Any, text: str, size: int) -> Any: ...

    def like_message(self, state: str) -> str: ...


async def _nobody(request: Request) -> CurrentUser | None:
    return None


@dataclass
class Hooks:
    """What the installed domains contribute to pages of the domains below them."""

    identify: Identify = _nobody
    page_context: list[PageContext] = field(default_factory=list)
    idea_panels: list[IdeaPanel] = field(default_factory=list)
    idea_list_notes: list[IdeaListNotes] = field(default_factory=list)
    home_panels: list[HomePanel] = field(default_factory=list)
    similar: SimilarPanel | None = None
    # API operations each domain declares (webapp/kernel/openapi), in the document's order
    extra: dict[str, Any] = field(default_factory=dict)

    def page_extras(self, session: Session, user: CurrentUser) -> dict[str, Any]:
        ctx: dict[str, Any] = {}
        for fn in self.page_context:
            ctx.update(fn(session, user))
        return ctx

    def idea_page(
        self, session: Session, idea_id: int, viewer: CurrentUser | None, comment_ids: Sequence[int]
    ) -> dict[str, Any]:
        ctx: dict[str, Any] = {}
        for fn in self.idea_panels:
            ctx.update(fn(session, idea_id, viewer, comment_ids))
        return ctx

    def home_page(self, session: Session, viewer: CurrentUser | None) -> dict[str, Any]:
        ctx: dict[str, Any] = {}
        for fn in self.home_panels:
            ctx.update(fn(session, viewer))
        return ctx

    def list_notes(self, session: Session, idea_ids: Sequence[int]) -> dict[int, Any]:
        notes: dict[int, Any] = {}
        for fn in self.idea_list_notes:
            notes.update(fn(session, idea_ids))
        return notes


def hooks_of(app_state: Any) -> Hooks:
    """The app's hooks (an empty set when the app was built without any domain installed)."""
    found = getattr(app_state, "hooks", None)
    if found is None:
        found = Hooks()
        app_state.hooks = found
    return found
