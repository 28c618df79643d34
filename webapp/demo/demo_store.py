"""Storing demo voters, ideas and votes in bulk (the database side of `veche seed-demo`).

Ideas are stored in batches, each batch in one transaction together with its votes and its
``support_count``, so an interrupted run leaves only complete ideas and a re-run finishes the job.
Voters are created first, in chunks of their own transactions; each registers before its first
vote (a first, planning pass over the ideas finds that vote; the second pass stores the votes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from itertools import repeat

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from webapp.demo import demo_votes as dv
from webapp.demo.demo_sources import SourceIdea
from webapp.kernel.progress import Progress, no_progress
from webapp.kernel.search_text import search_document
from webapp.kernel.security import UNUSABLE_PASSWORD
from webapp.kernel.storage.bulk import insert_rows, timestamp_suffix
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, District, Idea, User
from webapp.taxonomy import taxonomy

DEMO_DOMAIN = "demo.veche.local"
VOTER_PREFIX = "voter-"
USER_CHUNK = 50_000  # voters per transaction
VOTE_CHUNK = 100_000  # vote rows per insert call
BATCH_VOTES = 500_000  # votes per transaction (a bigger idea gets a transaction of its own)
USER_COLUMNS = (
    "email",
    "display_name",
    "password_hash",
    "role",
    "district_id",
    "verified_resident",
    "blocked",
    "created_at",
)
VOTE_COLUMNS = ("user_id", "idea_id", "value", "created_at")


def voter_email(index: int) -> str:
    """The e-mail of voter ``index`` (0-based): voter-0000001@demo.veche.local for 0."""
    return f"{VOTER_PREFIX}{index + 1:07d}@{DEMO_DOMAIN}"


@dataclass(frozen=True)
class Places:
    """Leaf districts sorted by slug, their ids and okrug ids; category ids by slug."""

    slugs: list[str]
    ids: NDArray[np.int64]
    okrug_by_id: dict[int, int]
    categories: dict[str, int]

    def district_id(self, slug: str | None) -> int | None:
        return None if slug is None else self._id_by_slug[slug]

    @cached_property
    def _id_by_slug(self) -> dict[str, int]:
        return dict(zip(self.slugs, self.ids.tolist(), strict=True))

    def okrugs(self, district_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The okrug id of each district id, -1 where unknown; shape as given."""
        lookup = np.full(max([*self.okrug_by_id, 0]) + 1, -1, dtype=np.int64)
        for district, okrug in self.okrug_by_id.items():
            lookup[district] = okrug
        inside = (district_ids >= 0) & (district_ids < len(lookup))
        return np.where(inside, lookup[np.where(inside, district_ids, 0)], -1)


def load_places(session: Session) -> Places:
    if session.scalar(select(func.count()).select_from(Category)) == 0:
        taxonomy.load_categories(session)
    if session.scalar(select(func.count()).select_from(District)) == 0:
        taxonomy.load_districts(session)
    leaves = session.execute(
        select(District.slug, District.id, District.parent_id)
        .where(District.parent_id.isnot(None))
        .order_by(District.slug)
    ).all()
    return Places(
        slugs=[r.slug for r in leaves],
        ids=np.array([r.id for r in leaves], dtype=np.int64),
        okrug_by_id={r.id: r.parent_id for r in leaves},
        categories={slug: id_ for slug, id_ in session.execute(select(Category.slug, Category.id))},
    )


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * dv.US_PER_S)


def _plan(
    idea: SourceIdea, places: Places, pool: dv.VoterPool, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The voter indices and vote times of one idea, shape (support,) each; deterministic."""
    rng = dv.idea_rng(seed, idea.external_ref)
    district = places.district_id(idea.district)
    okrug = None if district is None else places.okrug_by_id.get(district)
    voters = pool.pick(rng, idea.support, okrug)
    times = dv.vote_times(rng, idea.support, _us(idea.votes_from), _us(idea.votes_until))
    # Sorted times keep the (idea_id, created_at) index append-only; voters stay in random order.
    return voters, np.sort(times)


def ensure_voters(
    factory: sessionmaker[Session],
    places: Places,
    ideas: Sequence[SourceIdea],
    pool_size: int,
    seed: int,
    now: datetime,
    progress: Progress = no_progress,
) -> tuple[NDArray[np.int64], dv.VoterPool, int]:
    """User ids of voters 0..pool_size-1 (creating the missing ones) and their okrug pool;
    ``progress`` stage "voters" counts the voters created."""
    indices = np.arange(pool_size, dtype=np.int64)
    position, verified = dv.voter_attributes(indices, len(places.slugs), seed)
    district = places.ids[position] if len(places.slugs) else np.full(pool_size, -1, np.int64)
    ids = np.full(pool_size, -1, dtype=np.int64)
    stored_at = np.zeros(pool_size, dtype=np.int64)
    with transaction(factory) as session:
        for index, user_id, district_id, created_at in _existing_voters(session, pool_size, True):
            ids[index] = user_id
            district[index] = -1 if district_id is None else district_id
            stored_at[index] = _us(created_at) if created_at is not None else 0
    pool = dv.VoterPool.build(places.okrugs(district))
    # Each voter registers before its first vote (first planning pass; the second stores).
    first = np.full(pool_size, _us(now), dtype=np.int64)
    for idea in ideas:
        voters, times = _plan(idea, places, pool, seed)
        np.minimum.at(first, voters, times)
    signup = dv.signup_times(first, indices, seed)
    missing = np.flatnonzero(ids < 0)
    late = np.flatnonzero((ids >= 0) & (stored_at >= first))
    with progress("voters", len(missing), "user") as advance:
        for chunk in np.array_split(missing, max(1, -(-len(missing) // USER_CHUNK))):
            if not len(chunk):
                continue
            with transaction(factory) as session:
                stamps = dv.format_timestamps(signup[chunk], timestamp_suffix(session)).tolist()
                rows = [
                    (
                        voter_email(i),
                        f"Demo voter {i + 1}",
                        UNUSABLE_PASSWORD,
                        "citizen",
                        None if d < 0 else d,
                        v,
                        False,
                        s,
                    )
                    for i, d, v, s in zip(
                        chunk.tolist(),
                        district[chunk].tolist(),
                        verified[chunk].tolist(),
                        stamps,
                        strict=True,
                    )
                ]
                insert_rows(session, "users", USER_COLUMNS, rows)
            advance(len(chunk))
    with transaction(factory) as session:
        if len(late):
            # Voters from an earlier seed whose first vote is now earlier than their sign-up.
            session.execute(
                update(User),
                [{"id": int(ids[i]), "created_at": _from_us(int(signup[i]))} for i in late],
            )
        if len(missing):
            for index, user_id, _d, _c in _existing_voters(session, pool_size, False):
                ids[index] = user_id
    return ids, pool, len(missing)


def _from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / dv.US_PER_S, UTC)


def _existing_voters(
    session: Session, pool_size: int, details: bool
) -> Iterator[tuple[int, int, int | None, datetime | None]]:
    """(0-based index, user id, district id, created_at) of stored demo voters below ``pool_size``.

    Streamed in partitions: the full sets have ~900 k voters. Without ``details`` the district
    and created_at are None (cheaper).
    """
    columns = [User.id, User.email]
    if details:
        columns += [User.district_id, User.created_at]
    stmt = select(*columns).where(User.email.like(f"{VOTER_PREFIX}%@{DEMO_DOMAIN}"))
    result = session.execute(stmt.execution_options(yield_per=USER_CHUNK))
    for row in result:
        number = row.email[len(VOTER_PREFIX) : row.email.index("@")]
        if number.isdigit() and 0 < int(number) <= pool_size:
            yield (
                int(number) - 1,
                row.id,
                row.district_id if details else None,
                row.created_at if details else None,
            )


def _batches(ideas: Sequence[SourceIdea]) -> Iterator[list[SourceIdea]]:
    batch: list[SourceIdea] = []
    votes = 0
    for idea in ideas:
        if batch and votes + idea.support > BATCH_VOTES:
            yield batch
            batch, votes = [], 0
        batch.append(idea)
        votes += idea.support
    if batch:
        yield batch


def store_ideas(
    factory: sessionmaker[Session],
    places: Places,
    ideas: Sequence[SourceIdea],
    voter_ids: NDArray[np.int64],
    pool: dv.VoterPool,
    seed: int,
    progress: Progress = no_progress,
) -> dict[str, int]:
    """Insert ideas with their votes, a batch per transaction; returns votes stored per source.

    ``progress`` gets two stages at once: "ideas" and "votes"."""
    stored: dict[str, int] = {}
    with (
        progress("ideas", len(ideas), "idea") as ideas_done,
        progress("votes", sum(i.support for i in ideas), "vote") as votes_done,
    ):
        for batch in _batches(ideas):
            with transaction(factory) as session:
                suffix = timestamp_suffix(session)
                for idea in batch:
                    idea_id = _add_idea(session, idea, places)
                    voters, times = _plan(idea, places, pool, seed)
                    for lo in range(0, idea.support, VOTE_CHUNK):
                        users_ = voter_ids[voters[lo : lo + VOTE_CHUNK]].tolist()
                        stamps = dv.format_timestamps(times[lo : lo + VOTE_CHUNK], suffix).tolist()
                        rows = list(zip(users_, repeat(idea_id), repeat(1), stamps))
                        insert_rows(session, "votes", VOTE_COLUMNS, rows)
                        votes_done(len(rows))
                    source = idea.external_ref.split(":", 1)[0]
                    stored[source] = stored.get(source, 0) + idea.support
                    ideas_done(1)
    return stored


def _add_idea(session: Session, idea: SourceIdea, places: Places) -> int:
    category = places.categories.get(idea.category, places.categories.get("other"))
    row = Idea(
        title=idea.title,
        body=idea.body,
        category_id=category,
        district_id=places.district_id(idea.district),
        latitude=idea.latitude,
        longitude=idea.longitude,
        author_id=None,
        language=idea.language,
        status="published",
        support_count=idea.support,
        search_doc=search_document(idea.title, idea.body),
        external_ref=idea.external_ref,
        created_at=idea.created_at,
        updated_at=idea.created_at,
    )
    session.add(row)
    session.flush()
    return row.id
