"""Reading the login audit (``login_events``): an account's own history, and every event for
admins, filtered by kind and by e-mail (webapp.accounts.login_audit writes it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from webapp.accounts import login_audit
from webapp.accounts.users import normalise_email
from webapp.kernel.audit import csv_safe
from webapp.kernel.storage.models import LoginEvent, User


@dataclass(frozen=True)
class Event:
    id: int
    created_at: datetime
    kind: str
    user_id: int | None
    email: str | None
    display_name: str | None
    ip: str
    user_agent: str
    details: dict[str, Any]

    @property
    def details_json(self) -> str:
        return json.dumps(self.details, ensure_ascii=False, sort_keys=True)


def _conditions(
    session: Session, user_id: int | None, kind: str | None, email: str | None
) -> list[Any]:
    where: list[Any] = []
    if user_id is not None:
        where.append(LoginEvent.user_id == user_id)
    if kind:
        where.append(LoginEvent.kind == kind)
    if email:
        address = normalise_email(email)
        owner = None
        if "\x00" not in address:
            owner = session.scalar(select(User.id).where(User.email == address))
        # the account's events, and failed logins with this address before it had one
        by_tag = LoginEvent.details["email_tag"].as_string() == login_audit.email_tag(address)
        where.append(or_(LoginEvent.user_id == owner, by_tag) if owner is not None else by_tag)
    return where


def _query(where: list[Any]) -> Any:
    return (
        select(LoginEvent, User.email, User.display_name)
        .outerjoin(User, User.id == LoginEvent.user_id)
        .where(*where)
        .order_by(LoginEvent.created_at.desc(), LoginEvent.id.desc())
    )


def _event(row: Any) -> Event:
    e, email, name = row
    at = e.created_at if e.created_at.tzinfo is not None else e.created_at.replace(tzinfo=UTC)
    return Event(
        e.id, at, e.kind, e.user_id, email, name, e.ip, e.user_agent, dict(e.details or {})
    )


def list_events(
    session: Session,
    *,
    limit: int,
    offset: int,
    user_id: int | None = None,
    kind: str | None = None,
    email: str | None = None,
) -> tuple[list[Event], int]:
    """Events, newest first, and how many match."""
    where = _conditions(session, user_id, kind, email)
    total = int(session.scalar(select(func.count()).select_from(LoginEvent).where(*where)) or 0)
    rows = session.execute(_query(where).limit(limit).offset(offset)).all()
    return [_event(r) for r in rows], total


def export_rows(
    session: Session, *, kind: str | None = None, email: str | None = None
) -> Iterator[list[str]]:
    """The CSV export: a header, then every matching event, newest first."""
    yield ["when (UTC)", "event", "e-mail", "name", "IP address", "browser", "details"]
    where = _conditions(session, None, kind, email)
    for row in session.execute(_query(where).execution_options(yield_per=500)):
        e = _event(row)
        yield [
            e.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e.kind,
            csv_safe(e.email or ""),
            csv_safe(e.display_name or ""),
            csv_safe(e.ip),
            csv_safe(e.user_agent),
            csv_safe(e.details_json) if e.details else "",
        ]
