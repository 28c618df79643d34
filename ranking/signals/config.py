"""Thresholds of the manipulation signals, validated once.

Every default is chosen for a city platform with hourly traffic between a handful and a few
thousand votes per idea; the reason for each is given next to it, and in ``docs/ranking.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class SignalConfig:
    """Parameters of :func:`ranking.signals.detect_signals`; invalid values raise ``ValueError``.

    Attributes
    ----------
    burst_bucket_s : int, default 3600
        Width of a burst time bucket (seconds). An hour is long enough to hold a coordinated
        push (a message to a group chat) and short enough that a day's organic rhythm spreads
        over many buckets.
    burst_trailing_buckets : int, default 24
        Buckets before the current one whose mean is the idea's own expected rate. A day
        averages out the diurnal rhythm (peak hours are ~2-3x the daily mean, well under
        ``burst_multiplier``). The denominator is always the full window, so an attack lasting
        several hours keeps being flagged while it pushes the mean up slowly.
    burst_multiplier : float, default 5.0
        A bucket is a burst when its count exceeds this multiple of the expected rate.
        Organic peaks (diurnal, a mention in the news that doubles traffic) stay below 5x.
    burst_min_count : int, default 50
        ... and holds at least this many votes: small ideas fluctuate by large factors
        (0 -> 12 votes) without any manipulation worth a moderator's time.
    burst_rate_floor : float, default 2.0
        Expected votes per bucket assumed when the idea's own trailing mean is lower, notably for a
        brand-new idea with no history. Two votes an hour is a modest idea's rate on a city
        platform; together with ``burst_min_count`` it means a new idea needs >= 50 votes in one
        hour to be flagged.
    fresh_age_s : int, default 86400
        An account younger than this at the time of the vote is "fresh". Sock-puppet waves
        register and vote within hours; a day covers that and little organic activity.
    fresh_baseline_s : int, default 86400
        Width of the time slices whose fresh-vote share (over all *other* ideas) is the base rate
        a vote is compared with. A per-day base rate follows launches and press coverage that
        bring many new residents at once, which a single global rate would mistake for attacks.
    fresh_prior_votes : float, default 200.0
        Pseudo-votes at the global fresh share mixed into each slice's base rate, so a quiet day
        (few votes) does not give a base rate of exactly 0 or 1.
    fresh_min_count : int, default 30
        An idea is flagged only with at least this many fresh votes: below it, one family
        signing up together looks like an anomaly.
    fresh_z : float, default 5.0
        ... and a binomial z-score (observed minus expected fresh votes over the binomial
        standard deviation) of at least this. With ~1,000 ideas, z >= 5 leaves almost no chance
        of a purely random false alarm.
    fresh_min_ratio : float, default 3.0
        ... and a fresh share at least this multiple of its expected share. The z-score alone
        flags tiny relative differences on very popular ideas (and popular ideas legitimately
        attract some new residents); the ratio demands a large effect too.
    lockstep_window_s : int, default 600
        Two votes on the same idea co-occur when they are at most this far apart (seconds).
        Ten minutes holds a scripted or chat-coordinated wave, and is short enough that two
        residents on the same idea rarely coincide by chance.
    lockstep_min_ideas : int, default 5
        A pair of accounts is in lockstep when they co-occur on at least this many distinct ideas.
        Two people can meet by chance on one or two ideas; five independent coincidences are
        very unlikely (CopyCatch uses the same "m ideas" condition).
    lockstep_max_neighbours : int, default 64
        Each vote is paired with at most this many following votes within the window on the same
        idea (the nearest ones). It caps the work on very busy ideas at
        ``n_votes * lockstep_max_neighbours`` pairs; the blind spot is a ring that hides among
        more than this many organic votes within the window.
    """

    burst_bucket_s: int = HOUR
    burst_trailing_buckets: int = 24
    burst_multiplier: float = 5.0
    burst_min_count: int = 50
    burst_rate_floor: float = 2.0
    fresh_age_s: int = DAY
    fresh_baseline_s: int = DAY
    fresh_prior_votes: float = 200.0
    fresh_min_count: int = 30
    fresh_z: float = 5.0
    fresh_min_ratio: float = 3.0
    lockstep_window_s: int = 600
    lockstep_min_ideas: int = 5
    lockstep_max_neighbours: int = 64

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{f.name} must be an integer, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
            if not value > 0 or value != value or value == float("inf"):
                raise ValueError(f"{f.name} must be positive and finite, got {value!r}")
        if self.burst_multiplier <= 1:
            raise ValueError(f"burst_multiplier must be > 1, got {self.burst_multiplier!r}")
        if self.fresh_min_ratio < 1:
            raise ValueError(f"fresh_min_ratio must be >= 1, got {self.fresh_min_ratio!r}")
        if self.lockstep_min_ideas < 2:
            raise ValueError(f"lockstep_min_ideas must be >= 2, got {self.lockstep_min_ideas!r}")
