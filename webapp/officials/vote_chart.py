"""Supporters over time for one idea: a cumulative series and the geometry of its SVG chart.

The series counts **current distinct supporters** by the day (week, month) of their support: a
citizen who supported the idea and ideas merged into it counts once, at their first support; a
withdrawn vote has no row, so the last point always equals today's distinct supporters. Buckets
are calendar days (weeks from Monday, months) in the site's time zone, from the idea's
publication to today. The chart is drawn on the server (inline SVG), so it needs no JavaScript.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.kernel.errors import NotFound
from webapp.kernel.storage.models import Idea, Vote, utcnow
from webapp.ranking.ranking_arrays import epoch

DAILY_UP_TO = 92  # days of history drawn per day; longer histories per week
WEEKLY_UP_TO = 3 * 366  # …then per month


@dataclass(frozen=True)
class Point:
    start: datetime  # the bucket's first moment, in the site's time zone
    new: int  # supporters whose support fell in this bucket
    total: int  # supporters up to the end of this bucket


@dataclass(frozen=True)
class Series:
    unit: str  # "day", "week" or "month"
    points: list[Point]
    total: int


def _support_times(session: Session, idea_id: int) -> np.ndarray:
    """Unix seconds of each distinct supporter's first support (idea and merged members)."""
    members = list(
        session.scalars(
            select(Idea.id).where(Idea.merged_into_id == idea_id, Idea.status == "merged")
        )
    )
    seconds = epoch(session, Vote.created_at)
    if members:
        first = (
            select(func.min(seconds).label("t"))
            .where(Vote.idea_id.in_([idea_id, *members]), Vote.value == 1)
            .group_by(Vote.user_id)
        )
        values = session.scalars(first).all()
    else:
        values = session.scalars(
            select(seconds).where(Vote.idea_id == idea_id, Vote.value == 1)
        ).all()
    return np.sort(np.array([int(v) for v in values if v is not None], dtype=np.int64))


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next(day: date, unit: str) -> date:
    if unit == "day":
        return day + timedelta(days=1)
    if unit == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _bucket_starts(first: date, last: date, unit: str) -> list[date]:
    if unit == "week":
        first -= timedelta(days=first.weekday())
    elif unit == "month":
        first = _month_start(first)
    starts = [first]
    while (following := _next(starts[-1], unit)) <= last:
        starts.append(following)
    return starts


def series(session: Session, idea_id: int, timezone: str, now: datetime | None = None) -> Series:
    """The idea's cumulative distinct supporters per day, week or month, up to ``now``."""
    created = session.scalar(select(Idea.created_at).where(Idea.id == idea_id))
    if created is None:
        raise NotFound("Idea not found.")
    tz = ZoneInfo(timezone)
    now = now or utcnow()
    times = _support_times(session, idea_id)
    begin = created.astimezone(tz).date()
    if times.size:
        begin = min(begin, datetime.fromtimestamp(int(times[0]), tz).date())
    end = max(now.astimezone(tz).date(), begin)
    if times.size:
        end = max(end, datetime.fromtimestamp(int(times[-1]), tz).date())
    span = (end - begin).days
    unit = "day" if span <= DAILY_UP_TO else "week" if span <= WEEKLY_UP_TO else "month"
    starts = _bucket_starts(begin, end, unit)
    local = [datetime(d.year, d.month, d.day, tzinfo=tz) for d in starts]
    bounds = [*local[1:], datetime.combine(_next(starts[-1], unit), datetime.min.time(), tz)]
    edges = np.array([int(b.astimezone(UTC).timestamp()) for b in bounds], dtype=np.int64)
    totals = np.searchsorted(times, edges, side="left")
    news = np.diff(totals, prepend=0)
    points = [Point(start, int(n), int(t)) for start, n, t in zip(local, news, totals, strict=True)]
    return Series(unit, points, int(times.size))


# --- the chart's geometry -------------------------------------------------------------------


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
