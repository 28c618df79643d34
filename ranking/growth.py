"""Per-idea and per-user arrays that grow in place, with capacity doubling.

The snapshot's columns live in attributes of a few objects (:class:`~ranking.aggregate.Tables`,
:class:`~ranking.aggregate.Aggregates`, :class:`~ranking.incremental.VoteState`, the snapshot
itself). A :class:`Columns` group owns a backing buffer per attribute, at least as long as the
data along its last axis, and keeps each attribute a view ``buffer[..., :n]``: appending copies
only when a buffer is full, into one twice as long, so growth is amortised O(1) per appended
row and reads see plain contiguous arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

MIN_CAPACITY = 16


class Columns:
    """Arrays stored as ``getattr(owner, name)`` that grow together along their last axis.

    >>> from types import SimpleNamespace
    >>> o = SimpleNamespace(a=np.arange(3), b=np.zeros((2, 3)))
    >>> cols = Columns([(o, "a"), (o, "b")])
    >>> cols.resize(3, 5)
    >>> o.a[3:] = 7
    >>> o.a.tolist(), o.b.shape, cols.capacity(0)
    ([0, 1, 2, 7, 7], (2, 5), 16)
    """

    def __init__(self, fields: list[tuple[object, str]]) -> None:
        self._fields = fields
        self._bufs: list[NDArray[Any]] = [getattr(owner, name) for owner, name in fields]

    def capacity(self, j: int) -> int:
        return int(self._bufs[j].shape[-1])

    def resize(self, n_old: int, n_new: int) -> None:
        """Make every attribute ``n_new`` long along its last axis, keeping the first ``n_old``
        entries; new entries are zero (or stale: callers set them)."""
        for j, (owner, name) in enumerate(self._fields):
            buf = self._bufs[j]
            cap = buf.shape[-1]
            if n_new > cap:
                grown = np.zeros(
                    buf.shape[:-1] + (max(n_new, 2 * cap, MIN_CAPACITY),), dtype=buf.dtype
                )
                grown[..., :n_old] = getattr(owner, name)[..., :n_old]
                self._bufs[j] = buf = grown
            setattr(owner, name, buf[..., :n_new])
