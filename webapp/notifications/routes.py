"""The notifications pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.kernel.routing import GET, POST
from webapp.notifications.views import notifications as notices


def routes() -> list[BaseRoute]:
    return [
        Route("/notifications", notices.notifications_page, methods=GET, name="notifications"),
        Route(
            "/notifications/read-all",
            notices.mark_all_read,
            methods=POST,
            name="notifications_read_all",
        ),
        Route(
            "/notifications/email",
            notices.email_preference,
            methods=POST,
            name="notifications_email",
        ),
        Route(
            "/notifications/{notification_id:id}/read",
            notices.mark_read,
            methods=POST,
            name="notification_read",
        ),
        Route(
            "/notifications/{notification_id:id}/open",
            notices.open_notification,
            methods=GET,
            name="notification_open",
        ),
    ]
