"""JSON API of campaigns: expert evaluations and the caller's own budget ballot.

The per-project expert role does not fit an operation's global ``permission``: the handlers
check it (``evaluations.require_reviewer``: 403 unless the caller is an expert of that project,
an official or an admin), and the descriptions say so. A ballot is only ever read or written by
its own voter; nothing here reveals another user's choices.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.campaigns import ballots, evaluations
from webapp.kernel.api import absolute, iso
from webapp.kernel.errors import N_, NotFound
from webapp.kernel.openapi import Call, Field, Operation, Param
from webapp.kernel.openapi.document import SCHEMAS as KERNEL_SCHEMAS
from webapp.kernel.security import can
from webapp.kernel.web import db
from webapp.projects.projects import gate_info


def _evaluation_json(request: Request, ev: evaluations.EvaluationView) -> dict[str, Any]:
    return {
        "idea_id": ev.idea_id,
        "feasible": ev.feasible,
        "reason": ev.reason,
        "cost": ev.cost,
        "department": ev.department,
        "updated_at": ev.updated_at.isoformat(),
        "idea_url": absolute(request, "api:idea", idea_id=ev.idea_id),
    }


async def list_evaluations(request: Request, call: Call) -> Response:
    """The experts' evaluations of a project's ideas

    Public: for each evaluated public idea of the project, whether it is feasible, the public
    reason, the cost estimate in roubles (null when none) and the responsible department. Only
    feasible ideas with a cost reach a budget ballot. 404 for a draft project.
    """
    project_id = call.params["project_id"]
    staff = call.user is not None and can(call.user.role, "answer")

    def load(session: Session) -> list[evaluations.EvaluationView]:
        if not gate_info(session, project_id).published and not staff:
            raise NotFound("Project not found.")
        return evaluations.project_evaluations(session, project_id)

    rows = await db(request, load)
    return JSONResponse(
        {"project_id": project_id, "items": [_evaluation_json(request, e) for e in rows]}
    )


async def put_evaluation(request: Request, call: Call) -> Response:
    """Evaluate an idea of a project (its experts, officials and admins)

    Creates or replaces the idea's evaluation. Only the experts assigned to this project (a
    per-project role), officials and admins may call it: 403 for anyone else, including the
    experts of other projects. Only while the project's review stage is open (409 with the
    reason otherwise). `feasible` is true or false ("yes"/"no" too); `reason` is required when
    not feasible;
    `cost` (whole roubles) is required when feasible in a budget project. Audited.
    """
    b = call.body
    ev = await db(
        request,
        evaluations.evaluate,
        call.user,
        call.params["project_id"],
        call.params["idea_id"],
        feasible=b["feasible"],
        reason=b.get("reason") or "",
        cost=b.get("cost"),
        department=b.get("department") or "",
    )
    return JSONResponse(_evaluation_json(request, ev))


def _pot_json(s: ballots.PotBallot) -> dict[str, Any]:
    return {
        "pot_id": s.pot.id,
        "district_id": s.pot.district_id,
        "amount": s.pot.amount,
        "chosen": sorted(s.chosen),
        "total": s.total,
        "saved_at": iso(s.saved_at),
        "ideas": [{"id": i.id, "title": i.title, "cost": i.cost} for i in s.ideas],
    }


async def get_ballot(request: Request, call: Call) -> Response:
    """The caller's own budget ballot in a project

    For each budget (pot) the caller may vote in: its amount, the ideas on its ballot with
    their costs, the caller's choices and when they were saved. Never anyone else's ballot.
    `open` says whether voting is open now; `ineligible` why the caller may not vote (null when
    they may).
    """
    user = call.user
    project_id = call.params["project_id"]
    page = await db(request, ballots.ballot_page, user, project_id)
    return JSONResponse(
        {
            "project_id": page.project_id,
            "voting": page.voting,
            "approval_limit": page.approval_limit,
            "open": page.open,
            "ineligible": page.ineligible,
            "pots": [_pot_json(s) for s in page.pots],
        }
    )


async def put_ballot(request: Request, call: Call) -> Response:
    """Cast or replace the caller's budget ballot in one pot

    `ideas` lists the chosen idea ids: a JSON array, or comma-separated in a string ("12,15");
    an empty list withdraws the ballot.
    `pot` may be left out when the project has one budget. Refused whole, with nothing changed:
    409 outside the voting stage; 403 when the project does not admit the caller (residents
    only, verified residents only) or the pot is another district's; 422 for an unknown pot, an
    idea not on that pot's ballot, more ideas than an approval ballot allows, or a total cost
    over the pot's budget (knapsack).
    """
    ids = call.body.get("ideas") or []
    result = await db(
        request, ballots.cast, call.user, call.params["project_id"], call.body.get("pot"), ids
    )
    return JSONResponse(
        {
            "project_id": result.project_id,
            "pot_id": result.pot_id,
            "chosen": list(result.chosen),
            "total": result.total,
            "saved_at": iso(result.saved_at),
        }
    )


_TIME = {"type": "string", "format": "date-time"}
_INT = {"type": "integer"}


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


_EVALUATION = _obj(
    {
        "idea_id": _INT,
        "feasible": {"type": "boolean"},
        "reason": {"type": "string", "description": "Public: why (required when not feasible)."},
        "cost": {"type": ["integer", "null"], "description": "Cost estimate in roubles."},
        "department": {"type": "string"},
        "updated_at": _TIME,
        "idea_url": {"type": "string", "format": "uri"},
    },
    "An expert's public evaluation of an idea.",
)
SCHEMAS: dict[str, Any] = {
    "Evaluation": _EVALUATION,
    "EvaluationList": _obj(
        {"project_id": _INT, "items": {"type": "array", "items": _EVALUATION}},
        "The evaluations of a project's public ideas.",
    ),
    "BudgetBallot": _obj(
        {
            "project_id": _INT,
            "voting": {"type": "string", "enum": ["supports", "approval", "knapsack"]},
            "approval_limit": {"type": ["integer", "null"]},
            "open": {"type": "boolean"},
            "ineligible": {"type": ["string", "null"]},
            "pots": {
                "type": "array",
                "items": _obj(
                    {
                        "pot_id": _INT,
                        "district_id": {"type": ["integer", "null"]},
                        "amount": _INT,
                        "chosen": {"type": "array", "items": _INT},
                        "total": _INT,
                        "saved_at": {"type": ["string", "null"], "format": "date-time"},
                        "ideas": {
                            "type": "array",
                            "items": _obj({"id": _INT, "title": {"type": "string"}, "cost": _INT}),
                        },
                    }
                ),
            },
        },
        "The caller's own ballot: each budget they may vote in and their choices.",
    ),
    "BallotSaved": _obj(
        {
            "project_id": _INT,
            "pot_id": _INT,
            "chosen": {"type": "array", "items": _INT},
            "total": _INT,
            "saved_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "null: the ballot was withdrawn.",
            },
        },
        "The caller's ballot as stored.",
    ),
}
# The kernel's document has one table of schemas; the campaigns' join it here.
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
EVALUATION_BODY = (
    Field(
        "feasible", "boolean", 'Whether the idea can be carried out: true or false ("yes"/"no" '
        "too).",
    ),
    Field(
        "reason", "string", "Public explanation (required when not feasible).",
        required=False, nullable=True, max_length=evaluations.REASON_MAX_LENGTH,
    ),
    Field(
        "cost", "integer", "Cost estimate in whole roubles (required when feasible in a budget "
        "project).", required=False, nullable=True, minimum=1, maximum=evaluations.MAX_COST,
    ),
    Field(
        "department", "string", "The responsible department.", required=False, nullable=True,
        max_length=evaluations.DEPARTMENT_MAX_LENGTH,
    ),
)
BALLOT_BODY = (
    Field("pot", "id", "The budget (pot) voted in; optional when the project has one.", required=False, nullable=True),
    Field(
        "ideas", "ids", 'The chosen idea ids: [12, 15, 17] or "12,15,17"; empty: withdraw.',
        required=False, nullable=True,
    ),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /projects/{project_id}/evaluations", list_evaluations, "EvaluationList", "projects",
        params=(PROJECT_ID,),
    ),
    Operation(
        "PUT /projects/{project_id}/ideas/{idea_id}/evaluation", put_evaluation, "Evaluation",
        "projects", auth="required", params=(PROJECT_ID, IDEA_ID), body=EVALUATION_BODY,
        errors=(409,),
    ),
    Operation(
        "GET /projects/{project_id}/ballot", get_ballot, "BudgetBallot", "projects",
        auth="required", params=(PROJECT_ID,),
    ),
    Operation(
        "PUT /projects/{project_id}/ballot", put_ballot, "BallotSaved", "projects",
        auth="required", params=(PROJECT_ID,), body=BALLOT_BODY, errors=(409,), bucket="vote",
    ),
)
# fmt: on
