"""Moderators' view of a poll's flagged answers: who was flagged, when and why — never what they
answered. The signals are the ranking core's (bursts, waves of fresh accounts, lockstep), run by
the worker's live tally (``webapp/polls/tally.py``); the results state the flagged share and the
result without them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.kernel.routing import GET
from webapp.kernel.web import db, render, require_user
from webapp.polls import flagged


async def poll_flagged(request: Request) -> Response:
    """A poll's flagged respondents (moderators and admins): accounts, times, reasons."""
    await require_user(request, "moderate")
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    data: Any = await db(request, flagged.flagged_page, request.path_params["poll_id"], page)
    return await render(request, "polls/flagged.html", {"data": data, "section": "signals"})


ROUTES: list[BaseRoute] = [
    Route("/moderation/polls/{poll_id:id}/flagged", poll_flagged, methods=GET, name="poll_signals"),
]
