"""The officials' dashboard: the strongest proposals, how sure the ranking is, and the response clock.

Order comes from the ranking snapshot (``RankingService``), never from SQL aggregation; the
rest (titles, distinct supporters, the response clock) from the database for one page at a time.

The response clock: a proposal awaits an answer once it has ``VECHE_RESPONSE_THRESHOLD``
distinct supporters; the moment it got there is the ``created_at`` of the T-th supporting vote
(``ORDER BY created_at OFFSET T-1`` on ``ix_votes_idea_created``; over the whole duplicate
cluster, each citizen's first support, for an idea that others were merged into). It is computed
once, when a dashboard first needs it, and cached in ``ideas.threshold_reached_at``. A proposal
is **overdue** when it is still published or under review, has no public response, and reached
the threshold more than ``VECHE_RESPONSE_DAYS`` days ago.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session

from webapp.ideas.ideas import district_and_children
from webapp.kernel.settings import Settings
from webapp.kernel.storage.models import PUBLIC_STATUSES, Idea, UTCDateTime, Vote, utcnow
from webapp.ranking.engine import ListFilter, RankingService

OPEN_STATUSES = ("published", "under_review")  # statuses that still await a decision
PERIODS = (7, 30, 90, 365)  # "created within the last N days" choices
DASHBOARD_SCHEMES = ("confident", "top", "trending", "broad", "new", "controversial")
EXPORT_DEFAULT = 100
EXPORT_MAX = 1_000
RESPONSE_STATES = ("answered", "decided", "overdue", "awaiting", "below_threshold")


@dataclass(frozen=True)
class DashboardFilter:
    """Which proposals a dashboard lists; ``since`` inclusive, ``until`` exclusive."""

    scheme: str = "confident"
    category_id: int | None = None
    district_id: int | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    project_id: int | None = None  # None: every project, the permanent pool included


@dataclass(frozen=True)
class Confidence:
    """How sure the ranking is of a score, labelled for what it is.

    ``kind`` 'interval': a two-sided 90 % Wilson interval ``[low, high]`` of the smoothed support
    rate (``top``, ``confident``; the ``confident`` score is its lower end). 'okrugs': the lowest
    and highest okrug support rate (``broad``: the score is their geometric mean). 'none': the
    order is not an estimate (``trending``, ``new``, ``controversial``); ``prior_share`` still
    says how much of the smoothed rate is the neutral prior rather than this idea's own votes.
    """

    kind: str
    low: float | None
    high: float | None
    prior_share: float
    level: float = 0.90


@dataclass(frozen=True)
class ShortlistRow:
    rank: int
    id: int
    title: str
    language: str
    status: str
    category_id: int | None
    district_id: int | None
    created_at: datetime
    supporters: int  # distinct citizens, across ideas merged into this one
    score: float | None
    confidence: Confidence | None
    threshold_reached_at: datetime | None
    responded_at: datetime | None
    days_waiting: int | None  # since reaching the threshold, while unanswered
    overdue: bool
    response_state: str  # one of RESPONSE_STATES


# --- confidence -------------------------------------------------------------------------------


def wilson(p: float, n: float, z: float) -> tuple[float, float]:
    """The Wilson score interval of a rate ``p`` over ``n`` trials at normal quantile ``z``."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(p, 0.0), 1.0)
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def confidence(why: dict[str, Any] | None, z: float) -> Confidence | None:
    """The confidence that fits the scheme of an ``explain()`` result."""
    if why is None:
        return None
    prior = float(why["prior_share"])
    scheme = why["scheme"]
    if scheme in ("top", "confident"):
        n = float(why["denominator"]) + float(why["weighted_oppose"]) + float(why["prior_strength"])
        s = float(why["weighted_support"]) + float(why["prior_strength"]) * float(why["prior_mean"])
        low, high = wilson(s / n, n, z)
        return Confidence("interval", low, high, prior)
    if scheme == "broad":
        rates = [r for r in why.get("okrug_rates", []) if r == r]  # NaN: okrugs without residents
        if rates:
            return Confidence("okrugs", min(rates), max(rates), prior)
    return Confidence("none", None, None, prior)


# --- the list -----------------------------------------------------------------------------------


def _filtered_ids(session: Session, flt: DashboardFilter) -> Select[Any]:
    stmt = select(Idea.id)
    stmt = stmt.where(Idea.status == flt.status if flt.status else Idea.status.in_(PUBLIC_STATUSES))
    if flt.category_id is not None:
        stmt = stmt.where(Idea.category_id == flt.category_id)
    if flt.district_id is not None:
        stmt = stmt.where(Idea.district_id.in_(district_and_children(session, flt.district_id)))
    if flt.project_id is not None:
        stmt = stmt.where(Idea.project_id == flt.project_id)
    if flt.since is not None:
        stmt = stmt.where(Idea.created_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Idea.created_at < flt.until)
    return stmt


def ranked_ids(
    session: Session, ranking: RankingService, flt: DashboardFilter, page: int, size: int
) -> tuple[list[int], int]:
    """One page of idea ids in the scheme's order, and how many match the filter."""
    if flt.since is None and flt.until is None:
        districts = None
        if flt.district_id is not None:
            districts = tuple(district_and_children(session, flt.district_id))
        return ranking.page(
            ListFilter(flt.category_id, districts, flt.status, flt.project_id),
            flt.scheme,
            page,
            size,
        )
    # A period: the ideas created in it come from SQL (status and created_at are indexed),
    # their order from the snapshot.
    ids = list(session.scalars(_filtered_ids(session, flt)))
    ordered = ranking.order(ids, flt.scheme)
    return ordered[(page - 1) * size : page * size], len(ordered)


def _clusters(session: Session, ids: Sequence[int]) -> dict[int, list[int]]:
    """For each of ``ids`` that others were merged into: its merged members."""
    members: dict[int, list[int]] = {}
    if not ids:
        return members
    rows = session.execute(
        select(Idea.merged_into_id, Idea.id).where(
            Idea.merged_into_id.in_(list(ids)), Idea.status == "merged"
        )
    ).all()
    for canonical, member in rows:
        if canonical is not None:
            members.setdefault(int(canonical), []).append(int(member))
    return members


def distinct_supporters(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """Distinct supporting citizens of each idea, counting votes on ideas merged into it once.

    An idea without merged members has one vote row per citizen (a unique constraint), so its
    counter is exact; a canonical idea is counted from the raw vote rows of its cluster.
    """
    if not ids:
        return {}
    counts = {
        int(i): int(n)
        for i, n in session.execute(
            select(Idea.id, Idea.support_count).where(Idea.id.in_(list(ids)))
        )
    }
    for canonical, members in _clusters(session, ids).items():
        counts[canonical] = int(
            session.scalar(
                select(func.count(func.distinct(Vote.user_id))).where(
                    Vote.idea_id.in_([canonical, *members]), Vote.value == 1
                )
            )
            or 0
        )
    return counts


def threshold_moment(
    session: Session, idea_id: int, threshold: int, members: Sequence[int] = ()
) -> datetime | None:
    """When the idea got its ``threshold``-th distinct supporter (None: not there yet)."""
    if not members:
        return session.scalar(
            select(Vote.created_at)
            .where(Vote.idea_id == idea_id, Vote.value == 1)
            .order_by(Vote.created_at, Vote.id)
            .offset(threshold - 1)
            .limit(1)
        )
    first = (
        select(type_coerce(func.min(Vote.created_at), UTCDateTime()).label("at"))
        .where(Vote.idea_id.in_([idea_id, *members]), Vote.value == 1)
        .group_by(Vote.user_id)
        .subquery()
    )
    return session.scalar(select(first.c.at).order_by(first.c.at).offset(threshold - 1).limit(1))


def fill_threshold_moments(
    session: Session, ids: Iterable[int], threshold: int, supporters: dict[int, int]
) -> dict[int, datetime]:
    """Compute and cache ``threshold_reached_at`` where it is missing; returns the new values."""
    wanted = sorted(i for i in ids if supporters.get(i, 0) >= threshold)
    if not wanted:
        return {}
    missing = list(
        session.scalars(
            select(Idea.id).where(Idea.id.in_(wanted), Idea.threshold_reached_at.is_(None))
        )
    )
    if not missing:
        return {}
    clusters = _clusters(session, missing)
    found: dict[int, datetime] = {}
    for idea_id in missing:
        moment = threshold_moment(session, idea_id, threshold, clusters.get(idea_id, ()))
        if moment is None:
            continue
        session.execute(
            update(Idea)
            .where(Idea.id == idea_id, Idea.threshold_reached_at.is_(None))
            .values(threshold_reached_at=moment)
        )
        found[idea_id] = moment
    return found


def response_state(
    status: str,
    supporters: int,
    reached: datetime | None,
    responded: datetime | None,
    settings: Settings,
    now: datetime,
) -> tuple[str, int | None]:
    """(state, days waiting) of one proposal; see RESPONSE_STATES."""
    if responded is not None:
        return "answered", None
    if status not in OPEN_STATUSES:
        return "decided", None  # decided without a public text (imported, or status only)
    if supporters < settings.response_threshold or reached is None:
        return "below_threshold", None
    days = max(0, (now - reached).days)
    if now - reached > timedelta(days=settings.response_days):
        return "overdue", days
    return "awaiting", days


def rows(
    session: Session,
    ranking: RankingService,
    ids: Sequence[int],
    first_rank: int,
    scheme: str,
    settings: Settings,
    now: datetime | None = None,
) -> list[ShortlistRow]:
    """Dashboard rows for ``ids`` (in that order, ranks counted from ``first_rank``)."""
    now = now or utcnow()
    if not ids:
        return []
    supporters = distinct_supporters(session, ids)
    filled = fill_threshold_moments(session, ids, settings.response_threshold, supporters)
    ideas = {
        r.id: r
        for r in session.execute(
            select(
                Idea.id,
                Idea.title,
                Idea.language,
                Idea.status,
                Idea.category_id,
                Idea.district_id,
                Idea.created_at,
                Idea.threshold_reached_at,
                Idea.responded_at,
            ).where(Idea.id.in_(list(ids)))
        )
    }
    out: list[ShortlistRow] = []
    z = ranking.config.z
    for n, idea_id in enumerate(ids):
        r = ideas.get(idea_id)
        if r is None:
            continue
        rank = first_rank + n
        why = ranking.explain(idea_id, scheme, rank)
        count = supporters.get(idea_id, 0)
        reached = filled.get(idea_id, r.threshold_reached_at)
        if count < settings.response_threshold:
            reached = None  # fell back under the threshold: the clock does not run
        state, days = response_state(r.status, count, reached, r.responded_at, settings, now)
        out.append(
            ShortlistRow(
                rank=rank,
                id=r.id,
                title=r.title,
                language=r.language,
                status=r.status,
                category_id=r.category_id,
                district_id=r.district_id,
                created_at=r.created_at,
                supporters=count,
                score=None if why is None else float(why["score"]),
                confidence=confidence(why, z),
                threshold_reached_at=reached,
                responded_at=r.responded_at,
                days_waiting=days,
                overdue=state == "overdue",
                response_state=state,
            )
        )
    return out


def dashboard(
    session: Session,
    ranking: RankingService,
    settings: Settings,
    flt: DashboardFilter,
    page: int,
    size: int,
    now: datetime | None = None,
) -> tuple[list[ShortlistRow], int]:
    """One page of the dashboard and the number of matching proposals."""
    ids, total = ranked_ids(session, ranking, flt, page, size)
    return rows(session, ranking, ids, (page - 1) * size + 1, flt.scheme, settings, now), total


# --- the overdue list -------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """Unanswered proposals above the threshold, longest waiting first."""

    overdue: list[ShortlistRow]
    total_overdue: int
    awaiting: int  # above the threshold, unanswered, not overdue yet


def waiting(
    session: Session,
    ranking: RankingService,
    settings: Settings,
    flt: DashboardFilter,
    page: int,
    size: int,
    now: datetime | None = None,
) -> Waiting:
    """The overdue proposals matching the filter (status and scheme aside), oldest clock first."""
    now = now or utcnow()
    threshold = settings.response_threshold
    merged_into = select(Idea.merged_into_id).where(
        Idea.status == "merged", Idea.merged_into_id.is_not(None)
    )
    open_flt = DashboardFilter(
        flt.scheme, flt.category_id, flt.district_id, None, flt.since, flt.until, flt.project_id
    )
    stmt = (
        _filtered_ids(session, open_flt)
        .where(Idea.status.in_(OPEN_STATUSES), Idea.responded_at.is_(None))
        .where(or_(Idea.support_count >= threshold, Idea.id.in_(merged_into)))
    )
    candidates = list(session.scalars(stmt))
    supporters = distinct_supporters(session, candidates)
    above = [i for i in candidates if supporters.get(i, 0) >= threshold]
    fill_threshold_moments(session, above, threshold, supporters)
    clocks: list[tuple[datetime, int]] = []
    if above:
        found = session.execute(
            select(Idea.threshold_reached_at, Idea.id).where(Idea.id.in_(above))
        ).all()
        clocks = sorted((at, i) for at, i in found if at is not None)
    cutoff = now - timedelta(days=settings.response_days)
    late = [i for at, i in clocks if at < cutoff]
    shown = late[(page - 1) * size : page * size]
    listed = rows(session, ranking, shown, (page - 1) * size + 1, flt.scheme, settings, now)
    return Waiting(listed, len(late), len(clocks) - len(late))
