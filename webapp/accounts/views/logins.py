"""The login log for administrators: every login event, by kind and e-mail (/admin/logins)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.accounts import login_audit, login_events
from webapp.accounts.views import account
from webapp.kernel.dto import Page
from webapp.kernel.errors import invalid
from webapp.kernel.storage.db import transaction
from webapp.kernel.web import csv_download, db, page_number, render, require_user, translator

MAX_FILTER_LENGTH = 254


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
    number = page_number(request.query_params.get("page"))
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
