"""A citizen reports an idea or a comment to the moderators (POST /ideas/{id}/report)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.kernel.errors import Conflict, InvalidInput, NotFound
from webapp.kernel.web import db, flash, rate_limit, read_form, require_user, translator
from webapp.moderation import reports as reports_service


def _int_param(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


async def report_idea(request: Request) -> Response:
    user = await require_user(request)
    idea_id = request.path_params["idea_id"]
    form = await read_form(request)
    await rate_limit(request, "report", f"user:{user.id}")
    comment_id = _int_param(form.get("comment_id"))
    if form.get("comment_id") and comment_id is None:
        raise NotFound("Comment not found.")
    settings = request.app.state.settings
    back = str(request.app.url_path_for("idea", idea_id=idea_id))
    back += f"#comment-{comment_id}" if comment_id else "#comments"
    try:
        await db(
            request,
            reports_service.report,
            user,
            reason=form.get("reason"),
            idea_id=None if comment_id else idea_id,
            comment_id=comment_id,
            on_idea=idea_id,
            auto_hide=settings.auto_hide_reports,
            email=settings.email_enabled,
        )
    except (InvalidInput, Conflict) as exc:
        tr = translator(request)
        if isinstance(exc, InvalidInput) and exc.errors:
            msg, params = next(iter(exc.errors.values()))
        else:
            msg, params = exc.message, exc.params
        flash(
            request,
            "Your report was not sent: %(reason)s",
            "error",
            reason=tr.gettext(msg, **params),
        )
        return RedirectResponse(back, status_code=303)
    flash(request, "Thank you. A moderator will look at your report.", "success")
    return RedirectResponse(back, status_code=303)
