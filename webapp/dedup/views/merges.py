"""Moderator pages for merges: the history with its Unmerge forms, and a manual merge."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from webapp.dedup import merges as merges_service
from webapp.dedup.merges import MergeView
from webapp.kernel.dto import MAX_PAGE, Page
from webapp.kernel.errors import Conflict, InvalidInput, NotFound, invalid
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

# Errors a moderator can fix on the page: shown at the merge, with the reason as it was typed.
FIXABLE = (InvalidInput, Conflict, NotFound)
TITLE_CHARS = 80


@dataclass(frozen=True)
class Failed:
    merge_id: int
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def _int(value: str | None, default: int | None = None) -> int | None:
    if value is None or not value.strip().isdigit():
        return default
    number = int(value.strip())
    return number if 0 < number < 2**31 else default


def _short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


async def _history(
    request: Request, number: int, idea_id: int | None, *, failed: Failed | None, status: int
) -> Response:
    size = request.app.state.settings.page_size
    number = min(max(1, number), MAX_PAGE)
    items, total = await db(
        request,
        merges_service.list_merges,
        limit=size,
        offset=(number - 1) * size,
        canonical_id=idea_id,
    )
    page: Page[MergeView] = Page(items, number, size, total)
    return await render(
        request,
        "dedup/merges.html",
        {"page": page, "idea_filter": idea_id, "failed": failed, "section": "merges"},
        status=status,
    )


async def history(request: Request) -> Response:
    """Every merge, newest first: who, when, why, the ideas folded in, undone or not."""
    await require_user(request, "moderate")
    qp = request.query_params
    return await _history(
        request, _int(qp.get("page"), 1) or 1, _int(qp.get("idea")), failed=None, status=200
    )


async def unmerge(request: Request) -> Response:
    """Undo one merge; the reason is required and goes to the audit log.

    ``back`` says where the form was: the merge history (default), the duplicate queue right
    after the merge (``duplicates``) or the kept idea's page (``idea``); the moderator returns
    there. A refusal is explained in the merge history, at the merge.
    """
    user = await require_user(request, "moderate")
    merge_id = request.path_params["merge_id"]
    form = await read_form(request)
    number = _int(form.get("page"), 1) or 1
    idea_filter = _int(form.get("idea"))
    try:
        result = await db(
            request,
            merges_service.unmerge,
            user,
            merge_id,
            reason=form.get("reason", ""),
            email=request.app.state.settings.email_enabled,
        )
    except FIXABLE as exc:
        tr = translator(request)
        fields = field_errors(request, exc) if isinstance(exc, InvalidInput) else {}
        failed = Failed(
            merge_id, tr.gettext(exc.message, **exc.params), fields, form.get("reason", "")
        )
        return await _history(request, number, idea_filter, failed=failed, status=exc.status)
    flash(
        request,
        "Merge #%(merge)s undone: the ideas merged into “%(title)s” are separate again.",
        "success",
        merge=merge_id,
        title=_short(result.canonical_title),
    )
    back = form.get("back", "")
    if back == "duplicates":
        project = _int(form.get("project"))
        query = f"page={number}" + (f"&project={project}" if project else "")
        return redirect(request, "moderation_duplicates", query=query)
    if back == "idea":
        return redirect(request, "idea", idea_id=result.canonical_id)
    query = f"page={number}" + (f"&idea={idea_filter}" if idea_filter else "")
    return redirect(request, "moderation_merges", query=query)


async def merge_idea(request: Request) -> Response:
    """Merge the idea of the page into the idea whose number the moderator typed."""
    user = await require_user(request, "moderate")
    idea_id = request.path_params["idea_id"]
    form = await read_form(request)
    try:
        target = _int(form.get("target_id"))
        if target is None:
            raise invalid("target_id", "Enter the number of the idea to keep.")
        result = await db(
            request,
            merges_service.merge,
            user,
            target,
            [idea_id],
            reason=form.get("reason", ""),
            email=request.app.state.settings.email_enabled,
        )
    except FIXABLE as exc:
        tr = translator(request)
        if isinstance(exc, InvalidInput) and exc.errors:
            message = "; ".join(field_errors(request, exc).values())
        else:
            message = tr.gettext(exc.message, **exc.params)
        flash(request, "The idea was not merged: %(reason)s", "error", reason=message)
        return redirect(request, "idea", idea_id=idea_id)
    flash(
        request,
        "Merged into “%(title)s” (merge #%(merge)s). “Undo the merge” below, under the ideas "
        "merged into this one, undoes it.",
        "success",
        title=_short(result.canonical_title),
        merge=result.id,
    )
    return redirect(request, "idea", idea_id=result.canonical_id)
