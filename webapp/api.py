"""JSON API under /api/v1: the site's operations for programs, described by one table.

``OPERATIONS`` below is the single description of the API: :func:`api_routes` mounts a route per
entry and :mod:`webapp.kernel.openapi` renders the same entries as the OpenAPI document. Every request
goes through :func:`_endpoint`, which authenticates, checks CSRF (cookie sessions only) and the
write rate limit, and parses parameters and body from the declarations before the handler runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from webapp.accounts import api_tokens, login_throttle
from webapp.accounts import users as users_service
from webapp.dedup.views import similar as similar_views
from webapp.ideas import comments as comments_service
from webapp.ideas import ideas as ideas_service
from webapp.ideas import votes as votes_service
from webapp.ideas.views.listing import ranked_page
from webapp.kernel.dto import (
    CommentView,
    CurrentUser,
    IdeaDetail,
    IdeaSummary,
    Named,
    Page,
    VoteState,
)
from webapp.kernel.errors import N_, Conflict, DomainError, InvalidInput, NotAuthenticated
from webapp.kernel.errors_view import error_payload
from webapp.kernel.openapi import (
    MAX_ID,
    Call,
    Field,
    Operation,
    Param,
    build_document,
    parse_body,
    parse_params,
)
from webapp.kernel.settings import RANKED_SORTS
from webapp.kernel.storage.models import PUBLIC_STATUSES
from webapp.kernel.web import (
    CSRF_HEADER,
    check_csrf,
    client_ip,
    csrf_token,
    current_user,
    db,
    language,
    rate_limit,
    require_user,
    translator,
)
from webapp.officials import officials as officials_service
from webapp.officials import responses as responses_service
from webapp.officials.views import officials as officials_views
from webapp.taxonomy import taxonomy

if TYPE_CHECKING:
    from webapp.dedup.similarity import SimilarIdea

MAX_PAGE_SIZE = 100
MAX_SIMILAR = 20
SIMILAR_RETRY_AFTER = 30  # seconds: how soon a warming-up index is worth asking again
SIMILAR_UNAVAILABLE = {
    "loading": N_("The similarity index is warming up. Try again in a moment."),
    "disabled": N_("Similarity search is turned off on this server."),
    "failed": N_("Similarity search is unavailable right now."),
}
SORTS = (*RANKED_SORTS, "supporters", "discussed", "relevance")
QUERY_LENGTH = 200

# --- serialisation ------------------------------------------------------------------------------


def _absolute(request: Request, name: str, **params: Any) -> str:
    """An absolute URL on the site's public address (VECHE_BASE_URL), never on the Host header
    a client sent: a forged Host must not put another site's links into answers or caches."""
    base: str = request.app.state.settings.base_url.rstrip("/")
    return base + str(request.app.url_path_for(name, **params))


def _named(item: Named | None, lang: str) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"id": item.id, "slug": item.slug, "name": item.name(lang)}


class _Names:
    """Categories and districts by id, loaded once per request."""

    def __init__(self, session: Session) -> None:
        self.categories = {c.id: c for c in taxonomy.list_categories(session)}
        self.districts = {d.id: d for d in taxonomy.list_districts(session)}


def _summary(request: Request, idea: IdeaSummary | IdeaDetail, names: _Names) -> dict[str, Any]:
    lang = language(request)
    text = idea.excerpt if isinstance(idea, IdeaSummary) else ideas_service.excerpt(idea.body)
    return {
        "id": idea.id,
        "title": idea.title,
        "excerpt": text,
        "status": idea.status,
        "language": idea.language,
        "category": _named(names.categories.get(idea.category_id or 0), lang),
        "district": _named(names.districts.get(idea.district_id or 0), lang),
        "author_name": idea.author_name,
        "support_count": idea.support_count,
        "oppose_count": idea.oppose_count,
        "comment_count": idea.comment_count,
        "created_at": idea.created_at.isoformat(),
        "url": _absolute(request, "api:idea", idea_id=idea.id),
        "html_url": _absolute(request, "idea", idea_id=idea.id),
    }


def _detail(
    request: Request, idea: IdeaDetail, names: _Names, user: CurrentUser | None
) -> dict[str, Any]:
    data = _summary(request, idea, names)
    merged = idea.merged_into_id
    data.update(
        body=idea.body,
        updated_at=idea.updated_at.isoformat(),
        merged_into=merged,
        my_vote=idea.my_vote if user is not None else None,
        links={
            "self": data["url"],
            "html": data["html_url"],
            "comments": _absolute(request, "api:comments", idea_id=idea.id),
            "merged_into": _absolute(request, "api:idea", idea_id=merged) if merged else None,
        },
    )
    return data


def _page(page: Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": items,
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "pages": page.pages,
    }


def _comment(c: CommentView) -> dict[str, Any]:
    return {
        "id": c.id,
        "idea_id": c.idea_id,
        "author_name": c.author_name,
        "body": c.body,
        "created_at": c.created_at.isoformat(),
    }


def _vote(state: VoteState) -> dict[str, Any]:
    return {
        "idea_id": state.idea_id,
        "support_count": state.support_count,
        "oppose_count": state.oppose_count,
        "my_vote": state.my_vote,
        "changed": state.changed,
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
        "url": _absolute(request, "api:idea", idea_id=s.idea.id),
        "html_url": _absolute(request, "idea", idea_id=s.idea.id),
    }


# --- handlers -----------------------------------------------------------------------------------


async def _idea_page(request: Request, flt: ideas_service.IdeaFilter, size: int) -> Response:
    if flt.sort in RANKED_SORTS:
        page = await ranked_page(request, flt, size)
        names = await db(request, _Names)
    else:

        def load(session: Session) -> tuple[Page[IdeaSummary], _Names]:
            return ideas_service.list_ideas(session, flt, size), _Names(session)

        page, names = await db(request, load)
    return JSONResponse(_page(page, [_summary(request, i, names) for i in page.items]))


async def ideas(request: Request, call: Call) -> Response:
    """List ideas

    Public ideas, filtered and sorted; names of categories and districts follow the caller's
    language.
    """
    p = call.params
    q = p["q"] or ""
    flt = ideas_service.IdeaFilter(
        q=q,
        category_id=p["category"],
        district_id=p["district"],
        status=p["status"],
        sort=p["sort"] or ("relevance" if q else request.app.state.settings.default_sort),
        page=p["page"],
    )
    return await _idea_page(request, flt, p["page_size"])


async def search(request: Request, call: Call) -> Response:
    """Search ideas

    Full-text search (stemmed Russian and English words), best matches first.
    """
    p = call.params
    flt = ideas_service.IdeaFilter(
        q=p["q"],
        category_id=p["category"],
        district_id=p["district"],
        status=p["status"],
        sort="relevance",
        page=p["page"],
    )
    return await _idea_page(request, flt, p["page_size"])


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
    returned, nor the idea named by exclude. 400 for an empty text; 503 with Retry-After while
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
        found = await similar_views.similar_lookup(request, text, k=p["k"], exclude_id=p["exclude"])
    except similar_views.LookupBusy:  # 503 with Retry-After (webapp.kernel.errors_view)
        raise
    except DomainError as exc:
        if not similar_views.unavailable(exc):
            raise
        return _unavailable(request, similar_views.state(request))
    return JSONResponse({"items": [_similar(request, s) for s in found]})


async def idea(request: Request, call: Call) -> Response:
    """One idea in full

    A merged idea is returned with merged_into set to the idea it joined.
    """

    def load(session: Session) -> tuple[IdeaDetail, _Names]:
        return ideas_service.get_idea(session, call.params["idea_id"], call.user), _Names(session)

    idea, names = await db(request, load)
    return JSONResponse(_detail(request, idea, names, call.user))


def _limits(request: Request) -> ideas_service.Limits:
    s = request.app.state.settings
    return ideas_service.Limits(title_max=s.title_max_length, body_max=s.body_max_length)


async def create_idea(request: Request, call: Call) -> Response:
    """Submit an idea

    Answers 201 with the idea and its URL in the Location header.
    """
    limits = _limits(request)

    def work(session: Session) -> tuple[IdeaDetail, _Names]:
        idea_id = ideas_service.submit_idea(session, call.user, call.body, limits)
        return ideas_service.get_idea(session, idea_id, call.user), _Names(session)

    idea, names = await db(request, work)
    similar_views.note_changed(request, idea.id)
    data = _detail(request, idea, names, call.user)
    return JSONResponse(data, status_code=201, headers={"Location": data["url"]})


async def support(request: Request, call: Call) -> Response:
    """Support an idea

    Idempotent: supporting twice keeps one vote (changed is false the second time).
    """
    state = await db(request, votes_service.cast_vote, call.user, call.params["idea_id"], 1)
    return JSONResponse(_vote(state))


async def oppose(request: Request, call: Call) -> Response:
    """Oppose an idea

    403 when opposing is disabled on this platform (VECHE_ALLOW_OPPOSE).
    """
    allow = request.app.state.settings.allow_oppose
    state = await db(request, votes_service.cast_vote, call.user, call.params["idea_id"], -1, allow)
    return JSONResponse(_vote(state))


async def withdraw(request: Request, call: Call) -> Response:
    """Withdraw one's vote

    Idempotent: withdrawing when there is no vote changes nothing.
    """
    state = await db(request, votes_service.withdraw_vote, call.user, call.params["idea_id"])
    return JSONResponse(_vote(state))


async def comments(request: Request, call: Call) -> Response:
    """An idea's comments, oldest first"""
    p = call.params

    def load(session: Session) -> Page[CommentView]:
        ideas_service.get_idea(session, p["idea_id"], call.user)  # 404 for unknown or hidden
        return comments_service.list_comments(session, p["idea_id"], p["page"], p["page_size"])

    page = await db(request, load)
    return JSONResponse(_page(page, [_comment(c) for c in page.items]))


async def add_comment(request: Request, call: Call) -> Response:
    """Comment on an idea"""
    max_length = request.app.state.settings.comment_max_length
    idea_id = call.params["idea_id"]

    def work(session: Session) -> CommentView:
        comment_id = comments_service.add_comment(
            session, call.user, idea_id, call.body["body"], max_length
        )
        return comments_service.get_comment(session, comment_id)

    return JSONResponse(_comment(await db(request, work)), status_code=201)


async def categories(request: Request, call: Call) -> Response:
    """All categories"""
    lang = language(request)
    items = await db(request, taxonomy.list_categories)
    return JSONResponse({"items": [_named(c, lang) for c in items]})


async def districts(request: Request, call: Call) -> Response:
    """Okrugs and districts

    Each okrug is followed by its districts, which name it as parent_id.
    """
    lang = language(request)
    items = await db(request, taxonomy.list_districts)
    return JSONResponse(
        {
            "items": [
                {
                    "id": d.id,
                    "slug": d.slug,
                    "name": d.name(lang),
                    "short_name": d.short_en if lang == "en" else d.short_ru,
                    "parent_id": d.parent_id,
                }
                for d in items
            ]
        }
    )


async def me(request: Request, call: Call) -> Response:
    """The caller's account

    With a cookie session it also returns the CSRF token to send as X-CSRF-Token on writes.
    """
    user: CurrentUser = call.user
    names = await db(request, _Names)
    by_token = bool(getattr(request.state, "token_auth", False))
    return JSONResponse(
        {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role,
            "district": _named(names.districts.get(user.district_id or 0), language(request)),
            "verified_resident": user.verified_resident,
            "locale": user.locale,
            "auth": "token" if by_token else "session",
            "csrf_token": None if by_token else csrf_token(request),
        }
    )


async def create_token(request: Request, call: Call) -> Response:
    """Create an API token

    It expires after days days (default VECHE_API_TOKEN_DAYS, at most VECHE_API_TOKEN_MAX_DAYS);
    an account holds at most VECHE_API_TOKENS_PER_USER unexpired tokens (409 beyond).
    The token is shown once; only its digest is stored. Failed attempts count against the account and the address like the site's login (progressive delays), and VECHE_TOKEN_RATE_LIMIT limits attempts per address per minute.
    """
    email = call.body["email"][: login_throttle.EMAIL_MAX].strip().lower()
    # the same budget of failures per account as the site's login, and the per-IP flood brake
    await login_throttle.guard(request, email, bucket="token")
    name = call.body.get("name") or "API"
    limits = api_tokens.TokenLimits.from_settings(request.app.state.settings)

    def work(session: Session) -> api_tokens.NewToken | None:
        user = users_service.authenticate(session, email, call.body["password"])
        if user is None:
            return None
        return api_tokens.issue(
            session,
            user.id,
            name,
            days=call.body.get("days"),
            limits=limits,
            origin=_token_origin(request, user.id),
        )

    try:
        new = await db(request, work)
    except Conflict:  # the right password, but the account holds the most tokens allowed
        await login_throttle.result(request, email, True)
        raise
    await login_throttle.result(request, email, new is not None)
    if new is None:
        # The same answer for an unknown e-mail, a wrong password and a blocked account.
        raise NotAuthenticated("Wrong e-mail or password.")
    return JSONResponse(
        {"token": new.token, "token_type": "Bearer", **_token_info(new.info)}, status_code=201
    )


def _token_origin(request: Request, user_id: int) -> api_tokens.Origin:
    """The owner, through the API, from this address and program (the audit rows)."""
    agent = request.headers.get("user-agent", "")
    return api_tokens.Origin(user_id, "api", client_ip(request), agent)


def _token_info(info: api_tokens.TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "hint": info.hint,
        "created_at": info.created_at.isoformat(),
        "last_used_at": _iso(info.last_used_at),
        "expires_at": _iso(info.expires_at),
        "expired": info.expired,
    }


async def tokens(request: Request, call: Call) -> Response:
    """The caller's API tokens

    Newest first, with name, hint (the first characters), creation, last use and expiry; never
    the token itself. Expired tokens are listed (expired is true) until they are deleted.
    """
    items = await db(request, api_tokens.list_tokens, call.user.id)
    return JSONResponse({"items": [_token_info(i) for i in items]})


async def revoke_token(request: Request, call: Call) -> Response:
    """Revoke one of the caller's API tokens

    The token stops working at once (the one sending this request too). 404 for a token that is
    not the caller's.
    """
    token_id = call.params["token_id"]
    origin = _token_origin(request, call.user.id)
    await db(request, api_tokens.revoke, call.user.id, token_id, origin=origin)
    return JSONResponse({"id": token_id, "revoked": True})


async def openapi(request: Request, call: Call) -> Response:
    """This OpenAPI document"""
    return JSONResponse(build_document(OPERATIONS, request.app.state.settings))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _shortlist_row(
    request: Request, r: officials_service.ShortlistRow, names: _Names
) -> dict[str, Any]:
    lang = language(request)
    c = r.confidence
    return {
        "rank": r.rank,
        "id": r.id,
        "title": r.title,
        "status": r.status,
        "category": _named(names.categories.get(r.category_id or 0), lang),
        "district": _named(names.districts.get(r.district_id or 0), lang),
        "supporters": r.supporters,
        "score": r.score,
        "confidence": None
        if c is None
        else {
            "kind": c.kind,
            "low": c.low,
            "high": c.high,
            "level": c.level,
            "prior_share": c.prior_share,
        },
        "created_at": r.created_at.isoformat(),
        "threshold_reached_at": _iso(r.threshold_reached_at),
        "days_waiting": r.days_waiting,
        "overdue": r.overdue,
        "response_state": r.response_state,
        "responded_at": _iso(r.responded_at),
        "url": _absolute(request, "api:idea", idea_id=r.id),
        "html_url": _absolute(request, "idea", idea_id=r.id),
    }


async def officials_shortlist(request: Request, call: Call) -> Response:
    """The officials' shortlist

    The strongest proposals by a ranking scheme, with the score, how sure the ranking is of it
    (confidence), distinct supporters and the response clock (threshold reached, days waiting,
    overdue); the same list as the dashboard and its CSV export. Officials and admins only.
    """
    p = call.params
    settings = request.app.state.settings
    if p["scheme"] is not None and p["scheme"] not in officials_views.schemes(settings):
        raise InvalidInput({"scheme": (N_("Opposing is not enabled on this platform."), {})})
    query = {
        k: str(p[k])
        for k in ("scheme", "category", "district", "status", "period", "from", "to")
        if p.get(k) is not None
    }
    _raw, flt, _page_no, errors = officials_views.parse_filters(
        query, settings, translator(request).tz
    )
    if errors:
        raise InvalidInput(errors)
    ranking = request.app.state.ranking
    await request.app.state.ranking_sync.wait()
    size = p["page_size"]

    def load(session: Session) -> tuple[list[officials_service.ShortlistRow], int, _Names]:
        rows, total = officials_service.dashboard(session, ranking, settings, flt, p["page"], size)
        return rows, total, _Names(session)

    rows, total, names = await db(request, load)
    page = Page(rows, p["page"], size, total)
    return JSONResponse(
        {
            **_page(page, [_shortlist_row(request, r, names) for r in rows]),
            "scheme": flt.scheme,
            "threshold": settings.response_threshold,
            "response_days": settings.response_days,
        }
    )


async def set_status(request: Request, call: Call) -> Response:
    """Answer an idea: set its status with a public response

    Allowed steps (docs/officials.md): published -> under_review, accepted or rejected;
    under_review -> accepted, in_progress or rejected; accepted -> in_progress, implemented or
    rejected; in_progress -> implemented or rejected; rejected -> under_review; or the current
    status again with a further response. The response text is required except for
    under_review. Supporters and the author are notified. 409 for a step not allowed from the
    current status, and for hidden or merged ideas.
    """
    settings = request.app.state.settings
    result = await db(
        request,
        responses_service.answer,
        call.user,
        call.params["idea_id"],
        call.body["status"],
        call.body.get("response") or "",
        email=settings.email_enabled,
    )
    await request.app.state.ranking_sync.wait()
    r = result.response
    return JSONResponse(
        {
            "idea_id": result.idea_id,
            "status": result.status,
            "previous_status": result.previous_status,
            "notified": result.notified,
            "response": {
                "id": r.id,
                "status": r.status,
                "previous_status": r.previous_status,
                "body": r.body,
                "created_at": r.created_at.isoformat(),
                "author_name": r.author_name,
            },
            "url": _absolute(request, "api:idea", idea_id=result.idea_id),
        }
    )


# --- the table ----------------------------------------------------------------------------------
# fmt: off

IDEA_ID = Param(
    "idea_id", "integer", "The idea's id.", location="path", not_found=N_("Idea not found.")
)
PAGE = Param("page", "integer", "Page number.", minimum=1, maximum=ideas_service.MAX_PAGE, default=1)
PAGE_SIZE = Param(
    "page_size", "integer", "Items per page (default VECHE_PAGE_SIZE).", minimum=1,
    maximum=MAX_PAGE_SIZE, default=lambda s: min(s.page_size, MAX_PAGE_SIZE),
)
Q = Param("q", "string", "Words to search for.", max_length=QUERY_LENGTH)
Q_REQUIRED = replace(Q, required=True, missing=N_("Enter something to search for."))
SORT = Param(
    "sort",
    "string",
    "Order: a ranking scheme (docs/ranking.md), supporters (raw count), discussed or relevance "
    "(default: relevance when q is given, else the configured default scheme).",
    enum=SORTS
)
FILTERS = (
    Param("category", "integer", "Only this category (id).", minimum=1, maximum=MAX_ID),
    Param(
        "district", "integer", "Only this district (id); an okrug includes its districts.",
        minimum=1, maximum=MAX_ID,
    ),
    Param("status", "string", "Only this status.", enum=PUBLIC_STATUSES),
)
IDEA_BODY = (
    Field("title", "string", "5 characters or more.", max_length=lambda s: s.title_max_length),
    Field("body", "string", "20 characters or more.", max_length=lambda s: s.body_max_length),
    Field("category_id", "id", "A category id from GET /categories."),
    Field("district_id", "id", "A district or okrug id.", required=False, nullable=True),
)
COMMENT_BODY = (Field("body", "string", "2 characters or more.", max_length=lambda s: s.comment_max_length),)
SIMILAR_TEXT = similar_views.TEXT_MAX  # what the model reads; 422 beyond (docs/security.md)
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
)
SHORTLIST_PARAMS = (
    Param(
        "scheme", "string", "Ranking scheme (docs/ranking.md); default: the configured one.",
        enum=officials_service.DASHBOARD_SCHEMES,
    ),
    *FILTERS,
    Param(
        "period", "string", "Only ideas created in the last N days.",
        enum=tuple(str(d) for d in officials_service.PERIODS),
    ),
    Param("from", "string", "Only ideas created on or after this date (YYYY-MM-DD).", max_length=10),
    Param("to", "string", "Only ideas created on or before this date (YYYY-MM-DD).", max_length=10),
    PAGE,
    PAGE_SIZE,
)
STATUS_BODY = (
    Field("status", "string", "The new status: " + ", ".join(responses_service.ANSWER_STATUSES) + ".", max_length=20),
    Field(
        "response", "string", "The public response (required except for under_review).",
        required=False, nullable=True, max_length=responses_service.RESPONSE_MAX_LENGTH,
    ),
)
TOKEN_BODY = (
    Field("email", "string", "The account's e-mail.", max_length=254),
    Field("password", "string", "The account's password.", max_length=256),
    Field("name", "string", "A label for the token.", required=False, max_length=100),
    Field(
        "days", "integer", "Lifetime in days (default VECHE_API_TOKEN_DAYS).", required=False,
        minimum=1, maximum=lambda s: s.api_token_max_days,
    ),
)
TOKEN_ID = Param(
    "token_id", "integer", "The token's id (from GET /tokens).", location="path",
    not_found=api_tokens.TOKEN_NOT_FOUND,
)


def _vote_op(route: str, handler: Callable[[Request, Call], Awaitable[Response]]) -> Operation:
    return Operation(route, handler, "VoteState", "votes", auth="required", permission="vote",
                     params=(IDEA_ID,), errors=(409,))


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET /ideas", ideas, "IdeaPage", "ideas", params=(Q, *FILTERS, SORT, PAGE, PAGE_SIZE)),
    Operation("GET /search", search, "IdeaPage", "ideas", params=(Q_REQUIRED, *FILTERS, PAGE, PAGE_SIZE)),
    Operation(
        "POST /ideas", create_idea, "Idea", "ideas", status=201, auth="required",
        permission="submit", body=IDEA_BODY, location=True,
    ),
    Operation(
        "GET /ideas/similar", similar_ideas, "SimilarIdeaList", "ideas", params=SIMILAR_PARAMS,
        errors=(400, 429, 503),
    ),
    Operation("GET /ideas/{idea_id}", idea, "Idea", "ideas", params=(IDEA_ID,)),
    _vote_op("POST /ideas/{idea_id}/support", support),
    _vote_op("DELETE /ideas/{idea_id}/support", withdraw),
    _vote_op("POST /ideas/{idea_id}/oppose", oppose),
    Operation(
        "GET /ideas/{idea_id}/comments", comments, "CommentPage", "comments",
        params=(IDEA_ID, PAGE, PAGE_SIZE),
    ),
    Operation(
        "POST /ideas/{idea_id}/comments", add_comment, "Comment", "comments", status=201,
        auth="required", permission="comment", params=(IDEA_ID,), body=COMMENT_BODY, errors=(409,),
    ),
    Operation("GET /categories", categories, "CategoryList", "taxonomy", auth="none"),
    Operation("GET /districts", districts, "DistrictList", "taxonomy", auth="none"),
    Operation("GET /me", me, "Me", "account", auth="required"),
    Operation(
        "POST /tokens", create_token, "Token", "account", status=201, auth="none",
        body=TOKEN_BODY, errors=(401, 409, 429),
    ),
    Operation(
        "GET /officials/shortlist", officials_shortlist, "Shortlist", "officials",
        auth="required", permission="answer", params=SHORTLIST_PARAMS,
    ),
    Operation(
        "POST /ideas/{idea_id}/status", set_status, "StatusChange", "officials",
        auth="required", permission="answer", params=(IDEA_ID,), body=STATUS_BODY, errors=(409,),
    ),
    # Last but the document: fuzzing may revoke its own callers' tokens here.
    Operation("GET /tokens", tokens, "TokenList", "account", auth="required"),
    Operation(
        "DELETE /tokens/{token_id}", revoke_token, "TokenRevoked", "account", auth="required",
        params=(TOKEN_ID,),
    ),
    Operation("GET /openapi.json", openapi, "OpenAPI", "meta", auth="none"),
)
# fmt: on


# --- the wrapper --------------------------------------------------------------------------------


# The rate-limit bucket of each write (webapp/kernel/ratelimit.py); other writes count in "write".
WRITE_BUCKETS = {
    "create_idea": "submit",
    "support": "vote",
    "withdraw": "vote",
    "oppose": "vote",
    "add_comment": "comment",
}


def _bearer_sent(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer")


async def _caller(request: Request, op: Operation) -> CurrentUser | None:
    """The authenticated caller; a bearer token that does not resolve is refused (401)."""
    if op.auth == "none":
        return None
    user = await current_user(request)
    if user is None and _bearer_sent(request):
        raise NotAuthenticated("The API token is invalid, expired or has been revoked.")
    if op.auth == "required":
        user = await require_user(request, op.permission)
        if op.is_write:
            check_csrf(request, request.headers.get(CSRF_HEADER))
            await rate_limit(request, WRITE_BUCKETS.get(op.name, "write"), f"user:{user.id}")
    return user


def _endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        settings = request.app.state.settings
        user = await _caller(request, op)
        params = parse_params(op.params, request.query_params, request.path_params, settings)
        body: dict[str, Any] = {}
        if op.body is not None:
            raw = await request.body()
            body = parse_body(op.body, request.headers.get("content-type"), raw, settings)
        response: Response = await op.handler(request, Call(user, params, body))
        return response

    endpoint.__name__ = endpoint.__qualname__ = f"api_{op.name}"
    return endpoint


def api_routes() -> list[BaseRoute]:
    return [
        Route(op.route_path, _endpoint(op), methods=[op.method], name=op.name) for op in OPERATIONS
    ]
