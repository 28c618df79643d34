"""Where ideas are: the place of one idea, and the placed ideas for the map page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.ideas.ideas import district_and_children
from webapp.ideas.photos import idea_to_change
from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, InvalidInput
from webapp.kernel.storage.models import PUBLIC_STATUSES, Idea

MAP_LIMIT = 500  # markers on the map page: the most supported placed ideas


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class PlacedIdea:
    id: int
    title: str
    language: str
    status: str
    district_id: int | None
    support_count: int
    latitude: float
    longitude: float


def idea_place(session: Session, idea_id: int) -> Place | None:
    """The idea's point on the map, or None where it has none."""
    row = session.execute(select(Idea.latitude, Idea.longitude).where(Idea.id == idea_id)).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return Place(float(row[0]), float(row[1]))


def placed_ideas(
    session: Session, district_id: int | None = None, limit: int = MAP_LIMIT
) -> list[PlacedIdea]:
    """Public ideas with a point (in the district and its children), most supported first."""
    stmt = select(
        Idea.id,
        Idea.title,
        Idea.language,
        Idea.status,
        Idea.district_id,
        Idea.support_count,
        Idea.latitude,
        Idea.longitude,
    ).where(
        Idea.status.in_(PUBLIC_STATUSES),
        Idea.latitude.is_not(None),
        Idea.longitude.is_not(None),
    )
    if district_id is not None:
        stmt = stmt.where(Idea.district_id.in_(district_and_children(session, district_id)))
    rows = session.execute(stmt.order_by(Idea.support_count.desc(), Idea.id).limit(limit))
    return [
        PlacedIdea(r.id, r.title, r.language, r.status, r.district_id, r.support_count, lat, lon)
        for r in rows
        if (lat := r.latitude) is not None and (lon := r.longitude) is not None
    ]


def _coordinate(raw: str | None, low: float, high: float) -> float | None:
    text = (raw or "").strip().replace(",", ".").rstrip("°").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return round(value, 6) if low <= value <= high and value == value else None


def clean_place(latitude: str | None, longitude: str | None) -> Place | None:
    """The place typed in the form (decimal degrees, a comma allowed); None when both are empty.

    InvalidInput names the field that is not a number in its range.
    """
    if not (latitude or "").strip() and not (longitude or "").strip():
        return None
    lat = _coordinate(latitude, -90.0, 90.0)
    lon = _coordinate(longitude, -180.0, 180.0)
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    if lat is None:
        errors["latitude"] = (N_("Enter a latitude between -90 and 90, e.g. 55.7558."), {})
    if lon is None:
        errors["longitude"] = (N_("Enter a longitude between -180 and 180, e.g. 37.6173."), {})
    if errors or lat is None or lon is None:
        raise InvalidInput(errors)
    return Place(lat, lon)


def set_place(session: Session, user: CurrentUser, idea_id: int, place: Place | None) -> None:
    """Put the idea on the map (or take it off with None): its author's or a moderator's act."""
    idea = idea_to_change(session, user, idea_id)
    idea.latitude = None if place is None else place.latitude
    idea.longitude = None if place is None else place.longitude
    session.flush()
    if user.id != idea.author_id:
        details = (
            {} if place is None else {"latitude": place.latitude, "longitude": place.longitude}
        )
        audit.record(session, user.id, "idea.place", "idea", idea_id, details=details)
