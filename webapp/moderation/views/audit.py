"""The audit log: who did what, filtered, paged, exported as CSV (/admin/audit)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.kernel import audit as audit_service
from webapp.kernel.dto import Page
from webapp.kernel.errors import invalid
from webapp.kernel.storage.db import transaction
from webapp.kernel.web import csv_download, db, page_number, render, require_user, translator

AUDIT_PAGE_SIZE = 50
MAX_FILTER_LENGTH = 254
# Moments in the CSV as Excel reads them in each language (day first in Russian), no seconds.
CSV_TIME = {"ru": "%d.%m.%Y %H:%M"}
CSV_TIME_DEFAULT = "%Y-%m-%d %H:%M"


def _parse_day(request: Request, name: str, raw: str) -> datetime | None:
    """A YYYY-MM-DD filter as the start of that day in the site's time zone."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise invalid(name, "Enter a date as YYYY-MM-DD, e.g. 2024-05-31.") from None
    return datetime(day.year, day.month, day.day, tzinfo=translator(request).tz)


def _audit_filters(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's filters and the raw values (to refill the form) from the query string."""
    qp = request.query_params
    raw = {
        key: (qp.get(key) or "").strip()[:MAX_FILTER_LENGTH]
        for key in ("action", "actor", "target_type", "since", "until")
    }
    since = _parse_day(request, "since", raw["since"])
    until = _parse_day(request, "until", raw["until"])
    if until is not None:
        until += timedelta(days=1)  # the whole last day is included
    if since is not None and until is not None and since >= until:
        raise invalid("until", "The end date must not be before the start date.")
    filters = {
        "action": raw["action"] or None,
        "actor_email": raw["actor"] or None,
        "target_type": raw["target_type"] or None,
        "since": since,
        "until": until,
    }
    return filters, raw


async def audit_log(request: Request) -> Response:
    await require_user(request, "administer")
    filters, raw = _audit_filters(request)
    number = page_number(request.query_params.get("page"))
    size = AUDIT_PAGE_SIZE

    def load(session: Any) -> dict[str, Any]:
        entries, total = audit_service.list_entries(
            session, limit=size, offset=(number - 1) * size, **filters
        )
        actions, target_types = audit_service.distinct_values(session)
        return {
            "page": Page(entries, number, size, total),
            "actions": actions,
            "target_types": target_types,
        }

    ctx = await db(request, load)
    query = request.url.query
    csv_url = str(request.app.url_path_for("admin_audit_csv"))
    ctx.update(filters=raw, csv_url=csv_url + (f"?{query}" if query else ""), section="audit")
    ctx.update(action_labels=audit_service.ACTION_LABELS, target_labels=audit_service.TARGET_LABELS)
    return await render(request, "moderation/audit.html", ctx)


async def audit_csv(request: Request) -> Response:
    await require_user(request, "administer")
    filters, _raw = _audit_filters(request)
    factory = request.app.state.session_factory
    tr = translator(request)
    pattern = CSV_TIME.get(tr.language, CSV_TIME_DEFAULT)

    def when(moment: datetime) -> str:
        return moment.astimezone(tr.tz).strftime(pattern)

    def rows() -> Iterator[list[str]]:
        with transaction(factory) as session:
            yield from audit_service.export_rows(
                session, translate=tr.gettext, when=when, **filters
            )

    return csv_download(request, rows, "audit")
