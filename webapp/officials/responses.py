"""Official answers: the status workflow of a proposal and its public response history.

The workflow is one table, :data:`TRANSITIONS` (documented in docs/officials.md)::

    published    -> under_review, accepted, rejected
    under_review -> accepted, in_progress, rejected
    accepted     -> in_progress, implemented, rejected
    in_progress  -> implemented, rejected
    implemented  -> (final)
    rejected     -> under_review            (reconsidered)

An official may also publish a further response without changing the status (a progress note on
an idea in progress, say). Every answer except a move to ``under_review`` needs a public text.
Hidden and merged ideas cannot be answered: answer the canonical idea, or unhide it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotFound
from webapp.kernel.security import can, require_permission
from webapp.kernel.storage.models import Idea, OfficialResponse, User, utcnow
from webapp.kernel.validation import Errors, clean_text
from webapp.notifications.notifications import notify_supporters
from webapp.ranking import ranking_log

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "published": ("under_review", "accepted", "rejected"),
    "under_review": ("accepted", "in_progress", "rejected"),
    "accepted": ("in_progress", "implemented", "rejected"),
    "in_progress": ("implemented", "rejected"),
    "implemented": (),
    "rejected": ("under_review",),
}
# Statuses an official may set (the targets of the table); "published" is only where ideas start.
ANSWER_STATUSES = ("under_review", "accepted", "in_progress", "implemented", "rejected")
TEXT_OPTIONAL = frozenset({"under_review"})  # moving to review may go without a public text
RESPONSE_MIN_LENGTH = 10
RESPONSE_MAX_LENGTH = 5_000
NOTIFY_EXCERPT = 300  # characters of the response kept in a notification


@dataclass(frozen=True)
class ResponseView:
    """One entry of an idea's public response history."""

    id: int
    idea_id: int
    status: str
    previous_status: str
    body: str
    created_at: datetime
    author_name: str | None

    @property
    def changed_status(self) -> bool:
        return self.status != self.previous_status


@dataclass(frozen=True)
class AnswerResult:
    idea_id: int
    status: str
    previous_status: str
    response: ResponseView
    notified: int


def allowed_statuses(current: str) -> tuple[str, ...]:
    """The statuses an answer may set on an idea in ``current`` (itself: a further response)."""
    if current not in TRANSITIONS:
        return ()
    return (current, *TRANSITIONS[current]) if current != "published" else TRANSITIONS[current]


def _clean(status: object, body: object) -> tuple[str, str]:
    errors = Errors()
    target = status.strip() if isinstance(status, str) else ""
    if not target:
        errors.add("status", "Choose a status.")
    elif target not in ANSWER_STATUSES:
        errors.add("status", "Unknown value.")
    text = clean_text(
        errors, "body", body, min_length=0, max_length=RESPONSE_MAX_LENGTH, multiline=True
    )
    if "body" not in errors.errors:
        if not text and target in ANSWER_STATUSES and target not in TEXT_OPTIONAL:
            errors.add("body", "Write the public response: it is required for this status.")
        elif text and len(text) < RESPONSE_MIN_LENGTH:
            errors.add("body", "Must be at least %(min)s characters long.", min=RESPONSE_MIN_LENGTH)
    errors.raise_if_any()
    return target, text


def _view(row: OfficialResponse, author_name: str | None) -> ResponseView:
    return ResponseView(
        id=row.id,
        idea_id=row.idea_id,
        status=row.status,
        previous_status=row.previous_status,
        body=row.body or "",
        created_at=row.created_at,
        author_name=author_name,
    )


def answer(
    session: Session,
    official: CurrentUser,
    idea_id: int,
    status: object,
    body: object,
    *,
    email: bool,
) -> AnswerResult:
    """Set a new status with a public response (or publish a further response); flushes.

    Writes the ``official_responses`` row, the idea's status and clocks, a ranking event, an
    audit entry (before/after) and notifications to the supporters and the author (of the idea
    and of ideas merged into it), all in the caller's transaction.
    """
    require_permission(official.role, "answer")
    target, text = _clean(status, body)
    idea = session.get(Idea, idea_id, with_for_update=True)  # one answer at a time per idea
    if idea is None:
        raise NotFound("Idea not found.")
    if idea.status == "merged":
        raise Conflict("This idea was merged into another one: answer that one instead.")
    if idea.status == "hidden":
        raise Conflict("This idea is hidden by the moderators and cannot be answered.")
    before = idea.status
    if target not in allowed_statuses(before):
        raise Conflict("This change of status is not allowed from the idea's current status.")
    if target == before and not text:
        raise Conflict("Nothing to publish: write a response or choose another status.")
    now = utcnow()
    before_state = {
        "status": before,
        "status_changed_at": _iso(idea.status_changed_at),
        "responded_at": _iso(idea.responded_at),
    }
    row = OfficialResponse(
        idea_id=idea_id,
        author_id=official.id,
        status=target,
        previous_status=before,
        body=text,
        created_at=now,
    )
    session.add(row)
    if target != before:
        idea.status = target
        idea.status_changed_at = now
    if text and idea.responded_at is None:
        idea.responded_at = now  # the response clock stops at the first public text
    session.flush()
    if target != before:
        ranking_log.idea_changed(session, idea_id)
    audit.record(
        session,
        official.id,
        "idea.status",
        "idea",
        idea_id,
        reason=text,
        details={
            "before": before_state,
            "after": {
                "status": idea.status,
                "status_changed_at": _iso(idea.status_changed_at),
                "responded_at": _iso(idea.responded_at),
                "response_id": row.id,
            },
        },
    )
    members = list(
        session.scalars(
            select(Idea.id).where(Idea.merged_into_id == idea_id, Idea.status == "merged")
        )
    )
    data: dict[str, Any] = {
        "title": idea.title,
        "status": idea.status,
        "previous_status": before,
        "response_id": row.id,
        "response": text[:NOTIFY_EXCERPT],
        "official": official.display_name,
    }
    notified = notify_supporters(
        session,
        [idea_id, *members],
        "response" if text else "status",
        idea_id,
        data,
        email=email,
        exclude=[official.id],
    )
    return AnswerResult(idea_id, idea.status, before, _view(row, official.display_name), notified)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def history(session: Session, idea_id: int) -> list[ResponseView]:
    """The idea's answers, oldest first, with the names of the officials who wrote them."""
    rows = session.execute(
        select(OfficialResponse, User.display_name)
        .outerjoin(User, User.id == OfficialResponse.author_id)
        .where(OfficialResponse.idea_id == idea_id)
        .order_by(OfficialResponse.created_at, OfficialResponse.id)
    ).all()
    return [_view(r, name) for r, name in rows]


@dataclass(frozen=True)
class OfficialInfo:
    """What the public idea page shows of the city's answers."""

    responses: list[ResponseView]
    responded_at: datetime | None
    status_changed_at: datetime | None


def public_info(session: Session, idea_id: int) -> OfficialInfo:
    """The public response history of an idea (every entry: a status change or a text)."""
    clocks = session.execute(
        select(Idea.responded_at, Idea.status_changed_at).where(Idea.id == idea_id)
    ).first()
    return OfficialInfo(
        responses=history(session, idea_id),
        responded_at=clocks[0] if clocks else None,
        status_changed_at=clocks[1] if clocks else None,
    )


@dataclass(frozen=True)
class IdeaToAnswer:
    """An idea as the official's page shows it (hidden and merged ones too, with a notice)."""

    id: int
    title: str
    body: str
    language: str
    status: str
    category_id: int | None
    district_id: int | None
    author_name: str | None
    created_at: datetime
    merged_into_id: int | None
    hidden_reason: str | None
    status_changed_at: datetime | None
    responded_at: datetime | None

    @property
    def answerable(self) -> bool:
        return self.status not in ("hidden", "merged")

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return allowed_statuses(self.status)


def idea_to_answer(session: Session, idea_id: int, viewer_role: str | None = None) -> IdeaToAnswer:
    """The idea an official answers. A hidden idea is shown only to those who may moderate
    (admins): to an official it does not exist (404), like on the public page."""
    row = session.execute(
        select(Idea, User.display_name)
        .outerjoin(User, User.id == Idea.author_id)
        .where(Idea.id == idea_id)
    ).first()
    if row is None or (row[0].status == "hidden" and not can(viewer_role, "moderate")):
        raise NotFound("Idea not found.")
    idea, author_name = row
    return IdeaToAnswer(
        id=idea.id,
        title=idea.title,
        body=idea.body,
        language=idea.language,
        status=idea.status,
        category_id=idea.category_id,
        district_id=idea.district_id,
        author_name=author_name,
        created_at=idea.created_at,
        merged_into_id=idea.merged_into_id,
        hidden_reason=idea.hidden_reason,
        status_changed_at=idea.status_changed_at,
        responded_at=idea.responded_at,
    )
