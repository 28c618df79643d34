"""Vectorised planning of demo voters and votes (pure NumPy; the caller stores the rows).

Everything is deterministic: a voter's attributes depend only on its index and the seed, and an
idea's voters and vote times only on the seed and the idea's reference, so a re-run, a run with
``limit`` or a run over a bigger data set gives each voter and idea the same values.

Times are int64 microseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

US_PER_S = 1_000_000
DAY_US = 86_400 * US_PER_S
# Share of a district-scoped idea's voters who live in the idea's okrug.
LOCAL_SHARE = 0.7
# Share of voters marked as verified residents.
VERIFIED_SHARE = 0.6
# Decay rate of the truncated exponential over an idea's span: most votes come early.
DECAY = 4.0
# A voter registers between one minute and thirty days before their first vote.
SIGNUP_LEAD_US = (60 * US_PER_S, 30 * DAY_US)


def _mix(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser: a well-spread 64-bit hash of each element (wraps by design)."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash(indices: NDArray[np.int64], seed: int, salt: int) -> NDArray[np.uint64]:
    key = np.uint64((seed * 1_000_003 + salt) & 0xFFFFFFFFFFFFFFFF)
    return _mix(indices.astype(np.uint64) ^ key)


def voter_attributes(
    indices: NDArray[np.int64], n_districts: int, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """For voter indices, shape (n,): a district position in [0, n_districts) and verified flags."""
    district = (_hash(indices, seed, 1) % np.uint64(max(n_districts, 1))).astype(np.int64)
    verified = (_hash(indices, seed, 2) % np.uint64(1000)).astype(np.int64) < int(
        VERIFIED_SHARE * 1000
    )
    return district, verified


def signup_times(
    first_vote: NDArray[np.int64], indices: NDArray[np.int64], seed: int
) -> NDArray[np.int64]:
    """Registration times, shape (n,): a deterministic lead before each voter's first vote."""
    low, high = SIGNUP_LEAD_US
    lead = low + (_hash(indices, seed, 3) % np.uint64(high - low)).astype(np.int64)
    return first_vote - lead


def idea_rng(seed: int, external_ref: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(external_ref.encode())])


@dataclass(frozen=True)
class VoterPool:
    """Voters 0..size-1 grouped by okrug: ``order[start[k]:stop[k]]`` are okrug ``k``'s voters."""

    size: int
    order: NDArray[np.int64]
    start: dict[int, int]
    stop: dict[int, int]

    @classmethod
    def build(cls, okrug: NDArray[np.int64]) -> VoterPool:
        """``okrug``, shape (size,): each voter's okrug id (-1 for none)."""
        order = np.argsort(okrug, kind="stable").astype(np.int64)
        keys, first, counts = np.unique(okrug[order], return_index=True, return_counts=True)
        start = {int(k): int(f) for k, f in zip(keys, first, strict=True) if k >= 0}
        stop = {int(k): int(f + c) for k, f, c in zip(keys, first, counts, strict=True) if k >= 0}
        return cls(len(okrug), order, start, stop)

    def pick(self, rng: np.random.Generator, n: int, okrug: int | None) -> NDArray[np.int64]:
        """``n`` distinct voter indices; ~LOCAL_SHARE of them from ``okrug`` when one is given."""
        if n > self.size:
            raise ValueError(f"n={n} exceeds the pool of {self.size} voters")
        if okrug is None or okrug not in self.start:
            return rng.choice(self.size, n, replace=False).astype(np.int64)
        lo, hi = self.start[okrug], self.stop[okrug]
        local = min(round(LOCAL_SHARE * n), hi - lo)
        other = n - local
        if other > self.size - (hi - lo):
            other = self.size - (hi - lo)
            local = n - other
        inside = lo + rng.choice(hi - lo, local, replace=False)
        outside = rng.choice(self.size - (hi - lo), other, replace=False)
        outside = np.where(outside >= lo, outside + (hi - lo), outside)
        return self.order[np.concatenate([inside, outside]).astype(np.int64)]


def vote_times(rng: np.random.Generator, n: int, start_us: int, stop_us: int) -> NDArray[np.int64]:
    """``n`` times in [start_us, stop_us], front-loaded (truncated exponential), shape (n,)."""
    span = max(stop_us - start_us, 0)
    u = rng.random(n)
    fraction = -np.log1p(-u * (1.0 - np.exp(-DECAY))) / DECAY
    offsets: NDArray[np.int64] = (fraction * span).astype(np.int64)
    return offsets + start_us


def _civil_from_days(days: NDArray[np.int64]) -> tuple[NDArray[np.int64], ...]:
    """Proleptic Gregorian (year, month, day) of days since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def format_timestamps(us: NDArray[np.int64], suffix: str = "") -> NDArray[np.str_]:
    """'YYYY-MM-DD HH:MM:SS.ffffff' + suffix for each time, shape (n,); vectorised, no Python loop."""
    days = us // DAY_US
    year, month, day = _civil_from_days(days)
    rest = us - days * DAY_US
    fields: list[tuple[NDArray[np.int64] | str, int]] = [
        (year, 4),
        ("-", 0),
        (month, 2),
        ("-", 0),
        (day, 2),
        (" ", 0),
        (rest // (3600 * US_PER_S), 2),
        (":", 0),
        (rest // (60 * US_PER_S) % 60, 2),
        (":", 0),
        (rest // US_PER_S % 60, 2),
        (".", 0),
        (rest % US_PER_S, 6),
    ]
    out = np.empty((26, len(us)), dtype=np.uint8)  # one row per character: contiguous writes
    col = 0
    for value, width in fields:
        if isinstance(value, str):
            out[col] = ord(value)
            col += 1
            continue
        digits = value.astype(np.int32)
        for position in range(width - 1, -1, -1):
            out[col + position] = 48 + digits % 10
            digits //= 10
        col += width
    text = np.ascontiguousarray(out.T).view("S26").ravel().astype("U26")
    return np.char.add(text, suffix) if suffix else text
