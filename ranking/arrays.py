"""The engine's inputs: plain NumPy arrays, validated once at the boundary.

Every function in ``ranking`` works on these columns, never on database rows. Indices are dense:
ideas are ``0..n_ideas-1`` and users ``0..n_users-1`` (the platform maps database ids to indices).
Times are Unix seconds (int64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

CITY_WIDE = -1
"""``Ideas.district`` value of an idea for the whole city; ``Users.district`` value when unknown."""


def _check_1d(name: str, array: NDArray[np.generic], length: int | None = None) -> None:
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise ValueError(f"{name} must have length {length}, got {array.shape[0]}")


@dataclass(frozen=True)
class Votes:
    """One row per vote, as stored (raw rows, never deleted by weighting).

    Attributes
    ----------
    idea : (n,) int32, index of the idea voted on.
    user : (n,) int32, index of the voter.
    value : (n,) int8, +1 support or -1 oppose.
    time : (n,) int64, Unix seconds of the vote.
    """

    idea: NDArray[np.int32]
    user: NDArray[np.int32]
    value: NDArray[np.int8]
    time: NDArray[np.int64]

    @classmethod
    def build(
        cls,
        idea: object,
        user: object,
        value: object | None = None,
        time: object | None = None,
    ) -> Votes:
        """Convert and validate; ``value`` defaults to all +1 and ``time`` to 0.

        >>> Votes.build([0, 0, 1], [5, 6, 5]).value.tolist()
        [1, 1, 1]
        """
        idea_a = np.asarray(idea, dtype=np.int32)
        user_a = np.asarray(user, dtype=np.int32)
        n = idea_a.shape[0] if idea_a.ndim == 1 else -1
        _check_1d("idea", idea_a)
        _check_1d("user", user_a, n)
        value_a = np.ones(n, dtype=np.int8) if value is None else np.asarray(value, dtype=np.int8)
        time_a = np.zeros(n, dtype=np.int64) if time is None else np.asarray(time, dtype=np.int64)
        _check_1d("value", value_a, n)
        _check_1d("time", time_a, n)
        if n and (idea_a.min() < 0 or user_a.min() < 0):
            raise ValueError("idea and user indices must be >= 0")
        if n and not np.all((value_a == 1) | (value_a == -1)):
            raise ValueError("value must contain only +1 and -1")
        return cls(idea_a, user_a, value_a, time_a)

    def __len__(self) -> int:
        return int(self.idea.shape[0])


@dataclass(frozen=True)
class Users:
    """Per-user attributes.

    Attributes
    ----------
    verified : (n_users,) bool, verified resident of the city.
    district : (n_users,) int16, home district index, ``CITY_WIDE`` (-1) when unknown.
    created : (n_users,) int64, Unix seconds the account was created.
    """

    verified: NDArray[np.bool_]
    district: NDArray[np.int16]
    created: NDArray[np.int64]

    @classmethod
    def build(cls, verified: object, district: object, created: object) -> Users:
        v = np.asarray(verified, dtype=np.bool_)
        _check_1d("verified", v)
        d = np.asarray(district, dtype=np.int16)
        c = np.asarray(created, dtype=np.int64)
        _check_1d("district", d, v.shape[0])
        _check_1d("created", c, v.shape[0])
        if v.shape[0] and d.min() < CITY_WIDE:
            raise ValueError("district must be >= -1")
        return cls(v, d, c)

    def __len__(self) -> int:
        return int(self.verified.shape[0])


@dataclass(frozen=True)
class Ideas:
    """Per-idea attributes.

    Attributes
    ----------
    district : (n_ideas,) int16, the district the idea is about, ``CITY_WIDE`` (-1) for the city.
    created : (n_ideas,) int64, Unix seconds the idea was published.
    viewers : (n_ideas,) int64, distinct viewers recorded (the exposure denominator).
    canonical : (n_ideas,) int32, the idea a merged duplicate counts towards (itself if not merged).
    """

    district: NDArray[np.int16]
    created: NDArray[np.int64]
    viewers: NDArray[np.int64]
    canonical: NDArray[np.int32]

    @classmethod
    def build(
        cls,
        district: object,
        created: object,
        viewers: object | None = None,
        canonical: object | None = None,
    ) -> Ideas:
        """Convert and validate; ``viewers`` defaults to 0 and ``canonical`` to the idea itself.

        Idea 2 is a duplicate merged into idea 0 (its votes count towards idea 0):

        >>> ideas = Ideas.build([3, CITY_WIDE, 3], [0, 0, 0], canonical=[0, 1, 0])
        >>> ideas.canonical.tolist(), ideas.viewers.tolist()
        ([0, 1, 0], [0, 0, 0])

        A merge must point at a canonical idea, not at another merged one:

        >>> Ideas.build([3, 3, 3], [0, 0, 0], canonical=[0, 0, 1])
        Traceback (most recent call last):
        ...
        ValueError: canonical must point at canonical ideas (no chains of merges)
        """
        d = np.asarray(district, dtype=np.int16)
        _check_1d("district", d)
        n = d.shape[0]
        c = np.asarray(created, dtype=np.int64)
        v = np.zeros(n, dtype=np.int64) if viewers is None else np.asarray(viewers, dtype=np.int64)
        k = (
            np.arange(n, dtype=np.int32)
            if canonical is None
            else np.asarray(canonical, dtype=np.int32)
        )
        _check_1d("created", c, n)
        _check_1d("viewers", v, n)
        _check_1d("canonical", k, n)
        if n and (v.min() < 0):
            raise ValueError("viewers must be >= 0")
        if n and (k.min() < 0 or k.max() >= n):
            raise ValueError("canonical must hold idea indices in 0..n_ideas-1")
        if n and np.any(k[k] != k):
            raise ValueError("canonical must point at canonical ideas (no chains of merges)")
        return cls(d, c, v, k)

    def __len__(self) -> int:
        return int(self.district.shape[0])


@dataclass(frozen=True)
class Geography:
    """Districts grouped into okrugs (the groups of the ``broad`` scheme).

    Attributes
    ----------
    okrug_of : (n_districts,) int16, okrug index of each district index.
    """

    okrug_of: NDArray[np.int16]

    @property
    def n_okrugs(self) -> int:
        return int(self.okrug_of.max()) + 1 if self.okrug_of.size else 0

    @property
    def n_districts(self) -> int:
        return int(self.okrug_of.shape[0])
