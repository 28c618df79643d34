"""District shapes: Moscow's boundaries, drawn as SVG paths for maps that work without JavaScript.

The shipped file ``webapp/data/boundaries/moscow.geojson`` (built by ``tools/build_boundaries.py``
from OpenStreetMap data, ODbL: see the README beside it) is one FeatureCollection of
(Multi)Polygons in WGS84 whose features carry ``slug`` (a district's or okrug's taxonomy slug) and
``level`` (``"district"`` or ``"okrug"``). Another file of that form can be given by path.

    shapes = map_shapes(session, lang)          # paths per District id, okrug outlines, viewBox
    {% from "_choropleth.html" import choropleth %}
    {{ choropleth(shapes, {district_id: share, ...}, label, legend_title, pct) }}

Everything but :func:`district_rows` and :func:`map_shapes` is a pure function of its arguments;
reading and drawing a file is cached per file (path, size and modification time).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.dto import Named
from webapp.kernel.errors import N_, InvalidInput
from webapp.kernel.storage.models import District

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_BOUNDARIES = DATA_DIR / "boundaries" / "moscow.geojson"
LEVELS = ("district", "okrug")
MAP_WIDTH = 600  # the viewBox is 0 0 600 H, H keeping the area's aspect
MAP_MARGIN = 4.0  # room for the okrug outlines' stroke at the edges
REFERENCE_LATITUDE = 55.75  # Moscow: one degree of longitude is cos(55.75°) of one of latitude
DRAW_TOLERANCE = 0.5  # px: what the drawing may simplify away (half a pixel)

# A sequential scale of five blues (ColorBrewer "Blues", colour-blind safe, light to dark), and the
# fill of a district without a value: a warm grey that no step of the scale resembles.
PALETTE = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
NO_DATA = "#e3e3dc"

Point = tuple[float, float]  # (x, y): (lon, lat) in a file, pixels once projected
Ring = tuple[Point, ...]  # open: the first point is not repeated at the end
Polygon = tuple[Ring, ...]  # the outer ring, then its holes


class BoundaryFileError(InvalidInput):
    """A boundary file that cannot be used; ``str()`` says which file and what is wrong with it."""

    def __init__(self, path: str, message: str, **params: Any) -> None:
        params["path"] = path
        super().__init__({"file": (message, params)}, message)
        self.text = message % params

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Area:
    """One district or okrug of a boundary file."""

    slug: str
    level: str  # "district" or "okrug"
    polygons: tuple[Polygon, ...]
    okrug: str | None = None  # a district's okrug slug, where the file gives it


@dataclass(frozen=True)
class Boundaries:
    source: str  # the file, for messages
    areas: tuple[Area, ...]

    def level(self, level: str) -> tuple[Area, ...]:
        return tuple(a for a in self.areas if a.level == level)


@dataclass(frozen=True)
class Drawing:
    """A boundary file projected into the viewBox ``0 0 width height``: SVG path data per slug."""

    width: int
    height: int
    districts: Mapping[str, str]  # district slug -> path data
    okrugs: Mapping[str, str]  # okrug slug -> path data
    key: str = "dm"  # tells drawings apart: the prefix of their ids in ``choropleth_defs``


@dataclass(frozen=True)
class Shape:
    """One area on a map: ``id`` is its District row's (None: an area the database lacks)."""

    id: int | None
    slug: str
    name: str
    path: str


@dataclass(frozen=True)
class Step:
    """One class of a colour scale: values from ``low`` to ``high`` are drawn in ``colour``."""

    colour: str
    low: float
    high: float


@dataclass(frozen=True)
class Scale:
    steps: tuple[Step, ...]  # light to dark; empty when no district has a value
    colours: Mapping[int, str]  # district id -> fill, for the districts with a value

    def colour(self, district_id: int | None) -> str:
        return self.colours.get(district_id, NO_DATA) if district_id is not None else NO_DATA


@dataclass(frozen=True)
class MapShapes:
    """What the ``choropleth`` macro draws: one language's district shapes and okrug outlines."""

    width: int
    height: int
    districts: tuple[Shape, ...]  # in the taxonomy's order
    okrugs: tuple[Shape, ...]
    unmapped: tuple[
        str, ...
    ]  # slugs of database districts not on this map (no shape, or zoomed out)
    key: str = "dm"  # the prefix of the ids ``choropleth_defs`` gives the paths

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    def scale(
        self,
        values: Mapping[int, float | None],
        steps: int = len(PALETTE),
        domain: tuple[float, float] | None = None,
    ) -> Scale:
        """The colour of every mapped district with a value (see :func:`classify`)."""
        ids = {s.id for s in self.districts if s.id is not None}
        return classify({k: v for k, v in values.items() if k in ids}, steps, domain)


# --- reading a boundary file ----------------------------------------------------------------------


def _ring(raw: Any, where: str, path: str) -> Ring:
    if not isinstance(raw, list) or len(raw) < 4:
        raise BoundaryFileError(
            path, N_("%(path)s: %(where)s: a ring needs at least four positions"), where=where
        )
    points: list[Point] = []
    for pos in raw:
        if (
            not isinstance(pos, list | tuple)
            or len(pos) < 2
            or not all(isinstance(c, int | float) and math.isfinite(c) for c in pos[:2])
        ):
            raise BoundaryFileError(
                path, N_("%(path)s: %(where)s: a position is not a pair of numbers"), where=where
            )
        lon, lat = float(pos[0]), float(pos[1])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise BoundaryFileError(
                path,
                N_("%(path)s: %(where)s: %(lon)s, %(lat)s is not a longitude and latitude (WGS84)"),
                where=where,
                lon=lon,
                lat=lat,
            )
        points.append((lon, lat))
    if points[0] == points[-1]:
        points.pop()
    return tuple(points)


def _polygons(geometry: Any, where: str, path: str) -> tuple[Polygon, ...]:
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise BoundaryFileError(
            path,
            N_("%(path)s: %(where)s: the geometry is not a Polygon or MultiPolygon"),
            where=where,
        )
    coords = geometry.get("coordinates")
    parts = [coords] if geometry["type"] == "Polygon" else coords
    if not isinstance(parts, list) or not parts:
        raise BoundaryFileError(path, N_("%(path)s: %(where)s: the geometry is empty"), where=where)
    polygons = []
    for i, part in enumerate(parts):
        if not isinstance(part, list) or not part:
            raise BoundaryFileError(
                path, N_("%(path)s: %(where)s: the geometry is empty"), where=where
            )
        polygons.append(tuple(_ring(r, f"{where}, ring {i}.{j}", path) for j, r in enumerate(part)))
    return tuple(polygons)


def parse(data: Any, path: str = "boundaries") -> Boundaries:
    """Validate a decoded boundary file (a FeatureCollection; see the module's doc)."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise BoundaryFileError(path, N_("%(path)s: expected a GeoJSON FeatureCollection"))
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise BoundaryFileError(path, N_("%(path)s: the FeatureCollection has no features"))
    areas = []
    seen: set[tuple[str, str]] = set()
    for i, feature in enumerate(features):
        where = f"feature {i}"
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise BoundaryFileError(path, N_("%(path)s: %(where)s has no properties"), where=where)
        slug, level = props.get("slug"), props.get("level")
        if not isinstance(slug, str) or not slug:
            raise BoundaryFileError(path, N_("%(path)s: %(where)s has no slug"), where=where)
        if level not in LEVELS:
            raise BoundaryFileError(
                path,
                N_('%(path)s: %(where)s: level must be "district" or "okrug", not %(level)s'),
                where=where,
                level=repr(level),
            )
        if (level, slug) in seen:
            raise BoundaryFileError(
                path, N_("%(path)s: %(where)s: %(slug)s appears twice"), where=where, slug=slug
            )
        seen.add((level, slug))
        okrug = props.get("okrug")
        if okrug is not None and not isinstance(okrug, str):
            raise BoundaryFileError(
                path, N_("%(path)s: %(where)s: okrug is not a slug"), where=where
            )
        where = f"{where} ({slug})"
        areas.append(Area(slug, level, _polygons(feature.get("geometry"), where, path), okrug))
    if not any(a.level == "district" for a in areas):
        raise BoundaryFileError(path, N_("%(path)s: the file has no district shapes"))
    return Boundaries(path, tuple(areas))


def read(path: Path) -> Boundaries:
    """Read and validate a boundary file (uncached)."""
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise BoundaryFileError(str(path), N_("Boundary file not found: %(path)s")) from None
    except OSError as exc:
        raise BoundaryFileError(
            str(path), N_("%(path)s cannot be read: %(error)s"), error=str(exc)
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BoundaryFileError(
            str(path), N_("%(path)s is not valid JSON: %(error)s"), error=str(exc)
        ) from None
    return parse(data, str(path))


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise BoundaryFileError(str(path), N_("Boundary file not found: %(path)s")) from None
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def load(path: Path = DEFAULT_BOUNDARIES) -> Boundaries:
    """A boundary file, read once per version of the file."""
    return _load_cached(_file_key(path))


@lru_cache(maxsize=8)
def _load_cached(key: tuple[str, int, int]) -> Boundaries:
    return read(Path(key[0]))


# --- simplification (shared borders stay shared) --------------------------------------------------


def _douglas_peucker(points: np.ndarray, tolerance: float) -> list[int]:
    """Indices kept of an open line (both ends always): Douglas–Peucker with segment distances."""
    n = len(points)
    if n <= 2:
        return list(range(n))
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        a, b = points[first], points[last]
        inner = points[first + 1 : last]
        ab = b - a
        length2 = float(ab @ ab)
        if length2 == 0.0:
            dist = np.hypot(*(inner - a).T)
        else:
            t = np.clip(((inner - a) @ ab) / length2, 0.0, 1.0)
            dist = np.hypot(*(inner - (a + t[:, None] * ab)).T)
        worst = int(np.argmax(dist))
        if dist[worst] > tolerance:
            mid = first + 1 + worst
            keep[mid] = True
            stack.append((first, mid))
            stack.append((mid, last))
    return [int(i) for i in np.flatnonzero(keep)]


def _simplify_line(line: Sequence[Point], tolerance: float, x_scale: float) -> list[Point]:
    arr = np.array(line, dtype=float)
    arr[:, 0] *= x_scale
    return [line[i] for i in _douglas_peucker(arr, tolerance)]


def _simplify_loop(loop: Sequence[Point], tolerance: float, x_scale: float) -> list[Point]:
    """A closed ring without junctions: cut at its first point and the point farthest from it;
    never fewer than three points."""
    arr = np.array(loop, dtype=float)
    arr[:, 0] *= x_scale
    far = int(np.argmax(np.hypot(*(arr - arr[0]).T)))
    if far == 0:
        return list(loop[:1])
    closed = [*loop, loop[0]]
    first = _simplify_line(closed[: far + 1], tolerance, x_scale)
    second = _simplify_line(closed[far:], tolerance, x_scale)
    points = first + second[1:-1]
    if len(points) < 3:  # flatter than the tolerance: keep its widest point off the chord
        a, b = arr[0], arr[far]
        ab = b - a
        cross = np.abs(ab[0] * (arr[:, 1] - a[1]) - ab[1] * (arr[:, 0] - a[0]))
        widest = int(np.argmax(cross))
        if widest not in (0, far):
            points = [loop[i] for i in sorted({0, far, widest})]
    return points


def _canonical_loop(loop: Sequence[Point]) -> tuple[tuple[Point, ...], bool]:
    """The loop from its smallest point, in the direction that reads smaller; and whether that
    direction is the reverse of the loop's own."""
    start = min(range(len(loop)), key=loop.__getitem__)
    forward = tuple(loop[start:]) + tuple(loop[:start])
    backward = (forward[0], *reversed(forward[1:]))
    return (backward, True) if backward < forward else (forward, False)


def simplify(
    features: Sequence[Sequence[Polygon]], tolerance: float, x_scale: float = 1.0
) -> list[tuple[Polygon, ...]]:
    """Douglas–Peucker over all features at once, keeping shared borders identical.

    A border two rings share (the same positions, in either direction) is cut into arcs at its
    junctions — where a ring meets a third one or leaves its neighbour — and each arc is
    simplified once, so neighbours keep one common line: no gaps, no overlaps. Distances are
    measured with x multiplied by ``x_scale`` (cos of the latitude, for longitude and latitude).
    A ring that becomes degenerate (fewer than three points) is dropped, unless it is a feature's
    only ring left, which is then kept as it was.
    """
    members: dict[Point, set[int]] = {}
    repeated: set[Point] = set()
    rings: list[Ring] = [r for polygons in features for polygon in polygons for r in polygon]
    for ring_id, ring in enumerate(rings):
        for p in ring:
            owners = members.setdefault(p, set())
            if ring_id in owners:
                repeated.add(p)  # a ring touching itself
            owners.add(ring_id)
    junctions = set(repeated)
    for ring in rings:
        n = len(ring)
        for i, p in enumerate(ring):
            if members[p] != members[ring[i - 1]] or members[p] != members[ring[(i + 1) % n]]:
                junctions.add(p)

    arcs: dict[tuple[Point, ...], list[Point]] = {}

    def simplified_arc(arc: list[Point]) -> list[Point]:
        key = min(tuple(arc), tuple(reversed(arc)))
        if key not in arcs:
            arcs[key] = _simplify_line(key, tolerance, x_scale)
        done = arcs[key]
        return list(done) if key == tuple(arc) else list(reversed(done))

    def simplified_ring(ring: Ring) -> Ring:
        cuts = [i for i, p in enumerate(ring) if p in junctions]
        if not cuts:
            key, backward = _canonical_loop(ring)
            if key not in arcs:
                arcs[key] = _simplify_loop(key, tolerance, x_scale)
            return tuple(reversed(arcs[key])) if backward else tuple(arcs[key])  # keep the winding
        start = cuts[0]
        rotated = [*ring[start:], *ring[:start], ring[start]]
        cuts = [i - start for i in cuts] + [len(ring)]  # cuts[0] is start: all are >= start
        out: list[Point] = []
        for a, b in zip(cuts, cuts[1:], strict=False):
            out.extend(simplified_arc(rotated[a : b + 1])[:-1])
        return tuple(out)

    result = []
    for polygons in features:
        kept: list[Polygon] = []
        for polygon in polygons:
            outer = simplified_ring(polygon[0])
            if len(set(outer)) < 3:
                continue
            holes = tuple(h for h in map(simplified_ring, polygon[1:]) if len(set(h)) >= 3)
            kept.append((outer, *holes))
        if not kept and polygons:  # too small for the tolerance: keep the largest as it was
            kept = [max(polygons, key=lambda poly: abs(ring_area(poly[0])))]
        result.append(tuple(kept))
    return result


def ring_area(ring: Sequence[Point]) -> float:
    """Signed area (shoelace) in the ring's own units."""
    total = 0.0
    for i, (x1, y1) in enumerate(ring):
        x2, y2 = ring[(i + 1) % len(ring)]
        total += x1 * y2 - x2 * y1
    return total / 2.0


# --- projecting and drawing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Equirectangular, longitude scaled by cos(reference latitude), north up, fitted to a width."""

    west: float
    north: float
    x_scale: float  # cos(reference latitude)
    k: float  # pixels per degree of latitude
    margin: float
    width: int
    height: int

    def __call__(self, lon: float, lat: float) -> Point:
        return (
            self.margin + (lon - self.west) * self.x_scale * self.k,
            self.margin + (self.north - lat) * self.k,
        )


def fit(
    areas: Iterable[Area],
    width: int = MAP_WIDTH,
    margin: float = MAP_MARGIN,
    reference_latitude: float = REFERENCE_LATITUDE,
) -> Projection:
    """The projection that fits ``areas`` into ``width`` pixels (the height follows)."""
    lons, lats = [], []
    for area in areas:
        for polygon in area.polygons:
            for lon, lat in polygon[0]:
                lons.append(lon)
                lats.append(lat)
    if not lons:
        raise ValueError("nothing to fit: no areas")
    x_scale = math.cos(math.radians(reference_latitude))
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    span = max((east - west) * x_scale, 1e-9)
    k = (width - 2 * margin) / span
    height = math.ceil((north - south) * k + 2 * margin)
    return Projection(west, north, x_scale, k, margin, width, height)


def svg_path(polygons: Iterable[Polygon]) -> str:
    """Path data of projected polygons: absolute moves, relative lines, 0.1 px steps, no
    leading zeros and no space before a minus; each ring closed (holes: fill-rule evenodd)."""
    parts: list[str] = []
    for polygon in polygons:
        for ring in polygon:
            tenths = [(round(x * 10), round(y * 10)) for x, y in ring]
            deduped = [p for i, p in enumerate(tenths) if i == 0 or p != tenths[i - 1]]
            if len(deduped) > 1 and deduped[-1] == deduped[0]:
                deduped.pop()
            if len(deduped) < 3:
                continue
            x0, y0 = deduped[0]
            out = [f"M{_tenths(x0)} {_tenths(y0)}l"]
            px, py = x0, y0
            first = True
            for x, y in deduped[1:]:
                for n in (_tenths(x - px), _tenths(y - py)):
                    out.append(n if first or n.startswith("-") else " " + n)
                    first = False
                px, py = x, y
            out.append("z")
            parts.append("".join(out))
    return "".join(parts)


def _tenths(n: int) -> str:
    """``n`` tenths as a short SVG number: 12 -> "1.2", 5 -> ".5", -5 -> "-.5", 20 -> "2"."""
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole or ''}.{frac}"


def draw(
    boundaries: Boundaries,
    width: int = MAP_WIDTH,
    okrugs: Iterable[str] | None = None,
    tolerance: float = DRAW_TOLERANCE,
) -> Drawing:
    """Project ``boundaries`` into a ``width``-wide viewBox, fitted to all of them or to the
    okrug slugs ``okrugs``: their outlines and their districts (a district whose okrug the file
    does not name counts when most of its outline lies within the okrugs' bounding box)."""
    areas = boundaries.areas
    if okrugs is not None:
        wanted = set(okrugs)
        chosen = [a for a in areas if a.level == "okrug" and a.slug in wanted]
        if not chosen:
            raise ValueError(f"none of the okrugs {sorted(wanted)} is in {boundaries.source}")
        box = fit(chosen, width)
        areas = tuple(
            a
            for a in areas
            if (
                a.slug in wanted
                if a.level == "okrug"
                else a.okrug in wanted
                if a.okrug is not None
                else _inside_box(a, box)
            )
        )
    projection = fit([a for a in areas if a.level == "district"] or areas, width)
    projected = [
        tuple(tuple(tuple(projection(*p) for p in ring) for ring in poly) for poly in a.polygons)
        for a in areas
    ]
    simple = simplify(projected, tolerance)
    paths: dict[str, dict[str, str]] = {level: {} for level in LEVELS}
    for area, polygons in zip(areas, simple, strict=True):
        paths[area.level][area.slug] = svg_path(polygons)
    digest = hashlib.sha1(
        repr((boundaries.source, width, sorted(a.slug for a in areas))).encode()
    ).hexdigest()
    return Drawing(
        projection.width, projection.height, paths["district"], paths["okrug"], f"dm{digest[:6]}"
    )


def _inside_box(area: Area, projection: Projection) -> bool:
    points = [projection(*p) for poly in area.polygons for p in poly[0]]
    inside = sum(0 <= x <= projection.width and 0 <= y <= projection.height for x, y in points)
    return inside * 2 > len(points)


def drawing(
    path: Path = DEFAULT_BOUNDARIES, width: int = MAP_WIDTH, okrugs: Iterable[str] | None = None
) -> Drawing:
    """:func:`draw` of a boundary file, cached per file version, width and okrugs."""
    chosen = None if okrugs is None else tuple(sorted(set(okrugs)))
    return _drawing_cached(_file_key(path), width, chosen)


@lru_cache(maxsize=32)
def _drawing_cached(
    key: tuple[str, int, int], width: int, okrugs: tuple[str, ...] | None
) -> Drawing:
    return draw(_load_cached(key), width, okrugs)


def shapes_for(drawing: Drawing, districts: Sequence[Named], language: str) -> MapShapes:
    """Match a drawing's slugs to taxonomy rows (okrugs: ``parent_id`` None), in the rows' order,
    with names in ``language``."""
    mapped, outlines, unmapped = [], [], []
    for row in districts:
        if row.parent_id is None:
            if row.slug in drawing.okrugs:
                outlines.append(
                    Shape(row.id, row.slug, row.name(language), drawing.okrugs[row.slug])
                )
        elif row.slug in drawing.districts:
            mapped.append(Shape(row.id, row.slug, row.name(language), drawing.districts[row.slug]))
        else:
            unmapped.append(row.slug)
    return MapShapes(
        drawing.width,
        drawing.height,
        tuple(mapped),
        tuple(outlines),
        tuple(unmapped),
        drawing.key,
    )


def classify(
    values: Mapping[int, float | None],
    steps: int = len(PALETTE),
    domain: tuple[float, float] | None = None,
) -> Scale:
    """Equal-interval classes from the smallest to the largest value (or over ``domain``), each
    drawn in one colour of :data:`PALETTE` (spread over it when there are fewer steps). A value
    of None is no value."""
    steps = max(1, min(steps, len(PALETTE)))
    present = {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}
    if not present:
        return Scale((), {})
    low, high = domain if domain is not None else (min(present.values()), max(present.values()))
    if high < low:
        low, high = high, low
    if high == low:
        steps = 1
    colours = [PALETTE[round(i * (len(PALETTE) - 1) / max(steps - 1, 1))] for i in range(steps)]
    if steps == 1:
        colours = [PALETTE[len(PALETTE) // 2]]
    width = (high - low) / steps
    scale = tuple(
        Step(colours[i], low + i * width, high if i == steps - 1 else low + (i + 1) * width)
        for i in range(steps)
    )
    fills = {}
    for key, value in present.items():
        index = 0 if width == 0 else int((value - low) / width)
        fills[key] = colours[min(max(index, 0), steps - 1)]
    return Scale(scale, fills)


# --- the database's districts ---------------------------------------------------------------------


def district_rows(session: Session) -> list[Named]:
    """The taxonomy's okrugs and districts (slug -> id is how a shape finds its District row)."""
    rows = session.scalars(select(District).order_by(District.position, District.id))
    return [
        Named(r.id, r.slug, r.name_ru, r.name_en, r.parent_id, r.short_ru, r.short_en) for r in rows
    ]


def slug_ids(session: Session) -> dict[str, int]:
    """District and okrug slug -> District id."""
    return {slug: id_ for slug, id_ in session.execute(select(District.slug, District.id))}


def map_shapes(
    session: Session,
    language: str,
    path: Path = DEFAULT_BOUNDARIES,
    okrugs: Iterable[str] | None = None,
) -> MapShapes:
    """The district map of ``path`` (the shipped Moscow boundaries by default) for the
    ``choropleth`` macro, names in ``language``; ``okrugs`` (slugs) zooms to those okrugs."""
    return shapes_for(drawing(path, okrugs=okrugs), district_rows(session), language)
