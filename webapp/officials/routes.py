"""The officials pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.kernel.routing import GET, POST
from webapp.officials.views import export
from webapp.officials.views import officials as official_views


def routes() -> list[BaseRoute]:
    return [
        Route("/officials", official_views.dashboard, methods=GET, name="officials"),
        Route("/officials/overdue", official_views.overdue, methods=GET, name="officials_overdue"),
        Route(
            "/officials/themes", official_views.themes_page, methods=GET, name="officials_themes"
        ),
        Route(
            "/officials/shortlist.csv",
            export.shortlist_csv,
            methods=GET,
            name="officials_shortlist_csv",
        ),
        Route(
            "/officials/ideas/{idea_id:id}", official_views.idea, methods=GET, name="official_idea"
        ),
        Route(
            "/officials/ideas/{idea_id:id}/status",
            official_views.answer,
            methods=POST,
            name="official_answer",
        ),
    ]
