"""Read the demo data sets into plain records: the Russian Public Initiative petitions (the
Moscow demo, see webapp/demo/roi.py) and, as labelled foreign-language examples, UK Parliament
petitions and Decide Madrid proposals.

The shipped extract (``webapp/data/demo/``) and the full sets (``--data DIR``) have the same
formats, so one reader serves both. Categories come from documented tables (ROI topics, UK
departments) and Spanish keywords (Madrid). Only Moscow petitions that name their place get a
district; the UK and Madrid examples never do. Test and junk entries of the Madrid export are
dropped (``madrid_junk``). See docs/data.md and webapp/data/demo/README.md.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from webapp.demo import roi
from webapp.kernel.errors import InvalidInput, invalid

UK_SOURCE = "uk_petitions"
MADRID_SOURCE = "decide_madrid"
ROI_SOURCE = roi.ROI_SOURCE
BOUNDARIES = "boundaries"  # not a source: Moscow's municipal boundaries, read with --data DIR
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
EXTRACT_DIR = DATA_DIR / "demo"
DISTRICTS_JSON = DATA_DIR / "moscow_districts.json"
# Files of the full sets under --data DIR (the extract keeps their formats).
FULL_FILES: dict[str, Path] = {
    UK_SOURCE: Path("uk_petitions") / "petitions.jsonl",
    MADRID_SOURCE: Path("decide_madrid") / "proposals.csv",
    ROI_SOURCE: Path("roi_petitions") / "petitions_2013.csv",
    BOUNDARIES: Path("moscow_boundaries") / "mo.geojson",
}
EXTRACT_FILES: dict[str, str] = {
    UK_SOURCE: "uk_petitions.jsonl",
    MADRID_SOURCE: "decide_madrid.csv",
    ROI_SOURCE: "roi_petitions.csv",
}
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
    latitude: float | None = None  # the source's map pin, only where it placed the idea
    longitude: float | None = None


def source_paths(data_dir: Path | None) -> dict[str, Path]:
    """The files to read: the shipped extract, or the full sets under DIR (FULL_FILES, with
    Moscow's boundaries to place the petitions)."""
    if data_dir is None:
        paths = {name: EXTRACT_DIR / file for name, file in EXTRACT_FILES.items()}
    else:
        paths = {name: data_dir / file for name, file in FULL_FILES.items()}
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


# Test and junk entries in the Madrid export (2,738 proposals): someone probed the portal for
# security holes in March 2025 ("Formatted SSRF Test", "Controller Test 1741487004 - Payload 4",
# "Direct Flag Access 5 - 1741432383" ...), "testsia" rows with an onclick=alert(1) body, and
# spam ("psychic reading ... love spell"). None of them is a proposal. The rule finds every one
# of them by its words; tests/test_demo_seed.py checks it against the list of such rows.
_JUNK_TITLE = re.compile(r"\b(?:tests?|testsia|ssrf|payload|spells?|psychic)\b", re.IGNORECASE)
_JUNK_BODY = re.compile(
    r"\bssrf\b|alert\(|onclick|onerror|<script|javascript:|flag\.txt|security research|"
    r"love spells?\b",
    re.IGNORECASE,
)


def madrid_junk(title: str, description: str) -> bool:
    """A test, probe or spam entry rather than a citizen's proposal (see _JUNK_TITLE)."""
    return bool(_JUNK_TITLE.search(title) or _JUNK_BODY.search(description))


def read_madrid(path: Path, now: datetime, limit: int | None = None) -> Iterator[SourceIdea]:
    """Proposals that were not retired and are not junk, in file order (at most ``limit``).

    They are Spanish-language examples from Madrid: no Moscow district."""
    count = 0
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";", quotechar='"')
        try:
            for row in reader:
                if limit is not None and count >= limit:
                    return
                if (row.get("retired_at") or "").strip():
                    continue
                if madrid_junk(row["title"] or "", row["description"] or ""):
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
                    district=None,
                    created_at=created,
                    votes_from=created,
                    votes_until=min(created + MADRID_SPAN, now),
                    support=int(row.get("cached_votes_up") or 0),
                )
                count += 1
        except (csv.Error, KeyError, ValueError) as exc:
            raise _data_error(path, reader.line_num, str(exc)) from None


def read_roi(
    path: Path,
    now: datetime,
    limit: int | None = None,
    boundaries: Path | None = None,
) -> Iterator[SourceIdea]:
    """Russian Public Initiative petitions (webapp/demo/roi.py): the extract carries each
    petition's place; the full file (``boundaries`` given) is placed here."""
    placer = None
    if boundaries is not None:
        placer = roi.make_placer(roi.read_rows(path), boundaries, DISTRICTS_JSON)
    for p in roi.petitions(path, now, placer, limit):
        pin = p.place.pin
        yield SourceIdea(
            external_ref=p.external_ref,
            title=p.title,
            body=p.body,
            language="ru",
            category=p.category,
            district=p.place.district,
            created_at=p.created_at,
            votes_from=p.created_at,
            votes_until=p.votes_until,
            support=p.support,
            latitude=None if pin is None else pin[0],
            longitude=None if pin is None else pin[1],
        )
