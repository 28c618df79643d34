"""JSON API of polls: a poll's results (aggregates only; the same rule as the page).

Public after the close, or while open when the poll shows results live; officials and admins
any time (``public: false``). Never a resident's answer or a free-text "other": counts only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.kernel.api import absolute
from webapp.kernel.errors import N_
from webapp.kernel.openapi import Call, Operation, Param
from webapp.kernel.openapi.document import SCHEMAS as KERNEL_SCHEMAS
from webapp.kernel.security import can
from webapp.kernel.web import db, language
from webapp.polls import results as results_service
from webapp.polls.views.results import document


async def poll_results(request: Request, call: Call) -> Response:
    """A poll's results

    Per question: the respondents, each option's count and share with its 95 % interval, the
    share corrected by district population (post-stratification) with its interval, scale
    means, ranking mean places, the count of free-text answers, and the breakdown by okrug and
    district; the design effect and the population source. 404 before the results are public,
    except for officials and admins.
    """
    poll_id = call.params["poll_id"]
    staff = call.user is not None and can(call.user.role, "answer")
    results = await db(
        request,
        results_service.poll_results,
        poll_id,
        staff=staff,
        population_file=request.app.state.settings.population_file,
    )
    doc = document(results, language(request))
    doc["html_url"] = absolute(request, "poll_results", poll_id=poll_id)
    return JSONResponse(doc)


_EST = {
    "type": ["object", "null"],
    "properties": {
        "value": {"type": "number"},
        "low": {"type": "number"},
        "high": {"type": "number"},
    },
}
SCHEMAS: dict[str, Any] = {
    "PollResults": {
        "type": "object",
        "description": "A poll's aggregate results with the census correction.",
        "properties": {
            "poll_id": {"type": "integer"},
            "title": {"type": "string"},
            "simulated": {"type": "boolean"},
            "public": {"type": "boolean"},
            "closed": {"type": "boolean"},
            "closes_at": {"type": "string", "format": "date-time"},
            "respondents": {"type": "integer"},
            "covered": {"type": "integer"},
            "design_effect": {"type": "number"},
            "effective_n": {"type": "number"},
            "population_source": {"type": "string"},
            "population_measure": {"type": "string"},
            "computed_at": {"type": "string", "format": "date-time"},
            "flagged": {
                "type": "integer",
                "description": "Respondents the manipulation signals flagged (bursts, waves of "
                "fresh accounts, lockstep); each option's without_flagged leaves them out.",
            },
            "flagged_share": {"type": "number"},
            "flagged_reasons": {
                "type": "object",
                "properties": {
                    "burst": {"type": "integer"},
                    "fresh": {"type": "integer"},
                    "lockstep": {"type": "integer"},
                },
            },
            "without_district": {"type": "integer"},
            "questions": {"type": "array", "items": {"type": "object"}},
            "html_url": {"type": "string", "format": "uri"},
        },
    },
    "PollEstimate": _EST,
}
for _name, _schema in SCHEMAS.items():
    KERNEL_SCHEMAS.setdefault(_name, _schema)

POLL_ID = Param(
    "poll_id", "integer", "The poll's id.", location="path", not_found=N_("Poll not found.")
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /polls/{poll_id}/results", poll_results, "PollResults", "polls", params=(POLL_ID,)
    ),
)
