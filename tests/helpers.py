"""Test helpers: a browser-like client that keeps cookies and fills in CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from webapp.accounts import users as users_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(
    session_factory: Any,
    email: str,
    role: str = "citizen",
    password: str = PASSWORD,
    name: str | None = None,
    verified: bool = False,
) -> CurrentUser:
    with transaction(session_factory) as session:
        return users_service.register(
            session,
            email=email,
            display_name=name or email.split("@")[0].title(),
            password=password,
            role=role,
            verified_resident=verified,
        )


class Browser(TestClient):
    """A TestClient that behaves like a user's browser: cookies, CSRF tokens, no auto-redirects."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        kwargs.setdefault("follow_redirects", False)
        super().__init__(app, **kwargs)

    def csrf(self) -> str:
        page = self.get("/login" if "veche_session" not in self.cookies else "/")
        match = CSRF_RE.search(page.text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def submit(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form the way the page would: with the session's CSRF token."""
        payload = {"csrf_token": self.csrf(), **(data or {})}
        return self.post(url, data=payload, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> Any:
        response = self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text[:500]
        return response
