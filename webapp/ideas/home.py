"""The home band above the first page of ideas: the numbers that matter and the city's answers.

Four counts over the public ideas in one query (ideas, supports, ideas the city answered,
implemented ones), two short lists: the ideas the city answered most recently and the latest
implemented ones, each with the first line of the city's latest answer, and the city's projects
whose proposals or voting are open now. The page that shows it is
cached like the list itself (webapp/kernel/page_cache.py) for anonymous visitors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, and_, case, func, or_, select
from sqlalchemy.orm import Session

from webapp.ideas.progress import DECIDED_STATUSES
from webapp.kernel.search_text import detect_language
from webapp.kernel.storage.models import PUBLIC_STATUSES, Idea, OfficialResponse
from webapp.projects.listing import ProjectCard, open_projects

HOME_ITEMS = 3  # cards per list in the band
ANSWER_LINE = 200  # characters of the answer's first line shown on a card


@dataclass(frozen=True)
class HomeNumbers:
    ideas: int  # public ideas
    supports: int  # their supporters, added up (each idea counts its own once)
    answered: int  # public ideas with the city's answer or decision
    implemented: int


@dataclass(frozen=True)
class AnsweredIdea:
    """A card of the band: an idea and the first line of the city's latest answer, if any."""

    id: int
    title: str
    language: str
    status: str
    support_count: int
    answer: str | None
    answer_language: str  # the answer's own language: a foreign example may carry its source's
    answered_at: datetime | None


@dataclass(frozen=True)
class HomeBand:
    numbers: HomeNumbers
    answered: tuple[AnsweredIdea, ...]
    implemented: tuple[AnsweredIdea, ...]
    # the city's projects whose proposals or voting are open now (at most HOME_ITEMS)
    projects: tuple[ProjectCard, ...] = ()


def _answered_clause() -> ColumnElement[bool]:
    return or_(Idea.responded_at.is_not(None), Idea.status.in_(DECIDED_STATUSES))


def numbers(session: Session) -> HomeNumbers:
    """The four counts, in one pass over the public ideas."""
    answered = case((_answered_clause(), 1), else_=0)
    implemented = case((Idea.status == "implemented", 1), else_=0)
    row = session.execute(
        select(
            func.count(Idea.id),
            func.coalesce(func.sum(Idea.support_count), 0),
            func.coalesce(func.sum(answered), 0).cast(Integer),
            func.coalesce(func.sum(implemented), 0).cast(Integer),
        ).where(Idea.status.in_(PUBLIC_STATUSES))
    ).one()
    return HomeNumbers(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def first_line(text: str, length: int = ANSWER_LINE) -> str | None:
    """The first non-empty line of an answer, cut at a word near ``length`` characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not line:
        return None
    if len(line) <= length:
        return line
    return line[:length].rsplit(" ", 1)[0] + "…"


def _answers(session: Session, idea_ids: Sequence[int]) -> dict[int, str]:
    """The first line of each idea's latest non-empty answer."""
    if not idea_ids:
        return {}
    rows = session.execute(
        select(OfficialResponse.idea_id, OfficialResponse.body)
        .where(OfficialResponse.idea_id.in_(list(idea_ids)), OfficialResponse.body != "")
        .order_by(OfficialResponse.created_at.desc(), OfficialResponse.id.desc())
    ).all()
    out: dict[int, str] = {}
    for idea_id, body in rows:
        if idea_id not in out and (line := first_line(body)) is not None:
            out[idea_id] = line
    return out


def _cards(session: Session, where: ColumnElement[bool], limit: int) -> tuple[AnsweredIdea, ...]:
    moment = func.coalesce(Idea.responded_at, Idea.status_changed_at, Idea.created_at)
    rows = session.execute(
        select(
            Idea.id,
            Idea.title,
            Idea.language,
            Idea.status,
            Idea.support_count,
            func.coalesce(Idea.responded_at, Idea.status_changed_at),
        )
        .where(Idea.status.in_(PUBLIC_STATUSES), where)
        .order_by(moment.desc(), Idea.id.desc())
        .limit(limit)
    ).all()
    answers = _answers(session, [r[0] for r in rows])
    return tuple(
        AnsweredIdea(
            id=r[0],
            title=r[1],
            language=r[2],
            status=r[3],
            support_count=r[4],
            answer=answers.get(r[0]),
            answer_language=detect_language(answers.get(r[0]) or r[1]),
            answered_at=r[5],
        )
        for r in rows
    )


def home_band(session: Session, limit: int = HOME_ITEMS) -> HomeBand:
    """The counts, the latest answered ideas (not yet implemented), the latest implemented and
    the projects open now."""
    answered_open = and_(_answered_clause(), Idea.status != "implemented")
    return HomeBand(
        numbers=numbers(session),
        answered=_cards(session, answered_open, limit),
        implemented=_cards(session, Idea.status == "implemented", limit),
        projects=tuple(open_projects(session, limit=limit)),
    )
