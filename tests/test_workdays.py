"""The Russian production calendar and report deadlines in working days (webapp/reports/workdays.py).

The known dates come from the decrees named in webapp/data/calendar/ru.json (2026: decree
No. 1466 of 24.09.2025; 2027: No. 1187 of 17.09.2026; 2025: No. 1335 of 04.10.2024) and the
Labour Code, art. 112.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.reports import workdays
from webapp.reports.workdays import (
    YearNotInCalendar,
    add_working_days,
    calendar_year,
    deadline_day,
    due_day,
    is_overdue,
    is_working_day,
    known_years,
    local_day,
    working_days_between,
)

MSK = ZoneInfo("Europe/Moscow")


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def raw_calendar() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(workdays.CALENDAR_PATH.read_text(encoding="utf-8"))
    return data


# --- the data ------------------------------------------------------------------------------

ART_112 = [(1, d) for d in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]


def test_years_are_current_and_next_with_their_decrees() -> None:
    assert known_years() == (2025, 2026, 2027)
    y2026, y2027 = calendar_year(2026), calendar_year(2027)
    assert y2026.status == "verified"
    assert "от 24.09.2025 № 1466" in y2026.decree and "в 2026 году" in y2026.decree
    assert y2027.status == "verified-secondary" and not y2027.provisional
    assert "от 17.09.2026 № 1187" in y2027.decree and "в 2027 году" in y2027.decree
    assert calendar_year(2025).status == "verified"
    for year in known_years():
        assert calendar_year(year).decree_url.startswith("https://")


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_holidays_are_those_of_article_112(year: int) -> None:
    assert calendar_year(year).holidays == {date(year, m, d) for m, d in ART_112}


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_days_off_follow_from_the_decree_and_article_112_part_2(year: int) -> None:
    """Days off = the decree's targets + art. 112 part 2's next working day for a non-January
    holiday on a weekend (unless the decree moved that weekend day); working weekend days = the
    decree's sources that are not holidays."""
    raw = raw_calendar()["years"][str(year)]
    holidays = {date(year, m, d) for m, d in ART_112}
    transfers = [
        (date.fromisoformat(t["from"]), date.fromisoformat(t["to"])) for t in raw["transfers"]
    ]
    for source, target in transfers:
        assert source.weekday() >= 5, f"{source} is moved, so it must be a Saturday or Sunday"
        assert target.weekday() < 5 and target not in holidays
    sources = {s for s, _ in transfers}
    days_off = {t for _, t in transfers}
    for h in sorted(holidays):
        if h.month == 1 or h.weekday() < 5 or h in sources:
            continue
        c = h + timedelta(days=1)
        while c.weekday() >= 5 or c in holidays or c in days_off:
            c += timedelta(days=1)
        days_off.add(c)
    y = calendar_year(year)
    assert y.days_off == days_off
    assert y.working_days == {s for s in sources if s not in holidays}


@pytest.mark.parametrize("year", [2025, 2026])
def test_year_totals_match_the_published_ones(year: int) -> None:
    totals = raw_calendar()["years"][str(year)]["totals"]
    all_days = days(date(year, 1, 1), date(year, 12, 31))
    working = sum(is_working_day(d) for d in all_days)
    assert (working, len(all_days) - working) == (247, 118)
    assert totals == {"working_days": 247, "non_working_days": 118}


def test_2027_has_247_working_days_by_the_data() -> None:
    # Computed from the decree's transfers; no published total was retrieved for 2027.
    assert sum(is_working_day(d) for d in days(date(2027, 1, 1), date(2027, 12, 31))) == 247


# --- known dates ---------------------------------------------------------------------------

NON_WORKING_2026 = [
    *days(date(2026, 1, 1), date(2026, 1, 11)),  # New Year holidays, 3 and 4 Jan moved to 9 Jan
    date(2026, 2, 21), date(2026, 2, 22), date(2026, 2, 23),
    date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9),  # 8 March on Sunday → Monday 9
    date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3),
    date(2026, 5, 9), date(2026, 5, 10), date(2026, 5, 11),  # 9 May on Saturday → Monday 11
    date(2026, 6, 12), date(2026, 6, 13), date(2026, 6, 14),
    date(2026, 11, 4),
    date(2026, 12, 31),  # transferred from Sunday 4 January
]  # fmt: skip
WORKING_2026 = [
    date(2025, 12, 30), date(2026, 1, 12), date(2026, 2, 20), date(2026, 2, 24),
    date(2026, 3, 6), date(2026, 3, 10), date(2026, 4, 30), date(2026, 5, 4),
    date(2026, 5, 8), date(2026, 5, 12), date(2026, 6, 11), date(2026, 6, 15),
    date(2026, 11, 3), date(2026, 11, 5), date(2026, 12, 30),
]  # fmt: skip


@pytest.mark.parametrize("d", NON_WORKING_2026, ids=str)
def test_2026_non_working_days(d: date) -> None:
    assert not is_working_day(d)


@pytest.mark.parametrize("d", WORKING_2026, ids=str)
def test_2026_working_days(d: date) -> None:
    assert is_working_day(d)


def test_2026_has_no_working_weekend_day() -> None:
    weekends = [d for d in days(date(2026, 1, 1), date(2026, 12, 31)) if d.weekday() >= 5]
    assert len(weekends) == 104 and not any(is_working_day(d) for d in weekends)


@pytest.mark.parametrize(
    ("d", "working"),
    [
        (date(2025, 12, 31), False),  # 2025's decree: from Sunday 5 January
        (date(2025, 11, 1), True),  # 2025's working Saturday
        (date(2027, 1, 8), False),
        (date(2027, 1, 11), True),
        (date(2027, 2, 20), True),  # Saturday made working: its day off moved to 22 February
        (date(2027, 2, 22), False),
        (date(2027, 2, 23), False),
        (date(2027, 3, 8), False),
        (date(2027, 5, 3), False),  # 1 May on Saturday
        (date(2027, 5, 10), False),  # 9 May on Sunday
        (date(2027, 6, 14), False),  # 12 June on Saturday
        (date(2027, 11, 5), False),  # from Saturday 2 January
        (date(2027, 12, 31), False),  # from Sunday 3 January
        (date(2027, 12, 30), True),
    ],
    ids=str,
)
def test_2025_and_2027_special_days(d: date, working: bool) -> None:
    assert is_working_day(d) is working


# --- deadlines -----------------------------------------------------------------------------


def test_eight_working_days_across_the_new_year_holidays() -> None:
    start = msk(2026, 12, 28, 10, 0)  # Monday
    # 29, 30 Dec; 31 Dec–10 Jan off; 11, 12, 13, 14, 15, 18 Jan
    assert due_day(start, 8, MSK) == date(2027, 1, 18)
    assert add_working_days(start, 8, MSK) == datetime(2027, 1, 18, 21, 0, tzinfo=UTC)
    # a year earlier: 31 Dec 2025 and 1–11 Jan 2026 off
    assert due_day(msk(2025, 12, 26, 12, 0), 8, MSK) == date(2026, 1, 19)


def test_a_report_on_a_non_working_day_counts_from_the_next_working_day() -> None:
    assert due_day(msk(2026, 12, 31, 15, 0), 1, MSK) == date(2027, 1, 11)
    assert due_day(msk(2026, 3, 7, 15, 0), 1, MSK) == date(2026, 3, 10)  # Saturday before 8 March
    # the report's own day never counts, working or not
    assert due_day(msk(2026, 3, 6, 9, 0), 1, MSK) == date(2026, 3, 10)
    assert due_day(msk(2026, 12, 8, 9, 0), 1, MSK) == date(2026, 12, 9)


def test_friday_2330_moscow_is_a_friday_report() -> None:
    friday_late = msk(2026, 12, 4, 23, 30)
    assert friday_late.astimezone(UTC) == datetime(2026, 12, 4, 20, 30, tzinfo=UTC)
    assert local_day(friday_late, "Europe/Moscow") == date(2026, 12, 4)
    assert due_day(friday_late, 1, "Europe/Moscow") == date(2026, 12, 7)
    assert add_working_days(friday_late, 1, "Europe/Moscow") == datetime(
        2026, 12, 7, 21, 0, tzinfo=UTC
    )
    # the same instant is already Saturday in Vladivostok; the deadline ends Monday there
    assert local_day(friday_late, "Asia/Vladivostok") == date(2026, 12, 5)
    assert add_working_days(friday_late, 1, "Asia/Vladivostok") == datetime(
        2026, 12, 7, 14, 0, tzinfo=UTC
    )


def test_the_local_day_decides_not_the_utc_day() -> None:
    # Thursday 23:30 and Friday 00:30 Moscow time are both Thursday in UTC
    thursday, friday = msk(2026, 12, 3, 23, 30), msk(2026, 12, 4, 0, 30)
    assert thursday.astimezone(UTC).date() == friday.astimezone(UTC).date() == date(2026, 12, 3)
    assert due_day(thursday, 1, MSK) == date(2026, 12, 4)
    assert due_day(friday, 1, MSK) == date(2026, 12, 7)


def test_deadline_day_inverts_the_deadline() -> None:
    deadline = add_working_days(msk(2026, 12, 7, 12, 0), 8, MSK)
    assert deadline_day(deadline, MSK) == date(2026, 12, 17)
    assert deadline_day(deadline, "Europe/Moscow") == due_day(msk(2026, 12, 7, 12, 0), 8, MSK)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 12, 4, 12, 0), 8, MSK)
    for n in (0, -1):
        with pytest.raises(ValueError, match="at least 1"):
            due_day(msk(2026, 12, 4, 12, 0), n, MSK)
    with pytest.raises(TypeError, match="not a datetime"):
        is_working_day(msk(2026, 12, 4, 12, 0))
    with pytest.raises(TypeError, match="not a datetime"):
        working_days_between(date(2026, 12, 4), msk(2026, 12, 5, 0, 0))


# --- countdowns ----------------------------------------------------------------------------


def test_countdown_to_the_due_day() -> None:
    filed = msk(2026, 12, 7, 10, 0)  # Monday
    deadline = add_working_days(filed, 8, MSK)
    due = deadline_day(deadline, MSK)
    assert due == date(2026, 12, 17)  # 8, 9, 10, 11, 14, 15, 16, 17 December
    assert working_days_between(date(2026, 12, 7), due) == 8
    assert working_days_between(date(2026, 12, 12), due) == 4  # a Saturday: 14–17 left
    assert working_days_between(date(2026, 12, 16), due) == 1
    assert working_days_between(date(2026, 12, 17), due) == 0  # due today
    assert not is_overdue(deadline, msk(2026, 12, 17, 23, 59))
    assert is_overdue(deadline, msk(2026, 12, 18, 0, 0))
    assert working_days_between(date(2026, 12, 18), due) == -1
    assert working_days_between(date(2026, 12, 20), due) == -1  # the weekend adds nothing
    assert working_days_between(date(2026, 12, 21), due) == -2


def test_overdue_over_the_weekend_after_a_friday_due_day() -> None:
    deadline = add_working_days(msk(2026, 12, 7, 10, 0), 4, MSK)
    assert deadline_day(deadline, MSK) == date(2026, 12, 11)  # Friday
    saturday = msk(2026, 12, 12, 9, 0)
    assert is_overdue(deadline, saturday)
    assert working_days_between(local_day(saturday, MSK), date(2026, 12, 11)) == 0


def test_countdown_across_the_year_end() -> None:
    assert working_days_between(date(2026, 12, 30), date(2027, 1, 11)) == 1
    assert working_days_between(date(2027, 1, 11), date(2026, 12, 30)) == -1
    assert working_days_between(date(2026, 12, 31), date(2027, 1, 10)) == 0


# --- years outside the data ----------------------------------------------------------------


def test_years_outside_the_data_raise_a_clear_error() -> None:
    for d in (date(2024, 12, 31), date(2028, 1, 1)):
        with pytest.raises(YearNotInCalendar, match=r"no data for \d{4}") as caught:
            is_working_day(d)
        assert caught.value.year == d.year and caught.value.known == (2025, 2026, 2027)
        assert "webapp/data/calendar/ru.json" in str(caught.value)
    assert issubclass(YearNotInCalendar, ValueError)
    with pytest.raises(YearNotInCalendar, match="no data for 2028"):
        due_day(msk(2027, 12, 27, 12, 0), 8, MSK)  # the due day would fall in 2028
    with pytest.raises(YearNotInCalendar, match="no data for 2024"):
        add_working_days(msk(2024, 12, 27, 12, 0), 8, MSK)
    with pytest.raises(YearNotInCalendar, match="no data for 2028"):
        working_days_between(date(2027, 12, 1), date(2028, 1, 15))
    with pytest.raises(YearNotInCalendar, match="no data for 2030"):
        calendar_year(2030)


# --- properties ----------------------------------------------------------------------------

ZONES = ["Europe/Moscow", "Europe/Kaliningrad", "Asia/Yekaterinburg", "Asia/Vladivostok", "UTC"]
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
LAST = datetime(2027, 10, 31, tzinfo=UTC)  # leaves room for 30 working days within 2027


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(0, int((LAST - FIRST).total_seconds())),
    n=st.integers(1, 30),
    zone=st.sampled_from(ZONES),
)
def test_deadlines_land_on_working_days_and_agree_with_the_countdown(
    seconds: int, n: int, zone: str
) -> None:
    start = FIRST + timedelta(seconds=seconds)
    tz = ZoneInfo(zone)
    due = due_day(start, n, tz)
    deadline = add_working_days(start, n, tz)
    assert is_working_day(due)
    assert working_days_between(local_day(start, tz), due) == n
    assert working_days_between(due, local_day(start, tz)) == -n
    assert deadline_day(deadline, tz) == due
    assert deadline.tzinfo is UTC and deadline > start
    end_local = deadline.astimezone(tz)
    assert (end_local.date(), end_local.hour, end_local.minute) == (due + timedelta(days=1), 0, 0)
    if n > 1:
        assert due_day(start, n - 1, tz) < due
    assert is_overdue(deadline, deadline)
    assert not is_overdue(deadline, deadline - timedelta(seconds=1))


@settings(max_examples=300, deadline=None)
@given(
    a=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    b=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    c=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
)
def test_working_days_between_is_additive_and_antisymmetric(a: date, b: date, c: date) -> None:
    assert working_days_between(a, b) == -working_days_between(b, a)
    assert working_days_between(a, b) + working_days_between(b, c) == working_days_between(a, c)
    lo, hi = min(a, b), max(a, b)
    brute = sum(is_working_day(d) for d in days(lo + timedelta(days=1), hi)) if hi > lo else 0
    assert working_days_between(lo, hi) == brute
