"""Working days on the Russian production calendar, and the deadlines of problem reports.

Pure: no database, no web. The calendar is data, ``webapp/data/calendar/ru.json``: for each
year, the non-working holidays of the Labour Code (art. 112 part 1), the extra days off (the
targets of the Government decree's transfers, and the Monday that art. 112 part 2 gives when a
holiday other than a January one falls on a weekend), and the weekend days made working by a
transfer. Each year names its decree and the sources it was checked against; a year's
``status`` says how firm it is (``verified``, ``verified-secondary`` or ``provisional``). A date
outside the years in the file raises :class:`YearNotInCalendar`: add the year (the decree for
year N is published in the autumn of year N-1) rather than guess.

The five-day week with Saturday and Sunday off is the only one modelled: it is the week of the
organisations that answer residents. Pre-holiday shortened days (art. 95: one hour less) are
whole working days here: a deadline counts days, not hours.

The deadline rule
-----------------
A report filed at the instant ``start`` has a deadline of ``n`` working days (``n >= 1``):

1. The report's day is the calendar date of ``start`` in the city's time zone (a report filed
   at 23:30 Moscow time on a Friday is a Friday report, although it is 20:30 UTC).
2. The report's day itself never counts, whether it is a working day or not: the first working
   day is the first working day strictly after it (as the Civil Code starts a term on the day
   after the event, art. 191). So a report filed on a Saturday, a holiday or a Friday evening all
   start counting on the next working day.
3. The due day is the ``n``-th working day so counted (:func:`due_day`). It is always a working
   day, so the Civil Code's move of a term ending on a day off (art. 193) never arises.
4. The deadline is the end of the due day: midnight at its close in the city's time zone
   (the start of the next calendar day), returned in UTC (:func:`add_working_days`). An answer
   is on time when it comes strictly before that instant (:func:`is_overdue`).

Countdowns count working days between calendar dates (:func:`working_days_between`): from today
(:func:`local_day` of now) to the due day (:func:`deadline_day` of the stored deadline). ``0``
means the due day is today, ``2`` that two working days follow today up to and including the
due day, ``-1`` that one working day has passed since it. Whether a report is overdue is
decided by the instant, not by the count: on the weekend right after a Friday due day the
count is still ``0`` but :func:`is_overdue` is true.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

CALENDAR_PATH = Path(__file__).resolve().parent.parent / "data" / "calendar" / "ru.json"

STATUSES = ("verified", "verified-secondary", "provisional")


class YearNotInCalendar(ValueError):
    """A date falls in a year that the production calendar file does not cover."""

    def __init__(self, year: int, known: tuple[int, ...]) -> None:
        self.year = year
        self.known = known
        span = f"{known[0]}–{known[-1]}" if known else "none"
        super().__init__(
            f"The production calendar has no data for {year} (years covered: {span}). "
            f"Add {year} to {CALENDAR_PATH.relative_to(CALENDAR_PATH.parents[3])} "
            "from the Government's decree on the transfer of days off for that year."
        )


class CalendarDataError(ValueError):
    """The calendar file contradicts itself (a wrong weekday, a date in the wrong year, a gap)."""


@dataclass(frozen=True)
class CalendarYear:
    year: int
    status: str  # one of STATUSES
    decree: str  # the decree's title, or "" for a provisional year
    decree_url: str
    holidays: frozenset[date]  # art. 112 part 1, on their calendar dates
    days_off: frozenset[date]  # extra non-working weekdays (transfers, art. 112 part 2)
    working_days: frozenset[date]  # weekend days made working by a transfer

    @property
    def provisional(self) -> bool:
        return self.status == "provisional"


@dataclass(frozen=True)
class _Calendar:
    years: dict[int, CalendarYear]
    first: date
    last: date
    working: tuple[int, ...]  # ordinals of every working day from first to last, ascending


def _dates(year: int, entries: list[dict[str, Any]], what: str) -> frozenset[date]:
    out: set[date] = set()
    for entry in entries:
        d = date.fromisoformat(str(entry["date"]))
        if d.year != year:
            raise CalendarDataError(f"{CALENDAR_PATH.name}: {what} {d} listed under {year}")
        out.add(d)
    return frozenset(out)


def _parse_year(year: int, raw: dict[str, Any]) -> CalendarYear:
    status = str(raw["status"])
    if status not in STATUSES:
        raise CalendarDataError(f"{CALENDAR_PATH.name}: {year} has unknown status {status!r}")
    holidays = _dates(year, raw["holidays"], "holiday")
    days_off = _dates(year, raw["days_off"], "day off")
    working_days = _dates(year, raw["working_days"], "working day")
    for d in days_off:
        if d.weekday() >= 5 or d in holidays:
            raise CalendarDataError(
                f"{CALENDAR_PATH.name}: day off {d} must be a weekday that is not a holiday"
            )
    for d in working_days:
        if d.weekday() < 5 or d in holidays:
            raise CalendarDataError(
                f"{CALENDAR_PATH.name}: working day {d} must be a weekend day that is not a holiday"
            )
    decree = raw.get("decree") or {}
    return CalendarYear(
        year=year,
        status=status,
        decree=str(decree.get("title", "")),
        decree_url=str(decree.get("url", "")),
        holidays=holidays,
        days_off=days_off,
        working_days=working_days,
    )


def _is_working(d: date, y: CalendarYear) -> bool:
    if d in y.working_days:
        return True
    return d.weekday() < 5 and d not in y.holidays and d not in y.days_off


@cache
def _calendar() -> _Calendar:
    raw = json.loads(CALENDAR_PATH.read_text(encoding="utf-8"))
    years = {int(k): _parse_year(int(k), v) for k, v in raw["years"].items()}
    if not years:
        raise CalendarDataError(f"{CALENDAR_PATH.name}: no years")
    ordered = sorted(years)
    if ordered != list(range(ordered[0], ordered[-1] + 1)):
        raise CalendarDataError(f"{CALENDAR_PATH.name}: the years must be consecutive: {ordered}")
    first, last = date(ordered[0], 1, 1), date(ordered[-1], 12, 31)
    working = tuple(
        o
        for o in range(first.toordinal(), last.toordinal() + 1)
        if _is_working(date.fromordinal(o), years[date.fromordinal(o).year])
    )
    return _Calendar(years=years, first=first, last=last, working=working)


def _plain_date(d: date, name: str) -> date:
    if isinstance(d, datetime):
        raise TypeError(
            f"{name} must be a date, not a datetime: convert an instant with local_day(instant, tz)"
        )
    return d


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _aware(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC as stored), got {instant!r}")
    return instant


def _checked(d: date) -> _Calendar:
    cal = _calendar()
    if not cal.first <= d <= cal.last:
        raise YearNotInCalendar(d.year, tuple(sorted(cal.years)))
    return cal


def known_years() -> tuple[int, ...]:
    """The years the calendar file covers, ascending and consecutive."""
    return tuple(sorted(_calendar().years))


def calendar_year(year: int) -> CalendarYear:
    """One year of the calendar: its status, decree and special days."""
    cal = _calendar()
    if year not in cal.years:
        raise YearNotInCalendar(year, tuple(sorted(cal.years)))
    return cal.years[year]


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a working day of the five-day week on the Russian production calendar."""
    d = _plain_date(d, "d")
    cal = _checked(d)
    return _is_working(d, cal.years[d.year])


def local_day(instant: datetime, tz: tzinfo | str) -> date:
    """The calendar date of an aware instant in the time zone ``tz`` (a name or a tzinfo)."""
    return _aware(instant, "instant").astimezone(_zone(tz)).date()


def due_day(start: datetime, n: int, tz: tzinfo | str) -> date:
    """The ``n``-th working day after the local day of ``start`` (the day itself never counts)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of working days, at least 1; got {n!r}")
    day = local_day(start, tz)
    cal = _checked(day)
    i = bisect_right(cal.working, day.toordinal()) + n - 1
    if i >= len(cal.working):
        raise YearNotInCalendar(cal.last.year + 1, tuple(sorted(cal.years)))
    return date.fromordinal(cal.working[i])


def add_working_days(start: datetime, n: int, tz: tzinfo | str) -> datetime:
    """The deadline, in UTC: the end of the ``n``-th working day after ``start``'s local day.

    "The end" is midnight at the close of the due day in ``tz`` (the first instant of the next
    calendar day there); an answer is on time when it comes strictly before it.
    """
    zone = _zone(tz)
    after = due_day(start, n, zone) + timedelta(days=1)
    return datetime.combine(after, time(0), tzinfo=zone).astimezone(UTC)


def deadline_day(deadline: datetime, tz: tzinfo | str) -> date:
    """The due day whose end is ``deadline`` (the inverse of :func:`add_working_days`'s end)."""
    return (_aware(deadline, "deadline").astimezone(_zone(tz)) - timedelta(microseconds=1)).date()


def is_overdue(deadline: datetime, now: datetime) -> bool:
    """Whether the deadline has passed at ``now`` (both aware instants)."""
    return _aware(now, "now") >= _aware(deadline, "deadline")


def working_days_between(a: date, b: date) -> int:
    """Signed count of working days between two calendar dates, for countdowns.

    For ``a <= b``: the working days ``d`` with ``a < d <= b`` (so ``due_day`` of a report
    filed on day ``a`` with ``n`` days is ``n`` working days after ``a``). For ``a > b``: minus
    the count from ``b`` to ``a``, so the countdown from today to a past due day is negative.
    """
    a = _plain_date(a, "a")
    b = _plain_date(b, "b")
    if a > b:
        return -working_days_between(b, a)
    cal = _checked(a)
    _checked(b)
    return bisect_right(cal.working, b.toordinal()) - bisect_right(cal.working, a.toordinal())
