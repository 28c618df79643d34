"""Polls reach residents: the home band "Polls for you", and the "poll" notification when a poll
opens — to its audience only, once only, in the reader's language, with e-mail as they chose."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.helpers import Browser, make_user
from tests.test_poll_answering import make_poll
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    District,
    Notification,
    Poll,
    PollDistrict,
    User,
    utcnow,
)
from webapp.polls.notify import notify_opened


def _okrug_and_districts(session_factory: Any) -> tuple[int, int, int]:
    """An okrug, a district inside it, and a district of another okrug."""
    with transaction(session_factory) as s:
        okrug = s.scalar(select(District).where(District.parent_id.is_(None)))
        assert okrug is not None
        inside = s.scalar(select(District.id).where(District.parent_id == okrug.id))
        outside = s.scalar(
            select(District.id).where(
                District.parent_id.is_not(None), District.parent_id != okrug.id
            )
        )
        assert inside is not None and outside is not None
        return okrug.id, inside, outside


def _resident(session_factory: Any, email: str, district: int | None, **values: Any) -> int:
    user = make_user(session_factory, email, verified=values.pop("verified", False))
    with transaction(session_factory) as s:
        s.execute(update(User).where(User.id == user.id).values(district_id=district, **values))
    return user.id


def _notices(s: Session, poll_id: int | None = None) -> dict[int, Notification]:
    rows = s.scalars(select(Notification).where(Notification.kind == "poll")).all()
    return {n.user_id: n for n in rows if poll_id is None or n.data.get("poll_id") == poll_id}


def test_opened_poll_notifies_its_audience_once(session_factory: Any) -> None:
    okrug, inside, outside = _okrug_and_districts(session_factory)
    near = _resident(session_factory, "near@example.org", inside)
    english = _resident(session_factory, "en@example.org", inside, locale="en")
    quiet = _resident(session_factory, "quiet@example.org", inside, email_notifications=False)
    far = _resident(session_factory, "far@example.org", outside)
    _resident(session_factory, "nowhere@example.org", None)
    _resident(session_factory, "blocked@example.org", inside, blocked=True)
    ids = make_poll(session_factory, title_en="Park poll")
    with transaction(session_factory) as s:
        s.add(PollDistrict(poll_id=ids["poll"], district_id=okrug))
    # a draft and a poll that opens tomorrow tell no one yet
    make_poll(session_factory, slug="draft", published=False)
    later = make_poll(
        session_factory,
        slug="later",
        opens_at=utcnow() + timedelta(days=1),
        closes_at=utcnow() + timedelta(days=2),
    )

    with transaction(session_factory) as s:
        done = notify_opened(s, utcnow(), email=True)
    assert done.polls == 1 and done.notifications == 3
    with transaction(session_factory) as s:
        got = _notices(s)
        assert set(got) == {near, english, quiet}  # the okrug's district only, not blocked
        assert got[near].data == {"poll_id": ids["poll"], "title": "Опрос о парке"}
        assert got[english].data["title"] == "Park poll"
        assert got[near].email_state == "pending"
        assert got[quiet].email_state == "skipped"
        assert far not in got
        assert s.get(Poll, ids["poll"]).notified_at is not None  # type: ignore[union-attr]
        assert s.get(Poll, later["poll"]).notified_at is None  # type: ignore[union-attr]

    with transaction(session_factory) as s:  # once only
        again = notify_opened(s, utcnow(), email=True)
    assert again.polls == 0 and again.notifications == 0
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 3


def test_whole_city_verified_only_and_closed_polls(session_factory: Any) -> None:
    _, inside, outside = _okrug_and_districts(session_factory)
    checked = _resident(session_factory, "checked@example.org", outside, verified=True)
    _resident(session_factory, "unchecked@example.org", inside)
    ids = make_poll(session_factory, verified_only=True)
    closed = make_poll(
        session_factory,
        slug="closed",
        opens_at=utcnow() - timedelta(days=3),
        closes_at=utcnow() - timedelta(days=1),
    )
    with transaction(session_factory) as s:
        done = notify_opened(s, utcnow(), email=False)
    assert done.polls == 1
    with transaction(session_factory) as s:
        got = _notices(s)
        assert set(got) == {checked}  # whole city, but verified residents only
        assert got[checked].email_state is None  # e-mail off: no e-mail due
        # a poll that closed before anyone noticed is marked, and tells no one
        assert s.get(Poll, closed["poll"]).notified_at is not None  # type: ignore[union-attr]
        assert not _notices(s, closed["poll"])
    assert ids


def test_notification_page_links_to_the_poll(app: Any, session_factory: Any) -> None:
    _, inside, _ = _okrug_and_districts(session_factory)
    _resident(session_factory, "reader@example.org", inside)
    ids = make_poll(session_factory)
    with transaction(session_factory) as s:
        notify_opened(s, utcnow(), email=False)
        notice = next(iter(_notices(s).values())).id
    with Browser(app) as b:
        b.login("reader@example.org")
        page = b.get("/notifications")
        assert page.status_code == 200
        assert "Опрос о парке" in page.text
        opened = b.get(f"/notifications/{notice}/open")
        assert opened.status_code in (302, 303)
        assert opened.headers["location"].endswith(f"/polls/{ids['poll']}")


def test_home_band_shows_open_polls_for_the_visitor(app: Any, session_factory: Any) -> None:
    okrug, inside, outside = _okrug_and_districts(session_factory)
    _resident(session_factory, "home@example.org", inside)
    _resident(session_factory, "away@example.org", outside)
    ids = make_poll(session_factory)
    with transaction(session_factory) as s:
        s.add(PollDistrict(poll_id=ids["poll"], district_id=okrug))
        s.execute(update(Poll).where(Poll.id == ids["poll"]).values(title_ru="Опрос для округа"))
    with Browser(app) as b:
        assert 'data-home-list="polls"' not in b.get("/").text  # anonymous: no whole-city poll
        b.login("home@example.org")
        page = b.get("/").text
        assert 'data-home-list="polls"' in page
        assert "Опросы для вас" in page and "Опрос для округа" in page
        assert f'href="/polls/{ids["poll"]}"' in page
    with Browser(app) as b:
        b.login("away@example.org")
        assert 'data-home-list="polls"' not in b.get("/").text  # another okrug: nothing at all
        city = make_poll(session_factory, slug="city")
        with transaction(session_factory) as s:
            s.execute(
                update(Poll)
                .where(Poll.id == city["poll"])
                .values(title_ru="Опрос для всего города")
            )
        page = b.get("/").text
        assert "Опрос для всего города" in page and "Опрос для округа" not in page
        assert city
