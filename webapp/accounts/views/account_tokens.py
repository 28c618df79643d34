"""The account's API tokens ("access keys for apps"): list, create (shown once), revoke.

Only the signed-in owner sees and revokes their own tokens (another account's token is a 404).
The page is never cached (``Cache-Control: no-store``): the answer to a creation holds the new
token, shown this once and stored nowhere but in the owner's program.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.accounts import api_tokens
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, Conflict, InvalidInput, invalid
from webapp.kernel.web import (
    client_ip,
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

# The lifetimes the form offers (days), cut to VECHE_API_TOKEN_MAX_DAYS; the default is added.
LIFETIMES = (7, 30, 90, 180, 365)


def lifetimes(settings: Any) -> list[int]:
    days = {d for d in LIFETIMES if d <= settings.api_token_max_days}
    days |= {settings.api_token_days, settings.api_token_max_days}
    return sorted(days)


def _origin(request: Request, user: CurrentUser) -> api_tokens.Origin:
    agent = request.headers.get("user-agent", "")
    return api_tokens.Origin(user.id, "web", client_ip(request), agent)


def _days(raw: str, settings: Any) -> int:
    raw = raw.strip()
    if not raw:
        return int(settings.api_token_days)
    if not raw.isdigit() or len(raw) > 5:
        raise invalid("days", api_tokens.DAYS_RANGE, max=settings.api_token_max_days)
    return int(raw)


async def _page(
    request: Request,
    user: CurrentUser,
    *,
    new: api_tokens.NewToken | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    settings = request.app.state.settings
    items = await db(request, api_tokens.list_tokens, user.id)
    chosen = (values or {}).get("days", "")
    response = await render(
        request,
        "accounts/tokens.html",
        {
            "tokens": items,
            "new": new,
            "errors": errors or {},
            "values": values or {},
            "lifetimes": lifetimes(settings),
            "chosen_days": chosen if chosen else str(settings.api_token_days),
            "at_cap": sum(1 for t in items if not t.expired) >= settings.api_tokens_per_user,
        },
        status,
    )
    response.headers["cache-control"] = "no-store"
    return response


async def tokens_page(request: Request) -> Response:
    user = await require_user(request)
    return await _page(request, user)


async def create_token(request: Request) -> Response:
    """Create a token and show it once, in this answer (no redirect: it is stored nowhere)."""
    user = await require_user(request)
    form = await read_form(request)
    await rate_limit(request, "write", f"user:{user.id}")
    settings = request.app.state.settings
    limits = api_tokens.TokenLimits.from_settings(settings)
    try:
        days = _days(form.get("days", ""), settings)
        new = await db(
            request,
            api_tokens.issue,
            user.id,
            form.get("name", ""),
            days=days,
            limits=limits,
            origin=_origin(request, user),
        )
    except InvalidInput as exc:
        return await _page(
            request, user, errors=field_errors(request, exc), values=form, status=422
        )
    except Conflict as exc:
        message = translator(request).gettext(exc.message, **exc.params)
        return await _page(request, user, errors={"form": message}, values=form, status=409)
    return await _page(request, user, new=new)


async def revoke_token(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    info = await db(
        request,
        api_tokens.revoke,
        user.id,
        request.path_params["token_id"],
        origin=_origin(request, user),
    )
    flash(
        request,
        N_("The access key %(hint)s… was revoked: programs that use it can no longer sign in."),
        "success",
        hint=info.hint,
    )
    return redirect(request, "account_tokens")
