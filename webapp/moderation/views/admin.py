"""Admin pages: categories and districts are data that admins edit; the audit log and the login
log to browse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.accounts import login_audit, login_events
from webapp.accounts.views import account
from webapp.ideas import ideas as ideas_service
from webapp.kernel import audit as audit_service
from webapp.kernel.dto import Page
from webapp.kernel.errors import InvalidInput, invalid
from webapp.kernel.storage.db import transaction
from webapp.kernel.web import (
    csv_download,
    db,
    field_errors,
    flash,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.taxonomy import taxonomy

AUDIT_PAGE_SIZE = 50
MAX_FILTER_LENGTH = 254


async def categories(request: Request) -> Response:
    user = await require_user(request, "administer")
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        values = await read_form(request)
        raw_id = values.get("category_id") or ""
        try:
            category_id = int(raw_id) if raw_id else None
        except ValueError:
            raise invalid("category_id", "Must be a whole number.") from None
        try:
            await db(
                request,
                taxonomy.save_category,
                user.id,
                category_id=category_id,
                slug=values.get("slug"),
                name_ru=values.get("name_ru"),
                name_en=values.get("name_en"),
            )
        except InvalidInput as exc:
            errors = field_errors(request, exc)
            status = 422
        else:
            flash(request, "Saved.", "success")
            return redirect(request, "admin_categories")
    rows = await db(request, taxonomy.list_categories)
    return await render(
        request,
        "taxonomy/categories.html",
        {"categories": rows, "errors": errors, "values": values},
        status,
    )


async def districts(request: Request) -> Response:
    user = await require_user(request, "administer")
    if request.method == "POST":
        values = await read_form(request)
        try:
            district_id = int(values.get("district_id") or "")
        except ValueError:
            raise invalid("district_id", "Must be a whole number.") from None
        await db(
            request,
            taxonomy.save_district,
            user.id,
            district_id=district_id,
            name_ru=values.get("name_ru"),
            name_en=values.get("name_en"),
        )
        flash(request, "Saved.", "success")
        return redirect(request, "admin_districts")
    rows = await db(request, taxonomy.list_districts)
    return await render(request, "taxonomy/districts.html", {"districts": rows})


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
    try:
        number = int(request.query_params.get("page") or 1)
    except ValueError:
        number = 1
    number = min(max(1, number), ideas_service.MAX_PAGE)
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
    ctx.update(filters=raw, csv_url=csv_url + (f"?{query}" if query else ""))
    return await render(request, "moderation/audit.html", ctx)


async def audit_csv(request: Request) -> Response:
    await require_user(request, "administer")
    filters, _raw = _audit_filters(request)
    factory = request.app.state.session_factory

    def rows() -> Iterator[list[str]]:
        with transaction(factory) as session:
            yield from audit_service.export_rows(session, **filters)

    return csv_download(request, rows, "audit")


LOGINS_PAGE_SIZE = 50


def _login_filters(request: Request) -> dict[str, str]:
    """The login log's filters from the query string: an event kind, an e-mail address."""
    qp = request.query_params
    kind = (qp.get("kind") or "").strip()
    if kind and kind not in login_audit.KINDS:
        raise invalid("kind", "Unknown value.")
    return {"kind": kind, "email": (qp.get("email") or "").strip()[:MAX_FILTER_LENGTH]}


async def login_log(request: Request) -> Response:
    """GET /admin/logins: every login event, newest first, by kind and by e-mail."""
    await require_user(request, "administer")
    raw = _login_filters(request)
    try:
        number = int(request.query_params.get("page") or 1)
    except ValueError:
        number = 1
    number = min(max(1, number), ideas_service.MAX_PAGE)
    size = LOGINS_PAGE_SIZE

    def load(session: Any) -> Page[Any]:
        events, total = login_events.list_events(
            session,
            limit=size,
            offset=(number - 1) * size,
            kind=raw["kind"] or None,
            email=raw["email"] or None,
        )
        return Page(events, number, size, total)

    page = await db(request, load)
    query = request.url.query
    csv_url = str(request.app.url_path_for("admin_logins_csv"))
    return await render(
        request,
        "accounts/logins.html",
        {
            "page": page,
            "filters": raw,
            "kinds": [
                (k, translator(request).gettext(account.EVENT_LABELS[k]))
                for k in login_audit.KINDS
                if k in account.EVENT_LABELS
            ],
            "csv_url": csv_url + (f"?{query}" if query else ""),
            "device": lambda ua: account.describe_device(request, ua),
            "event_label": lambda e: account.event_label(request, e.kind, e.details),
        },
    )


async def login_log_csv(request: Request) -> Response:
    """GET /admin/logins.csv: the same events as a spreadsheet (UTF-8 with a BOM)."""
    await require_user(request, "administer")
    raw = _login_filters(request)
    factory = request.app.state.session_factory

    def rows() -> Iterator[list[str]]:
        with transaction(factory) as session:
            yield from login_events.export_rows(
                session, kind=raw["kind"] or None, email=raw["email"] or None
            )

    return csv_download(request, rows, "logins")
