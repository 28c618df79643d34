"""Frozen dataclasses that services return; templates and the API never see ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PAGE = 10_000  # the deepest page any list pages to (a bound on OFFSET)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    email: str
    display_name: str
    role: str
    district_id: int | None
    verified_resident: bool
    locale: str | None


@dataclass(frozen=True)
class Named:
    """A category or district as shown to users."""

    id: int
    slug: str
    name_ru: str
    name_en: str
    parent_id: int | None = None
    short_ru: str | None = None
    short_en: str | None = None

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ru


@dataclass(frozen=True)
class IdeaFields:
    """What every view of an idea shows (``services.ideas._common`` fills it)."""

    id: int
    title: str
    status: str
    language: str
    category_id: int | None
    district_id: int | None
    author_id: int | None
    author_name: str | None
    support_count: int
    oppose_count: int
    comment_count: int
    created_at: datetime


@dataclass(frozen=True)
class IdeaSummary(IdeaFields):
    excerpt: str
    external_ref: str | None = None  # an imported idea's source (webapp/ideas/origins.py)


@dataclass(frozen=True)
class IdeaDetail(IdeaFields):
    body: str
    merged_into_id: int | None
    updated_at: datetime
    my_vote: int = 0
    can_edit: bool = False
    external_ref: str | None = None  # an imported idea's source (webapp/ideas/origins.py)


@dataclass(frozen=True)
class CommentView:
    id: int
    idea_id: int
    author_id: int | None
    author_name: str | None
    body: str
    created_at: datetime
    # Moderation: listed only to its author and moderators while hidden (with the reason).
    hidden: bool = False
    hidden_reason: str | None = None
    auto_hidden: bool = False
    parent_id: int | None = None  # the comment this one answers


@dataclass(frozen=True)
class VoteState:
    idea_id: int
    support_count: int
    oppose_count: int
    my_vote: int
    changed: bool
    can_edit: bool = False  # the voter may still edit the idea (theirs, and nobody has voted)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1
