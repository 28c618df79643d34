"""Which stage of a project is in force, from its dates or an official's override (pure logic).

A project has up to five dated stages in a fixed order (``PROJECT_STAGES``). At a moment the stage
in force is the override when an official set one (``"closed"`` closes everything), else the stage
whose window ``[starts_at, ends_at)`` holds the moment; before the first window the project is
*upcoming*, between two windows *between stages*, after the last one *finished*. The permanent
pool has no dates: proposals and supports are always open there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from webapp.kernel.errors import N_
from webapp.kernel.storage.models import PROJECT_STAGES

# What each action needs. Supports (the ranking) are open while proposals are too in the permanent
# pool; in a dated project they are open in the voting stage of a "supports" project.
ACTIONS = ("propose", "support", "ballot", "evaluate", "comment")
STAGE_OF_ACTION = {
    "propose": "proposals",
    "support": "voting",
    "ballot": "voting",
    "evaluate": "review",
}


@dataclass(frozen=True)
class Window:
    stage: str
    starts_at: datetime
    ends_at: datetime | None

    def holds(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)


@dataclass(frozen=True)
class StageState:
    """Where a project stands at a moment.

    ``phase``: ``permanent`` (the always-open pool), ``open`` (``stage`` in force by its dates),
    ``override`` (``stage`` set by hand), ``closed`` (closed by hand), ``upcoming`` (before the
    first stage), ``between`` (after one stage, before the next) or ``finished`` (after the last).
    ``next_stage``/``next_opens_at``: the next window to open after the moment, if any.
    """

    phase: str
    stage: str | None
    next_stage: str | None
    next_opens_at: datetime | None
    windows: tuple[Window, ...]

    def window(self, stage: str) -> Window | None:
        return next((w for w in self.windows if w.stage == stage), None)


def ordered(windows: Iterable[Window]) -> tuple[Window, ...]:
    order = {s: i for i, s in enumerate(PROJECT_STAGES)}
    return tuple(sorted(windows, key=lambda w: (w.starts_at, order.get(w.stage, 99))))


def state_at(
    now: datetime,
    windows: Iterable[Window],
    *,
    permanent: bool = False,
    override: str | None = None,
) -> StageState:
    ws = ordered(windows)
    upcoming = [w for w in ws if w.starts_at > now]
    nxt = upcoming[0] if upcoming else None
    next_stage, next_opens_at = (nxt.stage, nxt.starts_at) if nxt else (None, None)
    if permanent:
        return StageState("permanent", None, None, None, ws)
    if override == "closed":
        return StageState("closed", None, None, None, ws)
    if override:
        return StageState("override", override, None, None, ws)
    current = next((w for w in reversed(ws) if w.holds(now)), None)
    if current is not None:
        return StageState("open", current.stage, next_stage, next_opens_at, ws)
    if not ws or all(w.starts_at > now for w in ws):
        return StageState("upcoming", None, next_stage, next_opens_at, ws)
    if nxt is not None:
        return StageState("between", None, next_stage, next_opens_at, ws)
    return StageState("finished", None, None, None, ws)


def allows(state: StageState, action: str, voting: str = "supports") -> bool:
    """Whether ``action`` is open in ``state`` for a project whose voting stage is ``voting``."""
    if action == "comment":
        return state.phase != "closed"
    if state.phase == "permanent":
        return action in ("propose", "support")
    if action == "support" and voting != "supports":
        return False
    if action == "ballot" and voting == "supports":
        return False
    return state.stage == STAGE_OF_ACTION[action]


def validate_windows(windows: Iterable[Window]) -> list[tuple[str, str]]:
    """Problems with a set of stage dates, as (stage, message id): each stage ends after it
    starts, and the stages follow each other in order without overlapping."""
    problems: list[tuple[str, str]] = []
    order = {s: i for i, s in enumerate(PROJECT_STAGES)}
    ws = sorted(windows, key=lambda w: order[w.stage])
    for w in ws:
        if w.ends_at is not None and w.ends_at <= w.starts_at:
            problems.append((w.stage, N_("The stage must end after it starts.")))
    for before, after in zip(ws, ws[1:], strict=False):
        if before.ends_at is None or after.starts_at < before.ends_at:
            problems.append((after.stage, N_("The stage must start after the previous one ends.")))
    return problems
