"""Ideas: submit, edit, find, show."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from webapp.ideas import project_scope
from webapp.kernel.dto import MAX_PAGE, CurrentUser, IdeaDetail, IdeaSummary, Page
from webapp.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from webapp.kernel.search_text import detect_language, search_document
from webapp.kernel.security import can
from webapp.kernel.storage.models import (
    PUBLIC_STATUSES,
    Category,
    District,
    Idea,
    User,
    Vote,
    utcnow,
)
from webapp.kernel.storage.search import apply_search
from webapp.kernel.validation import Errors, clean_optional_id, clean_text
from webapp.projects.gates import require_open
from webapp.ranking import ranking_log

# Sorts done in SQL; the ranked schemes (webapp.kernel.settings.RANKED_SORTS) come from the snapshot.
SQL_SORTS = ("supporters", "discussed", "relevance")
SEARCH_CANDIDATES = 5_000  # matches of a search that get ranked by a scheme
VOTABLE_STATUSES = ("published", "under_review", "accepted", "in_progress")
EXCERPT_LENGTH = 240
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")


@dataclass(frozen=True)
class IdeaFilter:
    q: str = ""
    category_id: int | None = None
    district_id: int | None = None
    status: str | None = None
    author_id: int | None = None
    project_id: int | None = None
    sort: str = "supporters"
    page: int = 1
    include_hidden: bool = False


@dataclass(frozen=True)
class Limits:
    title_max: int = 200
    body_max: int = 10_000


def excerpt(body: str, length: int = EXCERPT_LENGTH) -> str:
    flat = " ".join(body.split())
    if len(flat) <= length:
        return flat
    return flat[:length].rsplit(" ", 1)[0] + "…"


def first_sentence(body: str, length: int = 200) -> str:
    """The body's first sentence (a page's description for search engines and link previews)."""
    flat = " ".join(body.split())
    match = _SENTENCE_END.search(flat)
    sentence = flat[: match.end()].strip() if match else flat
    return excerpt(sentence, length)


def _common(idea: Idea, author_name: str | None) -> dict[str, Any]:
    """The fields IdeaSummary and IdeaDetail share."""
    return {
        "id": idea.id,
        "title": idea.title,
        "status": idea.status,
        "language": idea.language,
        "category_id": idea.category_id,
        "district_id": idea.district_id,
        "author_id": idea.author_id,
        "author_name": author_name,
        "support_count": idea.support_count,
        "oppose_count": idea.oppose_count,
        "comment_count": idea.comment_count,
        "created_at": idea.created_at,
        "external_ref": idea.external_ref,
    }


def _summary(idea: Idea, author_name: str | None) -> IdeaSummary:
    return IdeaSummary(**_common(idea, author_name), excerpt=excerpt(idea.body))


def district_and_children(session: Session, district_id: int) -> list[int]:
    children = session.scalars(select(District.id).where(District.parent_id == district_id))
    return [district_id, *children]


def _filtered(session: Session, flt: IdeaFilter) -> Select[Idea]:
    stmt = select(Idea)
    if flt.status:
        stmt = stmt.where(Idea.status == flt.status)
    elif not flt.include_hidden:
        stmt = stmt.where(Idea.status.in_(PUBLIC_STATUSES))
    if flt.category_id is not None:
        stmt = stmt.where(Idea.category_id == flt.category_id)
    if flt.district_id is not None:
        stmt = stmt.where(Idea.district_id.in_(district_and_children(session, flt.district_id)))
    if flt.author_id is not None:
        stmt = stmt.where(Idea.author_id == flt.author_id)
    if flt.project_id is not None:
        stmt = stmt.where(Idea.project_id == flt.project_id)
    return stmt


def list_ideas(session: Session, flt: IdeaFilter, page_size: int) -> Page[IdeaSummary]:
    """A page of ideas matching the filter, sorted in SQL (see SQL_SORTS), with the total."""
    stmt = _filtered(session, flt)
    rank = None
    if flt.q.strip():
        stmt, rank = apply_search(session, stmt, flt.q)
    # Count before joining the authors: the join would make PostgreSQL scan every user.
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page_stmt = stmt.add_columns(User.display_name).outerjoin(User, User.id == Idea.author_id)
    sort = flt.sort
    if sort == "relevance" and rank is not None:
        page_stmt = page_stmt.order_by(rank.desc(), Idea.id.desc())
    elif sort == "supporters":
        page_stmt = page_stmt.order_by(Idea.support_count.desc(), Idea.id.desc())
    elif sort == "discussed":
        page_stmt = page_stmt.order_by(Idea.comment_count.desc(), Idea.id.desc())
    else:
        page_stmt = page_stmt.order_by(Idea.created_at.desc(), Idea.id.desc())
    page = min(max(1, flt.page), MAX_PAGE)
    rows = session.execute(page_stmt.limit(page_size).offset((page - 1) * page_size)).all()
    return Page([_summary(i, n) for i, n in rows], page, page_size, total)


def search_ids(session: Session, flt: IdeaFilter, limit: int = SEARCH_CANDIDATES) -> list[int]:
    """Ids of the public ideas matching ``flt.q`` and the filters, most relevant first."""
    stmt = _filtered(session, flt)
    stmt, rank = apply_search(session, stmt.with_only_columns(Idea.id), flt.q)
    if rank is not None:
        stmt = stmt.order_by(rank.desc(), Idea.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def summaries(session: Session, idea_ids: list[int]) -> list[IdeaSummary]:
    """Summaries of the given ideas, in the given order (ids not found are left out)."""
    if not idea_ids:
        return []
    rows = session.execute(
        select(Idea, User.display_name)
        .outerjoin(User, User.id == Idea.author_id)
        .where(Idea.id.in_(idea_ids))
    ).all()
    by_id = {idea.id: _summary(idea, name) for idea, name in rows}
    return [by_id[i] for i in idea_ids if i in by_id]


def _visible(idea: Idea, viewer: CurrentUser | None) -> bool:
    if idea.status != "hidden":
        return True
    return viewer is not None and (viewer.id == idea.author_id or can(viewer.role, "moderate"))


def get_idea(session: Session, idea_id: int, viewer: CurrentUser | None) -> IdeaDetail:
    row = session.execute(
        select(Idea, User.display_name)
        .outerjoin(User, User.id == Idea.author_id)
        .where(Idea.id == idea_id)
    ).first()
    if row is None or not _visible(row[0], viewer):
        raise NotFound("Idea not found.")
    idea, author_name = row
    my_vote = 0
    if viewer is not None:
        # The viewer's standing on the idea's cluster (it and the ideas merged into it): a +1
        # anywhere makes a supporter, as the counters count (webapp.dedup.merges).
        cluster = select(Idea.id).where(or_(Idea.id == idea.id, Idea.merged_into_id == idea.id))
        my_vote = (
            session.scalar(
                select(func.max(Vote.value)).where(
                    Vote.idea_id.in_(cluster), Vote.user_id == viewer.id
                )
            )
            or 0
        )
    return IdeaDetail(
        **_common(idea, author_name),
        body=idea.body,
        merged_into_id=idea.merged_into_id,
        updated_at=idea.updated_at,
        my_vote=my_vote,
        can_edit=viewer is not None and _editable(idea, viewer),
    )


def _editable(idea: Idea, user: CurrentUser) -> bool:
    return (
        idea.author_id == user.id
        and idea.status == "published"
        and idea.support_count == 0
        and idea.oppose_count == 0
    )


def clean_idea(session: Session, data: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """Validate title, body, category_id and district_id as the site does; raises InvalidInput."""
    errors = Errors()
    title = clean_text(
        errors,
        "title",
        data.get("title"),
        min_length=5,
        max_length=limits.title_max,
        one_script_words=True,
    )
    body = clean_text(
        errors, "body", data.get("body"), min_length=20, max_length=limits.body_max, multiline=True
    )
    category_id = clean_optional_id(errors, "category_id", data.get("category_id"))
    district_id = clean_optional_id(errors, "district_id", data.get("district_id"))
    if category_id is None and "category_id" not in errors.errors:
        errors.add("category_id", "Choose a category.")
    elif category_id is not None and session.get(Category, category_id) is None:
        errors.add("category_id", "Unknown value.")
    if district_id is not None and session.get(District, district_id) is None:
        errors.add("district_id", "Unknown value.")
    errors.raise_if_any()
    return {"title": title, "body": body, "category_id": category_id, "district_id": district_id}


def check_proposal(
    session: Session, data: dict[str, Any], limits: Limits = Limits()
) -> dict[str, Any]:
    """Validate a new idea and its project (``project_id``, default the permanent pool), then
    check that the project takes proposals now: InvalidInput (422) for bad fields, an unknown or
    draft project; Conflict (409, saying when proposals open or closed) out of stage."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    clean: dict[str, Any] = {}
    try:
        clean = clean_idea(session, data, limits)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        project_id = project_scope.clean_project(session, data.get("project_id"))
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    require_open(session, project_id, "propose")
    return {**clean, "project_id": project_id}


def submit_idea(
    session: Session, author: CurrentUser, data: dict[str, Any], limits: Limits = Limits()
) -> int:
    """Validate and store a new idea in its project (open for proposals); returns its id."""
    if not can(author.role, "submit"):
        raise PermissionDenied("You may not submit ideas.")
    clean = check_proposal(session, data, limits)
    language = detect_language(f"{clean['title']}\n{clean['body']}")
    idea = Idea(
        **clean,
        author_id=author.id,
        language=language,
        status="published",
        search_doc=search_document(clean["title"], clean["body"]),
    )
    session.add(idea)
    session.flush()
    ranking_log.idea_changed(session, idea.id)
    return idea.id


def edit_idea(
    session: Session,
    user: CurrentUser,
    idea_id: int,
    data: dict[str, Any],
    limits: Limits = Limits(),
) -> None:
    """The author may edit an idea while nobody has supported it."""
    idea = session.get(Idea, idea_id, with_for_update=True)
    if idea is None or not _visible(idea, user):
        raise NotFound("Idea not found.")
    if idea.author_id != user.id:
        raise PermissionDenied("Only the author may edit this idea.")
    if not _editable(idea, user):
        raise Conflict("An idea cannot be edited once it has supporters.")
    clean = clean_idea(session, data, limits)
    for key, value in clean.items():
        setattr(idea, key, value)
    idea.language = detect_language(f"{clean['title']}\n{clean['body']}")
    idea.search_doc = search_document(clean["title"], clean["body"])
    idea.updated_at = utcnow()
    session.flush()
    ranking_log.idea_changed(session, idea.id)
