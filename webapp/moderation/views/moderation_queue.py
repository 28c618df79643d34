"""Moderator pages: the reports queue, hidden ideas and comments, blocked accounts, actions.

Every action is a POST with a CSRF token by a user with the "moderate" permission; a missing
reason (or another input error) comes back as a message on the page the form was on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.kernel.dto import Page
from webapp.kernel.errors import N_, Conflict, InvalidInput
from webapp.kernel.web import db, flash, page_number, read_form, render, require_user, translator
from webapp.moderation import blocking, moderation, moderation_queue

# Where an action returns to (the form says which), so that no URL comes from the request.
BACK = {
    "reports": "moderation_reports",
    "hidden_ideas": "moderation_hidden",
    "hidden_comments": "moderation_hidden",
    "blocked": "moderation_blocked",
    "idea": "idea",
}


def _back(request: Request, form: dict[str, str], idea_id: int | None) -> RedirectResponse:
    where = form.get("back") or "reports"
    name = BACK.get(where, "moderation_reports")
    if name == "idea" and idea_id is not None:
        url = str(request.app.url_path_for("idea", idea_id=idea_id))
    elif name == "idea":
        url = str(request.app.url_path_for("moderation_reports"))
    else:
        url = str(request.app.url_path_for(name))
        if where == "hidden_comments":
            url += "?kind=comments"
    page = form.get("page") or ""
    if page.isdigit() and page != "1" and name != "idea":
        url += ("&" if "?" in url else "?") + f"page={page}"
    return RedirectResponse(url, status_code=303)


async def _act(
    request: Request,
    work: Callable[..., Any],
    done: str,
    idea_of: Callable[[Any], int | None],
    *args: Any,
    **kwargs: Any,
) -> Response:
    """Run one moderation action; on success flash ``done``, on an input error say why."""
    user = await require_user(request, "moderate")
    form = await read_form(request)
    fallback = kwargs.pop("idea_id_hint", None)
    try:
        result = await db(request, work, user, *args, form.get("reason"), **kwargs)
    except InvalidInput as exc:
        tr = translator(request)
        msg, params = next(iter(exc.errors.values()), (exc.message, {}))
        flash(request, "Not done: %(reason)s", "error", reason=tr.gettext(msg, **params))
        return _back(request, form, fallback)
    except Conflict as exc:
        tr = translator(request)
        flash(
            request, "Not done: %(reason)s", "error", reason=tr.gettext(exc.message, **exc.params)
        )
        return _back(request, form, fallback)
    flash(request, done, "success")
    return _back(request, form, idea_of(result) if result is not None else fallback)


def _email(request: Request) -> bool:
    return bool(request.app.state.settings.email_enabled)


async def hide_idea(request: Request) -> Response:
    idea_id = request.path_params["idea_id"]
    return await _act(
        request,
        moderation.hide_idea,
        N_("The idea is hidden; its author sees why."),
        lambda _: idea_id,
        idea_id,
        email=_email(request),
        idea_id_hint=idea_id,
    )


async def unhide_idea(request: Request) -> Response:
    idea_id = request.path_params["idea_id"]
    return await _act(
        request,
        moderation.unhide_idea,
        N_("The idea is visible again."),
        lambda result: result,
        idea_id,
        email=_email(request),
        idea_id_hint=idea_id,
    )


async def hide_comment(request: Request) -> Response:
    return await _act(
        request,
        moderation.hide_comment,
        N_("The comment is hidden; its author sees why."),
        lambda result: result,
        request.path_params["comment_id"],
        email=_email(request),
    )


async def unhide_comment(request: Request) -> Response:
    return await _act(
        request,
        moderation.unhide_comment,
        N_("The comment is visible again."),
        lambda result: result,
        request.path_params["comment_id"],
        email=_email(request),
    )


def _dismiss_idea(session: Any, actor: Any, idea_id: int, reason: object, email: bool) -> int:
    return moderation.dismiss_reports(session, actor, reason, idea_id=idea_id, email=email)


def _dismiss_comment(session: Any, actor: Any, comment_id: int, reason: object, email: bool) -> int:
    return moderation.dismiss_reports(session, actor, reason, comment_id=comment_id, email=email)


async def dismiss_idea_reports(request: Request) -> Response:
    idea_id = request.path_params["idea_id"]
    return await _act(
        request,
        _dismiss_idea,
        N_("The reports are dismissed: no violation."),
        lambda result: result,
        idea_id,
        email=_email(request),
        idea_id_hint=idea_id,
    )


async def dismiss_comment_reports(request: Request) -> Response:
    return await _act(
        request,
        _dismiss_comment,
        N_("The reports are dismissed: no violation."),
        lambda result: result,
        request.path_params["comment_id"],
        email=_email(request),
    )


async def block_user(request: Request) -> Response:
    return await _act(
        request,
        blocking.block_user,
        N_("The account is blocked."),
        lambda _: None,
        request.path_params["user_id"],
    )


async def unblock_user(request: Request) -> Response:
    return await _act(
        request,
        blocking.unblock_user,
        N_("The account is unblocked."),
        lambda _: None,
        request.path_params["user_id"],
    )


# --- pages -----------------------------------------------------------------------------------


async def reports_queue(request: Request) -> Response:
    """Reported ideas and comments: hidden automatically first, then the most reported."""
    user = await require_user(request, "moderate")
    size = request.app.state.settings.page_size
    number = page_number(request.query_params.get("page"))
    items, total = await db(
        request, moderation_queue.list_queue, user, limit=size, offset=(number - 1) * size
    )
    return await render(
        request,
        "moderation/reports.html",
        {
            "page": Page(items, number, size, total),
            "auto_hide": request.app.state.settings.auto_hide_reports,
            "section": "reports",
        },
    )


async def hidden(request: Request) -> Response:
    """Hidden ideas (or, with ?kind=comments, comments), each with a form to unhide it."""
    user = await require_user(request, "moderate")
    kind = "comments" if request.query_params.get("kind") == "comments" else "ideas"
    size = request.app.state.settings.page_size
    number = page_number(request.query_params.get("page"))
    lister = (
        moderation_queue.list_hidden_comments
        if kind == "comments"
        else moderation_queue.list_hidden_ideas
    )
    items, total = await db(request, lister, user, limit=size, offset=(number - 1) * size)
    return await render(
        request,
        "moderation/hidden.html",
        {"page": Page(items, number, size, total), "kind": kind, "section": "hidden"},
    )


async def blocked(request: Request) -> Response:
    """Blocked accounts, each with a form to unblock it (where the moderator may)."""
    user = await require_user(request, "moderate")
    size = request.app.state.settings.page_size
    number = page_number(request.query_params.get("page"))
    items, total = await db(
        request, blocking.list_blocked, user, limit=size, offset=(number - 1) * size
    )
    return await render(
        request,
        "moderation/blocked.html",
        {"page": Page(items, number, size, total), "section": "blocked"},
    )
