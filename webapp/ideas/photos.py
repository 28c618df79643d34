"""Photos of an idea: list them, attach one, remove one (the author's or a moderator's act).

The picture itself is checked and re-encoded before it gets here
(``webapp.kernel.media.process_image``); these use-cases decide who may change an idea's photos,
keep the number per idea within its limit, store the re-encoded files and record the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.kernel import audit
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import N_, NotFound, PermissionDenied, invalid
from webapp.kernel.media import THUMB_SIDE, MediaStore, ProcessedImage
from webapp.kernel.security import can
from webapp.kernel.storage.models import Idea, IdeaPhoto
from webapp.kernel.validation import Errors, clean_text

ALT_MAX = 300  # characters of a photo's description (idea_photos.alt)


@dataclass(frozen=True)
class PhotoView:
    """One photo of an idea; ``alt`` is the author's description ('' when none was given)."""

    id: int
    idea_id: int
    key: str
    width: int
    height: int
    alt: str
    position: int

    @property
    def thumb_width(self) -> int:
        return max(1, round(self.width * self._thumb_scale))

    @property
    def thumb_height(self) -> int:
        return max(1, round(self.height * self._thumb_scale))

    @property
    def _thumb_scale(self) -> float:
        return min(1.0, THUMB_SIDE / max(self.width, self.height, 1))


def _view(photo: IdeaPhoto) -> PhotoView:
    return PhotoView(
        photo.id, photo.idea_id, photo.key, photo.width, photo.height, photo.alt, photo.position
    )


# Statuses of an idea the city took on: officials show its building in photos (the gallery of
# what was built from residents' ideas).
BUILDING_STATUSES = ("accepted", "in_progress", "implemented")


def may_change(
    idea_author_id: int | None, user: CurrentUser | None, status: str | None = None
) -> bool:
    """Whether ``user`` may add or remove photos of an idea by ``idea_author_id``: its author, a
    moderator, or — once the city took the idea on (``status``) — an official."""
    if user is None:
        return False
    if (idea_author_id is not None and user.id == idea_author_id) or can(user.role, "moderate"):
        return True
    return status in BUILDING_STATUSES and can(user.role, "answer")


def idea_to_change(session: Session, user: CurrentUser, idea_id: int) -> Idea:
    """The idea, when ``user`` may change its photos and place; NotFound or PermissionDenied."""
    idea = session.get(Idea, idea_id)
    if idea is None or (idea.status == "hidden" and not may_change(idea.author_id, user)):
        raise NotFound("Idea not found.")
    if not may_change(idea.author_id, user, idea.status):
        raise PermissionDenied(N_("Only the author of the idea or a moderator can change this."))
    return idea


def check_can_change(session: Session, user: CurrentUser, idea_id: int) -> None:
    """NotFound or PermissionDenied unless ``user`` may change this idea's photos."""
    idea_to_change(session, user, idea_id)


def list_photos(session: Session, idea_id: int) -> list[PhotoView]:
    rows = session.scalars(
        select(IdeaPhoto)
        .where(IdeaPhoto.idea_id == idea_id)
        .order_by(IdeaPhoto.position, IdeaPhoto.id)
    )
    return [_view(p) for p in rows]


def first_photos(session: Session, idea_ids: list[int]) -> dict[int, PhotoView]:
    """The first photo of each of ``idea_ids`` that has one (for the cards of a list)."""
    if not idea_ids:
        return {}
    rows = session.scalars(
        select(IdeaPhoto)
        .where(IdeaPhoto.idea_id.in_(idea_ids))
        .order_by(IdeaPhoto.idea_id, IdeaPhoto.position, IdeaPhoto.id)
    )
    first: dict[int, PhotoView] = {}
    for photo in rows:
        first.setdefault(photo.idea_id, _view(photo))
    return first


def clean_alt(raw: str | None) -> str:
    """The description typed for a photo, checked like every text (InvalidInput on ``alt``)."""
    errors = Errors()
    alt = clean_text(errors, "alt", raw, min_length=0, max_length=ALT_MAX)
    errors.raise_if_any()
    return alt


def attach_photo(
    session: Session,
    user: CurrentUser,
    idea_id: int,
    image: ProcessedImage,
    alt: str,
    store: MediaStore,
    per_idea: int,
) -> PhotoView:
    """Store ``image`` and attach it to the idea, last; at most ``per_idea`` photos per idea."""
    idea = idea_to_change(session, user, idea_id)
    alt = clean_alt(alt)
    count = session.scalar(select(func.count()).where(IdeaPhoto.idea_id == idea_id)) or 0
    if count >= per_idea:
        raise invalid(
            "photo",
            N_("An idea can have at most %(max)s photos. Remove one to add another."),
            max=per_idea,
        )
    last = session.scalar(select(func.max(IdeaPhoto.position)).where(IdeaPhoto.idea_id == idea_id))
    key = store.put(image)  # content-addressed: the same picture twice is one pair of files
    photo = IdeaPhoto(
        idea_id=idea_id,
        uploader_id=user.id,
        position=(last if last is not None else -1) + 1,
        key=key,
        width=image.width,
        height=image.height,
        bytes=len(image.data),
        alt=alt,
    )
    session.add(photo)
    session.flush()
    if user.id != idea.author_id:
        audit.record(
            session, user.id, "idea.photo_add", "idea", idea_id, details={"photo": photo.id}
        )
    return _view(photo)


def remove_photo(session: Session, user: CurrentUser, idea_id: int, photo_id: int) -> str | None:
    """Remove a photo of the idea; return its key when no other photo row uses the files.

    The caller deletes those files once the transaction has committed (never before: a rollback
    would leave a row without its picture).
    """
    idea = idea_to_change(session, user, idea_id)
    photo = session.get(IdeaPhoto, photo_id)
    if photo is None or photo.idea_id != idea_id:
        raise NotFound(N_("Photo not found."))
    key = photo.key
    session.delete(photo)
    session.flush()
    if user.id != idea.author_id:
        audit.record(
            session, user.id, "idea.photo_remove", "idea", idea_id, details={"photo": photo_id}
        )
    still_used = session.scalar(select(func.count()).where(IdeaPhoto.key == key)) or 0
    return None if still_used else key
