"""The results of a budget vote: the public page, the officials' count and publication, open data.

``/projects/{id}/results`` is public once the results are published; officials and admins see
the stored count before that, marked "not published". ``results.csv`` (for Excel: ``;``, UTF-8
with a BOM) and ``results.json`` are the same numbers as open data, 404 before publication for
everyone but officials. The charts are inline SVG drawn by the templates from the geometry here;
each has its numbers in a table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from webapp.campaigns import exports
from webapp.campaigns import results as results_service
from webapp.campaigns.results import PotOutcome, Results
from webapp.kernel.dto import Named
from webapp.kernel.errors import N_
from webapp.kernel.routing import GET, POST
from webapp.kernel.security import can
from webapp.kernel.web import (
    csv_download,
    current_user,
    db,
    flash,
    language,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.taxonomy import taxonomy


def _staff(user: Any) -> bool:
    return user is not None and can(user.role, "answer")


# --- chart geometry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    idea_id: int
    title: str
    cost: int
    votes: int
    selected: bool


@dataclass(frozen=True)
class Scatter:
    """Votes (y) against cost (x) of every idea of a pot: where the funded ones sit."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    dots: tuple[Dot, ...]
    x_ticks: tuple[tuple[float, int], ...]
    y_ticks: tuple[tuple[float, int], ...]


def _nice(maximum: int, ticks: int = 4) -> int:
    """A round step (1, 2, 5 × 10^k) giving about ``ticks`` intervals up to ``maximum``."""
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 1
    while power * 10 <= raw:
        power *= 10
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def scatter(pot: PotOutcome, width: int = 640, height: int = 260) -> Scatter:
    left, right, top, bottom = 56.0, width - 16.0, 12.0, height - 32.0
    max_cost = max((i.cost for i in pot.ideas), default=1) or 1
    max_votes = max((i.votes for i in pot.ideas), default=1) or 1
    x_step, y_step = _nice(max_cost), _nice(max_votes)
    x_top = -(-max_cost // x_step) * x_step
    y_top = -(-max_votes // y_step) * y_step

    def x(v: float) -> float:
        return left + (right - left) * v / x_top

    def y(v: float) -> float:
        return bottom - (bottom - top) * v / y_top

    dots = tuple(
        Dot(
            round(x(i.cost), 1),
            round(y(i.votes), 1),
            i.idea_id,
            i.title,
            i.cost,
            i.votes,
            i.selected,
        )
        for i in sorted(pot.ideas, key=lambda i: i.selected)  # funded ones drawn on top
    )
    return Scatter(
        width,
        height,
        left,
        right,
        top,
        bottom,
        dots,
        tuple((round(x(v), 1), v) for v in range(0, x_top + 1, x_step)),
        tuple((round(y(v), 1), v) for v in range(0, y_top + 1, y_step)),
    )


@dataclass(frozen=True)
class GroupBar:
    label: str
    rule: int  # money to the group's ideas under the project's rule
    greedy: int  # … under greedy
    rule_width: float
    greedy_width: float


@dataclass(frozen=True)
class Comparison:
    """Money per district (of the ideas) under the project's rule and under greedy."""

    width: int
    label_width: float
    bar_width: float
    row_height: int
    height: int
    groups: tuple[GroupBar, ...]


def comparison(
    results: Results, district_by_id: dict[int, Named], lang: str, whole: str
) -> Comparison:
    """Group the funded money by the ideas' district (the okrug when the district has one)."""
    money: dict[str, list[int]] = {}
    for pot in results.pots:
        for idea in pot.ideas:
            district = district_by_id.get(idea.district_id) if idea.district_id else None
            if district is not None and district.parent_id in district_by_id:
                district = district_by_id[district.parent_id]
            label = district.name(lang) if district is not None else whole
            pair = money.setdefault(label, [0, 0])
            pair[0] += idea.cost if idea.selected else 0
            pair[1] += idea.cost if idea.greedy_selected else 0
    rows = sorted(
        ((k, v) for k, v in money.items() if v[0] or v[1]), key=lambda kv: (-max(kv[1]), kv[0])
    )
    width, label_width, row = 640, 200.0, 36
    bar_width = width - label_width - 110.0
    top = max((max(v) for _, v in rows), default=1) or 1
    groups = tuple(
        GroupBar(k, v[0], v[1], bar_width * v[0] / top, bar_width * v[1] / top) for k, v in rows
    )
    return Comparison(width, label_width, bar_width, row, row * len(groups) + 8, groups)


# --- pages ---------------------------------------------------------------------------------------


async def _load(request: Request, project_id: int) -> tuple[Results, bool]:
    user = await current_user(request)
    staff = _staff(user)
    results = await db(request, results_service.published_results, project_id, staff=staff)
    return results, staff


async def results_page(request: Request) -> Response:
    project_id = request.path_params["project_id"]
    user = await current_user(request)
    staff = _staff(user)
    results = await db(request, results_service.page_results, project_id, staff=staff)
    lang = language(request)

    def names(session: Any) -> dict[int, Named]:
        return {d.id: d for d in taxonomy.list_districts(session)}

    district_by_id = await db(request, names)
    tr = translator(request)
    whole = tr.gettext("Whole city")
    ctx = {
        "results": results,
        "staff": staff,
        "district_by_id": district_by_id,
        "charts": {p.pot_id: scatter(p) for p in results.pots if p.ideas},
        "compare": comparison(results, district_by_id, lang, whole)
        if results.rule == "equal_shares"
        else None,
        "project_title": results.title(lang),
    }
    return await render(request, "campaigns/results.html", ctx)


async def compute(request: Request) -> Response:
    """Count the ballots (officials; POST, CSRF) and show the preview."""
    await require_user(request, "answer")
    await read_form(request)
    project_id = request.path_params["project_id"]
    await db(request, results_service.compute_results, project_id)
    flash(request, N_("The ballots are counted. Check the results, then publish them."), "success")
    return redirect(request, "project_results", project_id=project_id)


async def publish(request: Request) -> Response:
    """Publish the results (officials; POST, CSRF): 409 while voting is open."""
    official = await require_user(request, "answer")
    await read_form(request)
    project_id = request.path_params["project_id"]
    settings = request.app.state.settings
    done = await db(
        request,
        results_service.publish_results,
        official,
        project_id,
        email=settings.email_enabled,
    )
    await request.app.state.ranking_sync.wait()
    if done.first:
        flash(
            request,
            N_("The results are published. Participants notified: %(num)s."),
            "success",
            num=done.notified,
        )
    else:
        flash(request, N_("The results are counted again; participants were notified before."))
    return redirect(request, "project_results", project_id=project_id)


# --- open data (webapp/campaigns/exports.py) ------------------------------------------------------


async def _open_data(request: Request) -> tuple[Results, dict[int, Named]]:
    results, _ = await _load(request, request.path_params["project_id"])

    def names(session: Any) -> dict[int, Named]:
        return {d.id: d for d in taxonomy.list_districts(session)}

    return results, await db(request, names)


async def results_csv(request: Request) -> Response:
    results, district_by_id = await _open_data(request)
    tr = translator(request)
    lines = list(exports.csv_lines(results, district_by_id, tr))
    return csv_download(request, lambda: lines, f"project-{results.project_id}-results")


async def results_json(request: Request) -> Response:
    results, district_by_id = await _open_data(request)
    doc = exports.results_document(results, district_by_id, language(request))
    return JSONResponse(doc, headers={"Cache-Control": "no-cache"})


ROUTES: list[BaseRoute] = [
    Route("/projects/{project_id:id}/results", results_page, methods=GET, name="project_results"),
    Route(
        "/projects/{project_id:id}/results.csv",
        results_csv,
        methods=GET,
        name="project_results_csv",
    ),
    Route(
        "/projects/{project_id:id}/results.json",
        results_json,
        methods=GET,
        name="project_results_json",
    ),
    Route(
        "/officials/projects/{project_id:id}/results",
        compute,
        methods=POST,
        name="official_project_results",
    ),
    Route(
        "/officials/projects/{project_id:id}/results/publish",
        publish,
        methods=POST,
        name="official_project_results_publish",
    ),
]
