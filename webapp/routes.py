"""Every address of the site: each domain's routes, then the API, health and static files."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from webapp.accounts import routes as accounts
from webapp.api import api_routes
from webapp.campaigns import routes as campaigns
from webapp.dedup import routes as dedup
from webapp.ideas import routes as ideas
from webapp.kernel.routing import GET
from webapp.moderation import routes as moderation
from webapp.notifications import routes as notifications
from webapp.officials import routes as officials
from webapp.polls import routes as polls
from webapp.projects import routes as projects
from webapp.ranking import routes as ranking
from webapp.taxonomy import routes as taxonomy


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build_routes(static_dir: Path) -> list[BaseRoute]:
    domains = (
        ideas,
        dedup,
        moderation,
        notifications,
        accounts,
        taxonomy,
        ranking,
        officials,
        projects,
        campaigns,
        polls,
    )
    return [
        *(route for domain in domains for route in domain.routes()),
        Route("/healthz", health, methods=GET, name="health"),
        Mount("/api/v1", routes=api_routes(), name="api"),
        Mount("/static", app=StaticFiles(directory=static_dir), name="static"),
    ]
