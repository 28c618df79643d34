"""Polls as the city writes them: the officials' list and form, the questions, the audience,
and which polls a resident sees.

A poll is frozen by its first answer (``Poll.frozen_at``, set in ``webapp.polls.answering``):
from then on its questions, options, audience and settings are refused with 409, and only the
close date may move (audited as ``poll.close_moved``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, Conflict, NotFound, invalid
from webapp.kernel.media import MediaStore, ProcessedImage
from webapp.kernel.storage.models import (
    POLL_KINDS,
    District,
    Poll,
    PollDistrict,
    PollOption,
    PollQuestion,
    PollResponse,
    utcnow,
)
from webapp.kernel.validation import Errors, clean_text, local_input, parse_moment, slugify

TITLE_MAX = 300
DESCRIPTION_MAX = 5000
QUESTION_MAX = 1000
OPTION_MAX = 500
MAX_OPTIONS = 30
MAX_QUESTIONS = 50
MAX_POINTS = 1000
SCALE_LOW, SCALE_HIGH = -10, 100
FROZEN = N_("Residents have already answered this poll: only its close date may change.")


@dataclass(frozen=True)
class PollSummary:
    id: int
    slug: str
    title_ru: str
    title_en: str
    opens_at: datetime
    closes_at: datetime
    published: bool
    frozen: bool
    verified_only: bool
    results_live: bool
    allow_change: bool
    points: int
    simulated: bool
    image_key: str | None = None
    image_alt: str = ""

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ru

    def is_open(self, now: datetime) -> bool:
        return self.published and self.opens_at <= now < self.closes_at

    def is_closed(self, now: datetime) -> bool:
        return now >= self.closes_at


@dataclass(frozen=True)
class OptionView:
    id: int
    position: int
    text_ru: str
    text_en: str

    def text(self, language: str) -> str:
        return self.text_en if language == "en" and self.text_en else self.text_ru


@dataclass(frozen=True)
class QuestionView:
    id: int
    position: int
    kind: str
    text_ru: str
    text_en: str
    max_choices: int | None
    scale_min: int | None
    scale_max: int | None
    allow_other: bool
    required: bool
    options: tuple[OptionView, ...]

    def text(self, language: str) -> str:
        return self.text_en if language == "en" and self.text_en else self.text_ru

    @property
    def scale_points(self) -> list[int]:
        if self.scale_min is None or self.scale_max is None:
            return []
        return list(range(self.scale_min, self.scale_max + 1))


@dataclass(frozen=True)
class PollDetail:
    poll: PollSummary
    description_ru: str
    description_en: str
    audience: tuple[int, ...]  # okrug and district ids; empty: the whole city
    questions: tuple[QuestionView, ...]

    def description(self, language: str) -> str:
        if language == "en" and self.description_en:
            return self.description_en
        return self.description_ru


def summarize(p: Poll) -> PollSummary:
    return PollSummary(
        id=p.id,
        slug=p.slug,
        title_ru=p.title_ru,
        title_en=p.title_en,
        opens_at=p.opens_at,
        closes_at=p.closes_at,
        published=p.published,
        frozen=p.frozen_at is not None,
        verified_only=p.verified_only,
        results_live=p.results_live,
        allow_change=p.allow_change,
        points=p.points,
        simulated=p.simulated,
        image_key=p.image_key,
        image_alt=p.image_alt,
    )


def _get(session: Session, poll_id: int) -> Poll:
    poll = session.get(Poll, poll_id)
    if poll is None:
        raise NotFound(N_("Poll not found."))
    return poll


def audience_ids(session: Session, poll_id: int) -> tuple[int, ...]:
    rows = session.scalars(select(PollDistrict.district_id).where(PollDistrict.poll_id == poll_id))
    return tuple(sorted(rows))


def poll_detail(session: Session, poll_id: int) -> PollDetail:
    """A poll with its audience and its questions and options in order (drafts included)."""
    poll = _get(session, poll_id)
    questions = list(
        session.scalars(
            select(PollQuestion)
            .where(PollQuestion.poll_id == poll_id)
            .order_by(PollQuestion.position, PollQuestion.id)
        )
    )
    options: dict[int, list[OptionView]] = {q.id: [] for q in questions}
    if questions:
        for o in session.scalars(
            select(PollOption)
            .where(PollOption.question_id.in_(list(options)))
            .order_by(PollOption.position, PollOption.id)
        ):
            options[o.question_id].append(OptionView(o.id, o.position, o.text_ru, o.text_en))
    return PollDetail(
        poll=summarize(poll),
        description_ru=poll.description_ru,
        description_en=poll.description_en,
        audience=audience_ids(session, poll_id),
        questions=tuple(
            QuestionView(
                id=q.id,
                position=q.position,
                kind=q.kind,
                text_ru=q.text_ru,
                text_en=q.text_en,
                max_choices=q.max_choices,
                scale_min=q.scale_min,
                scale_max=q.scale_max,
                allow_other=q.allow_other,
                required=q.required,
                options=tuple(options[q.id]),
            )
            for q in questions
        ),
    )


def in_audience(session: Session, poll_id: int, district_id: int | None) -> bool:
    """Whether a resident of ``district_id`` is asked: a poll without districts asks the whole
    city; otherwise the district, or the okrug it belongs to, must be in the audience."""
    audience = set(audience_ids(session, poll_id))
    if not audience:
        return True
    if district_id is None:
        return False
    if district_id in audience:
        return True
    parent = session.scalar(select(District.parent_id).where(District.id == district_id))
    return parent is not None and parent in audience


def _audience_filter(district_id: int | None) -> Any:
    """SQL: the poll asks the whole city, or the district, or the district's okrug."""
    whole_city = ~select(PollDistrict.poll_id).where(PollDistrict.poll_id == Poll.id).exists()
    if district_id is None:
        return whole_city
    parent = select(District.parent_id).where(District.id == district_id).scalar_subquery()
    named = (
        select(PollDistrict.poll_id)
        .where(
            PollDistrict.poll_id == Poll.id,
            or_(PollDistrict.district_id == district_id, PollDistrict.district_id == parent),
        )
        .exists()
    )
    return or_(whole_city, named)


def open_polls_for(
    session: Session, user: CurrentUser | None, now: datetime | None = None, limit: int = 3
) -> list[PollSummary]:
    """Published polls open now that ask the visitor (by their district; a visitor who is not
    signed in sees the whole-city polls), closing soonest first; at most ``limit``."""
    now = now or utcnow()
    district_id = user.district_id if user is not None else None
    rows = session.scalars(
        select(Poll)
        .where(
            Poll.published.is_(True),
            Poll.opens_at <= now,
            Poll.closes_at > now,
            _audience_filter(district_id),
        )
        .order_by(Poll.closes_at, Poll.id)
        .limit(limit)
    )
    return [summarize(p) for p in rows]


def closed_polls(
    session: Session, now: datetime | None = None, limit: int = 50
) -> list[PollSummary]:
    """Published polls that have closed (their results are public), the latest first."""
    now = now or utcnow()
    rows = session.scalars(
        select(Poll)
        .where(Poll.published.is_(True), Poll.closes_at <= now)
        .order_by(Poll.closes_at.desc(), Poll.id.desc())
        .limit(limit)
    )
    return [summarize(p) for p in rows]


def list_polls_admin(session: Session) -> list[tuple[PollSummary, int]]:
    """Every poll, drafts included, the newest first, with its number of answers."""
    counts = dict(
        session.execute(
            select(PollResponse.poll_id, func.count()).group_by(PollResponse.poll_id)
        ).all()
    )
    rows = session.scalars(select(Poll).order_by(Poll.opens_at.desc(), Poll.id.desc()))
    return [(summarize(p), int(counts.get(p.id, 0))) for p in rows]


# ---- the officials' form -------------------------------------------------------------------


def _flag(data: dict[str, str], name: str) -> bool:
    return data.get(name, "").strip().lower() in ("1", "on", "yes", "true")


def _int(errors: Errors, field: str, raw: str, low: int, high: int) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        errors.add(field, "Enter a whole number.")
        return None
    if not low <= value <= high:
        errors.add(field, "Enter a number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return value


def _unique_slug(session: Session, wanted: str, poll_id: int | None) -> str:
    slug, n = wanted, 1
    while True:
        found = session.scalar(select(Poll.id).where(Poll.slug == slug))
        if found is None or found == poll_id:
            return slug
        n += 1
        slug = f"{wanted}-{n}"


@dataclass(frozen=True)
class PollInput:
    title_ru: str
    title_en: str
    description_ru: str
    description_en: str
    audience: tuple[int, ...]
    verified_only: bool
    opens_at: datetime
    closes_at: datetime
    results_live: bool
    allow_change: bool
    points: int
    published: bool


def parse_poll(session: Session, data: dict[str, str], tz: ZoneInfo) -> PollInput:
    """Check the poll form (``district_<id>`` checkboxes choose the audience); InvalidInput
    with a message per field."""
    errors = Errors()

    def text(name: str, max_length: int, min_length: int = 0, multiline: bool = False) -> str:
        return clean_text(
            errors,
            name,
            data.get(name, ""),
            min_length=min_length,
            max_length=max_length,
            multiline=multiline,
        )

    title_ru = text("title_ru", TITLE_MAX, 3)
    title_en = text("title_en", TITLE_MAX)
    description_ru = text("description_ru", DESCRIPTION_MAX, multiline=True)
    description_en = text("description_en", DESCRIPTION_MAX, multiline=True)
    known = set(session.scalars(select(District.id)))
    audience: list[int] = []
    for key, value in data.items():
        if key.startswith("district_") and value:
            raw = key.removeprefix("district_")
            if raw.isdigit() and int(raw) in known:
                audience.append(int(raw))
            else:
                errors.add("audience", "Unknown district.")
    opens_at = closes_at = None
    for name in ("opens_at", "closes_at"):
        raw = data.get(name, "").strip()
        if not raw:
            errors.add(name, "This field is required.")
            continue
        moment = parse_moment(raw, tz)
        if moment is None:
            errors.add(name, "Enter a date and time.")
        elif name == "opens_at":
            opens_at = moment
        else:
            closes_at = moment
    if opens_at and closes_at and closes_at <= opens_at:
        errors.add("closes_at", "The poll must close after it opens.")
    points = _int(errors, "points", data.get("points", ""), 0, MAX_POINTS) or 0
    errors.raise_if_any()
    assert opens_at is not None and closes_at is not None
    return PollInput(
        title_ru=title_ru,
        title_en=title_en,
        description_ru=description_ru,
        description_en=description_en,
        audience=tuple(sorted(set(audience))),
        verified_only=_flag(data, "verified_only"),
        opens_at=opens_at,
        closes_at=closes_at,
        results_live=_flag(data, "results_live"),
        allow_change=_flag(data, "allow_change"),
        points=points,
        published=_flag(data, "published"),
    )


def form_values(session: Session, poll_id: int, tz: ZoneInfo) -> dict[str, str]:
    """The stored poll as the form's fields."""
    poll = _get(session, poll_id)
    values = {
        "title_ru": poll.title_ru,
        "title_en": poll.title_en,
        "description_ru": poll.description_ru,
        "description_en": poll.description_en,
        "opens_at": local_input(poll.opens_at, tz),
        "closes_at": local_input(poll.closes_at, tz),
        "points": str(poll.points),
    }
    for flag in ("verified_only", "results_live", "allow_change", "published"):
        if getattr(poll, flag):
            values[flag] = "on"
    for district_id in audience_ids(session, poll_id):
        values[f"district_{district_id}"] = "on"
    return values


def _same_minute(a: datetime, b: datetime) -> bool:
    return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)


def _frozen_change(poll: Poll, audience: tuple[int, ...], new: PollInput) -> bool:
    """Whether ``new`` changes anything but the close date of a frozen poll."""
    return (
        (new.title_ru, new.title_en, new.description_ru, new.description_en)
        != (poll.title_ru, poll.title_en, poll.description_ru, poll.description_en)
        or new.audience != audience
        or (new.verified_only, new.results_live, new.allow_change, new.points, new.published)
        != (poll.verified_only, poll.results_live, poll.allow_change, poll.points, poll.published)
        or not _same_minute(new.opens_at, poll.opens_at)
    )


def save_poll(
    session: Session,
    actor_id: int,
    poll_id: int | None,
    data: dict[str, str],
    tz: ZoneInfo,
    now: datetime | None = None,
) -> int:
    """Create or change a poll (audited ``poll.create`` / ``poll.update``); the poll's id.

    Once frozen by its first answer, anything but the close date is refused (Conflict); a moved
    close date is audited as ``poll.close_moved`` with both dates.
    """
    now = now or utcnow()
    new = parse_poll(session, data, tz)
    if poll_id is None:
        poll = Poll(
            slug=_unique_slug(session, slugify(new.title_en or new.title_ru, "poll"), None),
            created_by=actor_id,
        )
        _apply(poll, new, now)
        session.add(poll)
        session.flush()
        _replace_audience(session, poll.id, new.audience)
        audit.record(session, actor_id, "poll.create", "poll", poll.id)
        return poll.id
    poll = _get(session, poll_id)
    if poll.frozen_at is not None:
        if _frozen_change(poll, audience_ids(session, poll_id), new):
            raise Conflict(FROZEN)
        if not _same_minute(new.closes_at, poll.closes_at):
            before = poll.closes_at
            poll.closes_at = new.closes_at
            poll.updated_at = now
            audit.record(
                session,
                actor_id,
                "poll.close_moved",
                "poll",
                poll.id,
                details={"before": before.isoformat(), "after": new.closes_at.isoformat()},
            )
        return poll.id
    _apply(poll, new, now)
    _replace_audience(session, poll.id, new.audience)
    audit.record(session, actor_id, "poll.update", "poll", poll.id)
    return poll.id


def _apply(poll: Poll, new: PollInput, now: datetime) -> None:
    poll.title_ru = new.title_ru
    poll.title_en = new.title_en
    poll.description_ru = new.description_ru
    poll.description_en = new.description_en
    poll.verified_only = new.verified_only
    poll.opens_at = new.opens_at
    poll.closes_at = new.closes_at
    poll.results_live = new.results_live
    poll.allow_change = new.allow_change
    poll.points = new.points
    poll.published = new.published
    poll.updated_at = now


def _replace_audience(session: Session, poll_id: int, audience: tuple[int, ...]) -> None:
    session.execute(delete(PollDistrict).where(PollDistrict.poll_id == poll_id))
    session.add_all(PollDistrict(poll_id=poll_id, district_id=d) for d in audience)
    session.flush()


# ---- questions -----------------------------------------------------------------------------


def _lock_unfrozen(session: Session, poll_id: int) -> None:
    """Refuse (Conflict) a change of a frozen poll's questions; otherwise hold the poll's row
    until the end of the transaction, so that no first answer freezes it meanwhile."""
    _get(session, poll_id)
    done = session.execute(
        update(Poll)
        .where(Poll.id == poll_id, Poll.frozen_at.is_(None))
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(FROZEN)


def _lines(raw: str) -> list[str]:
    return [
        " ".join(line.split()) for line in raw.replace("\r\n", "\n").split("\n") if line.strip()
    ]


def add_question(session: Session, actor_id: int, poll_id: int, data: dict[str, str]) -> int:
    """Add a question at the end of an unfrozen poll; its options are one per line. The
    question's id."""
    _lock_unfrozen(session, poll_id)
    errors = Errors()
    kind = data.get("kind", "")
    if kind not in POLL_KINDS:
        errors.add("kind", "Choose a kind of question.")
    text_ru = clean_text(
        errors, "text_ru", data.get("text_ru"), min_length=3, max_length=QUESTION_MAX
    )
    text_en = clean_text(
        errors, "text_en", data.get("text_en"), min_length=0, max_length=QUESTION_MAX
    )
    options_ru = _lines(data.get("options_ru", ""))
    options_en = _lines(data.get("options_en", ""))
    for n, line in enumerate([*options_ru, *options_en]):
        clean_text(
            errors,
            "options_ru" if n < len(options_ru) else "options_en",
            line,
            min_length=1,
            max_length=OPTION_MAX,
        )
    if options_en and len(options_en) != len(options_ru):
        errors.add("options_en", "Give as many English options as Russian ones, or none.")
    if len(options_ru) > MAX_OPTIONS:
        errors.add("options_ru", "At most %(max)s options.", max=MAX_OPTIONS)
    max_choices = scale_min = scale_max = None
    if kind in ("single", "multiple", "ranking") and len(options_ru) < 2:
        errors.add("options_ru", "Give at least two options, one per line.")
    if kind == "multiple":
        max_choices = _int(errors, "max_choices", data.get("max_choices", ""), 1, MAX_OPTIONS)
    if kind == "scale":
        scale_min = _int(
            errors, "scale_min", data.get("scale_min", "") or "1", SCALE_LOW, SCALE_HIGH
        )
        scale_max = _int(
            errors, "scale_max", data.get("scale_max", "") or "5", SCALE_LOW, SCALE_HIGH
        )
        if scale_min is not None and scale_max is not None:
            if scale_max <= scale_min:
                errors.add("scale_max", "The highest point must be above the lowest.")
            elif scale_max - scale_min > 20:
                errors.add("scale_max", "A scale has at most 21 points.")
    count = session.scalar(select(func.count()).where(PollQuestion.poll_id == poll_id)) or 0
    if count >= MAX_QUESTIONS:
        errors.add("kind", "A poll has at most %(max)s questions.", max=MAX_QUESTIONS)
    errors.raise_if_any()
    position = (
        session.scalar(
            select(func.max(PollQuestion.position)).where(PollQuestion.poll_id == poll_id)
        )
        or 0
    ) + 1
    question = PollQuestion(
        poll_id=poll_id,
        position=position,
        kind=kind,
        text_ru=text_ru,
        text_en=text_en,
        max_choices=max_choices,
        scale_min=scale_min,
        scale_max=scale_max,
        allow_other=_flag(data, "allow_other") and kind in ("single", "multiple"),
        required=_flag(data, "required"),
    )
    session.add(question)
    session.flush()
    session.add_all(
        PollOption(
            question_id=question.id,
            position=n + 1,
            text_ru=text,
            text_en=options_en[n] if options_en else "",
        )
        for n, text in enumerate(options_ru)
    )
    audit.record(
        session, actor_id, "poll.update", "poll", poll_id, details={"question_added": question.id}
    )
    session.flush()
    return question.id


def _question(session: Session, poll_id: int, question_id: int) -> PollQuestion:
    question = session.get(PollQuestion, question_id)
    if question is None or question.poll_id != poll_id:
        raise NotFound(N_("Question not found."))
    return question


def move_question(
    session: Session, actor_id: int, poll_id: int, question_id: int, up: bool
) -> None:
    """Swap a question with the one before (``up``) or after it, while the poll is not frozen."""
    _lock_unfrozen(session, poll_id)
    question = _question(session, poll_id, question_id)
    ordered = list(
        session.scalars(
            select(PollQuestion)
            .where(PollQuestion.poll_id == poll_id)
            .order_by(PollQuestion.position, PollQuestion.id)
        )
    )
    i = ordered.index(question)
    j = i - 1 if up else i + 1
    if 0 <= j < len(ordered):
        ordered[i], ordered[j] = ordered[j], ordered[i]
    for n, q in enumerate(ordered):
        q.position = n + 1
    audit.record(
        session, actor_id, "poll.update", "poll", poll_id, details={"question_moved": question_id}
    )
    session.flush()


def delete_question(session: Session, actor_id: int, poll_id: int, question_id: int) -> None:
    """Delete a question and its options, while the poll is not frozen."""
    _lock_unfrozen(session, poll_id)
    question = _question(session, poll_id, question_id)
    session.execute(delete(PollOption).where(PollOption.question_id == question.id))
    session.delete(question)
    audit.record(
        session, actor_id, "poll.update", "poll", poll_id, details={"question_deleted": question_id}
    )
    session.flush()


IMAGE_ALT_MAX = 300


def set_image(
    session: Session,
    actor_id: int,
    poll_id: int,
    image: ProcessedImage | None,
    alt: str,
    store: MediaStore | None,
    remove: bool = False,
) -> str | None:
    """Store a re-encoded picture for the poll (or keep the current one) with its description;
    ``remove`` takes it away. A description is required with a picture; a frozen poll keeps
    its picture (409). Audited. Returns the picture's key."""
    poll = session.get(Poll, poll_id, with_for_update=True)
    if poll is None:
        raise NotFound(N_("Poll not found."))
    if poll.frozen_at is not None:
        raise Conflict(FROZEN)
    errors = Errors()
    alt_text = clean_text(errors, "image_alt", alt, min_length=0, max_length=IMAGE_ALT_MAX)
    errors.raise_if_any()
    before = {"image_key": poll.image_key, "image_alt": poll.image_alt}
    if remove:
        poll.image_key, poll.image_alt = None, ""
    else:
        if image is None and poll.image_key is None:
            raise invalid("image", N_("Please choose a picture to send."))
        if not alt_text:
            raise invalid("image_alt", N_("Describe the picture for those who cannot see it."))
        if image is not None and store is not None:
            poll.image_key = store.put(image)
        poll.image_alt = alt_text
    poll.updated_at = utcnow()
    audit.record(
        session,
        actor_id,
        "poll.image",
        "poll",
        poll_id,
        details={
            "before": before,
            "after": {"image_key": poll.image_key, "image_alt": poll.image_alt},
        },
    )
    session.flush()
    return poll.image_key
