"""A poll's results: the page, and the same aggregates as CSV and JSON open data.

``/polls/{id}/results`` is public after the close (or while open when the poll shows results
live); officials and admins see it any time, marked "preview". ``results.csv`` (for Excel: ``;``,
UTF-8 with a BOM, CRLF) and ``results.json`` follow the same rule. Everything here is an
aggregate: counts, shares, means; never a resident's answer or a free-text "other".
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from webapp.kernel.audit import csv_safe
from webapp.kernel.routing import GET
from webapp.kernel.security import can
from webapp.kernel.web import csv_download, current_user, db, language, render, translator
from webapp.polls import polls
from webapp.polls import results as results_service
from webapp.polls.results import Estimate, PollResults, QuestionResult

log = logging.getLogger("veche")


def _staff(user: Any) -> bool:
    return user is not None and can(user.role, "answer")


async def load(request: Request, poll_id: int, staff: bool) -> PollResults:
    settings = request.app.state.settings
    fresh = results_service.recent(poll_id, settings.population_file, staff)
    if fresh is not None:
        return fresh
    return await db(
        request,
        results_service.poll_results,
        poll_id,
        staff=staff,
        population_file=settings.population_file,
    )


# --- chart geometry (inline SVG; each chart has its numbers in a table) ---------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    raw_w: float
    raw_low: float
    raw_high: float
    corr_w: float | None
    corr_low: float
    corr_high: float
    raw_text: str
    corr_text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    span: float
    bars: tuple[Bar, ...]


def _pct(value: float, lang: str = "ru") -> str:
    """A share as the reader writes it: "12,5 %" in Russian, "12.5%" in English."""
    if value != value:
        return "—"
    return f"{value * 100:.1f}%" if lang == "en" else f"{value * 100:.1f} %".replace(".", ",")


def chart(question: QuestionResult, lang: str) -> Chart | None:
    """Horizontal bars: the raw share (upper) and the corrected share (lower) of each option,
    with 95 % interval whiskers."""
    if question.kind not in ("single", "multiple") or not question.options:
        return None
    width, left, row = 640, 200.0, 44
    span = width - left - 90.0
    bars = []
    for i, opt in enumerate(question.options):
        corr: Estimate | None = opt.corrected
        bars.append(
            Bar(
                opt.text(lang)[:40],
                i * row + 4.0,
                span * opt.raw.value,
                left + span * opt.raw.low,
                left + span * opt.raw.high,
                span * corr.value if corr else None,
                left + span * corr.low if corr else 0.0,
                left + span * corr.high if corr else 0.0,
                _pct(opt.raw.value, lang),
                _pct(corr.value, lang) if corr else "—",
            )
        )
    return Chart(width, row * len(bars) + 8, left, span, tuple(bars))


# --- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictMap:
    """One question's district map: the value per district (share of one option, or the mean of
    a scale) and which option it shows; the other options are links (no JavaScript)."""

    option_id: int | None  # None: a scale's mean
    label: str
    values: Mapping[int, float | None]
    is_share: bool
    shown: bool = False  # one question's map is drawn at a time; the others offer a link


def district_maps(
    results: PollResults, lang: str, chosen: dict[int, int]
) -> dict[int, DistrictMap]:
    """Per question, the map of its districts' raw values (only districts with enough answers to
    be shown: the breakdown's rule). Single and multiple choice: the option ``chosen`` for the
    question, else the one most chose; scale: the mean. One map is drawn (``shown``): the
    question ``chosen`` names, else the first; a page of ten maps would weigh ten times more
    and scroll for ever on a phone."""
    maps: dict[int, DistrictMap] = {}
    for q in results.questions:
        groups = [g for g in q.districts if g.district_id not in (None, -1) and g.values]
        if not groups:
            continue
        if q.kind == "scale":
            values = {g.district_id: g.values[0] for g in groups if g.district_id is not None}
            maps[q.question_id] = DistrictMap(None, "", values, False)
        elif q.kind in ("single", "multiple") and q.options:
            ids = [o.option_id for o in q.options]
            pick = chosen.get(q.question_id)
            k = (
                ids.index(pick)
                if pick in ids
                else max(range(len(ids)), key=lambda i: q.options[i].count)
            )
            values = {g.district_id: g.values[k] for g in groups if g.district_id is not None}
            maps[q.question_id] = DistrictMap(ids[k], q.options[k].text(lang), values, True)
    if maps:
        first = next((q for q in chosen if q in maps), next(iter(maps)))
        maps[first] = dataclasses.replace(maps[first], shown=True)
    return maps


def _chosen(request: Request) -> dict[int, int]:
    """``?map=question:option`` picks the question the map shows and its option (0: the
    question's default, or a scale)."""
    out: dict[int, int] = {}
    for item in request.query_params.getlist("map")[:1]:
        q, _, o = item.partition(":")
        if q.isdigit() and o.isdigit() and len(q) < 12 and len(o) < 12:
            out[int(q)] = int(o)
    return out


# The page's body, rendered once per results version and shared by all its readers (it holds
# aggregates only; the frame around it — the visitor's name, menu, flashes — is rendered for each
# request). Keyed by the results object (a new one per tally version), the language, the reader
# kind and the map choice; least recently used dropped.
_bodies: OrderedDict[tuple[object, ...], Markup] = OrderedDict()
_bodies_lock = threading.Lock()
BODIES = 64


async def results_page(request: Request) -> Response:
    user = await current_user(request)
    staff = _staff(user)
    moderator = user is not None and can(user.role, "moderate")
    poll_id = request.path_params["poll_id"]
    results = await load(request, poll_id, staff)
    lang = language(request)
    chosen = _chosen(request)
    key = (id(results), results.computed_at, lang, staff, moderator, tuple(sorted(chosen.items())))
    with _bodies_lock:
        body = _bodies.get(key)
        if body is not None:
            _bodies.move_to_end(key)
    if body is None:
        detail = await db(request, polls.poll_detail, poll_id)
        maps = district_maps(results, lang, chosen)
        district_map = (
            await db(request, results_service.district_map, lang, detail.audience) if maps else None
        )
        ctx = {
            "results": results,
            "staff": staff,
            "moderator": moderator,
            "lang": lang,
            "charts": {q.question_id: chart(q, lang) for q in results.questions},
            "pct": lambda v: _pct(v, lang),
            "mean_text": lambda v: f"{v:.2f}" if lang == "en" else f"{v:.2f}".replace(".", ","),
            "poll_title": results.title(lang),
            "maps": maps if district_map is not None else {},
            "district_map": district_map,
        }
        env = request.app.state.jinja[lang]
        body = Markup(env.get_template("polls/_results_body.html").render(ctx))
        with _bodies_lock:
            _bodies[key] = body
            while len(_bodies) > BODIES:
                _bodies.popitem(last=False)
    return await render(
        request, "polls/results.html", {"body": body, "poll_title": results.title(lang)}
    )


def _num(value: float | None, digits: int = 4) -> str:
    """A number as Russian (and most European) Excel reads it: a decimal comma."""
    return "" if value is None else f"{value:.{digits}f}".replace(".", ",")


def csv_rows(results: PollResults, lang: str, tr: Any) -> list[list[object]]:
    """One line per question and option (and per okrug/district breakdown): aggregates only."""
    g = tr.gettext
    rows: list[list[object]] = [
        [
            g("Question"),
            g("Kind"),
            g("Area"),
            g("Option"),
            g("Respondents"),
            g("Count"),
            g("Share or mean"),
            g("Low (95 %)"),
            g("High (95 %)"),
            g("Corrected share or mean"),
            g("Corrected low (95 %)"),
            g("Corrected high (95 %)"),
            g("Without flagged answers"),
        ]
    ]
    whole = g("Whole city")
    for q in results.questions:
        text = csv_safe(q.text(lang))
        for opt in q.options:
            c = opt.corrected
            rows.append(
                [text, q.kind, whole, csv_safe(opt.text(lang)), q.respondents, opt.count,
                 _num(opt.raw.value), _num(opt.raw.low), _num(opt.raw.high),
                 _num(c.value if c else None), _num(c.low if c else None),
                 _num(c.high if c else None),
                 _num(opt.clean.value if opt.clean else None)]
            )  # fmt: skip
        if q.mean is not None:
            c = q.corrected_mean
            rows.append(
                [text, q.kind, whole, g("Mean"), q.respondents, q.respondents,
                 _num(q.mean.value), _num(q.mean.low), _num(q.mean.high),
                 _num(c.value if c else None), _num(c.low if c else None),
                 _num(c.high if c else None),
                 _num(q.clean_mean.value if q.clean_mean else None)]
            )  # fmt: skip
        if q.other_count:
            rows.append([text, q.kind, whole, g("Other (free text)"), q.respondents,
                         q.other_count, "", "", "", "", "", "", ""])  # fmt: skip
        labels = [csv_safe(o.text(lang)) for o in q.options] if q.kind != "scale" else [g("Mean")]
        for group in (*q.okrugs, *q.districts):
            name = csv_safe(group.name(lang)) if group.district_id is not None else g("No district")
            for label, value in zip(labels, group.values, strict=False):
                rows.append([text, q.kind, name, label, group.respondents, "",
                             _num(value), "", "", "", "", "", ""])  # fmt: skip
    return rows


def document(results: PollResults, lang: str) -> dict[str, Any]:
    """The results as JSON open data (ids and numbers; names in ``lang``)."""

    def est(e: Estimate | None) -> dict[str, float] | None:
        return None if e is None else {"value": e.value, "low": e.low, "high": e.high}

    def groups(items: Any) -> list[dict[str, Any]]:
        return [
            {
                "district_id": grp.district_id,
                "name": grp.name(lang),
                "respondents": grp.respondents,
                "values": list(grp.values),
            }
            for grp in items
        ]

    return {
        "poll_id": results.poll_id,
        "title": results.title(lang),
        "simulated": results.simulated,
        "public": results.public,
        "closed": results.closed,
        "closes_at": results.closes_at.isoformat(),
        "respondents": results.respondents,
        "covered": results.covered,
        "design_effect": results.design_effect,
        "effective_n": results.effective_n,
        "population_source": results.source,
        "population_measure": results.measure,
        "computed_at": results.computed_at.isoformat(),
        "flagged": results.flagged,
        "flagged_share": results.flagged_share,
        "flagged_reasons": dict(results.flagged_reasons),
        "without_district": results.without_district,
        "questions": [
            {
                "question_id": q.question_id,
                "kind": q.kind,
                "text": q.text(lang),
                "respondents": q.respondents,
                "other_count": q.other_count,
                "design_effect": q.design_effect,
                "mean": est(q.mean),
                "corrected_mean": est(q.corrected_mean),
                "mean_without_flagged": est(q.clean_mean),
                "options": [
                    {
                        "option_id": o.option_id,
                        "text": o.text(lang),
                        "count": o.count,
                        "raw": est(o.raw),
                        "corrected": est(o.corrected),
                        "without_flagged": est(o.clean),
                    }
                    for o in q.options
                ],
                "okrugs": groups(q.okrugs),
                "districts": groups(q.districts),
            }
            for q in results.questions
        ],
    }


async def results_csv(request: Request) -> Response:
    staff = _staff(await current_user(request))
    results = await load(request, request.path_params["poll_id"], staff)
    lines = csv_rows(results, language(request), translator(request))
    return csv_download(request, lambda: lines, f"poll-{results.poll_id}-results")


async def results_json(request: Request) -> Response:
    staff = _staff(await current_user(request))
    results = await load(request, request.path_params["poll_id"], staff)
    return JSONResponse(document(results, language(request)), headers={"Cache-Control": "no-cache"})


ROUTES: list[BaseRoute] = [
    Route("/polls/{poll_id:id}/results", results_page, methods=GET, name="poll_results"),
    Route("/polls/{poll_id:id}/results.csv", results_csv, methods=GET, name="poll_results_csv"),
    Route("/polls/{poll_id:id}/results.json", results_json, methods=GET, name="poll_results_json"),
]
