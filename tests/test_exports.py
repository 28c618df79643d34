"""Spreadsheet exports open cleanly in Excel: `;`, a UTF-8 BOM, CRLF, the reader's language.

The bytes are parsed back the way Excel reads them (BOM, then `;`-separated, CRLF records).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.officials_helpers import (
    add_idea,
    district,
    logged_in,
    officials_settings,
    vote,
    voters,
)
from webapp.app import create_app
from webapp.kernel.settings import Settings
from webapp.kernel.storage.models import utcnow
from webapp.officials.views import export

NOW = utcnow()
DAY = timedelta(days=1)


@pytest.fixture
def app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(officials_settings(settings))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def official(app: Starlette, session_factory: sessionmaker[Session]) -> Iterator[Browser]:
    b = logged_in(app, session_factory, "official")
    yield b
    b.__exit__(None, None, None)


def excel_rows(raw: bytes) -> list[list[str]]:
    """Parse an export as Excel does: BOM → UTF-8, `;` between cells, CRLF between records."""
    assert raw.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM: Excel would read it as ANSI"
    text = raw[3:].decode("utf-8")
    assert "\n" not in text.replace("\r\n", ""), "a record ends without CR (or a bare LF)"
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";", strict=True))


def _get(b: Browser, url: str, lang: str) -> bytes:
    response = b.get(url, headers={"accept-language": lang})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return bytes(response.content)


def test_shortlist_csv_is_semicolon_separated_with_bom_and_crlf_and_defused_formulas(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    home, _ = district(session_factory)
    evil = add_idea(
        session_factory,
        '=HYPERLINK("http://evil"); x',
        district_id=home,
        created_at=NOW - 50 * DAY,
    )
    plain = add_idea(session_factory, "Обычная идея про дороги", created_at=NOW - 50 * DAY)
    for v, d in zip(voters(session_factory, 3), (45, 40, 30), strict=True):
        vote(session_factory, v, plain, NOW - d * DAY)
    rows = excel_rows(_get(official, "/officials/shortlist.csv?scheme=top", "en"))
    header, body = rows[0], rows[1:]
    assert header == list(export.CSV_HEADER)  # English reader: the English headers
    assert all(len(r) == len(header) for r in body)
    by_id = {int(r[1]): dict(zip(header, r, strict=True)) for r in body}
    assert set(by_id) == {evil, plain}
    # a `;` inside a title stays in its cell; a formula is defused
    assert by_id[evil]["Title"] == '\'=HYPERLINK("http://evil"); x'
    p = by_id[plain]
    assert p["Supporters"] == "3" and p["Answer overdue"] == "yes"
    assert p["Days waiting for an answer"] == "30"
    assert p["Link"].endswith(f"/ideas/{plain}")
    assert p["Place"] == "1" and p["Status"] == "Published"  # a word, never `published`
    score, low, high = (float(p[k]) for k in ("Score", *export.CSV_HEADER[9:11]))
    assert 0 < low <= score <= high <= 100  # percentages, the score inside its range
    reached = datetime.strptime(p["Reached the answer threshold"], "%Y-%m-%d %H:%M")
    tz = app.state.translators["en"].tz
    expected = (NOW - 30 * DAY).astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    assert reached == expected  # local time, to the minute: no seconds
    assert by_id[evil]["District"] and by_id[evil]["Answer overdue"] == "no"
    filtered = excel_rows(_get(official, f"/officials/shortlist.csv?district={home}&limit=1", "en"))
    assert [int(r[1]) for r in filtered[1:]] == [evil]
    assert official.get("/officials/shortlist.csv?from=nonsense").status_code == 422


def test_shortlist_csv_in_russian_has_russian_words_decimal_commas_and_dotted_dates(
    app: Starlette, session_factory: sessionmaker[Session], official: Browser
) -> None:
    idea = add_idea(session_factory, "Скамейки во дворе", created_at=NOW - 50 * DAY)
    for v, d in zip(voters(session_factory, 3), (45, 40, 30), strict=True):
        vote(session_factory, v, idea, NOW - d * DAY)
    rows = excel_rows(_get(official, "/officials/shortlist.csv?scheme=top", "ru"))
    ru = app.state.translators["ru"]
    assert rows[0] == [ru.gettext(h) for h in export.CSV_HEADER]
    assert "Категория" in rows[0] and "Статус" in rows[0]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row[ru.gettext("Status")] == "Опубликована"
    assert row[ru.gettext("Answer overdue")] == ru.gettext("yes")
    score = row[ru.gettext("Score")]
    assert "," in score and "." not in score  # Russian Excel reads 12,3 as a number
    assert float(score.replace(",", ".")) > 0
    submitted = datetime.strptime(row[ru.gettext("Submitted")], "%d.%m.%Y %H:%M")
    assert abs(submitted - (NOW - 50 * DAY).astimezone(ru.tz).replace(tzinfo=None)) < DAY


def test_shortlist_csv_streams_more_rows_than_one_batch(
    app: Starlette,
    session_factory: sessionmaker[Session],
    official: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "CSV_BATCH", 2)
    ids = [add_idea(session_factory, f"Идея номер {n} про дворы") for n in range(5)]
    rows = excel_rows(_get(official, "/officials/shortlist.csv?limit=4", "en"))
    assert len(rows) == 1 + 4 and [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    everything = excel_rows(_get(official, "/officials/shortlist.csv", "en"))
    assert sorted(int(r[1]) for r in everything[1:]) == sorted(ids)


def test_shortlist_csv_is_for_officials_only(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "c@example.org", name="Вера")
    with Browser(app) as b:
        b.login("c@example.org")
        assert b.get("/officials/shortlist.csv").status_code == 403


def test_audit_csv_uses_the_same_excel_dialect(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    application = create_app(settings)
    try:
        b = logged_in(application, session_factory, "admin")
        raw = _get(b, "/admin/audit.csv", "ru")
        b.__exit__(None, None, None)
        rows = excel_rows(raw)
        assert rows and all(len(r) == len(rows[0]) for r in rows)
    finally:
        application.state.engine.dispose()


def test_excel_number_and_date_formats() -> None:
    from zoneinfo import ZoneInfo

    moscow = ZoneInfo("Europe/Moscow")
    moment = datetime(2024, 5, 31, 11, 30, 59, tzinfo=ZoneInfo("UTC"))
    assert export.excel_datetime(moment, "ru", moscow) == "31.05.2024 14:30"
    assert export.excel_datetime(moment, "en", moscow) == "2024-05-31 14:30"
    assert export.excel_datetime(None, "ru", moscow) == ""
    assert export.excel_number(1234.56, "ru", 2) == "1234,56"
    assert export.excel_number(None, "en") == ""
