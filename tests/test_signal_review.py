"""The review of manipulation-signal discounts: planted bursts, lifting and confirming them."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from ranking.signals import BURST, FRESH, LOCKSTEP
from ranking.signals.review import summarize_clusters
from ranking.snapshot import Snapshot
from tests.helpers import Browser, make_user
from webapp.ideas import votes
from webapp.kernel.dto import CurrentUser
from webapp.kernel.search_text import search_document
from webapp.kernel.security import UNUSABLE_PASSWORD
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    Category,
    Idea,
    RankingEvent,
    SignalReview,
    User,
    Vote,
)
from webapp.ranking import ranking_arrays, ranking_log
from webapp.ranking.engine import RankingService

# On the hour, so the whole burst falls into one hourly bucket of the burst detector.
BURST_START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=10)


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


def plant_burst(
    session_factory: Any, idea_id: int, n: int = 80, start: datetime = BURST_START
) -> None:
    """n month-old accounts support one idea within half an hour, as a bought campaign would."""
    with transaction(session_factory) as s:
        first = s.scalar(select(func.count()).select_from(User)) or 0
        for i in range(n):
            user = User(
                email=f"bot{first + i}@example.org",
                display_name=f"Житель {first + i}",
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
        s.get_one(Idea, idea_id).support_count += n
        ranking_log.recompute(s)


def organic(session_factory: Any, idea_id: int, n: int = 4) -> None:
    for i in range(n):
        user = make_user(session_factory, f"org{idea_id}-{i}@example.org", name=f"Горожанин {i}")
        with transaction(session_factory) as s:
            votes.cast_vote(s, user, idea_id)


def unsuspicious_snapshot(settings: Any, session_factory: Any) -> tuple[Snapshot, dict[int, int]]:
    """What the ranking would be with no manipulation signals at all."""
    service = RankingService(settings, session_factory)
    with session_factory() as s:
        loaded = ranking_arrays.load(s)
    snap = Snapshot.build(
        loaded.votes, loaded.users, loaded.ideas, loaded.geo, service.weights, service.config,
        now=time.time(), suspicion=None,
    )  # fmt: skip
    return snap, {int(i): n for n, i in enumerate(loaded.columns.ids)}


def decide(browser: Browser, idea_id: int, decision: str, reason: str, tab: str = "review") -> Any:
    return browser.submit(
        f"/moderation/signals/{idea_id}/{decision}", {"reason": reason, "tab": tab}
    )


@pytest.fixture
def moderator(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "moder@example.org", role="moderator", name="Мария Модер")


@pytest.fixture
def planted(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    bought = add_idea(session_factory, "Идея с купленными голосами")
    plain = add_idea(session_factory, "Идея с обычной поддержкой")
    plant_burst(session_factory, bought)
    organic(session_factory, plain)
    return bought, plain


def test_the_review_lists_ideas_with_planted_signals_strongest_first(
    app: Starlette,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    bought, plain = planted
    with Browser(app) as b:
        b.login(moderator.email)
        page = b.get("/moderation/signals").text
    assert "Идея с купленными голосами" in page and "Идея с обычной поддержкой" not in page
    clusters = app.state.ranking.signal_clusters()
    (row,) = [c for c in clusters if c["idea_id"] == bought]
    assert row["burst"] >= 60 and row["votes"] >= row["burst"] and row["cleared"] == 0
    assert row["lost"] == pytest.approx(row["at_stake"]) and row["at_stake"] > 0
    assert all(c["idea_id"] != plain for c in clusters)
    why = app.state.ranking.explain(bought, "top")
    # the weight the signals take is what the weighted support lacks besides the unverified factor
    unverified = app.state.settings.weight_unverified
    assert why["weighted_support"] == pytest.approx(80 * unverified - row["lost"], rel=1e-4)
    assert f'href="/moderation/ideas/{bought}/weights"' in page
    assert "На проверку" in page


def test_lifting_restores_the_undiscounted_score_and_confirming_keeps_the_discount(
    app: Starlette,
    settings: Settings,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    bought, plain = planted
    ranking = app.state.ranking
    with Browser(app) as b:
        b.login(moderator.email)
        discounted = ranking.explain(bought, "top")
        clean, index = unsuspicious_snapshot(settings, session_factory)
        assert (
            discounted["weighted_support"] < clean.explain(index[bought], "top")["weighted_support"]
        )
        r = decide(b, bought, "lift", "Настоящая кампания жителей: собрание во дворе")
        assert r.status_code == 303 and r.headers["location"] == "/moderation/signals"
        lifted = ranking.explain(bought, "top")
        expected = clean.explain(index[bought], "top")
        assert lifted["weighted_support"] == pytest.approx(expected["weighted_support"], rel=1e-6)
        assert lifted["weighted_support"] == pytest.approx(80 * settings.weight_unverified)
        assert lifted["score"] == pytest.approx(expected["score"], rel=1e-6)
        # the other idea is untouched
        assert ranking.explain(plain, "top")["weighted_support"] == pytest.approx(
            clean.explain(index[plain], "top")["weighted_support"]
        )
        review = b.get("/moderation/signals").text
        reviewed = b.get("/moderation/signals?tab=reviewed").text
        assert "Идея с купленными голосами" not in review and "Рассматривать нечего" in review
        assert "Идея с купленными голосами" in reviewed and "Снял(а) Мария Модер" in reviewed
        weights = b.get(f"/moderation/ideas/{bought}/weights").text
        assert "снято" in weights and "с которых модератор снял понижение" in weights
        # a later confirmation revokes the lift
        decide(b, bought, "confirm", "Проверили ещё раз: это боты", tab="reviewed")
        again = ranking.explain(bought, "top")
        assert again["weighted_support"] == pytest.approx(discounted["weighted_support"], rel=1e-6)
        assert "Подтвердил(а) Мария Модер" in b.get("/moderation/signals?tab=reviewed").text
    with transaction(session_factory) as s:
        decisions = list(s.scalars(select(SignalReview.decision).order_by(SignalReview.id)))
        assert decisions == ["lifted", "confirmed"]
        recomputes = select(func.count()).where(RankingEvent.kind == "recompute")
        assert s.execute(recomputes).scalar_one() >= 3
        lift, confirm = s.scalars(
            select(AuditLog).where(AuditLog.action.like("signals.%")).order_by(AuditLog.id)
        ).all()
    assert (lift.action, lift.actor_id, lift.target_id) == ("signals.lift", moderator.id, bought)
    assert lift.details["before"] == {"decision": None}
    assert lift.details["after"] == {"decision": "lifted"}
    assert lift.details["signals"]["burst"] >= 60
    assert confirm.action == "signals.confirm" and confirm.details["before"] == {
        "decision": "lifted"
    }


def test_confirming_keeps_the_discount_and_takes_the_idea_off_the_review_list(
    app: Starlette,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    bought, _ = planted
    ranking = app.state.ranking
    with Browser(app) as b:
        b.login(moderator.email)
        before = ranking.explain(bought, "top")["weighted_support"]
        decide(b, bought, "confirm", "Все голоса за полчаса от старых пустых учёток")
        assert ranking.explain(bought, "top")["weighted_support"] == pytest.approx(before)
        assert "Идея с купленными голосами" not in b.get("/moderation/signals").text
        assert "Идея с купленными голосами" in b.get("/moderation/signals?tab=reviewed").text


def test_a_decision_needs_a_reason(
    app: Starlette,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    bought, _ = planted
    with Browser(app) as b:
        b.login(moderator.email)
        decide(b, bought, "lift", " ")
        assert "Не выполнено" in b.get("/moderation/signals").text
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(SignalReview)) == 0


def test_votes_flagged_after_a_lift_are_judged_afresh(
    app: Starlette,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    """A lift covers the votes the moderator saw; a burst after it is discounted and reviewed."""
    bought, _ = planted
    ranking = app.state.ranking
    with Browser(app) as b:
        b.login(moderator.email)
        discounted = ranking.explain(bought, "top")["weighted_support"]
        decide(b, bought, "lift", "Собрание жителей")
        with transaction(session_factory) as s:  # as if the lift had come before the burst
            s.execute(update(SignalReview).values(created_at=BURST_START - timedelta(days=1)))
            ranking_log.recompute(s)
        ranking.catch_up()
        assert ranking.explain(bought, "top")["weighted_support"] == pytest.approx(discounted)
        page = b.get("/moderation/signals").text
        assert "Идея с купленными голосами" in page
        assert "с тех пор есть новые подозрительные голоса" in page


def test_every_worker_applies_a_decision(
    app: Starlette,
    settings: Settings,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    bought, _ = planted
    other = RankingService(settings, session_factory)
    other.rebuild()
    explained = other.explain(bought, "top")
    assert explained is not None
    before = explained["weighted_support"]
    with Browser(app) as b:
        b.login(moderator.email)
        decide(b, bought, "lift", "Настоящая поддержка")
    other.poll()  # the 'recompute' event makes it rebuild
    explained = other.explain(bought, "top")
    assert explained is not None
    after = explained["weighted_support"]
    assert after > before
    assert after == pytest.approx(app.state.ranking.explain(bought, "top")["weighted_support"])


def test_a_decision_on_a_merged_idea_is_refused(
    app: Starlette,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    bought, plain = planted
    with transaction(session_factory) as s:
        idea = s.get_one(Idea, plain)
        idea.status, idea.merged_into_id = "merged", bought
    with Browser(app) as b:
        b.login(moderator.email)
        decide(b, plain, "lift", "Попытка решения по объединённой")
        assert (
            "примите решение по идее, с которой её объединили" in b.get("/moderation/signals").text
        )
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(SignalReview)) == 0


def test_the_signal_pages_refuse_citizens_officials_and_forged_forms(
    app: Starlette,
    session_factory: sessionmaker[Session],
    moderator: CurrentUser,
    planted: tuple[int, int],
) -> None:
    bought, _ = planted
    make_user(session_factory, "c@example.org", name="Ольга Читатель")
    make_user(session_factory, "o@example.org", role="official", name="Олег Чинов")
    for email in ("c@example.org", "o@example.org"):
        with Browser(app) as b:
            b.login(email)
            assert b.get("/moderation/signals").status_code == 403
            assert decide(b, bought, "lift", "Без прав").status_code == 403
            assert decide(b, bought, "confirm", "Без прав").status_code == 403
    with Browser(app) as anon:
        r = anon.get("/moderation/signals")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert (
            anon.post(f"/moderation/signals/{bought}/lift", data={"reason": "x"}).status_code == 401
        )
    with Browser(app) as b:
        b.login(moderator.email)
        r = b.post(f"/moderation/signals/{bought}/lift", data={"reason": "Без токена"})
        assert r.status_code == 403
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(SignalReview)) == 0


def test_hostile_titles_and_reasons_are_escaped(
    app: Starlette, session_factory: sessionmaker[Session], moderator: CurrentUser
) -> None:
    hostile = '<script>alert("x")</script>'
    idea = add_idea(session_factory, f"Идея {hostile}")
    plant_burst(session_factory, idea)
    with Browser(app) as b:
        b.login(moderator.email)
        decide(b, idea, "confirm", f"Причина {hostile}")
        html = b.get("/moderation/signals?tab=reviewed").text
    assert "<script>alert" not in html and html.count("&lt;script&gt;alert") >= 2


def test_an_empty_review_list_says_so(app: Starlette, moderator: CurrentUser) -> None:
    with Browser(app) as b:
        b.login(moderator.email)
        assert "Рассматривать нечего" in b.get("/moderation/signals").text
        assert "Пока ничего не рассмотрено" in b.get("/moderation/signals?tab=reviewed").text


def test_the_review_is_paginated(
    settings: Settings, session_factory: sessionmaker[Session], moderator: CurrentUser
) -> None:
    from webapp.app import create_app

    app = create_app(replace(settings, page_size=1))
    try:
        factory = app.state.session_factory
        first = add_idea(factory, "Первая накрученная идея")
        second = add_idea(factory, "Вторая накрученная идея")
        plant_burst(factory, first, n=90)
        plant_burst(factory, second, n=70, start=BURST_START + timedelta(days=2))
        with Browser(app) as b:
            b.login(moderator.email)
            one, two = b.get("/moderation/signals").text, b.get("/moderation/signals?page=2").text
        assert "Первая накрученная идея" in one and "Вторая накрученная идея" not in one
        assert "Вторая накрученная идея" in two  # the smaller weight at stake comes second
    finally:
        app.state.engine.dispose()


# --- the pure summary ------------------------------------------------------------------------


def test_summarize_clusters_sums_per_cluster_and_ignores_unflagged_votes() -> None:
    rng = np.random.default_rng(3)
    n = 500
    cluster = rng.integers(0, 20, n)
    bits = rng.choice([0, BURST, FRESH, LOCKSTEP, BURST | FRESH], n).astype(np.uint8)
    suspicion = np.where(bits > 0, rng.random(n), 0.0)
    cleared = rng.random(n) < 0.3
    weight = rng.choice([0.5, 1.0], n)
    t = rng.integers(0, 10**6, n)
    s = summarize_clusters(cluster, bits, suspicion, cleared, weight, t, 0.9)
    for k, c in enumerate(s.cluster):
        mine = (cluster == c) & (bits > 0)
        assert s.votes[k] == mine.sum() and s.burst[k] == (mine & ((bits & BURST) > 0)).sum()
        assert s.cleared[k] == (mine & cleared).sum()
        assert s.at_stake[k] == pytest.approx((weight * suspicion * 0.9)[mine].sum())
        assert s.lost[k] == pytest.approx((weight * suspicion * 0.9)[mine & ~cleared].sum())
        assert s.last_flagged[k] == t[mine].max()
    assert set(s.cluster.tolist()) == set(cluster[bits > 0].tolist())
    assert np.all(np.diff(s.at_stake) <= 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"suspicion": [1.5]}, "suspicion must lie in"),
        ({"cluster": [-1]}, "cluster indices"),
        ({"time": [1, 2]}, "time must have length 1"),
        ({"max_discount": 2.0}, "max_discount"),
        ({"base_weight": [-1.0]}, "base_weight"),
    ],
)
def test_summarize_clusters_names_the_bad_input(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = dict(
        cluster=[0], reason_bits=[BURST], suspicion=[0.5], cleared=[False], base_weight=[1.0],
        time=[1], max_discount=0.9,
    )  # fmt: skip
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        summarize_clusters(**args)
