"""The caller's account and API tokens for programs: /api/v1/me, /api/v1/tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.accounts import api_tokens
from webapp.accounts import users as users_service
from webapp.accounts.views import login_throttle
from webapp.kernel.api import iso, named
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotAuthenticated
from webapp.kernel.openapi import Call, Field, Operation, Param
from webapp.kernel.web import client_ip, csrf_token, db, language
from webapp.taxonomy.taxonomy import Names


async def me(request: Request, call: Call) -> Response:
    """The caller's account

    With a cookie session it also returns the CSRF token to send as X-CSRF-Token on writes.
    """
    user: CurrentUser = call.user
    names = await db(request, Names)
    by_token = bool(getattr(request.state, "token_auth", False))
    return JSONResponse(
        {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role,
            "district": named(names.districts.get(user.district_id or 0), language(request)),
            "verified_resident": user.verified_resident,
            "locale": user.locale,
            "auth": "token" if by_token else "session",
            "csrf_token": None if by_token else csrf_token(request),
        }
    )


async def create_token(request: Request, call: Call) -> Response:
    """Create an API token

    It expires after days days (default VECHE_API_TOKEN_DAYS, at most VECHE_API_TOKEN_MAX_DAYS);
    an account holds at most VECHE_API_TOKENS_PER_USER unexpired tokens (409 beyond).
    The token is shown once; only its digest is stored. Failed attempts count against the account and the address like the site's login (progressive delays), and VECHE_TOKEN_RATE_LIMIT limits attempts per address per minute.
    """
    email = call.body["email"][: login_throttle.EMAIL_MAX].strip().lower()
    # the same budget of failures per account as the site's login, and the per-IP flood brake
    await login_throttle.guard(request, email, bucket="token")
    name = call.body.get("name") or "API"
    limits = api_tokens.TokenLimits.from_settings(request.app.state.settings)

    def work(session: Session) -> api_tokens.NewToken | None:
        user = users_service.authenticate(session, email, call.body["password"])
        if user is None:
            return None
        return api_tokens.issue(
            session,
            user.id,
            name,
            days=call.body.get("days"),
            limits=limits,
            origin=_token_origin(request, user.id),
        )

    try:
        new = await db(request, work)
    except Conflict:  # the right password, but the account holds the most tokens allowed
        await login_throttle.result(request, email, True)
        raise
    await login_throttle.result(request, email, new is not None)
    if new is None:
        # The same answer for an unknown e-mail, a wrong password and a blocked account.
        raise NotAuthenticated("Wrong e-mail or password.")
    return JSONResponse(
        {"token": new.token, "token_type": "Bearer", **_token_info(new.info)}, status_code=201
    )


def _token_origin(request: Request, user_id: int) -> api_tokens.Origin:
    """The owner, through the API, from this address and program (the audit rows)."""
    agent = request.headers.get("user-agent", "")
    return api_tokens.Origin(user_id, "api", client_ip(request), agent)


def _token_info(info: api_tokens.TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "hint": info.hint,
        "created_at": info.created_at.isoformat(),
        "last_used_at": iso(info.last_used_at),
        "expires_at": iso(info.expires_at),
        "expired": info.expired,
    }


async def tokens(request: Request, call: Call) -> Response:
    """The caller's API tokens

    Newest first, with name, hint (the first characters), creation, last use and expiry; never
    the token itself. Expired tokens are listed (expired is true) until they are deleted.
    """
    items = await db(request, api_tokens.list_tokens, call.user.id)
    return JSONResponse({"items": [_token_info(i) for i in items]})


async def revoke_token(request: Request, call: Call) -> Response:
    """Revoke one of the caller's API tokens

    The token stops working at once (the one sending this request too). 404 for a token that is
    not the caller's.
    """
    token_id = call.params["token_id"]
    origin = _token_origin(request, call.user.id)
    await db(request, api_tokens.revoke, call.user.id, token_id, origin=origin)
    return JSONResponse({"id": token_id, "revoked": True})


# fmt: off
TOKEN_BODY = (
    Field("email", "string", "The account's e-mail.", max_length=254),
    Field("password", "string", "The account's password.", max_length=256),
    Field("name", "string", "A label for the token.", required=False, max_length=100),
    Field(
        "days", "integer", "Lifetime in days (default VECHE_API_TOKEN_DAYS).", required=False,
        minimum=1, maximum=lambda s: s.api_token_max_days,
    ),
)
TOKEN_ID = Param(
    "token_id", "integer", "The token's id (from GET /tokens).", location="path",
    not_found=api_tokens.TOKEN_NOT_FOUND,
)

# The first two come early in the document; the last two close it (fuzzing may revoke its own
# callers' tokens there), see webapp/api.py.
OPERATIONS: tuple[Operation, ...] = (
    Operation("GET /me", me, "Me", "account", auth="required"),
    Operation(
        "POST /tokens", create_token, "Token", "account", status=201, auth="none",
        body=TOKEN_BODY, errors=(401, 409, 429),
    ),
)
TOKEN_OPERATIONS: tuple[Operation, ...] = (
    Operation("GET /tokens", tokens, "TokenList", "account", auth="required"),
    Operation(
        "DELETE /tokens/{token_id}", revoke_token, "TokenRevoked", "account", auth="required",
        params=(TOKEN_ID,),
    ),
)
# fmt: on
