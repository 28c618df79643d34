"""Officials' project pages: the list (drafts included), the create and edit form, the stage
override, the cover picture and the project's experts. Every page needs the "answer" permission
(officials and admins); every form carries the CSRF token and is checked by ``webapp.projects.admin``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.kernel.errors import N_, Conflict, InvalidInput, PayloadTooLarge
from webapp.kernel.media import MediaStore
from webapp.kernel.routing import BOTH, GET, POST
from webapp.kernel.settings import Settings
from webapp.kernel.storage.models import PROJECT_STAGES
from webapp.kernel.web import (
    db,
    decode_image,
    field_errors,
    flash,
    rate_limit,
    read_form,
    read_upload,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.projects import admin as admin_service
from webapp.projects import listing
from webapp.taxonomy import taxonomy

# The address that takes a cover upload (webapp/app.py gives it the photo size limit).
COVER_PATH = re.compile(r"^/officials/projects/[0-9]+/cover$")
FORM_OVERHEAD = 64 * 1024
EMPTY_POT_ROWS = 3  # blank district rows the form offers besides the stored ones


def cover_limit(settings: Settings) -> int:
    """The most bytes a request to ``COVER_PATH`` may carry."""
    return settings.photo_max_bytes + FORM_OVERHEAD


def _tz(request: Request) -> Any:
    return translator(request).tz


def _pot_rows(values: dict[str, str]) -> list[int]:
    """The indexes of the district-budget rows to show: the filled ones and a few blank ones."""
    filled = [
        n
        for n in range(admin_service.POT_ROWS)
        if values.get(f"pot_district_{n}") or values.get(f"pot_amount_{n}")
    ]
    start = max(filled) + 1 if filled else 0
    blank = range(start, min(start + EMPTY_POT_ROWS, admin_service.POT_ROWS))
    return [*filled, *blank]


async def projects_admin(request: Request) -> Response:
    """Every project, drafts included, with its stage now and links to edit it."""
    await require_user(request, "answer")

    def load(session: Any) -> dict[str, Any]:
        return {
            "projects": listing.list_projects(session, include_drafts=True),
            "district_by_id": {d.id: d for d in taxonomy.list_districts(session)},
        }

    ctx = await db(request, load)
    return await render(request, "campaigns/admin_projects.html", ctx)


async def _form_page(
    request: Request,
    project_id: int | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    *,
    conflict: str = "",
    override_errors: dict[str, str] | None = None,
    override_values: dict[str, str] | None = None,
    cover_errors: dict[str, str] | None = None,
    expert_errors: dict[str, str] | None = None,
) -> Response:
    tz = _tz(request)

    def load(session: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "districts": taxonomy.list_districts(session),
            "project": None,
            "stored": {},
            "experts": [],
        }
        if project_id is not None:
            ctx["project"] = listing.project_detail(session, project_id, staff=True)
            ctx["stored"] = admin_service.form_values(session, project_id, tz)
            ctx["experts"] = admin_service.list_experts(session, project_id)
        return ctx

    ctx = await db(request, load)
    shown = values if values is not None else ctx["stored"]
    ctx.update(
        values=shown,
        errors=errors or {},
        conflict=conflict,
        pot_rows=_pot_rows(shown),
        override_values=override_values or ctx["stored"],
        override_errors=override_errors or {},
        cover_errors=cover_errors or {},
        expert_errors=expert_errors or {},
        stages=PROJECT_STAGES,
        override_choices=admin_service.OVERRIDE_CHOICES,
        language_choices=admin_service.LANGUAGE_CHOICES,
        timezone=request.app.state.settings.timezone,
    )
    return await render(request, "campaigns/admin_project_form.html", ctx, status)


async def _save(request: Request, project_id: int | None) -> Response:
    user = await require_user(request, "answer")
    form = await read_form(request, max_fields=200)
    try:
        saved = await db(
            request, admin_service.save_project, user.id, project_id, form, _tz(request)
        )
    except InvalidInput as exc:
        return await _form_page(request, project_id, form, field_errors(request, exc), 422)
    except Conflict as exc:
        message = translator(request).gettext(exc.message, **exc.params)
        return await _form_page(request, project_id, form, {}, 409, conflict=message)
    if project_id is None:
        flash(request, N_("The project is created. Add a cover and the experts below."), "success")
    else:
        flash(request, N_("The project is saved."), "success")
    return redirect(request, "officials_project_edit", project_id=saved)


async def new_project(request: Request) -> Response:
    """GET: an empty project form; POST: create the project (a draft unless published)."""
    await require_user(request, "answer")
    if request.method == "GET":
        return await _form_page(request, None, {"languages": "ru,en", "voting": "supports"})
    return await _save(request, None)


async def edit_project(request: Request) -> Response:
    """GET: the project's form with the override, cover and experts; POST: save the form."""
    await require_user(request, "answer")
    project_id = request.path_params["project_id"]
    if request.method == "GET":
        return await _form_page(request, project_id)
    return await _save(request, project_id)


async def override(request: Request) -> Response:
    """Put a stage in force by hand, close the project, or follow the dates again (audited)."""
    user = await require_user(request, "answer")
    project_id = request.path_params["project_id"]
    form = await read_form(request)
    try:
        chosen = await db(
            request,
            admin_service.set_override,
            user.id,
            project_id,
            form.get("stage", ""),
            form.get("reason", ""),
        )
    except InvalidInput as exc:
        return await _form_page(
            request,
            project_id,
            status=422,
            override_errors=field_errors(request, exc),
            override_values=form,
        )
    except Conflict as exc:
        message = translator(request).gettext(exc.message, **exc.params)
        return await _form_page(
            request,
            project_id,
            status=409,
            override_errors={"stage": message},
            override_values=form,
        )
    if chosen is None:
        flash(request, N_("The project follows its dates again."), "success")
    else:
        flash(request, N_("The stage is set by hand."), "success")
    return redirect(request, "officials_project_edit", project_id=project_id)


async def cover(request: Request) -> Response:
    """Upload (or remove) the project's cover: re-encoded by the one media pipeline, without
    metadata; a description of the picture is required."""
    user = await require_user(request, "answer")
    project_id = request.path_params["project_id"]
    settings = request.app.state.settings
    try:
        fields, raw = await read_upload(request, "cover", settings.photo_max_bytes, max_fields=20)
        await rate_limit(request, "photo", f"user:{user.id}")
        image = None
        if raw and not fields.get("remove"):
            image = await decode_image(request, raw, "cover")
        await db(
            request,
            admin_service.set_cover,
            user.id,
            project_id,
            image,
            fields.get("cover_alt", ""),
            MediaStore(settings.media_path),
            bool(fields.get("remove")),
        )
    except InvalidInput as exc:
        errors = field_errors(request, exc) or {"cover": translator(request).gettext(exc.message)}
        return await _form_page(request, project_id, status=422, cover_errors=errors)
    except PayloadTooLarge as exc:
        message = translator(request).gettext(exc.message, **exc.params)
        return await _form_page(request, project_id, status=413, cover_errors={"cover": message})
    flash(request, N_("The cover is saved."), "success")
    return redirect(request, "officials_project_edit", project_id=project_id)


async def add_expert(request: Request) -> Response:
    """Assign a registered user (by e-mail) as an expert of the project (audited)."""
    user = await require_user(request, "answer")
    project_id = request.path_params["project_id"]
    form = await read_form(request)
    try:
        await db(request, admin_service.add_expert, user.id, project_id, form.get("email", ""))
    except InvalidInput as exc:
        return await _form_page(
            request, project_id, status=422, expert_errors=field_errors(request, exc)
        )
    flash(request, N_("The expert is assigned."), "success")
    return redirect(request, "officials_project_edit", project_id=project_id)


async def remove_expert(request: Request) -> Response:
    """Take the expert role in the project away from a user (audited)."""
    user = await require_user(request, "answer")
    project_id = request.path_params["project_id"]
    await read_form(request)
    await db(
        request, admin_service.remove_expert, user.id, project_id, request.path_params["user_id"]
    )
    flash(request, N_("The expert is removed from the project."), "success")
    return redirect(request, "officials_project_edit", project_id=project_id)


async def delete_project(request: Request) -> Response:
    """Delete a project nobody has taken part in (never the permanent pool; audited)."""
    user = await require_user(request, "answer")
    project_id = request.path_params["project_id"]
    await read_form(request)
    try:
        await db(request, admin_service.delete_project, user.id, project_id)
    except Conflict as exc:
        message = translator(request).gettext(exc.message, **exc.params)
        return await _form_page(request, project_id, status=409, conflict=message)
    flash(request, N_("The project is deleted."), "success")
    return redirect(request, "officials_projects")


ROUTES: list[BaseRoute] = [
    Route("/officials/projects", projects_admin, methods=GET, name="officials_projects"),
    Route("/officials/projects/new", new_project, methods=BOTH, name="officials_project_new"),
    Route(
        "/officials/projects/{project_id:id}/edit",
        edit_project,
        methods=BOTH,
        name="officials_project_edit",
    ),
    Route(
        "/officials/projects/{project_id:id}/override",
        override,
        methods=POST,
        name="officials_project_override",
    ),
    Route(
        "/officials/projects/{project_id:id}/cover",
        cover,
        methods=POST,
        name="officials_project_cover",
    ),
    Route(
        "/officials/projects/{project_id:id}/experts",
        add_expert,
        methods=POST,
        name="officials_project_experts",
    ),
    Route(
        "/officials/projects/{project_id:id}/experts/{user_id:id}/remove",
        remove_expert,
        methods=POST,
        name="officials_project_expert_remove",
    ),
    Route(
        "/officials/projects/{project_id:id}/delete",
        delete_project,
        methods=POST,
        name="officials_project_delete",
    ),
]
