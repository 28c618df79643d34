"""Ranking: vote-weighted, explainable scores computed in pure NumPy.

This package takes arrays and returns arrays; it imports nothing from the web, the database or
``ml`` (import-linter contracts in pyproject.toml enforce it). Formulas and their reasons are in
``docs/ranking.md``.
"""

from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes
from ranking.scores import MERGED_SCORE, SCHEMES, RankingConfig
from ranking.snapshot import Snapshot
from ranking.weights import VoteWeights, WeightConfig, discount_summary, vote_weights

__all__ = [
    "CITY_WIDE",
    "MERGED_SCORE",
    "SCHEMES",
    "Geography",
    "Ideas",
    "RankingConfig",
    "Snapshot",
    "Users",
    "VoteWeights",
    "Votes",
    "WeightConfig",
    "discount_summary",
    "vote_weights",
]
