"""Read the Russian Public Initiative petitions (roi.ru, 2013) into demo ideas, and place them.

The source (``roi_petitions/petitions_2013.csv``, Apache-2.0 via ivbeg/apiroi) holds real Russian
citizen petitions with their real vote counts. A petition's ``uniqid`` starts with the region's
two-digit code (77 = Moscow) and a letter for its level (Ф federal, Р regional, М municipal).
Veche seeds the federal petitions (national asks, no district) and Moscow's regional and municipal
ones (city asks); other regions' regional and municipal petitions are not Moscow's and are skipped.

A Moscow petition gets a district only where the source gives a place (never at random):

1. its map pin, by point-in-polygon against Moscow's municipal boundaries
   (``moscow_boundaries/mo.geojson``, © OpenStreetMap contributors, gis-lab.info) — unless the pin
   is a map's untouched default view: roi.ru's map opened on a region's centre, so a point shared
   by three or more petitions is a default, and a pin within 1 km of one is not a place;
2. otherwise a district named unambiguously in the title or the address lines ("Улица: …"):
   a district's name next to "район"/"муниципальное образование"/"поселение", or a name of two
   or more words (the words compared by their Snowball stems, so "Нагорном районе" names
   Нагорный). Two different districts named: no district.

The pin itself is stored as the idea's latitude/longitude only when it placed the petition.
The shipped extract (``webapp/data/demo/roi_petitions.csv``, made by tools/build_demo_extract.py)
carries the outcome in three extra columns (``district``, ``placed_by``, ``pin``), so seeding
needs no boundary files. See docs/data.md.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from webapp.kernel.errors import InvalidInput, invalid
from webapp.kernel.search_text import fold, stem_words

ROI_SOURCE = "roi"
MOSCOW = "77"
DEFAULT_PIN_SHARED_BY = 3  # a point used by this many petitions is a map's default view
DEFAULT_PIN_RADIUS_M = 1_000.0
BODY_MAX = 10_000
# Columns the extract adds to the source's own (see the module docstring).
PLACE_COLUMNS = ("district", "placed_by", "pin")

# ROI topic (``topic_id``) -> Veche category slug; docs/data.md has the table with ROI's names.
# "transport-i-dorogi" (Транспорт и дороги) is split: ROAD_WORDS in the title -> roads.
ROI_TOPICS: dict[str, str] = {
    "transport-i-dorogi": "transport",
    "gosudarstvennoe_upravlenie1": "other",
    "ekonomika": "other",
    "gosudarstvennaya_podderzhka": "social",
    "initciativy": "other",
    "problemy-potrebitelej-i-plohoj-servis": "other",
    "bezopasnost": "safety",
    "chinovniki-i-gos-uslugi": "other",
    "zdravoohranenie": "health",
    "zhilishno-kommunalnoe_hozyajstvo_uk_tszh": "housing",
    "zhilishno-kommunalnoe_hozyajstvo": "housing",
    "obrazovanie_i_nauka": "education",
    "naselenie_i_migratciya": "social",
    "ugolovnyj_kodeks": "safety",
    "infrastruktura-i-vneshnij-vid-goroda": "improvement",
    "izbiratelnoe_pravo": "other",
    "ekologiya": "ecology",
    "zhilye-doma-i-dvory": "housing",
    "biznes": "other",
    "kultura4": "culture",
    "kultura7": "culture",
    "nedvizhimost1": "housing",
    "privatizatcionnyj_chek_1992_goda": "other",
    "dostupnaya_sreda": "social",
    "federalnoe_zakonodatelstvo": "other",
    "nalogooblozhenie11": "other",
    "nalogooblozhenie12": "other",
    "borba_s_korruptciej11": "other",
    "vosstanovlenie_istoricheskoj_spravedlivosti": "other",
}
ROAD_WORDS = re.compile(
    r"дорог|дорожн|разметк|светофор|тротуар|пешеходн|парков|шоссе|проспект|мкад|развязк|"
    r"дтп|пдд|водител|автомоб|отбойник|эстакад|асфальт|магистрал|ограждени|барьер",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"^(Город|Улица|Дом):[ \t]*(.*)$")
_ATTACHMENT = re.compile(
    r"^\S[^\n]*\.(?:jpe?g|png|gif|bmp|tiff?|docx?|odt|rtf|pdf|xlsx?|ods|txt|zip|rar|pptx?)$",
    re.IGNORECASE,
)
_MORE = "Дополнительные материалы"
_AREA_WORDS = frozenset(
    stem_words("район районе района р-н поселение поселения муниципальное образование")
)


def _data_error(path: Path, row: int, error: str) -> InvalidInput:
    """An error in data row ``row`` (1 = the first after the header; a text may span lines)."""
    return invalid("data", "%(where)s: %(error)s", where=f"{path}, row {row}", error=error)


# --- texts and categories -----------------------------------------------------------------------


def roi_category(topic_id: str, title: str) -> str:
    slug = ROI_TOPICS.get(topic_id, "other")
    if slug == "transport" and ROAD_WORDS.search(title):
        return "roads"
    return slug


def roi_title(name: str) -> str:
    """The title with its spaces collapsed and the first letter a capital (many are lower-case)."""
    title = " ".join(name.split())
    return title[:1].upper() + title[1:]


def address_lines(description: str) -> list[str]:
    """The non-empty street and house lines ("Улица: ул. Корнейчука", "Дом: 47А")."""
    found = []
    for line in description.replace("\r", "").split("\n"):
        match = _ADDRESS.match(line.strip())
        if match and match.group(1) != "Город" and match.group(2).strip():
            found.append(match.group(2).strip())
    return found


def roi_body(description: str) -> str:
    """The petition's text without the form's leftovers: empty address lines ("Улица: "), the
    "Город: …" line, attachment file names and an empty "Дополнительные материалы" heading."""
    kept: list[str] = []
    for raw in description.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        match = _ADDRESS.match(line)
        if match and (match.group(1) == "Город" or not match.group(2).strip()):
            continue
        if _ATTACHMENT.match(line):
            continue
        kept.append(raw.rstrip())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    if text.endswith(_MORE):
        text = text[: -len(_MORE)].rstrip()
    return text


# --- places --------------------------------------------------------------------------------------

Ring = list[tuple[float, float]]  # (lon, lat) points


@dataclass(frozen=True)
class Area:
    """One municipal area of Moscow: its district slug and polygons (outer ring, then holes)."""

    slug: str
    polygons: tuple[tuple[Ring, ...], ...]
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

    def contains(self, lon: float, lat: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return False
        return any(
            _inside(rings[0], lon, lat) and not any(_inside(h, lon, lat) for h in rings[1:])
            for rings in self.polygons
        )


def _inside(ring: Ring, x: float, y: float) -> bool:
    """Even-odd ray casting."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def district_names(districts_json: Path) -> dict[str, str]:
    """District and settlement names (ё folded to е) -> slug, from webapp/data/moscow_districts.json."""
    data = json.loads(districts_json.read_text(encoding="utf-8"))
    return {fold(d["name_ru"]): d["slug"] for okrug in data["okrugs"] for d in okrug["districts"]}


def load_areas(geojson: Path, names: Mapping[str, str]) -> list[Area]:
    """Moscow's municipal areas with our district slugs; a name we do not know is an error."""
    data = json.loads(geojson.read_text(encoding="utf-8"))
    areas = []
    for feature in data["features"]:
        name = fold(feature["properties"]["NAME"])
        if name not in names:
            raise invalid(
                "data", "Unknown district in %(path)s: %(name)s", path=str(geojson), name=name
            )
        geometry = feature["geometry"]
        parts = geometry["coordinates"]
        if geometry["type"] == "Polygon":
            parts = [parts]
        polygons = tuple(
            tuple([(float(p[0]), float(p[1])) for p in ring] for ring in polygon)
            for polygon in parts
        )
        points = [p for polygon in polygons for p in polygon[0]]
        bbox = (
            min(p[0] for p in points),
            min(p[1] for p in points),
            max(p[0] for p in points),
            max(p[1] for p in points),
        )
        areas.append(Area(names[name], polygons, bbox))
    return areas


def area_at(areas: Sequence[Area], lat: float, lon: float) -> str | None:
    for area in areas:
        if area.contains(lon, lat):
            return area.slug
    return None


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two (lat, lon) points (equirectangular; fine at city scale)."""
    mean_lat = math.radians((a[0] + b[0]) / 2)
    dy = math.radians(b[0] - a[0])
    dx = math.radians(b[1] - a[1]) * math.cos(mean_lat)
    return 6_371_000.0 * math.hypot(dx, dy)


def default_pins(pins: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points shared by DEFAULT_PIN_SHARED_BY or more petitions: maps' default views."""
    return [p for p, n in Counter(pins).items() if n >= DEFAULT_PIN_SHARED_BY]


def is_default_pin(pin: tuple[float, float], defaults: Sequence[tuple[float, float]]) -> bool:
    return any(_metres(pin, d) <= DEFAULT_PIN_RADIUS_M for d in defaults)


def _stem_tokens(text: str) -> list[str]:
    return stem_words(text.replace("-", " "))


def named_district(texts: Sequence[str], names: Mapping[str, str]) -> str | None:
    """The one district the texts name (see the module docstring), or None (none or several)."""
    found: set[str] = set()
    for text in texts:
        tokens = _stem_tokens(text)
        spans: list[tuple[int, int, str]] = []
        for name, slug in names.items():
            wanted = _stem_tokens(name)
            n = len(wanted)
            for i in range(len(tokens) - n + 1):
                if tokens[i : i + n] != wanted:
                    continue
                around = tokens[max(0, i - 2) : i] + tokens[i + n : i + n + 2]
                if n >= 2 or _AREA_WORDS.intersection(around):
                    spans.append((i, i + n, slug))
        # "Бирюлёво Восточное" also contains "Восточный": a name inside a longer one is not named
        found.update(
            slug
            for start, stop, slug in spans
            if not any(a <= start and stop <= b and (b - a) > (stop - start) for a, b, _s in spans)
        )
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class Place:
    district: str | None
    placed_by: str  # "coordinates", "name" or ""
    pin: tuple[float, float] | None  # (lat, lon) stored on the idea: only a pin that placed it


NOWHERE = Place(None, "", None)


@dataclass(frozen=True)
class Placer:
    """Places Moscow petitions (see the module docstring)."""

    areas: Sequence[Area]
    names: Mapping[str, str]
    defaults: Sequence[tuple[float, float]]

    def place(self, row: Mapping[str, str]) -> Place:
        if not is_city_petition(row):
            return NOWHERE
        pin = _pin(row)
        if pin is not None and not is_default_pin(pin, self.defaults):
            slug = area_at(self.areas, *pin)
            if slug is not None:
                return Place(slug, "coordinates", pin)
        slug = named_district([row["name"], *address_lines(row["description"])], self.names)
        return Place(slug, "name", None) if slug else NOWHERE


def _pin(row: Mapping[str, str]) -> tuple[float, float] | None:
    lat, lon = (row.get("lat") or "").strip(), (row.get("lon") or "").strip()
    return (float(lat), float(lon)) if lat and lon else None


def is_city_petition(row: Mapping[str, str]) -> bool:
    """A Moscow regional or municipal petition (a city ask)."""
    return row["uniqid"].startswith(MOSCOW) and row["jurisdiction"] != "federal"


def wanted(row: Mapping[str, str]) -> bool:
    """Seeded: federal petitions (any region's author) and Moscow's city petitions."""
    return row["jurisdiction"] == "federal" or is_city_petition(row)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            return list(reader)
        except csv.Error as exc:
            where = f"{path}, line {reader.line_num}"
            raise invalid("data", "%(where)s: %(error)s", where=where, error=str(exc)) from None


def make_placer(
    rows: Sequence[Mapping[str, str]], boundaries: Path, districts_json: Path
) -> Placer:
    names = district_names(districts_json)
    pins = [p for p in (_pin(r) for r in rows) if p is not None]
    return Placer(load_areas(boundaries, names), names, default_pins(pins))


def stored_place(row: Mapping[str, str]) -> Place:
    """The place the extract's extra columns hold."""
    pin = _pin(row) if row.get("pin") == "yes" else None
    return Place(row.get("district") or None, row.get("placed_by") or "", pin)


# --- ideas ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoiPetition:
    """One petition with its place, ready to become a demo idea."""

    external_ref: str
    title: str
    body: str
    category: str
    place: Place
    created_at: datetime
    votes_until: datetime
    support: int


def _day(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d").replace(hour=12, tzinfo=UTC)


def petitions(
    path: Path,
    now: datetime,
    placer: Placer | None,
    limit: int | None = None,
) -> Iterator[RoiPetition]:
    """The seeded petitions of ``path`` in file order (at most ``limit``); ``placer`` None means
    the file is the extract and carries its places."""
    rows = read_rows(path)
    count = 0
    for number, row in enumerate(rows, 1):
        if limit is not None and count >= limit:
            return
        try:
            if not wanted(row):
                continue
            place = stored_place(row) if placer is None else placer.place(row)
            title = roi_title(row["name"])
            created = _day(row["start_date"])
            until = _day(row["end_date"]) if row.get("end_date", "").strip() else now
            yield RoiPetition(
                external_ref=f"{ROI_SOURCE}:{row['uniqid'].strip()}",
                title=title,
                body=(roi_body(row["description"]) or title)[:BODY_MAX],
                category=roi_category(row["topic_id"], title),
                place=place,
                created_at=created,
                votes_until=max(created, min(until, now)),
                support=int(row.get("votes") or 0),
            )
        except (KeyError, ValueError) as exc:
            raise _data_error(path, number, str(exc)) from None
        count += 1
