"""The one gate every citizen action of a project passes: is its stage open now?

``require_open`` raises ``Conflict`` (HTTP 409) with a message in the reader's language that says
when the stage opens, or when and why it closed; the caller has stored nothing yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from webapp.kernel.errors import N_, Conflict, NotFound
from webapp.projects.projects import ProjectGate, gate_info
from webapp.projects.stages import STAGE_OF_ACTION, allows

_OPENS = {
    "propose": N_("Proposals for this project open on %(when)s."),
    "support": N_("Voting in this project opens on %(when)s."),
    "ballot": N_("Voting in this project opens on %(when)s."),
    "evaluate": N_("Expert review in this project opens on %(when)s."),
}
_CLOSED = {
    "propose": N_("Proposals for this project closed on %(when)s."),
    "support": N_("Voting in this project closed on %(when)s."),
    "ballot": N_("Voting in this project closed on %(when)s."),
    "evaluate": N_("Expert review in this project closed on %(when)s."),
}
_NOT_NOW = {
    "propose": N_("Proposals are not open in this project now."),
    "support": N_("Voting is not open in this project now."),
    "ballot": N_("Voting is not open in this project now."),
    "evaluate": N_("Expert review is not open in this project now."),
}


def check(gate: ProjectGate, action: str) -> None:
    """Raise ``Conflict`` unless ``action`` is open in the project's stage."""
    state = gate.state
    if allows(state, action, gate.voting):
        return
    if action == "ballot" and gate.voting == "supports":
        raise Conflict("This project collects supports, not budget ballots.")
    if action == "support" and gate.voting != "supports" and state.phase != "permanent":
        raise Conflict(
            "In this project residents choose on the budget ballot, not by supporting ideas."
        )
    if state.phase == "closed":
        if gate.override_reason:
            raise Conflict(
                "The city has closed this project: %(reason)s", reason=gate.override_reason
            )
        raise Conflict("The city has closed this project.")
    window = state.window(STAGE_OF_ACTION[action])
    if state.phase in ("permanent", "override") or window is None:
        raise Conflict(_NOT_NOW[action])
    if gate.now < window.starts_at:
        raise Conflict(_OPENS[action], when=window.starts_at)
    raise Conflict(_CLOSED[action], when=window.ends_at or window.starts_at)


def require_open(
    session: Session | Connection,
    project_id: int,
    action: str,
    now: datetime | None = None,
    *,
    staff: bool = False,
) -> ProjectGate:
    """The project's gate info, after checking that ``action`` is open (``Conflict`` if not).

    A draft project is not found for citizens (``staff``: officials and admins see drafts).
    """
    gate = gate_info(session, project_id, now)
    if not gate.published and not staff:
        raise NotFound("Project not found.")
    check(gate, action)
    return gate
