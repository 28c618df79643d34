"""Property-based fuzzing of every HTML form (hypothesis): no 5xx, no stored garbage, no raw script.

The POST routes come from the app's route table, so a new form is fuzzed without a change here;
the field names come from the templates (every ``name="..."``). Each example starts from a valid
form (a CSRF token and plausible values for every field), replaces a few fields with hostile
values — oversized strings, NUL and other controls, bidi overrides, zero-width characters,
homoglyph spam, markup and script, SQL metacharacters, huge, negative and non-numeric ids — and
sends it as a urlencoded body (percent-encoded, or raw bytes that are not UTF-8) or as multipart,
to a real or an unknown id, signed in with a role that may use the form. Every answer must be
below 500; afterwards no stored text holds garbage and the pages that show stored text show user
markup only escaped.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.routing import Mount, Route

from tests.conftest import _empty_tables as empty_tables
from tests.fuzz_helpers import HOSTILE_TEXTS, assert_no_raw_script, assert_no_stored_garbage
from tests.helpers import PASSWORD, Browser, make_user
from tests.merge_helpers import add_comment, add_idea, quick_user
from webapp.app import create_app
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, District, Idea, Notification

TEMPLATES = Path(__file__).resolve().parents[1] / "webapp"
# "account" last: its forms log the citizen out (everywhere) and change the password.
FAMILIES = ("auth", "ideas", "notifications", "moderation", "officials", "admin", "account")
EXAMPLES = 50  # per route family
ROLE_OF_PREFIX = {
    "/admin/": "admin",
    "/moderation/": "moderator",
    "/officials/": "official",
    "/register": "anonymous",
    "/login": "anonymous",
    "/logout": "anonymous",
}
PATH_PARAM = re.compile(r"\{(\w+):id\}")

LOOKALIKES = "аеорсхуАВЕКМНОРСТХaeopcxyABEKMHOPCTX"
INVISIBLE_AND_BIDI = (
    "\u202e\u202d\u202a\u2066\u2067\u2069\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff\u00ad"
)
HOSTILE_IDS = ["0", "-1", "1.5", "1e3", "abc", " 7", "0x10", str(2**31), str(2**63), str(10**30)]


def family_of(path: str) -> str:
    for family in ("admin", "moderation", "officials", "notifications", "account"):
        if path.startswith(f"/{family}"):
            return family
    if path in ("/register", "/login", "/logout", "/language"):
        return "auth"
    return "ideas"


def role_of(path: str) -> str:
    return next((r for p, r in ROLE_OF_PREFIX.items() if path.startswith(p)), "citizen")


def form_routes(app: Any) -> list[str]:
    """Every POST route outside the JSON API, as its path template (``/ideas/{idea_id:id}/…``)."""
    return [
        r.path
        for r in app.routes
        if isinstance(r, Route) and "POST" in (r.methods or set()) and not isinstance(r, Mount)
    ]


def template_fields() -> tuple[list[str], list[str]]:
    """Field names in the templates' forms, and the prefixes of per-id names (``merge-{{ id }}``)."""
    names: set[str] = set()
    prefixes: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        for name in re.findall(r'name="([^"]+)"', path.read_text(encoding="utf-8")):
            if "{{" not in name:
                names.add(name)
            elif not name.startswith("{{"):
                prefixes.add(name.split("{{", 1)[0])
    names.discard("csrf_token")
    names.discard("viewport")
    return sorted(names), sorted(prefixes)


def hostile_values(ids: list[int]) -> st.SearchStrategy[str | bytes]:
    """Values no form should choke on."""
    numbers = st.integers(min_value=-(2**70), max_value=2**70).map(str)
    return st.one_of(
        st.sampled_from(HOSTILE_TEXTS),
        st.sampled_from(HOSTILE_IDS),
        numbers,
        st.sampled_from([str(i) for i in ids]),
        st.text(alphabet=LOOKALIKES + " ", min_size=3, max_size=40),
        st.text(alphabet="Парк Wi-Fi " + INVISIBLE_AND_BIDI, min_size=1, max_size=40),
        st.text(max_size=60),  # any code point but surrogates
        st.binary(max_size=40),  # raw bytes: mostly not UTF-8
        st.sampled_from([b"\xff\xfe\x00", b"\xed\xa0\x80", b"\xcf\xe0\xf0\xea", b"\xc3"]),
        st.just("Ы" * 120_000),  # over VECHE_MAX_BODY_BYTES once encoded
    )


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def encode(fields: dict[str, str | bytes], how: str) -> tuple[bytes, str]:
    """The body and its content type: percent-encoded, raw bytes, or multipart."""
    if how == "multipart":
        parts = [
            b'--fuzz\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + b'"\r\n\r\n'
            + _bytes(value)
            + b"\r\n"
            for name, value in fields.items()
        ]
        return b"".join(parts) + b"--fuzz--\r\n", "multipart/form-data; boundary=fuzz"
    if how == "raw":
        pairs = [name.encode() + b"=" + _bytes(value) for name, value in fields.items()]
    else:
        pairs = [
            name.encode() + b"=" + quote_from_bytes(_bytes(value), safe="").encode()
            for name, value in fields.items()
        ]
    return b"&".join(pairs), "application/x-www-form-urlencoded"


@dataclasses.dataclass
class World:
    """Signed-in browsers per role, and the ids worth aiming at."""

    browsers: dict[str, Browser]
    csrf: dict[str, str]
    ids: dict[str, list[int]]
    valid: dict[str, str]


@pytest.fixture(scope="module")
def fuzz_app(database_url: str) -> Iterator[Any]:
    """One app for the module, with limits no fuzzing run reaches (they have their own tests)."""
    empty_tables(database_url)
    settings = Settings(
        database_url=database_url,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        login_rate_limit=10**6,
        write_rate_limit=10**6,
        similar_rate_limit=10**6,
        embedding_model="hashing-char-ngrams",
    )
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="module")
def world(fuzz_app: Any) -> Iterator[World]:
    """Signed-in browsers and the ids to aim at, built once: the families share them."""
    session_factory = fuzz_app.state.session_factory
    roles = ("citizen", "moderator", "official", "admin")
    browsers = {"anonymous": Browser(fuzz_app, raise_server_exceptions=False)}
    users = {}
    for role in roles:
        users[role] = make_user(session_factory, f"fuzz-{role}@example.org", role=role)
        browsers[role] = Browser(fuzz_app, raise_server_exceptions=False)
    for b in browsers.values():
        b.__enter__()
    # The similarity service loads its model in a thread at start-up; its imports (sklearn,
    # rich) call the random module, which hypothesis reports as a flaky strategy when it
    # happens while an example is drawn. Let it finish before fuzzing.
    assert fuzz_app.state.similarity.wait_ready(120)
    try:
        for role in roles:
            browsers[role].login(f"fuzz-{role}@example.org")
        # Markup in stored text from the start, so the page check always has something to check.
        author = quick_user(session_factory, "<b>Автор</b>")
        victim = quick_user(session_factory, "Жертва")
        ideas = [
            add_idea(session_factory, f"<script>alert(1)</script> Идея {n}", author)
            for n in range(3)
        ]
        comments = [
            add_comment(session_factory, ideas[0], author, '"><img src=x onerror=alert(1)>')
        ]
        with transaction(session_factory) as s:
            category = s.scalar(select(Category.id).order_by(Category.id))
            district = s.scalar(select(District.id).order_by(District.id))
            for user in (author, users["citizen"]):
                s.add(Notification(user_id=user.id, kind="status", idea_id=ideas[0], data={}))
            s.flush()
            notifications = list(s.scalars(select(Notification.id)))
        ids = {
            "idea_id": ideas,
            "comment_id": comments,
            "user_id": [victim.id, author.id],
            "notification_id": notifications,
            "group_id": [1],
            "merge_id": [1],
        }
        valid = {
            "title": "Скамейки у пруда в сквере",
            "body": "Поставить скамейки и урны вдоль пруда в сквере у дома 7А.",
            "category_id": str(category),
            "district_id": str(district),
            "reason": "Спам и реклама",
            "status": "under_review",
            "email": "new-user@example.org",
            "password": PASSWORD,
            "display_name": "Новый житель",
            "lang": "en",
            "slug": "fuzz-category",
            "name_ru": "Проверка",
            "name_en": "Check",
            "canonical": str(ideas[1]),
            "target_id": str(ideas[1]),
            "idea": str(ideas[1]),
            "comment_id": str(comments[0]),
            "email_notifications": "1",
            "confirm_similar": "1",
            "back": "/",
            "next": "/",
        }
        csrf = {role: b.csrf() for role, b in browsers.items()}
        yield World(browsers, csrf, ids, valid)
    finally:
        for b in browsers.values():
            b.__exit__(None, None, None)


def test_every_form_route_belongs_to_a_fuzzed_family(app: Any) -> None:
    routes = form_routes(app)
    assert len(routes) >= 30
    assert {family_of(p) for p in routes} <= set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_hostile_form_input_never_breaks_the_site(fuzz_app: Any, world: World, family: str) -> None:
    session_factory = fuzz_app.state.session_factory
    routes = [p for p in form_routes(fuzz_app) if family_of(p) == family]
    names, prefixes = template_fields()
    every_id = sorted({i for ids in world.ids.values() for i in ids})
    hostile = hostile_values(every_id)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        route=st.sampled_from(routes),
        data=st.data(),
        how=st.sampled_from(["urlencoded", "raw", "multipart"]),
    )
    def run(route: str, data: st.DataObject, how: str) -> None:
        def path_value(match: re.Match[str]) -> str:
            known = world.ids.get(match.group(1), [1])
            choices = [str(i) for i in known] + ["0", str(2**31), str(10**30), "99999999"]
            return data.draw(st.sampled_from(choices), label=match.group(1))

        url = PATH_PARAM.sub(path_value, route)
        role = role_of(route)
        # Signing up or in changes the anonymous browser's session, so it asks for a fresh token.
        token = world.browsers[role].csrf() if role == "anonymous" else world.csrf[role]
        fields: dict[str, str | bytes] = {"csrf_token": token, **world.valid}
        for prefix in prefixes:
            fields[f"{prefix}{data.draw(st.sampled_from(every_id))}"] = "1"
        # Each field turns hostile with the same chance, drawn per example: a few fields (the
        # rest of the form stays valid, so the hostile one is what decides) up to nearly all.
        percent = data.draw(st.sampled_from([10, 35, 80]), label="percent hostile")
        for name in names:
            if data.draw(st.integers(0, 99)) < percent:
                fields[name] = data.draw(hostile, label=name)
        body, content_type = encode(fields, how)
        response = world.browsers[role].post(
            url, content=body, headers={"content-type": content_type}
        )
        assert response.status_code < 500, (url, how, fields, response.text[:500])

    run()
    assert_no_stored_garbage(session_factory)
    assert_pages_escape_stored_text(world, session_factory)


def assert_pages_escape_stored_text(world: World, session_factory: Any) -> None:
    """Every page that shows stored text shows user markup escaped."""
    with transaction(session_factory) as s:
        ideas = list(s.scalars(select(Idea.id)))
    pages = [
        "/",
        "/?sort=new",
        "/my/ideas",
        "/notifications",
        "/moderation/reports",
        "/moderation/hidden",
        "/moderation/blocked",
        "/moderation/merges",
        "/moderation/duplicates",
        "/moderation/signals",
        "/officials",
        "/admin/audit",
        "/admin/categories",
        "/admin/districts",
        *(f"/ideas/{i}" for i in ideas),
        *(f"/officials/ideas/{i}" for i in ideas),
    ]
    for page in pages:
        role = "citizen" if page.startswith(("/my/", "/notifications")) else "admin"
        browser = world.browsers[role]
        response = browser.get(page)
        assert response.status_code < 500, (page, response.text[:500])
        assert_no_raw_script(response.text, where=page)
