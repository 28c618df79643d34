"""The ranking pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.kernel.routing import GET, POST
from webapp.ranking.views import pages
from webapp.ranking.views import signal_review as signal_views


def routes() -> list[BaseRoute]:
    return [
        Route("/ranking", pages.ranking_help, methods=GET, name="ranking_help"),
        Route("/moderation/signals", signal_views.signals, methods=GET, name="moderation_signals"),
        Route(
            "/moderation/signals/{idea_id:id}/confirm",
            signal_views.confirm,
            methods=POST,
            name="moderation_signals_confirm",
        ),
        Route(
            "/moderation/signals/{idea_id:id}/lift",
            signal_views.lift,
            methods=POST,
            name="moderation_signals_lift",
        ),
    ]
