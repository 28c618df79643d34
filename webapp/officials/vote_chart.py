"""Supporters over time for one idea: a cumulative series of plain numbers and dates.

The series counts **current distinct supporters** by the day (week, month) of their support: a
citizen who supported the idea and ideas merged into it counts once, at their first support; a
withdrawn vote has no row, so the last point always equals today's distinct supporters. Buckets
are calendar days (weeks from Monday, months) in the site's time zone, from the idea's
publication to today. The chart drawn from it (inline SVG, no JavaScript) is presentation:
``webapp.officials.views.chart`` computes its geometry, ``officials/_chart.html`` draws it.
"""

from __future__ import annotations

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
    points: tuple[Point, ...]
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
    points = tuple(
        Point(start, int(n), int(t)) for start, n, t in zip(local, news, totals, strict=True)
    )
    return Series(unit, points, int(times.size))
