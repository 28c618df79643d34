"""A Progress (webapp.kernel.progress) that records what a long job reported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from webapp.kernel.progress import Advance


class RecordedProgress:
    """stages: "stage/unit" -> [total, done, finished], in the order the stages started."""

    def __init__(self) -> None:
        self.stages: dict[str, list[int]] = {}

    @contextmanager
    def __call__(self, stage: str, total: int, unit: str) -> Iterator[Advance]:
        counts = self.stages[f"{stage}/{unit}"] = [total, 0, 0]

        def advance(n: int) -> None:
            assert not counts[2], f"{stage} advanced after it ended"
            counts[1] += n

        yield advance
        counts[2] = 1

    def summary(self) -> dict[str, tuple[int, int]]:
        """stage/unit -> (total, done) of the finished stages."""
        return {k: (total, done) for k, (total, done, end) in self.stages.items() if end}
