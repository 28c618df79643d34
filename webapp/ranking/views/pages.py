"""Static information pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webapp.kernel.web import render


async def ranking_help(request: Request) -> Response:
    """How ranking works, with this platform's configured weights."""
    return await render(request, "ranking/ranking.html")
