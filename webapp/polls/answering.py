"""Residents answer a poll: once each (the database's unique key says so), checked whole before
anything is stored, and replaced whole when the city allows changes.

Nobody but the resident reads an individual answer: ``my_answer`` takes the caller's own id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, Conflict, NotAuthenticated, NotFound, PermissionDenied
from webapp.kernel.storage.models import Poll, PollAnswer, PollResponse, utcnow
from webapp.kernel.validation import Errors, clean_text
from webapp.polls.polls import (
    PollDetail,
    PollSummary,
    QuestionView,
    in_audience,
    poll_detail,
    summarize,
)

OTHER_MAX = 500
ALREADY = N_("You have already answered this poll.")


@dataclass(frozen=True)
class RawAnswer:
    """One question's answer as sent: chosen option ids (single/multiple), a scale point, the
    options in rank order (ranking: first = rank 1), and the "other" text."""

    options: tuple[int, ...] = ()
    value: int | None = None
    order: tuple[int, ...] = ()
    other: str = ""


@dataclass(frozen=True)
class AnswerPage:
    detail: PollDetail
    refusal: str | None  # why the caller may not answer now (a message id); None: they may
    mine: dict[int, RawAnswer] | None  # the caller's own answer; None: not answered
    answered_at: datetime | None = None


@dataclass(frozen=True)
class Saved:
    poll_id: int
    replaced: bool
    saved_at: datetime


def _visible(session: Session, poll_id: int, staff: bool) -> PollDetail:
    detail = poll_detail(session, poll_id)
    if not detail.poll.published and not staff:
        raise NotFound(N_("Poll not found."))
    return detail


def refusal(
    session: Session, detail: PollDetail, user: CurrentUser | None, now: datetime
) -> str | None:
    """Why ``user`` may not answer the poll now (a message id), or None."""
    poll = detail.poll
    if not poll.published:
        return N_("This poll is not published yet.")
    if now < poll.opens_at:
        return N_("This poll has not opened yet.")
    if now >= poll.closes_at:
        return N_("This poll is closed.")
    if user is None:
        return N_("Please log in first.")
    if poll.verified_only and not user.verified_resident:
        return N_("Only verified residents may answer this poll.")
    if not in_audience(session, poll.id, user.district_id):
        return N_("This poll asks residents of other districts.")
    return None


def my_answer(
    session: Session, user_id: int, poll_id: int
) -> tuple[dict[int, RawAnswer], datetime] | None:
    """The caller's own answer to a poll, by question, and when it was saved; None if none."""
    response = session.scalar(
        select(PollResponse).where(PollResponse.poll_id == poll_id, PollResponse.user_id == user_id)
    )
    if response is None:
        return None
    rows = session.scalars(
        select(PollAnswer).where(PollAnswer.response_id == response.id).order_by(PollAnswer.id)
    )
    options: dict[int, list[int]] = {}
    ranks: dict[int, list[tuple[int, int]]] = {}
    values: dict[int, int] = {}
    others: dict[int, str] = {}
    kinds = {q.id: q.kind for q in poll_detail(session, poll_id).questions}
    for a in rows:
        kind = kinds.get(a.question_id)
        if a.option_id is None:
            if a.other_text is not None:
                others[a.question_id] = a.other_text
            elif a.value is not None:
                values[a.question_id] = a.value
        elif kind == "ranking" and a.value is not None:
            ranks.setdefault(a.question_id, []).append((a.value, a.option_id))
        else:
            options.setdefault(a.question_id, []).append(a.option_id)
    result = {
        qid: RawAnswer(
            options=tuple(options.get(qid, ())),
            value=values.get(qid),
            order=tuple(o for _, o in sorted(ranks.get(qid, []))),
            other=others.get(qid, ""),
        )
        for qid in set(options) | set(ranks) | set(values) | set(others)
    }
    return result, response.updated_at


def answer_page(
    session: Session,
    poll_id: int,
    user: CurrentUser | None,
    staff: bool = False,
    now: datetime | None = None,
) -> AnswerPage:
    """A poll's form for the visitor: the questions, why they may not answer (if so) and their
    own answer (if any). 404 for a draft unless ``staff``."""
    now = now or utcnow()
    detail = _visible(session, poll_id, staff)
    mine = my_answer(session, user.id, poll_id) if user is not None else None
    return AnswerPage(
        detail=detail,
        refusal=refusal(session, detail, user, now),
        mine=mine[0] if mine else None,
        answered_at=mine[1] if mine else None,
    )


def _check(errors: Errors, q: QuestionView, raw: RawAnswer | None) -> list[PollAnswer]:
    """The rows that store one question's answer; a message in ``errors`` when it is wrong."""
    name = f"q{q.id}"
    option_ids = {o.id for o in q.options}
    rows: list[PollAnswer] = []
    raw = raw or RawAnswer()
    other = ""
    if raw.other.strip():
        if not q.allow_other:
            errors.add(name, "This question has no free answer.")
            return []
        other = clean_text(
            errors, name, raw.other, min_length=1, max_length=OTHER_MAX, multiline=True
        )
    if q.kind in ("single", "multiple"):
        chosen = list(dict.fromkeys(raw.options))
        if any(o not in option_ids for o in chosen):
            errors.add(name, "Choose among the question's options.")
            return []
        count = len(chosen) + (1 if other else 0)
        if q.kind == "single" and count > 1:
            errors.add(name, "Choose one answer.")
        elif q.kind == "multiple" and q.max_choices is not None and count > q.max_choices:
            errors.add(name, "Choose at most %(max)s answers.", max=q.max_choices)
        elif count == 0 and q.required:
            errors.add(name, "Please answer this question.")
        rows = [PollAnswer(question_id=q.id, option_id=o) for o in chosen]
        if other:
            rows.append(PollAnswer(question_id=q.id, option_id=None, other_text=other))
    elif q.kind == "scale":
        if raw.value is None:
            if q.required:
                errors.add(name, "Please answer this question.")
        elif (
            q.scale_min is None
            or q.scale_max is None
            or not (q.scale_min <= raw.value <= q.scale_max)
        ):
            errors.add(name, "Choose a point on the scale.")
        else:
            rows = [PollAnswer(question_id=q.id, option_id=None, value=raw.value)]
    elif q.kind == "ranking":
        if not raw.order:
            if q.required:
                errors.add(name, "Please answer this question.")
        elif sorted(raw.order) != sorted(option_ids) or len(set(raw.order)) != len(raw.order):
            errors.add(name, "Give each option its own place, from first to last.")
        else:
            rows = [
                PollAnswer(question_id=q.id, option_id=o, value=rank)
                for rank, o in enumerate(raw.order, start=1)
            ]
    return rows


def submit(
    session: Session,
    user: CurrentUser | None,
    poll_id: int,
    answers: dict[int, RawAnswer],
    now: datetime | None = None,
) -> Saved:
    """Store the caller's answer to every question, or nothing at all.

    Refused: 401 not signed in; 404 a draft; 409 outside the open window or already answered
    where changes are not allowed; 403 outside the audience or not verified where only verified
    residents answer; 422 per question (required, too many choices, off the scale, a ranking
    that is not a full order, "other" text too long). One ``PollResponse`` and its answers in
    this transaction; a second answer replaces the first when the poll allows changes. The
    first answer freezes the poll's questions.
    """
    now = now or utcnow()
    if user is None:
        raise NotAuthenticated(N_("Please log in first."))
    detail = _visible(session, poll_id, staff=False)
    why = refusal(session, detail, user, now)
    if why is not None:
        if why in (
            N_("Only verified residents may answer this poll."),
            N_("This poll asks residents of other districts."),
        ):
            raise PermissionDenied(why)
        raise Conflict(why)
    errors = Errors()
    known = {q.id for q in detail.questions}
    for qid in answers:
        if qid not in known:
            errors.add(f"q{qid}", "Unknown question.")
    rows = [r for q in detail.questions for r in _check(errors, q, answers.get(q.id))]
    errors.raise_if_any()

    replaced = False
    response = PollResponse(
        poll_id=poll_id,
        user_id=user.id,
        district_id=user.district_id,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError:
        existing = session.scalar(
            select(PollResponse).where(
                PollResponse.poll_id == poll_id, PollResponse.user_id == user.id
            )
        )
        if existing is None:  # pragma: no cover - another constraint failed
            raise
        if not detail.poll.allow_change:
            raise Conflict(ALREADY) from None
        session.execute(delete(PollAnswer).where(PollAnswer.response_id == existing.id))
        existing.updated_at = now
        existing.district_id = user.district_id
        response = existing
        replaced = True
    for row in rows:
        row.response_id = response.id
    session.add_all(rows)
    session.execute(
        update(Poll)
        .where(Poll.id == poll_id, Poll.frozen_at.is_(None))
        .values(frozen_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return Saved(poll_id=poll_id, replaced=replaced, saved_at=now)


@dataclass(frozen=True)
class MyPoll:
    poll: PollSummary
    answered_at: datetime


def my_polls(session: Session, user_id: int) -> tuple[list[MyPoll], int]:
    """The polls the caller answered (latest first) and the points earned (the sum of the
    polls' points; 0 where the city does not reward)."""
    rows = session.execute(
        select(Poll, PollResponse.created_at)
        .join(PollResponse, PollResponse.poll_id == Poll.id)
        .where(PollResponse.user_id == user_id)
        .order_by(PollResponse.created_at.desc(), Poll.id.desc())
    ).all()
    items = [MyPoll(summarize(p), at) for p, at in rows]
    return items, sum(i.poll.points for i in items)
