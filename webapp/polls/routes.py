"""The polls' addresses: officials' poll admin, answering, results."""

from __future__ import annotations

from starlette.routing import BaseRoute

from webapp.polls.views import admin, answer, results


def routes() -> list[BaseRoute]:
    return [*admin.ROUTES, *answer.ROUTES, *results.ROUTES]
