"""Read the database into the ranking engine's arrays (columns, not ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, select
from sqlalchemy.orm import Session

from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes
from webapp.kernel.storage.models import IDEA_STATUSES, District, Idea, RankingEvent, User

CHUNK = 200_000
STATUS_CODE = {s: i for i, s in enumerate(IDEA_STATUSES)}


def epoch(session: Session, column: Any) -> ColumnElement[int]:
    """Unix seconds of a timestamp column, computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.extract("epoch", column), BigInteger)


@dataclass
class IdeaColumns:
    """What list filters need, per idea index (database ids, -1 for none)."""

    ids: NDArray[np.int64]
    category: NDArray[np.int32]
    district: NDArray[np.int32]
    status: NDArray[np.int8]
    project: NDArray[np.int32]


@dataclass
class Loaded:
    votes: Votes
    users: Users
    ideas: Ideas
    geo: Geography
    user_ids: NDArray[np.int64]
    columns: IdeaColumns
    district_index: dict[int, int]
    last_event_id: int


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(RankingEvent.id), 0))) or 0)


def load_geography(session: Session) -> tuple[Geography, dict[int, int]]:
    rows = session.execute(select(District.id, District.parent_id).order_by(District.id)).all()
    index = {did: i for i, (did, _) in enumerate(rows)}
    okrug_ids = sorted({parent if parent is not None else did for did, parent in rows})
    okrug_index = {oid: i for i, oid in enumerate(okrug_ids)}
    okrug_of = np.array(
        [okrug_index[parent if parent is not None else did] for did, parent in rows], dtype=np.int16
    )
    return Geography(okrug_of), index


def district_indices(values: list[int | None], index: dict[int, int]) -> NDArray[np.int16]:
    return np.array([CITY_WIDE if v is None else index.get(v, CITY_WIDE) for v in values], np.int16)


def idea_row(session: Session, idea_id: int) -> tuple[Any, ...] | None:
    """One idea's (id, district, category, status, created, viewers, merged_into, project)."""
    return session.execute(_idea_select(session).where(Idea.id == idea_id)).first()


def idea_rows(session: Session, idea_ids: list[int]) -> list[Any]:
    """Rows like :func:`idea_row` for several ideas (empty list for none)."""
    if not idea_ids:
        return []
    return list(
        session.execute(_idea_select(session).where(Idea.id.in_(idea_ids)).order_by(Idea.id))
    )


def user_rows(session: Session, user_ids: list[int]) -> list[Any]:
    """(id, verified, district, created) of several users."""
    if not user_ids:
        return []
    return list(
        session.execute(
            select(
                User.id, User.verified_resident, User.district_id, epoch(session, User.created_at)
            )
            .where(User.id.in_(user_ids))
            .order_by(User.id)
        )
    )


def _idea_select(session: Session) -> Any:
    return select(
        Idea.id,
        Idea.district_id,
        Idea.category_id,
        Idea.status,
        epoch(session, Idea.created_at),
        Idea.viewer_count,
        Idea.merged_into_id,
        Idea.project_id,
    )


VOTES_SQL = {
    "sqlite": "SELECT idea_id, user_id, value, CAST(strftime('%s', created_at) AS INTEGER) FROM votes",
    "postgresql": "SELECT idea_id, user_id, value, CAST(EXTRACT(EPOCH FROM created_at) AS BIGINT) FROM votes",
}


def _vote_columns(session: Session) -> NDArray[np.int64]:
    """All votes as an (n, 4) int64 array, read through the driver's cursor in chunks.

    The ORM's row objects cost ~10x more than the driver's tuples at a million rows.
    """
    connection = session.connection()
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(VOTES_SQL[connection.dialect.name])
        blocks = []
        while rows := cursor.fetchmany(CHUNK):
            blocks.append(np.array(rows, dtype=np.int64).reshape(-1, 4))
    finally:
        cursor.close()
    return np.concatenate(blocks) if blocks else np.empty((0, 4), dtype=np.int64)


def load(session: Session) -> Loaded:
    """The whole ranking input, consistent with the returned event cursor.

    PostgreSQL reads in one REPEATABLE READ snapshot (set by the caller's connection); SQLite
    reads inside one read transaction. Either way the votes and the cursor agree.
    """
    cursor = last_event_id(session)
    geo, district_index = load_geography(session)

    rows = session.execute(_idea_select(session).order_by(Idea.id)).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    position = {int(i): n for n, i in enumerate(ids)}
    merged_into = [r[6] for r in rows]
    canonical = np.array(
        [position.get(m, n) if m is not None else n for n, m in enumerate(merged_into)], np.int32
    )
    canonical = canonical[canonical]  # no chains: a merge target is canonical itself
    ideas = Ideas.build(
        district=district_indices([r[1] for r in rows], district_index),
        created=np.array([r[4] or 0 for r in rows], dtype=np.int64),
        viewers=np.array([r[5] or 0 for r in rows], dtype=np.int64),
        canonical=canonical,
    )
    columns = IdeaColumns(
        ids=ids,
        category=np.array([-1 if r[2] is None else r[2] for r in rows], dtype=np.int32),
        district=np.array([-1 if r[1] is None else r[1] for r in rows], dtype=np.int32),
        status=np.array([STATUS_CODE[r[3]] for r in rows], dtype=np.int8),
        project=np.array([r[7] for r in rows], dtype=np.int32),
    )

    urows = session.execute(
        select(
            User.id, User.verified_resident, User.district_id, epoch(session, User.created_at)
        ).order_by(User.id)
    ).all()
    user_ids = np.array([r[0] for r in urows], dtype=np.int64)
    users = Users.build(
        verified=np.array([bool(r[1]) for r in urows], dtype=np.bool_),
        district=district_indices([r[2] for r in urows], district_index),
        created=np.array([r[3] or 0 for r in urows], dtype=np.int64),
    )

    raw = _vote_columns(session)
    votes = Votes.build(
        idea=np.searchsorted(ids, raw[:, 0]).astype(np.int32),
        user=np.searchsorted(user_ids, raw[:, 1]).astype(np.int32),
        value=raw[:, 2].astype(np.int8),
        time=raw[:, 3],
    )
    return Loaded(votes, users, ideas, geo, user_ids, columns, district_index, cursor)
