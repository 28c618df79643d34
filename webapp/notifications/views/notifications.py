"""A citizen's notifications: the page, marking them read, the e-mail preference."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.kernel.errors import N_, invalid
from webapp.kernel.web import db, flash, page_number, read_form, redirect, render, require_user
from webapp.notifications import inbox as inbox_service


def _back(request: Request, form: dict[str, str]) -> RedirectResponse:
    number = page_number(form.get("page"))
    return redirect(request, "notifications", query=f"page={number}" if number > 1 else "")


async def notifications_page(request: Request) -> Response:
    user = await require_user(request)
    size = request.app.state.settings.page_size
    number = page_number(request.query_params.get("page"))
    box = await db(request, inbox_service.inbox, user.id, number, size)
    # each notification is worded by the template (notifications/_notices.html), its idea titles
    # linked through notification_open (which marks it read)
    return await render(
        request,
        "notifications/index.html",
        {
            "inbox": box,
            "page": box.page,
            "email_enabled": request.app.state.settings.email_enabled,
            "unread_notifications": box.unread,
        },
    )


async def mark_read(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    await db(request, inbox_service.mark_read, user.id, request.path_params["notification_id"])
    return _back(request, form)


async def mark_all_read(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    raw = form.get("up_to", "")
    # ids are 32-bit: a larger "up_to" (a forged form) means "everything so far"
    up_to = min(int(raw), 2**31 - 1) if raw.isdigit() and len(raw) < 20 else None
    count = await db(request, inbox_service.mark_all_read, user.id, up_to)
    if count:
        flash(request, N_("All notifications are marked as read."), "success")
    return _back(request, form)


async def open_notification(request: Request) -> Response:
    """Follow a notification's link: mark it read and go to its idea (or, for published
    results, to the project's results page).

    A GET, so that the link works as a plain link; all it changes is the viewer's own read mark.
    """
    user = await require_user(request)
    target = await db(
        request, inbox_service.open_notification, user.id, request.path_params["notification_id"]
    )
    if target is None:
        return redirect(request, "notifications")
    name, params, anchor = target
    url = str(request.app.url_path_for(name, **params))
    return RedirectResponse(url + (f"#{anchor}" if anchor else ""), status_code=303)


async def email_preference(request: Request) -> Response:
    user = await require_user(request)
    form = await read_form(request)
    choice = form.get("email_notifications", "")
    if choice not in {"on", "off"}:
        raise invalid("email_notifications", "Unknown value.")
    enabled = await db(request, inbox_service.set_email_notifications, user.id, choice == "on")
    if enabled:
        flash(request, N_("We will also send your notifications by e-mail."), "success")
    else:
        flash(request, N_("We will not send you notifications by e-mail."), "success")
    return _back(request, form)
