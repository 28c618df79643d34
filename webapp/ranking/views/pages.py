"""Static information pages."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.kernel.settings import RANKED_SORTS, Settings
from webapp.kernel.web import render
from webapp.ranking.worked_example import worked_example

# The list's plain orders (done in SQL by webapp.ideas); "relevance" is offered only with a search.
# tests/test_ranking_words.py checks this page against the sorts the list really accepts.
PLAIN_SORTS = ("supporters", "discussed", "relevance")


def explained_sorts(settings: Settings) -> tuple[str, ...]:
    """Every order the list of ideas can offer on this platform, in the list's order."""
    ranked = tuple(s for s in RANKED_SORTS if s != "controversial" or settings.allow_oppose)
    return ranked + PLAIN_SORTS


async def ranking_help(request: Request) -> Response:
    """How ranking works: every order, the default, the weights and a computed example."""
    settings: Settings = request.app.state.settings
    example = await run_in_threadpool(worked_example, settings)
    return await render(
        request,
        "ranking/ranking.html",
        {"sorts": explained_sorts(settings), "example": example},
    )
