"""Read the demo data sets (UK Parliament petitions, Decide Madrid proposals) into plain records.

The shipped extract (``webapp/data/demo/``) and the full sets (``--data DIR``) have the same
formats, so one reader serves both. Categories come from documented tables (UK departments) and
Spanish keywords (Madrid); Madrid proposals are placed in a deterministic pseudo-random Moscow
district (a demo placement, not a real location). See webapp/data/demo/README.md.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from webapp.kernel.errors import InvalidInput, invalid

UK_SOURCE = "uk_petitions"
MADRID_SOURCE = "decide_madrid"
EXTRACT_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"
# A UK petition runs for six months; open ones (no closed_at yet) are given that span.
UK_PETITION_SPAN = timedelta(days=182)
MADRID_SPAN = timedelta(days=365)
BODY_MAX = 10_000

# UK government department -> Veche category slug. A petition names one or more departments;
# the first one that maps to something other than "other" wins. Unknown or none -> "other".
UK_DEPARTMENTS: dict[str, str] = {
    "Department for Environment, Food and Rural Affairs": "ecology",
    "Department for Business, Energy and Industrial Strategy": "ecology",
    "Department for Energy Security and Net Zero": "ecology",
    "Department for Transport": "transport",
    "Department for Education": "education",
    "Department of Health and Social Care": "health",
    "Department for Levelling Up, Housing and Communities": "housing",
    "Ministry of Housing, Communities and Local Government": "housing",
    "Department for Digital, Culture, Media and Sport": "culture",
    "Department for Culture, Media and Sport": "culture",
    "Department for Science, Innovation and Technology": "digital",
    "Department for Work and Pensions": "social",
    "HM Treasury": "social",
    "Home Office": "safety",
    "Ministry of Justice": "safety",
    "Ministry of Defence": "safety",
    "Attorney General's Office": "safety",
    "Cabinet Office": "other",
    "Foreign, Commonwealth & Development Office": "other",
    "Department for International Trade": "other",
    "Office of the Leader of the House of Commons": "other",
    "Office of the Secretary of State for Wales": "other",
}

# Spanish keyword stems (matched at word starts, accents ignored; "|" separates them) -> category
# slug. The title counts three times as much as the description; the best score wins, ties go to
# the earlier row; no match -> "other".
MADRID_KEYWORDS: tuple[tuple[str, str], ...] = (
    (
        "transport",
        "metro|autobus|emt|bici|bicimad|carril bici|cercanias|tren|parada|linea|"
        "transporte|movilidad|patinete",
    ),
    ("parks", "parque|arbol|arbolado|zona verde|zonas verdes|jardin|cesped|huerto|alcorque|poda"),
    (
        "roads",
        "calle|acera|asfalt|calzada|paso de peatones|semaforo|trafico|rotonda|glorieta|"
        "aparcamiento|aparcar|coches|velocidad",
    ),
    ("housing", "vivienda|alquiler|pisos|edificio|comunidad de vecinos"),
    (
        "ecology",
        "contaminacion|ruido|acustic|reciclaje|residuos|basura|medio ambiente|clima|"
        "emisiones|animales",
    ),
    ("education", "colegio|escuela|instituto|educacion|educativ|alumnos|universidad|guarderia"),
    ("health", "salud|centro de salud|hospital|sanitari|medico"),
    ("culture", "cultura|teatro|museo|biblioteca|fiesta|musica|arte|patrimonio|cine"),
    ("sport", "deport|polideportivo|piscina|gimnasio|futbol|baloncesto|pista|skate|calistenia"),
    ("social", "mayores|social|discapacidad|accesib|infancia|familias|personas sin hogar|comedor"),
    ("safety", "seguridad|policia|delincuencia|vigilancia|incendio"),
    (
        "improvement",
        "limpieza|fuente|banco|farola|iluminacion|mobiliario|pintadas|grafiti|"
        "plaza|papeleras|aseos",
    ),
    ("digital", "app|aplicacion|web|digital|internet|wifi|online"),
)
_MADRID_RULES = [
    (slug, re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words.split("|")) + r")"))
    for slug, words in MADRID_KEYWORDS
]


@dataclass(frozen=True)
class SourceIdea:
    """One idea to seed, with its real support count and the span its votes are spread over."""

    external_ref: str
    title: str
    body: str
    language: str
    category: str  # slug
    district: str | None  # slug of a district (not an okrug); None = the whole city
    created_at: datetime
    votes_from: datetime
    votes_until: datetime
    support: int


def source_paths(data_dir: Path | None) -> dict[str, Path]:
    """The files to read: the shipped extract, or DIR/uk_petitions/... and DIR/decide_madrid/...."""
    if data_dir is None:
        paths = {
            UK_SOURCE: EXTRACT_DIR / "uk_petitions.jsonl",
            MADRID_SOURCE: EXTRACT_DIR / "decide_madrid.csv",
        }
    else:
        paths = {
            UK_SOURCE: data_dir / "uk_petitions" / "petitions.jsonl",
            MADRID_SOURCE: data_dir / "decide_madrid" / "proposals.csv",
        }
    for path in paths.values():
        if not path.is_file():
            raise invalid("data", "File not found: %(path)s", path=str(path))
    return paths


def _data_error(path: Path, line: int, error: str) -> InvalidInput:
    return invalid("data", "%(where)s: %(error)s", where=f"{path}, line {line}", error=error)


def _utc(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clean(text: str | None) -> str:
    return unicodedata.normalize(
        "NFC", (text or "").replace("\r\n", "\n").replace("\r", "\n")
    ).strip()


def uk_category(departments: Sequence[str]) -> str:
    for name in departments:
        slug = UK_DEPARTMENTS.get(name.strip(), "other")
        if slug != "other":
            return slug
    return "other"


def read_uk(path: Path, now: datetime, limit: int | None = None) -> Iterator[SourceIdea]:
    """Non-rejected petitions in file order (at most ``limit``)."""
    count = 0
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if limit is not None and count >= limit:
                return
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _data_error(path, lineno, str(exc)) from None
            if row.get("state") == "rejected":
                continue
            opened = _utc(row.get("opened_at")) or _utc(row["created_at"])
            assert opened is not None
            until = _utc(row.get("closed_at")) or opened + UK_PETITION_SPAN
            body = "\n\n".join(
                p
                for p in (_clean(row.get("background")), _clean(row.get("additional_details")))
                if p
            )
            yield SourceIdea(
                external_ref=f"{UK_SOURCE}:{row['id']}",
                title=" ".join(_clean(row["action"]).split()),
                body=body[:BODY_MAX],
                language="en",
                category=uk_category(row.get("departments") or []),
                district=None,
                created_at=_utc(row.get("created_at")) or opened,
                votes_from=opened,
                votes_until=min(until, now),
                support=int(row.get("signature_count") or 0),
            )
            count += 1


class _TextExtractor(HTMLParser):
    """HTML -> plain text: block elements become paragraphs, list items lines starting "- "."""

    BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Strip tags, keep paragraphs as blank-line-separated blocks."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [" ".join(line.split()) for line in block.split("\n")]
        joined = "\n".join(line for line in lines if line)
        if joined:
            paragraphs.append(joined)
    return _clean("\n\n".join(paragraphs))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def madrid_category(title: str, body: str) -> str:
    t, b = _fold(title), _fold(body)
    best, best_score = "other", 0
    for slug, rule in _MADRID_RULES:
        score = 3 * len(rule.findall(t)) + len(rule.findall(b))
        if score > best_score:
            best, best_score = slug, score
    return best


def madrid_district(external_ref: str, district_slugs: Sequence[str]) -> str | None:
    """A deterministic pseudo-random district (CRC-32 of the reference); a demo placement."""
    if not district_slugs:
        return None
    return district_slugs[zlib.crc32(external_ref.encode()) % len(district_slugs)]


def read_madrid(
    path: Path, now: datetime, district_slugs: Sequence[str], limit: int | None = None
) -> Iterator[SourceIdea]:
    """Proposals that were not retired, in file order (at most ``limit``)."""
    slugs = sorted(district_slugs)
    count = 0
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";", quotechar='"')
        try:
            for row in reader:
                if limit is not None and count >= limit:
                    return
                if (row.get("retired_at") or "").strip():
                    continue
                created = datetime.strptime(row["created_at"].strip(), "%d/%m/%Y").replace(
                    hour=12, tzinfo=UTC
                )
                ref = f"{MADRID_SOURCE}:{row['id'].strip()}"
                title = " ".join(_clean(row["title"]).split())
                body = html_to_text(row["description"] or "") or title
                yield SourceIdea(
                    external_ref=ref,
                    title=title,
                    body=body[:BODY_MAX],
                    language="es",
                    category=madrid_category(title, body),
                    district=madrid_district(ref, slugs),
                    created_at=created,
                    votes_from=created,
                    votes_until=min(created + MADRID_SPAN, now),
                    support=int(row.get("cached_votes_up") or 0),
                )
                count += 1
        except (csv.Error, KeyError, ValueError) as exc:
            raise _data_error(path, reader.line_num, str(exc)) from None
