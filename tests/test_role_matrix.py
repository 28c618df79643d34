"""The whole role × route matrix: every privileged page and API endpoint refuses roles that may not use it.

The routes are read from the app itself, so a privileged route added later is covered without
editing this file: a page under ``/admin``, ``/moderation`` or ``/officials`` and an API operation
with a ``permission`` must answer 403 to every signed-in role that lacks the permission (and send
an anonymous visitor to the login page — 303, or 401 for a form post and the API), whatever the method, and must not
answer 403 to the roles that hold it. A route that needs a permission but lives elsewhere is named
in ``EXTRA`` below. The per-project expert role (the review pages and the evaluation API) has a
test of its own at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from tests.helpers import Browser, make_user
from tests.project_helpers import make_project, make_project_idea
from webapp.api import OPERATIONS
from webapp.kernel.security import PERMISSIONS

ROLES = ("citizen", "moderator", "official", "admin")
PREFIXES = {"/admin": "administer", "/moderation": "moderate", "/officials": "answer"}
# Privileged routes outside the prefixes above: path -> permission.
EXTRA: dict[str, str] = {}
PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")


def _concrete(path: str) -> str:
    """A path with every parameter filled in (1: the check must come before any lookup)."""
    return PARAM.sub("1", path)


def _page_routes(app: Any) -> list[tuple[str, str, str]]:
    """(method, concrete path, permission) for every privileged page route."""
    out = []
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        permission = EXTRA.get(route.path) or next(
            (
                p
                for prefix, p in PREFIXES.items()
                if route.path == prefix or route.path.startswith(prefix + "/")
            ),
            None,
        )
        if permission is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            out.append((method, _concrete(route.path), permission))
    return out


def _api_routes() -> list[tuple[str, str, str]]:
    return [
        (op.method, "/api/v1" + _concrete(op.path), op.permission)
        for op in OPERATIONS
        if op.permission is not None and op.permission not in ("submit", "vote", "comment")
    ]


def test_the_matrix_covers_the_privileged_areas(app: Starlette) -> None:
    pages = _page_routes(app)
    covered = {path for _, path, _ in pages}
    assert any(p.startswith("/admin/") for p in covered)
    assert any(p.startswith("/moderation/") for p in covered)
    assert "/officials" in covered
    # Every route of the app is either public, or privileged and in the matrix.
    mounted = [r for r in app.routes if isinstance(r, Mount)]
    assert {m.path for m in mounted} >= {"/api/v1", "/static"}


@pytest.fixture
def role_browsers(
    app: Starlette, session_factory: sessionmaker[Session]
) -> Iterator[dict[str, Browser]]:
    browsers: dict[str, Browser] = {}
    names = {"citizen": "Ivan", "moderator": "Maria", "official": "Oleg", "admin": "Anna"}
    for role in ROLES:
        make_user(session_factory, f"{role}@example.org", role=role, name=names[role])
        b = Browser(app)
        b.__enter__()
        b.login(f"{role}@example.org")
        browsers[role] = b
    anonymous = Browser(app)
    anonymous.__enter__()
    browsers["anonymous"] = anonymous
    yield browsers
    for b in browsers.values():
        b.__exit__(None, None, None)


def _call(b: Browser, method: str, path: str, api: bool) -> int:
    if api:
        headers = {"accept": "application/json", "x-csrf-token": b.csrf()}
        response = b.request(method, path, headers=headers, json={})
    elif method == "GET":
        response = b.get(path)
    else:
        response = b.submit(path, {}) if method == "POST" else b.request(method, path)
    return int(response.status_code)


def test_every_privileged_page_refuses_roles_without_the_permission(
    app: Starlette, role_browsers: dict[str, Browser]
) -> None:
    failures = []
    for method, path, permission in _page_routes(app):
        allowed = PERMISSIONS[permission]
        for role in ROLES:
            status = _call(role_browsers[role], method, path, api=False)
            if role in allowed and status == 403:
                failures.append(f"{role} {method} {path}: 403 but the role may {permission}")
            if role not in allowed and status != 403:
                failures.append(f"{role} {method} {path}: {status}, expected 403")
        status = _call(role_browsers["anonymous"], method, path, api=False)
        if status not in (303, 401, 403):
            failures.append(f"anonymous {method} {path}: {status}, expected login (303/401) or 403")
    assert not failures, "\n".join(failures)


def test_every_privileged_api_operation_refuses_roles_without_the_permission(
    role_browsers: dict[str, Browser],
) -> None:
    failures = []
    for method, path, permission in _api_routes():
        allowed = PERMISSIONS[permission]
        for role in ROLES:
            status = _call(role_browsers[role], method, path, api=True)
            if role in allowed and status == 403:
                failures.append(f"{role} {method} {path}: 403 but the role may {permission}")
            if role not in allowed and status != 403:
                failures.append(f"{role} {method} {path}: {status}, expected 403")
        status = _call(role_browsers["anonymous"], method, path, api=True)
        if status != 401:
            failures.append(f"anonymous {method} {path}: {status}, expected 401")
    assert not failures, "\n".join(failures)


# --- the per-project expert role ------------------------------------------------------------------
# An expert is a user assigned to one project (ProjectExpert), not a users.role value: the review
# pages and the evaluation API let through that project's experts, officials and admins, and
# refuse an expert of another project, a plain citizen and a moderator.

EXPERT_PAGE = re.compile(r"^/projects/\{project_id(?::[a-z]+)?\}/review")
EXPERT_API = re.compile(r"^/projects/\{project_id\}/ideas/\{idea_id\}/evaluation$")
EVALUATION = {"feasible": "yes", "cost": 100_000, "department": "Департамент ЖКХ"}


def _fill(path: str, ids: dict[str, int]) -> str:
    return PARAM.sub(lambda m: str(ids[m.group(1)]), path)


def _expert_routes(app: Any, ids: dict[str, int]) -> list[tuple[str, str, bool]]:
    """(method, concrete path, is API) for every route that needs the per-project expert role."""
    out = []
    for route in app.routes:
        if isinstance(route, Route) and EXPERT_PAGE.match(route.path):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                out.append((method, _fill(route.path, ids), False))
    for op in OPERATIONS:
        if EXPERT_API.match(op.path):
            out.append((op.method, "/api/v1" + _fill(op.path, ids), True))
    return out


def test_the_review_routes_admit_the_projects_experts_officials_and_admins_only(
    app: Starlette, session_factory: sessionmaker[Session], role_browsers: dict[str, Browser]
) -> None:
    expert = make_user(session_factory, "expert@example.org", name="Vera")
    stranger = make_user(session_factory, "stranger@example.org", name="Gleb")
    project = make_project(
        session_factory, current="review", voting="knapsack", experts=(expert.id,)
    )
    make_project(session_factory, current="review", experts=(stranger.id,), slug="other")
    idea = make_project_idea(session_factory, project, "Скамейки у пруда")
    routes = _expert_routes(app, {"project_id": project, "idea_id": idea})
    assert {(m, api) for m, _, api in routes} >= {("GET", False), ("POST", False), ("PUT", True)}
    browsers = dict(role_browsers)
    for name, email in (("expert", expert.email), ("other expert", stranger.email)):
        b = Browser(app)
        b.__enter__()
        b.login(email)
        browsers[name] = b
    allowed = {"expert", "official", "admin"}
    failures = []
    for method, path, api in routes:
        for who in ("expert", "other expert", *ROLES):
            b = browsers[who]
            if api:
                headers = {"accept": "application/json", "x-csrf-token": b.csrf()}
                status = b.request(method, path, headers=headers, json=EVALUATION).status_code
            elif method == "GET":
                status = b.get(path).status_code
            else:
                status = b.submit(path, {"feasible": "yes", "cost": "100 000"}).status_code
            if who in allowed and status in (401, 403):
                failures.append(f"{who} {method} {path}: {status} but may review")
            if who not in allowed and status != 403:
                failures.append(f"{who} {method} {path}: {status}, expected 403")
        anonymous = browsers["anonymous"]
        if api:
            status = anonymous.request(method, path, json=EVALUATION).status_code
        else:
            status = (
                anonymous.get(path) if method == "GET" else anonymous.submit(path)
            ).status_code
        if status not in ((401,) if api else (303, 401, 403)):
            failures.append(f"anonymous {method} {path}: {status}, expected login")
    for name in ("expert", "other expert"):
        browsers[name].__exit__(None, None, None)
    assert not failures, "\n".join(failures)
