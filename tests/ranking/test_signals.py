"""Manipulation signals: planted bursts, sock-puppet waves and rings in realistic traffic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from ranking.arrays import Users, Votes
from ranking.signals import (
    BURST,
    FRESH,
    LOCKSTEP,
    SignalConfig,
    detect_bursts,
    detect_fresh_accounts,
    detect_lockstep,
    detect_signals,
)

HOUR = 3600
DAY = 24 * HOUR
WEEKS = 4
N_USERS = 12_000
N_IDEAS = 600


@dataclass
class City:
    """Columns of a synthetic city's votes, plus which rows were planted."""

    idea: NDArray[np.int64]
    user: NDArray[np.int64]
    time: NDArray[np.int64]
    created: NDArray[np.int64]
    planted: NDArray[np.bool_]

    def votes(self) -> Votes:
        return Votes.build(self.idea, self.user, time=self.time)

    def users(self) -> Users:
        n = self.created.shape[0]
        return Users.build(np.ones(n), np.zeros(n), self.created)

    def plus(self, idea: object, user: object, time: object, created: object = ()) -> City:
        """This city with planted votes (and planted accounts appended to the users)."""
        idea_a = np.asarray(idea, dtype=np.int64)
        return City(
            np.r_[self.idea, idea_a],
            np.r_[self.user, np.asarray(user, dtype=np.int64)],
            np.r_[self.time, np.asarray(time, dtype=np.int64)],
            np.r_[self.created, np.asarray(created, dtype=np.int64)],
            np.r_[self.planted, np.ones(idea_a.shape[0], dtype=np.bool_)],
        )


def _diurnal(rng: np.random.Generator, time: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Thin arrivals to a daily rhythm: quiet at 4 am, busiest around 8 pm (about 9:1)."""
    hour = (time % DAY) / HOUR
    rate = 0.55 + 0.45 * np.cos(2 * np.pi * (hour - 20) / 24)
    return rng.random(time.shape[0]) < rate


def _background(seed: int = 20240) -> City:
    """Four weeks of organic traffic.

    Ideas are published over the first three weeks with lognormal popularity; each idea's votes
    rise and fade (a gamma-shaped life of a few days) under a diurnal rhythm. Three quarters of
    the accounts exist before the period, the rest sign up during it; voters are drawn by a
    lognormal activity among accounts that exist at the time, and each new account casts its first
    votes within hours of signing up, on then-popular ideas (so popular ideas organically draw
    fresh accounts).
    """
    rng = np.random.default_rng(seed)
    span = WEEKS * 7 * DAY
    idea_created = rng.uniform(0, 3 * 7 * DAY, N_IDEAS)
    popularity = rng.lognormal(0.0, 1.4, N_IDEAS)
    per_idea = rng.poisson(popularity / popularity.mean() * 300)
    idea = np.repeat(np.arange(N_IDEAS), per_idea)
    life = rng.gamma(2.0, 1.5 * DAY, idea.shape[0])
    time = idea_created[idea] + life
    keep = (time < span) & _diurnal(rng, time)
    idea, time = idea[keep], time[keep]

    n_old = N_USERS * 3 // 4
    created = np.r_[
        -rng.uniform(30 * DAY, 700 * DAY, n_old), np.sort(rng.uniform(0, span, N_USERS - n_old))
    ]
    activity = rng.lognormal(0.0, 1.2, N_USERS)
    order = np.argsort(created, kind="stable")
    cum = np.cumsum(activity[order])
    existing = np.searchsorted(created[order], time, side="right")
    user = order[np.searchsorted(cum, rng.random(time.shape[0]) * cum[existing - 1])]

    # New accounts' first votes: 1-3 within hours of signing up, on ideas popular at that time.
    newcomers = np.arange(n_old, N_USERS)
    first_n = rng.integers(1, 4, newcomers.shape[0])
    new_user = np.repeat(newcomers, first_n)
    new_time = created[new_user] + rng.exponential(2 * HOUR, new_user.shape[0])
    recent = np.argsort(time)
    pick = np.searchsorted(time[recent], new_time) - 1 - rng.integers(0, 300, new_user.shape[0])
    ok = (pick >= 0) & (new_time < span)
    new_idea = idea[recent[np.clip(pick, 0, None)]]
    idea = np.r_[idea, new_idea[ok]]
    user = np.r_[user, new_user[ok]]
    time = np.r_[time, new_time[ok]]

    # One vote per (user, idea), as the platform stores them.
    _, first = np.unique(user * N_IDEAS + idea, return_index=True)
    return City(
        idea[first].astype(np.int64),
        user[first].astype(np.int64),
        time[first].astype(np.int64),
        created.astype(np.int64),
        np.zeros(first.shape[0], dtype=np.bool_),
    )


@pytest.fixture(scope="module")
def city() -> City:
    return _background()


def _mid_idea(city: City) -> int:
    """An idea of median popularity published in the first week."""
    counts = np.bincount(city.idea, minlength=N_IDEAS)
    early = np.bincount(city.idea[city.time < 7 * DAY], minlength=N_IDEAS) > 0
    candidates = np.flatnonzero(early & (counts > 0))
    return int(candidates[np.argsort(counts[candidates])[candidates.shape[0] // 2]])


def _old_users(city: City, k: int, seed: int) -> NDArray[np.int64]:
    old = np.flatnonzero(city.created < 0)
    return np.random.default_rng(seed).choice(old, k, replace=False).astype(np.int64)


def test_background_is_realistic(city: City) -> None:
    counts = np.bincount(city.idea, minlength=N_IDEAS)
    assert 80_000 < city.idea.shape[0] < 150_000
    assert counts.max() > 15 * np.median(counts)  # heavy tail
    hourly = np.bincount((city.time % DAY) // HOUR, minlength=24)
    assert hourly.max() > 4 * hourly.min()  # diurnal rhythm
    assert np.all(city.created[city.user] <= city.time)


def test_background_is_not_flagged(city: City) -> None:
    signals = detect_signals(city.votes(), city.users())
    assert signals.burst.flag.mean() < 0.01
    assert signals.fresh.flag.mean() < 0.01
    assert signals.lockstep.pairs.shape == (0, 2)
    assert signals.suspicion.mean() < 0.01


def test_burst_of_300_votes_in_an_hour_is_flagged(city: City) -> None:
    target = _mid_idea(city)
    rng = np.random.default_rng(1)
    start = 17 * DAY + 14 * HOUR + 1234
    planted = city.plus(
        np.full(300, target), _old_users(city, 300, 2), start + rng.integers(0, HOUR, 300)
    )
    result = detect_bursts(planted.votes())
    assert result.flag[planted.planted].mean() > 0.95
    assert result.excess[planted.planted].mean() > 0.8
    assert result.flag[~planted.planted].mean() < 0.01


def test_organic_popularity_is_at_most_partly_discounted(city: City) -> None:
    result = detect_bursts(city.votes())
    popular = np.bincount(city.idea).argmax()
    assert result.excess[city.idea == popular].mean() < 0.05
    assert np.all((result.excess >= 0) & (result.excess <= 1))


def test_sockpuppet_wave_of_fresh_accounts_is_flagged(city: City) -> None:
    target = _mid_idea(city)
    rng = np.random.default_rng(3)
    n = 150
    born = 20 * DAY + np.sort(rng.uniform(0, DAY, n)).astype(np.int64)
    users = city.created.shape[0] + np.arange(n)
    vote_time = born + rng.integers(60, 3 * HOUR, n)
    planted = city.plus(np.full(n, target), users, vote_time, created=born)
    result = detect_fresh_accounts(planted.votes(), planted.users())
    assert np.flatnonzero(result.idea_flag).tolist() == [target]
    assert result.flag[planted.planted].mean() > 0.95
    assert result.flag[~planted.planted].mean() < 0.01
    assert result.idea_z[target] > 10
    # The wave is spread over a day, so the burst detector alone would not see it.
    assert detect_bursts(planted.votes()).flag[planted.planted].mean() < 0.05


def _ring(city: City, size: int = 20, n_ideas: int = 8) -> tuple[City, NDArray[np.int64]]:
    rng = np.random.default_rng(4)
    # Dedicated accounts, registered months ago and quiet until now.
    members = city.created.shape[0] + np.arange(size, dtype=np.int64)
    ideas = rng.choice(N_IDEAS, n_ideas, replace=False)
    moments = 2 * DAY + np.sort(rng.uniform(0, 3 * 7 * DAY, n_ideas)).astype(np.int64)
    idea = np.repeat(ideas, size)
    user = np.tile(members, n_ideas)
    time = np.repeat(moments, size) + rng.integers(0, 5 * 60, size * n_ideas)
    created = -rng.uniform(60 * DAY, 200 * DAY, size).astype(np.int64)
    return city.plus(idea, user, time, created=created), members


def test_ring_of_20_co_voting_on_8_ideas_is_found(city: City) -> None:
    planted, members = _ring(city)
    result = detect_lockstep(planted.votes())
    found = {tuple(p) for p in result.pairs.tolist()}
    ring = {(a, b) for a in sorted(members) for b in sorted(members) if a < b}
    assert found == ring
    assert np.all(result.co_votes == 8)
    assert np.unique(result.group).tolist() == [0]
    assert result.flag[planted.planted].all()
    assert result.flag[~planted.planted].mean() < 0.001


def test_ring_is_found_even_within_busy_traffic(city: City) -> None:
    planted, members = _ring(city)
    strict = SignalConfig(lockstep_max_neighbours=19)
    result = detect_lockstep(planted.votes(), strict)
    assert result.pairs.shape[0] > 0.9 * 190
    assert set(result.pairs.ravel().tolist()) <= set(members.tolist())


def test_signals_combine_and_explain(city: City) -> None:
    planted, _ = _ring(city)
    target = _mid_idea(city)
    planted = planted.plus(
        np.full(300, target), _old_users(city, 300, 6), 17 * DAY + np.arange(300) * 10
    )
    signals = detect_signals(planted.votes(), planted.users())
    burst_rows = np.flatnonzero(planted.planted)[-300:]
    ring_rows = np.flatnonzero(planted.planted)[:-300]
    assert np.all(signals.suspicion[ring_rows] == 1.0)
    assert np.all(signals.reason_bits[ring_rows] & LOCKSTEP)
    assert np.all(signals.reason_bits[burst_rows] & BURST)
    i = int(burst_rows[0])
    assert signals.suspicion[i] == pytest.approx(signals.burst.excess[i])
    assert signals.reasons(i)[0].startswith("burst: ")
    assert "lockstep" in signals.reasons(int(ring_rows[0]))[-1]
    assert np.all((signals.suspicion >= 0) & (signals.suspicion <= 1))
    quiet = np.flatnonzero(signals.reason_bits == 0)
    assert np.all(signals.suspicion[quiet] == 0) and signals.reasons(int(quiet[0])) == []
    assert FRESH == 2


def test_same_input_gives_the_same_output(city: City) -> None:
    planted, _ = _ring(city)
    a = detect_signals(planted.votes(), planted.users())
    b = detect_signals(planted.votes(), planted.users())
    np.testing.assert_array_equal(a.suspicion, b.suspicion)
    np.testing.assert_array_equal(a.reason_bits, b.reason_bits)
    np.testing.assert_array_equal(a.lockstep.pairs, b.lockstep.pairs)


def test_row_order_does_not_matter(city: City) -> None:
    planted, _ = _ring(city)
    planted = planted.plus(np.full(300, 7), _old_users(city, 300, 8), 10 * DAY + np.arange(300))
    perm = np.random.default_rng(9).permutation(planted.idea.shape[0])
    a = detect_signals(planted.votes(), planted.users())
    shuffled = Votes.build(planted.idea[perm], planted.user[perm], time=planted.time[perm])
    b = detect_signals(shuffled, planted.users())
    np.testing.assert_array_equal(a.suspicion[perm], b.suspicion)
    np.testing.assert_array_equal(a.reason_bits[perm], b.reason_bits)
    np.testing.assert_array_equal(a.lockstep.pairs, b.lockstep.pairs)
    np.testing.assert_array_equal(a.lockstep.co_votes, b.lockstep.co_votes)
    np.testing.assert_array_equal(a.fresh.idea_z, b.fresh.idea_z)


def test_repeated_votes_of_one_user_on_one_idea_count_once() -> None:
    idea = np.r_[np.arange(5), np.arange(5), [0, 0]]
    user = np.r_[np.full(5, 1), np.full(5, 2), [1, 1]]
    time = np.r_[np.arange(5) * DAY, np.arange(5) * DAY + 60, [90, 120]]
    result = detect_lockstep(Votes.build(idea, user, time=time))
    assert result.co_votes.tolist() == [5]
    assert result.flag.all()


def test_empty_input_gives_empty_results() -> None:
    votes = Votes.build(np.zeros(0), np.zeros(0))
    signals = detect_signals(votes, Users.build([], [], []))
    assert signals.suspicion.shape == (0,) and signals.reason_bits.shape == (0,)
    assert signals.burst.flag.shape == (0,) and signals.fresh.idea_z.shape == (0,)
    assert signals.lockstep.pairs.shape == (0, 2)


def test_a_single_vote_is_not_suspicious() -> None:
    signals = detect_signals(
        Votes.build([3], [2], time=[10**9]), Users.build([1] * 3, [0] * 3, [0] * 3)
    )
    assert signals.suspicion.tolist() == [0.0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("burst_bucket_s", 0),
        ("burst_bucket_s", 1.5),
        ("burst_multiplier", 1.0),
        ("burst_rate_floor", float("nan")),
        ("fresh_z", -1.0),
        ("fresh_min_ratio", 0.5),
        ("lockstep_min_ideas", 1),
        ("lockstep_window_s", True),
        ("lockstep_max_neighbours", float("inf")),
    ],
)
def test_invalid_config_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        SignalConfig(**{field: value})  # type: ignore[arg-type]


def test_invalid_inputs_are_refused_naming_the_parameter() -> None:
    votes = Votes.build([0, 1], [0, 5], time=[0, 1])
    users = Users.build([1] * 3, [0] * 3, [0] * 3)
    with pytest.raises(ValueError, match="votes"):
        detect_bursts(np.zeros(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="users"):
        detect_fresh_accounts(votes, users)
    with pytest.raises(ValueError, match="users"):
        detect_signals(votes, "users")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="config"):
        detect_lockstep(votes, {"lockstep_min_ideas": 3})  # type: ignore[arg-type]
    signals = detect_signals(Votes.build([0], [0], time=[0]), users)
    with pytest.raises(ValueError, match="i must be"):
        signals.reasons(1)
