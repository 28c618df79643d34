"""The ideas' JSON API: list, search, read, submit, vote, comment (/api/v1/ideas…)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.ideas import comments as comments_service
from webapp.ideas import ideas as ideas_service
from webapp.ideas import project_scope
from webapp.ideas import votes as votes_service
from webapp.ideas.project_scope import ProjectRef
from webapp.ideas.views.listing import ranked_page
from webapp.kernel.api import FILTERS, PAGE, PAGE_SIZE, absolute, named, page_json
from webapp.kernel.dto import CommentView, CurrentUser, IdeaDetail, IdeaSummary, Page, VoteState
from webapp.kernel.errors import N_
from webapp.kernel.hooks import hooks_of
from webapp.kernel.openapi import Call, Field, Operation, Param
from webapp.kernel.routing import MAX_ID
from webapp.kernel.settings import RANKED_SORTS
from webapp.kernel.storage.models import PERMANENT_PROJECT_ID
from webapp.kernel.web import db, language
from webapp.taxonomy.taxonomy import Names

SORTS = (*RANKED_SORTS, "supporters", "discussed", "relevance")
QUERY_LENGTH = 200

# --- serialisation ------------------------------------------------------------------------------


def _summary(
    request: Request, idea: IdeaSummary | IdeaDetail, names: Names, projects: dict[int, ProjectRef]
) -> dict[str, Any]:
    lang = language(request)
    project = projects.get(idea.id)
    text = idea.excerpt if isinstance(idea, IdeaSummary) else ideas_service.excerpt(idea.body)
    return {
        "id": idea.id,
        "title": idea.title,
        "excerpt": text,
        "status": idea.status,
        "language": idea.language,
        "project_id": project.id if project else PERMANENT_PROJECT_ID,
        "category": named(names.categories.get(idea.category_id or 0), lang),
        "district": named(names.districts.get(idea.district_id or 0), lang),
        "author_name": idea.author_name,
        "support_count": idea.support_count,
        "oppose_count": idea.oppose_count,
        "comment_count": idea.comment_count,
        "created_at": idea.created_at.isoformat(),
        "url": absolute(request, "api:idea", idea_id=idea.id),
        "html_url": absolute(request, "idea", idea_id=idea.id),
    }


def _detail(
    request: Request,
    idea: IdeaDetail,
    names: Names,
    projects: dict[int, ProjectRef],
    user: CurrentUser | None,
) -> dict[str, Any]:
    data = _summary(request, idea, names, projects)
    merged = idea.merged_into_id
    data.update(
        body=idea.body,
        updated_at=idea.updated_at.isoformat(),
        merged_into=merged,
        my_vote=idea.my_vote if user is not None else None,
        links={
            "self": data["url"],
            "html": data["html_url"],
            "comments": absolute(request, "api:comments", idea_id=idea.id),
            "merged_into": absolute(request, "api:idea", idea_id=merged) if merged else None,
        },
    )
    return data


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


# --- handlers -----------------------------------------------------------------------------------


async def _idea_page(request: Request, flt: ideas_service.IdeaFilter, size: int) -> Response:
    ranked = await ranked_page(request, flt, size) if flt.sort in RANKED_SORTS else None

    def load(session: Session) -> tuple[Page[IdeaSummary], Names, dict[int, ProjectRef]]:
        page = ranked or ideas_service.list_ideas(session, flt, size)
        projects = project_scope.idea_projects(session, [i.id for i in page.items])
        return page, Names(session), projects

    page, names, projects = await db(request, load)
    items = [_summary(request, i, names, projects) for i in page.items]
    return JSONResponse(page_json(page, items))


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
        project_id=p["project_id"],
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
        project_id=p["project_id"],
        status=p["status"],
        sort="relevance",
        page=p["page"],
    )
    return await _idea_page(request, flt, p["page_size"])


async def idea(request: Request, call: Call) -> Response:
    """One idea in full

    A merged idea is returned with merged_into set to the idea it joined.
    """

    def load(session: Session) -> tuple[IdeaDetail, Names, dict[int, ProjectRef]]:
        found = ideas_service.get_idea(session, call.params["idea_id"], call.user)
        return found, Names(session), project_scope.idea_projects(session, [found.id])

    idea, names, projects = await db(request, load)
    return JSONResponse(_detail(request, idea, names, projects, call.user))


def _limits(request: Request) -> ideas_service.Limits:
    s = request.app.state.settings
    return ideas_service.Limits(title_max=s.title_max_length, body_max=s.body_max_length)


async def create_idea(request: Request, call: Call) -> Response:
    """Submit an idea

    Answers 201 with the idea and its URL in the Location header. project_id (default: 1, the
    permanent pool) must name a published project whose proposals are open now: 409 says when
    they open or closed.
    """
    limits = _limits(request)

    def work(session: Session) -> tuple[IdeaDetail, Names, dict[int, ProjectRef]]:
        idea_id = ideas_service.submit_idea(session, call.user, call.body, limits)
        found = ideas_service.get_idea(session, idea_id, call.user)
        return found, Names(session), project_scope.idea_projects(session, [idea_id])

    idea, names, projects = await db(request, work)
    similar = hooks_of(request.app.state).similar
    if similar is not None:  # the duplicate finder embeds the new idea soon
        similar.note_changed(request, idea.id)
    data = _detail(request, idea, names, projects, call.user)
    return JSONResponse(data, status_code=201, headers={"Location": data["url"]})


async def support(request: Request, call: Call) -> Response:
    """Support an idea

    Idempotent: supporting twice keeps one vote (changed is false the second time). 409 when
    the idea's project is not in its voting stage (the permanent pool is always open).
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
    return JSONResponse(page_json(page, [_comment(c) for c in page.items]))


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


# --- the table ----------------------------------------------------------------------------------
# fmt: off

IDEA_ID = Param(
    "idea_id", "integer", "The idea's id.", location="path", not_found=N_("Idea not found.")
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
IDEA_BODY = (
    Field("title", "string", "5 characters or more.", max_length=lambda s: s.title_max_length),
    Field("body", "string", "20 characters or more.", max_length=lambda s: s.body_max_length),
    Field("category_id", "id", "A category id from GET /categories."),
    Field("district_id", "id", "A district or okrug id.", required=False, nullable=True),
    Field(
        "project_id", "id", "The project (GET /projects) whose proposals are open now; default 1, "
        "the permanent pool.", required=False, nullable=True,
    ),
)
PROJECT = Param(
    "project_id", "integer", "Only this project's ideas (id; 1: the permanent pool).",
    minimum=1, maximum=MAX_ID,
)
COMMENT_BODY = (Field("body", "string", "2 characters or more.", max_length=lambda s: s.comment_max_length),)


def _vote_op(route: str, handler: Callable[[Request, Call], Awaitable[Response]]) -> Operation:
    return Operation(route, handler, "VoteState", "votes", auth="required", permission="vote",
                     params=(IDEA_ID,), errors=(409,), bucket="vote")


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /ideas", ideas, "IdeaPage", "ideas",
        params=(Q, *FILTERS, PROJECT, SORT, PAGE, PAGE_SIZE),
    ),
    Operation(
        "GET /search", search, "IdeaPage", "ideas",
        params=(Q_REQUIRED, *FILTERS, PROJECT, PAGE, PAGE_SIZE),
    ),
    Operation(
        "POST /ideas", create_idea, "Idea", "ideas", status=201, auth="required",
        permission="submit", body=IDEA_BODY, location=True, bucket="submit", errors=(409,),
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
        bucket="comment",
    ),
)
# fmt: on
