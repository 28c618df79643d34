"""No one's poll answer leaks: every GET route of the app, page and API, as every role.

One resident answers two polls (one closed, one open with live results) with a free-text "other"
answer no one else writes and a pattern of choices. Every GET route the app lists (the pages and
the ``/api/v1`` operations, parameterised ones opened with the polls' ids and the resident's
ids) is requested as an official, a moderator, an admin, another resident and a visitor: the
free text never appears, and no answer that names the resident (display name or e-mail) also
shows the polls. The resident's own poll pages and "my answer" operation do show the text: the
check can see it where it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.routing import Mount, Route

from tests.a11y_support import CITY_TZ, PARAM, PARK_QUESTIONS, park_answer, poll_form
from tests.helpers import PASSWORD, Browser, make_user
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Notification
from webapp.polls import answering, polls

API = "/api/v1"
SECRET = "тайный-ответ-q1-9d41e7"
NAME = "Зоя Приватнова-Уникальная"
EMAIL = "zoya.private@example.org"
ROLES = ("official", "moderator", "admin", "citizen", "anonymous")
SKIP = ("/static/", "/media/")


def _plant(session_factory: Any) -> dict[str, Any]:
    """The polls (made by an official through the use-cases) and the answers."""
    official = make_user(session_factory, "official@example.org", role="official")
    for role in ("moderator", "admin", "citizen"):
        make_user(session_factory, f"{role}@example.org", role=role)
    resident = make_user(session_factory, EMAIL, name=NAME)
    others = [make_user(session_factory, f"other{n}@example.org") for n in range(3)]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with transaction(session_factory) as s:
        closed = polls.save_poll(
            s,
            official.id,
            None,
            poll_form(
                "Нужен ли парк?", "A park?", now - timedelta(days=9), now - timedelta(days=1)
            ),
            CITY_TZ,
            now=now - timedelta(days=10),
        )
        live = polls.save_poll(
            s,
            official.id,
            None,
            poll_form(
                "Какой сквер?", "Which square?", now - timedelta(days=1), now + timedelta(days=9)
            )
            | {"results_live": "on"},
            CITY_TZ,
        )
        for poll_id in (closed, live):
            for question in PARK_QUESTIONS:
                polls.add_question(s, official.id, poll_id, question)
    with transaction(session_factory) as s:
        for poll_id, when in ((closed, now - timedelta(days=5)), (live, now)):
            detail = polls.poll_detail(s, poll_id)
            answering.submit(s, resident, poll_id, park_answer(detail, 7, SECRET), now=when)
            for n, other in enumerate(others):
                answering.submit(s, other, poll_id, park_answer(detail, n), now=when)
        notification = s.scalar(select(func.max(Notification.id)))
    return {
        "resident": resident.id,
        "poll_id": [str(closed), str(live)],
        "notification_id": str(notification or 1),
    }


def _urls(app: Any, planted: dict[str, Any]) -> list[str]:
    """Every GET route of the app and of its API, each poll route once per poll."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Mount) and route.path == API:
            found += [
                (API, r.path)
                for r in route.routes
                if isinstance(r, Route) and "GET" in (r.methods or set())
            ]
        elif isinstance(route, Route) and "GET" in (route.methods or set()):
            found.append(("", route.path))
    urls: list[str] = []
    for prefix, path in found:
        if path.startswith(SKIP):
            continue
        for poll_id in planted["poll_id"]:
            values = {
                "poll_id": poll_id,
                "user_id": str(planted["resident"]),
                "notification_id": planted["notification_id"],
            }
            url = PARAM.sub(lambda m, v=values: v.get(m.group(1), "1"), path)  # type: ignore[misc]
            urls.append(prefix + url)
            if "{poll_id" not in path:
                break
    return sorted(set(urls))


def _client(app: Any, role: str) -> tuple[Browser, dict[str, str]]:
    """A browser signed in as ``role`` (none for a visitor) and its API token's header."""
    client = Browser(app)
    if role == "anonymous":
        return client, {}
    email = EMAIL if role == "resident" else f"{role}@example.org"
    client.login(email)
    token = Browser(app).post(f"{API}/tokens", json={"email": email, "password": PASSWORD})
    assert token.status_code == 201, token.text
    return client, {"authorization": f"Bearer {token.json()['token']}"}


def _leaks(body: str, poll_words: list[str]) -> list[str]:
    found = []
    if SECRET in body:
        found.append("the free-text answer")
    if (NAME in body or EMAIL in body) and any(w in body for w in poll_words):
        found.append("the resident's name beside the polls")
    return found


def test_no_route_shows_a_residents_answer_to_anyone_else(app: Any, session_factory: Any) -> None:
    planted = _plant(session_factory)
    urls = _urls(app, planted)
    assert any(u.startswith(f"{API}/polls/") for u in urls), urls
    assert any(u.endswith("/results.csv") for u in urls), urls
    poll_words = ["Нужен ли парк?", "Какой сквер?", "A park?", "Which square?"]
    poll_words += [line for q in PARK_QUESTIONS for line in q.get("options_ru", "").split("\n")]
    problems: list[str] = []
    answered = 0
    for role in ROLES:
        client, headers = _client(app, role)
        for url in urls:
            response = client.get(
                url, headers={**headers, "Accept-Language": "ru"} if url.startswith(API) else {}
            )
            assert response.status_code < 500, f"{role} {url}: HTTP {response.status_code}"
            answered += response.status_code == 200
            problems += [f"{role} {url}: {leak}" for leak in _leaks(response.text, poll_words)]
    assert not problems, problems
    assert answered > len(urls), "hardly any route answered: the sweep saw nothing"


def test_the_resident_sees_their_own_answer(app: Any, session_factory: Any) -> None:
    """The control: the same check finds the text where it belongs (the resident's own pages)."""
    planted = _plant(session_factory)
    client, headers = _client(app, "resident")
    for poll_id in planted["poll_id"]:
        assert SECRET in client.get(f"/polls/{poll_id}").text
        mine = client.get(f"{API}/polls/{poll_id}/answer", headers=headers)
        assert mine.status_code == 200 and SECRET in mine.text, mine.text[:300]
