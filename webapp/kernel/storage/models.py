"""SQLAlchemy 2 typed models. One Alembic history (``migrations/``) builds exactly this schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ROLES = ("citizen", "moderator", "official", "admin")
IDEA_STATUSES = (
    "published",
    "under_review",
    "accepted",
    "in_progress",
    "implemented",
    "rejected",
    "hidden",
    "merged",
)
# Statuses a visitor sees in public lists.
PUBLIC_STATUSES = (
    "published",
    "under_review",
    "accepted",
    "in_progress",
    "implemented",
    "rejected",
)

# Projects (webapp/projects/): the dated stages of a city question, in order.
PROJECT_STAGES = ("proposals", "review", "voting", "results", "implementation")
# How residents choose in the voting stage: supports (the ranking), or a budget ballot.
VOTING_KINDS = ("supports", "approval", "knapsack")
# The rule that turns budget ballots into funded ideas (ranking/budgets.py).
BUDGET_RULES = ("greedy", "equal_shares")
# Who may cast a ballot: every signed-in user, residents of the project's scope (by the district in
# their profile), or only verified residents of it.
ELIGIBILITY = ("everyone", "residents", "verified")
# City polls (webapp/polls/): the kinds of question a poll asks.
POLL_KINDS = ("single", "multiple", "scale", "ranking")
# The permanent idea pool: always open for proposals and supports; created by migration 0008.
PERMANENT_PROJECT_ID = 1

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and dialect.name == "sqlite":
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class District(Base):
    """An okrug (``parent_id`` is NULL) or a district inside one."""

    __tablename__ = "districts"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    short_ru: Mapped[str | None] = mapped_column(String(20))
    short_en: Mapped[str | None] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_ru: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('citizen', 'moderator', 'official', 'admin')", name="role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="citizen")
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    verified_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    # E-mail delivery of notifications (when SMTP is configured); the page always has them.
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class ApiToken(Base):
    """A personal API token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    # A token stops working at expires_at (services.api_tokens); NULL only for rows migrated
    # from before expiry existed (migration 0006 gives them one).
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    # The first characters of the token ("veche_Ab3x"), shown in the owner's list so that a
    # token can be recognised without storing it.
    hint: Mapped[str] = mapped_column(String(20), default="", server_default="")


class UserSession(Base):
    """A signed-in browser: the cookie holds a random id, only its SHA-256 digest is stored.

    Deleting the row ends the session at once, on every worker (logout, "log out everywhere",
    a password or role change, blocking). ``last_seen_at`` is written at most once a minute;
    the idle and absolute timeouts are checked against it and ``expires_at`` on every request.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_seen", "user_id", "last_seen_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class PendingRegistration(Base):
    """A registration waiting for its e-mail link (only on a site that sends e-mail).

    Each registration is a row of its own: a second registration of the same address never
    changes the first, and no account exists until the mailbox's owner follows a link and
    gives that registration's password (services.registration). Rows expire; only the digest
    of the link's random token is stored.
    """

    __tablename__ = "pending_registrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"))
    locale: Mapped[str | None] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginEvent(Base):
    """The login audit: successes, failures, sessions ended, tokens made and revoked.

    ``user_id`` is NULL for a failed login with an unknown e-mail (then only the address
    hash's first characters are kept in ``details``, never the address). The owner sees their
    own rows (/account/security), admins all (/admin/logins).
    """

    __tablename__ = "login_events"
    __table_args__ = (
        Index("ix_login_events_user_created", "user_id", "created_at"),
        Index("ix_login_events_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Idea(Base):
    __tablename__ = "ideas"
    __table_args__ = (
        CheckConstraint(
            "status IN ('published', 'under_review', 'accepted', 'in_progress', "
            "'implemented', 'rejected', 'hidden', 'merged')",
            name="status",
        ),
        Index("ix_ideas_status_created", "status", "created_at"),
        Index("ix_ideas_status_support", "status", "support_count"),
        Index("ix_ideas_category_status", "category_id", "status"),
        Index("ix_ideas_district_status", "district_id", "status"),
        Index("ix_ideas_author_created", "author_id", "created_at"),
        Index("ix_ideas_project_status", "project_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # The city project (question) the idea answers; the permanent pool is project 1.
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id"), default=PERMANENT_PROJECT_ID, server_default="1"
    )
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    language: Mapped[str] = mapped_column(String(10), default="ru")
    status: Mapped[str] = mapped_column(String(20), default="published")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"), index=True)
    # Denormalised counters, changed in the same transaction as the vote/comment row.
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    oppose_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    # Distinct viewers recorded (batched, see webapp/ideas/exposure.py): the ranking's denominator.
    viewer_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Stemmed words of title and body (see webapp/kernel/search_text.py); indexed by SQLite FTS5.
    search_doc: Mapped[str] = mapped_column(Text, default="")
    # Where an imported idea came from ("uk_petitions:300000"); makes imports idempotent.
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the text last changed (set by the edit service; votes and comments do not touch it).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Moderation: why the idea is hidden (shown to its author), the status to restore on unhide,
    # and whether it was hidden automatically by reports (pending a moderator's review).
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    status_before_hide: Mapped[str | None] = mapped_column(String(20))
    auto_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Officials: when the status last changed, when the first official response was published,
    # and when the idea first reached VECHE_RESPONSE_THRESHOLD supporters (the response clock).
    status_changed_at: Mapped[datetime | None] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column()
    threshold_reached_at: Mapped[datetime | None] = mapped_column()
    # Where the idea is (WGS84), when its author or source gives a point; shown on the map.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class IdeaPhoto(Base):
    """A photo attached to an idea: stored only after decoding and re-encoding (no metadata).

    ``key`` names the files in the media store (``<key>.jpg`` full size, ``<key>-thumb.jpg``);
    it is the SHA-256 of the re-encoded image, so the same picture uploaded twice is one file.
    """

    __tablename__ = "idea_photos"
    __table_args__ = (Index("ix_idea_photos_idea_position", "idea_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("user_id", "idea_id", name="uq_votes_user_idea"),
        CheckConstraint("value IN (-1, 1)", name="value"),
        Index("ix_votes_idea_created", "idea_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    value: Mapped[int] = mapped_column(SmallInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_idea_created", "idea_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    auto_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A comment moved to the canonical idea by a merge: where it was written, and which merge
    # moved it (an unmerge moves exactly these back).
    moved_from_idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"))
    moved_by_merge_id: Mapped[int | None] = mapped_column(ForeignKey("idea_merges.id"), index=True)
    # The comment this one answers (a reply), if any; its author is notified.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), index=True
    )


class Report(Base):
    """A citizen's flag on an idea or a comment."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("(idea_id IS NOT NULL) OR (comment_id IS NOT NULL)", name="target"),
        Index("ix_reports_open", "resolved_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(String(50))
    # How much this report counts towards auto-hiding, fixed when it is made from the
    # reporter's account age, verification and past accuracy (services.moderation).
    weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")


class AuditLog(Base):
    """Who did what, when and why, with before/after snapshots."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RankingEvent(Base):
    """An append-only log of what changes rankings, read by every worker process.

    ``kind`` 'vote': a vote row was added (``delta`` +1) or removed (-1) with ``value``;
    'idea': an idea was created or its text, status, category, district or viewers changed;
    'recompute': something global changed (a merge, a weight decision) — rebuild from scratch.
    Workers poll it by ``id`` (the cursor), so every worker sees every vote within the poll interval.
    """

    __tablename__ = "ranking_events"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    idea_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(SmallInteger, default=0)
    delta: Mapped[int] = mapped_column(SmallInteger, default=0)
    # When the vote concerned was cast (a withdrawal names the original vote's time).
    vote_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaViewer(Base):
    """One row per distinct viewer of an idea (a user id, or a hashed anonymous session)."""

    __tablename__ = "idea_viewers"
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True)
    viewer_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- duplicate detection (docs/operations.md, "Embeddings and duplicate detection") -----------

DUPLICATE_GROUP_STATUSES = ("open", "dismissed", "merged")


class IdeaEmbedding(Base):
    """One idea's sentence vector for one model (``model`` = the encoder's identity).

    ``vector`` is ``dim`` float32 numbers, little-endian. ``text_hash`` is the SHA-1 of the
    embedded text (``ml.text.join_idea(title, body)``) and ``idea_updated_at`` the idea's
    ``updated_at`` when it was read: an idea whose ``updated_at`` moved on is re-checked, and
    re-embedded only if its text hash changed. A re-embedded idea gets a new row (new ``id``):
    every worker polls this table by ``id`` to add the vectors one worker computed to its index.
    """

    __tablename__ = "idea_embeddings"
    # AUTOINCREMENT on SQLite: ids are never reused after a delete (pollers rely on it).
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), unique=True)
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    text_hash: Mapped[str] = mapped_column(String(40))
    idea_updated_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DuplicatePair(Base):
    """Two ideas the duplicate finder scored at or above its threshold (``idea_a < idea_b``)."""

    __tablename__ = "duplicate_pairs"
    __table_args__ = (
        UniqueConstraint("idea_a", "idea_b", name="uq_duplicate_pairs_idea_a_idea_b"),
        CheckConstraint("idea_a < idea_b", name="ordered"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_a: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    idea_b: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    similarity: Mapped[float] = mapped_column(Float)
    reasons: Mapped[str] = mapped_column(String(200), default="")  # comma-separated codes
    model: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DuplicateGroup(Base):
    """A candidate group of duplicates for the moderation queue.

    ``status`` 'open' is all the finder writes; 'dismissed' and 'merged' are for the moderators'
    actions (the moderation issue). ``score`` is the group's strongest pair score.
    """

    __tablename__ = "duplicate_groups"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'dismissed', 'merged')", name="status"),
        Index("ix_duplicate_groups_status_score", "status", "score"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="open")
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DuplicateGroupMember(Base):
    """An idea in a candidate group: its strongest pair score in the group, and why."""

    __tablename__ = "duplicate_group_members"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("duplicate_groups.id", ondelete="CASCADE"), primary_key=True
    )
    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


# --- moderation and officials (docs/moderation.md) ------------------------------------------


class IdeaMerge(Base):
    """A moderator's merge of some ideas into a canonical one; ``undone_at`` once unmerged.

    The members and what they were before are in ``idea_merge_members``; moved comments carry
    ``moved_by_merge_id``. Vote rows are never touched: who counts where follows from
    ``ideas.merged_into_id``.
    """

    __tablename__ = "idea_merges"
    __table_args__ = (Index("ix_idea_merges_canonical", "canonical_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("duplicate_groups.id", ondelete="SET NULL")
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column()
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    undo_reason: Mapped[str | None] = mapped_column(Text)


class IdeaMergeMember(Base):
    """One idea folded in by a merge, with what to restore on unmerge."""

    __tablename__ = "idea_merge_members"
    merge_id: Mapped[int] = mapped_column(
        ForeignKey("idea_merges.id", ondelete="CASCADE"), primary_key=True
    )
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"), primary_key=True, index=True)
    previous_status: Mapped[str] = mapped_column(String(20))
    previous_merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"))


class DismissedPair(Base):
    """Two ideas a moderator said are not duplicates, with the texts they had then.

    The pair is not proposed again while both texts hash the same (``ml.text.join_idea``).
    """

    __tablename__ = "dismissed_pairs"
    __table_args__ = (CheckConstraint("idea_a < idea_b", name="ordered"),)
    idea_a: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True
    )
    idea_b: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    text_hash_a: Mapped[str] = mapped_column(String(40))
    text_hash_b: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


SIGNAL_DECISIONS = ("confirmed", "lifted")


class SignalReview(Base):
    """A moderator's decision on the manipulation-signal discounts of an idea's votes.

    'lifted' makes the ranking ignore the signals for the idea's votes; 'confirmed' keeps the
    discounts and takes the idea off the review list. The latest row per idea is in force.
    """

    __tablename__ = "signal_reviews"
    __table_args__ = (
        CheckConstraint("decision IN ('confirmed', 'lifted')", name="decision"),
        Index("ix_signal_reviews_idea_created", "idea_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OfficialResponse(Base):
    """An official's public answer to an idea, with the status it set."""

    __tablename__ = "official_responses"
    __table_args__ = (Index("ix_official_responses_idea_created", "idea_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


NOTIFICATION_KINDS = (
    "poll",  # a poll the reader may answer has opened
    "results",  # the results of a project the reader took part in were published
    "merged",
    "status",
    "response",
    "hidden",
    "unhidden",
    "comment_hidden",
    "comment_unhidden",
    "comment",  # a comment on the reader's idea
    "reply",  # a reply to the reader's comment
    "unmerged",  # a merge the reader was told about was undone
)
EMAIL_STATES = ("pending", "sent", "failed", "skipped")


class Notification(Base):
    """Something a citizen should know: a merge, an official answer, a status change, a hide.

    ``data`` holds what the message needs (titles, statuses) as it was when it happened.
    ``email_state`` is NULL when no e-mail is due, else pending → sent / failed / skipped.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_email_state", "email_state", "id"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()
    email_state: Mapped[str | None] = mapped_column(String(10))
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    emailed_at: Mapped[datetime | None] = mapped_column()
    # not before: the retry backoff after a failure, or the lease of a sender that claimed it
    email_next_at: Mapped[datetime | None] = mapped_column()


class Project(Base):
    """A question the city asks, with dated stages (``ProjectStage``) and, for a participatory
    budget, money (``ProjectPot``). Project 1 is the permanent idea pool (``permanent``)."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("voting IN ('supports', 'approval', 'knapsack')", name="voting"),
        CheckConstraint("rule IN ('greedy', 'equal_shares')", name="rule"),
        CheckConstraint("eligibility IN ('everyone', 'residents', 'verified')", name="eligibility"),
        CheckConstraint(
            "stage_override IS NULL OR stage_override IN "
            "('proposals', 'review', 'voting', 'results', 'implementation', 'closed')",
            name="stage_override",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # The question, in Russian (required) and English (optional: falls back to Russian).
    title_ru: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="", server_default="")
    description_ru: Mapped[str] = mapped_column(Text, default="", server_default="")
    description_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Languages proposals are invited in, comma-separated ("ru" or "ru,en").
    languages: Mapped[str] = mapped_column(String(20), default="ru,en", server_default="ru,en")
    cover_key: Mapped[str | None] = mapped_column(String(64))
    cover_alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # NULL: the whole city; else an okrug or a district.
    scope_district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    permanent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # A draft is seen only by officials and admins.
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    voting: Mapped[str] = mapped_column(String(20), default="supports", server_default="supports")
    # Approval ballots: choose at most this many ideas (per pot).
    approval_limit: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(20), default="greedy", server_default="greedy")
    eligibility: Mapped[str] = mapped_column(
        String(20), default="everyone", server_default="everyone"
    )
    # A manual stage set by an official (audited), in force instead of the dates; "closed" closes all.
    stage_override: Mapped[str | None] = mapped_column(String(20))
    override_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    results_published_at: Mapped[datetime | None] = mapped_column()
    # Where an imported project came from ("pabulib:Poland_Wieliczka_2023_Green_Budget") and its
    # attribution, shown on the project page.
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    source_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectStage(Base):
    """One dated stage of a project: open from ``starts_at`` until ``ends_at`` (NULL: no end)."""

    __tablename__ = "project_stages"
    __table_args__ = (
        UniqueConstraint("project_id", "stage", name="uq_project_stages_project_stage"),
        CheckConstraint(
            "stage IN ('proposals', 'review', 'voting', 'results', 'implementation')",
            name="stage",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()


class ProjectPot(Base):
    """Money of a budget project: the whole scope's pot (``district_id`` NULL) or one district's.

    An idea competes in the pot of its district (or of that district's okrug), else in the
    scope-wide pot.
    """

    __tablename__ = "project_pots"
    __table_args__ = (
        UniqueConstraint("project_id", "district_id", name="uq_project_pots_project_district"),
        CheckConstraint("amount > 0", name="amount"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)


class ProjectExpert(Base):
    """A user assigned as an expert of one project (the per-project "expert" role)."""

    __tablename__ = "project_experts"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaEvaluation(Base):
    """An expert's public evaluation of an idea: feasible or not, why, cost, department.

    Only feasible ideas with a cost reach a budget ballot.
    """

    __tablename__ = "idea_evaluations"
    __table_args__ = (CheckConstraint("cost IS NULL OR cost > 0", name="cost"),)
    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True
    )
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    feasible: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    cost: Mapped[int | None] = mapped_column(BigInteger)
    department: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ballot(Base):
    """A resident's budget ballot in one pot; replaceable until voting closes.

    Its content (``BallotChoice``) is shown to the voter only.
    """

    __tablename__ = "ballots"
    __table_args__ = (
        UniqueConstraint("pot_id", "user_id", name="uq_ballots_pot_user"),
        Index("ix_ballots_project_user", "project_id", "user_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pot_id: Mapped[int] = mapped_column(ForeignKey("project_pots.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BallotChoice(Base):
    __tablename__ = "ballot_choices"
    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("ballots.id", ondelete="CASCADE"), primary_key=True
    )
    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class BudgetResult(Base):
    """One idea's line in a pot's computed outcome: votes, cost, funded by the project's rule,
    and whether greedy would have funded it (for the comparison on the results page)."""

    __tablename__ = "budget_results"
    __table_args__ = (
        UniqueConstraint("pot_id", "idea_id", name="uq_budget_results_pot_idea"),
        Index("ix_budget_results_project", "project_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pot_id: Mapped[int] = mapped_column(ForeignKey("project_pots.id", ondelete="CASCADE"))
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    votes: Mapped[int] = mapped_column(Integer)
    cost: Mapped[int] = mapped_column(BigInteger)
    selected: Mapped[bool] = mapped_column(Boolean)
    greedy_selected: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaProgress(Base):
    """How far the city is in building a funded idea: percent done and a public note."""

    __tablename__ = "idea_progress"
    __table_args__ = (CheckConstraint("percent >= 0 AND percent <= 100", name="percent"),)
    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True
    )
    percent: Mapped[int] = mapped_column(SmallInteger, default=0)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdeaMilestone(Base):
    """A dated step of building a funded idea (planned ``due_on``, reached ``done_on``)."""

    __tablename__ = "idea_milestones"
    __table_args__ = (Index("ix_idea_milestones_idea_position", "idea_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[date | None] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Poll(Base):
    """A question set the city asks residents ("Active Citizen"), open between two dates.

    The audience is the whole city, or the okrugs and districts in ``PollDistrict``; optionally
    verified residents only. Once the first answer is in (``frozen_at``) the questions and options
    no longer change; only the close date may move (audited).
    """

    __tablename__ = "polls"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="dates"),
        CheckConstraint("points >= 0", name="points"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title_ru: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="", server_default="")
    description_ru: Mapped[str] = mapped_column(Text, default="", server_default="")
    description_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    image_key: Mapped[str | None] = mapped_column(String(64))
    image_alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    verified_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    opens_at: Mapped[datetime] = mapped_column()
    closes_at: Mapped[datetime] = mapped_column()
    # Results shown while the poll is open (True) or only after it closes (False).
    results_live: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Whether a resident may replace their answer before the close.
    allow_change: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # Participation points a resident earns by answering (0: the city does not reward).
    points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # When the first answer came in: questions and options are frozen from then on.
    frozen_at: Mapped[datetime | None] = mapped_column()
    # When the audience was told the poll opened (once).
    notified_at: Mapped[datetime | None] = mapped_column()
    # Demo polls: the answers are simulated, and the pages say so.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    external_ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollDistrict(Base):
    """An okrug or district in a poll's audience (a poll without rows asks the whole city)."""

    __tablename__ = "poll_districts"
    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)


class PollQuestion(Base):
    __tablename__ = "poll_questions"
    __table_args__ = (
        CheckConstraint("kind IN ('single', 'multiple', 'scale', 'ranking')", name="kind"),
        Index("ix_poll_questions_poll_position", "poll_id", "position"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))
    text_ru: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Multiple choice: at most this many options (NULL: any number).
    max_choices: Mapped[int | None] = mapped_column(Integer)
    # Rating scale: the lowest and highest points (e.g. 1..5); labels are the options.
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)
    # A free-text "other" answer besides the options.
    allow_other: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    required: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class PollOption(Base):
    __tablename__ = "poll_options"
    __table_args__ = (Index("ix_poll_options_question_position", "question_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("poll_questions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    text_ru: Mapped[str] = mapped_column(String(500))
    text_en: Mapped[str] = mapped_column(String(500), default="", server_default="")


class PollResponse(Base):
    """One resident's answer to a poll: at most one per resident and poll (the database says so).

    ``district_id`` is the resident's district when they answered (for the breakdown and the
    post-stratification); who answered what is never shown to anyone but the resident.
    """

    __tablename__ = "poll_responses"
    __table_args__ = (
        UniqueConstraint("poll_id", "user_id", name="uq_poll_responses_poll_user"),
        Index("ix_poll_responses_poll_created", "poll_id", "created_at"),
        Index("ix_poll_responses_poll_updated", "poll_id", "updated_at"),
        Index("ix_poll_responses_user", "user_id"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollAnswer(Base):
    """One chosen option (or scale point, or ranked option, or free text) of a response.

    single/multiple: one row per chosen option; scale: one row with ``value``; ranking: one row
    per option with its rank in ``value`` (1 = first); "other": ``option_id`` NULL and the text.
    """

    __tablename__ = "poll_answers"
    __table_args__ = (
        Index("ix_poll_answers_response", "response_id"),
        Index("ix_poll_answers_question_option", "question_id", "option_id"),
    )
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    response_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("poll_responses.id", ondelete="CASCADE"),
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("poll_questions.id", ondelete="CASCADE"))
    option_id: Mapped[int | None] = mapped_column(ForeignKey("poll_options.id", ondelete="CASCADE"))
    value: Mapped[int | None] = mapped_column(Integer)
    other_text: Mapped[str | None] = mapped_column(Text)
