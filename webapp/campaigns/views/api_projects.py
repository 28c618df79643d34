"""JSON API of projects: the list and one project (stages, stage now, pots, counts) for everyone;
create, change and the stage override for officials and admins (permission "answer").

Writes take the same names as the officials' form and go through the same use-cases
(``webapp.projects.admin``): dates are ISO 8601 (without an offset: the city's time zone),
an empty string clears an optional value, and a field left out of a PATCH stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.kernel.api import absolute, iso, named
from webapp.kernel.errors import N_, InvalidInput
from webapp.kernel.openapi import Call, Field, Operation, Param
from webapp.kernel.openapi import document as openapi_document
from webapp.kernel.security import can
from webapp.kernel.storage.models import (
    BUDGET_RULES,
    ELIGIBILITY,
    PROJECT_STAGES,
    VOTING_KINDS,
)
from webapp.kernel.web import db, language, translator
from webapp.projects import admin as admin_service
from webapp.projects import listing
from webapp.taxonomy.taxonomy import Names

_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_NAMED = {"anyOf": [{"$ref": "#/components/schemas/Named"}, {"type": "null"}]}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


PROJECT_SCHEMA = _object(
    {
        "id": {"type": "integer"},
        "slug": {"type": "string"},
        "title": {"type": "string", "description": "The question in the caller's language."},
        "title_ru": {"type": "string"},
        "title_en": {"type": "string"},
        "description": {"type": "string", "description": "In the caller's language."},
        "languages": {"type": "string", "description": "Languages proposals are invited in."},
        "scope": {**_NAMED, "description": "The okrug or district; null: the whole city."},
        "permanent": {"type": "boolean", "description": "The always-open pool of ideas."},
        "published": {"type": "boolean", "description": "False: a draft (staff only)."},
        "voting": {"type": "string", "enum": list(VOTING_KINDS)},
        "approval_limit": {"type": ["integer", "null"]},
        "rule": {"type": "string", "enum": list(BUDGET_RULES)},
        "eligibility": {"type": "string", "enum": list(ELIGIBILITY)},
        "phase": {
            "type": "string",
            "enum": ["permanent", "open", "override", "closed", "upcoming", "between", "finished"],
            "description": "Where the project stands now.",
        },
        "stage": {
            "type": ["string", "null"],
            "description": "The stage in force now (null: none).",
        },
        "override_reason": {"type": "string"},
        "next_stage": {"type": ["string", "null"]},
        "next_opens_at": _NULLABLE_TIME,
        "stages": {
            "type": "array",
            "items": _object(
                {
                    "stage": {"type": "string", "enum": list(PROJECT_STAGES)},
                    "state": {"type": "string", "enum": ["done", "now", "later", "absent"]},
                    "starts_at": _NULLABLE_TIME,
                    "ends_at": _NULLABLE_TIME,
                }
            ),
            "description": "The five stages in order.",
        },
        "pots": {
            "type": "array",
            "items": _object({"district": _NAMED, "amount": _COUNT}),
            "description": "Budgets in roubles; district null: the whole scope.",
        },
        "budget": {**_COUNT, "description": "All pots together, roubles."},
        "counts": _object(
            {
                "ideas": _COUNT,
                "authors": _COUNT,
                "supporters": _COUNT,
                "ballots": _COUNT,
                "participants": _COUNT,
            }
        ),
        "cover_url": {"type": ["string", "null"], "format": "uri"},
        "cover_alt": {"type": "string"},
        "source_note": {"type": "string"},
        "results_published_at": _NULLABLE_TIME,
        "url": {"type": "string", "format": "uri"},
        "html_url": {"type": "string", "format": "uri"},
    },
    "A city project: a question with dated stages and, for a budget vote, money.",
)
SCHEMAS: dict[str, Any] = {
    "Project": PROJECT_SCHEMA,
    "ProjectList": _object(
        {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}},
        "The published projects (drafts too for officials), open ones first.",
    ),
}
# The document's schemas are one table (webapp/kernel/openapi/document.py); these are added to it.
for _name, _schema in SCHEMAS.items():
    openapi_document.SCHEMAS.setdefault(_name, _schema)


def _project_json(
    request: Request, p: listing.ProjectCard, names: Names, pots: tuple[listing.PotLine, ...]
) -> dict[str, Any]:
    lang = language(request)
    detail = p if isinstance(p, listing.ProjectDetail) else None
    steps = detail.timeline if detail else listing.timeline(p.state)
    description = detail.description(lang) if detail else p.excerpt(lang)
    base = request.app.state.settings.base_url.rstrip("/")
    return {
        "id": p.id,
        "slug": p.slug,
        "title": p.title(lang),
        "title_ru": p.title_ru,
        "title_en": p.title_en,
        "description": description,
        "languages": detail.languages if detail else "",
        "scope": named(names.districts.get(p.scope_district_id or 0), lang),
        "permanent": p.permanent,
        "published": p.published,
        "voting": p.voting,
        "approval_limit": detail.approval_limit if detail else None,
        "rule": detail.rule if detail else "greedy",
        "eligibility": detail.eligibility if detail else "everyone",
        "phase": p.state.phase,
        "stage": p.state.stage,
        "override_reason": detail.override_reason if detail else "",
        "next_stage": p.state.next_stage,
        "next_opens_at": iso(p.state.next_opens_at),
        "stages": [
            {
                "stage": s.stage,
                "state": s.state,
                "starts_at": iso(s.starts_at),
                "ends_at": iso(s.ends_at),
            }
            for s in steps
        ],
        "pots": [
            {
                "district": named(names.districts.get(pot.district_id or 0), lang),
                "amount": pot.amount,
            }
            for pot in pots
        ],
        "budget": p.budget,
        "counts": {
            "ideas": p.counts.ideas,
            "authors": p.counts.authors,
            "supporters": p.counts.supporters,
            "ballots": p.counts.ballots,
            "participants": p.counts.participants,
        },
        "cover_url": (
            base + str(request.app.url_path_for("media", file=f"{p.cover_key}.jpg"))
            if p.cover_key
            else None
        ),
        "cover_alt": p.cover_alt,
        "source_note": detail.source_note if detail else "",
        "results_published_at": iso(detail.results_published_at) if detail else None,
        "url": absolute(request, "api:project", project_id=p.id),
        "html_url": absolute(request, "project", project_id=p.id),
    }


def _staff(call: Call) -> bool:
    return call.user is not None and can(call.user.role, "answer")


async def _one(request: Request, project_id: int, staff: bool, status: int = 200) -> Response:
    def load(session: Session) -> tuple[listing.ProjectDetail, Names]:
        return listing.project_detail(session, project_id, staff=staff), Names(session)

    detail, names = await db(request, load)
    data = _project_json(request, detail, names, detail.pots)
    headers = {"Location": data["url"]} if status == 201 else None
    return JSONResponse(data, status_code=status, headers=headers)


async def projects(request: Request, call: Call) -> Response:
    """List projects

    The published projects, open ones first (officials and admins see drafts too), each with
    its stage now, the five stages, budgets and counts.
    """
    staff = _staff(call)

    def load(session: Session) -> list[dict[str, Any]]:
        names = Names(session)
        cards = listing.list_projects(session, include_drafts=staff)
        return [
            _project_json(request, c, names, listing.project_detail(session, c.id, staff=True).pots)
            for c in cards
        ]

    return JSONResponse({"items": await db(request, load)})


async def project(request: Request, call: Call) -> Response:
    """One project

    The question, description, scope, the five stages (done, now, later), the stage in force,
    pots and counts. A draft is 404 except for officials and admins.
    """
    return await _one(request, call.params["project_id"], _staff(call))


POT_PAIR = re.compile(r"^\s*([0-9]{1,10})\s*:\s*([0-9]{1,16})\s*$")


def _form_from_body(body: dict[str, Any], base: dict[str, str]) -> dict[str, str]:
    """The officials' form filled from a JSON body over ``base`` (the stored values)."""
    form = dict(base)
    for key, value in body.items():
        if value is None or key in ("published", "district_budgets", "budget"):
            continue
        form[key] = str(value)
    if body.get("published") is not None:
        form["published"] = "1" if body["published"] else ""
    if body.get("budget") is not None:
        form["budget"] = str(body["budget"]) if body["budget"] else ""
    pairs = body.get("district_budgets")
    if pairs is not None:
        for key in [k for k in form if k.startswith("pot_")]:
            del form[key]
        items = [p for p in pairs.split(",") if p.strip()]
        if len(items) > admin_service.POT_ROWS:
            raise InvalidInput({"district_budgets": (N_("Too many budgets."), {})})
        for n, item in enumerate(items):
            match = POT_PAIR.match(item)
            if match is None:
                raise InvalidInput(
                    {
                        "district_budgets": (
                            N_("Write district_id:amount pairs, comma-separated."),
                            {},
                        )
                    }
                )
            form[f"pot_district_{n}"], form[f"pot_amount_{n}"] = match.group(1), match.group(2)
    return form


def _api_errors(exc: InvalidInput) -> InvalidInput:
    """Form field names back to the API's (the district rows are one field there)."""
    errors = {("district_budgets" if k.startswith("pot_") else k): v for k, v in exc.errors.items()}
    return InvalidInput(errors, exc.message)


async def _save(request: Request, call: Call, project_id: int | None) -> int:
    tz = translator(request).tz

    def work(session: Session) -> int:
        base = admin_service.form_values(session, project_id, tz) if project_id else {}
        form = _form_from_body(call.body, base)
        return admin_service.save_project(session, call.user.id, project_id, form, tz)

    try:
        return await db(request, work)
    except InvalidInput as exc:
        raise _api_errors(exc) from None


async def create_project(request: Request, call: Call) -> Response:
    """Create a project

    Officials and admins. Answers 201 with the project and its URL in the Location header.
    title_ru and proposals_starts_at are required; a budget vote (approval, knapsack) needs a
    budget. 422 names each bad field (dates out of order too).
    """
    saved = await _save(request, call, None)
    return await _one(request, saved, True, status=201)


async def update_project(request: Request, call: Call) -> Response:
    """Change a project

    Officials and admins. Fields left out stay as they are; an empty string clears an optional
    one. Once voting has opened, 409 for any change of the dates of started stages, the kind of
    vote, the approval limit, the budgets or the rule, except moving the end of the current
    stage later.
    """
    saved = await _save(request, call, call.params["project_id"])
    return await _one(request, saved, True)


async def override_stage(request: Request, call: Call) -> Response:
    """Set a project's stage by hand

    Officials and admins. stage: one of the five stages, "closed", or "" to follow the dates
    again; the reason is required and goes to the audit log with the state before and after.
    409 for the permanent pool.
    """
    project_id = call.params["project_id"]
    await db(
        request,
        admin_service.set_override,
        call.user.id,
        project_id,
        call.body.get("stage") or "",
        call.body.get("reason") or "",
    )
    return await _one(request, project_id, True)


# fmt: off
PROJECT_ID = Param(
    "project_id", "integer", "The project's id.", location="path",
    not_found=N_("Project not found."),
)
_STAGE_FIELDS = tuple(
    Field(
        f"{stage}_{edge}", "string",
        f"When the {stage} stage {'starts' if edge == 'starts_at' else 'ends'} (ISO 8601; "
        "without an offset: the city's time zone; empty: none).",
        required=False, nullable=True, max_length=40,
    )
    for stage in PROJECT_STAGES
    for edge in ("starts_at", "ends_at")
)
def _body(create: bool) -> tuple[Field, ...]:
    return (
        Field("title_ru", "string", "The question in Russian (3 to 300 characters).",
              required=create, nullable=not create, max_length=admin_service.TITLE_MAX),
        Field("title_en", "string", "The question in English.", required=False, nullable=True,
              max_length=admin_service.TITLE_MAX),
        Field("description_ru", "string", "Description in Russian.", required=False,
              nullable=True, max_length=admin_service.DESCRIPTION_MAX),
        Field("description_en", "string", "Description in English.", required=False,
              nullable=True, max_length=admin_service.DESCRIPTION_MAX),
        Field("slug", "string", "Address of the page; made from the question when empty.",
              required=False, nullable=True, max_length=admin_service.SLUG_MAX),
        Field("languages", "string", "ru,en, ru or en.", required=False, nullable=True,
              max_length=10),
        Field("scope_district_id", "string", "Okrug or district id; empty: the whole city.",
              required=False, nullable=True, max_length=12),
        *_STAGE_FIELDS,
        Field("voting", "string", "supports, approval or knapsack.", required=False,
              nullable=True, max_length=20),
        Field("approval_limit", "integer", "Approval vote: how many ideas a voter may choose.",
              required=False, nullable=True, minimum=1, maximum=1000),
        Field("rule", "string", "greedy or equal_shares.", required=False, nullable=True,
              max_length=20),
        Field("eligibility", "string", "everyone, residents or verified.", required=False,
              nullable=True, max_length=20),
        Field("published", "boolean", "true: published; false: a draft (1/0 too).",
              required=False, nullable=True),
        Field("budget", "integer", "The whole scope's budget in roubles (0: none).",
              required=False, nullable=True, minimum=0, maximum=admin_service.MAX_BUDGET),
        Field("district_budgets", "string",
              "Budgets of districts: district_id:amount pairs, comma-separated (empty: none).",
              required=False, nullable=True, max_length=1000),
        Field("source_note", "string", "Where the data comes from (shown on the page).",
              required=False, nullable=True, max_length=2000),
    )
OVERRIDE_BODY = (
    Field("stage", "string", "A stage, closed, or empty to follow the dates.", max_length=20),
    Field("reason", "string", "Why (required; written to the audit log).",
          max_length=admin_service.REASON_MAX),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET /projects", projects, "ProjectList", "projects"),
    Operation("GET /projects/{project_id}", project, "Project", "projects", params=(PROJECT_ID,)),
    Operation(
        "POST /projects", create_project, "Project", "projects", status=201, auth="required",
        permission="answer", body=_body(True), location=True,
    ),
    Operation(
        "PATCH /projects/{project_id}", update_project, "Project", "projects", auth="required",
        permission="answer", params=(PROJECT_ID,), body=_body(False), errors=(409,),
    ),
    Operation(
        "POST /projects/{project_id}/override", override_stage, "Project", "projects",
        auth="required", permission="answer", params=(PROJECT_ID,), body=OVERRIDE_BODY,
        errors=(409,),
    ),
)
# fmt: on
