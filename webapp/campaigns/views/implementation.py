"""Building funded ideas: the officials' progress page, the idea page's panel, the gallery.

``/officials/ideas/{id}/implementation`` (permission "answer") sets the progress and the public
note and adds, completes and removes milestones; each form posts back to it (CSRF) and comes back
with the page, or the page with the errors (422, 409), nothing stored on a refusal.
``/implemented`` is the public gallery of what the city built and is building, by district.
``idea_panel`` is the idea page's hook (``campaigns/_implementation.html`` shows it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.campaigns import implementation as service
from webapp.kernel.dto import CurrentUser, Named
from webapp.kernel.errors import N_, Conflict, InvalidInput, NotFound
from webapp.kernel.routing import GET, POST
from webapp.kernel.web import (
    db,
    field_errors,
    flash,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.taxonomy import taxonomy


def idea_panel(
    session: Session, idea_id: int, viewer: CurrentUser | None, comment_ids: Sequence[int]
) -> dict[str, Any]:
    """The idea page's building panel (``implementation``: None when there is nothing to show)."""
    try:
        report = service.implementation(session, idea_id, staff=True)
    except NotFound:
        return {"implementation": None}
    return {"implementation": report if report.shown else None}


# --- the officials' page -------------------------------------------------------------------------


async def _page(
    request: Request,
    idea_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    report = await db(request, service.implementation, idea_id, staff=True)
    ctx = {
        "report": report,
        "values": values or {},
        "form_errors": errors or {},
        "note_max": service.NOTE_MAX_LENGTH,
        "title_max": service.MILESTONE_TITLE_MAX,
    }
    return await render(request, "campaigns/implementation_form.html", ctx, status)


async def implementation_page(request: Request) -> Response:
    await require_user(request, "answer")
    return await _page(request, request.path_params["idea_id"])


async def _act(request: Request, message: str, fn: Any, *args: Any, **kwargs: Any) -> Response:
    """Run one change of the page; on a refusal show the page again with why."""
    official = await require_user(request, "answer")
    idea_id = request.path_params["idea_id"]
    form = await read_form(request)
    try:
        await db(request, fn, official, idea_id, *[form.get(a) for a in args], **kwargs)
    except InvalidInput as exc:
        return await _page(request, idea_id, form, field_errors(request, exc), 422)
    except Conflict as exc:
        text = translator(request).gettext(exc.message, **exc.params)
        return await _page(request, idea_id, form, {"page": text}, 409)
    await request.app.state.ranking_sync.wait()
    flash(request, message, "success")
    return redirect(request, "official_implementation", idea_id=idea_id)


async def save_progress(request: Request) -> Response:
    email = request.app.state.settings.email_enabled
    return await _act(
        request, N_("The progress is saved."), service.save_progress, "percent", "note", email=email
    )


async def add_milestone(request: Request) -> Response:
    return await _act(
        request, N_("The milestone is added."), service.add_milestone, "title", "due_on"
    )


async def milestone_done(request: Request) -> Response:
    milestone_id = request.path_params["milestone_id"]

    def done(session: Session, official: CurrentUser, idea_id: int, done_on: Any) -> Any:
        return service.mark_done(session, official, idea_id, milestone_id, done_on)

    return await _act(request, N_("The milestone is marked as reached."), done, "done_on")


async def milestone_remove(request: Request) -> Response:
    milestone_id = request.path_params["milestone_id"]

    def remove(session: Session, official: CurrentUser, idea_id: int) -> Any:
        return service.remove_milestone(session, official, idea_id, milestone_id)

    return await _act(request, N_("The milestone is removed."), remove)


# --- the gallery ---------------------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 9:
        return None
    return int(value.strip())


async def gallery(request: Request) -> Response:
    """What the city built from residents' ideas (and is building), by district or okrug."""
    district_id = _int(request.query_params.get("district"))
    page = max(1, _int(request.query_params.get("page")) or 1)

    def load(session: Session) -> dict[str, Any]:
        districts: list[Named] = taxonomy.list_districts(session)
        known = {d.id for d in districts}
        chosen = district_id if district_id in known else None
        return {
            "items": service.gallery(session, chosen, page),
            "districts": districts,
            "district_by_id": {d.id: d for d in districts},
            "district": chosen,
        }

    return await render(request, "campaigns/implemented.html", await db(request, load))


ROUTES: list[BaseRoute] = [
    Route("/implemented", gallery, methods=GET, name="implemented"),
    Route(
        "/officials/ideas/{idea_id:id}/implementation",
        implementation_page,
        methods=GET,
        name="official_implementation",
    ),
    Route(
        "/officials/ideas/{idea_id:id}/implementation",
        save_progress,
        methods=POST,
        name="official_implementation_save",
    ),
    Route(
        "/officials/ideas/{idea_id:id}/implementation/milestones",
        add_milestone,
        methods=POST,
        name="official_milestone_add",
    ),
    Route(
        "/officials/ideas/{idea_id:id}/implementation/milestones/{milestone_id:id}/done",
        milestone_done,
        methods=POST,
        name="official_milestone_done",
    ),
    Route(
        "/officials/ideas/{idea_id:id}/implementation/milestones/{milestone_id:id}/remove",
        milestone_remove,
        methods=POST,
        name="official_milestone_remove",
    ),
]
