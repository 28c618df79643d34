"""The moderation pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.kernel.routing import GET, POST
from webapp.moderation.views import audit, moderation
from webapp.moderation.views import moderation_queue as mod_queue
from webapp.moderation.views import reports as report_views


def routes() -> list[BaseRoute]:
    return [
        Route("/ideas/{idea_id:id}/report", report_views.report_idea, methods=POST, name="report"),
        Route("/admin/audit", audit.audit_log, methods=GET, name="admin_audit"),
        Route("/admin/audit.csv", audit.audit_csv, methods=GET, name="admin_audit_csv"),
        Route(
            "/moderation/ideas/{idea_id:id}/weights",
            moderation.idea_weights,
            methods=GET,
            name="idea_weights",
        ),
        Route(
            "/moderation/reports", mod_queue.reports_queue, methods=GET, name="moderation_reports"
        ),
        Route("/moderation/hidden", mod_queue.hidden, methods=GET, name="moderation_hidden"),
        Route("/moderation/blocked", mod_queue.blocked, methods=GET, name="moderation_blocked"),
        Route(
            "/moderation/ideas/{idea_id:id}/hide",
            mod_queue.hide_idea,
            methods=POST,
            name="moderation_hide_idea",
        ),
        Route(
            "/moderation/ideas/{idea_id:id}/unhide",
            mod_queue.unhide_idea,
            methods=POST,
            name="moderation_unhide_idea",
        ),
        Route(
            "/moderation/ideas/{idea_id:id}/dismiss-reports",
            mod_queue.dismiss_idea_reports,
            methods=POST,
            name="moderation_dismiss_idea",
        ),
        Route(
            "/moderation/comments/{comment_id:id}/hide",
            mod_queue.hide_comment,
            methods=POST,
            name="moderation_hide_comment",
        ),
        Route(
            "/moderation/comments/{comment_id:id}/unhide",
            mod_queue.unhide_comment,
            methods=POST,
            name="moderation_unhide_comment",
        ),
        Route(
            "/moderation/comments/{comment_id:id}/dismiss-reports",
            mod_queue.dismiss_comment_reports,
            methods=POST,
            name="moderation_dismiss_comment",
        ),
        Route(
            "/moderation/users/{user_id:id}/block",
            mod_queue.block_user,
            methods=POST,
            name="moderation_block_user",
        ),
        Route(
            "/moderation/users/{user_id:id}/unblock",
            mod_queue.unblock_user,
            methods=POST,
            name="moderation_unblock_user",
        ),
    ]
