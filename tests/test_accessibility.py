"""Every form control on every page has an accessible name; pages are responsive and skippable."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

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
        if tag in {"input", "select", "textarea"} and a.get("type") not in {"hidden", "submit"}:
            self.controls.append(a)


@pytest.mark.parametrize("role", [None, "citizen", "admin"])
def test_every_control_has_a_label(
    app: Starlette, session_factory: sessionmaker[Session], role: str | None
) -> None:
    pages = ["/", "/login", "/register", "/nope"]
    with Browser(app) as b:
        if role:
            make_user(session_factory, f"{role}@example.org", role=role)
            b.login(f"{role}@example.org")
            pages += ["/ideas/new", "/my/ideas"]
            if role == "admin":
                pages += ["/admin/categories", "/admin/districts", "/admin/audit"]
        for url in pages:
            html = b.get(url).text
            parser = Controls()
            parser.feed(html)
            for control in parser.controls:
                named = control.get("aria-label") or (control.get("id") in parser.labels)
                assert named, (url, control)
            assert 'name="viewport"' in html
            assert 'class="skip-link"' in html
