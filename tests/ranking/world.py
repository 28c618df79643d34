"""Small random worlds for the ranking tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranking import Geography, Ideas, Users, Votes


@dataclass
class World:
    users: Users
    ideas: Ideas
    geo: Geography
    idea: list[int]
    user: list[int]
    value: list[int]
    time: list[int]
    suspicion: list[float]

    def votes(self) -> Votes:
        return Votes.build(self.idea, self.user, self.value, self.time)

    def susp(self) -> np.ndarray:
        return np.asarray(self.suspicion, dtype=np.float32)


def make_world(
    seed: int,
    n_ideas: int = 12,
    n_users: int = 15,
    n_votes: int = 40,
    clusters: bool = False,
    oppose: bool = False,
) -> World:
    rng = np.random.default_rng(seed)
    geo = Geography(np.array([0, 0, 1, 1, 2], dtype=np.int16))
    users = Users.build(
        rng.random(n_users) < 0.6, rng.integers(-1, 5, n_users), rng.integers(0, 100, n_users)
    )
    canonical = np.arange(n_ideas)
    if clusters:
        canonical[1] = 0
        canonical[2] = 0
        canonical[5] = 4
    ideas = Ideas.build(
        rng.integers(-1, 5, n_ideas),
        rng.integers(0, 1000, n_ideas),
        rng.integers(0, 30, n_ideas),
        canonical,
    )
    pairs = rng.choice(n_ideas * n_users, size=min(n_votes, n_ideas * n_users), replace=False)
    value = np.where(rng.random(pairs.size) < 0.3, -1, 1) if oppose else np.ones(pairs.size)
    susp = np.where(rng.random(pairs.size) < 0.3, rng.random(pairs.size), 0.0)
    return World(
        users,
        ideas,
        geo,
        (pairs // n_users).tolist(),
        (pairs % n_users).tolist(),
        value.astype(int).tolist(),
        rng.integers(0, 10 * 86400, pairs.size).tolist(),
        susp.astype(np.float32).tolist(),
    )
