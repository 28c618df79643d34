"""Input checks shared by the signal detectors."""

from __future__ import annotations

from ranking.arrays import Users, Votes
from ranking.signals.config import SignalConfig

KEY_LIMIT = 2**62
"""Largest combined int64 key the detectors build before refusing the input."""


def check_votes(votes: object) -> Votes:
    if not isinstance(votes, Votes):
        raise ValueError(f"votes must be a ranking.arrays.Votes, got {type(votes).__name__}")
    return votes


def check_users(users: object, votes: Votes) -> Users:
    if not isinstance(users, Users):
        raise ValueError(f"users must be a ranking.arrays.Users, got {type(users).__name__}")
    if len(votes) and int(votes.user.max()) >= len(users):
        raise ValueError(
            f"users must cover every votes.user index: max index {int(votes.user.max())}, "
            f"got {len(users)} users"
        )
    return users


def check_config(config: object) -> SignalConfig:
    if config is None:
        return SignalConfig()
    if not isinstance(config, SignalConfig):
        raise ValueError(f"config must be a SignalConfig, got {type(config).__name__}")
    return config
