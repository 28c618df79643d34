"""Categories and districts: data, loaded from JSON files and editable by admins."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.audit import record
from webapp.kernel.dto import Named
from webapp.kernel.errors import NotFound, invalid
from webapp.kernel.storage.models import Category, District
from webapp.kernel.validation import Errors, clean_text

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_DISTRICTS = DATA_DIR / "moscow_districts.json"
DEFAULT_CATEGORIES = DATA_DIR / "categories.json"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _named(row: Category | District) -> Named:
    if isinstance(row, District):
        return Named(
            row.id, row.slug, row.name_ru, row.name_en, row.parent_id, row.short_ru, row.short_en
        )
    return Named(row.id, row.slug, row.name_ru, row.name_en)


def list_categories(session: Session) -> list[Named]:
    rows = session.scalars(select(Category).order_by(Category.position, Category.id))
    return [_named(r) for r in rows]


def list_districts(session: Session) -> list[Named]:
    """Okrugs and districts, each okrug followed by its districts."""
    rows = list(session.scalars(select(District).order_by(District.position, District.id)))
    return [_named(r) for r in rows]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise invalid("file", "File not found: %(path)s", path=str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(
            "file", "%(path)s is not valid JSON: %(error)s", path=str(path), error=str(exc)
        ) from None
    if not isinstance(data, dict):
        raise invalid("file", "%(path)s: expected a JSON object", path=str(path))
    return data


def _check_entry(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise invalid("file", "%(where)s: expected an object", where=where)
    for key in ("slug", "name_ru", "name_en"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise invalid("file", "%(where)s: missing %(key)s", where=where, key=key)
    if not SLUG_RE.match(entry["slug"]):
        raise invalid("file", "%(where)s: invalid slug %(slug)r", where=where, slug=entry["slug"])


def load_categories(session: Session, path: Path = DEFAULT_CATEGORIES) -> int:
    """Insert or update categories by slug; returns how many the file holds."""
    data = _read_json(path)
    entries = data.get("categories")
    if not isinstance(entries, list):
        raise invalid("file", "%(path)s: expected a 'categories' list", path=str(path))
    existing = {c.slug: c for c in session.scalars(select(Category))}
    for pos, entry in enumerate(entries):
        _check_entry(entry, f"categories[{pos}]")
        row = existing.get(entry["slug"]) or Category(slug=entry["slug"])
        row.name_ru, row.name_en = entry["name_ru"].strip(), entry["name_en"].strip()
        row.description_ru = entry.get("description_ru", "")
        row.description_en = entry.get("description_en", "")
        row.position = pos
        session.add(row)
    session.flush()
    return len(entries)


def load_districts(session: Session, path: Path = DEFAULT_DISTRICTS) -> int:
    """Insert or update okrugs and their districts by slug; returns the number of rows in the file."""
    data = _read_json(path)
    okrugs = data.get("okrugs")
    if not isinstance(okrugs, list):
        raise invalid("file", "%(path)s: expected an 'okrugs' list", path=str(path))
    existing = {d.slug: d for d in session.scalars(select(District))}
    position = 0
    count = 0
    for i, okrug in enumerate(okrugs):
        _check_entry(okrug, f"okrugs[{i}]")
        parent = existing.get(okrug["slug"]) or District(slug=okrug["slug"])
        _fill_district(parent, okrug, None, position)
        session.add(parent)
        session.flush()
        position += 1
        count += 1
        for j, entry in enumerate(okrug.get("districts", [])):
            _check_entry(entry, f"okrugs[{i}].districts[{j}]")
            row = existing.get(entry["slug"]) or District(slug=entry["slug"])
            _fill_district(row, entry, parent.id, position)
            session.add(row)
            position += 1
            count += 1
    session.flush()
    return count


def _fill_district(
    row: District, entry: dict[str, Any], parent_id: int | None, position: int
) -> None:
    row.name_ru, row.name_en = entry["name_ru"].strip(), entry["name_en"].strip()
    row.short_ru = entry.get("short_ru")
    row.short_en = entry.get("short_en")
    row.parent_id = parent_id
    row.position = position


def save_category(
    session: Session,
    actor_id: int,
    *,
    category_id: int | None,
    slug: object,
    name_ru: object,
    name_en: object,
) -> Named:
    """Create (``category_id`` None) or rename a category; audited."""
    errors = Errors()
    slug_s = clean_text(errors, "slug", slug, min_length=1, max_length=80)
    if slug_s and not SLUG_RE.match(slug_s):
        errors.add("slug", "Use lower-case Latin letters, digits and hyphens.")
    ru = clean_text(errors, "name_ru", name_ru, min_length=1, max_length=200)
    en = clean_text(errors, "name_en", name_en, min_length=1, max_length=200)
    errors.raise_if_any()
    clash = session.scalar(select(Category).where(Category.slug == slug_s))
    if category_id is None:
        if clash is not None:
            raise invalid("slug", "This slug is already used.")
        row = Category(slug=slug_s, name_ru=ru, name_en=en, position=1000)
        session.add(row)
        before: dict[str, str] = {}
    else:
        found = session.get(Category, category_id)
        if found is None:
            raise NotFound("Category not found.")
        row = found
        if clash is not None and clash.id != row.id:
            raise invalid("slug", "This slug is already used.")
        before = {"slug": row.slug, "name_ru": row.name_ru, "name_en": row.name_en}
        row.slug, row.name_ru, row.name_en = slug_s, ru, en
    session.flush()
    after = {"slug": slug_s, "name_ru": ru, "name_en": en}
    record(
        session,
        actor_id,
        "category.save",
        "category",
        row.id,
        details={"before": before, "after": after},
    )
    return _named(row)


def save_district(
    session: Session, actor_id: int, *, district_id: int, name_ru: object, name_en: object
) -> Named:
    """Rename a district or okrug; audited."""
    errors = Errors()
    ru = clean_text(errors, "name_ru", name_ru, min_length=1, max_length=200)
    en = clean_text(errors, "name_en", name_en, min_length=1, max_length=200)
    errors.raise_if_any()
    row = session.get(District, district_id)
    if row is None:
        raise NotFound("District not found.")
    _rename(session, actor_id, row, ru, en)
    return _named(row)


def _rename(session: Session, actor_id: int, row: District, ru: str, en: str) -> None:
    """Give ``row`` its new names and audit the change (before and after)."""
    before = {"name_ru": row.name_ru, "name_en": row.name_en}
    row.name_ru, row.name_en = ru, en
    record(
        session,
        actor_id,
        "district.save",
        "district",
        row.id,
        details={"before": before, "after": {"name_ru": ru, "name_en": en}},
    )


def save_districts(
    session: Session, actor_id: int, names: dict[int, tuple[object, object]]
) -> list[int]:
    """Rename many districts and okrugs at once (the admin page's one Save): ``names`` maps a
    district id to its (Russian, English) names as typed. Every row is checked first; any
    error (keys ``name_ru-<id>``, ``name_en-<id>``, ``district-<id>``) and nothing is saved.
    Rows whose names did not change are left alone; each change is audited. Returns the ids
    changed."""
    errors = Errors()
    cleaned: dict[int, tuple[str, str]] = {}
    for district_id, (name_ru, name_en) in names.items():
        ru = clean_text(errors, f"name_ru-{district_id}", name_ru, min_length=1, max_length=200)
        en = clean_text(errors, f"name_en-{district_id}", name_en, min_length=1, max_length=200)
        cleaned[district_id] = (ru, en)
    rows = {
        r.id: r
        for r in session.scalars(
            select(District).where(District.id.in_(sorted(cleaned))).with_for_update()
        )
    }
    for district_id in cleaned:
        if district_id not in rows:
            errors.add(f"district-{district_id}", "District not found.")
    errors.raise_if_any()
    changed = []
    for district_id, (ru, en) in sorted(cleaned.items()):
        row = rows[district_id]
        if (row.name_ru, row.name_en) == (ru, en):
            continue
        _rename(session, actor_id, row, ru, en)
        changed.append(district_id)
    session.flush()
    return changed


class Names:
    """Categories and districts by id, loaded once (a request's lookups of names by id)."""

    def __init__(self, session: Session) -> None:
        self.categories = {c.id: c for c in list_categories(session)}
        self.districts = {d.id: d for d in list_districts(session)}
