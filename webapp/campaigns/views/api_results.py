"""JSON API of campaigns: a budget project's results and an idea's building report.

The results are public once published; officials and admins also read the count before that
(``published: false``). Nothing here reveals a ballot: only the totals per idea.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.campaigns import exports
from webapp.campaigns import implementation as implementation_service
from webapp.campaigns import results as results_service
from webapp.kernel.api import absolute, iso
from webapp.kernel.dto import Named
from webapp.kernel.errors import N_
from webapp.kernel.openapi import Call, Operation, Param
from webapp.kernel.openapi.document import SCHEMAS as KERNEL_SCHEMAS
from webapp.kernel.security import can
from webapp.kernel.web import db, language
from webapp.taxonomy import taxonomy


def _staff(call: Call) -> bool:
    return call.user is not None and can(call.user.role, "answer")


async def project_results(request: Request, call: Call) -> Response:
    """A budget project's results

    Per pot (the whole scope's budget, or a district's): the budget, the voters, the money spent
    and every idea on its ballot with its cost, votes, whether the project's rule funded it and
    whether greedy would have. Public once published; before that 404, except for officials and
    admins, who get the stored count with `published: false`.
    """
    project_id = call.params["project_id"]
    staff = _staff(call)

    def load(session: Any) -> tuple[results_service.Results, dict[int, Named]]:
        out = results_service.published_results(session, project_id, staff=staff)
        return out, {d.id: d for d in taxonomy.list_districts(session)}

    results, district_by_id = await db(request, load)
    doc = exports.results_document(results, district_by_id, language(request))
    doc["published"] = results.published
    doc["computed_at"] = iso(results.computed_at)
    doc["html_url"] = absolute(request, "project_results", project_id=project_id)
    return JSONResponse(doc)


async def idea_implementation(request: Request, call: Call) -> Response:
    """How the city is building an idea

    The progress in percent (null when nothing was reported), the public note, the milestones
    (planned and reached dates) and whether a published budget vote funded it. 404 for a hidden
    idea.
    """
    idea_id = call.params["idea_id"]
    report = await db(request, implementation_service.implementation, idea_id, staff=_staff(call))
    return JSONResponse(
        {
            "idea_id": report.idea_id,
            "status": report.status,
            "funded": report.funded,
            "project_id": report.project_id,
            "percent": report.percent,
            "built": report.built,
            "note": report.note,
            "updated_at": iso(report.updated_at),
            "milestones": [
                {
                    "id": m.id,
                    "title": m.title,
                    "due_on": m.due_on.isoformat() if m.due_on else None,
                    "done_on": m.done_on.isoformat() if m.done_on else None,
                }
                for m in report.milestones
            ],
            "url": absolute(request, "api:idea", idea_id=idea_id),
            "html_url": absolute(request, "idea", idea_id=idea_id),
        }
    )


_INT = {"type": "integer"}
_NULL_INT = {"type": ["integer", "null"]}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_NULL_DATE = {"type": ["string", "null"], "format": "date"}


def _obj(props: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


SCHEMAS: dict[str, Any] = {
    "BudgetResults": _obj(
        {
            "project_id": _INT,
            "title": _STR,
            "rule": {"type": "string", "enum": ["greedy", "equal_shares"]},
            "published": _BOOL,
            "published_at": _NULL_TIME,
            "computed_at": _NULL_TIME,
            "pots": {
                "type": "array",
                "items": _obj(
                    {
                        "pot_id": _INT,
                        "district_id": _NULL_INT,
                        "district": _STR,
                        "budget": _INT,
                        "voters": _INT,
                        "spent": _INT,
                        "greedy_spent": _INT,
                    }
                ),
            },
            "ideas": {
                "type": "array",
                "items": _obj(
                    {
                        "pot_id": _INT,
                        "pot_district_id": _NULL_INT,
                        "pot_district": _STR,
                        "idea_id": _INT,
                        "title": _STR,
                        "district_id": _NULL_INT,
                        "district": _STR,
                        "cost": {"type": "integer", "description": "Roubles."},
                        "votes": _INT,
                        "selected": {"type": "boolean", "description": "Funded by the rule."},
                        "greedy_selected": {
                            "type": "boolean",
                            "description": "Would be funded by greedy (the comparison).",
                        },
                        "rule": _STR,
                    }
                ),
            },
            "html_url": {"type": "string", "format": "uri"},
        },
        "The outcome of a budget vote: every pot and every idea on its ballot.",
    ),
    "Implementation": _obj(
        {
            "idea_id": _INT,
            "status": _STR,
            "funded": _BOOL,
            "project_id": _NULL_INT,
            "percent": _NULL_INT,
            "built": _BOOL,
            "note": _STR,
            "updated_at": _NULL_TIME,
            "milestones": {
                "type": "array",
                "items": _obj(
                    {"id": _INT, "title": _STR, "due_on": _NULL_DATE, "done_on": _NULL_DATE}
                ),
            },
            "url": {"type": "string", "format": "uri"},
            "html_url": {"type": "string", "format": "uri"},
        },
        "How the city is building an idea.",
    ),
}
# The kernel's document has one table of schemas; these join it.
for _name, _schema in SCHEMAS.items():
    KERNEL_SCHEMAS.setdefault(_name, _schema)

# fmt: off
PROJECT_ID = Param(
    "project_id", "integer", "The project's id.", location="path",
    not_found=N_("Project not found."),
)
IDEA_ID = Param(
    "idea_id", "integer", "The idea's id.", location="path", not_found=N_("Idea not found.")
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /projects/{project_id}/results", project_results, "BudgetResults", "projects",
        params=(PROJECT_ID,),
    ),
    Operation(
        "GET /ideas/{idea_id}/implementation", idea_implementation, "Implementation", "ideas",
        params=(IDEA_ID,),
    ),
)
# fmt: on
