"""Moderators' "not duplicates": dismissing a group, or some of its members, in the duplicate queue.

A dismissal is stored per pair of ideas (``dismissed_pairs``, ``idea_a < idea_b``) together with
the hash of both texts as they were then; how the duplicate finder reads it back, and forgets it
once a text changes, is ``webapp.dedup.dismissed_pairs``.

* Whole group: every pair among its (public) members is dismissed and the group's status becomes
  'dismissed' (the row stays, as a record; the finder only rewrites 'open' groups).
* Some members ("set apart"): the pairs between those members and the rest are dismissed; the
  pairs among the rest, and among the set-apart members, stay. The group is rewritten at once:
  the rest keep the group's id when they still form one group.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, text
from sqlalchemy.orm import Session

from webapp.dedup import dedup_groups
from webapp.dedup.dismissed_pairs import Pair, current_hashes
from webapp.dedup.embedder import ADVISORY_KEY
from webapp.dedup.similar_ideas import LOADING_MESSAGE, SimilarityUnavailable
from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import Conflict, NotFound, invalid
from webapp.kernel.security import require_permission
from webapp.kernel.storage.models import (
    PUBLIC_STATUSES,
    DismissedPair,
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicatePair,
    Idea,
    utcnow,
)
from webapp.kernel.validation import Errors, clean_text

if TYPE_CHECKING:
    from ml.finder import DuplicateFinder

REASON_MAX = 1000
LOCK_WAIT = 10.0  # seconds a dismissal waits for a running embedder batch (PostgreSQL)


@dataclass(frozen=True)
class DismissResult:
    group_id: int
    whole: bool  # the whole group was dismissed (status 'dismissed')
    apart: tuple[int, ...]  # the ideas set apart (every member when whole)
    pairs: tuple[Pair, ...]  # the pairs now dismissed, idea_a < idea_b
    regrouped: bool  # the affected groups were rewritten (False: the finder was not ready)


def _hold_off_the_embedder(session: Session) -> None:
    """PostgreSQL: take the embedder's advisory lock for this transaction, so that no refresh
    that read the dismissals before this one commits can write the dismissed pairs back. A
    batch takes about a second; ``veche reindex`` holds the lock for long: then give up."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer: a refresh that read before us fails to write, not wins
    deadline = time.monotonic() + LOCK_WAIT
    try_lock = text("SELECT pg_try_advisory_xact_lock(:key)")
    while not session.scalar(try_lock, {"key": ADVISORY_KEY}):
        if time.monotonic() >= deadline:
            raise Conflict(
                "The duplicate finder is rebuilding the groups right now; try again in a few "
                "minutes."
            )
        time.sleep(0.2)


def public_members(session: Session, group_id: int) -> list[int]:
    """The group's members a moderator sees (public ideas), in the group's order."""
    return list(
        session.scalars(
            select(DuplicateGroupMember.idea_id)
            .join(Idea, Idea.id == DuplicateGroupMember.idea_id)
            .where(DuplicateGroupMember.group_id == group_id, Idea.status.in_(PUBLIC_STATUSES))
            .order_by(DuplicateGroupMember.position, DuplicateGroupMember.idea_id)
        )
    )


def _between(
    model: type[DismissedPair] | type[DuplicatePair], left: Sequence[int], right: Sequence[int]
) -> ColumnElement[bool]:
    """Rows of ``model`` pairing an idea of ``left`` with one of ``right`` (either order)."""
    return or_(
        and_(model.idea_a.in_(left), model.idea_b.in_(right)),
        and_(model.idea_a.in_(right), model.idea_b.in_(left)),
    )


def _stored_pairs(session: Session, pairs: Collection[Pair]) -> dict[Pair, float]:
    """The duplicate_pairs rows among ``pairs``: pair -> score."""
    ids = sorted({x for p in pairs for x in p})
    if not ids:
        return {}
    rows = session.execute(
        select(DuplicatePair.idea_a, DuplicatePair.idea_b, DuplicatePair.score).where(
            DuplicatePair.idea_a.in_(ids), DuplicatePair.idea_b.in_(ids)
        )
    ).all()
    return {(a, b): round(float(s), 4) for a, b, s in rows if (a, b) in pairs}


def dismiss(
    session: Session,
    actor: CurrentUser,
    group_id: int,
    apart: Sequence[int] = (),
    *,
    reason: object,
    finder: DuplicateFinder | None = None,
) -> DismissResult:
    """Say "not duplicates" for a whole group (``apart`` empty or every member) or for the
    ideas in ``apart`` against the rest of the group. Writes the audit entry
    ``duplicates.dismiss``. Setting some members apart rewrites the group, which needs the
    finder (its threshold splits groups); the whole group can be dismissed without it."""
    require_permission(actor.role, "moderate")
    errors = Errors()
    why = clean_text(errors, "reason", reason, min_length=3, max_length=REASON_MAX, multiline=True)
    errors.raise_if_any()
    _hold_off_the_embedder(session)  # before any row lock: the embedder may wait on those
    group = session.get(DuplicateGroup, group_id, with_for_update=True)
    if group is None:
        raise NotFound("This group of possible duplicates does not exist (any more).")
    if group.status != "open":
        raise Conflict("Another moderator has already dealt with this group.")
    members = public_members(session, group_id)
    if len(members) < 2:
        raise Conflict("This group no longer holds two ideas to compare.")
    chosen = set(apart)
    if chosen - set(members):
        raise invalid("apart", "Choose ideas of this group only.")
    rest = [m for m in members if m not in chosen]
    whole = not chosen or not rest or len(members) == 2
    if whole:
        chosen, rest = set(members), []
        pairs = {(min(a, b), max(a, b)) for a, b in combinations(members, 2)}
    else:
        pairs = {(min(a, b), max(a, b)) for a in chosen for b in rest}
    if not whole and finder is None:
        raise SimilarityUnavailable(LOADING_MESSAGE)

    hashes = current_hashes(session, members)
    before_pairs = _stored_pairs(session, pairs)
    ordered = sorted(pairs)
    now = utcnow()
    left, right = (members, members) if whole else (sorted(chosen), rest)
    # a newer dismissal of the same pair replaces the older one
    session.execute(delete(DismissedPair).where(_between(DismissedPair, left, right)))
    session.execute(
        insert(DismissedPair),
        [
            {
                "idea_a": a,
                "idea_b": b,
                "text_hash_a": hashes[a],
                "text_hash_b": hashes[b],
                "actor_id": actor.id,
                "reason": why,
                "created_at": now,
            }
            for a, b in ordered
        ],
    )
    session.execute(delete(DuplicatePair).where(_between(DuplicatePair, left, right)))
    group.updated_at = now
    if whole:
        group.status = "dismissed"
    else:
        session.execute(
            delete(DuplicateGroupMember).where(
                DuplicateGroupMember.group_id == group_id,
                DuplicateGroupMember.idea_id.in_(sorted(chosen)),
            )
        )
    session.flush()
    regrouped = False
    if finder is not None:
        dedup_groups.regroup(session, finder, members)
        regrouped = True
    audit.record(
        session,
        actor.id,
        "duplicates.dismiss",
        "duplicate_group",
        group_id,
        reason=why,
        details={
            "before": {
                "status": "open",
                "members": members,
                "pairs": [[a, b, before_pairs.get((a, b))] for a, b in ordered],
            },
            "after": {
                "status": "dismissed" if whole else "open",
                "members": members if whole else rest,
                "apart": sorted(chosen),
                "dismissed_pairs": [[a, b] for a, b in ordered],
                "text_hashes": {str(k): v for k, v in sorted(hashes.items())},
            },
        },
    )
    session.flush()
    return DismissResult(
        group_id=group_id,
        whole=whole,
        apart=tuple(sorted(chosen)),
        pairs=tuple(ordered),
        regrouped=regrouped,
    )
