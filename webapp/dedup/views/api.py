"""Similar ideas for programs: GET /api/v1/ideas/similar."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.dedup.similar_ideas import SimilarIdea
from webapp.dedup.views import similar as similar_views
from webapp.kernel.api import absolute
from webapp.kernel.errors import N_, DomainError, InvalidInput
from webapp.kernel.errors_view import error_payload
from webapp.kernel.openapi import Call, Operation, Param
from webapp.kernel.routing import MAX_ID

MAX_SIMILAR = 20
SIMILAR_RETRY_AFTER = 30  # seconds: how soon a warming-up index is worth asking again
SIMILAR_UNAVAILABLE = {
    "loading": N_("The similarity index is warming up. Try again in a moment."),
    "disabled": N_("Similarity search is turned off on this server."),
    "failed": N_("Similarity search is unavailable right now."),
}


def _similar(request: Request, s: SimilarIdea) -> dict[str, Any]:
    return {
        "id": s.idea.id,
        "title": s.idea.title,
        "status": s.idea.status,
        "support_count": s.idea.support_count,
        "score": round(min(1.0, max(0.0, float(s.score))), 4),
        "likely_duplicate": bool(s.likely_duplicate),
        "reasons": list(s.reasons),
        "url": absolute(request, "api:idea", idea_id=s.idea.id),
        "html_url": absolute(request, "idea", idea_id=s.idea.id),
    }


def _unavailable(request: Request, state: str) -> Response:
    message = SIMILAR_UNAVAILABLE.get(state, SIMILAR_UNAVAILABLE["failed"])
    headers = {"retry-after": str(SIMILAR_RETRY_AFTER)} if state == "loading" else None
    return JSONResponse(error_payload(request, 503, message), status_code=503, headers=headers)


async def similar_ideas(request: Request, call: Call) -> Response:
    """Ideas similar to a text

    The public ideas closest in meaning to a text (Russian or English), most similar first, each
    with its duplicate score, whether it is likely the same proposal and why. Send text (an
    idea's title, a newline, its description), or title and description: at most 2000
    characters together, what the model reads (422 beyond). Hidden and merged ideas are never
    returned, nor the idea named by exclude; with project_id, only that project's ideas (what
    the idea form suggests for the project chosen there). 400 for an empty text; 503 with Retry-After while
    the index is warming up or while the server's lookups are all busy; rate-limited per caller,
    one hit per started 128 tokens the model reads (a long text is cut to one 512-token window).
    """
    p = call.params
    text = p["text"] or similar_views.idea_text(p["title"], p["description"])
    if not text.strip():
        raise DomainError(N_("Send the text to compare: text, or title and description."))
    if len(text) > similar_views.TEXT_MAX:
        longest = {"max": similar_views.TEXT_MAX}
        field = "text" if p["text"] else "description"
        raise InvalidInput(
            {field: (N_("The text is too long: at most %(max)s characters."), longest)}
        )
    await similar_views.limit_lookups(request, call.user, text)
    service = similar_views.service(request)
    state = similar_views.state(request)
    if service is None or state != "ready":
        return _unavailable(request, state)
    try:
        found = await similar_views.similar_lookup(
            request, text, k=p["k"], exclude_id=p["exclude"], project_id=p["project_id"]
        )
    except similar_views.LookupBusy:  # 503 with Retry-After (webapp.kernel.errors_view)
        raise
    except DomainError as exc:
        if not similar_views.unavailable(exc):
            raise
        return _unavailable(request, similar_views.state(request))
    return JSONResponse({"items": [_similar(request, s) for s in found]})


# fmt: off
SIMILAR_TEXT = similar_views.TEXT_MAX
SIMILAR_PARAMS = (
    Param(
        "text", "string", "The idea to compare: its title, a newline, its description.",
        max_length=SIMILAR_TEXT,
    ),
    Param(
        "title", "string", "The title (instead of text, with description).", max_length=SIMILAR_TEXT
    ),
    Param(
        "description", "string",
        "The description (instead of text, with title); title and description together at most "
        f"{SIMILAR_TEXT} characters.",
        max_length=SIMILAR_TEXT,
    ),
    Param("k", "integer", "How many ideas at most.", minimum=1, maximum=MAX_SIMILAR, default=5),
    Param(
        "exclude", "integer", "Never return this idea (the one being edited).", minimum=1,
        maximum=MAX_ID,
    ),
    Param(
        "project_id", "integer", "Only ideas of this project (1: the permanent pool); default: "
        "every project.", minimum=1, maximum=MAX_ID,
    ),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /ideas/similar", similar_ideas, "SimilarIdeaList", "ideas", params=SIMILAR_PARAMS,
        errors=(400, 429, 503),
    ),
)
# fmt: on
