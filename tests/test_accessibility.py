"""Every form control on every page has an accessible name; pages are responsive and skippable.

The pages are read from the app's routes (tests/a11y_support.py), so a new one is covered; the
browser checks (axe-core, phone layout) are tests/test_browser_a11y.py and test_phone_layout.py.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.a11y_support import EXTRA_PAGES, plain_pages
from tests.helpers import Browser, make_user


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labels: set[str] = set()
        self.controls: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"] or "")
        # Not rendered (type=hidden, or the hidden attribute: a user name for password managers)
        shown = a.get("type") not in {"hidden", "submit"} and "hidden" not in a
        if tag in {"input", "select", "textarea"} and shown:
            self.controls.append(a)


@pytest.mark.parametrize("role", [None, "citizen", "moderator", "official", "admin"])
def test_every_control_has_a_label(
    app: Starlette, session_factory: sessionmaker[Session], role: str | None
) -> None:
    """Every page without parameters (read from the routes) that the role may open."""
    checked = []
    with Browser(app) as b:
        if role:
            make_user(session_factory, f"{role}@example.org", role=role)
            b.login(f"{role}@example.org")
        for url in plain_pages(app):
            response = b.get(url)
            if response.status_code != 200 and url not in EXTRA_PAGES:
                continue  # not this role's page (403, or a redirect to log in)
            checked.append(url)
            html = response.text
            parser = Controls()
            parser.feed(html)
            for control in parser.controls:
                named = control.get("aria-label") or (control.get("id") in parser.labels)
                assert named, (url, control)
            assert 'name="viewport"' in html
            assert 'class="skip-link"' in html
    assert "/" in checked and "/no-such-page" in checked
    if role == "admin":
        assert {"/ideas/new", "/admin/districts", "/admin/audit", "/officials"} <= set(checked)
