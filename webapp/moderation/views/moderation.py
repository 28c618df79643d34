"""Moderator pages."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.ideas import ideas as ideas_service
from webapp.kernel.errors import NotFound
from webapp.kernel.web import db, render, require_user


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
