"""Moderator pages."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.errors import NotFound
from webapp.services import ideas as ideas_service
from webapp.services.dto import Page
from webapp.web import db, render, require_user


async def idea_weights(request: Request) -> Response:
    """Why the weights of an idea's votes fell: discounts by reason, the most suspicious votes."""
    user = await require_user(request, "moderate")
    idea_id = request.path_params["idea_id"]
    idea = await db(request, ideas_service.get_idea, idea_id, user)
    report = await run_in_threadpool(request.app.state.ranking.discounts, idea_id)
    if report is None:
        raise NotFound("Idea not found.")
    for vote in report["suspicious"]:
        vote["when"] = datetime.fromtimestamp(vote["time"], UTC)
    report["built"] = datetime.fromtimestamp(report["built_at"], UTC)
    why = request.app.state.ranking.explain(idea_id, request.app.state.settings.default_sort)
    return await render(
        request, "moderation/weights.html", {"idea": idea, "report": report, "why": why}
    )


async def duplicates(request: Request) -> Response:
    """Candidate groups of duplicate ideas, strongest first (merging comes with moderation)."""
    from webapp.services.dedup_groups import list_groups  # loads the ML stack: only here

    user = await require_user(request, "moderate")
    size = request.app.state.settings.page_size
    try:
        number = int(request.query_params.get("page") or 1)
    except ValueError:
        number = 1
    number = min(max(1, number), ideas_service.MAX_PAGE)
    groups, total = await db(request, list_groups, limit=size, offset=(number - 1) * size)
    svc = getattr(request.app.state, "similarity", None)
    return await render(
        request,
        "moderation/duplicates.html",
        {
            "page": Page(groups, number, size, total),
            "similarity_state": "disabled" if svc is None else svc.status,
            "moderator": user,
        },
    )
