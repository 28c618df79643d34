"""The worked example of ``/ranking``: two made-up ideas ordered by the real ranking code.

The numbers are fixed (idea A: 30 of 200 viewers support it, idea B: 3 of 5), the orders are not:
they come from a :class:`ranking.snapshot.Snapshot` built with this platform's configured weights
and ranking parameters, so the page can never drift from the maths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes
from ranking.snapshot import Snapshot
from webapp.kernel.settings import RANKED_SORTS, Settings
from webapp.ranking.engine import confidence_level, ranking_config, weight_config

DAY = 86_400
NOW = 1_800_000_000  # any fixed instant: only differences of times matter
OKRUGS = 10  # okrugs of the example city, one district each


@dataclass(frozen=True)
class ExampleIdea:
    """One idea of the example, as a citizen would see it."""

    key: str  # "A" or "B"
    viewers: int  # distinct people who opened it
    supporters: int  # all verified residents
    okrugs: int  # how many okrugs its supporters live in
    comments: int
    published_days_ago: int
    voted_days_ago: tuple[float, float]  # its votes came between these two ages (days)


IDEAS = (
    ExampleIdea(
        "A", 200, 30, okrugs=10, comments=4, published_days_ago=30, voted_days_ago=(20, 10)
    ),
    ExampleIdea("B", 5, 3, okrugs=1, comments=9, published_days_ago=2, voted_days_ago=(1, 0.1)),
)


@dataclass(frozen=True)
class SortOutcome:
    """How one sort orders the example's ideas: keys best first, and each idea's score."""

    sort: str
    order: tuple[str, ...]
    values: dict[str, float]


@dataclass(frozen=True)
class WorkedExample:
    """Everything the page shows: the ideas, one outcome per sort, and the verification aside.

    ``unverified`` of A's supporters without a verified account would make A's support count as
    ``unverified_support`` votes (instead of ``verified_support``), and put A at
    ``unverified_rank`` in the default order.
    """

    ideas: tuple[ExampleIdea, ...]
    outcomes: dict[str, SortOutcome]
    default_sort: str
    confidence: float  # how sure the "confident" bound is (0.95 for z = 1.645)
    z: float
    prior_percent: float  # the share of viewers a typical new idea is assumed to have
    prior_viewers: float  # about how many viewers it takes for an idea's own result to dominate
    half_life_hours: float
    unverified: int
    verified_support: float
    unverified_support: float
    unverified_rank: int


def _snapshot(settings: Settings, unverified: int = 0) -> Snapshot:
    """The example's snapshot; the first ``unverified`` supporters of A are not verified."""
    idea: list[int] = []
    user: list[int] = []
    when: list[int] = []
    home: list[int] = []
    for index, spec in enumerate(IDEAS):
        oldest, newest = spec.voted_days_ago
        for n in range(spec.supporters):
            age = oldest + (newest - oldest) * n / max(spec.supporters - 1, 1)
            idea.append(index)
            user.append(len(user))
            when.append(NOW - round(age * DAY))
            home.append(n % spec.okrugs)
    verified = [i >= unverified for i in range(len(user))]
    users = Users.build(verified, home, [NOW - 400 * DAY] * len(user))
    ideas = Ideas.build(
        [CITY_WIDE] * len(IDEAS),
        [NOW - spec.published_days_ago * DAY for spec in IDEAS],
        viewers=[spec.viewers for spec in IDEAS],
    )
    return Snapshot.build(
        Votes.build(idea, user, time=when),
        users,
        ideas,
        Geography(np.arange(OKRUGS, dtype=np.int16)),
        weight_config(settings),
        ranking_config(settings),
        now=NOW,
        threads=1,
    )


def _by_count(counts: list[int]) -> tuple[str, ...]:
    """The order of a plain count (as the SQL sorts do it: most first, then the newer idea)."""
    order = sorted(range(len(IDEAS)), key=lambda i: (-counts[i], -i))
    return tuple(IDEAS[i].key for i in order)


def worked_example(settings: Settings) -> WorkedExample:
    """Build the example with this platform's settings (a few milliseconds)."""
    snap = _snapshot(settings)
    keys = [spec.key for spec in IDEAS]
    outcomes: dict[str, SortOutcome] = {}
    for scheme in RANKED_SORTS:
        if scheme == "random":
            continue  # a different order for every visitor: the page says so in words
        scores = snap.scores(scheme)
        order = tuple(keys[int(i)] for i in snap.top(scheme, k=len(IDEAS)))
        outcomes[scheme] = SortOutcome(
            scheme, order, dict(zip(keys, map(float, scores), strict=True))
        )
    for sort, counts in (
        ("supporters", [spec.supporters for spec in IDEAS]),
        ("discussed", [spec.comments for spec in IDEAS]),
    ):
        values = {k: float(c) for k, c in zip(keys, counts, strict=True)}
        outcomes[sort] = SortOutcome(sort, _by_count(counts), values)
    config = ranking_config(settings)
    unverified = 10
    doubted = _snapshot(settings, unverified)
    default = settings.default_sort
    doubted_rank = (
        0 if default == "random" else [int(i) for i in doubted.top(default, k=len(IDEAS))].index(0)
    )
    return WorkedExample(
        ideas=IDEAS,
        outcomes=outcomes,
        default_sort=default,
        confidence=confidence_level(config),
        z=config.z,
        prior_percent=config.prior_mean * 100.0,
        prior_viewers=config.prior_strength,
        half_life_hours=config.half_life_s / 3600.0,
        unverified=unverified,
        verified_support=float(snap.explain(0, "top")["weighted_support"]),
        unverified_support=float(doubted.explain(0, "top")["weighted_support"]),
        unverified_rank=doubted_rank + 1,
    )
