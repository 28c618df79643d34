"""The audit log: every privileged action leaves who/what/when/why and before/after.

Every action code and target type written anywhere in ``webapp`` has a label here
(:data:`ACTION_LABELS`, :data:`TARGET_LABELS`: English message ids, translated where shown); a
test finds the codes in the source and fails on one without a label. Pages and the CSV export
show the labels, never the codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from webapp.kernel.errors import N_
from webapp.kernel.storage.models import AuditLog, User

# What each action code means, as an administrator reads it (message ids).
ACTION_LABELS: dict[str, str] = {
    "api_token.create": N_("API token created"),
    "api_token.revoke": N_("API token revoked"),
    "category.save": N_("Category saved"),
    "comment.hide": N_("Comment hidden"),
    "comment.unhide": N_("Comment shown again"),
    "district.save": N_("District saved"),
    "duplicates.dismiss": N_("Ideas marked as different (not duplicates)"),
    "idea.hide": N_("Idea hidden"),
    "idea.merge": N_("Ideas merged"),
    "idea.milestone_add": N_("Building milestone added"),
    "idea.milestone_done": N_("Building milestone reached"),
    "idea.milestone_remove": N_("Building milestone removed"),
    "idea.evaluate": N_("Idea evaluated by an expert"),
    "idea.photo_add": N_("Photo added to an idea"),
    "idea.photo_remove": N_("Photo removed from an idea"),
    "idea.place": N_("Place of an idea changed"),
    "idea.progress": N_("Building progress updated"),
    "idea.status": N_("Idea status changed"),
    "idea.unhide": N_("Idea shown again"),
    "idea.unmerge": N_("Merge undone"),
    "poll.close_moved": N_("Poll close date moved"),
    "poll.create": N_("Poll created"),
    "poll.update": N_("Poll changed"),
    "project.cover": N_("Project cover changed"),
    "poll.image": N_("Poll picture changed"),
    "project.create": N_("Project created"),
    "project.delete": N_("Project deleted"),
    "project.expert_add": N_("Expert assigned to a project"),
    "project.expert_remove": N_("Expert removed from a project"),
    "project.override": N_("Project stage set by hand"),
    "project.results_publish": N_("Budget results published"),
    "project.update": N_("Project changed"),
    "reports.dismiss": N_("Reports dismissed"),
    "signals.confirm": N_("Vote discounts confirmed"),
    "signals.lift": N_("Vote discounts lifted"),
    "user.block": N_("Account blocked"),
    "user.grant": N_("Role changed"),
    "user.unblock": N_("Account unblocked"),
}
# What each target type is (message ids).
TARGET_LABELS: dict[str, str] = {
    "api_token": N_("API token"),
    "category": N_("Category"),
    "comment": N_("Comment"),
    "district": N_("District"),
    "duplicate_group": N_("Group of possible duplicates"),
    "idea": N_("Idea"),
    "poll": N_("Poll"),
    "project": N_("Project"),
    "user": N_("Account"),
}

# Idea statuses as the log shows them in "before → after" (the same message ids as the pages).
STATUS_LABELS: dict[str, str] = {
    "published": N_("Published"),
    "under_review": N_("Under review"),
    "accepted": N_("Accepted"),
    "in_progress": N_("In progress"),
    "implemented": N_("Implemented"),
    "rejected": N_("Rejected"),
    "hidden": N_("Hidden"),
    "merged": N_("Merged"),
}

# The CSV columns, in order (the header row of an export; message ids).
CSV_HEADER = (
    N_("Number"),
    N_("When"),
    N_("Email"),
    N_("Who"),
    N_("Action"),
    N_("Target type"),
    N_("Target number"),
    N_("Reason"),
    N_("Status change"),
    N_("Details"),
)
# A spreadsheet treats a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def action_label(code: str) -> str:
    """The message id that names an action code (the code itself for one without a label)."""
    return ACTION_LABELS.get(code, code)


def target_label(code: str) -> str:
    """The message id that names a target type (the code itself for one without a label)."""
    return TARGET_LABELS.get(code, code)


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
class StatusChange:
    """An idea's status before and after an action (``idea_id`` None: the entry's target)."""

    idea_id: int | None
    before: str
    after: str


def status_label(code: str) -> str:
    """The message id that names an idea status (the code itself for an unknown one)."""
    return STATUS_LABELS.get(code, code)


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
    def status_changes(self) -> list[StatusChange]:
        """The statuses this action changed, read from ``details``: the entry's own
        ``before``/``after`` status, or each idea's in ``before.ideas``/``after.ideas`` (merges)."""
        before, after = self.details.get("before"), self.details.get("after")
        if not isinstance(before, dict) or not isinstance(after, dict):
            return []
        if isinstance(before.get("status"), str) and isinstance(after.get("status"), str):
            if before["status"] != after["status"]:
                return [StatusChange(None, before["status"], after["status"])]
            return []
        ideas_before, ideas_after = before.get("ideas"), after.get("ideas")
        if not isinstance(ideas_before, dict) or not isinstance(ideas_after, dict):
            return []
        changes = []
        for key, old in ideas_before.items():
            new = ideas_after.get(key)
            if isinstance(old, dict) and isinstance(new, dict) and str(key).isdigit():
                was, now = old.get("status"), new.get("status")
                if isinstance(was, str) and isinstance(now, str) and was != now:
                    changes.append(StatusChange(int(key), was, now))
        return sorted(changes, key=lambda c: c.idea_id or 0)

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
    translate: Callable[[str], str] = str,
    when: Callable[[datetime], str] = datetime.isoformat,
) -> Iterator[list[str]]:
    """The header and then one row per matching entry (newest first), every cell CSV-safe.

    ``translate`` turns the header's and labels' message ids into the reader's language,
    ``when`` formats a moment. Reads in keyset batches so that a big log is never held in
    memory at once.
    """
    yield [translate(h) for h in CSV_HEADER]
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
                when(e.created_at),
                e.actor_email or "",
                e.actor_name or "",
                translate(action_label(e.action)),
                translate(target_label(e.target_type)),
                "" if e.target_id is None else str(e.target_id),
                e.reason,
                "; ".join(
                    (f"#{c.idea_id}: " if c.idea_id is not None else "")
                    + f"{translate(status_label(c.before))} → {translate(status_label(c.after))}"
                    for c in e.status_changes
                ),
                details,
            ]
            yield [csv_safe(c) for c in cells]
        last_id = rows[-1][0].id
