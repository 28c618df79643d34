"""The officials' dashboard, overdue list, votes chart, themes, CSV export and API (real databases)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.browser_support import chromium, requires_chromium, serve
from tests.helpers import PASSWORD, Browser, make_user
from tests.officials_helpers import (
    add_idea,
    category,
    district,
    logged_in,
    merge_into,
    officials_settings,
    vote,
    voters,
)
from tests.similarity_helpers import vectors
from tests.test_accessibility import Controls
from tests.test_api import bearer, conforms, error_of
from webapp.app import create_app
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, Vote, utcnow
from webapp.officials import officials, responses, vote_chart
from webapp.officials.views import chart as chart_view

NOW = utcnow()
DAY = timedelta(days=1)


@pytest.fixture
def app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(officials_settings(settings))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def official(app: Starlette, session_factory: sessionmaker[Session]) -> Iterator[Browser]:
    b = logged_in(app, session_factory, "official")
    yield b
    b.__exit__(None, None, None)


def _clock(factory: Any, idea_id: int) -> datetime | None:
    with transaction(factory) as s:
        return s.scalar(select(Idea.threshold_reached_at).where(Idea.id == idea_id))


def _rows(app: Any, flt: officials.DashboardFilter, now: datetime | None = None) -> list[Any]:
    ranking = app.state.ranking
    ranking.rebuild()
    with transaction(app.state.session_factory) as s:
        rows, _ = officials.dashboard(s, ranking, app.state.settings, flt, 1, 50, now)
    return rows


# --- who may see it ---------------------------------------------------------------------------

PAGES = [
    "/officials",
    "/officials/overdue",
    "/officials/themes",
    "/officials/shortlist.csv",
    "/officials/ideas/{idea}",
]


def test_every_officials_page_is_403_for_citizens_and_moderators(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Скамейки на бульваре")
    for role, expected in (("citizen", 403), ("moderator", 403), ("official", 200), ("admin", 200)):
        b = logged_in(app, session_factory, role)
        try:
            for url in PAGES:
                assert b.get(url.format(idea=idea)).status_code == expected, (role, url)
            assert ('<a href="/officials">' in b.get("/").text) == (expected == 200), role
        finally:
            b.__exit__(None, None, None)
    with Browser(app) as anonymous:
        for url in PAGES:
            response = anonymous.get(url.format(idea=idea))
            assert response.status_code == 303 and "/login" in response.headers["location"]


def test_officials_see_the_menu_link_and_every_control_has_a_label(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    idea = add_idea(session_factory, "Скамейки на бульваре")
    for url in (
        "/officials",
        "/officials/overdue",
        "/officials/themes",
        f"/officials/ideas/{idea}",
    ):
        html = official.get(url).text
        assert re.search(r'<a href="/officials"[ >]', html)  # the menu link
        parser = Controls()
        parser.feed(html)
        for control in parser.controls:
            assert control.get("aria-label") or control.get("id") in parser.labels, (url, control)


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_ranks_by_scheme_with_distinct_supporters(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    strong = add_idea(session_factory, "Сильная идея про парк")
    weak = add_idea(session_factory, "Слабая идея про парк")
    people = voters(session_factory, 5)
    for v in people:
        vote(session_factory, v, strong)
    vote(session_factory, people[0], weak)
    page = official.get("/officials?scheme=top")
    assert page.status_code == 200
    html = page.text
    assert html.index("Сильная идея про парк") < html.index("Слабая идея про парк")
    rows = _rows(app, officials.DashboardFilter(scheme="top"))
    assert [r.id for r in rows] == [strong, weak]
    assert [r.supporters for r in rows] == [5, 1]
    assert [r.rank for r in rows] == [1, 2]
    # unknown scheme: the default, not an error
    assert official.get("/officials?scheme=nonsense").status_code == 200


def test_confidence_is_a_wilson_interval_whose_lower_end_is_the_confident_score(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Идея с поддержкой")
    for v in voters(session_factory, 4):
        vote(session_factory, v, idea)
    (confident,) = _rows(app, officials.DashboardFilter(scheme="confident"))
    c = confident.confidence
    assert c.kind == "interval" and 0 <= c.low < c.high <= 1
    assert c.low == pytest.approx(confident.score, rel=1e-9)
    (top,) = _rows(app, officials.DashboardFilter(scheme="top"))
    assert top.confidence.low < top.score < top.confidence.high
    assert top.confidence.low == pytest.approx(confident.score, rel=1e-9)
    (trending,) = _rows(app, officials.DashboardFilter(scheme="trending"))
    assert trending.confidence.kind == "none" and trending.confidence.low is None
    assert 0 < trending.confidence.prior_share < 1
    (broad,) = _rows(app, officials.DashboardFilter(scheme="broad"))
    assert broad.confidence.kind in ("okrugs", "none")


def test_wilson_interval_narrows_with_evidence() -> None:
    few = officials.wilson(0.1, 20, 1.645)
    many = officials.wilson(0.1, 2000, 1.645)
    assert few[0] < many[0] < 0.1 < many[1] < few[1]
    assert officials.wilson(0.0, 0, 1.645) == (0.0, 1.0)


def test_filters_by_category_district_okrug_status_and_period(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    home, okrug = district(session_factory)
    far, far_okrug = district(session_factory, index=40)
    assert far_okrug != okrug
    old = NOW - 200 * DAY
    ideas = {
        "road": add_idea(session_factory, "Ремонт дороги у метро", district_id=home),
        "park": add_idea(
            session_factory, "Новый сквер во дворе", category_slug="parks", district_id=far
        ),
        "old": add_idea(session_factory, "Старая идея про дороги", created_at=old),
        "city": add_idea(session_factory, "Городская идея про транспорт"),
    }
    with transaction(session_factory) as s:
        s.execute(update(Idea).where(Idea.id == ideas["city"]).values(status="accepted"))

    def titles(query: str) -> set[str]:
        response = official.get(f"/officials?{query}")
        assert response.status_code == 200, response.text[:300]
        return {name for name, i in ideas.items() if f'/officials/ideas/{i}"' in response.text}

    assert titles("") == set(ideas)
    assert titles(f"category={category(session_factory, 'parks')}") == {"park"}
    assert titles(f"district={home}") == {"road"}
    assert titles(f"district={okrug}") == {"road"}  # an okrug includes its districts
    assert titles("status=accepted") == {"city"}
    assert titles("period=30") == {"road", "park", "city"}
    assert titles("period=365") == set(ideas)
    day = (old.astimezone(app.state.translators["ru"].tz)).date().isoformat()
    assert titles(f"from={day}&to={day}") == {"old"}
    assert titles(f"to={day}") == {"old"}
    assert titles(f"from={day}&category={category(session_factory, 'parks')}") == {"park"}
    # a bad date is reported on the page and left out
    bad = official.get("/officials?from=31.12.2024")
    assert bad.status_code == 422 and 'id="from-error"' in bad.text
    backwards = official.get("/officials?from=2024-05-02&to=2024-05-01")
    assert backwards.status_code == 422 and 'id="to-error"' in backwards.text
    empty = official.get(
        f"/officials?district={far}&category={category(session_factory, 'transport')}"
    )
    assert "empty-state" in empty.text


# --- the response clock -----------------------------------------------------------------------


def test_threshold_moment_is_the_created_at_of_the_t_th_support_and_is_cached(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Пешеходный переход у школы", created_at=NOW - 60 * DAY)
    people = voters(session_factory, 4)
    dates = [NOW - 50 * DAY, NOW - 40 * DAY, NOW - 30 * DAY, NOW - 2 * DAY]
    for v, at in zip(people, dates, strict=True):
        vote(session_factory, v, idea, at)
    assert _clock(session_factory, idea) is None
    (row,) = _rows(app, officials.DashboardFilter())
    assert row.supporters == 4
    assert row.threshold_reached_at == dates[2]  # the 3rd support (threshold 3)
    assert _clock(session_factory, idea) == dates[2]  # cached in the column
    assert row.overdue and row.response_state == "overdue" and row.days_waiting == 30
    # the cached value is what later pages read (votes re-dated afterwards do not move it)
    with transaction(session_factory) as s:
        s.execute(update(Vote).where(Vote.idea_id == idea).values(created_at=NOW))
    (again,) = _rows(app, officials.DashboardFilter())
    assert again.threshold_reached_at == dates[2]


def test_overdue_needs_an_open_unanswered_idea_above_the_threshold_for_long_enough(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    people = voters(session_factory, 3)
    official_user = make_user(session_factory, "answerer@example.org", role="official", name="Oleg")

    def idea_with_votes(title: str, *days_ago: int, status: str = "published") -> int:
        idea = add_idea(session_factory, title, created_at=NOW - 90 * DAY)
        for v, d in zip(people, days_ago, strict=False):
            vote(session_factory, v, idea, NOW - d * DAY)
        if status != "published":
            with transaction(session_factory) as s:
                s.execute(update(Idea).where(Idea.id == idea).values(status=status))
        return idea

    late = idea_with_votes("Давно ждёт ответа", 40, 30, 20)
    recent = idea_with_votes("Недавно набрала голоса", 40, 30, 5)  # 5 days < 10
    few = idea_with_votes("Мало голосов", 40, 30)
    answered = idea_with_votes("Уже есть ответ", 40, 30, 20)
    decided = idea_with_votes("Уже реализована", 40, 30, 20, status="implemented")
    reviewed = idea_with_votes("На рассмотрении без ответа", 40, 30, 20)
    with transaction(session_factory) as s:
        responses.answer(
            s, official_user, answered, "accepted", "Принято в работу, спасибо.", email=False
        )
        responses.answer(s, official_user, reviewed, "under_review", "", email=False)
    states = {r.id: r for r in _rows(app, officials.DashboardFilter())}
    assert states[late].response_state == "overdue" and states[late].days_waiting == 20
    assert states[recent].response_state == "awaiting" and not states[recent].overdue
    assert states[recent].days_waiting == 5
    assert (
        states[few].response_state == "below_threshold" and states[few].threshold_reached_at is None
    )
    assert states[answered].response_state == "answered" and not states[answered].overdue
    assert states[decided].response_state == "decided" and not states[decided].overdue
    assert states[reviewed].response_state == "overdue"  # under review is not an answer
    # a supporter withdraws: below the threshold, the clock stops
    from webapp.ideas import votes as votes_service

    with transaction(session_factory) as s:
        votes_service.withdraw_vote(s, people[2], late)
    states = {r.id: r for r in _rows(app, officials.DashboardFilter())}
    assert states[late].response_state == "below_threshold" and not states[late].overdue

    with transaction(session_factory) as s:
        waiting = officials.waiting(
            s, app.state.ranking, app.state.settings, officials.DashboardFilter(), 1, 20, NOW
        )
    assert [r.id for r in waiting.overdue] == [reviewed]
    assert waiting.total_overdue == 1 and waiting.awaiting == 1


def test_overdue_page_lists_the_longest_waiting_first(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    people = voters(session_factory, 3)
    ideas = []
    for title, days in (
        ("Ждёт двадцать дней", 20),
        ("Ждёт шестьдесят дней", 60),
        ("Ждёт три дня", 3),
    ):
        idea = add_idea(session_factory, title, created_at=NOW - 90 * DAY)
        for n, v in enumerate(people):
            vote(session_factory, v, idea, NOW - (days + 2 - n) * DAY)
        ideas.append(idea)
    page = official.get("/officials/overdue")
    assert page.status_code == 200
    html = page.text
    assert html.index("Ждёт шестьдесят дней") < html.index("Ждёт двадцать дней")
    assert "Ждёт три дня" not in html
    assert "60" in html and "20" in html
    empty = official.get(f"/officials/overdue?district={district(session_factory)[0]}")
    assert "empty-state" in empty.text


def test_a_citizen_who_supported_merged_ideas_counts_once(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    canonical = add_idea(session_factory, "Светофор у пятой школы", created_at=NOW - 60 * DAY)
    member = add_idea(session_factory, "Светофор возле школы номер пять", created_at=NOW - 60 * DAY)
    a, b, c = voters(session_factory, 3)
    vote(session_factory, a, canonical, NOW - 50 * DAY)
    vote(session_factory, a, member, NOW - 45 * DAY)  # the same citizen on both
    vote(session_factory, b, member, NOW - 40 * DAY)
    vote(session_factory, c, member, NOW - 35 * DAY)
    merge_into(session_factory, member, canonical)
    with transaction(session_factory) as s:
        counts = officials.distinct_supporters(s, [canonical])
        moment = officials.threshold_moment(s, canonical, 3, [member])
    assert counts == {canonical: 3}  # 1 + 3 rows, 3 citizens
    assert moment == NOW - 35 * DAY
    (row,) = _rows(app, officials.DashboardFilter())
    assert row.id == canonical and row.supporters == 3 and row.overdue
    series = _series(session_factory, canonical)
    assert series.total == 3 and series.points[-1].total == 3


# --- the chart ----------------------------------------------------------------------------------


def _series(factory: Any, idea_id: int, now: datetime | None = None) -> vote_chart.Series:
    with transaction(factory) as s:
        return vote_chart.series(s, idea_id, "Europe/Moscow", now or NOW)


def test_series_counts_cumulative_supporters_per_local_day(
    session_factory: sessionmaker[Session],
) -> None:
    start = datetime(2025, 3, 1, 12, tzinfo=UTC)
    idea = add_idea(session_factory, "Фонтан на площади", created_at=start)
    people = voters(session_factory, 4)
    # 22:30 UTC on 2 March is already 3 March in Moscow (UTC+3)
    times = [start, start + timedelta(hours=34, minutes=30), start + 2 * DAY, start + 5 * DAY]
    for v, at in zip(people, times, strict=True):
        vote(session_factory, v, idea, at)
    data = _series(session_factory, idea, now=start + 6 * DAY)
    assert data.unit == "day" and data.total == 4
    assert [p.start.day for p in data.points] == [1, 2, 3, 4, 5, 6, 7]
    assert [p.new for p in data.points] == [1, 0, 2, 0, 0, 1, 0]
    assert [p.total for p in data.points] == [1, 1, 3, 3, 3, 4, 4]
    long = _series(session_factory, idea, now=start + 400 * DAY)
    assert long.unit == "week" and long.points[-1].total == 4
    assert all(p.start.weekday() == 0 for p in long.points)
    longer = _series(session_factory, idea, now=start + 5 * 366 * DAY)
    assert longer.unit == "month" and longer.points[-1].total == 4
    assert sum(p.new for p in longer.points) == 4


def _three_days() -> vote_chart.Series:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    points = tuple(
        vote_chart.Point(start + i * DAY, n, t)
        for i, (n, t) in enumerate([(3, 3), (0, 3), (44, 47)])
    )
    return vote_chart.Series("day", points, 47)


def test_chart_geometry_ends_at_the_total_and_ticks_are_round() -> None:
    geometry = chart_view.chart(_three_days())
    values = [v for _, v in geometry.y_ticks]
    assert values[0] == 0 and values[-1] >= 47 and len(values) <= 7
    step = values[1] - values[0]
    assert str(step)[0] in "125" and set(str(step)[1:]) <= {"0"}
    assert geometry.line.startswith("M ")
    x_end, y_end = geometry.last
    assert x_end == pytest.approx(geometry.right)
    top_value = values[-1]
    assert y_end == pytest.approx(
        geometry.bottom - (geometry.bottom - geometry.top) * 47 / top_value
    )
    assert (
        chart_view.nice_step(3) == 1
        and chart_view.nice_step(47) == 20
        and chart_view.nice_step(1000) == 500
    )


# The SVG drawn for _three_days() when the geometry was computed in the use-case module
# (webapp/officials/vote_chart.py, before issue 13): moving it to the views changed nothing.
THREE_DAYS_SVG = """
<svg viewBox="0 0 640 240" width="100%" role="img" aria-labelledby="vote-chart-title vote-chart-desc" class="chart" preserveAspectRatio="xMidYMid meet">
<title id="vote-chart-title">Supporters over time</title>
<desc id="vote-chart-desc">Cumulative distinct supporters per day, from 1 January 2025 to 3 January 2025: 47 in all.</desc>
<g class="chart-grid" aria-hidden="true">
<line x1="64.0" x2="624.0" y1="204.0" y2="204.0"></line>
<text x="58.0" y="208.0" text-anchor="end">0</text>
<line x1="64.0" x2="624.0" y1="141.3" y2="141.3"></line>
<text x="58.0" y="145.3" text-anchor="end">20</text>
<line x1="64.0" x2="624.0" y1="78.7" y2="78.7"></line>
<text x="58.0" y="82.7" text-anchor="end">40</text>
<line x1="64.0" x2="624.0" y1="16.0" y2="16.0"></line>
<text x="58.0" y="20.0" text-anchor="end">60</text>
<line x1="64.0" x2="64.0" y1="204.0" y2="208.0"></line>
<text x="64.0" y="222.0" text-anchor="middle">1 Jan</text>
<line x1="344.0" x2="344.0" y1="204.0" y2="208.0"></line>
<text x="344.0" y="222.0" text-anchor="middle">2 Jan</text>
<line x1="624.0" x2="624.0" y1="204.0" y2="208.0"></line>
<text x="624.0" y="222.0" text-anchor="end">3 Jan</text>
<line class="chart-axis" x1="64.0" x2="624.0" y1="204.0" y2="204.0"></line>
<line class="chart-axis" x1="64.0" x2="64.0" y1="16.0" y2="204.0"></line>
</g>
<path class="chart-area" d="M 64.0 204.0 L 64.0 194.6 L 344.0 194.6 L 344.0 194.6 L 624.0 194.6 L 624.0 56.7 L 624.0 204.0 L 64.0 204.0 Z" aria-hidden="true"></path>
<path class="chart-line" d="M 64.0 204.0 L 64.0 194.6 L 344.0 194.6 L 344.0 194.6 L 624.0 194.6 L 624.0 56.7" aria-hidden="true"></path>
<circle class="chart-dot" cx="624.0" cy="56.7" r="3.5" aria-hidden="true"></circle>
</svg>
"""  # noqa: E501


def test_the_chart_svg_is_the_one_drawn_before_the_geometry_moved_to_the_views(
    app: Starlette,
) -> None:
    data = _three_days()
    html = (
        app.state.jinja["en"]
        .get_template("officials/_chart.html")
        .render(series=data, chart=chart_view.chart(data))
    )
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    lines = [line.strip() for line in svg.splitlines() if line.strip()]
    assert lines == THREE_DAYS_SVG.strip().splitlines()


def test_the_idea_page_has_an_accessible_chart_with_the_right_totals(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    idea = add_idea(session_factory, "Фонтан на площади", created_at=NOW - 10 * DAY)
    people = voters(session_factory, 5)
    for n, v in enumerate(people):
        vote(session_factory, v, idea, NOW - (8 - n) * DAY)
    html = official.get(f"/officials/ideas/{idea}").text
    assert '<svg viewBox="0 0 640 240"' in html and 'role="img"' in html
    assert 'aria-labelledby="vote-chart-title vote-chart-desc"' in html
    assert '<title id="vote-chart-title">' in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "<script" not in svg
    table = html[html.index('class="chart-data"') :]
    table = table[: table.index("</details>")]
    assert table.count("<tr><td>") == 5  # one row per day with new supporters
    assert "<td>1</td><td>5</td>" in table  # the last day: 1 new, 5 in all
    assert "<dt>Уникальных сторонников</dt><dd>5</dd>" in html


# --- API (the CSV export: tests/test_exports.py) --------------------------------------------------------------------------------


def test_api_shortlist_is_403_for_citizens_and_moderators_and_200_for_officials(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Идея для API", created_at=NOW - 40 * DAY)
    for v, d in zip(voters(session_factory, 3), (35, 30, 25), strict=True):
        vote(session_factory, v, idea, NOW - d * DAY)
    with Browser(app) as client:
        doc = client.get("/api/v1/openapi.json").json()
        for role in ("citizen", "moderator"):
            make_user(session_factory, f"{role}@example.org", role=role)
            token = bearer(client, f"{role}@example.org")
            denied = client.get("/api/v1/officials/shortlist", headers=token)
            assert denied.status_code == 403
            error_of(denied)
            conforms(doc, "GET", "/api/v1/officials/shortlist", denied)
            posted = client.post(
                f"/api/v1/ideas/{idea}/status",
                json={"status": "accepted", "response": "Принято, спасибо за идею."},
                headers=token,
            )
            assert posted.status_code == 403
        anonymous = client.get("/api/v1/officials/shortlist")
        assert anonymous.status_code == 401
        make_user(session_factory, "official@example.org", role="official", name="Oleg")
        token = bearer(client, "official@example.org")
        ok = client.get("/api/v1/officials/shortlist?scheme=top", headers=token)
        assert ok.status_code == 200, ok.text
        conforms(doc, "GET", "/api/v1/officials/shortlist", ok)
        body = ok.json()
        assert body["threshold"] == 3 and body["total"] == 1
        (item,) = body["items"]
        assert item["id"] == idea and item["supporters"] == 3 and item["overdue"] is True
        assert item["days_waiting"] == 25 and item["confidence"]["kind"] == "interval"
        bad = client.get("/api/v1/officials/shortlist?from=2024-13-01", headers=token)
        assert bad.status_code == 422 and "from" in error_of(bad)["fields"]
        conforms(doc, "GET", "/api/v1/officials/shortlist?from=2024-13-01", bad)
        assert (
            client.get(
                "/api/v1/officials/shortlist?scheme=controversial", headers=token
            ).status_code
            == 422
        )


def test_api_answers_an_idea_with_a_status_and_response(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Идея для API")
    supporter = voters(session_factory, 1)[0]
    vote(session_factory, supporter, idea)
    make_user(session_factory, "official@example.org", role="official", name="Oleg")
    with Browser(app) as client:
        doc = client.get("/api/v1/openapi.json").json()
        token = bearer(client, "official@example.org")
        url = f"/api/v1/ideas/{idea}/status"
        ok = client.post(
            url, json={"status": "accepted", "response": "Принято, спасибо за идею."}, headers=token
        )
        assert ok.status_code == 200, ok.text
        conforms(doc, "POST", url, ok)
        body = ok.json()
        assert (body["previous_status"], body["status"], body["notified"]) == (
            "published",
            "accepted",
            1,
        )
        assert body["response"]["author_name"] == "Oleg"
        refused = client.post(url, json={"status": "published"}, headers=token)
        assert refused.status_code == 422 and "status" in error_of(refused)["fields"]
        conflict = client.post(url, json={"status": "under_review"}, headers=token)
        assert conflict.status_code == 409
        conforms(doc, "POST", url, conflict)
        missing = client.post(url, json={"status": "rejected"}, headers=token)
        assert missing.status_code == 422 and "body" in error_of(missing)["fields"]
        unknown = client.post(url, json={"status": "rejected", "text": "x"}, headers=token)
        assert unknown.status_code == 422
        assert client.get(f"/api/v1/ideas/{idea}").json()["status"] == "accepted"


# --- themes ---------------------------------------------------------------------------------------

THEMES = {
    "bike": [
        ("Велодорожка на Тверской", "Нужна велодорожка вдоль Тверской улицы для велосипедистов."),
        ("Велодорожки у парка", "Проложить велодорожки вокруг парка, велосипедистам негде ездить."),
        ("Велодорожка к метро", "Сделать велодорожку от дома до метро, велосипедистов много."),
        (
            "Велодорожка на набережной",
            "Велодорожка вдоль набережной для велосипедистов и самокатов.",
        ),
    ],
    "playground": [
        ("Детская площадка во дворе", "Отремонтировать детскую площадку: сломаны качели и горка."),
        ("Новая площадка для детей", "Построить детскую площадку с качелями и песочницей."),
        ("Качели на площадке", "На детской площадке нужны новые качели и горка."),
        ("Площадка у школы", "Детская площадка возле школы: качели, горка, скамейки."),
    ],
    "trees": [
        ("Plant trees in Gorky Park", "More shade trees along the paths of Gorky Park, please."),
        ("Trees on the boulevard", "Plant shade trees along the boulevard, the trees give shade."),
        ("Trees near the school", "Plant trees near the school so that the yard has shade trees."),
        ("Street trees downtown", "Plant street trees downtown: shade trees cool the streets."),
    ],
}


def test_themes_group_related_ideas_with_keyword_labels(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    author = make_user(session_factory, "author@example.org", name="Galina")
    ids: dict[str, list[int]] = {}
    for name, items in THEMES.items():
        ids[name] = [add_idea(session_factory, t, author=author, body=b) for t, b in items]
    hidden = add_idea(
        session_factory,
        "Велодорожка скрытая",
        body="Скрытая велодорожка для велосипедистов.",
        status="hidden",
    )
    supporter = voters(session_factory, 1)[0]
    vote(session_factory, supporter, ids["bike"][0])
    vote(session_factory, supporter, ids["bike"][1])
    svc = app.state.similarity
    assert svc.wait_ready(60)
    svc.embed_pending()
    # The background embedder may hold a batch of these ideas: wait until every one has its vector.
    public = sum(len(v) for v in ids.values())
    deadline = time.monotonic() + 60
    while len(vectors(session_factory)) < public and time.monotonic() < deadline:
        svc.embed_pending()
        time.sleep(0.2)
    assert len(vectors(session_factory)) >= public
    page = official.get("/officials/themes")
    assert page.status_code == 200
    html = page.text
    sections = html.split('<section class="theme"')[1:]
    assert len(sections) == 3
    for name, members in ids.items():
        holding = [s for s in sections if f'/officials/ideas/{members[0]}"' in s]
        assert len(holding) == 1, name
        assert all(f'/officials/ideas/{i}"' in holding[0] for i in members), name
    bike = next(s for s in sections if f'/officials/ideas/{ids["bike"][0]}"' in s)
    label = bike.split("</h2>")[0].lower()
    assert "велодорожка" in label or "велосипедистов" in label
    assert "1 уникальный сторонник" in bike  # one citizen supported two of its ideas
    assert f'/officials/ideas/{hidden}"' not in html
    # cached per process: a second visit does not recompute
    cache = app.state.theme_cache
    assert len(cache._items) == 1
    assert official.get("/officials/themes").text.count('<section class="theme"') == 3
    # a filter clusters only its ideas
    other = official.get(f"/officials/themes?category={category(session_factory, 'parks')}")
    assert other.status_code == 200 and '<section class="theme"' not in other.text


def test_themes_say_so_while_the_model_loads_or_is_off(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    import dataclasses

    off = create_app(officials_settings(dataclasses.replace(settings, embedding_model="off")))
    try:
        b = logged_in(off, off.state.session_factory, "official")
        try:
            page = b.get("/officials/themes")
            assert page.status_code == 200
            assert "VECHE_EMBEDDING_MODEL=off" in page.text
            off.state.similarity.status = "loading"
            assert b.get("/officials/themes").status_code == 200
        finally:
            b.__exit__(None, None, None)
    finally:
        off.state.engine.dispose()


def test_an_incomplete_themes_result_is_kept_only_briefly() -> None:
    from webapp.officials import themes

    cache = themes.ThemeCache(ttl=300.0)
    done = themes.ThemesResult([], 0, 0, 0, False, utcnow())
    partial = themes.ThemesResult([], 0, 0, 12, False, utcnow())  # 12 ideas not embedded yet
    cache.put("done", done)
    cache.put("partial", partial)
    assert cache.get("done") is done and cache.get("partial") is partial
    expiry = {key: item[0] for key, item in cache._items.items()}
    assert expiry["done"] - expiry["partial"] > 200  # 300 s against 15 s


# --- on a phone ---------------------------------------------------------------------------------


def test_the_shortlist_speaks_plainly_and_labels_every_cell_for_phone_cards(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    idea = add_idea(session_factory, "Скамейки у пруда", created_at=NOW - 50 * DAY)
    for v, d in zip(voters(session_factory, 3), (45, 40, 30), strict=True):
        vote(session_factory, v, idea, NOW - d * DAY)
    html = official.get("/officials?scheme=top").text
    table = html.split('<table class="table table-responsive shortlist">', 1)[1].split("</table>")[
        0
    ]
    headings = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', table)
    cells = re.findall(r'<td data-label="([^"]+)"', table)
    assert cells and set(cells) == set(headings)  # each cell names its column on a card
    ru = app.state.translators["ru"]
    assert ru.gettext("Share of support") in headings
    for jargon in ("Wilson", "априор", "prior", "интервал", "ПРОСРОЧЕНО"):
        assert jargon not in html, jargon


@requires_chromium()
def test_officials_pages_fit_a_360px_phone_without_sideways_scrolling(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    long = "Очень длинное название предложения о благоустройстве двора и детской площадки"
    ideas = [add_idea(session_factory, f"{long} {n}", created_at=NOW - 50 * DAY) for n in range(3)]
    for v, d in zip(voters(session_factory, 3), (45, 40, 30), strict=True):
        vote(session_factory, v, ideas[0], NOW - d * DAY)
    make_user(session_factory, "official@example.org", role="official", name="Oleg")
    with serve(app) as base, chromium() as browser:
        page = browser.new_context(
            locale="ru-RU", viewport={"width": 360, "height": 740}
        ).new_page()
        page.goto(f"{base}/login")
        page.fill("#email", "official@example.org")
        page.fill("#password", PASSWORD)
        page.click("main form.stack button[type=submit]")
        page.wait_for_url(f"{base}/")
        for path in ("/officials", "/officials/overdue", f"/officials/ideas/{ideas[0]}"):
            page.goto(f"{base}{path}")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, overflow)
        page.goto(f"{base}/officials")
        row = page.locator("table.shortlist tbody tr").first
        assert row.evaluate("r => getComputedStyle(r).display") == "block"  # a card
