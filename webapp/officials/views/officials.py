"""Officials' pages: the dashboard, overdue proposals, an idea's page with the answer form,
and themes (the shortlist export: ``export``). Every page needs the "answer" permission (officials, admins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.ideas import project_scope
from webapp.kernel.dto import MAX_PAGE, Page
from webapp.kernel.errors import Conflict, InvalidInput
from webapp.kernel.settings import Settings
from webapp.kernel.storage.models import PUBLIC_STATUSES, utcnow
from webapp.kernel.web import (
    current_user,
    db,
    field_errors,
    flash,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.officials import officials, responses, themes, vote_chart
from webapp.officials.views import chart as vote_chart_view
from webapp.taxonomy import taxonomy


def schemes(settings: Settings) -> tuple[str, ...]:
    """The ranking schemes a dashboard offers ("controversial" only where opposing is on)."""
    return tuple(
        s for s in officials.DASHBOARD_SCHEMES if s != "controversial" or settings.allow_oppose
    )


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


@dataclass
class Filters:
    """The dashboard's GET form: what was typed (to refill it), the filter, and any errors."""

    raw: dict[str, str]
    flt: officials.DashboardFilter
    page: int
    problems: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # the problems, translated


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_filters(
    query: dict[str, str], settings: Settings, tz: Any, now: datetime | None = None
) -> tuple[dict[str, str], officials.DashboardFilter, int, dict[str, tuple[str, dict[str, Any]]]]:
    """Filters from a query string; bad values are reported and left out, never a 500.

    ``period`` (7/30/90/365 days) or explicit ``from``/``to`` dates (``to`` inclusive, in the
    site's time zone; they win over ``period``); ``project``: one project's ideas (an id; the
    permanent pool is project 1; an unknown id simply matches nothing).
    """
    raw = {
        k: (query.get(k) or "").strip()[:40]
        for k in (
            "scheme",
            "category",
            "district",
            "status",
            "period",
            "from",
            "to",
            "page",
            "project",
        )
    }
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    offered = schemes(settings)
    default = settings.default_sort if settings.default_sort in offered else "confident"
    scheme = raw["scheme"] if raw["scheme"] in offered else default
    status = raw["status"] if raw["status"] in PUBLIC_STATUSES else None
    since = until = None
    start, end = _day(raw["from"]), _day(raw["to"])
    if raw["from"] and start is None:
        errors["from"] = ("Enter a date as YYYY-MM-DD, e.g. 2024-05-31.", {})
    if raw["to"] and end is None:
        errors["to"] = ("Enter a date as YYYY-MM-DD, e.g. 2024-05-31.", {})
    if start is not None:
        since = datetime(start.year, start.month, start.day, tzinfo=tz)
    if end is not None:
        until = datetime(end.year, end.month, end.day, tzinfo=tz) + timedelta(days=1)
    if since is not None and until is not None and since >= until:
        errors["to"] = ("The end date must not be before the start date.", {})
        since = until = None
    if since is None and until is None and raw["period"]:
        days = _int(raw["period"])
        if days in officials.PERIODS:
            since = (now or utcnow()) - timedelta(days=days)
        else:
            raw["period"] = ""
    flt = officials.DashboardFilter(
        scheme=scheme,
        category_id=_int(raw["category"]),
        district_id=_int(raw["district"]),
        status=status,
        since=since,
        until=until,
        project_id=_int(raw["project"]),
    )
    page = min(_int(raw["page"]) or 1, MAX_PAGE)
    raw["scheme"] = scheme
    return raw, flt, page, errors


async def _filters(request: Request) -> Filters:
    settings = request.app.state.settings
    raw, flt, page, errors = parse_filters(
        dict(request.query_params), settings, translator(request).tz
    )
    messages = field_errors(request, InvalidInput(errors)) if errors else {}
    return Filters(raw, flt, page, errors, messages)


def _taxonomy(session: Any) -> dict[str, Any]:
    categories = taxonomy.list_categories(session)
    districts = taxonomy.list_districts(session)
    return {
        "categories": categories,
        "districts": districts,
        "category_by_id": {c.id: c for c in categories},
        "district_by_id": {d.id: d for d in districts},
    }


def _page_context(request: Request, f: Filters) -> dict[str, Any]:
    settings = request.app.state.settings
    query = request.url.query
    csv_url = str(request.app.url_path_for("officials_shortlist_csv"))
    return {
        "filters": f.raw,
        "errors": f.errors,
        "schemes": schemes(settings),
        "statuses": PUBLIC_STATUSES,
        "periods": officials.PERIODS,
        "threshold": settings.response_threshold,
        "response_days": settings.response_days,
        "csv_url": csv_url + (f"?{query}" if query else ""),
    }


async def dashboard(request: Request) -> Response:
    """The strongest proposals by scheme, category, district and period."""
    await require_user(request, "answer")
    f = await _filters(request)
    settings = request.app.state.settings
    ranking = request.app.state.ranking
    size = settings.page_size
    await request.app.state.ranking_sync.wait()

    def load(session: Any) -> dict[str, Any]:
        rows, total = officials.dashboard(session, ranking, settings, f.flt, f.page, size)
        projects = project_scope.published_projects(session)
        return {"rows": rows, "total": total, "projects": projects, **_taxonomy(session)}

    ctx = await db(request, load)
    ctx["page"] = Page(ctx.pop("rows"), f.page, size, ctx.pop("total"))
    ctx.update(_page_context(request, f), tab="dashboard")
    return await render(request, "officials/dashboard.html", ctx, 422 if f.errors else 200)


async def overdue(request: Request) -> Response:
    """Unanswered proposals above the threshold for longer than the configured days."""
    await require_user(request, "answer")
    f = await _filters(request)
    settings = request.app.state.settings
    ranking = request.app.state.ranking
    size = settings.page_size
    await request.app.state.ranking_sync.wait()

    def load(session: Any) -> dict[str, Any]:
        found = officials.waiting(session, ranking, settings, f.flt, f.page, size)
        projects = project_scope.published_projects(session)
        return {"waiting": found, "projects": projects, **_taxonomy(session)}

    ctx = await db(request, load)
    found = ctx["waiting"]
    ctx["page"] = Page(found.overdue, f.page, size, found.total_overdue)
    ctx.update(_page_context(request, f), tab="overdue")
    return await render(request, "officials/overdue.html", ctx, 422 if f.errors else 200)


# --- one idea: chart, history, answer form ------------------------------------------------------


async def _idea_page(
    request: Request,
    idea_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    settings = request.app.state.settings
    ranking = request.app.state.ranking
    viewer = await current_user(request)
    viewer_role = viewer.role if viewer is not None else None
    await request.app.state.ranking_sync.wait()

    def load(session: Any) -> dict[str, Any]:
        idea = responses.idea_to_answer(session, idea_id, viewer_role)
        data = vote_chart.series(session, idea_id, settings.timezone)
        row = officials.rows(session, ranking, [idea_id], 1, settings.default_sort, settings)
        return {
            "idea": idea,
            "history": responses.history(session, idea_id),
            "series": data,
            "row": row[0] if row else None,
            **_taxonomy(session),
        }

    ctx = await db(request, load)
    ctx.update(
        chart=vote_chart_view.chart(ctx["series"]),
        values=values or {},
        form_errors=errors or {},
        max_length=responses.RESPONSE_MAX_LENGTH,
        text_optional=responses.TEXT_OPTIONAL,
        threshold=settings.response_threshold,
        response_days=settings.response_days,
    )
    return await render(request, "officials/idea.html", ctx, status)


async def idea(request: Request) -> Response:
    await require_user(request, "answer")
    return await _idea_page(request, request.path_params["idea_id"])


async def answer(request: Request) -> Response:
    """Set a status with a public response (POST, CSRF)."""
    official = await require_user(request, "answer")
    idea_id = request.path_params["idea_id"]
    form = await read_form(request)
    settings = request.app.state.settings
    try:
        result = await db(
            request,
            responses.answer,
            official,
            idea_id,
            form.get("status"),
            form.get("body"),
            email=settings.email_enabled,
        )
    except InvalidInput as exc:
        return await _idea_page(request, idea_id, form, field_errors(request, exc), 422)
    except Conflict as exc:  # e.g. another official changed the status meanwhile: keep the text
        message = translator(request).gettext(exc.message, **exc.params)
        return await _idea_page(request, idea_id, form, {"status": message}, 409)
    await request.app.state.ranking_sync.wait()
    if result.status != result.previous_status:
        flash(request, "The status is changed and the supporters are notified.", "success")
    else:
        flash(request, "The response is published and the supporters are notified.", "success")
    return redirect(request, "official_idea", idea_id=idea_id)


# --- themes ---------------------------------------------------------------------------------


def theme_cache(request: Request) -> themes.ThemeCache:
    """This process's cache of themes (made on first use)."""
    cache = getattr(request.app.state, "theme_cache", None)
    if cache is None:
        cache = request.app.state.theme_cache = themes.ThemeCache()
    return cache


async def themes_page(request: Request) -> Response:
    """Clusters of related ideas with keyword labels, so that one answer can cover a theme."""
    await require_user(request, "answer")
    qp = request.query_params
    category_id, district_id = _int(qp.get("category")), _int(qp.get("district"))
    svc = getattr(request.app.state, "similarity", None)
    state = "disabled" if svc is None else str(svc.status)
    result = None
    if svc is not None and state == "ready":
        identity = svc.model_identity
        key = (identity, category_id, district_id)
        cache = theme_cache(request)
        result = cache.get(key)
        if result is None:
            corpus = await db(request, themes.load_corpus, identity, category_id, district_id)
            topics = await run_in_threadpool(themes.cluster, corpus)
            result = await db(request, themes.describe, corpus, topics)
            cache.put(key, result)
    ctx = await db(request, _taxonomy)
    ctx.update(
        state=state,
        result=result,
        filters={"category": qp.get("category") or "", "district": qp.get("district") or ""},
        tab="themes",
    )
    return await render(request, "officials/themes.html", ctx)
