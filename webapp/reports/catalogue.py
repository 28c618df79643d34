"""The problem-report topic catalogue: categories, topics and the kinds of organisation that answer.

Pure: no database, no web. The catalogue is data, ``webapp/data/reports/catalogue.json``
(its schema, sources and the choices behind it: ``webapp/data/reports/README.md``). It is the
seed of the two-level catalogue a resident picks a topic from; admins edit the copy in the
database, not this file.

Each topic names its category, the *kind* of organisation responsible for it (the routing table
maps kind × district to a real organisation), its answer deadline in working days, whether a
photo is required, a stable Open311 ``service_code``, and search keywords in both languages.
It also says where its wording comes from (``name_origin``: the portal's own topic name,
adapted from the portal, or ours, with the source and the words the source used) and where its
deadline comes from (``deadline_basis``: the portal's general term, or ours).

:func:`load_catalogue` reads and validates a file; :func:`parse_catalogue` validates data
already parsed. Every problem raises :class:`CatalogueError`, whose message starts with the
entry at fault (``topics[12] (yard-potholes): ...``), so a mistake in a hand-edited file is
found at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "data" / "reports" / "catalogue.json"

FORMAT = "veche-report-catalogue"
VERSION = 1
MIN_DEADLINE_DAYS = 1
MAX_DEADLINE_DAYS = 30
MAX_NAME_LENGTH = 200
NAME_ORIGINS = ("portal", "portal_adapted", "ours")
DEADLINE_BASES = ("portal_default", "ours")

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KIND_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
SERVICE_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
URL_RE = re.compile(r"^https?://\S+$")

T = TypeVar("T")

_TOP_KEYS = {
    "format",
    "version",
    "default_deadline_working_days",
    "sources",
    "org_kinds",
    "categories",
    "topics",
}
_SOURCE_KEYS = {"key", "description", "url"}
_KIND_KEYS = {"key", "name_ru", "name_en", "description_ru", "description_en"}
_CATEGORY_KEYS = {"slug", "name_ru", "name_en", "description_ru", "description_en"}
_TOPIC_KEYS = {
    "slug",
    "category",
    "service_code",
    "name_ru",
    "name_en",
    "org_kind",
    "deadline_working_days",
    "photo_required",
    "name_origin",
    "source",
    "source_wording",
    "deadline_basis",
    "keywords_ru",
    "keywords_en",
}


class CatalogueError(ValueError):
    """The catalogue file is unreadable or breaks a rule; ``where`` names the entry at fault."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Source:
    """A public source some topics' wording was taken from."""

    key: str
    description: str
    url: str | None


@dataclass(frozen=True)
class OrgKind:
    """A kind of organisation that answers reports (a district housing service, a park...)."""

    key: str
    name_ru: str
    name_en: str
    description_ru: str
    description_en: str

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ru


@dataclass(frozen=True)
class ReportCategory:
    slug: str
    name_ru: str
    name_en: str
    description_ru: str
    description_en: str
    position: int

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ru


@dataclass(frozen=True)
class ReportTopic:
    slug: str
    category: str  # a ReportCategory slug
    service_code: str  # Open311 service_code, stable
    name_ru: str
    name_en: str
    org_kind: str  # an OrgKind key
    deadline_working_days: int
    photo_required: bool
    name_origin: str  # one of NAME_ORIGINS
    source: str | None  # a Source key; None when name_origin is "ours"
    source_wording: str | None  # the words the source used
    deadline_basis: str  # one of DEADLINE_BASES
    keywords_ru: tuple[str, ...]
    keywords_en: tuple[str, ...]
    position: int

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ru

    def keywords(self, language: str) -> tuple[str, ...]:
        return self.keywords_en if language == "en" else self.keywords_ru


@dataclass(frozen=True)
class Catalogue:
    default_deadline_working_days: int
    sources: tuple[Source, ...]
    org_kinds: tuple[OrgKind, ...]
    categories: tuple[ReportCategory, ...]
    topics: tuple[ReportTopic, ...]

    @cached_property
    def _topics_by_slug(self) -> dict[str, ReportTopic]:
        return {t.slug: t for t in self.topics}

    @cached_property
    def _topics_by_code(self) -> dict[str, ReportTopic]:
        return {t.service_code: t for t in self.topics}

    def topic(self, slug: str) -> ReportTopic:
        """The topic with this slug; KeyError when there is none."""
        return self._topics_by_slug[slug]

    def topic_by_code(self, service_code: str) -> ReportTopic:
        """The topic with this Open311 service code; KeyError when there is none."""
        return self._topics_by_code[service_code]

    def category(self, slug: str) -> ReportCategory:
        for category in self.categories:
            if category.slug == slug:
                return category
        raise KeyError(slug)

    def org_kind(self, key: str) -> OrgKind:
        for kind in self.org_kinds:
            if kind.key == key:
                return kind
        raise KeyError(key)

    def topics_in(self, category: str) -> tuple[ReportTopic, ...]:
        """The topics of one category, in file order."""
        return tuple(t for t in self.topics if t.category == category)


@cache
def default_catalogue() -> Catalogue:
    """The shipped catalogue, read once."""
    return load_catalogue(CATALOGUE_PATH)


def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """Read and validate a catalogue file; raises CatalogueError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogueError(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise CatalogueError(str(path), f"not UTF-8 text ({exc.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(
            str(path), f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    return parse_catalogue(data)


def parse_catalogue(data: object) -> Catalogue:
    """Validate parsed JSON and build the catalogue; raises CatalogueError."""
    if not isinstance(data, dict):
        raise CatalogueError("catalogue", "expected a JSON object")
    _check_keys(data, _TOP_KEYS, "catalogue", required=_TOP_KEYS)
    if data["format"] != FORMAT:
        raise CatalogueError("catalogue", f"format must be {FORMAT!r}, got {data['format']!r}")
    if data["version"] != VERSION or isinstance(data["version"], bool):
        raise CatalogueError("catalogue", f"unsupported version {data['version']!r}")
    default_days = _deadline(data["default_deadline_working_days"], "catalogue")

    sources = tuple(_entries(data, "sources", _source, allow_empty=True))
    _unique([s.key for s in sources], "sources", "key")
    kinds = tuple(_entries(data, "org_kinds", _org_kind))
    _unique([k.key for k in kinds], "org_kinds", "key")
    categories = tuple(_entries(data, "categories", _category))
    _unique([c.slug for c in categories], "categories", "slug")
    topics = tuple(_entries(data, "topics", _topic))
    _unique([t.slug for t in topics], "topics", "slug")
    _unique([t.service_code for t in topics], "topics", "service_code")

    source_keys = {s.key for s in sources}
    kind_keys = {k.key for k in kinds}
    category_slugs = {c.slug for c in categories}
    names: set[tuple[str, str, str]] = set()
    for topic in topics:
        where = _where("topics", topic.position, topic.slug)
        if topic.category not in category_slugs:
            raise CatalogueError(where, f"unknown category {topic.category!r}")
        if topic.org_kind not in kind_keys:
            raise CatalogueError(where, f"unknown org_kind {topic.org_kind!r}")
        if topic.source is not None and topic.source not in source_keys:
            raise CatalogueError(where, f"unknown source {topic.source!r}")
        if topic.deadline_basis == "portal_default" and topic.deadline_working_days != default_days:
            raise CatalogueError(
                where,
                f"deadline_basis is 'portal_default' but deadline_working_days is "
                f"{topic.deadline_working_days}, not the default {default_days}",
            )
        for language, name in (("ru", topic.name_ru), ("en", topic.name_en)):
            key = (topic.category, language, name.casefold())
            if key in names:
                raise CatalogueError(
                    where, f"another topic in category {topic.category!r} is also named {name!r}"
                )
            names.add(key)
    for category in categories:
        if not any(t.category == category.slug for t in topics):
            raise CatalogueError(
                _where("categories", category.position, category.slug), "the category has no topics"
            )
    return Catalogue(default_days, sources, kinds, categories, topics)


# --- entries -------------------------------------------------------------------------------------


def _source(entry: dict[str, Any], where: str, position: int) -> Source:
    _check_keys(entry, _SOURCE_KEYS, where, required={"key", "description"})
    key = _text(entry, "key", where)
    if not SLUG_RE.match(key):
        raise CatalogueError(
            where, f"invalid key {key!r} (lower-case Latin letters, digits, hyphens)"
        )
    url = entry.get("url")
    if url is not None and (not isinstance(url, str) or not URL_RE.match(url)):
        raise CatalogueError(where, f"url must be an http(s) address or null, got {url!r}")
    return Source(key, _text(entry, "description", where, max_length=2000), url)


def _org_kind(entry: dict[str, Any], where: str, position: int) -> OrgKind:
    where = _label(where, entry, "key")
    _check_keys(entry, _KIND_KEYS, where, required={"key", "name_ru", "name_en"})
    key = _text(entry, "key", where)
    if not KIND_RE.match(key):
        raise CatalogueError(
            where, f"invalid key {key!r} (lower-case Latin letters, digits, underscores)"
        )
    return OrgKind(
        key,
        _text(entry, "name_ru", where),
        _text(entry, "name_en", where),
        _optional_text(entry, "description_ru", where),
        _optional_text(entry, "description_en", where),
    )


def _category(entry: dict[str, Any], where: str, position: int) -> ReportCategory:
    where = _label(where, entry, "slug")
    _check_keys(entry, _CATEGORY_KEYS, where, required={"slug", "name_ru", "name_en"})
    slug = _slug(entry, where)
    return ReportCategory(
        slug,
        _text(entry, "name_ru", where),
        _text(entry, "name_en", where),
        _optional_text(entry, "description_ru", where),
        _optional_text(entry, "description_en", where),
        position,
    )


def _topic(entry: dict[str, Any], where: str, position: int) -> ReportTopic:
    where = _label(where, entry, "slug")
    _check_keys(entry, _TOPIC_KEYS, where, required=_TOPIC_KEYS - {"source", "source_wording"})
    slug = _slug(entry, where)
    code = entry["service_code"]
    if not isinstance(code, str) or not SERVICE_CODE_RE.match(code):
        raise CatalogueError(
            where,
            f"invalid service_code {code!r} (1 to 32 Latin letters, digits, dots, hyphens or "
            "underscores)",
        )
    days = _deadline(entry["deadline_working_days"], where)
    photo = entry["photo_required"]
    if not isinstance(photo, bool):
        raise CatalogueError(where, f"photo_required must be true or false, got {photo!r}")
    origin = _choice(entry, "name_origin", NAME_ORIGINS, where)
    basis = _choice(entry, "deadline_basis", DEADLINE_BASES, where)
    name_ru = _text(entry, "name_ru", where)
    source: str | None = None
    wording: str | None = None
    if origin == "ours":
        for key in ("source", "source_wording"):
            if entry.get(key) is not None:
                raise CatalogueError(where, f"name_origin is 'ours', so {key} must be absent")
    else:
        source = _text(entry, "source", where)
        wording = _text(entry, "source_wording", where, max_length=500)
        if origin == "portal" and _fold(wording) != _fold(name_ru):
            raise CatalogueError(
                where,
                f"name_origin is 'portal' but name_ru {name_ru!r} differs from the "
                f"source_wording {wording!r} (use 'portal_adapted')",
            )
    return ReportTopic(
        slug=slug,
        category=_text(entry, "category", where),
        service_code=code,
        name_ru=name_ru,
        name_en=_text(entry, "name_en", where),
        org_kind=_text(entry, "org_kind", where),
        deadline_working_days=days,
        photo_required=photo,
        name_origin=origin,
        source=source,
        source_wording=wording,
        deadline_basis=basis,
        keywords_ru=_keywords(entry, "keywords_ru", where),
        keywords_en=_keywords(entry, "keywords_en", where),
        position=position,
    )


# --- field checks --------------------------------------------------------------------------------


def _entries(
    data: dict[str, Any],
    key: str,
    build: Callable[[dict[str, Any], str, int], T],
    *,
    allow_empty: bool = False,
) -> list[T]:
    items = data[key]
    if not isinstance(items, list):
        raise CatalogueError(key, "expected a list")
    if not items and not allow_empty:
        raise CatalogueError(key, "the list is empty")
    built = []
    for position, entry in enumerate(items):
        where = f"{key}[{position}]"
        if not isinstance(entry, dict):
            raise CatalogueError(where, "expected an object")
        built.append(build(entry, where, position))
    return built


def _check_keys(
    entry: dict[str, Any], allowed: set[str], where: str, *, required: set[str]
) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CatalogueError(where, f"unknown field {unknown[0]!r}")
    missing = sorted(required - set(entry))
    if missing:
        raise CatalogueError(where, f"missing {missing[0]}")


def _text(entry: dict[str, Any], key: str, where: str, *, max_length: int = MAX_NAME_LENGTH) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(where, f"missing {key}")
    value = value.strip()
    if len(value) > max_length:
        raise CatalogueError(where, f"{key} is longer than {max_length} characters")
    return value


def _optional_text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise CatalogueError(where, f"{key} must be text")
    if len(value) > 2000:
        raise CatalogueError(where, f"{key} is longer than 2000 characters")
    return value.strip()


def _slug(entry: dict[str, Any], where: str) -> str:
    slug = _text(entry, "slug", where)
    if not SLUG_RE.match(slug):
        raise CatalogueError(
            where, f"invalid slug {slug!r} (lower-case Latin letters, digits, hyphens)"
        )
    return slug


def _choice(entry: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str:
    value = entry[key]
    if value not in allowed:
        raise CatalogueError(where, f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _deadline(value: object, where: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_DEADLINE_DAYS <= value <= MAX_DEADLINE_DAYS
    ):
        raise CatalogueError(
            where,
            f"deadline_working_days must be a whole number from {MIN_DEADLINE_DAYS} to "
            f"{MAX_DEADLINE_DAYS}, got {value!r}",
        )
    return value


def _keywords(entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry[key]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(w, str) and w.strip() for w in value)
    ):
        raise CatalogueError(where, f"{key} must be a non-empty list of words")
    return tuple(w.strip() for w in value)


def _unique(values: list[str], key: str, field: str) -> None:
    seen: dict[str, int] = {}
    for position, value in enumerate(values):
        if value in seen:
            raise CatalogueError(
                f"{key}[{position}]",
                f"duplicate {field} {value!r} (already used by {key}[{seen[value]}])",
            )
        seen[value] = position


def _label(where: str, entry: dict[str, Any], key: str) -> str:
    """``topics[3]`` becomes ``topics[3] (yard-potholes)`` when the entry has its id."""
    value = entry.get(key)
    return f"{where} ({value.strip()})" if isinstance(value, str) and value.strip() else where


def _where(key: str, position: int, slug: str) -> str:
    return f"{key}[{position}] ({slug})"


def _fold(text: str) -> str:
    """Compare wordings ignoring case, ё/е and spacing."""
    return " ".join(text.casefold().replace("ё", "е").split())
