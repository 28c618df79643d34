"""Themes of a poll's free-text "other" answers, for officials and admins (``webapp.polls.themes``).

``/officials/polls/{id}/themes``: for each question that takes an "other" answer, its answers
grouped by meaning with the platform's embedder, each theme a bar with its keywords, count and
share; never an answer's text. The page needs the "answer" permission (officials, admins), like
the poll admin pages.

Cost bounds on this expensive path: results are cached per worker (a reload is free until an
answer changes); a computation charges the user's ``similar`` rate limit by the answers it
embeds (``themes.charge``), reads at most ``themes.SAMPLE`` answers, runs in a worker thread,
and only one runs at a time in a worker (another request waits up to ``BUSY_WAIT_SECONDS``, then
gets a 503 asking to reload in a minute).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.kernel.errors import N_, ServiceUnavailable
from webapp.kernel.routing import GET
from webapp.kernel.web import db, language, rate_limit, render, require_user, translator
from webapp.polls import polls, themes

BUSY_WAIT_SECONDS = 20.0
BUSY_POLL_SECONDS = 0.1
BUSY_MESSAGE = N_(
    "Themes are being computed for another page right now. Please reload this page in a minute."
)


class ThemesBusy(ServiceUnavailable):
    """Another computation of themes held this worker for BUSY_WAIT_SECONDS (503)."""

    retry_after = 30


def theme_cache(request: Request) -> themes.ThemeCache:
    """This worker's cache of poll themes (made on first use)."""
    cache = getattr(request.app.state, "poll_theme_cache", None)
    if cache is None:
        cache = request.app.state.poll_theme_cache = themes.ThemeCache()
    return cache


def _lock(request: Request) -> threading.Lock:
    lock = getattr(request.app.state, "poll_theme_lock", None)
    if lock is None:
        lock = request.app.state.poll_theme_lock = threading.Lock()
    return lock


@asynccontextmanager
async def computing(request: Request) -> AsyncIterator[None]:
    """This worker's one computation of themes at a time; waiting holds no thread."""
    lock = _lock(request)
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while not lock.acquire(blocking=False):
        if time.monotonic() >= deadline:
            raise ThemesBusy(BUSY_MESSAGE)
        await anyio.sleep(BUSY_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


# --- chart geometry (inline SVG, the bar styles of the results page; a table has the numbers) ---


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    width: float
    low: float  # whisker ends (x), only drawn when sampled
    high: float
    text: str
    unsorted: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    span: float
    bars: tuple[Bar, ...]


def pct(value: float) -> str:
    return f"{value * 100:.1f} %".replace(".", ",")


def label(theme: themes.PollTheme, unnamed: str, limit: int = 26) -> str:
    """A bar's label: the theme's number (as in the table) and keywords, cut at ``limit``
    characters (the chart's label column), or ``unnamed``.

    >>> label(themes.PollTheme(3, ("вечером", "нужны", "темно", "фонари"), 7, 7, .1, .1, .1), "")
    '3. вечером, нужны, темно…'
    """
    if not theme.keywords:
        return unnamed
    text = f"{theme.number}. " + ", ".join(theme.keywords)
    return text if len(text) <= limit else text[: limit - 1].rstrip(", ") + "…"


def chart(
    result: themes.QuestionThemes, unnamed: Callable[[int], str], unsorted: str
) -> Chart | None:
    """One horizontal bar per theme (its share), and one for the unsorted answers."""
    if not result.themes:
        return None
    width, left, row = 640, 210.0, 26
    span = width - left - 70.0
    bars = [
        Bar(
            label(t, unnamed(t.number)),
            i * row + 4.0,
            span * t.share,
            left + span * t.low,
            left + span * t.high,
            pct(t.share),
            False,
        )
        for i, t in enumerate(result.themes)
    ]
    if result.unsorted:
        share = result.unsorted_share
        bars.append(Bar(unsorted, len(bars) * row + 4.0, span * share, 0.0, 0.0, pct(share), True))
    return Chart(width, row * len(bars) + 8, left, span, tuple(bars))


# --- the page ----------------------------------------------------------------------------------


def _keys(session: Session, poll_id: int, question_ids: list[int]) -> dict[int, themes.ThemeKey]:
    return {q: themes.answer_key(session, poll_id, q) for q in question_ids}


async def _result(
    request: Request, user_id: int, svc: Any, key: themes.ThemeKey
) -> themes.QuestionThemes:
    """One question's themes: from the cache, or computed (rate-limited, one at a time)."""
    cache = theme_cache(request)
    cache_key = (svc.model_identity, themes.SAMPLE, key)
    hit = cache.get(cache_key)
    if hit is not None:
        return hit
    if key.count < themes.MIN_ANSWERS:  # refused without reading a text
        result = themes.compute(key, [], themes.embedder(svc.finder))
        cache.put(cache_key, result)
        return result
    for _ in range(themes.charge(min(key.count, themes.SAMPLE))):
        await rate_limit(request, "similar", f"user:{user_id}")
    async with computing(request):
        hit = cache.get(cache_key)  # computed by another request while this one waited
        if hit is not None:
            return hit
        texts = await db(request, themes.load_texts, key)
        result = await run_in_threadpool(themes.compute, key, texts, themes.embedder(svc.finder))
    cache.put(cache_key, result)
    return result


async def themes_page(request: Request) -> Response:
    """Each free-answer question's themes: a bar per theme with keywords, count and share."""
    user = await require_user(request, "answer")
    poll_id = request.path_params["poll_id"]
    detail = await db(request, polls.poll_detail, poll_id)
    questions = [q for q in detail.questions if q.allow_other]
    svc = getattr(request.app.state, "similarity", None)
    state = "disabled" if svc is None else str(svc.status)
    results: dict[int, themes.QuestionThemes] = {}
    if state == "ready" and questions:
        keys = await db(request, _keys, poll_id, [q.id for q in questions])
        for q in questions:
            results[q.id] = await _result(request, user.id, svc, keys[q.id])
    lang = language(request)
    tr = translator(request)
    unsorted = tr.gettext("Other, unsorted")

    def unnamed(number: int) -> str:
        return tr.gettext("Theme %(num)s", num=number)

    ctx = {
        "detail": detail,
        "poll_title": detail.poll.title(lang),
        "questions": questions,
        "state": state,
        "results": results,
        "charts": {qid: chart(r, unnamed, unsorted) for qid, r in results.items()},
        "pct": pct,
        "sample_size": themes.SAMPLE,
        "min_answers": themes.MIN_ANSWERS,
        "min_theme": themes.MIN_THEME,
    }
    return await render(request, "polls/themes.html", ctx)


ROUTES: list[BaseRoute] = [
    Route(
        "/officials/polls/{poll_id:id}/themes",
        themes_page,
        methods=GET,
        name="officials_poll_themes",
    ),
]
