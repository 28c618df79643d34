"""Manipulation signals computed vectorised over the vote arrays.

Three detectors, each a public function returning per-vote flags and details for moderators:

- :func:`detect_bursts`: votes per idea per time bucket far above the idea's own trailing rate;
- :func:`detect_fresh_accounts`: ideas with an unusual share of votes from just-created accounts;
- :func:`detect_lockstep`: pairs of accounts co-voting within minutes on many ideas.

:func:`detect_signals` runs all three and gives ``Signals.suspicion``, the per-vote share of
weight that ``ranking.weights`` discounts. Signals never delete votes. They are meant for a
periodic background job (see ``docs/ranking.md`` for sizes and timings), not per request.
"""

from __future__ import annotations

from ranking.signals.bursts import BurstResult, detect_bursts
from ranking.signals.combine import BURST, FRESH, LOCKSTEP, Signals, detect_signals
from ranking.signals.config import SignalConfig
from ranking.signals.fresh import FreshResult, detect_fresh_accounts
from ranking.signals.lockstep import LockstepResult, detect_lockstep

__all__ = [
    "BURST",
    "FRESH",
    "LOCKSTEP",
    "BurstResult",
    "FreshResult",
    "LockstepResult",
    "SignalConfig",
    "Signals",
    "detect_bursts",
    "detect_fresh_accounts",
    "detect_lockstep",
    "detect_signals",
]
