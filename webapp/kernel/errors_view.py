"""One place that turns errors into responses: JSON under /api/, a page in the user's language elsewhere."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from webapp.kernel.errors import (
    N_,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    RateLimited,
    ServiceUnavailable,
    StorageFull,
)
from webapp.kernel.storage import faults
from webapp.kernel.web import render, translator

log = logging.getLogger("veche")

HTTP_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Please log in first."),
    403: N_("You do not have permission to do this."),
    404: N_("This page does not exist."),
    405: N_("This action is not allowed here."),
    413: N_("The request is too large."),
    429: N_("Too many attempts. Please wait a minute and try again."),
    500: N_("Something went wrong on our side. We have logged it; please try again later."),
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_payload(request: Request, status: int, message: str, **params: Any) -> dict[str, Any]:
    tr = translator(request)
    return {"error": {"status": status, "message": tr.gettext(message, **params)}}


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    response = await _domain_error(request, exc)
    if isinstance(exc, RateLimited):
        response.headers["retry-after"] = str(exc.retry_after)
    elif isinstance(exc, ServiceUnavailable):
        response.headers["retry-after"] = str(exc.retry_after)
    elif isinstance(exc, NotAuthenticated) and is_api(request):
        response.headers["www-authenticate"] = 'Bearer realm="veche"'
    return response


async def _domain_error(request: Request, exc: DomainError) -> Response:
    tr = translator(request)
    if isinstance(exc, NotAuthenticated) and not is_api(request) and request.method == "GET":
        query = urlencode({"next": request.url.path})
        return RedirectResponse(f"{request.app.url_path_for('login')}?{query}", status_code=303)
    if is_api(request):
        payload = error_payload(request, exc.status, exc.message, **exc.params)
        if isinstance(exc, InvalidInput) and exc.errors:
            payload["error"]["fields"] = {
                name: tr.gettext(msg, **params) for name, (msg, params) in exc.errors.items()
            }
        return JSONResponse(payload, status_code=exc.status)
    fields = {}
    if isinstance(exc, InvalidInput):
        fields = {name: tr.gettext(msg, **params) for name, (msg, params) in exc.errors.items()}
    context = {
        "status": exc.status,
        "message": tr.gettext(exc.message, **exc.params),
        "fields": fields,
    }
    if isinstance(exc, ServiceUnavailable | StorageFull):
        # The page must not need the database: no nav badge, and the user only if already known.
        request.state.user = getattr(request.state, "user", None)
        context["unread_notifications"] = 0
    return await render(request, "errors/error.html", context, status=exc.status)


async def database_error(request: Request, exc: Exception) -> Response:
    """A database fault (server down, connection lost, disk full) as a 503 or 507 in the
    user's language (``webapp.kernel.storage.faults``); any other database error is a 500."""
    fault = faults.classify(exc)
    if fault is None:
        return await server_error(request, exc)
    log.warning(
        "database fault on %s %s: %s", request.method, request.url.path, str(exc).splitlines()[0]
    )
    return await domain_error(request, fault)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = HTTP_MESSAGES.get(status, HTTP_MESSAGES[400])
    if is_api(request):
        return JSONResponse(
            error_payload(request, status, message), status_code=status, headers=exc.headers
        )
    template = "errors/404.html" if status == 404 else "errors/error.html"
    tr = translator(request)
    return await render(
        request,
        template,
        {"status": status, "message": tr.gettext(message), "fields": {}},
        status=status,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if is_api(request):
        return JSONResponse(error_payload(request, 500, HTTP_MESSAGES[500]), status_code=500)
    tr = translator(request)
    try:
        return await render(
            request,
            "errors/error.html",
            {"status": 500, "message": tr.gettext(HTTP_MESSAGES[500]), "fields": {}},
            status=500,
        )
    except Exception:  # the error page itself failed: plain text
        return Response(tr.gettext(HTTP_MESSAGES[500]), status_code=500)


def exception_handlers() -> dict[Any, Any]:
    return {
        DomainError: domain_error,
        HTTPException: http_error,
        SQLAlchemyError: database_error,
        Exception: server_error,
    }
