"""The polls' addresses: officials' poll admin, answering, results, themes of "other" answers."""

from __future__ import annotations

from starlette.routing import BaseRoute

from webapp.polls.views import admin, answer, moderation, results, themes


def routes() -> list[BaseRoute]:
    return [*admin.ROUTES, *answer.ROUTES, *results.ROUTES, *themes.ROUTES, *moderation.ROUTES]
