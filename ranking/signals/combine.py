"""All signals at once: a per-vote suspicion in [0, 1] and the reasons behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import Users, Votes
from ranking.signals._common import check_config, check_users, check_votes
from ranking.signals.bursts import BurstResult, detect_bursts
from ranking.signals.config import SignalConfig
from ranking.signals.fresh import FreshResult, detect_fresh_accounts
from ranking.signals.lockstep import LockstepResult, detect_lockstep

BURST = 1
"""Bit of ``Signals.reason_bits``: the vote fell in a burst bucket of its idea."""
FRESH = 2
"""Bit of ``Signals.reason_bits``: a fresh account's vote on an idea with too many of them."""
LOCKSTEP = 4
"""Bit of ``Signals.reason_bits``: a lockstep pair's vote on an idea where the pair co-voted."""


@dataclass(frozen=True)
class Signals:
    """The combined verdict on each vote; nothing here deletes or changes a vote.

    Attributes
    ----------
    suspicion : (n,) float64 in [0, 1], the share of the vote's weight to discount:
        ``max(burst.excess, fresh.excess, 1.0 if lockstep)``.
    reason_bits : (n,) uint8, OR of ``BURST``, ``FRESH`` and ``LOCKSTEP``.
    burst, fresh, lockstep : the per-signal results, with their details.
    """

    suspicion: NDArray[np.float64]
    reason_bits: NDArray[np.uint8]
    burst: BurstResult
    fresh: FreshResult
    lockstep: LockstepResult

    def reasons(self, i: int) -> list[str]:
        """Why vote ``i`` is suspected, one plain sentence per signal (empty when it is not).

        >>> s = detect_signals(Votes.build([0], [0], time=[0]), Users.build([1], [0], [-10**6]))
        >>> s.reasons(0)
        []
        """
        n = int(self.suspicion.shape[0])
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or not -n <= i < n:
            raise ValueError(f"i must be a vote index in [0, {n}), got {i!r}")
        bits = int(self.reason_bits[i])
        out: list[str] = []
        if bits & BURST:
            out.append(
                f"burst: {int(self.burst.count[i])} votes on this idea in one bucket, "
                f"{float(self.burst.expected[i]):.1f} expected; "
                f"{float(self.burst.excess[i]):.0%} of the bucket is excess"
            )
        if bits & FRESH:
            out.append(
                f"fresh account on an idea with unusually many: "
                f"{float(self.fresh.excess[i]):.0%} of its fresh votes are above the base rate"
            )
        if bits & LOCKSTEP:
            out.append("lockstep: this account co-votes within minutes with another on many ideas")
        return out


def detect_signals(votes: Votes, users: Users, config: SignalConfig | None = None) -> Signals:
    """Run the burst, fresh-account and lockstep detectors and combine them per vote.

    The suspicion of a vote is the largest of: its burst ``excess`` (the share of its bucket
    above the idea's expected rate), its fresh-account ``excess`` (the share of the idea's fresh
    votes above the base rate), and 1.0 for a lockstep vote (a pair co-voting on many ideas has
    no organic explanation to leave room for). Taking the maximum, not a sum, means one
    manipulation caught by two signals is not discounted twice.

    Parameters
    ----------
    votes : Votes, n rows.
    users : Users, covering every ``votes.user``.
    config : SignalConfig, optional; defaults to ``SignalConfig()``.

    Returns
    -------
    Signals

    Examples
    --------
    >>> import numpy as np
    >>> t = np.r_[np.arange(24) * 3600, 24 * 3600 + np.arange(60)]
    >>> u = Users.build(np.ones(84), np.zeros(84), np.full(84, -10**7))
    >>> s = detect_signals(Votes.build(np.zeros(84), np.arange(84), time=t), u)
    >>> round(float(s.suspicion[-1]), 3), s.reasons(83)[0].split(":")[0]
    (0.967, 'burst')
    """
    votes = check_votes(votes)
    users = check_users(users, votes)
    config = check_config(config)
    burst = detect_bursts(votes, config)
    fresh = detect_fresh_accounts(votes, users, config)
    lockstep = detect_lockstep(votes, config)
    suspicion = np.maximum(burst.excess, fresh.excess)
    suspicion[lockstep.flag] = 1.0
    bits = (
        burst.flag.astype(np.uint8) * BURST
        | fresh.flag.astype(np.uint8) * FRESH
        | lockstep.flag.astype(np.uint8) * LOCKSTEP
    ).astype(np.uint8)
    return Signals(suspicion, bits, burst, fresh, lockstep)
