"""The moderators' duplicate queue: compare a group's texts, merge them, or dismiss the group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.dedup import dismissals
from webapp.dedup import duplicate_queue as queue_service
from webapp.dedup import merges as merges_service
from webapp.dedup.dedup_groups import NEIGHBOURS
from webapp.dedup.similar_ideas import SimilarityUnavailable
from webapp.dedup.views import diff
from webapp.ideas import project_scope
from webapp.kernel.dto import Page
from webapp.kernel.errors import Conflict, InvalidInput, NotFound, invalid
from webapp.kernel.web import (
    db,
    field_errors,
    flash,
    page_number,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)

if TYPE_CHECKING:
    from ml.finder import DuplicateFinder

# Errors a moderator can fix on the page (a missing reason, a group another moderator took):
# the queue is shown again with the message at the group and the form as it was sent.
FIXABLE = (InvalidInput, Conflict, NotFound, SimilarityUnavailable)
TITLE_CHARS = 80  # of the kept idea's title in the success message
GROUPS_PER_PAGE = 10  # at most (fewer when VECHE_PAGE_SIZE is smaller): each group is long


@dataclass(frozen=True)
class Failed:
    group_id: int
    action: Literal["merge", "dismiss"]
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)


def _finder(request: Request) -> DuplicateFinder | None:
    svc = getattr(request.app.state, "similarity", None)
    if svc is None or svc.status != "ready":
        return None
    return svc.finder  # type: ignore[no-any-return]


def _group_id(request: Request) -> int:
    group_id = int(request.path_params["group_id"])
    if group_id >= 2**31:  # beyond the column: no such group (and no database error)
        raise NotFound("This group of possible duplicates does not exist (any more).")
    return group_id


def _ticked(form: dict[str, str], prefix: str) -> list[int]:
    ids = []
    for key in form:
        tail = key[len(prefix) :]
        if key.startswith(prefix) and tail.isdigit() and len(tail) <= 10:
            ids.append(int(tail))
    return sorted(ids)


def _merge_id(raw: str | None) -> int | None:
    """The ``merged`` query parameter: the merge just done, to say what it did and offer undo."""
    if raw is None or not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) < 2**31:
        return None
    return int(raw)


def _back_query(number: int, project_id: int | None, **extra: int) -> str:
    """The queue's query string after an action: the page, the project filter, and ``extra``."""
    params = {"page": number, **extra}
    if project_id is not None:
        params["project"] = project_id
    return urlencode(params)


async def _show(
    request: Request,
    number: int,
    *,
    failed: Failed | None = None,
    status: int = 200,
    merged: int | None = None,
    project_id: int | None = None,
) -> Response:
    size = min(request.app.state.settings.page_size, GROUPS_PER_PAGE)
    groups, total = await db(
        request,
        queue_service.queue_page,
        limit=size,
        offset=(number - 1) * size,
        project_id=project_id,
    )
    last = max(1, -(-total // size))
    if not groups and number > last:  # the last page emptied (a merge, another moderator)
        number = last
        groups, total = await db(
            request,
            queue_service.queue_page,
            limit=size,
            offset=(number - 1) * size,
            project_id=project_id,
        )
    # the texts compared word by word: bounded CPU work (diff.PAGE_DIFF_BUDGET), off the loop
    compared = await run_in_threadpool(diff.compare_page, groups)
    just_merged = None
    if merged is not None:
        try:
            just_merged = await db(request, merges_service.get_merge, merged)
        except NotFound:
            pass
    svc = getattr(request.app.state, "similarity", None)
    finder = _finder(request)
    return await render(
        request,
        "dedup/duplicates.html",
        {
            "section": "duplicates",
            "just_merged": just_merged,
            "page": Page(compared, number, size, total),
            "similarity_state": "disabled" if svc is None else svc.status,
            "threshold": None if finder is None else float(finder.threshold),
            "neighbours": NEIGHBOURS,
            "failed": failed,
            "projects": await db(request, project_scope.published_projects),
            "project_id": project_id,
        },
        status=status,
    )


def _failed(
    request: Request,
    group_id: int,
    action: Literal["merge", "dismiss"],
    exc: Exception,
    form: dict[str, str],
) -> Failed:
    tr = translator(request)
    assert isinstance(exc, FIXABLE)
    fields = field_errors(request, exc) if isinstance(exc, InvalidInput) else {}
    return Failed(group_id, action, tr.gettext(exc.message, **exc.params), fields, form)


async def queue(request: Request) -> Response:
    """Open candidate groups, strongest first, each with its texts compared and its actions."""
    await require_user(request, "moderate")
    qp = request.query_params
    return await _show(
        request,
        page_number(qp.get("page")),
        merged=_merge_id(qp.get("merged")),
        project_id=_merge_id(qp.get("project")),
    )


async def merge(request: Request) -> Response:
    """Merge the ticked members of a group into the chosen one."""
    user = await require_user(request, "moderate")
    group_id = _group_id(request)
    form = await read_form(request)
    number = page_number(form.get("page"))
    project_id = _merge_id(form.get("project"))
    canonical = form.get("canonical", "")
    try:
        if not canonical.isdigit():
            raise invalid("canonical", "Choose the idea to keep.")
        result = await db(
            request,
            queue_service.merge_group,
            user,
            group_id,
            int(canonical),
            _ticked(form, "merge-"),
            reason=form.get("reason", ""),
            email=request.app.state.settings.email_enabled,
        )
    except FIXABLE as exc:
        failed = _failed(request, group_id, "merge", exc, form)
        return await _show(request, number, failed=failed, status=exc.status, project_id=project_id)
    title = result.canonical_title
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1] + "…"
    flash(
        request,
        "Group %(group)s: merged into “%(title)s” (ideas merged: %(count)s).",
        "success",
        group=group_id,
        title=title,
        count=sum(1 for m in result.members if not m.repointed),
    )
    # the queue then lists what was merged, with «Undo the merge» right there
    query = _back_query(number, project_id, merged=result.id)
    return redirect(request, "moderation_duplicates", query=query)


async def dismiss(request: Request) -> Response:
    """Different ideas: the whole group, or the ticked members against the rest."""
    user = await require_user(request, "moderate")
    group_id = _group_id(request)
    form = await read_form(request)
    number = page_number(form.get("page"))
    project_id = _merge_id(form.get("project"))
    try:
        result = await db(
            request,
            dismissals.dismiss,
            user,
            group_id,
            _ticked(form, "apart-"),
            reason=form.get("reason", ""),
            finder=_finder(request),
        )
    except FIXABLE as exc:
        failed = _failed(request, group_id, "dismiss", exc, form)
        return await _show(request, number, failed=failed, status=exc.status, project_id=project_id)
    if result.whole:
        flash(
            request,
            "Group %(group)s: marked as different ideas. They will not be proposed as "
            "duplicates of each other again unless one of them is edited.",
            "success",
            group=group_id,
        )
    else:
        flash(
            request,
            "Group %(group)s: ideas marked as different: %(count)s. They will not be proposed "
            "as duplicates of the others again unless a text is edited.",
            "success",
            group=group_id,
            count=len(result.apart),
        )
    return redirect(request, "moderation_duplicates", query=_back_query(number, project_id))
