"""Similar ideas on the site: suggestions while typing, the check before publishing, "ideas like".

Everything here goes through ``request.app.state.similarity`` (``webapp.dedup.engine``),
whose lookups embed text and are therefore blocking: they run in a worker thread inside one
transaction (``webapp.kernel.web.db``). When the service is not ready (loading, disabled, failed) the
site keeps working without suggestions and says so; a broken lookup never blocks publishing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from webapp.dedup.similar_ideas import QUERY_MAX_CHARS, SimilarIdea, query_text
from webapp.ideas import ideas as ideas_service
from webapp.kernel.dto import MAX_PAGE, IdeaSummary, Page
from webapp.kernel.errors import N_, DomainError, RateLimited, ServiceUnavailable
from webapp.kernel.security import can
from webapp.kernel.storage.models import PERMANENT_PROJECT_ID
from webapp.kernel.web import client_ip, csrf_token, current_user, db, language, rate_limit

log = logging.getLogger("veche")

MIN_TEXT_LENGTH = 12
"""Characters of title and description together before suggestions are looked up."""
FRAGMENT_TEXT_MAX = 1_500
"""The live lookup reads at most this much of the description (the model truncates anyway)."""
SUGGESTIONS = 5
LIKE_WINDOW = 200
"""Semantic browse looks at the closest LIKE_WINDOW ideas, then applies the list's filters."""
TEXT_MAX = QUERY_MAX_CHARS
"""The longest text a lookup reads (the site cuts there, the API refuses more: 422)."""
CHARGE_CHARS = 500
"""Where the encoder cannot count tokens, a lookup counts one hit of the ``similar`` rate limit
per started CHARGE_CHARS characters of its text; with the default model it counts one per started
128 model tokens (``SimilarityService.charge``). Either way the limit bounds the model's work a
client causes per minute, not just its requests."""
SLOT_WAIT_SECONDS = 2.0
"""How long an uncached lookup waits for one of the worker's VECHE_SIMILAR_CONCURRENCY slots."""
SLOT_POLL_SECONDS = 0.02
BUSY_RETRY_AFTER = 2  # seconds, sent as Retry-After when no slot freed up in time
COPY_REASONS = ("exact_copy", "near_copy")
VOTABLE = ideas_service.VOTABLE_STATUSES

STATE_MESSAGES = {
    "loading": N_("Suggestions of similar ideas are warming up and will appear shortly."),
    "disabled": N_("Suggestions of similar ideas are turned off on this site."),
    "failed": N_("Suggestions of similar ideas are unavailable right now."),
    "busy": N_(
        "Suggestions of similar ideas are busy right now; they will be back in a few seconds."
    ),
}
LIKE_MESSAGES = {
    "limited": N_("You have searched by meaning too often; please wait a minute."),
    "busy": N_("Search by meaning is busy right now; please try again in a few seconds."),
}
BUSY_MESSAGE = N_(
    "Too many similarity lookups are running right now. Please try again in a few seconds."
)


class LookupBusy(ServiceUnavailable):
    """Every lookup slot of this worker stayed taken for SLOT_WAIT_SECONDS (503, Retry-After)."""

    retry_after = BUSY_RETRY_AFTER


def service(request: Request) -> Any:
    """The app's SimilarityService, or None where the app has none."""
    return getattr(request.app.state, "similarity", None)


def state(request: Request) -> str:
    """``ready``, ``loading``, ``disabled`` or ``failed`` (no service counts as disabled)."""
    svc = service(request)
    return "disabled" if svc is None else str(svc.status)


def note_changed(request: Request, idea_id: int) -> None:
    """Wake the background embedder after an idea was created or edited (non-blocking)."""
    svc = service(request)
    if svc is not None:
        svc.note_changed(idea_id)


def unavailable(exc: DomainError) -> bool:
    """Whether a service error means "not ready" (SimilarityUnavailable answers 503)."""
    return exc.status == 503


def idea_text(title: str | None, description: str | None) -> str:
    """An idea as the finder reads it: title, newline, description (both stripped)."""
    t = (title or "").strip()
    d = (description or "").strip()
    return f"{t}\n{d}" if t and d else t or d


def client_key(request: Request, user: Any) -> str:
    return f"user:{user.id}" if user is not None else f"ip:{client_ip(request)}"


def charge(text: str, svc: Any = None) -> int:
    """Hits of the ``similar`` bucket a lookup of ``text`` counts: by the model's tokens when
    the service ``svc`` is ready and can count them, else one per started CHARGE_CHARS."""
    if svc is not None and getattr(svc, "status", None) == "ready":
        hits = svc.charge(text)
        if hits is not None:
            return int(hits)
    read = min(len(text), TEXT_MAX)
    return max(1, -(-read // CHARGE_CHARS))


async def limit_lookups(request: Request, user: Any, text: str = "") -> None:
    """The per-client rate limit of similarity lookups (bucket ``similar``; 429 beyond it),
    charged by the length of ``text`` (:func:`charge`)."""
    key = client_key(request, user)
    for _ in range(charge(text, service(request))):
        await rate_limit(request, "similar", key)


@asynccontextmanager
async def slot(request: Request) -> AsyncIterator[None]:
    """One of this worker's lookup slots (``SimilarityService.slots``) for the block; raises
    LookupBusy when none frees up within SLOT_WAIT_SECONDS. Waiting holds no thread and no
    database connection; a non-blocking acquire followed at once by ``try`` cannot leak a slot
    when the request is cancelled."""
    slots = service(request).slots
    deadline = time.monotonic() + SLOT_WAIT_SECONDS
    while not slots.acquire(blocking=False):
        if time.monotonic() >= deadline:
            raise LookupBusy(BUSY_MESSAGE)
        await anyio.sleep(SLOT_POLL_SECONDS)
    try:
        yield
    finally:
        slots.release()


async def bounded(
    request: Request, fn: Callable[..., Any], text: str, depth: int, exclude_id: int | None = None
) -> Any:
    """``db(request, fn, text)`` for a lookup of ``depth`` candidates (``fn`` is the service's
    ``similar`` or ``like`` with its options bound): straight from the cache when the service
    holds that ranking, else inside a slot (:func:`slot`)."""
    svc = service(request)
    if svc.is_cached(text, depth, exclude_id):
        return await db(request, fn, text)
    async with slot(request):
        return await db(request, fn, text)


async def lookup(
    request: Request,
    text: str,
    *,
    k: int = SUGGESTIONS,
    exclude_id: int | None = None,
    project_id: int | None = None,
) -> tuple[str, list[SimilarIdea]]:
    """``(state, similar ideas)`` (of ``project_id`` only, when given); an empty list with the
    state when the service is not ready.

    For the site only: a failing lookup is logged and reported as ``failed``, never raised.
    """
    svc = service(request)
    current = state(request)
    text = query_text(text)
    if svc is None or current != "ready" or not text:
        return current, []
    try:
        found = await similar_lookup(
            request, text, k=k, exclude_id=exclude_id, project_id=project_id
        )
    except LookupBusy:
        return "busy", []
    except DomainError as exc:
        if not unavailable(exc):
            raise
        return state(request), []
    except Exception:  # a suggestion must never break the page or block publishing
        log.exception("similar-ideas lookup failed")
        return "failed", []
    return "ready", list(found)


async def similar_lookup(
    request: Request,
    text: str,
    *,
    k: int = SUGGESTIONS,
    exclude_id: int | None = None,
    project_id: int | None = None,
) -> list[SimilarIdea]:
    """``SimilarityService.similar`` within the cost bounds (:func:`bounded`), of ``project_id``
    only when given; raises the service's errors and LookupBusy (for the API, which answers
    them)."""
    svc = service(request)
    fn = partial(svc.similar, k=k, exclude_id=exclude_id, project_id=project_id)
    return list(await bounded(request, fn, query_text(text), svc.similar_depth(k), exclude_id))


def copy_reasons(item: SimilarIdea) -> list[str]:
    """The reasons worth telling a citizen: exact or near copies (guard codes are for moderators)."""
    return [r for r in item.reasons if r in COPY_REASONS]


def render_fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """A piece of a page for scripts: the page's helpers, but flash messages stay queued."""
    lang = language(request)
    env = request.app.state.jinja[lang]
    user = getattr(request.state, "user", None)
    ctx = {
        "request": request,
        "user": user,
        "lang": lang,
        "t": request.app.state.translators[lang],
        "settings": request.app.state.settings,
        "csrf_token": csrf_token(request),
        "can": lambda perm: user is not None and can(user.role, perm),
        **context,
    }
    html = env.get_template(template).render(ctx)
    return HTMLResponse(html, headers={"cache-control": "no-store"})


def similar_context(
    request: Request, current: str, items: Sequence[SimilarIdea], *, check: bool = False
) -> dict[str, Any]:
    """What templates/dedup/_similar.html needs."""
    return {
        "similar_state": current,
        "similar_message": STATE_MESSAGES.get(current, ""),
        "similar_items": list(items),
        "similar_check": check,
        "similar_seen": ",".join(str(s.idea.id) for s in items),
        "copy_reasons": copy_reasons,
        "votable": VOTABLE,
        "similar_min_length": MIN_TEXT_LENGTH,
    }


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


async def similar_fragment(request: Request) -> Response:
    """GET /ideas/similar?title=&description=&exclude=&project=: the suggestion list as an HTML
    fragment (the ideas of the project chosen in the form; without it, of the permanent pool)."""
    qp = request.query_params
    user = await current_user(request)
    settings = request.app.state.settings
    title = (qp.get("title") or "")[: settings.title_max_length]
    description = (qp.get("description") or "")[:FRAGMENT_TEXT_MAX]
    text = idea_text(title, description)
    exclude = _int(qp.get("exclude"))
    project_id = _int(qp.get("project")) or PERMANENT_PROJECT_ID
    items: list[SimilarIdea] = []
    current = state(request)
    if len(text) >= MIN_TEXT_LENGTH and "\x00" not in text:
        await limit_lookups(request, user, text)
        current, items = await lookup(request, text, exclude_id=exclude, project_id=project_id)
    context = similar_context(request, current, items)
    response = render_fragment(request, "dedup/_similar.html", context)
    if current == "busy":  # the script keeps the list it shows and asks again later
        response.status_code = 503
        response.headers["retry-after"] = str(BUSY_RETRY_AFTER)
    return response


def _seen(value: str | None) -> set[int]:
    ids = set()
    for part in (value or "").split(",")[:50]:
        if (number := _int(part.strip())) is not None:
            ids.add(number)
    return ids


async def check_before_publish(
    request: Request, values: dict[str, str], user: Any
) -> dict[str, Any] | None:
    """The "check for similar ideas" step of a new idea, or None to publish at once.

    Publishing goes ahead when the citizen confirmed (``confirm_similar``), when nothing similar
    exists in the idea's project, or when the service cannot tell. A citizen whose browser already showed the live
    suggestions (``similar_seen``, set by veche.js) is stopped only by likely duplicates they
    have not seen; without JavaScript any similar idea is shown first.
    """
    if values.get("confirm_similar") == "1" or state(request) != "ready":
        return None
    text = idea_text(values.get("title"), values.get("body"))
    if len(text) < MIN_TEXT_LENGTH:
        return None
    try:
        await limit_lookups(request, user, text)
    except RateLimited:  # a busy typist must still be able to publish
        return None
    project_id = _int(values.get("project_id")) or PERMANENT_PROJECT_ID
    current, items = await lookup(request, text, project_id=project_id)
    if not items:
        return None
    if "similar_seen" in values:
        seen = _seen(values.get("similar_seen"))
        if all(s.idea.id in seen for s in items if s.likely_duplicate):
            return None
    return similar_context(request, current, items, check=True)


async def form_context(request: Request) -> dict[str, Any]:
    """The suggestion region of an idea form before anything is typed: the service's state."""
    return similar_context(request, state(request), [])


@dataclass(frozen=True)
class LikeResult:
    """A page of the semantic browse: ``state`` is ready, loading, disabled, failed, limited
    (the ``search`` rate limit) or busy (no lookup slot); ``status`` and ``retry_after`` are
    for the page's answer (429 or 503 with Retry-After when limited or busy)."""

    state: str
    page: Page[IdeaSummary]
    matches: dict[int, SimilarIdea]
    status: int = 200
    retry_after: int | None = None


async def like_page(
    request: Request, flt: ideas_service.IdeaFilter, text: str, size: int
) -> LikeResult:
    """Ideas closest in meaning to ``text``, filtered like the list, one page of them.

    The page is empty unless the state is ready. A search the worker has cached (the same
    words, any page or filter, within RANKING_TTL and before new ideas are indexed) costs no
    embedding and is not counted; others count in the ``search`` bucket (per user or IP
    address) and take a lookup slot.
    """
    svc = service(request)
    current = state(request)
    page_no = min(max(1, flt.page), MAX_PAGE)
    empty: Page[IdeaSummary] = Page([], page_no, size, 0)
    if svc is None or current != "ready":
        return LikeResult(current, empty, {})
    text = query_text(text)
    depth = svc.like_depth(LIKE_WINDOW, 0)
    try:
        if not svc.is_cached(text, depth):
            user = await current_user(request)
            await rate_limit(request, "search", client_key(request, user))
        like = partial(svc.like, limit=LIKE_WINDOW, offset=0, project_id=flt.project_id)
        found = await bounded(request, like, text, depth)
    except RateLimited as exc:
        return LikeResult("limited", empty, {}, 429, exc.retry_after)
    except LookupBusy as exc:
        return LikeResult("busy", empty, {}, 503, exc.retry_after)
    except DomainError as exc:
        if not unavailable(exc):
            raise
        return LikeResult(state(request), empty, {})
    except Exception:
        log.exception("semantic search failed")
        return LikeResult("failed", empty, {})
    districts: set[int] | None = None
    if flt.district_id is not None:
        districts = set(await db(request, ideas_service.district_and_children, flt.district_id))
    kept = [
        s
        for s in found
        if (flt.category_id is None or s.idea.category_id == flt.category_id)
        and (districts is None or s.idea.district_id in districts)
        and (flt.status is None or s.idea.status == flt.status)
    ]
    start = (page_no - 1) * size
    window = kept[start : start + size]
    page = Page([s.idea for s in window], page_no, size, len(kept))
    return LikeResult("ready", page, {s.idea.id: s for s in window})
