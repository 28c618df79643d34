"""Ranked lists shared by the site and the API."""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from webapp.ideas import ideas as ideas_service
from webapp.kernel.dto import MAX_PAGE, IdeaSummary, Page
from webapp.kernel.web import db
from webapp.ranking.engine import ListFilter


def visitor_seed(request: Request) -> int:
    """A per-visitor seed for the `random` scheme: the same visitor sees a stable order."""
    seed = request.session.get("seed")
    if not isinstance(seed, int):
        seed = secrets.randbelow(2**31)
        request.session["seed"] = seed
    return seed


async def ranked_page(
    request: Request, flt: ideas_service.IdeaFilter, size: int
) -> Page[IdeaSummary]:
    """A page sorted by a ranking scheme from the snapshot: no vote aggregation in SQL.

    ``page.extra["explanations"]`` maps each idea id to its "why this rank" numbers.
    """
    ranking = request.app.state.ranking
    await request.app.state.ranking_sync.wait()
    seed = visitor_seed(request)
    page = min(max(1, flt.page), MAX_PAGE)
    if flt.q:
        matches = await db(request, ideas_service.search_ids, flt)
        ordered = await run_in_threadpool(ranking.order, matches, flt.sort, seed)
        total = len(ordered)
        ids = ordered[(page - 1) * size : page * size]
    else:
        districts = None
        if flt.district_id is not None:
            districts = tuple(
                await db(request, ideas_service.district_and_children, flt.district_id)
            )
        list_filter = ListFilter(flt.category_id, districts, flt.status, flt.project_id)
        ids, total = await run_in_threadpool(ranking.page, list_filter, flt.sort, page, size, seed)
    items = await db(request, ideas_service.summaries, ids)
    first = (page - 1) * size + 1  # "no. N" is the position in the visitor's (filtered) list
    explanations = {i: ranking.explain(i, flt.sort, first + n) for n, i in enumerate(ids)}
    return Page(items, page, size, total, extra={"explanations": explanations})
