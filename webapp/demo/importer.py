"""`veche import`: ideas from a CSV or JSONL file, validated exactly like ideas submitted on the site.

Columns (CSV header or JSON keys): title, body, category (slug or id) required; district (slug or
id), language (ru, en or es; detected when absent), external_ref, created_at (ISO 8601, UTC when
no offset is given), author_email optional.

The whole file is read and checked first: a file that cannot be read (see import_formats) stores
nothing. Then every valid row is stored in one transaction; invalid rows are reported by row number
and skipped, and rows whose external_ref is already in the database (or earlier in the file) are
skipped, so importing the same file twice is harmless. ``dry_run`` stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from webapp.accounts.users import find_by_email, normalise_email
from webapp.demo.import_formats import COLUMNS, detect_format, read_rows
from webapp.ideas.ideas import Limits, clean_idea
from webapp.kernel.errors import InvalidInput
from webapp.kernel.progress import Progress, counted, no_progress
from webapp.kernel.search_text import detect_language, search_document
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, District, Idea, User
from webapp.kernel.validation import Errors, clean_text
from webapp.ranking import ranking_log

LANGUAGES = ("ru", "en", "es")
DEFAULT_LIMITS = Limits()
FLUSH_EVERY = 1000
# Error fields of clean_idea, renamed to the file's column names.
FIELD_NAMES = {"category_id": "category", "district_id": "district"}


@dataclass(frozen=True)
class ImportReport:
    """What ``import_file`` did (or, with ``dry_run``, would do); ``describe()`` is for the CLI."""

    path: Path
    dry_run: bool
    rows: int
    imported: int
    skipped: int
    errors: tuple[str, ...]

    @property
    def error_rows(self) -> int:
        return len({e.split(":", 1)[0] for e in self.errors})

    def describe(self) -> str:
        verb = "would be imported" if self.dry_run else "imported"
        head = (
            f"{self.path}: {_n(self.rows, 'row')}; {_n(self.imported, 'idea')} {verb},"
            f" {self.skipped} skipped (external_ref already stored or repeated),"
            f" {_n(self.error_rows, 'row')} with errors"
            f"{' (not imported)' if self.errors and not self.dry_run else ''}."
        )
        if self.dry_run:
            head += " Dry run: nothing was stored."
        return "\n".join([head, *(f"  {e}" for e in self.errors)])


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _message(message: str, params: dict[str, Any]) -> str:
    return message % params if params else message


class _Lookups:
    """Categories, districts and authors by slug, id or e-mail, read once per import."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.categories = {
            slug: id_ for slug, id_ in session.execute(select(Category.slug, Category.id))
        }
        self.districts = {
            slug: id_ for slug, id_ in session.execute(select(District.slug, District.id))
        }
        self.authors: dict[str, tuple[int, bool] | None] = {}

    @staticmethod
    def _ref(errors: Errors, field: str, value: object, by_slug: dict[str, int]) -> object:
        """An id for clean_idea: slugs are looked up; numbers pass through (clean_idea checks them)."""
        if isinstance(value, str) and value.strip() and not value.strip().isdigit():
            found = by_slug.get(value.strip().lower())
            if found is None:
                errors.add(field, "Unknown value.")
            return found
        return value

    def category(self, errors: Errors, value: object) -> object:
        return self._ref(errors, "category", value, self.categories)

    def district(self, errors: Errors, value: object) -> object:
        return self._ref(errors, "district", value, self.districts)

    def author(self, email: str) -> tuple[int, bool] | None:
        key = normalise_email(email)
        if key not in self.authors:
            row = self.session.execute(
                select(User.id, User.blocked).where(User.email == key)
            ).first()
            self.authors[key] = None if row is None else (row.id, row.blocked)
        return self.authors[key]


def _created_at(errors: Errors, value: object, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise TypeError
        moment = datetime.fromisoformat(value.strip())
    except (TypeError, ValueError):
        errors.add(
            "created_at",
            "Enter a date and time in ISO 8601 format, e.g. %(example)s.",
            example="2024-05-01T12:00:00Z",
        )
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > now:
        errors.add("created_at", "Must not be in the future.")
    return moment


def _check_row(
    lookups: _Lookups,
    row: dict[str, Any],
    default_author: int | None,
    limits: Limits,
    now: datetime,
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The Idea column values of a valid row, or None and (field, message) pairs."""
    errors = Errors()
    for key in row:
        if key not in COLUMNS:
            errors.add(str(key), "Unknown field.")
    data = {
        "title": row.get("title"),
        "body": row.get("body"),
        "category_id": lookups.category(errors, row.get("category")),
        "district_id": lookups.district(errors, row.get("district")),
    }
    language = row.get("language") or None
    if isinstance(language, str):
        language = language.strip().lower() or None
    if language is not None and language not in LANGUAGES:
        errors.add("language", "Must be one of: %(values)s.", values=", ".join(LANGUAGES))
    ref = (
        clean_text(errors, "external_ref", row.get("external_ref"), min_length=0, max_length=100)
        or None
    )
    created_at = _created_at(errors, row.get("created_at"), now)
    author_id = default_author
    email = row.get("author_email")
    if email:
        found = lookups.author(email) if isinstance(email, str) else None
        if found is None:
            errors.add("author_email", "No user with e-mail %(email)s.", email=str(email))
        elif found[1]:
            errors.add("author_email", "The account %(email)s is blocked.", email=email)
        else:
            author_id = found[0]
    clean: dict[str, Any] = {}
    try:
        clean = clean_idea(lookups.session, data, limits)
    except InvalidInput as exc:
        for field, (message, params) in exc.errors.items():
            errors.add(FIELD_NAMES.get(field, field), message, **params)
    if errors.errors:
        order = {name: i for i, name in enumerate(COLUMNS)}
        fields = sorted(errors.errors.items(), key=lambda item: order.get(item[0], len(order)))
        return None, [(field, _message(m, p)) for field, (m, p) in fields]
    language = language or detect_language(f"{clean['title']}\n{clean['body']}")
    values = {
        **clean,
        "author_id": author_id,
        "language": language,
        "status": "published",
        "external_ref": ref,
        "search_doc": search_document(clean["title"], clean["body"]),
    }
    if created_at is not None:
        values["created_at"] = values["updated_at"] = created_at
    return values, []


def import_file(
    factory: sessionmaker[Session],
    path: Path,
    fmt: str | None = None,
    *,
    author_email: str | None = None,
    dry_run: bool = False,
    progress: Progress = no_progress,
    limits: Limits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> ImportReport:
    """Validate every row of ``path``; store the valid new ones (unless ``dry_run``).

    ``progress`` gets one stage, "import", counting the rows checked."""
    rows = list(read_rows(path, detect_format(path, fmt)))
    now = now or datetime.now(UTC)
    errors: list[str] = []
    imported = skipped = 0
    with transaction(factory) as session:
        default_author = find_by_email(session, author_email).id if author_email else None
        lookups = _Lookups(session)
        refs = [
            r["external_ref"].strip() for _, r in rows if isinstance(r.get("external_ref"), str)
        ]
        seen = _existing_refs(session, refs)
        pending = 0
        for number, row in counted(progress, "import", rows, "row"):
            values, problems = _check_row(lookups, row, default_author, limits, now)
            if values is None:
                errors.extend(f"row {number}: {field}: {message}" for field, message in problems)
                continue
            if values["external_ref"] is not None and values["external_ref"] in seen:
                skipped += 1
                continue
            if values["external_ref"] is not None:
                seen.add(values["external_ref"])
            imported += 1
            if not dry_run:
                session.add(Idea(**values))
                pending += 1
                if pending >= FLUSH_EVERY:
                    session.flush()
                    session.expunge_all()
                    pending = 0
        if imported and not dry_run:
            ranking_log.recompute(session)  # running servers rebuild their rankings
    return ImportReport(path, dry_run, len(rows), imported, skipped, tuple(errors))


def _existing_refs(session: Session, refs: list[str]) -> set[str]:
    found: set[str] = set()
    for lo in range(0, len(refs), 500):
        chunk = refs[lo : lo + 500]
        found.update(session.scalars(select(Idea.external_ref).where(Idea.external_ref.in_(chunk))))
    return {r for r in found if r is not None}
