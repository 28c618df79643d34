"""The demo polls: two polls (one open, one closed), simulated answers of the demo voters with
the centre over-represented, bulk-inserted, seeded once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from webapp.demo import demo
from webapp.demo.demo_polls import CENTRE
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import District, Poll, PollAnswer, PollResponse, User


def test_demo_polls_seeded_once_with_simulated_answers(session_factory: Any) -> None:
    now = datetime.now(UTC)
    report = demo.seed_demo(session_factory, limit=3, polls=True, now=now)
    assert [p.created for p in report.polls] == [True, True]
    assert all(p.responses > 0 and p.answers > p.responses for p in report.polls)
    assert "simulated responses" in report.describe()
    with transaction(session_factory) as s:
        polls = s.scalars(select(Poll).order_by(Poll.id)).all()
        assert len(polls) == 2 and all(p.simulated and p.published for p in polls)
        assert all(p.notified_at is not None and p.frozen_at is not None for p in polls)
        opened, closed = polls
        assert opened.opens_at <= now < opened.closes_at
        assert closed.closes_at <= now
        responses = s.scalar(select(func.count()).select_from(PollResponse))
        answers = s.scalar(select(func.count()).select_from(PollAnswer))
        assert responses == sum(p.responses for p in report.polls)
        assert answers == sum(p.answers for p in report.polls)
        # the centre answers more than its share of the demo voters
        centre = s.scalar(select(District.id).where(District.slug == CENTRE))
        in_centre = District.parent_id == centre
        voters = select(User.id).where(User.email.like("voter-%@demo.veche.local"))
        all_voters = s.scalar(
            select(func.count())
            .select_from(User)
            .join(District, District.id == User.district_id)
            .where(User.id.in_(voters))
        )
        centre_voters = s.scalar(
            select(func.count())
            .select_from(User)
            .join(District, District.id == User.district_id)
            .where(User.id.in_(voters), in_centre)
        )
        centre_answers = s.scalar(
            select(func.count())
            .select_from(PollResponse)
            .join(District, District.id == PollResponse.district_id)
            .where(PollResponse.poll_id == opened.id, in_centre)
        )
        assert all_voters and centre_voters is not None and centre_answers is not None
        share = centre_voters / all_voters
        if 0 < share < 1 and report.polls[0].responses < all_voters:
            assert centre_answers / report.polls[0].responses > share

    again = demo.seed_demo(session_factory, limit=3, polls=True, now=now)
    assert [p.created for p in again.polls] == [False, False]
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Poll)) == 2
        assert s.scalar(select(func.count()).select_from(PollResponse)) == responses


def test_demo_poll_pages_say_simulated(app: Any, session_factory: Any) -> None:
    from tests.helpers import Browser

    now = datetime.now(UTC)
    report = demo.seed_demo(session_factory, limit=3, polls=True, now=now)
    with Browser(app) as b:
        for seeded in report.polls:
            page = b.get(f"/polls/{seeded.poll_id}")
            assert page.status_code == 200
            assert "смоделированы" in page.text or "simulated" in page.text
