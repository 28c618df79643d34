"""Growing a snapshot: new ideas and users, then their votes, equal a full build."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking import CITY_WIDE, SCHEMES, Ideas, Snapshot, Users, Votes, WeightConfig
from ranking.order import sort_order
from tests.ranking.world import World, make_world

DAY = 86400
NOW = 10 * DAY


def _grow(
    world: World, n_ideas0: int, n_users0: int, budget: int | None, seed: int, batch: int
) -> tuple[Snapshot, Snapshot]:
    """Build on the first ideas and users (and the votes among them, half of them), then add
    the rest of the ideas and users in batches and apply the remaining votes one by one;
    return it with a full build on the whole world."""
    wcfg = WeightConfig(budget=budget)
    idea, user = np.asarray(world.idea), np.asarray(world.user)
    early = np.flatnonzero((idea < n_ideas0) & (user < n_users0))
    early = early[: early.size // 2 + 1]
    rest = np.setdiff1d(np.arange(idea.size), early)
    rng = np.random.default_rng(seed)
    rest = rest[rng.permutation(rest.size)]
    v, i, u = world.votes(), world.ideas, world.users
    base = Votes.build(v.idea[early], v.user[early], v.value[early], v.time[early])
    ideas0 = Ideas.build(
        i.district[:n_ideas0], i.created[:n_ideas0], i.viewers[:n_ideas0], i.canonical[:n_ideas0]
    )
    users0 = Users.build(u.verified[:n_users0], u.district[:n_users0], u.created[:n_users0])
    snap = Snapshot.build(
        base, users0, ideas0, world.geo, wcfg, None, NOW, world.susp()[early], threads=1
    )
    for lo in range(n_ideas0, len(i), batch):
        hi = min(lo + batch, len(i))
        got = snap.add_ideas(i.district[lo:hi], i.created[lo:hi], i.viewers[lo:hi])
        assert got.tolist() == list(range(lo, hi))
    for lo in range(n_users0, len(u), batch):
        hi = min(lo + batch, len(u))
        got = snap.add_users(u.verified[lo:hi], u.district[lo:hi], u.created[lo:hi])
        assert got.tolist() == list(range(lo, hi))
    for r in rest.tolist():
        snap.apply_vote(
            world.idea[r], world.user[r], world.value[r], world.time[r], 1, world.suspicion[r]
        )
        if r % 5 == 0:
            snap.top("broad", k=3)  # reads between updates keep the orders honest
    full = Snapshot.build(v, u, i, world.geo, wcfg, None, NOW, world.susp(), threads=1)
    return snap, full


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    budget=st.one_of(st.none(), st.integers(1, 4)),
    clusters=st.booleans(),
    oppose=st.booleans(),
    n_ideas0=st.integers(6, 12),
    n_users0=st.integers(0, 15),
    batch=st.integers(1, 8),
)
def test_growing_then_voting_equals_a_full_build(
    seed: int,
    budget: int | None,
    clusters: bool,
    oppose: bool,
    n_ideas0: int,
    n_users0: int,
    batch: int,
) -> None:
    world = make_world(seed, n_votes=60, clusters=clusters, oppose=oppose)
    snap, full = _grow(world, n_ideas0, n_users0, budget, seed, batch)
    assert (snap.n_ideas, snap.n_users) == (full.n_ideas, full.n_users)
    for scheme in SCHEMES:
        np.testing.assert_allclose(
            snap.scores(scheme, seed=1), full.scores(scheme, seed=1), rtol=1e-9, atol=1e-12
        )
    mask = np.random.default_rng(seed).random(snap.n_ideas) < 0.7
    for scheme in SCHEMES:
        s = None if scheme != "random" else 3
        for m in (None, mask):
            got = snap.top(scheme, m, k=snap.n_ideas, seed=s).tolist()
            assert got == full.top(scheme, m, k=snap.n_ideas, seed=s).tolist(), scheme
            alive = world.ideas.canonical == np.arange(snap.n_ideas)
            if scheme != "random":
                keep = alive if m is None else alive & m
                assert got == sort_order(full.scores(scheme), keep).tolist()
    for scheme in ("top", "broad", "trending", "new"):
        pages = [snap.top(scheme, k=1, offset=o).tolist() for o in range(snap.n_ideas)]
        assert pages == [full.top(scheme, k=1, offset=o).tolist() for o in range(snap.n_ideas)]
    snap.refresh()
    for scheme in ("top", "broad", "new"):
        assert snap.top(scheme, k=5).tolist() == full.top(scheme, k=5).tolist()


def _small() -> Snapshot:
    world = make_world(21, clusters=True, oppose=True)
    return Snapshot.build(
        world.votes(), world.users, world.ideas, world.geo, now=NOW, suspicion=world.susp()
    )


def test_a_new_idea_comes_first_in_new_and_has_finite_scores() -> None:
    snap = _small()
    snap.top("top")  # orders sorted before the idea exists
    (idea,) = snap.add_ideas(CITY_WIDE, NOW)
    assert snap.top("new", k=1).tolist() == [idea]
    for scheme in SCHEMES:
        assert np.isfinite(snap.scores(scheme, seed=2)[idea]), scheme
    assert snap.scores("top")[idea] == pytest.approx(snap.explain(idea, "top")["score"])
    assert idea in snap.top("top", k=snap.n_ideas).tolist()


def test_explain_and_discounts_work_for_new_ideas_and_users() -> None:
    snap = _small()
    (idea,) = snap.add_ideas([2], [NOW], viewers=[7])
    (user,) = snap.add_users([False], [3], [NOW])
    why = snap.explain(int(idea), "broad")
    assert why["raw_supporters"] == 0 and why["viewers"] == 7 and why["rank"] >= 1
    snap.apply_vote(int(idea), int(user), 1, NOW, 1, suspicion=0.5)
    why = snap.explain(int(idea), "top")
    assert why["raw_supporters"] == 1
    assert 0 < why["weighted_support"] < 1  # unverified, other district, suspicious
    got = snap.discounts(int(idea))
    assert got["votes"] == 1 and got["unverified"] == 1 and got["suspicion"] == 1
    snap.apply_vote(int(idea), int(user), 1, NOW, -1)
    assert snap.explain(int(idea), "top")["raw_supporters"] == 0


def test_growing_past_the_capacity_many_times_keeps_earlier_data() -> None:
    snap = _small()
    before = {s: snap.scores(s) for s in ("top", "trending", "controversial")}
    n0, u0 = snap.n_ideas, snap.n_users
    for j in range(300):
        snap.add_ideas(j % 5, NOW + j)
        snap.add_users(j % 2 == 0, CITY_WIDE, NOW)  # unknown district: shares unchanged
    for s, old in before.items():
        np.testing.assert_array_equal(snap.scores(s)[:n0], old)
    assert (snap.n_ideas, snap.n_users) == (n0 + 300, u0 + 300)
    assert snap.top("new", k=3).tolist() == [n0 + 299, n0 + 298, n0 + 297]
    snap.apply_vote(n0 + 5, u0 + 7, 1, NOW, 1)
    assert snap.scores("trending")[n0 + 5] > 0
    alive = snap.scores("top") > -np.inf
    for s in ("trending", "top", "new"):
        expected = sort_order(snap.scores(s), alive).tolist()
        assert snap.top(s, k=snap.n_ideas).tolist() == expected


def test_adding_zero_rows_is_a_no_op() -> None:
    snap = _small()
    n, u = snap.n_ideas, snap.n_users
    assert snap.add_ideas([], []).tolist() == []
    assert snap.add_users([], [], []).tolist() == []
    assert (snap.n_ideas, snap.n_users) == (n, u)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.add_ideas(5, 0), "district"),
        (lambda s: s.add_ideas(-2, 0), "district"),
        (lambda s: s.add_ideas(0, -1), "created"),
        (lambda s: s.add_ideas(0, 0, viewers=-1), "viewers"),
        (lambda s: s.add_ideas([0, 1], [0, 1, 2]), "created"),
        (lambda s: s.add_ideas([[0]], [0]), "district"),
        (lambda s: s.add_ideas(0.5, 0), "district"),
        (lambda s: s.add_ideas(0, "soon"), "created"),
        (lambda s: s.add_users(True, 5, 0), "district"),
        (lambda s: s.add_users(2, 0, 0), "verified"),
        (lambda s: s.add_users(True, 0, -5), "created"),
        (lambda s: s.add_users([True, False], [0], [0, 0]), "district"),
    ],
)
def test_bad_growth_arguments_raise_value_error_naming_them(
    call: Callable[[Snapshot], object], match: str
) -> None:
    snap = _small()
    n, u = snap.n_ideas, snap.n_users
    with pytest.raises(ValueError, match=match):
        call(snap)
    assert (snap.n_ideas, snap.n_users) == (n, u)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_new=st.integers(1, 30))
def test_new_users_change_the_okrug_shares_and_the_broad_order(seed: int, n_new: int) -> None:
    world = make_world(seed, n_ideas=30, n_users=40, n_votes=300)
    snap = Snapshot.build(world.votes(), world.users, world.ideas, world.geo, now=NOW)
    snap.top("broad")  # sorted under the old shares, nothing dirty
    rng = np.random.default_rng(seed)
    district = np.full(n_new, int(rng.integers(0, 5)))  # all in one okrug: shares move
    snap.add_users(np.ones(n_new, dtype=bool), district, np.full(n_new, NOW))
    u = world.users
    users = Users.build(
        np.concatenate([u.verified, np.ones(n_new, dtype=bool)]),
        np.concatenate([u.district, district]),
        np.concatenate([u.created, np.full(n_new, NOW)]),
    )
    full = Snapshot.build(world.votes(), users, world.ideas, world.geo, now=NOW)
    np.testing.assert_allclose(snap.scores("broad"), full.scores("broad"), rtol=1e-12)
    assert snap.n_dirty == 0
    pages = [snap.top("broad", k=2, offset=o).tolist() for o in range(0, 30, 2)]
    assert pages == [full.top("broad", k=2, offset=o).tolist() for o in range(0, 30, 2)]
    # An okrug with no residents among the users has no rate (NaN): equal NaNs are equal here.
    np.testing.assert_array_equal(
        snap.explain(0, "broad")["okrug_rates"], full.explain(0, "broad")["okrug_rates"]
    )
