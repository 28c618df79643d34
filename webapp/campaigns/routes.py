"""The campaigns' addresses: project pages and admin, expert review, ballots, results, building."""

from __future__ import annotations

from starlette.routing import BaseRoute

from webapp.campaigns.views import admin, ballots, implementation, projects, results, review


def routes() -> list[BaseRoute]:
    return [
        *admin.ROUTES,
        *projects.ROUTES,
        *review.ROUTES,
        *ballots.ROUTES,
        *results.ROUTES,
        *implementation.ROUTES,
    ]
