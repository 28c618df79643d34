"""Regression tests for the smaller findings of the outside security test (issue 12).

Each test here failed on the code before the fix (docs/security.md, "Findings of the outside
test" lists every finding with its fix and its tests).
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.officials_helpers import add_idea, logged_in
from webapp.app import create_app
from webapp.kernel.settings import Settings


def test_an_official_cannot_read_a_hidden_idea(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    hidden = add_idea(session_factory, "Спрятанная идея про парк", status="hidden")
    shown = add_idea(session_factory, "Открытая идея про парк")
    official = logged_in(app, session_factory, "official")
    try:
        assert official.get(f"/officials/ideas/{hidden}").status_code == 404
        assert official.get(f"/officials/ideas/{shown}").status_code == 200
    finally:
        official.__exit__(None, None, None)
    admin = logged_in(app, session_factory, "admin")
    try:  # admins moderate: they still see it, with the notice that it is hidden
        page = admin.get(f"/officials/ideas/{hidden}")
        assert page.status_code == 200
        assert "Спрятанная идея про парк" in page.text
    finally:
        admin.__exit__(None, None, None)


def test_api_links_use_the_configured_address_not_the_host_header(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    from dataclasses import replace

    from tests.helpers import Browser

    app = create_app(replace(settings, base_url="https://veche.example.ru"))
    idea = add_idea(session_factory, "Идея для проверки ссылок")
    try:
        with Browser(app) as client:
            got = client.get(f"/api/v1/ideas/{idea}", headers={"host": "evil.example.com"})
            assert got.status_code == 200
            data = got.json()
            assert data["url"] == f"https://veche.example.ru/api/v1/ideas/{idea}"
            assert data["html_url"] == f"https://veche.example.ru/ideas/{idea}"
            assert "evil.example.com" not in got.text
            listing = client.get("/api/v1/ideas", headers={"host": "evil.example.com"})
            assert "evil.example.com" not in listing.text
    finally:
        app.state.engine.dispose()
