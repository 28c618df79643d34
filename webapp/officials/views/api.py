"""The officials' shortlist and answers for programs: /api/v1/officials/shortlist, status."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.kernel.api import FILTERS, PAGE, PAGE_SIZE, absolute, iso, named, page_json
from webapp.kernel.dto import Page
from webapp.kernel.errors import N_, InvalidInput
from webapp.kernel.openapi import Call, Field, Operation, Param
from webapp.kernel.routing import MAX_ID
from webapp.kernel.web import db, language, translator
from webapp.officials import officials as officials_service
from webapp.officials import responses as responses_service
from webapp.officials.views import officials as officials_views
from webapp.taxonomy.taxonomy import Names


def _shortlist_row(
    request: Request, r: officials_service.ShortlistRow, names: Names
) -> dict[str, Any]:
    lang = language(request)
    c = r.confidence
    return {
        "rank": r.rank,
        "id": r.id,
        "title": r.title,
        "status": r.status,
        "category": named(names.categories.get(r.category_id or 0), lang),
        "district": named(names.districts.get(r.district_id or 0), lang),
        "supporters": r.supporters,
        "score": r.score,
        "confidence": None
        if c is None
        else {
            "kind": c.kind,
            "low": c.low,
            "high": c.high,
            "level": c.level,
            "prior_share": c.prior_share,
        },
        "created_at": r.created_at.isoformat(),
        "threshold_reached_at": iso(r.threshold_reached_at),
        "days_waiting": r.days_waiting,
        "overdue": r.overdue,
        "response_state": r.response_state,
        "responded_at": iso(r.responded_at),
        "url": absolute(request, "api:idea", idea_id=r.id),
        "html_url": absolute(request, "idea", idea_id=r.id),
    }


async def officials_shortlist(request: Request, call: Call) -> Response:
    """The officials' shortlist

    The strongest proposals by a ranking scheme, with the score, how sure the ranking is of it
    (confidence), distinct supporters and the response clock (threshold reached, days waiting,
    overdue); the same list as the dashboard and its CSV export. Officials and admins only.
    """
    p = call.params
    settings = request.app.state.settings
    if p["scheme"] is not None and p["scheme"] not in officials_views.schemes(settings):
        raise InvalidInput({"scheme": (N_("Opposing is not enabled on this platform."), {})})
    query = {
        k: str(p[k])
        for k in ("scheme", "category", "district", "status", "period", "from", "to")
        if p.get(k) is not None
    }
    if p.get("project_id") is not None:
        query["project"] = str(p["project_id"])
    _raw, flt, _page_no, errors = officials_views.parse_filters(
        query, settings, translator(request).tz
    )
    if errors:
        raise InvalidInput(errors)
    ranking = request.app.state.ranking
    await request.app.state.ranking_sync.wait()
    size = p["page_size"]

    def load(session: Session) -> tuple[list[officials_service.ShortlistRow], int, Names]:
        rows, total = officials_service.dashboard(session, ranking, settings, flt, p["page"], size)
        return rows, total, Names(session)

    rows, total, names = await db(request, load)
    page = Page(rows, p["page"], size, total)
    return JSONResponse(
        {
            **page_json(page, [_shortlist_row(request, r, names) for r in rows]),
            "scheme": flt.scheme,
            "threshold": settings.response_threshold,
            "response_days": settings.response_days,
        }
    )


async def set_status(request: Request, call: Call) -> Response:
    """Answer an idea: set its status with a public response

    Allowed steps (docs/officials.md): published -> under_review, accepted or rejected;
    under_review -> accepted, in_progress or rejected; accepted -> in_progress, implemented or
    rejected; in_progress -> implemented or rejected; rejected -> under_review; or the current
    status again with a further response. The response text is required except for
    under_review. Supporters and the author are notified. 409 for a step not allowed from the
    current status, and for hidden or merged ideas.
    """
    settings = request.app.state.settings
    result = await db(
        request,
        responses_service.answer,
        call.user,
        call.params["idea_id"],
        call.body["status"],
        call.body.get("response") or "",
        email=settings.email_enabled,
    )
    await request.app.state.ranking_sync.wait()
    r = result.response
    return JSONResponse(
        {
            "idea_id": result.idea_id,
            "status": result.status,
            "previous_status": result.previous_status,
            "notified": result.notified,
            "response": {
                "id": r.id,
                "status": r.status,
                "previous_status": r.previous_status,
                "body": r.body,
                "created_at": r.created_at.isoformat(),
                "author_name": r.author_name,
            },
            "url": absolute(request, "api:idea", idea_id=result.idea_id),
        }
    )


# fmt: off
IDEA_ID = Param(
    "idea_id", "integer", "The idea's id.", location="path", not_found=N_("Idea not found.")
)
SHORTLIST_PARAMS = (
    Param(
        "scheme", "string", "Ranking scheme (docs/ranking.md); default: the configured one.",
        enum=officials_service.DASHBOARD_SCHEMES,
    ),
    *FILTERS,
    Param(
        "project_id", "integer", "Only this project's ideas (id; 1: the permanent pool).",
        minimum=1, maximum=MAX_ID,
    ),
    Param(
        "period", "string", "Only ideas created in the last N days.",
        enum=tuple(str(d) for d in officials_service.PERIODS),
    ),
    Param("from", "string", "Only ideas created on or after this date (YYYY-MM-DD).", max_length=10),
    Param("to", "string", "Only ideas created on or before this date (YYYY-MM-DD).", max_length=10),
    PAGE,
    PAGE_SIZE,
)
STATUS_BODY = (
    Field("status", "string", "The new status: " + ", ".join(responses_service.ANSWER_STATUSES) + ".", max_length=20),
    Field(
        "response", "string", "The public response (required except for under_review).",
        required=False, nullable=True, max_length=responses_service.RESPONSE_MAX_LENGTH,
    ),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /officials/shortlist", officials_shortlist, "Shortlist", "officials",
        auth="required", permission="answer", params=SHORTLIST_PARAMS,
    ),
    Operation(
        "POST /ideas/{idea_id}/status", set_status, "StatusChange", "officials",
        auth="required", permission="answer", params=(IDEA_ID,), body=STATUS_BODY, errors=(409,),
    ),
)
# fmt: on
