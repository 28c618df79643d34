"""Officials' poll pages: the list, the create and edit form (texts, audience, dates, settings)
and the questions (add, reorder, delete while no one has answered). Every page needs the
"answer" permission; every form carries the CSRF token. Once frozen by the first answer only the
close date may move (409 otherwise)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.kernel.errors import N_, Conflict, InvalidInput, PayloadTooLarge
from webapp.kernel.media import MediaStore
from webapp.kernel.routing import BOTH, GET, POST
from webapp.kernel.storage.models import POLL_KINDS
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
from webapp.polls import polls
from webapp.taxonomy import taxonomy


def _tz(request: Request) -> Any:
    return translator(request).tz


async def polls_admin(request: Request) -> Response:
    """Every poll, drafts included, with its number of answers."""
    await require_user(request, "answer")
    rows = await db(request, polls.list_polls_admin)
    return await render(request, "polls/admin_list.html", {"rows": rows})


async def _form_page(
    request: Request,
    poll_id: int | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    *,
    conflict: str = "",
    question_values: dict[str, str] | None = None,
    question_errors: dict[str, str] | None = None,
    image_errors: dict[str, str] | None = None,
) -> Response:
    tz = _tz(request)

    def load(session: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {"districts": taxonomy.list_districts(session), "detail": None}
        if poll_id is not None:
            ctx["detail"] = polls.poll_detail(session, poll_id)
            ctx["stored"] = polls.form_values(session, poll_id, tz)
        return ctx

    ctx = await db(request, load)
    ctx.update(
        values=values if values is not None else ctx.get("stored", {"allow_change": "on"}),
        errors=errors or {},
        conflict=conflict,
        question_values=question_values or {"required": "on"},
        question_errors=question_errors or {},
        image_errors=image_errors or {},
        kinds=POLL_KINDS,
        timezone=request.app.state.settings.timezone,
    )
    return await render(request, "polls/admin_form.html", ctx, status)


def _message(request: Request, exc: Conflict) -> str:
    return translator(request).gettext(exc.message, **exc.params)


async def _save(request: Request, poll_id: int | None) -> Response:
    user = await require_user(request, "answer")
    form = await read_form(request, max_fields=400)
    await rate_limit(request, "write", f"user:{user.id}")
    try:
        saved = await db(request, polls.save_poll, user.id, poll_id, form, _tz(request))
    except InvalidInput as exc:
        return await _form_page(request, poll_id, form, field_errors(request, exc), 422)
    except Conflict as exc:
        return await _form_page(request, poll_id, form, {}, 409, conflict=_message(request, exc))
    flash(request, N_("The poll is saved."), "success")
    return redirect(request, "officials_poll_edit", poll_id=saved)


async def new_poll(request: Request) -> Response:
    """GET: an empty poll form; POST: create the poll (a draft unless published)."""
    await require_user(request, "answer")
    if request.method == "GET":
        return await _form_page(request, None)
    return await _save(request, None)


async def edit_poll(request: Request) -> Response:
    """GET: the poll's form and its questions; POST: save the form."""
    await require_user(request, "answer")
    poll_id = request.path_params["poll_id"]
    if request.method == "GET":
        return await _form_page(request, poll_id)
    return await _save(request, poll_id)


async def add_question(request: Request) -> Response:
    """Add a question with its options (one per line) at the end of the poll."""
    user = await require_user(request, "answer")
    poll_id = request.path_params["poll_id"]
    form = await read_form(request)
    await rate_limit(request, "write", f"user:{user.id}")
    try:
        await db(request, polls.add_question, user.id, poll_id, form)
    except InvalidInput as exc:
        errors = field_errors(request, exc)
        return await _form_page(
            request, poll_id, None, None, 422, question_values=form, question_errors=errors
        )
    except Conflict as exc:
        return await _form_page(request, poll_id, None, None, 409, conflict=_message(request, exc))
    flash(request, N_("The question is added."), "success")
    return redirect(request, "officials_poll_edit", poll_id=poll_id)


async def move_question(request: Request) -> Response:
    """Move a question one place up or down."""
    user = await require_user(request, "answer")
    poll_id = request.path_params["poll_id"]
    form = await read_form(request)
    up = form.get("direction") != "down"
    try:
        await db(
            request, polls.move_question, user.id, poll_id, request.path_params["question_id"], up
        )
    except Conflict as exc:
        return await _form_page(request, poll_id, None, None, 409, conflict=_message(request, exc))
    return redirect(request, "officials_poll_edit", poll_id=poll_id)


async def delete_question(request: Request) -> Response:
    """Delete a question and its options."""
    user = await require_user(request, "answer")
    poll_id = request.path_params["poll_id"]
    await read_form(request)
    try:
        await db(
            request, polls.delete_question, user.id, poll_id, request.path_params["question_id"]
        )
    except Conflict as exc:
        return await _form_page(request, poll_id, None, None, 409, conflict=_message(request, exc))
    flash(request, N_("The question is deleted."), "success")
    return redirect(request, "officials_poll_edit", poll_id=poll_id)


async def poll_image(request: Request) -> Response:
    """Upload (or remove) the poll's picture: re-encoded by the one media pipeline, without
    metadata; a description of the picture is required; refused once the poll is frozen."""
    user = await require_user(request, "answer")
    poll_id = request.path_params["poll_id"]
    settings = request.app.state.settings
    try:
        fields, raw = await read_upload(request, "image", settings.photo_max_bytes, max_fields=20)
        await rate_limit(request, "photo", f"user:{user.id}")
        image = None
        if raw and not fields.get("remove"):
            image = await decode_image(request, raw, "image")
        await db(
            request,
            polls.set_image,
            user.id,
            poll_id,
            image,
            fields.get("image_alt", ""),
            MediaStore(settings.media_path),
            bool(fields.get("remove")),
        )
    except InvalidInput as exc:
        errors = field_errors(request, exc) or {"image": translator(request).gettext(exc.message)}
        return await _form_page(request, poll_id, None, None, 422, image_errors=errors)
    except PayloadTooLarge as exc:
        message = translator(request).gettext(exc.message, **exc.params)
        return await _form_page(request, poll_id, None, None, 413, image_errors={"image": message})
    except Conflict as exc:
        return await _form_page(request, poll_id, None, None, 409, conflict=_message(request, exc))
    flash(request, N_("The picture is saved."), "success")
    return redirect(request, "officials_poll_edit", poll_id=poll_id)


ROUTES: list[BaseRoute] = [
    Route(
        "/officials/polls/{poll_id:id}/image", poll_image, methods=POST, name="officials_poll_image"
    ),
    Route("/officials/polls", polls_admin, methods=GET, name="officials_polls"),
    Route("/officials/polls/new", new_poll, methods=BOTH, name="officials_poll_new"),
    Route("/officials/polls/{poll_id:id}", edit_poll, methods=BOTH, name="officials_poll_edit"),
    Route(
        "/officials/polls/{poll_id:id}/questions",
        add_question,
        methods=POST,
        name="officials_poll_question_add",
    ),
    Route(
        "/officials/polls/{poll_id:id}/questions/{question_id:id}/move",
        move_question,
        methods=POST,
        name="officials_poll_question_move",
    ),
    Route(
        "/officials/polls/{poll_id:id}/questions/{question_id:id}/delete",
        delete_question,
        methods=POST,
        name="officials_poll_question_delete",
    ),
]
