"""What every domain's JSON API (``webapp/<domain>/views/api.py``) shares.

Each domain declares its operations as :class:`~webapp.kernel.openapi.Operation` rows; the
composition root (``webapp/api.py``) joins them into one table, mounts a route per row with
:func:`routes` and renders the OpenAPI document from the same rows. Every request goes through
the wrapper here, which authenticates, checks CSRF (cookie sessions only) and the write rate
limit, and parses parameters and body from the declarations before the handler runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.kernel.dto import MAX_PAGE, CurrentUser, Named, Page
from webapp.kernel.errors import NotAuthenticated
from webapp.kernel.openapi import Call, Operation, Param, parse_body, parse_params
from webapp.kernel.routing import MAX_ID
from webapp.kernel.storage.models import PUBLIC_STATUSES
from webapp.kernel.web import CSRF_HEADER, check_csrf, current_user, rate_limit, require_user

MAX_PAGE_SIZE = 100

# --- serialisation ------------------------------------------------------------------------------


def absolute(request: Request, name: str, **params: Any) -> str:
    """An absolute URL on the site's public address (VECHE_BASE_URL), never on the Host header
    a client sent: a forged Host must not put another site's links into answers or caches."""
    base: str = request.app.state.settings.base_url.rstrip("/")
    return base + str(request.app.url_path_for(name, **params))


def named(item: Named | None, lang: str) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"id": item.id, "slug": item.slug, "name": item.name(lang)}


def page_json(page: Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": items,
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "pages": page.pages,
    }


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# --- parameters several domains use -------------------------------------------------------------
# fmt: off

PAGE = Param("page", "integer", "Page number.", minimum=1, maximum=MAX_PAGE, default=1)
PAGE_SIZE = Param(
    "page_size", "integer", "Items per page (default VECHE_PAGE_SIZE).", minimum=1,
    maximum=MAX_PAGE_SIZE, default=lambda s: min(s.page_size, MAX_PAGE_SIZE),
)
FILTERS = (
    Param("category", "integer", "Only this category (id).", minimum=1, maximum=MAX_ID),
    Param(
        "district", "integer", "Only this district (id); an okrug includes its districts.",
        minimum=1, maximum=MAX_ID,
    ),
    Param("status", "string", "Only this status.", enum=PUBLIC_STATUSES),
)
# fmt: on

# --- the wrapper --------------------------------------------------------------------------------


def _bearer_sent(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer")


async def _caller(request: Request, op: Operation) -> CurrentUser | None:
    """The authenticated caller; a bearer token that does not resolve is refused (401)."""
    if op.auth == "none":
        return None
    user = await current_user(request)
    if user is None and _bearer_sent(request):
        raise NotAuthenticated("The API token is invalid, expired or has been revoked.")
    if op.auth == "required":
        user = await require_user(request, op.permission)
        if op.is_write:
            check_csrf(request, request.headers.get(CSRF_HEADER))
            await rate_limit(request, op.bucket, f"user:{user.id}")
    return user


def _endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        settings = request.app.state.settings
        user = await _caller(request, op)
        params = parse_params(op.params, request.query_params, request.path_params, settings)
        body: dict[str, Any] = {}
        if op.body is not None:
            raw = await request.body()
            body = parse_body(op.body, request.headers.get("content-type"), raw, settings)
        response: Response = await op.handler(request, Call(user, params, body))
        return response

    endpoint.__name__ = endpoint.__qualname__ = f"api_{op.name}"
    return endpoint


def routes(operations: Sequence[Operation]) -> list[BaseRoute]:
    """One route per operation, named ``<handler name>`` (``api:<name>`` under the mount)."""
    return [
        Route(op.route_path, _endpoint(op), methods=[op.method], name=op.name) for op in operations
    ]
