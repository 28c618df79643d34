"""Moderator pages: the review of manipulation-signal discounts (confirm or lift them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.kernel.errors import N_, Conflict, InvalidInput
from webapp.kernel.web import db, flash, page_number, read_form, render, require_user, translator
from webapp.ranking import signal_review


async def signals(request: Request) -> Response:
    """Ideas whose votes the signals discount, largest weight at stake first; two tabs."""
    await require_user(request, "moderate")
    tab = request.query_params.get("tab")
    tab = tab if tab in signal_review.TABS else "review"
    ranking = request.app.state.ranking
    await request.app.state.ranking_sync.wait()
    clusters = await run_in_threadpool(ranking.signal_clusters)
    size = request.app.state.settings.page_size
    page = await db(
        request,
        signal_review.review_page,
        clusters,
        tab,
        page_number(request.query_params.get("page")),
        size,
    )
    scheme = request.app.state.settings.default_sort
    why = {item.idea_id: ranking.explain(item.idea_id, scheme) for item in page.items}
    return await render(
        request,
        "ranking/signals.html",
        {
            "page": page,
            "tab": tab,
            "why": why,
            "built_at": None
            if ranking.built_at is None
            else datetime.fromtimestamp(ranking.built_at, UTC),
            "section": "signals",
        },
    )


async def _decide(request: Request, decision: str, done: str) -> Response:
    user = await require_user(request, "moderate")
    idea_id = request.path_params["idea_id"]
    form = await read_form(request)
    ranking = request.app.state.ranking
    numbers: dict[str, Any] = next(
        (c for c in await run_in_threadpool(ranking.signal_clusters) if c["idea_id"] == idea_id),
        {},
    )
    try:
        await db(
            request, signal_review.decide, user, idea_id, decision, form.get("reason"), numbers
        )
    except (InvalidInput, Conflict) as exc:
        tr = translator(request)
        if isinstance(exc, InvalidInput) and exc.errors:
            msg, params = next(iter(exc.errors.values()))
        else:
            msg, params = exc.message, exc.params
        flash(request, "Not done: %(reason)s", "error", reason=tr.gettext(msg, **params))
    else:
        await run_in_threadpool(ranking.catch_up)  # rebuild here now; other workers on their poll
        flash(request, done, "success")
    url = str(request.app.url_path_for("moderation_signals"))
    if form.get("tab") == "reviewed":
        url += "?tab=reviewed"
    return RedirectResponse(url, status_code=303)


async def confirm(request: Request) -> Response:
    return await _decide(
        request, "confirmed", N_("The discounts are confirmed; the idea left the review list.")
    )


async def lift(request: Request) -> Response:
    return await _decide(
        request,
        "lifted",
        N_("The discounts are lifted: the ranking now counts these votes in full."),
    )
