"""The schemes: hand-computed cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking import (
    MERGED_SCORE,
    SCHEMES,
    Geography,
    Ideas,
    RankingConfig,
    Snapshot,
    Users,
    Votes,
    WeightConfig,
)
from ranking.scores import confident_score
from tests.ranking.world import make_world

DAY = 86400
GEO = Geography(np.array([0, 1], dtype=np.int16))  # two districts, each its own okrug


def _snap(
    idea: list[int],
    user: list[int],
    *,
    n_ideas: int = 3,
    viewers: list[int] | None = None,
    value: list[int] | None = None,
    time: list[int] | None = None,
    canonical: list[int] | None = None,
    user_district: list[int] | None = None,
    config: RankingConfig | None = None,
    now: int = 10 * DAY,
) -> Snapshot:
    n_users = 8
    district = user_district if user_district is not None else [0, 0, 0, 0, 1, 1, 1, 1]
    users = Users.build([True] * n_users, district, [0] * n_users)
    ideas = Ideas.build([-1] * n_ideas, list(range(n_ideas)), viewers, canonical)
    votes = Votes.build(idea, user, value, time if time is not None else [now] * len(idea))
    return Snapshot.build(votes, users, ideas, GEO, WeightConfig(), config, now)


def test_top_is_the_smoothed_support_rate_per_viewer() -> None:
    snap = _snap([0] * 5, [0, 1, 2, 3, 4], viewers=[40, 0, 0])
    # (S + α·p0) / (E + α) = (5 + 10·0.05) / (40 + 10)
    assert snap.scores("top")[0] == pytest.approx(0.11)
    # no votes, no viewers: the neutral prior, not zero
    assert snap.scores("top")[1] == pytest.approx(0.05)


def test_voters_beyond_recorded_viewers_raise_the_denominator() -> None:
    snap = _snap([0] * 5, [0, 1, 2, 3, 4], viewers=[2, 0, 0])
    # E = max(viewers, voters) = 5: a supporter has necessarily seen the idea
    assert snap.scores("top")[0] == pytest.approx((5 + 0.5) / (5 + 10))


def test_opposing_counts_as_evidence_against() -> None:
    cfg = RankingConfig()
    snap = _snap([0, 0, 1, 1], [0, 1, 0, 1], value=[1, 1, 1, -1], viewers=[20, 20, 0])
    top = snap.scores("top")
    assert top[0] == pytest.approx((2 + 0.5) / (20 + 10))
    assert top[1] == pytest.approx((1 + 0.5) / (20 + 1 + 10))
    assert snap.scores("confident")[1] < snap.scores("confident")[0]
    assert cfg.prior_mean == 0.05


def test_confident_is_the_wilson_lower_bound() -> None:
    cfg = RankingConfig()
    s, e = 30.0, 100.0
    n = e + cfg.prior_strength
    p = (s + cfg.prior_strength * cfg.prior_mean) / n
    z = cfg.z
    expected = (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )
    got = confident_score(np.array([s]), np.zeros(1), np.array([e]), cfg)[0]
    assert got == pytest.approx(expected)
    # same rate, more evidence: a higher lower bound
    more = confident_score(np.array([300.0]), np.zeros(1), np.array([1000.0]), cfg)[0]
    assert more > got


def test_trending_halves_per_half_life() -> None:
    now = 10 * DAY
    snap = _snap([0, 0, 1], [0, 1, 0], time=[now, now - 3 * DAY, now - 6 * DAY], now=now)
    trending = snap.scores("trending")
    assert trending[0] == pytest.approx(1.5)
    assert trending[1] == pytest.approx(0.25)
    snap.advance(now + 3 * DAY)
    assert snap.scores("trending")[0] == pytest.approx(0.75)
    assert snap.top("trending").tolist()[:2] == [0, 1]  # decay never reorders


def test_broad_prefers_support_from_every_okrug() -> None:
    # idea 0: two supporters, one per okrug; idea 1: two supporters from okrug 0 only
    snap = _snap([0, 0, 1, 1], [0, 4, 0, 1], viewers=[20, 20, 0])
    broad = snap.scores("broad")
    assert broad[0] > broad[1]
    # r_o = (S_o + α·p0) / (max(V·s_o, S_o) + α), geometric mean over the two okrugs
    r = (1 + 0.5) / (10 + 10)
    assert broad[0] == pytest.approx(r)
    assert broad[1] == pytest.approx(math.sqrt((2 + 0.5) / 20 * (0 + 0.5) / 20))
    assert snap.scores("top")[0] == snap.scores("top")[1]


def test_new_sorts_by_publication_time() -> None:
    assert _snap([], []).top("new").tolist() == [2, 1, 0]


def test_controversial_needs_both_sides() -> None:
    snap = _snap([0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 2, 3], value=[1, -1, 1, 1, 1, 1])
    c = snap.scores("controversial")
    assert c[0] == pytest.approx(2.0)  # (1 + 1) ** (1 / 1)
    assert c[1] == 0.0


def test_random_is_deterministic_per_seed_and_fair() -> None:
    snap = _snap([], [], n_ideas=10)
    assert snap.top("random", seed=5).tolist() == snap.top("random", seed=5).tolist()
    assert snap.top("random", seed=5).tolist() != snap.top("random", seed=6).tolist()
    firsts = np.bincount(
        [int(snap.top("random", k=1, seed=s)[0]) for s in range(5000)], minlength=10
    )
    assert firsts.min() > 400 and firsts.max() < 600  # about 500 each
    page = snap.top("random", k=3, offset=3, seed=5).tolist()
    assert page == snap.top("random", k=10, seed=5).tolist()[3:6]


def test_duplicates_count_each_voter_once() -> None:
    # ideas 0 and 1 are one cluster (canonical 0); user 0 supported both copies
    snap = _snap([0, 1, 1], [0, 0, 1], canonical=[0, 0, 2], viewers=[10, 10, 0])
    why = snap.explain(1, "top")
    assert why["canonical"] == 0 and why["merged"]
    assert why["raw_supporters"] == 2
    assert snap.scores("top")[0] == pytest.approx((2 + 0.5) / (20 + 10))
    assert snap.scores("top")[1] == MERGED_SCORE
    assert 1 not in snap.top("top").tolist()


def test_ties_break_by_newest_idea_first() -> None:
    snap = _snap([], [], n_ideas=5)
    for scheme in ("top", "confident", "trending", "broad", "controversial"):
        assert snap.top(scheme).tolist() == [4, 3, 2, 1, 0]


def test_zero_votes_give_finite_scores() -> None:
    snap = _snap([], [], n_ideas=4, canonical=[0, 0, 2, 3])
    for scheme in SCHEMES:
        s = snap.scores(scheme)
        assert np.all(np.isfinite(s[[0, 2, 3]])), scheme
        assert s[1] == MERGED_SCORE


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), pick=st.integers(0, 10**6), full_weight=st.booleans())
def test_more_support_never_lowers_a_score(seed: int, pick: int, full_weight: bool) -> None:
    world = make_world(seed, clusters=True, oppose=True)
    pairs = set(zip(world.idea, world.user, strict=True))
    free = [
        (i, u)
        for i in range(len(world.ideas))
        for u in range(len(world.users))
        if (i, u) not in pairs
    ]
    idea, user = free[pick % len(free)]
    users = world.users
    if full_weight:  # a verified voter on a city-wide idea: weight 1
        users = Users.build(np.ones(len(users), bool), users.district, users.created)
        ideas = Ideas.build(
            np.full(len(world.ideas), -1),
            world.ideas.created,
            world.ideas.viewers,
            world.ideas.canonical,
        )
    else:  # any weight, with at least as many recorded viewers as voters
        ideas = Ideas.build(
            world.ideas.district,
            world.ideas.created,
            np.full(len(world.ideas), 100),
            world.ideas.canonical,
        )
    now = 10 * DAY
    before = Snapshot.build(world.votes(), users, ideas, world.geo, now=now, suspicion=world.susp())
    after = Snapshot.build(
        Votes.build(
            world.idea + [idea], world.user + [user], world.value + [1], world.time + [now]
        ),
        users,
        ideas,
        world.geo,
        now=now,
        suspicion=np.append(world.susp(), np.float32(0.5)),
    )
    c = int(ideas.canonical[idea])
    for scheme in ("top", "confident", "trending", "broad"):
        assert after.scores(scheme)[c] >= before.scores(scheme)[c] - 1e-12, scheme


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_order_is_invariant_to_the_order_of_input_rows(seed: int, perm_seed: int) -> None:
    world = make_world(seed, clusters=True, oppose=True)
    perm = np.random.default_rng(perm_seed).permutation(len(world.idea))
    a = Snapshot.build(world.votes(), world.users, world.ideas, world.geo, now=10 * DAY)
    v = world.votes()
    shuffled = Votes.build(v.idea[perm], v.user[perm], v.value[perm], v.time[perm])
    b = Snapshot.build(shuffled, world.users, world.ideas, world.geo, now=10 * DAY)
    for scheme in SCHEMES:
        np.testing.assert_allclose(a.scores(scheme, seed=3), b.scores(scheme, seed=3))
        if scheme != "trending":  # dyadic weights: sums are exact, so lists are identical
            assert a.top(scheme, k=50, seed=3).tolist() == b.top(scheme, k=50, seed=3).tolist()


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("prior_strength", 0),
        ("prior_mean", 0.0),
        ("prior_mean", 1.0),
        ("z", -1),
        ("half_life_s", 0),
        ("half_life_s", float("inf")),
        ("trending_horizon", -1),
        ("controversial_min", -1),
        ("refresh_after", 0),
        ("prior_strength", "ten"),
    ],
)
def test_invalid_ranking_config_is_refused(field: str, bad: object) -> None:
    with pytest.raises(ValueError, match=field):
        RankingConfig(**{field: bad})  # type: ignore[arg-type]
