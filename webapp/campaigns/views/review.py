"""Expert review pages: a project's ideas with their evaluation state, and the evaluation form.

For the project's experts (``ProjectExpert``) and the city's officials and admins; everyone
else gets 403 (``evaluations.require_reviewer``). Saving is open only while the review stage is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.campaigns import evaluations, pots
from webapp.kernel.errors import Conflict, InvalidInput
from webapp.kernel.routing import BOTH, GET
from webapp.kernel.web import (
    db,
    field_errors,
    flash,
    rate_limit,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.taxonomy import taxonomy


def _districts(session: Session) -> dict[int, Any]:
    return {d.id: d for d in taxonomy.list_districts(session)}


async def review(request: Request) -> Response:
    """The project's ideas, to do first or all, with their evaluations."""
    user = await require_user(request)
    project_id = request.path_params["project_id"]
    todo_only = request.query_params.get("todo") == "1"

    def load(session: Session) -> dict[str, Any]:
        page = evaluations.review_page(session, user, project_id, todo_only=todo_only)
        return {
            "review": page,
            "pots": pots.pots(session, project_id),
            "district_by_id": _districts(session),
        }

    ctx = await db(request, load)
    ctx["todo_only"] = todo_only
    return await render(request, "campaigns/review.html", ctx)


def _form_values(ev: evaluations.EvaluationView | None) -> dict[str, str]:
    if ev is None:
        return {}
    return {
        "feasible": "yes" if ev.feasible else "no",
        "reason": ev.reason,
        "cost": str(ev.cost) if ev.cost is not None else "",
        "department": ev.department,
    }


async def evaluate(request: Request) -> Response:
    """The evaluation form of one idea (GET) and its save (POST, CSRF)."""
    user = await require_user(request)
    project_id = request.path_params["project_id"]
    idea_id = request.path_params["idea_id"]
    values: dict[str, str] | None = None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        await rate_limit(request, "write", f"user:{user.id}")
        values = {k: form.get(k, "") for k in ("feasible", "reason", "cost", "department")}
        try:
            await db(
                request,
                evaluations.evaluate,
                user,
                project_id,
                idea_id,
                feasible=values["feasible"],
                reason=values["reason"],
                cost=values["cost"],
                department=values["department"],
            )
        except InvalidInput as exc:
            errors, status = field_errors(request, exc), 422
        except Conflict as exc:  # out of the review stage: say when, keep what was typed
            errors = {"form": translator(request).gettext(exc.message, **exc.params)}
            status = 409
        else:
            flash(request, "The evaluation is saved and shown on the idea's page.", "success")
            return redirect(request, "project_review", project_id=project_id)

    def load(session: Session) -> dict[str, Any]:
        idea = evaluations.idea_to_evaluate(session, user, project_id, idea_id)
        return {"idea": idea, "district_by_id": _districts(session)}

    ctx = await db(request, load)
    ctx.update(
        values=values if values is not None else _form_values(ctx["idea"].evaluation),
        form_errors=errors,
        reason_max=evaluations.REASON_MAX_LENGTH,
        department_max=evaluations.DEPARTMENT_MAX_LENGTH,
    )
    return await render(request, "campaigns/evaluate.html", ctx, status)


ROUTES: list[BaseRoute] = [
    Route("/projects/{project_id:id}/review", review, methods=GET, name="project_review"),
    Route(
        "/projects/{project_id:id}/review/{idea_id:id}",
        evaluate,
        methods=BOTH,
        name="project_review_idea",
    ),
]
