"""Vote weights: who voted, from where, how often, and how suspiciously.

A vote's weight is the product of four factors, each in ``[0, 1]``::

    weight = resident × district × budget × suspicion

Weights never delete a vote: the raw row stays, its weight only says how much evidence it is.
:func:`vote_weights` returns every factor so a moderator can see why a weight fell.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class WeightConfig:
    """How much each kind of vote counts. Every factor lies in ``[0, 1]``.

    Attributes
    ----------
    verified : float, default 1.0
        Factor of a verified resident's vote: the reference, a full vote.
    unverified : float, default 0.5
        Factor of an unverified account. Half, not zero: most honest newcomers are unverified,
        while one person can open many unverified accounts; half a vote keeps them heard and
        halves the reward of a sock-puppet farm.
    same_district : float, default 1.0
        A district-scoped idea voted by a resident of that district: the people it is for.
    same_okrug : float, default 0.75
        A district-scoped idea voted by a resident of a neighbouring district (same okrug):
        they use the same streets and services, so they count nearly fully.
    other_district : float, default 0.5
        A district-scoped idea voted by a resident of another okrug, or of an unknown district.
        City-wide ideas count everyone fully.
    budget : int or None, default None
        Optional per-user budget of votes: a user who cast ``n > budget`` votes has each weighted
        ``budget / n`` (their total influence stays ``budget``). Off by default: the platform
        does not ask citizens to ration support.
    max_suspicion_discount : float, default 0.9
        A vote with manipulation suspicion ``s`` in ``[0, 1]`` keeps ``1 - max × s`` of its weight.
        Not 1.0: signals have false positives, so even the most suspicious vote keeps a tenth.

    Examples
    --------
    >>> WeightConfig(unverified=0.25).unverified
    0.25
    >>> WeightConfig(budget=0)
    Traceback (most recent call last):
    ...
    ValueError: budget must be a positive integer or None, got 0
    """

    verified: float = 1.0
    unverified: float = 0.5
    same_district: float = 1.0
    same_okrug: float = 0.75
    other_district: float = 0.5
    budget: int | None = None
    max_suspicion_discount: float = 0.9

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "budget":
                continue
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{f.name} must be a number in [0, 1], got {value!r}")
        b = self.budget
        if b is not None and (isinstance(b, bool) or not isinstance(b, int) or b < 1):
            raise ValueError(f"budget must be a positive integer or None, got {b!r}")


@dataclass(frozen=True)
class VoteWeights:
    """Per-vote weight and its factors, all ``(n,)`` float32 arrays in ``[0, 1]``.

    ``weight == resident * district * budget * suspicion`` (up to float32 rounding).
    """

    weight: F32
    resident: F32
    district: F32
    budget: F32
    suspicion: F32


# ---------------------------------------------------------------- private vectorised factors


def _okrug_of_districts(district: NDArray[np.int16], geo: Geography) -> NDArray[np.int16]:
    """Okrug of each district value; ``-1`` for unknown or out-of-range districts."""
    okrug = np.full(district.shape, -1, dtype=np.int16)
    known = (district >= 0) & (district < geo.n_districts)
    okrug[known] = geo.okrug_of[district[known]]
    return okrug


def _resident_table(users: Users, config: WeightConfig) -> F64:
    return np.where(users.verified, config.verified, config.unverified).astype(np.float64)


def _district_factor(
    idea_district: NDArray[np.int16],
    idea_okrug: NDArray[np.int16],
    user_district: NDArray[np.int16],
    user_okrug: NDArray[np.int16],
    config: WeightConfig,
) -> F64:
    """District factor of votes given the (gathered) districts and okrugs of idea and voter."""
    out = np.full(idea_district.shape, config.other_district, dtype=np.float64)
    out[(idea_okrug == user_okrug) & (idea_okrug >= 0)] = config.same_okrug
    out[user_district == idea_district] = config.same_district
    out[idea_district == CITY_WIDE] = 1.0
    return out


def _budget_table(counts: NDArray[np.int64], budget: int | None) -> F64:
    """Per-user budget factor ``min(1, budget / n)`` from each user's vote count."""
    if budget is None:
        return np.ones(counts.shape, dtype=np.float64)
    return np.minimum(1.0, budget / np.maximum(counts, 1))


def _budget_factor(n: int, budget: int | None) -> float:
    return 1.0 if budget is None or n <= budget else budget / n


def _suspicion_factor(suspicion: NDArray[np.floating], config: WeightConfig) -> F64:
    return 1.0 - config.max_suspicion_discount * suspicion.astype(np.float64)


def _check_suspicion(suspicion: object | None, n: int) -> NDArray[np.float32] | None:
    if suspicion is None:
        return None
    s = np.asarray(suspicion, dtype=np.float32)
    if s.shape != (n,):
        raise ValueError(f"suspicion must have shape ({n},), got {s.shape}")
    if n and not (np.all(s >= 0.0) and np.all(s <= 1.0)):
        raise ValueError("suspicion must lie in [0, 1]")
    return s


def check_inputs(votes: Votes, users: Users, ideas: Ideas, geo: Geography) -> None:
    """Raise ValueError when vote indices or districts fall outside the given tables."""
    if len(votes):
        if int(votes.idea.max()) >= len(ideas):
            raise ValueError(f"votes.idea must be < n_ideas={len(ideas)}")
        if int(votes.user.max()) >= len(users):
            raise ValueError(f"votes.user must be < n_users={len(users)}")
    if len(ideas) and int(ideas.district.max()) >= geo.n_districts:
        raise ValueError(f"ideas.district must be < n_districts={geo.n_districts}")
    if len(users) and int(users.district.max()) >= geo.n_districts:
        raise ValueError(f"users.district must be < n_districts={geo.n_districts}")


# ---------------------------------------------------------------- public


def vote_weights(
    votes: Votes,
    users: Users,
    ideas: Ideas,
    geo: Geography,
    config: WeightConfig | None = None,
    suspicion: object | None = None,
) -> VoteWeights:
    """Weight of every vote and the factors behind it.

    Parameters
    ----------
    votes, users, ideas, geo
        The engine's input tables (see :mod:`ranking.arrays`).
    config : WeightConfig, optional
        Factors; defaults to ``WeightConfig()``.
    suspicion : (n_votes,) array of floats in [0, 1], optional
        Manipulation suspicion of each vote (from :mod:`ranking.signals`); 0 when omitted.

    Returns
    -------
    VoteWeights
        ``(n_votes,)`` float32 arrays; nothing is dropped.

    Examples
    --------
    >>> from ranking.arrays import Geography, Ideas, Users, Votes
    >>> geo = Geography(np.array([0, 0, 1], dtype=np.int16))
    >>> users = Users.build([True, False, True], [0, 1, 2], [0, 0, 0])
    >>> ideas = Ideas.build([0], [0])
    >>> w = vote_weights(Votes.build([0, 0, 0], [0, 1, 2]), users, ideas, geo)
    >>> w.district.tolist(), w.weight.tolist()
    ([1.0, 0.75, 0.5], [1.0, 0.375, 0.5])
    """
    config = WeightConfig() if config is None else config
    if not isinstance(config, WeightConfig):
        raise ValueError(f"config must be a WeightConfig, got {type(config).__name__}")
    check_inputs(votes, users, ideas, geo)
    s = _check_suspicion(suspicion, len(votes))
    idea_okrug = _okrug_of_districts(ideas.district, geo)
    user_okrug = _okrug_of_districts(users.district, geo)
    resident = _resident_table(users, config)[votes.user].astype(np.float32)
    district = _district_factor(
        ideas.district[votes.idea],
        idea_okrug[votes.idea],
        users.district[votes.user],
        user_okrug[votes.user],
        config,
    ).astype(np.float32)
    counts = np.bincount(votes.user, minlength=len(users)).astype(np.int64)
    budget = _budget_table(counts, config.budget)[votes.user].astype(np.float32)
    if s is None:
        susp = np.ones(len(votes), dtype=np.float32)
    else:
        susp = _suspicion_factor(s, config).astype(np.float32)
    weight = resident * district
    weight *= budget
    weight *= susp
    return VoteWeights(weight, resident, district, budget, susp)


def discount_summary(weights: VoteWeights) -> dict[str, int]:
    """How many votes lost weight, and to which factor (a vote may count under several).

    >>> one = np.ones(3, dtype=np.float32)
    >>> half = np.array([0.5, 1, 1], dtype=np.float32)
    >>> discount_summary(VoteWeights(half, half, one, one, one))
    {'votes': 3, 'discounted': 1, 'unverified': 1, 'district': 0, 'budget': 0, 'suspicion': 0}
    """
    return {
        "votes": int(weights.weight.shape[0]),
        "discounted": int(np.count_nonzero(weights.weight < 1.0)),
        "unverified": int(np.count_nonzero(weights.resident < 1.0)),
        "district": int(np.count_nonzero(weights.district < 1.0)),
        "budget": int(np.count_nonzero(weights.budget < 1.0)),
        "suspicion": int(np.count_nonzero(weights.suspicion < 1.0)),
    }
