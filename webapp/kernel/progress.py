"""Progress of long jobs (``veche reindex``, ``veche import``, ``veche seed-demo``).

A job reports, its caller draws: the job takes a :data:`Progress` and opens one stage per
phase of its work, then counts what it did::

    with progress("embed", total, "idea") as advance:
        for batch in batches:
            ...
            advance(len(batch))

The command line passes bars (``bars(partial(tqdm, ...))``); everyone else gets the default,
:func:`no_progress`. Use-case modules never import a progress-bar library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

Advance = Callable[[int], None]
"""Counts ``n`` more items done in the current stage."""


class Progress(Protocol):
    def __call__(self, stage: str, total: int, unit: str) -> AbstractContextManager[Advance]:
        """Start a stage of ``total`` items counted in ``unit`` ("idea", "row", ...); the
        context yields its :data:`Advance` and ends the stage on exit."""
        ...


def _ignore(n: int) -> None:
    pass


def no_progress(stage: str, total: int, unit: str) -> AbstractContextManager[Advance]:
    """Reports nothing (the default of every job)."""
    return nullcontext(_ignore)


def counted(progress: Progress, stage: str, items: Sequence[T], unit: str) -> Iterator[T]:
    """``items`` one by one, as a stage of ``progress`` that counts each item once the loop
    body is done with it (and ends with the loop)."""
    with progress(stage, len(items), unit) as advance:
        for item in items:
            yield item
            advance(1)


class Bar(Protocol):
    """What :func:`bars` needs of a bar: tqdm's ``update`` and context manager."""

    def update(self, n: int) -> Any: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...


def bars(make_bar: Callable[..., Bar]) -> Progress:
    """Progress drawn as one bar per stage: ``make_bar(total=, desc=stage, unit=)``, e.g.
    ``partial(tqdm, disable=quiet)``; the bar is closed when its stage ends."""

    @contextmanager
    def stage(stage: str, total: int, unit: str) -> Iterator[Advance]:
        with make_bar(total=total, desc=stage, unit=unit) as bar:
            yield bar.update

    return stage
