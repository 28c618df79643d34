"""`veche seed-demo`: demo accounts, real ideas and their real votes.

The ideas are Russian Public Initiative petitions (roi.ru, 2013): the Moscow demo, Moscow's own
petitions placed in their districts where the source names the place; and, as labelled
foreign-language examples with no district, UK Parliament petitions and Decide Madrid proposals.

Every idea gets exactly its real support count of +1 votes from distinct generated voters
(``voter-0000001@demo.veche.local`` …, who cannot log in). The pool has as many voters as the
largest count in the set. Re-running skips ideas whose ``external_ref`` is already stored, so it is
idempotent and finishes an interrupted run. Imported ideas have no author. See
docs/data.md and webapp/data/demo/README.md for the sources, licences, the extract and the
category tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from webapp.accounts import users
from webapp.demo.demo_polls import PollSeed, seed_polls
from webapp.demo.demo_sources import (
    BOUNDARIES,
    MADRID_SOURCE,
    ROI_SOURCE,
    UK_SOURCE,
    read_madrid,
    read_roi,
    read_uk,
    source_paths,
)
from webapp.demo.demo_store import Places, ensure_voters, load_places, store_ideas
from webapp.demo.pabulib_project import ProjectSeed, seed_projects
from webapp.kernel.errors import invalid
from webapp.kernel.progress import Progress, no_progress
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, User
from webapp.ranking import ranking_log

DEMO_PASSWORD = "veche-demo-password"
DEMO_ACCOUNTS = (
    ("citizen", "citizen@demo.veche.local", "Demo Citizen"),
    ("moderator", "moderator@demo.veche.local", "Demo Moderator"),
    ("official", "official@demo.veche.local", "Demo Official"),
    ("admin", "admin@demo.veche.local", "Demo Admin"),
)
DEFAULT_LOGIN_URL = "http://127.0.0.1:8000/login"
DEFAULT_SEED = 20240601


@dataclass(frozen=True)
class SourceReport:
    source: str
    ideas: int
    skipped: int
    votes: int


@dataclass(frozen=True)
class SeedReport:
    """What ``seed_demo`` did; ``describe()`` is what the CLI prints."""

    accounts: tuple[tuple[str, str, bool], ...] = ()  # (role, email, created now)
    sources: tuple[SourceReport, ...] = ()
    voters: int = 0
    voters_created: int = 0
    elapsed: float = 0.0
    login_url: str = DEFAULT_LOGIN_URL
    nothing_done: str | None = None
    projects: tuple[ProjectSeed, ...] = ()
    polls: tuple[PollSeed, ...] = ()

    @property
    def ideas(self) -> int:
        return sum(s.ideas for s in self.sources)

    @property
    def votes(self) -> int:
        return sum(s.votes for s in self.sources)

    def describe(self) -> str:
        if self.nothing_done:
            lines = [self.nothing_done]
        else:
            lines = [f"Demo data seeded in {self.elapsed:.1f} s."]
        for s in self.sources:
            lines.append(
                f"  {s.source}: {s.ideas:,} ideas with {s.votes:,} votes"
                f" ({s.skipped:,} already there, skipped)"
            )
        if not self.nothing_done:
            lines.append(
                f"  voters: {self.voters:,} demo voters ({self.voters_created:,} created now);"
                " they cannot log in"
            )
        lines.extend(p.describe() for p in self.projects)
        lines.extend(p.describe() for p in self.polls)
        if self.accounts:
            lines.append(f"Demo accounts (password {DEMO_PASSWORD!r}); log in at {self.login_url}")
        for role, email, created in self.accounts:
            lines.append(f"  {role:<10} {email}{'' if created else '  (already existed)'}")
        return "\n".join(lines)


def seed_demo(
    factory: sessionmaker[Session],
    data_dir: Path | None = None,
    *,
    if_empty: bool = False,
    limit: int | None = None,
    progress: Progress = no_progress,
    seed: int = DEFAULT_SEED,
    login_url: str = DEFAULT_LOGIN_URL,
    now: datetime | None = None,
    projects: bool = False,
    polls: bool = False,
) -> SeedReport:
    """Seed demo accounts, ideas and votes; ``data_dir`` None means the shipped extract.

    With ``projects`` also the city projects of ``webapp/demo/pabulib_project.py`` (a real
    participatory budget from Pabulib, a current Moscow question), each once; with ``polls``
    the two demo polls of ``webapp/demo/demo_polls.py`` (simulated answers of the demo voters).
    ``progress`` gets the stages "voters", then "ideas" and "votes" together, then "ballots"."""
    started = time.perf_counter()
    if limit is not None and limit < 0:
        raise invalid("limit", "Must be between %(min)s and %(max)s.", min=0, max=2**31 - 1)
    paths = source_paths(data_dir)
    now = now or datetime.now(UTC)
    with transaction(factory) as session:
        if if_empty and session.scalar(select(Idea.id).limit(1)) is not None:
            present = set(
                session.scalars(
                    select(User.email).where(User.email.in_([a[1] for a in DEMO_ACCOUNTS]))
                )
            )
            return SeedReport(
                nothing_done="The database already has ideas; nothing was seeded (--if-empty).",
                login_url=login_url,
                accounts=tuple(
                    (role, email, False) for role, email, _ in DEMO_ACCOUNTS if email in present
                ),
            )
        places = load_places(session)
        accounts = _ensure_accounts(session, places)
        existing = set(
            session.scalars(select(Idea.external_ref).where(Idea.external_ref.isnot(None)))
        )
    every = {
        ROI_SOURCE: list(read_roi(paths[ROI_SOURCE], now, limit, paths.get(BOUNDARIES))),
        UK_SOURCE: list(read_uk(paths[UK_SOURCE], now, limit)),
        MADRID_SOURCE: list(read_madrid(paths[MADRID_SOURCE], now, limit)),
    }
    new = [i for ideas in every.values() for i in ideas if i.external_ref not in existing]
    pool_size = max((i.support for ideas in every.values() for i in ideas), default=0)
    created = 0
    votes: dict[str, int] = {}
    if new:
        voter_ids, pool, created = ensure_voters(
            factory, places, new, pool_size, seed, now, progress
        )
        votes = store_ideas(factory, places, new, voter_ids, pool, seed, progress)
        with transaction(factory) as session:
            ranking_log.recompute(session)  # running servers rebuild their rankings
    seeded = (
        seed_projects(
            factory,
            places,
            now=now,
            progress=progress,
            author_email=DEMO_ACCOUNTS[0][1],
            expert_email=DEMO_ACCOUNTS[2][1],
        )
        if projects
        else ()
    )
    polled = seed_polls(factory, now) if polls else ()
    sources = tuple(
        SourceReport(
            name,
            sum(1 for i in ideas if i.external_ref not in existing),
            sum(1 for i in ideas if i.external_ref in existing),
            votes.get(name, 0),
        )
        for name, ideas in every.items()
    )
    return SeedReport(
        accounts,
        sources,
        pool_size,
        created,
        time.perf_counter() - started,
        login_url,
        projects=seeded,
        polls=polled,
    )


def _ensure_accounts(session: Session, places: Places) -> tuple[tuple[str, str, bool], ...]:
    """One account per role with the documented demo password; existing ones are left alone."""
    done = []
    for role, email, name in DEMO_ACCOUNTS:
        exists = session.scalar(select(User.id).where(User.email == email)) is not None
        if not exists:
            users.register(
                session,
                email=email,
                display_name=name,
                password=DEMO_PASSWORD,
                role=role,
                district_id=places.district_id(places.slugs[0]) if places.slugs else None,
                verified_resident=True,
            )
        done.append((role, email, not exists))
    return tuple(done)
