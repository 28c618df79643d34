"""Two demo city polls with simulated answers: one open now, one closed with its results public.

The answers come from the demo voters (``voter-…@demo.veche.local``, who cannot log in) and are
drawn at random — ``Poll.simulated`` is set and every poll page says so. The respondents are
spread unevenly over the okrugs on purpose: the centre (ЦАО) answers four times as often as its
share of the voters, and likes other things than the rest of the city, so the results page's
population weighting visibly moves the shares. Rows go in with bulk inserts; each poll is
seeded once (by ``external_ref``), so seeding again adds nothing. The polls are marked announced
(``notified_at``): demo voters get no notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    District,
    Poll,
    PollAnswer,
    PollOption,
    PollQuestion,
    PollResponse,
    User,
)

CENTRE = "cao"  # the okrug that over-answers
CENTRE_WEIGHT = 4.0
RESPONDENTS = 600  # per poll, at most (fewer when there are fewer demo voters)
VOTER_EMAILS = "voter-%@demo.veche.local"


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    text_ru: str
    text_en: str
    options: tuple[tuple[str, str], ...] = ()
    max_choices: int | None = None
    scale: tuple[int, int] | None = None
    # the centre's and the rest's preferences: option (or scale point) weights
    centre: tuple[float, ...] = ()
    rest: tuple[float, ...] = ()


@dataclass(frozen=True)
class PollSpec:
    ref: str
    slug: str
    title_ru: str
    title_en: str
    description_ru: str
    description_en: str
    opens: timedelta  # from now (negative: in the past)
    closes: timedelta
    questions: tuple[QuestionSpec, ...]


PARK_WORKS = (
    ("Освещение дорожек", "Lighting the paths"),
    ("Детская площадка", "A playground"),
    ("Скамейки и туалеты", "Benches and toilets"),
    ("Велодорожки", "Cycle paths"),
)
SPECS = (
    PollSpec(
        ref="demo-poll:parks",
        slug="demo-parki",
        title_ru="Какие работы в парках важнее всего?",
        title_en="Which park works matter most?",
        description_ru="Город планирует благоустройство парков на следующий год. Ответы в этом "
        "демонстрационном опросе смоделированы.",
        description_en="The city plans park works for next year. The answers in this "
        "demonstration poll are simulated.",
        opens=timedelta(days=-3),
        closes=timedelta(days=11),
        questions=(
            QuestionSpec(
                "single",
                "Какие работы в парке важнее всего?",
                "Which park work matters most?",
                PARK_WORKS,
                centre=(1, 1, 2, 5),
                rest=(3, 4, 2, 1),
            ),
            QuestionSpec(
                "scale",
                "Насколько вы довольны парком рядом с домом?",
                "How happy are you with the park near your home?",
                scale=(1, 5),
                centre=(1, 1, 2, 4, 3),
                rest=(2, 3, 4, 2, 1),
            ),
            QuestionSpec(
                "multiple",
                "Что вам мешает бывать в парке чаще? (не больше двух)",
                "What keeps you from the park more often? (two at most)",
                (
                    ("Далеко идти", "It is far"),
                    ("Шумно", "It is noisy"),
                    ("Темно вечером", "It is dark in the evening"),
                    ("Нет времени", "No time"),
                ),
                max_choices=2,
                centre=(1, 4, 1, 4),
                rest=(4, 1, 3, 2),
            ),
            QuestionSpec(
                "ranking",
                "Расставьте работы по важности",
                "Rank the works by importance",
                PARK_WORKS,
                centre=(1, 1, 2, 5),
                rest=(3, 4, 2, 1),
            ),
        ),
    ),
    PollSpec(
        ref="demo-poll:transport",
        slug="demo-transport",
        title_ru="Как вы добираетесь до работы?",
        title_en="How do you get to work?",
        description_ru="Опрос закрыт, итоги опубликованы. Ответы смоделированы для демонстрации.",
        description_en="The poll is closed and its results are published. The answers are "
        "simulated for a demonstration.",
        opens=timedelta(days=-30),
        closes=timedelta(days=-9),
        questions=(
            QuestionSpec(
                "single",
                "Чем вы чаще всего добираетесь до работы?",
                "How do you usually get to work?",
                (
                    ("Метро", "Metro"),
                    ("Автобус или трамвай", "Bus or tram"),
                    ("Автомобиль", "Car"),
                    ("Пешком или на велосипеде", "On foot or by bike"),
                ),
                centre=(5, 1, 1, 4),
                rest=(4, 3, 3, 1),
            ),
            QuestionSpec(
                "scale",
                "Сколько минут в среднем занимает дорога? (1 — до 15, 5 — больше часа)",
                "How long is the trip? (1: under 15 minutes, 5: over an hour)",
                scale=(1, 5),
                centre=(3, 4, 2, 1, 1),
                rest=(1, 2, 3, 4, 3),
            ),
        ),
    ),
)


@dataclass(frozen=True)
class PollSeed:
    ref: str
    poll_id: int
    created: bool
    responses: int
    answers: int

    def describe(self) -> str:
        if not self.created:
            return f"  poll {self.ref}: already there, skipped"
        return (
            f"  poll {self.ref}: {self.responses:,} simulated responses, {self.answers:,} answers"
        )


def _respondents(session: Session, rng: np.random.Generator) -> list[tuple[int, int, bool]]:
    """(user id, district id, in the centre) of demo voters, the centre over-represented."""
    centre = session.scalar(select(District.id).where(District.slug == CENTRE))
    rows = session.execute(
        select(User.id, User.district_id, District.parent_id)
        .join(District, District.id == User.district_id)
        .where(User.email.like(VOTER_EMAILS))
        .order_by(User.id)
    ).all()
    if not rows:
        return []
    weights = np.array([CENTRE_WEIGHT if r[2] == centre else 1.0 for r in rows])
    size = min(RESPONDENTS, len(rows))
    chosen = rng.choice(len(rows), size=size, replace=False, p=weights / weights.sum())
    return [(rows[i][0], rows[i][1], rows[i][2] == centre) for i in sorted(chosen)]


def _pick(rng: np.random.Generator, weights: tuple[float, ...], k: int = 1) -> list[int]:
    p = np.asarray(weights, dtype=float)
    return [int(i) for i in rng.choice(len(p), size=k, replace=False, p=p / p.sum())]


def _seed_one(session: Session, spec: PollSpec, now: datetime, seed: int) -> PollSeed:
    found = session.scalar(select(Poll.id).where(Poll.external_ref == spec.ref))
    if found is not None:
        return PollSeed(spec.ref, found, False, 0, 0)
    rng = np.random.default_rng(seed)
    poll = Poll(
        slug=spec.slug,
        title_ru=spec.title_ru,
        title_en=spec.title_en,
        description_ru=spec.description_ru,
        description_en=spec.description_en,
        opens_at=now + spec.opens,
        closes_at=now + spec.closes,
        published=True,
        simulated=True,
        allow_change=True,
        points=5,
        external_ref=spec.ref,
        notified_at=now,
        created_at=now + spec.opens - timedelta(days=2),
        updated_at=now + spec.opens - timedelta(days=2),
    )
    session.add(poll)
    session.flush()
    questions: list[tuple[QuestionSpec, int, list[int]]] = []
    for position, q in enumerate(spec.questions, start=1):
        row = PollQuestion(
            poll_id=poll.id,
            position=position,
            kind=q.kind,
            text_ru=q.text_ru,
            text_en=q.text_en,
            max_choices=q.max_choices,
            scale_min=q.scale[0] if q.scale else None,
            scale_max=q.scale[1] if q.scale else None,
        )
        session.add(row)
        session.flush()
        options = [
            PollOption(question_id=row.id, position=n, text_ru=ru, text_en=en)
            for n, (ru, en) in enumerate(q.options)
        ]
        session.add_all(options)
        session.flush()
        questions.append((q, row.id, [o.id for o in options]))
    people = _respondents(session, rng)
    if people:
        span = max(1.0, (min(now, poll.closes_at) - poll.opens_at).total_seconds())
        moments = [
            poll.opens_at + timedelta(seconds=float(s)) for s in rng.uniform(0, span, len(people))
        ]
        session.execute(
            insert(PollResponse),
            [
                {
                    "poll_id": poll.id,
                    "user_id": u,
                    "district_id": d,
                    "created_at": t,
                    "updated_at": t,
                }
                for (u, d, _), t in zip(people, moments, strict=True)
            ],
        )
        poll.frozen_at = min(moments)
    ids = {
        user_id: response_id
        for user_id, response_id in session.execute(
            select(PollResponse.user_id, PollResponse.id).where(PollResponse.poll_id == poll.id)
        )
    }
    answers: list[dict[str, Any]] = []
    for user_id, _, central in people:
        response = ids[user_id]
        for q, question_id, option_ids in questions:
            prefs = q.centre if central else q.rest
            base = {"response_id": response, "question_id": question_id, "other_text": None}
            if q.kind == "single":
                answers.append(
                    {**base, "option_id": option_ids[_pick(rng, prefs)[0]], "value": None}
                )
            elif q.kind == "multiple":
                k = 1 + int(rng.random() < 0.6)
                for i in _pick(rng, prefs, min(k, q.max_choices or k)):
                    answers.append({**base, "option_id": option_ids[i], "value": None})
            elif q.kind == "scale" and q.scale:
                answers.append(
                    {**base, "option_id": None, "value": q.scale[0] + _pick(rng, prefs)[0]}
                )
            elif q.kind == "ranking":
                for rank, i in enumerate(_pick(rng, prefs, len(option_ids)), start=1):
                    answers.append({**base, "option_id": option_ids[i], "value": rank})
    for start in range(0, len(answers), 5000):
        session.execute(insert(PollAnswer), answers[start : start + 5000])
    return PollSeed(spec.ref, poll.id, True, len(people), len(answers))


def seed_polls(
    factory: sessionmaker[Session], now: datetime, seed: int = 16
) -> tuple[PollSeed, ...]:
    """The demo polls, each once (by ``external_ref``), in one transaction each."""
    done = []
    for n, spec in enumerate(SPECS):
        with transaction(factory) as session:
            done.append(_seed_one(session, spec, now, seed + n))
    return tuple(done)
