"""The one named route table. Templates and code look URLs up by name."""

from __future__ import annotations

from pathlib import Path

from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from webapp.accounts.views import account, auth
from webapp.accounts.views import account_tokens as token_views
from webapp.api import api_routes
from webapp.dedup.views import duplicates, merges, similar
from webapp.ideas.views import ideas
from webapp.kernel.openapi import MAX_ID
from webapp.moderation.views import admin, moderation
from webapp.moderation.views import moderation_queue as mod_queue
from webapp.notifications.views import notifications as notices
from webapp.officials.views import officials as official_views
from webapp.ranking.views import pages
from webapp.ranking.views import signal_review as signal_views

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]


def _digits_up_to(limit: int) -> str:
    """A regex matching the decimal numbers 0..limit (no sign, no leading zeros past 10 digits)."""
    digits = str(limit)
    parts = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            rest = len(digits) - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            parts.append(f"{digits[:i]}[{low}-{int(d) - 1}]{tail}")
    parts.append(digits)
    return "|".join(parts)


class IdConvertor(IntegerConvertor):
    """``{name:int}`` matches only ids a database integer column can hold (0..2**31-1).

    A larger number in a URL is simply a page that does not exist (404), never an overflow
    error from the database (SQLite: OverflowError; PostgreSQL: integer out of range).
    """

    regex = _digits_up_to(MAX_ID)


# Starlette's convertor table is process-wide; every id in this app is a 32-bit integer.
register_url_convertor("int", IdConvertor())


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build_routes(static_dir: Path) -> list[BaseRoute]:
    return [
        Route("/", ideas.index, methods=GET, name="index"),
        Route("/ideas/new", ideas.new_idea, methods=BOTH, name="new_idea"),
        Route("/ideas/similar", similar.similar_fragment, methods=GET, name="similar_ideas"),
        Route("/ideas/{idea_id:int}", ideas.show_idea, methods=GET, name="idea"),
        Route("/ideas/{idea_id:int}/edit", ideas.edit_idea, methods=BOTH, name="edit_idea"),
        Route("/ideas/{idea_id:int}/support", ideas.support, methods=POST, name="support"),
        Route("/ideas/{idea_id:int}/oppose", ideas.oppose, methods=POST, name="oppose"),
        Route("/ideas/{idea_id:int}/withdraw", ideas.withdraw, methods=POST, name="withdraw"),
        Route("/ideas/{idea_id:int}/comments", ideas.comment, methods=POST, name="comment"),
        Route("/ideas/{idea_id:int}/report", ideas.report_idea, methods=POST, name="report"),
        Route("/my/ideas", ideas.my_ideas, methods=GET, name="my_ideas"),
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
            "/notifications/{notification_id:int}/read",
            notices.mark_read,
            methods=POST,
            name="notification_read",
        ),
        Route(
            "/notifications/{notification_id:int}/open",
            notices.open_notification,
            methods=GET,
            name="notification_open",
        ),
        Route("/register", auth.register, methods=BOTH, name="register"),
        Route("/register/sent", auth.register_sent, methods=GET, name="register_sent"),
        Route(  # GET asks for the password, POST creates the account (views.auth)
            "/register/confirm/{token}", auth.confirm_email, methods=BOTH, name="confirm_email"
        ),
        Route("/login", auth.login, methods=BOTH, name="login"),
        Route("/logout", auth.logout, methods=POST, name="logout"),
        Route("/language", auth.set_language, methods=POST, name="set_language"),
        Route("/admin/categories", admin.categories, methods=BOTH, name="admin_categories"),
        Route("/admin/districts", admin.districts, methods=BOTH, name="admin_districts"),
        Route("/admin/audit", admin.audit_log, methods=GET, name="admin_audit"),
        Route("/admin/audit.csv", admin.audit_csv, methods=GET, name="admin_audit_csv"),
        Route("/admin/logins", admin.login_log, methods=GET, name="admin_logins"),
        Route("/admin/logins.csv", admin.login_log_csv, methods=GET, name="admin_logins_csv"),
        *account_routes(),
        *account_token_routes(),
        Route("/ranking", pages.ranking_help, methods=GET, name="ranking_help"),
        Route(
            "/moderation/ideas/{idea_id:int}/weights",
            moderation.idea_weights,
            methods=GET,
            name="idea_weights",
        ),
        Route(
            "/moderation/duplicates",
            duplicates.queue,
            methods=GET,
            name="moderation_duplicates",
        ),
        Route(
            "/moderation/duplicates/{group_id:int}/merge",
            duplicates.merge,
            methods=POST,
            name="merge_duplicates",
        ),
        Route(
            "/moderation/duplicates/{group_id:int}/dismiss",
            duplicates.dismiss,
            methods=POST,
            name="dismiss_duplicates",
        ),
        Route("/moderation/merges", merges.history, methods=GET, name="moderation_merges"),
        Route(
            "/moderation/merges/{merge_id:int}/unmerge",
            merges.unmerge,
            methods=POST,
            name="moderation_unmerge",
        ),
        Route(
            "/moderation/ideas/{idea_id:int}/merge",
            merges.merge_idea,
            methods=POST,
            name="moderation_merge_idea",
        ),
        *moderation_routes(),
        *officials_routes(),
        Route("/healthz", health, methods=GET, name="health"),
        Mount("/api/v1", routes=api_routes(), name="api"),
        Mount("/static", app=StaticFiles(directory=static_dir), name="static"),
    ]


def account_routes() -> list[BaseRoute]:
    """The account security page (webapp.accounts.views.account)."""
    return [
        Route("/account/security", account.security, methods=GET, name="account_security"),
        Route("/account/password", account.change_password, methods=POST, name="account_password"),
        Route(
            "/account/sessions/{session_id:int}/end",
            account.end_session,
            methods=POST,
            name="account_end_session",
        ),
        Route(
            "/account/sessions/end-others",
            account.end_other_sessions,
            methods=POST,
            name="account_end_other_sessions",
        ),
        Route(
            "/account/logout-everywhere",
            account.logout_everywhere,
            methods=POST,
            name="account_logout_everywhere",
        ),
    ]


def account_token_routes() -> list[BaseRoute]:
    """The account's API tokens, "access keys for apps" (webapp.accounts.views.account_tokens)."""
    return [
        Route("/account/tokens", token_views.tokens_page, methods=GET, name="account_tokens"),
        Route(
            "/account/tokens/new",
            token_views.create_token,
            methods=POST,
            name="account_create_token",
        ),
        Route(
            "/account/tokens/{token_id:int}/revoke",
            token_views.revoke_token,
            methods=POST,
            name="account_revoke_token",
        ),
    ]


def moderation_routes() -> list[BaseRoute]:
    """Reports, hiding, blocking (views.moderation_queue) and the signal review."""
    return [
        Route(
            "/moderation/reports", mod_queue.reports_queue, methods=GET, name="moderation_reports"
        ),
        Route("/moderation/hidden", mod_queue.hidden, methods=GET, name="moderation_hidden"),
        Route("/moderation/blocked", mod_queue.blocked, methods=GET, name="moderation_blocked"),
        Route(
            "/moderation/ideas/{idea_id:int}/hide",
            mod_queue.hide_idea,
            methods=POST,
            name="moderation_hide_idea",
        ),
        Route(
            "/moderation/ideas/{idea_id:int}/unhide",
            mod_queue.unhide_idea,
            methods=POST,
            name="moderation_unhide_idea",
        ),
        Route(
            "/moderation/ideas/{idea_id:int}/dismiss-reports",
            mod_queue.dismiss_idea_reports,
            methods=POST,
            name="moderation_dismiss_idea",
        ),
        Route(
            "/moderation/comments/{comment_id:int}/hide",
            mod_queue.hide_comment,
            methods=POST,
            name="moderation_hide_comment",
        ),
        Route(
            "/moderation/comments/{comment_id:int}/unhide",
            mod_queue.unhide_comment,
            methods=POST,
            name="moderation_unhide_comment",
        ),
        Route(
            "/moderation/comments/{comment_id:int}/dismiss-reports",
            mod_queue.dismiss_comment_reports,
            methods=POST,
            name="moderation_dismiss_comment",
        ),
        Route(
            "/moderation/users/{user_id:int}/block",
            mod_queue.block_user,
            methods=POST,
            name="moderation_block_user",
        ),
        Route(
            "/moderation/users/{user_id:int}/unblock",
            mod_queue.unblock_user,
            methods=POST,
            name="moderation_unblock_user",
        ),
        Route("/moderation/signals", signal_views.signals, methods=GET, name="moderation_signals"),
        Route(
            "/moderation/signals/{idea_id:int}/confirm",
            signal_views.confirm,
            methods=POST,
            name="moderation_signals_confirm",
        ),
        Route(
            "/moderation/signals/{idea_id:int}/lift",
            signal_views.lift,
            methods=POST,
            name="moderation_signals_lift",
        ),
    ]


def officials_routes() -> list[BaseRoute]:
    """The officials' dashboard, overdue list, idea pages with the answer form, themes, export."""
    return [
        Route("/officials", official_views.dashboard, methods=GET, name="officials"),
        Route("/officials/overdue", official_views.overdue, methods=GET, name="officials_overdue"),
        Route(
            "/officials/themes", official_views.themes_page, methods=GET, name="officials_themes"
        ),
        Route(
            "/officials/shortlist.csv",
            official_views.shortlist_csv,
            methods=GET,
            name="officials_shortlist_csv",
        ),
        Route(
            "/officials/ideas/{idea_id:int}", official_views.idea, methods=GET, name="official_idea"
        ),
        Route(
            "/officials/ideas/{idea_id:int}/status",
            official_views.answer,
            methods=POST,
            name="official_answer",
        ),
    ]
