"""Ranked lists in the platform: the snapshot, its incremental updates, several workers, views."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import PASSWORD, Browser, make_user
from webapp.app import create_app
from webapp.background import flush_views
from webapp.ideas import votes as votes_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.search_text import search_document
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Idea, IdeaViewer

ROOT = Path(__file__).resolve().parents[1]


def add_idea(session_factory: Any, title: str) -> int:
    body = f"{title}: подробное описание предложения для жителей района."
    with transaction(session_factory) as s:
        cat = s.scalar(select(Category.id).where(Category.slug == "parks"))
        idea = Idea(
            title=title, body=body, category_id=cat, search_doc=search_document(title, body)
        )
        s.add(idea)
        s.flush()
        return idea.id


def support(session_factory: Any, user: Any, idea_id: int) -> None:
    with transaction(session_factory) as s:
        votes_service.cast_vote(s, user, idea_id)


def titles_in_order(html: str, titles: list[str]) -> list[str]:
    return sorted((t for t in titles if t in html), key=html.index)


def test_ranked_list_comes_from_the_snapshot_and_follows_new_votes(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    a = add_idea(session_factory, "Идея Альфа про сквер")
    b = add_idea(session_factory, "Идея Бета про сквер")
    voters = [make_user(session_factory, f"v{i}@example.org", verified=True) for i in range(3)]
    for v in voters[:2]:
        support(session_factory, v, a)
    with Browser(app) as browser:  # the lifespan builds the snapshot
        html = browser.get("/?sort=top").text
        assert titles_in_order(html, ["Идея Альфа про сквер", "Идея Бета про сквер"]) == [
            "Идея Альфа про сквер",
            "Идея Бета про сквер",
        ]
        # three citizens support Beta through the site: the same worker re-ranks at once
        for v in voters:
            browser.login(v.email)
            assert browser.submit(f"/ideas/{b}/support").status_code == 303
            browser.submit("/logout")
        html = browser.get("/?sort=top").text
        assert titles_in_order(html, ["Идея Альфа про сквер", "Идея Бета про сквер"])[0] == (
            "Идея Бета про сквер"
        )


@pytest.mark.parametrize("scheme", ["top", "confident", "trending", "broad", "new", "random"])
def test_every_scheme_lists_ideas_with_a_reason(
    app: Starlette, session_factory: sessionmaker[Session], scheme: str
) -> None:
    idea = add_idea(session_factory, "Идея для проверки схем")
    support(session_factory, make_user(session_factory, "schemes@example.org"), idea)
    with Browser(app) as browser:
        page = browser.get(f"/?sort={scheme}")
        assert page.status_code == 200
        assert "Идея для проверки схем" in page.text
        assert 'class="why-rank"' in page.text


def test_random_order_is_stable_for_a_visitor_and_differs_between_visitors(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    titles = [f"Случайная идея номер {i}" for i in range(12)]
    for t in titles:
        add_idea(session_factory, t)
    with Browser(app) as one, Browser(app) as two:
        first = titles_in_order(one.get("/?sort=random").text, titles)
        assert first == titles_in_order(one.get("/?sort=random").text, titles)
        others = [titles_in_order(Browser(app).get("/?sort=random").text, titles) for _ in range(3)]
        assert any(o != first for o in others)
        assert sorted(first) == sorted(titles)
        del two


def test_search_results_are_ranked_by_the_scheme(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    a = add_idea(session_factory, "Фонтан в парке Горького")
    add_idea(session_factory, "Фонтан во дворе")
    for i in range(3):
        support(session_factory, make_user(session_factory, f"f{i}@example.org", verified=True), a)
    with Browser(app) as browser:
        html = browser.get("/", params={"q": "фонтан", "sort": "top"}).text
        assert titles_in_order(html, ["Фонтан в парке Горького", "Фонтан во дворе"])[0] == (
            "Фонтан в парке Горького"
        )


def test_a_second_worker_sees_votes_through_the_database(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    a = add_idea(session_factory, "Первая идея")
    b = add_idea(session_factory, "Вторая идея")
    voter = make_user(session_factory, "worker@example.org")
    support(session_factory, voter, a)
    worker_one, worker_two = create_app(settings), create_app(settings)
    try:
        for w in (worker_one, worker_two):
            w.state.ranking.rebuild()
        before = worker_two.state.ranking.explain(b, "top")
        support(session_factory, voter, b)  # written by "worker one"
        assert worker_two.state.ranking.poll() == 1
        after = worker_two.state.ranking.explain(b, "top")
        assert after["raw_supporters"] == before["raw_supporters"] + 1
    finally:
        worker_one.state.engine.dispose()
        worker_two.state.engine.dispose()


def test_views_are_counted_once_per_viewer_in_batches(
    app: Starlette, session_factory: sessionmaker[Session], citizen: CurrentUser
) -> None:
    idea = add_idea(session_factory, "Идея для подсчёта просмотров")
    with Browser(app) as anonymous, Browser(app) as member:
        member.login(citizen.email)
        for _ in range(3):
            anonymous.get(f"/ideas/{idea}")
            member.get(f"/ideas/{idea}")
        with transaction(session_factory) as s:
            assert (
                s.scalar(select(func.count()).select_from(IdeaViewer)) == 0
            )  # nothing written per view
        assert flush_views(app) == 2
        anonymous.get(f"/ideas/{idea}")
        assert flush_views(app) == 0  # the same viewer again
        with transaction(session_factory) as s:
            assert s.get_one(Idea, idea).viewer_count == 2
        app.state.ranking.poll()
        assert app.state.ranking.explain(idea, "top")["viewers"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        VECHE_ENV="test",
        SECRET_KEY="multi-worker-test-secret-0123456789abcdef",
        VECHE_RANKING_POLL_SECONDS="0.2",
        VECHE_WRITE_RATE_LIMIT="1000",
        VECHE_LOGIN_RATE_LIMIT="1000",
        # The ranking is under test, not the embeddings: loading the real model in two cold
        # processes at once took longer than the shutdown wait on a fresh CI machine.
        VECHE_EMBEDDING_MODEL="hashing-char-ngrams",
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "webapp.asgi:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server on port {port} did not start")


def _top_ids(port: int) -> list[int]:
    data = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/ideas", params={"sort": "top"}, timeout=5
    ).json()
    return [item["id"] for item in data["items"]]


def test_separate_server_processes_agree_within_two_seconds(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """Two uvicorn processes on one database: a vote through one re-ranks the other."""
    a = add_idea(session_factory, "Идея процесса А")
    b = add_idea(session_factory, "Идея процесса Б")
    voters = [make_user(session_factory, f"p{i}@example.org", verified=True) for i in range(3)]
    support(session_factory, voters[0], a)
    ports = [_free_port(), _free_port()]
    servers = [_serve(settings.database_url, p) for p in ports]
    try:
        for p in ports:
            _wait_up(p)
        assert _top_ids(ports[1])[:2] == [a, b]
        tokens = []
        for v in voters[1:]:
            r = httpx.post(
                f"http://127.0.0.1:{ports[0]}/api/v1/tokens",
                json={"email": v.email, "password": PASSWORD},
            )
            tokens.append(r.json()["token"])
        for token in tokens:  # two supports for B through the FIRST process
            r = httpx.post(
                f"http://127.0.0.1:{ports[0]}/api/v1/ideas/{b}/support",
                headers={"authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200, r.text
        started = time.monotonic()
        while _top_ids(ports[1])[:2] != [b, a]:  # ...seen by the SECOND process
            assert time.monotonic() - started < 2.0, "the second worker did not catch up in 2 s"
            time.sleep(0.05)
    finally:
        for s in servers:
            s.terminate()
        for s in servers:
            try:
                s.wait(timeout=30)
            except subprocess.TimeoutExpired:
                s.kill()  # never leak a server into later tests
                s.wait(timeout=10)
                raise


def _planted_burst(session_factory: Any, idea_id: int, n: int = 80) -> None:
    """n accounts support one idea within half an hour (bulk rows, as an attack would look)."""
    from datetime import UTC, datetime, timedelta

    from webapp.kernel.security import UNUSABLE_PASSWORD
    from webapp.kernel.storage.models import User, Vote
    from webapp.ranking import ranking_log

    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    with transaction(session_factory) as s:
        for i in range(n):
            user = User(
                email=f"bot{i}@example.org",
                display_name=f"Bot {i}",
                password_hash=UNUSABLE_PASSWORD,
                created_at=start - timedelta(days=30),
            )
            s.add(user)
            s.flush()
            s.add(
                Vote(
                    user_id=user.id,
                    idea_id=idea_id,
                    value=1,
                    created_at=start + timedelta(seconds=20 * i),
                )
            )
        s.get_one(Idea, idea_id).support_count = n
        ranking_log.recompute(s)


def test_moderators_see_why_weights_fell(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    idea = add_idea(session_factory, "Идея с накруткой голосов")
    _planted_burst(session_factory, idea)
    make_user(session_factory, "moder@example.org", role="moderator")
    make_user(session_factory, "citizen2@example.org")
    with Browser(app) as b:
        assert b.get(f"/moderation/ideas/{idea}/weights").status_code == 303  # anonymous → login
        b.login("citizen2@example.org")
        assert b.get(f"/moderation/ideas/{idea}/weights").status_code == 403
        b.submit("/logout")
        b.login("moder@example.org")
        app.state.ranking.catch_up()
        report = app.state.ranking.discounts(idea)
        assert report["votes"] == 80 and report["unverified"] == 80
        assert report["burst"] >= 60  # the planted burst is found
        page = b.get(f"/moderation/ideas/{idea}/weights")
        assert page.status_code == 200
        assert "всплеск" in page.text
        assert f'href="/moderation/ideas/{idea}/weights"' in b.get(f"/ideas/{idea}").text
        why = app.state.ranking.explain(idea, "top")
        assert why["raw_supporters"] == 80  # raw votes stay visible...
        assert why["weighted_support"] < 80 * 0.5  # ...while unverified and burst discounts apply


def test_incremental_updates_through_the_site_equal_a_full_rebuild(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """Random supports, opposes, changes of mind and withdrawals, applied from the event log."""
    import random
    from dataclasses import replace

    import numpy as np

    from webapp.ranking.engine import RankingService

    ideas = [add_idea(session_factory, f"Идея для проверки пересчёта {i}") for i in range(6)]
    people = [
        make_user(session_factory, f"r{i}@example.org", verified=i % 2 == 0) for i in range(8)
    ]
    opposing = replace(settings, allow_oppose=True)
    live = RankingService(opposing, session_factory)
    live.rebuild()
    rng = random.Random(7)
    for step in range(60):
        user, idea = rng.choice(people), rng.choice(ideas)
        with transaction(session_factory) as s:
            if rng.random() < 0.3:
                votes_service.withdraw_vote(s, user, idea)
            else:
                votes_service.cast_vote(s, user, idea, rng.choice([1, 1, -1]), allow_oppose=True)
        if step % 7 == 0:
            live.poll()
    live.poll()
    fresh = RankingService(opposing, session_factory)
    fresh.rebuild()
    now = time.time()
    assert live._state is not None and fresh._state is not None  # noqa: SLF001
    a, b = live._state.snapshot, fresh._state.snapshot  # noqa: SLF001 - comparing engines
    a.advance(now)
    b.advance(now)
    for scheme in ("top", "confident", "trending", "broad", "controversial"):
        assert np.allclose(a.scores(scheme), b.scores(scheme)), scheme


def test_new_ideas_and_new_citizens_join_the_snapshot_without_a_rebuild(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    old = add_idea(session_factory, "Старая идея про сквер")
    support(session_factory, make_user(session_factory, "old@example.org"), old)
    with Browser(app) as b:
        ranking = app.state.ranking
        ranking.catch_up()
        rebuilds = ranking.rebuilds
        r = b.submit(
            "/register",
            {"email": "new@example.org", "display_name": "Новичок", "password": PASSWORD},
        )
        assert r.status_code == 303
        with transaction(session_factory) as s:
            cat = s.scalar(select(Category.id))
        r = b.submit(
            "/ideas/new",
            {
                "title": "Новая идея про сквер",
                "body": "Посадить деревья и поставить скамейки в сквере.",
                "category_id": str(cat),
                "confirm_similar": "1",  # "Старая идея про сквер" is similar
            },
        )
        new = int(r.headers["location"].rsplit("/", 1)[1])
        assert b.submit(f"/ideas/{new}/support").status_code == 303
        assert "Новая идея про сквер" in b.get("/?sort=top").text
        assert (
            titles_in_order(
                b.get("/?sort=new").text, ["Старая идея про сквер", "Новая идея про сквер"]
            )[0]
            == "Новая идея про сквер"
        )
        assert ranking.explain(new, "top")["raw_supporters"] == 1
        assert ranking.rebuilds == rebuilds  # grew in place
