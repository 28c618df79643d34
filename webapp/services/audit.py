"""The audit log: every privileged action leaves who/what/when/why and before/after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from webapp.storage.models import AuditLog


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
