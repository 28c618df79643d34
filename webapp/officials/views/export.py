"""The shortlist as a spreadsheet: a CSV that Excel opens in columns, in the reader's language.

The dialect (``;``, UTF-8 BOM, CRLF) is :func:`webapp.kernel.web.csv_download`'s. Here the
cells are written the way the reader's Excel reads them: headers, statuses and yes/no in the
reader's language; numbers with the decimal separator of that language (``79,7`` in Russian,
``79.7`` in English) and without thousands separators, so that they stay numbers; percentages as
numbers of percent; dates and times as ``31.05.2024 14:30`` (Russian) or ``2024-05-31 14:30``
(English) in the site's time zone, without seconds. Every text cell is CSV-injection-safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, tzinfo

from starlette.requests import Request
from starlette.responses import Response

from webapp.i18n import Translator
from webapp.kernel.audit import csv_safe
from webapp.kernel.errors import N_, InvalidInput
from webapp.kernel.storage.db import transaction
from webapp.kernel.web import csv_download, require_user, translator
from webapp.officials import officials
from webapp.officials.views.officials import _filters, _int, _taxonomy

CSV_BATCH = 200

# The columns, as msgids (translated into the reader's language when the file is written).
CSV_HEADER = (
    N_("Place"),
    N_("Idea number"),
    N_("Title"),
    N_("Link"),
    N_("Category"),
    N_("District"),
    N_("Status"),
    N_("Supporters"),
    N_("Score"),
    N_("Support rate from, %"),
    N_("Support rate to, %"),
    N_("Submitted"),
    N_("Reached the answer threshold"),
    N_("Days waiting for an answer"),
    N_("Answer overdue"),
    N_("Answered"),
)
STATUS_NAMES = {
    "published": N_("Published"),
    "under_review": N_("Under review"),
    "accepted": N_("Accepted"),
    "in_progress": N_("In progress"),
    "implemented": N_("Implemented"),
    "rejected": N_("Rejected"),
    "hidden": N_("Hidden"),
    "merged": N_("Merged"),
}
PERCENT_SCHEMES = ("top", "confident", "broad")  # their score is a support rate


def excel_number(value: float | None, language: str, digits: int = 1) -> str:
    """A number as Excel reads it in ``language``: decimal comma in Russian, no grouping.

    >>> excel_number(79.66, "ru"), excel_number(79.66, "en"), excel_number(27913, "ru", 0)
    ('79,7', '79.7', '27913')
    """
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language == "ru" else text


def excel_datetime(value: datetime | None, language: str, tz: tzinfo) -> str:
    """A moment in the site's time zone, to the minute, as Excel reads it in ``language``."""
    if value is None:
        return ""
    local = value.astimezone(tz)
    return local.strftime("%d.%m.%Y %H:%M" if language == "ru" else "%Y-%m-%d %H:%M")


def _score(row: officials.ShortlistRow, scheme: str, tr: Translator) -> str:
    if row.score is None:
        return ""
    if scheme in PERCENT_SCHEMES:
        return excel_number(row.score * 100, tr.language, 1)
    if scheme == "new":
        return excel_datetime(row.created_at, tr.language, tr.tz)
    return excel_number(row.score, tr.language, 2)


def csv_rows(
    request: Request, flt: officials.DashboardFilter, limit: int, tr: Translator
) -> Iterator[list[str]]:
    """The header and one row per ranked proposal (at most ``limit``), CSV-injection-safe."""
    app = request.app
    settings = app.state.settings
    ranking = app.state.ranking
    lang = tr.language
    yes, no = tr.gettext("yes"), tr.gettext("no")
    yield [tr.gettext(h) for h in CSV_HEADER]
    with transaction(app.state.session_factory) as session:
        names = _taxonomy(session)
        page, left = 1, limit
        while left > 0:
            rows, total = officials.dashboard(session, ranking, settings, flt, page, CSV_BATCH)
            for r in rows[:left]:
                category = names["category_by_id"].get(r.category_id)
                district = names["district_by_id"].get(r.district_id)
                c = r.confidence
                interval = c is not None and c.kind in ("interval", "okrugs")
                status = STATUS_NAMES.get(r.status)
                yield [
                    str(r.rank),
                    str(r.id),
                    csv_safe(r.title),
                    settings.base_url.rstrip("/") + str(app.url_path_for("idea", idea_id=r.id)),
                    csv_safe(category.name(lang) if category else ""),
                    csv_safe(district.name(lang) if district else ""),
                    tr.gettext(status) if status else csv_safe(r.status),
                    str(r.supporters),
                    _score(r, flt.scheme, tr),
                    excel_number(c.low * 100, lang) if interval and c and c.low is not None else "",
                    excel_number(c.high * 100, lang)
                    if interval and c and c.high is not None
                    else "",
                    excel_datetime(r.created_at, lang, tr.tz),
                    excel_datetime(r.threshold_reached_at, lang, tr.tz),
                    "" if r.days_waiting is None else str(r.days_waiting),
                    yes if r.overdue else no,
                    excel_datetime(r.responded_at, lang, tr.tz),
                ]
            left -= min(len(rows), left)
            if len(rows) < CSV_BATCH or page * CSV_BATCH >= total:
                return
            page += 1


async def shortlist_csv(request: Request) -> Response:
    """The dashboard's list for Excel, ``limit`` rows (default 100, at most 1000)."""
    await require_user(request, "answer")
    f = await _filters(request)
    if f.problems:
        raise InvalidInput(f.problems)
    limit = min(
        _int(request.query_params.get("limit")) or officials.EXPORT_DEFAULT, officials.EXPORT_MAX
    )
    await request.app.state.ranking_sync.wait()
    tr = translator(request)
    return csv_download(request, lambda: csv_rows(request, f.flt, limit, tr), "shortlist")
