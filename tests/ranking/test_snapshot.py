"""The snapshot: incremental updates equal a full recompute, exact top-k reads, explanations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ranking.aggregate as aggregate_module
from ranking import (
    SCHEMES,
    Geography,
    Ideas,
    RankingConfig,
    Snapshot,
    Users,
    Votes,
    VoteWeights,
    WeightConfig,
    discount_summary,
    vote_weights,
)
from ranking.order import sort_order
from tests.ranking.world import World, make_world

DAY = 86400
NOW = 10 * DAY


def _replay(
    world: World, budget: int | None, seed: int, config: RankingConfig | None = None
) -> tuple[Snapshot, Snapshot]:
    """Build from half the votes, apply the rest (with random withdrawals) incrementally;
    return it with a full recompute over the surviving votes."""
    wcfg = WeightConfig(budget=budget)
    n = len(world.idea)
    h = n // 2
    base = Votes.build(world.idea[:h], world.user[:h], world.value[:h], world.time[:h])
    snap = Snapshot.build(
        base, world.users, world.ideas, world.geo, wcfg, config, NOW, world.susp()[:h]
    )
    rng = np.random.default_rng(seed)
    live = list(range(h))
    for i in range(h, n):
        snap.apply_vote(
            world.idea[i], world.user[i], world.value[i], world.time[i], 1, world.suspicion[i]
        )
        live.append(i)
        if rng.random() < 0.3:
            j = live.pop(int(rng.integers(len(live))))
            snap.apply_vote(world.idea[j], world.user[j], world.value[j], world.time[j], -1)
    keep = np.array(sorted(live), dtype=np.int64)
    v = world.votes()
    final = Votes.build(v.idea[keep], v.user[keep], v.value[keep], v.time[keep])
    full = Snapshot.build(
        final, world.users, world.ideas, world.geo, wcfg, config, NOW, world.susp()[keep]
    )
    return snap, full


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    budget=st.one_of(st.none(), st.integers(1, 4)),
    clusters=st.booleans(),
    oppose=st.booleans(),
)
def test_incremental_updates_equal_a_full_recompute(
    seed: int, budget: int | None, clusters: bool, oppose: bool
) -> None:
    world = make_world(seed, clusters=clusters, oppose=oppose)
    snap, full = _replay(world, budget, seed)
    for scheme in SCHEMES:
        np.testing.assert_allclose(
            snap.scores(scheme, seed=1), full.scores(scheme, seed=1), rtol=1e-9, atol=1e-12
        )


def test_incremental_trending_respects_the_horizon() -> None:
    world = make_world(3, n_votes=60)
    cfg = RankingConfig(half_life_s=3600.0, trending_horizon=20.0)
    snap, full = _replay(world, None, 3, cfg)
    np.testing.assert_allclose(snap.scores("trending"), full.scores("trending"), atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 8),
    offset=st.integers(0, 5),
    mask_seed=st.integers(0, 100),
)
def test_top_after_updates_is_the_exact_sorted_list(
    seed: int, k: int, offset: int, mask_seed: int
) -> None:
    world = make_world(seed, clusters=True, oppose=True)
    snap, _ = _replay(world, None, seed)
    assert snap.n_dirty > 0
    mask = np.random.default_rng(mask_seed).random(snap.n_ideas) < 0.7
    for scheme in ("top", "confident", "trending", "broad", "new", "controversial"):
        alive = world.ideas.canonical == np.arange(snap.n_ideas)
        expected = sort_order(snap.scores(scheme), mask & alive)[offset : offset + k]
        assert snap.top(scheme, mask, k=k, offset=offset).tolist() == expected.tolist()


def test_refresh_clears_the_dirty_set_and_keeps_the_lists() -> None:
    world = make_world(4)
    snap, _ = _replay(world, None, 4)
    before = snap.top("top", k=10).tolist()
    snap.refresh()
    assert snap.n_dirty == 0
    assert snap.top("top", k=10).tolist() == before


def test_dirty_set_past_the_threshold_triggers_a_resort() -> None:
    world = make_world(5)
    snap, _ = _replay(world, None, 5, RankingConfig(refresh_after=1))
    snap.top("top")
    assert snap.n_dirty == 0


def test_set_viewers_equals_a_rebuild_with_those_viewers() -> None:
    world = make_world(6, clusters=True)
    snap = Snapshot.build(world.votes(), world.users, world.ideas, world.geo, now=NOW)
    snap.set_viewers(1, 500)
    snap.set_viewers(3, 0)
    viewers = world.ideas.viewers.copy()
    viewers[1], viewers[3] = 500, 0
    ideas = type(world.ideas).build(
        world.ideas.district, world.ideas.created, viewers, world.ideas.canonical
    )
    full = Snapshot.build(world.votes(), world.users, ideas, world.geo, now=NOW)
    for scheme in ("top", "confident", "broad"):
        np.testing.assert_allclose(snap.scores(scheme), full.scores(scheme))


def test_explain_gives_the_numbers_behind_the_rank() -> None:
    world = make_world(7)
    snap = Snapshot.build(
        world.votes(), world.users, world.ideas, world.geo, now=NOW, suspicion=world.susp()
    )
    best = int(snap.top("top", k=1)[0])
    why = snap.explain(best, "top")
    assert why["rank"] == 1
    assert why["score"] == pytest.approx(snap.scores("top")[best])
    assert why["denominator"] == max(why["viewers"], why["raw_supporters"] + why["raw_opposers"])
    expected = (why["weighted_support"] + why["prior_strength"] * why["prior_mean"]) / (
        why["denominator"] + why["weighted_oppose"] + why["prior_strength"]
    )
    assert why["score"] == pytest.approx(expected)
    assert 0 <= why["discounted_weight"] <= why["raw_supporters"]
    assert len(snap.explain(best, "broad")["okrug_rates"]) == world.geo.n_okrugs
    assert snap.explain(best, "trending")["half_life_s"] == RankingConfig().half_life_s


def test_withdrawing_a_vote_that_was_never_cast_is_refused_with_a_budget() -> None:
    world = make_world(8)
    snap = Snapshot.build(
        world.votes(), world.users, world.ideas, world.geo, WeightConfig(budget=2), now=NOW
    )
    free_user = len(world.users) - 1
    for i, u in zip(world.idea, world.user, strict=True):
        if u == free_user:
            snap.apply_vote(i, u, 1, NOW, -1)
    before = snap.scores("top")
    with pytest.raises(ValueError, match="withdraw"):
        snap.apply_vote(0, free_user, 1, NOW, -1)
    np.testing.assert_array_equal(snap.scores("top"), before)  # nothing half-applied


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.scores("hot"), "scheme"),
        (lambda s: s.top("top", np.ones(3, dtype=bool)), "mask"),
        (lambda s: s.top("top", np.ones(s.n_ideas)), "mask"),
        (lambda s: s.top("top", k=-1), "k"),
        (lambda s: s.top("top", offset=-1), "offset"),
        (lambda s: s.top("random"), "seed"),
        (lambda s: s.apply_vote(10**6, 0, 1, 0, 1), "idea"),
        (lambda s: s.apply_vote(0, 10**6, 1, 0, 1), "user"),
        (lambda s: s.apply_vote(0, 0, 2, 0, 1), "value"),
        (lambda s: s.apply_vote(0, 0, 1, 0, 0), "delta"),
        (lambda s: s.apply_vote(0, 0, 1, 0, 1, suspicion=2.0), "suspicion"),
        (lambda s: s.set_viewers(0, -1), "viewers"),
        (lambda s: s.explain(0, "best"), "scheme"),
        (lambda s: s.advance(float("nan")), "now"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    call: Callable[[Snapshot], object], match: str
) -> None:
    world = make_world(9)
    snap = Snapshot.build(world.votes(), world.users, world.ideas, world.geo, now=NOW)
    with pytest.raises(ValueError, match=match):
        call(snap)


def test_build_refuses_bad_configs_and_suspicion() -> None:
    world = make_world(10)
    args = (world.votes(), world.users, world.ideas, world.geo)
    with pytest.raises(ValueError, match="weight_config"):
        Snapshot.build(*args, weight_config=RankingConfig())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ranking_config"):
        Snapshot.build(*args, ranking_config=WeightConfig())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="suspicion"):
        Snapshot.build(*args, suspicion=np.zeros(2))
    with pytest.raises(ValueError, match="threads"):
        Snapshot.build(*args, threads=0)
    with pytest.raises(ValueError, match="now"):
        Snapshot.build(*args, now=float("inf"))


def test_discounts_count_why_votes_lost_weight() -> None:
    world = make_world(11, n_votes=80)
    snap = Snapshot.build(
        world.votes(), world.users, world.ideas, world.geo, now=NOW, suspicion=world.susp()
    )
    w = vote_weights(world.votes(), world.users, world.ideas, world.geo, suspicion=world.susp())
    idea = int(np.bincount(world.idea).argmax())
    on_idea = np.asarray(world.idea) == idea
    sub = VoteWeights(
        *(getattr(w, f)[on_idea] for f in ("weight", "resident", "district", "budget", "suspicion"))
    )
    expected = discount_summary(sub)
    got = snap.discounts(idea)
    for key in ("votes", "discounted", "unverified", "district", "suspicion"):
        assert got[key] == expected[key], key
    free = next(
        u
        for u in range(len(world.users))
        if (idea, u) not in set(zip(world.idea, world.user, strict=True))
    )
    snap.apply_vote(idea, free, 1, NOW, 1, suspicion=0.5)
    after = snap.discounts(idea)
    assert after["votes"] == got["votes"] + 1
    assert after["suspicion"] == got["suspicion"] + 1
    first = int(np.flatnonzero(on_idea)[0])
    snap.apply_vote(idea, world.user[first], world.value[first], world.time[first], -1)
    assert snap.discounts(idea)["votes"] == got["votes"]


def test_many_districts_and_many_chunks_give_the_same_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(12)
    n_d, n_i, n_u, n_v = 300, 50, 400, 3000
    geo = Geography((np.arange(n_d) // 30).astype(np.int16))
    users = Users.build(rng.random(n_u) < 0.5, rng.integers(-1, n_d, n_u), np.zeros(n_u))
    ideas = Ideas.build(rng.integers(-1, n_d, n_i), np.arange(n_i), rng.integers(0, 100, n_i))
    pairs = rng.choice(n_i * n_u, n_v, replace=False)
    votes = Votes.build(pairs // n_u, pairs % n_u, None, rng.integers(0, NOW, n_v))
    one = Snapshot.build(votes, users, ideas, geo, now=NOW, threads=1)
    monkeypatch.setattr(aggregate_module, "CHUNK", 97)
    many = Snapshot.build(votes, users, ideas, geo, now=NOW, threads=2)
    w = vote_weights(votes, users, ideas, geo)
    support = np.bincount(votes.idea, w.weight.astype(np.float64), minlength=n_i)
    expected_top = (support + 0.5) / (
        np.maximum(ideas.viewers, np.bincount(votes.idea, minlength=n_i)) + 10
    )
    for scheme in SCHEMES:
        np.testing.assert_allclose(one.scores(scheme), many.scores(scheme), rtol=1e-12)
    np.testing.assert_allclose(one.scores("top"), expected_top, rtol=1e-6)


def test_trending_rebases_instead_of_overflowing() -> None:
    world = make_world(13)
    cfg = RankingConfig(half_life_s=10.0)
    snap = Snapshot.build(world.votes(), world.users, world.ideas, world.geo, None, cfg, NOW)
    voted = set(zip(world.idea, world.user, strict=True))
    idea, user = next((i, u) for i in range(12) for u in range(15) if (i, u) not in voted)
    later = NOW + 10 * 700  # 700 half-lives: 2**700 is near float overflow
    snap.apply_vote(idea, user, 1, later, 1)
    snap.advance(later)
    votes = Votes.build(
        world.idea + [idea], world.user + [user], world.value + [1], world.time + [later]
    )
    full = Snapshot.build(votes, world.users, world.ideas, world.geo, None, cfg, later)
    assert np.all(np.isfinite(snap.scores("trending")))
    np.testing.assert_allclose(snap.scores("trending"), full.scores("trending"))
    assert snap.top("trending", k=1).tolist() == [idea]


def test_an_empty_city_builds() -> None:
    world = make_world(14)
    empty = Votes.build(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32))
    snap = Snapshot.build(empty, world.users, world.ideas, world.geo, now=NOW)
    for scheme in SCHEMES:
        assert np.all(
            np.isfinite(snap.scores(scheme)[world.ideas.canonical == np.arange(snap.n_ideas)])
        )
    no_ideas = Ideas.build(np.zeros(0), np.zeros(0))
    assert Snapshot.build(empty, world.users, no_ideas, world.geo).top("top").tolist() == []


def test_explain_with_a_known_position_matches_the_full_explanation() -> None:
    from ranking.arrays import Geography, Ideas, Users, Votes
    from ranking.snapshot import Snapshot

    geo = Geography(np.array([0, 1], dtype=np.int16))
    users = Users.build([True, False, True], [0, 1, -1], [0, 0, 0])
    ideas = Ideas.build([-1, 0, 1], [0, 10, 20], viewers=[5, 9, 0])
    snap = Snapshot.build(Votes.build([0, 1, 1, 2], [0, 1, 2, 0]), users, ideas, geo, now=100)
    for scheme in ("top", "confident", "trending", "broad", "controversial"):
        for idea in range(3):
            full = snap.explain(idea, scheme)
            quick = snap.explain(idea, scheme, rank=7)
            assert quick["rank"] == 7
            assert quick.pop("okrug_rates", None) == pytest.approx(full.pop("okrug_rates", None))
            assert {k: v for k, v in quick.items() if k != "rank"} == pytest.approx(
                {k: v for k, v in full.items() if k != "rank"}
            )
    with pytest.raises(ValueError, match="rank"):
        snap.explain(0, "top", rank=0)
