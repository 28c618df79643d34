"""Vote weights: hand-computed factors, bounds, validation."""

from __future__ import annotations

from typing import Literal, TypedDict, Unpack, get_args

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking import Geography, Ideas, Users, Votes, WeightConfig, discount_summary, vote_weights
from tests.ranking.world import make_world

GEO = Geography(np.array([0, 0, 1], dtype=np.int16))  # districts 0, 1 in okrug 0; 2 in okrug 1

Factor = Literal["verified", "unverified", "same_district", "same_okrug", "other_district"]


class WeightKwargs(TypedDict, total=False):
    """The keyword arguments of :class:`WeightConfig`."""

    verified: float
    unverified: float
    same_district: float
    same_okrug: float
    other_district: float
    budget: int | None
    max_suspicion_discount: float


def _one_vote(
    verified: bool, user_district: int, idea_district: int, /, **cfg: Unpack[WeightKwargs]
) -> float:
    users = Users.build([verified], [user_district], [0])
    ideas = Ideas.build([idea_district], [0])
    w = vote_weights(Votes.build([0], [0]), users, ideas, GEO, WeightConfig(**cfg))
    return float(w.weight[0])


def test_verified_resident_of_the_district_counts_fully() -> None:
    assert _one_vote(True, 0, 0) == 1.0


def test_unverified_account_counts_half_by_default() -> None:
    assert _one_vote(False, 0, 0) == 0.5


def test_city_wide_ideas_count_every_district_fully() -> None:
    assert _one_vote(True, 2, -1) == 1.0
    assert _one_vote(True, -1, -1) == 1.0


def test_district_factor_same_okrug_other_okrug_unknown() -> None:
    assert _one_vote(True, 1, 0) == 0.75
    assert _one_vote(True, 2, 0) == 0.5
    assert _one_vote(True, -1, 0) == 0.5
    assert _one_vote(False, 1, 0, unverified=0.4) == pytest.approx(0.3)


def test_budget_spreads_a_heavy_users_votes() -> None:
    users = Users.build([True, True], [0, 0], [0, 0])
    ideas = Ideas.build([-1] * 4, [0] * 4)
    votes = Votes.build([0, 1, 2, 3, 0], [0, 0, 0, 0, 1])
    w = vote_weights(votes, users, ideas, GEO, WeightConfig(budget=2))
    assert w.budget.tolist() == [0.5, 0.5, 0.5, 0.5, 1.0]
    assert float(w.weight[:4].sum()) == 2.0  # the heavy user's total influence is the budget


def test_suspicion_discount_keeps_a_floor() -> None:
    users = Users.build([True], [0], [0])
    ideas = Ideas.build([-1, -1], [0, 0])
    votes = Votes.build([0, 1], [0, 0])
    w = vote_weights(votes, users, ideas, GEO, WeightConfig(), suspicion=[1.0, 0.5])
    assert w.suspicion.tolist() == pytest.approx([0.1, 0.55])
    summary = discount_summary(w)
    assert summary["suspicion"] == 2 and summary["unverified"] == 0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    unverified=st.floats(0, 1),
    okrug=st.floats(0, 1),
    other=st.floats(0, 1),
    budget=st.one_of(st.none(), st.integers(1, 5)),
    discount=st.floats(0, 1),
)
def test_weights_stay_within_their_bounds(
    seed: int, unverified: float, okrug: float, other: float, budget: int | None, discount: float
) -> None:
    world = make_world(seed)
    cfg = WeightConfig(
        unverified=unverified,
        same_okrug=okrug,
        other_district=other,
        budget=budget,
        max_suspicion_discount=discount,
    )
    w = vote_weights(world.votes(), world.users, world.ideas, world.geo, cfg, world.susp())
    for factor in (w.weight, w.resident, w.district, w.budget, w.suspicion):
        assert factor.shape == (len(world.idea),)
        assert np.all((factor >= 0) & (factor <= 1))
    assert np.all(w.suspicion >= 1 - discount - 1e-6)
    np.testing.assert_allclose(
        w.weight, w.resident * w.district * w.budget * w.suspicion, rtol=1e-6
    )


@pytest.mark.parametrize("field", get_args(Factor))
@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_factor_outside_unit_interval_is_refused(field: Factor, bad: float) -> None:
    kwargs: WeightKwargs = {}
    kwargs[field] = bad
    with pytest.raises(ValueError, match=field):
        WeightConfig(**kwargs)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_budget_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="budget"):
        WeightConfig(budget=bad)  # type: ignore[arg-type]


def test_bad_suspicion_shape_and_range_are_refused() -> None:
    world = make_world(1)
    args = (world.votes(), world.users, world.ideas, world.geo)
    with pytest.raises(ValueError, match="suspicion"):
        vote_weights(*args, suspicion=np.zeros(3))
    with pytest.raises(ValueError, match="suspicion"):
        vote_weights(*args, suspicion=np.full(len(world.idea), 2.0))


def test_votes_out_of_range_are_refused() -> None:
    world = make_world(1)
    with pytest.raises(ValueError, match="votes.user"):
        vote_weights(Votes.build([0], [999]), world.users, world.ideas, world.geo)
    with pytest.raises(ValueError, match="votes.idea"):
        vote_weights(Votes.build([999], [0]), world.users, world.ideas, world.geo)
