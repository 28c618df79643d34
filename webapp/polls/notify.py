"""Telling the audience that a poll has opened: one ``poll`` notification per resident asked.

:func:`notify_opened` runs from every worker's background loop (``webapp/background.py``) and
from ``veche polls notify``. A poll is claimed by a conditional update (``notified_at`` NULL →
now), so when several processes run at once exactly one of them notifies, and a poll is never
announced twice. The audience is selected in SQL and written with one ``INSERT … SELECT`` per
language (``webapp.notifications.notifications.notify_selected``), never loaded into Python:
the residents whose district, or its okrug, the poll asks — every account for a whole-city poll
— and only verified residents where the poll asks only them; blocked accounts get nothing.
A poll found after it has already closed (the service was down all along) is marked without
notifying anyone: news of a poll one can no longer answer helps nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import District, Poll, PollDistrict, User
from webapp.notifications.notifications import notify_selected


@dataclass(frozen=True)
class Announced:
    polls: int  # polls announced now (closed ones marked silently are not counted)
    notifications: int  # notifications written


def audience_users(poll_id: int, verified_only: bool, whole_city: bool) -> Any:
    """SQL: the ids (column ``uid``) of the users a poll asks."""
    query = select(User.id.label("uid"))
    if not whole_city:
        named = select(PollDistrict.district_id).where(PollDistrict.poll_id == poll_id)
        query = query.join(District, District.id == User.district_id).where(
            or_(User.district_id.in_(named), District.parent_id.in_(named))
        )
    if verified_only:
        query = query.where(User.verified_resident.is_(True))
    return query


def _claim(session: Session, poll_id: int, now: datetime) -> bool:
    """Mark the poll announced; False when another process did so first."""
    claimed = session.execute(
        update(Poll)
        .where(Poll.id == poll_id, Poll.notified_at.is_(None))
        .values(notified_at=now)
        .returning(Poll.id)
    ).all()
    return bool(claimed)


def notify_opened(session: Session, now: datetime, *, email: bool) -> Announced:
    """Announce every published poll that has opened by ``now`` and was not announced yet.

    ``email``: whether e-mail is on (``settings.email_enabled``); each notification is then
    pending, or skipped for a user who turned e-mail off (the mailer sends them).
    """
    due = session.execute(
        select(Poll.id, Poll.closes_at, Poll.verified_only, Poll.title_ru, Poll.title_en)
        .where(Poll.published.is_(True), Poll.notified_at.is_(None), Poll.opens_at <= now)
        .order_by(Poll.opens_at, Poll.id)
    ).all()
    polls = written = 0
    for poll_id, closes_at, verified_only, title_ru, title_en in due:
        if not _claim(session, poll_id, now) or closes_at <= now:
            continue
        polls += 1
        whole_city = (
            session.scalar(select(PollDistrict.poll_id).where(PollDistrict.poll_id == poll_id))
            is None
        )
        users = audience_users(poll_id, verified_only, whole_city)
        english = User.locale == "en"
        groups = [(title_ru, users)]
        if title_en:
            groups = [
                (title_ru, users.where(or_(User.locale.is_(None), ~english))),
                (title_en, users.where(english)),
            ]
        for title, selected in groups:
            data = {"poll_id": poll_id, "title": title}
            written += notify_selected(session, selected, "poll", data, email=email)
    session.flush()
    return Announced(polls, written)
