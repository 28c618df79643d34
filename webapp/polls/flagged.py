"""Who the manipulation signals flagged among a poll's respondents: accounts, times and reasons
for moderators — never what they answered (``webapp/polls/views/moderation.py`` shows it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranking.signals import BURST, FRESH, LOCKSTEP
from webapp.kernel.errors import N_, NotFound
from webapp.kernel.storage.models import Poll, User
from webapp.polls.tally import live_tally

PAGE = 100


@dataclass(frozen=True)
class FlaggedAccount:
    user_id: int
    name: str
    created_at: datetime
    answered_at: datetime
    reasons: tuple[str, ...]  # message ids


@dataclass(frozen=True)
class FlaggedPage:
    poll: Poll
    respondents: int
    flagged: int
    burst: int
    fresh: int
    lockstep: int
    accounts: list[FlaggedAccount]
    page: int
    pages: int


REASONS = (
    (BURST, N_("many answers at once")),
    (FRESH, N_("a wave of new accounts")),
    (LOCKSTEP, N_("answers in step with other accounts")),
)


def flagged_page(session: Session, poll_id: int, page: int) -> FlaggedPage:
    poll = session.get(Poll, poll_id)
    if poll is None:
        raise NotFound(N_("Poll not found."))
    live = live_tally(session, poll)
    with live.lock:
        flags = live.flags
        respondents = live.tally.n_respondents
    pages = max(1, -(-len(flags.accounts) // PAGE))
    page = min(max(page, 1), pages)
    chosen = flags.accounts[(page - 1) * PAGE : page * PAGE]
    users = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_([a[0] for a in chosen])))
    }
    accounts = [
        FlaggedAccount(
            uid,
            users[uid].display_name if uid in users else "—",
            users[uid].created_at if uid in users else at,
            at,
            tuple(label for bit, label in REASONS if bits & bit),
        )
        for uid, at, bits in chosen
    ]
    return FlaggedPage(
        poll, respondents, flags.flagged, flags.burst, flags.fresh, flags.lockstep, accounts,
        page, pages,
    )  # fmt: skip
