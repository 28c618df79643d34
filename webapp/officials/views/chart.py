"""The geometry of the supporters-over-time chart (inline SVG, drawn by ``officials/_chart.html``).

The numbers come from the use-case (``webapp.officials.vote_chart.series``); this module only
places them: the cumulative line as steps (the count rises within a bucket), its area, round
ticks on the y axis and at most six dates on the x axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from webapp.officials.vote_chart import Series


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    line: str  # SVG path of the cumulative line
    area: str  # the same, closed along the x axis
    x_ticks: list[tuple[float, datetime]]
    y_ticks: list[tuple[float, int]]
    last: tuple[float, float]  # where the line ends (a dot for today's total)


def nice_step(maximum: int, ticks: int = 4) -> int:
    """A round step (1, 2, 5 × 10^k) giving about ``ticks`` intervals up to ``maximum``."""
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return int(factor * power)
    return int(10 * power)


def chart(data: Series, width: int = 640, height: int = 240) -> Chart:
    """Coordinates of the cumulative line, its area and the axis ticks."""
    left, right, top, bottom = 64.0, width - 16.0, 16.0, height - 36.0
    step = nice_step(max(data.total, 1))
    y_max = max(step, -(-max(data.total, 1) // step) * step)
    n = len(data.points)

    def x(i: int) -> float:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

    def y(value: int) -> float:
        return bottom - (bottom - top) * value / y_max

    coords: list[tuple[float, float]] = []
    previous = 0
    for i, p in enumerate(data.points):
        coords.append((x(i), y(previous)))  # a step: the count rises within the bucket
        coords.append((x(i), y(p.total)))
        previous = p.total
    line = "M " + " L ".join(f"{cx:.1f} {cy:.1f}" for cx, cy in coords)
    area = f"{line} L {coords[-1][0]:.1f} {bottom:.1f} L {coords[0][0]:.1f} {bottom:.1f} Z"
    wanted = min(n, 6)
    picks = (
        sorted({round(k * (n - 1) / (wanted - 1)) for k in range(wanted)}) if wanted > 1 else [0]
    )
    x_ticks = [(x(i), data.points[i].start) for i in picks]
    y_ticks = [(y(v), v) for v in range(0, y_max + 1, step)]
    return Chart(width, height, left, right, top, bottom, line, area, x_ticks, y_ticks, coords[-1])
