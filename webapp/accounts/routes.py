"""The accounts pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.accounts.views import account, auth, logins
from webapp.accounts.views import account_tokens as token_views
from webapp.kernel.routing import BOTH, GET, POST


def routes() -> list[BaseRoute]:
    return [
        Route("/register", auth.register, methods=BOTH, name="register"),
        Route("/register/sent", auth.register_sent, methods=GET, name="register_sent"),
        Route(  # GET asks for the password, POST creates the account (views.auth)
            "/register/confirm/{token}", auth.confirm_email, methods=BOTH, name="confirm_email"
        ),
        Route("/login", auth.login, methods=BOTH, name="login"),
        Route("/logout", auth.logout, methods=POST, name="logout"),
        Route("/language", auth.set_language, methods=POST, name="set_language"),
        Route("/admin/logins", logins.login_log, methods=GET, name="admin_logins"),
        Route("/admin/logins.csv", logins.login_log_csv, methods=GET, name="admin_logins_csv"),
        Route("/account/security", account.security, methods=GET, name="account_security"),
        Route("/account/password", account.change_password, methods=POST, name="account_password"),
        Route(
            "/account/sessions/{session_id:id}/end",
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
        Route("/account/tokens", token_views.tokens_page, methods=GET, name="account_tokens"),
        Route(
            "/account/tokens/new",
            token_views.create_token,
            methods=POST,
            name="account_create_token",
        ),
        Route(
            "/account/tokens/{token_id:id}/revoke",
            token_views.revoke_token,
            methods=POST,
            name="account_revoke_token",
        ),
    ]
