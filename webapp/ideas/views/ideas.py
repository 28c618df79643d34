"""Idea pages: list and search, submit, show, edit, support, comment, report."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from webapp.accounts.sessions import hash_sid
from webapp.ideas import comments as comments_service
from webapp.ideas import ideas as ideas_service
from webapp.ideas import photos as photos_service
from webapp.ideas import places, project_scope
from webapp.ideas import votes as votes_service
from webapp.ideas.exposure import viewer_key
from webapp.ideas.home import HomeBand, home_band
from webapp.ideas.progress import progress, progress_of, responded_ids
from webapp.ideas.views.listing import ranked_page
from webapp.kernel.dto import VoteState
from webapp.kernel.errors import N_, Conflict, InvalidInput, NotAuthenticated
from webapp.kernel.hooks import hooks_of
from webapp.kernel.settings import RANKED_SORTS, Settings
from webapp.kernel.storage.models import PERMANENT_PROJECT_ID, PUBLIC_STATUSES
from webapp.kernel.web import (
    SESSION_ID,
    SESSION_UID,
    csrf_token,
    current_user,
    db,
    drop_session_id,
    field_errors,
    flash,
    language,
    rate_limit,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.taxonomy import taxonomy


def _note_changed(request: Request, idea_id: int) -> None:
    """Tell the duplicate finder (when installed) that this idea's text changed."""
    similar = hooks_of(request.app.state).similar
    if similar is not None:
        similar.note_changed(request, idea_id)


def _int_param(value: str | None, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        return default
    return number if 0 < number < 2**31 else default


def available_sorts(settings: Settings, with_query: bool) -> tuple[str, ...]:
    """Sorts offered in lists: the ranked schemes, then the plain SQL ones."""
    ranked = tuple(s for s in RANKED_SORTS if s != "controversial" or settings.allow_oppose)
    plain = ("supporters", "discussed") + (("relevance",) if with_query else ())
    return ranked + plain


def filter_from_query(request: Request, **extra: Any) -> ideas_service.IdeaFilter:
    qp = request.query_params
    settings = request.app.state.settings
    status = qp.get("status")
    q = (qp.get("q") or "").strip()[:200]
    sort = qp.get("sort") or ("relevance" if q else settings.default_sort)
    return ideas_service.IdeaFilter(
        q=q,
        category_id=_int_param(qp.get("category")),
        district_id=_int_param(qp.get("district")),
        project_id=_int_param(qp.get("project")),
        status=status if status in PUBLIC_STATUSES else None,
        sort=sort if sort in available_sorts(settings, bool(q)) else settings.default_sort,
        page=_int_param(qp.get("page"), 1) or 1,
        **extra,
    )


def _taxonomy(session: Any) -> dict[str, Any]:
    categories = taxonomy.list_categories(session)
    districts = taxonomy.list_districts(session)
    return {
        "categories": categories,
        "districts": districts,
        "category_by_id": {c.id: c for c in categories},
        "district_by_id": {d.id: d for d in districts},
    }


def _cache_key(request: Request, flt: ideas_service.IdeaFilter) -> tuple[Any, ...] | None:
    """The micro-cache key of this list page, or None where the page is the visitor's own."""
    cache = request.app.state.page_cache
    if (
        not cache.enabled
        or flt.sort == "random"
        or request.query_params.get("mode") == "meaning"
        or SESSION_ID in request.session
        or "flash" in request.session
        or "authorization" in request.headers
    ):
        return None
    query = tuple(sorted(request.query_params.multi_items()))
    return (language(request), request.url.path, query)


async def index(request: Request) -> Response:
    flt = filter_from_query(request)
    key = _cache_key(request, flt)
    if key is None:
        context = await _index_context(request, flt)
        # a search by meaning over its rate limit or without a free lookup slot still answers
        # the page (the words search, with a notice), as 429 or 503 with Retry-After
        response = await render(request, "ideas/index.html", context, context.pop("like_status"))
        if (retry_after := context.pop("like_retry_after")) is not None:
            response.headers["retry-after"] = str(retry_after)
        return response
    cache = request.app.state.page_cache

    async def render_once() -> str:  # with a placeholder token, stored, served with each's own
        context = await _index_context(request, flt)
        context["csrf_token"] = cache.placeholder
        rendered = await render(request, "ideas/index.html", context)
        return bytes(rendered.body).decode()

    ranking = request.app.state.ranking
    html = await cache.page(key, lambda: ranking.cursor, csrf_token(request), render_once)
    return HTMLResponse(html)


def active_filters(flt: ideas_service.IdeaFilter, settings: Settings, meaning: bool) -> int:
    """How many of the collapsed choices differ from their default: «Фильтры (n)»."""
    chosen = (flt.category_id, flt.district_id, flt.status, flt.project_id)
    default_sort = "relevance" if flt.q else settings.default_sort
    return sum(value is not None for value in chosen) + (flt.sort != default_sort) + meaning


def is_home(flt: ideas_service.IdeaFilter, meaning: bool) -> bool:
    """The first page of all ideas, unfiltered: it opens with the home band."""
    chosen = (flt.category_id, flt.district_id, flt.status, flt.project_id)
    narrowed = flt.q or meaning or chosen != (None,) * 4
    return flt.page == 1 and not narrowed


def _recent_band(request: Request) -> HomeBand | None:
    """The home band this worker loaded within VECHE_PAGE_CACHE_SECONDS, if any.

    Anonymous visitors get the whole page from the page cache; signed-in ones (never cached)
    share the band for as long, so its counts over every idea run at most once a period.
    """
    stored = getattr(request.app.state, "home_band", None)
    ttl = request.app.state.settings.page_cache_seconds
    if stored is None or time.monotonic() - stored[0] > ttl:
        return None
    band: HomeBand = stored[1]
    return band


async def _index_context(request: Request, flt: ideas_service.IdeaFilter) -> dict[str, Any]:
    settings = request.app.state.settings
    size = settings.page_size
    ctx = await db(request, _taxonomy)
    # "By meaning": the ideas closest to the words typed, filtered like the list; when the
    # similarity service is not ready the words search below answers instead, with a notice.
    meaning = request.query_params.get("mode") == "meaning"
    ctx.update(mode="meaning" if meaning else "words", like_state="", like_message="")
    ctx.update(like_status=200, like_retry_after=None)
    similar = hooks_of(request.app.state).similar
    if meaning and flt.q and similar is not None:
        like = await similar.like_page(request, flt, flt.q, size)
        ctx["like_state"] = like.state
        ctx["like_message"] = similar.like_message(like.state)
        ctx.update(like_status=like.status, like_retry_after=like.retry_after)
        if like.state == "ready":
            ctx.update(page=like.page, matches=like.matches)
    if "page" not in ctx:
        if flt.sort in RANKED_SORTS:
            ctx["page"] = await ranked_page(request, flt, size)
        else:
            ctx["page"] = await db(request, ideas_service.list_ideas, flt, size)
    sorts = available_sorts(settings, bool(flt.q))
    cards = [(i.id, i.support_count, i.status) for i in ctx["page"].items]
    home = is_home(flt, meaning)
    band = _recent_band(request) if home else None
    load_band = home and band is None
    hooks = hooks_of(request.app.state)
    viewer = await current_user(request) if home else None

    def extras(session: Any) -> dict[str, Any]:
        return {
            "progress": progress_of(session, cards, settings.response_threshold),
            "thumbs": photos_service.first_photos(session, [i for i, _, _ in cards]),
            "home": home_band(session) if load_band else band,
            "idea_projects": project_scope.idea_projects(session, [i for i, _, _ in cards]),
            "project_choices": project_scope.published_projects(session),
            # per visitor (their district), never in the shared band: polls' "Polls for you"
            **(hooks.home_page(session, viewer) if home else {}),
        }

    ctx.update(await db(request, extras))
    if load_band:
        request.app.state.home_band = (time.monotonic(), ctx["home"])
    ctx.update(
        filter_count=active_filters(flt, settings, meaning),
        meaning_search=similar is not None,
    )
    return {"flt": flt, "statuses": PUBLIC_STATUSES, "sorts": sorts, **ctx}


async def my_ideas(request: Request) -> Response:
    user = await require_user(request)
    flt = filter_from_query(request, author_id=user.id, include_hidden=True)
    size = request.app.state.settings.page_size

    hooks = hooks_of(request.app.state)
    threshold = request.app.state.settings.response_threshold

    def load(session: Any) -> dict[str, Any]:
        page = ideas_service.list_ideas(session, flt, size)
        hidden = hooks.list_notes(session, [i.id for i in page.items])
        cards = [(i.id, i.support_count, i.status) for i in page.items]
        return {
            "page": page,
            "hidden_notes": hidden,
            "progress": progress_of(session, cards, threshold),
            "thumbs": photos_service.first_photos(session, [i.id for i in page.items]),
            "idea_projects": project_scope.idea_projects(session, [i.id for i in page.items]),
            **_taxonomy(session),
        }

    ctx = await db(request, load)
    return await render(
        request, "ideas/mine.html", {"flt": flt, "statuses": PUBLIC_STATUSES, **ctx}
    )


def _limits(request: Request) -> ideas_service.Limits:
    s = request.app.state.settings
    return ideas_service.Limits(title_max=s.title_max_length, body_max=s.body_max_length)


async def new_idea(request: Request) -> Response:
    user = await require_user(request, "submit")
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    status = 200
    gate_message = ""
    if request.method == "POST":
        values = await read_form(request)
        await rate_limit(request, "submit", f"user:{user.id}")
        try:
            await db(request, ideas_service.check_proposal, values, _limits(request))
            similar = hooks_of(request.app.state).similar
            check = (
                None
                if similar is None
                else await similar.check_before_publish(request, values, user)
            )
            if check is not None:  # similar ideas exist: show them before publishing
                return await _idea_form(request, values, errors, None, status, check)
            idea_id = await db(request, ideas_service.submit_idea, user, values, _limits(request))
        except InvalidInput as exc:
            errors = field_errors(request, exc)
            status = 422
        except Conflict as exc:  # the project's proposals are not open: keep the typed text
            gate_message = translator(request).gettext(exc.message, **exc.params)
            status = 409
        else:
            _note_changed(request, idea_id)
            flash(request, "Your idea is published. Thank you!", "success")
            return redirect(request, "idea", idea_id=idea_id)
    elif (chosen := _int_param(request.query_params.get("project"))) is not None:
        values["project_id"] = str(chosen)  # "Предложить идею" on a project's page
        gate = await db(request, project_scope.action_gate, chosen, "propose")
        gate_message = _gate_message(request, gate)
    return await _idea_form(request, values, errors, None, status, gate_message=gate_message)


def _gate_message(request: Request, gate: project_scope.ActionGate) -> str:
    """Why the action is closed, in the reader's language ("" when it is open)."""
    return "" if gate.open else translator(request).gettext(gate.message, **gate.params)


async def _idea_form(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    editing: Any,
    status: int,
    similar_ctx: dict[str, Any] | None = None,
    gate_message: str = "",
) -> Response:
    def load(session: Any) -> dict[str, Any]:
        ctx = _taxonomy(session)
        if editing is None:
            ctx["projects"] = project_scope.proposable_projects(session)
        return ctx

    ctx = await db(request, load)
    similar = hooks_of(request.app.state).similar
    if similar_ctx is None and similar is not None:
        similar_ctx = await similar.form_context(request)
    ctx.update(similar_ctx or {})
    return await render(
        request,
        "ideas/form.html",
        {
            "values": values,
            "errors": errors,
            "editing": editing,
            "gate_message": gate_message,
            **ctx,
        },
        status,
    )


async def edit_idea(request: Request) -> Response:
    user = await require_user(request)
    idea_id = request.path_params["idea_id"]
    idea = await db(request, ideas_service.get_idea, idea_id, user)
    values: dict[str, Any] = {
        "title": idea.title,
        "body": idea.body,
        "category_id": idea.category_id or "",
        "district_id": idea.district_id or "",
    }
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = await read_form(request)
        try:
            await db(request, ideas_service.edit_idea, user, idea_id, values, _limits(request))
        except InvalidInput as exc:
            errors = field_errors(request, exc)
            status = 422
        else:
            _note_changed(request, idea_id)
            flash(request, "Your changes are saved.", "success")
            return redirect(request, "idea", idea_id=idea_id)
    elif not idea.can_edit:
        flash(request, "An idea cannot be edited once it has supporters.", "error")
        return redirect(request, "idea", idea_id=idea_id)
    return await _idea_form(request, values, errors, idea, status)


async def show_idea(request: Request) -> Response:
    user = await current_user(request)
    idea_id = request.path_params["idea_id"]
    page = _int_param(request.query_params.get("page"), 1) or 1
    size = request.app.state.settings.page_size
    threshold = request.app.state.settings.response_threshold

    hooks = hooks_of(request.app.state)

    def load(session: Any) -> dict[str, Any]:
        idea = ideas_service.get_idea(session, idea_id, user)
        if idea.status == "merged" and idea.merged_into_id is not None:
            return {"idea": idea}  # redirected below
        comments = comments_service.list_comments(
            session, idea_id, page, size, viewer=user, threaded=True
        )
        responded = idea_id in responded_ids(session, [idea_id])
        project = project_scope.idea_projects(session, [idea_id]).get(idea_id)
        gate = project_scope.action_gate(
            session, project.id if project else PERMANENT_PROJECT_ID, "support"
        )
        return {
            "idea": idea,
            "project": project,
            "support_gate": gate,
            "comments": comments,
            "photos": photos_service.list_photos(session, idea_id),
            "place": places.idea_place(session, idea_id),
            "progress": progress(idea.support_count, threshold, idea.status, responded),
            # the moderators' note, the merge, the city's answer (webapp.kernel.hooks)
            **hooks.idea_page(session, idea_id, user, [c.id for c in comments.items]),
            **_taxonomy(session),
        }

    ctx = await db(request, load)
    idea = ctx["idea"]
    if "support_gate" in ctx:  # "Голосование откроется 1 марта 2027, 10:00" instead of the button
        ctx["support_closed"] = _gate_message(request, ctx["support_gate"])
    if idea.merged_into_id is not None and idea.status == "merged":
        # 303, not 301: an unmerge must be able to bring the idea's own page back.
        flash(request, "“%(title)s” was merged into this idea.", "info", title=idea.title)
        return redirect(request, "idea", idea_id=idea.merged_into_id)
    request.app.state.views.add(
        idea_id, viewer_key(user.id if user else None, anonymous_id(request))
    )
    scheme = request.app.state.settings.default_sort
    await request.app.state.ranking_sync.wait()
    ctx["why"] = request.app.state.ranking.explain(idea_id, scheme)
    ctx["why_scheme"] = scheme
    ctx["og_description"] = ideas_service.first_sentence(idea.body)
    photos = ctx.get("photos") or []
    ctx["og_image"] = str(request.url_for("media", file=f"{photos[0].key}.jpg")) if photos else None
    return await render(request, "ideas/show.html", ctx)


def anonymous_id(request: Request) -> str:
    """A random id kept in the session, so an anonymous visitor counts once per idea."""
    vid = request.session.get("vid")
    if not isinstance(vid, str):
        vid = secrets.token_urlsafe(12)
        request.session["vid"] = vid
    return vid


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@dataclass(frozen=True)
class SupportBox:
    """What the support box shows, straight from the vote's own transaction."""

    id: int
    support_count: int
    oppose_count: int
    my_vote: int
    can_edit: bool

    @classmethod
    def of(cls, state: VoteState) -> SupportBox:
        return cls(
            state.idea_id, state.support_count, state.oppose_count, state.my_vote, state.can_edit
        )


async def _vote_action(request: Request, action: str) -> Response:
    idea_id = request.path_params["idea_id"]
    allow_oppose = request.app.state.settings.allow_oppose
    sid, uid = request.session.get(SESSION_ID), request.session.get(SESSION_UID)
    if "authorization" in request.headers or not isinstance(sid, str) or not isinstance(uid, int):
        # a bearer token (or nobody): the general path, one lookup, then the vote
        user = await require_user(request, "vote")
        await read_form(request)
        await rate_limit(request, "vote", f"user:{user.id}")
        state = await db(request, votes_service.vote, user, idea_id, action, allow_oppose)
    else:
        # The site's button, the hot path of a popular vote: the signed cookie names the
        # account for the rate limit, CSRF and the rate limit need no database, and one
        # transaction both checks the session (not ended, not expired, the account not blocked)
        # and records the vote.
        await read_form(request)
        await rate_limit(request, "vote", f"user:{uid}")
        voted = await db(
            request,
            votes_service.vote_as,
            hash_sid(sid),
            idea_id,
            action,
            allow_oppose,
            policy=request.app.state.session_policy,  # built by create_app
        )
        if voted is None:
            drop_session_id(request)
            request.state.user = None
            raise NotAuthenticated("Please log in first.")
        request.state.user, state = voted
    if state.changed:  # this worker's ranking reflects the vote at once; others within a poll
        await request.app.state.ranking_sync.wait()
    if _wants_json(request):
        box = await render(request, "ideas/_support_box.html", {"idea": SupportBox.of(state)})
        return JSONResponse(
            {
                "idea_id": state.idea_id,
                "support_count": state.support_count,
                "oppose_count": state.oppose_count,
                "my_vote": state.my_vote,
                "changed": state.changed,
                "html": bytes(box.body).decode(),
            }
        )
    if state.changed:
        messages = {
            "support": N_("Thank you for your support!"),
            "oppose": N_("Your objection is recorded."),
            "withdraw": N_("Your vote is withdrawn."),
        }
        flash(request, messages[action], "success")
    return redirect(request, "idea", idea_id=idea_id)


async def support(request: Request) -> Response:
    return await _vote_action(request, "support")


async def oppose(request: Request) -> Response:
    return await _vote_action(request, "oppose")


async def withdraw(request: Request) -> Response:
    return await _vote_action(request, "withdraw")


async def comment(request: Request) -> Response:
    user = await require_user(request, "comment")
    idea_id = request.path_params["idea_id"]
    form = await read_form(request)
    await rate_limit(request, "comment", f"user:{user.id}")
    max_len = request.app.state.settings.comment_max_length
    try:
        comment_id = await db(
            request,
            comments_service.add_comment,
            user,
            idea_id,
            form.get("body"),
            max_len,
            parent_id=form.get("parent_id"),
            email=request.app.state.settings.email_enabled,
        )
    except InvalidInput as exc:
        tr = translator(request)
        msg, params = next(iter(exc.errors.values()))
        flash(
            request,
            "Your comment was not saved: %(reason)s",
            "error",
            reason=tr.gettext(msg, **params),
        )
        response: Response = redirect(request, "idea", idea_id=idea_id)
        response.status_code = 303
        return response
    flash(request, "Your comment is published.", "success")
    return RedirectResponse(
        str(request.app.url_path_for("idea", idea_id=idea_id)) + f"#comment-{comment_id}",
        status_code=303,
    )
