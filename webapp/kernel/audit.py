"""The audit log: every privileged action leaves who/what/when/why and before/after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import AuditLog, User

# The CSV columns, in order (the header row of an export).
CSV_HEADER = (
    "id",
    "created_at",
    "actor_email",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "reason",
    "details",
)
# A spreadsheet treats a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def record(
    session: Session,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    *,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            details=details or {},
        )
    )


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created_at: datetime
    actor_id: int | None
    actor_email: str | None
    actor_name: str | None
    action: str
    target_type: str
    target_id: int | None
    reason: str
    details: dict[str, Any]

    @property
    def details_json(self) -> str:
        return json.dumps(self.details, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _filtered(
    query: Select[Any],
    *,
    action: str | None,
    actor_email: str | None,
    target_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    if action:
        query = query.where(AuditLog.action == action)
    if actor_email:
        query = query.where(func.lower(User.email) == actor_email.strip().lower())
    if target_type:
        query = query.where(AuditLog.target_type == target_type)
    if since is not None:
        query = query.where(AuditLog.created_at >= since)
    if until is not None:
        query = query.where(AuditLog.created_at < until)
    return query


def _base() -> Select[Any]:
    query = select(AuditLog, User.email, User.display_name)
    return cast("Select[Any]", query.outerjoin(User, User.id == AuditLog.actor_id))


def _entry(row: Any) -> AuditEntry:
    log, email, name = row
    return AuditEntry(
        id=log.id,
        created_at=log.created_at,
        actor_id=log.actor_id,
        actor_email=email,
        actor_name=name,
        action=log.action,
        target_type=log.target_type,
        target_id=log.target_id,
        reason=log.reason or "",
        details=dict(log.details or {}),
    )


def list_entries(
    session: Session,
    *,
    action: str | None = None,
    actor_email: str | None = None,
    target_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """One page of entries, newest first, and how many match the filters in all.

    ``since`` is inclusive, ``until`` exclusive (pass the start of the day after the last one).
    """
    filters: dict[str, Any] = dict(
        action=action, actor_email=actor_email, target_type=target_type, since=since, until=until
    )
    count_q = _filtered(
        select(func.count(AuditLog.id)).outerjoin(User, User.id == AuditLog.actor_id), **filters
    )
    total = session.scalar(count_q) or 0
    query = _filtered(_base(), **filters).order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    rows = session.execute(query.limit(limit).offset(offset)).all()
    return [_entry(r) for r in rows], total


def distinct_values(session: Session) -> tuple[list[str], list[str]]:
    """The actions and target types that occur in the log (for the filter selects)."""
    actions = session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action))
    targets = session.scalars(
        select(AuditLog.target_type).distinct().order_by(AuditLog.target_type)
    )
    return list(actions), list(targets)


def csv_safe(value: str) -> str:
    """Defuse CSV injection: a cell that a spreadsheet would run as a formula gets a quote."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def export_rows(
    session: Session,
    *,
    action: str | None = None,
    actor_email: str | None = None,
    target_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 500,
) -> Iterator[list[str]]:
    """The header and then one row per matching entry (newest first), every cell CSV-safe.

    Reads in keyset batches so that a big log is never held in memory at once.
    """
    yield list(CSV_HEADER)
    filters: dict[str, Any] = dict(
        action=action, actor_email=actor_email, target_type=target_type, since=since, until=until
    )
    last_id: int | None = None
    while True:
        query = _filtered(_base(), **filters)
        if last_id is not None:
            query = query.where(AuditLog.id < last_id)
        rows = session.execute(query.order_by(AuditLog.id.desc()).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            e = _entry(row)
            details = json.dumps(e.details, ensure_ascii=False, sort_keys=True, default=str)
            cells = [
                str(e.id),
                e.created_at.isoformat(),
                e.actor_email or "",
                e.actor_name or "",
                e.action,
                e.target_type,
                "" if e.target_id is None else str(e.target_id),
                e.reason,
                details,
            ]
            yield [csv_safe(c) for c in cells]
        last_id = rows[-1][0].id
