"""JSON API under /api/v1: every domain's operations in one table.

Each domain declares its operations in ``webapp/<domain>/views/api.py``; ``OPERATIONS`` here
joins them in the order of the OpenAPI document, :func:`api_routes` mounts a route per entry
(``webapp.kernel.api.routes``: authentication, CSRF, rate limits, parsing) and ``openapi``
renders the same entries as the document. What is served and what is documented come from the
same rows and cannot drift apart.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from webapp.accounts.views import api as accounts
from webapp.campaigns.views import api as campaigns
from webapp.dedup.views import api as dedup
from webapp.ideas.views import api as ideas
from webapp.kernel import api
from webapp.kernel.openapi import Call, Operation, build_document
from webapp.officials.views import api as officials
from webapp.polls.views import api as polls
from webapp.taxonomy.views import api as taxonomy


async def openapi(request: Request, call: Call) -> Response:
    """This OpenAPI document"""
    return JSONResponse(build_document(OPERATIONS, request.app.state.settings))


OPERATIONS: tuple[Operation, ...] = (
    *ideas.OPERATIONS,
    *dedup.OPERATIONS,
    *taxonomy.OPERATIONS,
    *accounts.OPERATIONS,
    *officials.OPERATIONS,
    *campaigns.OPERATIONS,
    *polls.OPERATIONS,
    # Last but the document: fuzzing may revoke its own callers' tokens here.
    *accounts.TOKEN_OPERATIONS,
    Operation("GET /openapi.json", openapi, "OpenAPI", "meta", auth="none"),
)


def api_routes() -> list[BaseRoute]:
    return api.routes(OPERATIONS)
