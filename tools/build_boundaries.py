"""Build the district shapes shipped in webapp/data/boundaries/ from Moscow's boundary files.

    python tools/build_boundaries.py [SOURCE] [--tolerance 60] [--out webapp/data/boundaries]

SOURCE is a folder with ``mo.geojson`` (municipal districts and settlements: NAME, NAME_AO, ...)
and ``ao.geojson`` (the okrugs: NAME); it defaults to ``moscow_boundaries/`` in the
``VECHE_DATA_DIR`` setting (``../shared/data``). Every area is matched to a slug of
``webapp/data/moscow_districts.json`` by its Russian name (ё as е, case, hyphens and the words
"район", "поселение", "административный округ" ... ignored; a district within its okrug); an
area that matches nothing, or twice, stops the build, and so does a taxonomy district without an
area (unless ``--allow-missing``). The geometry is simplified by Douglas–Peucker with shared
borders kept shared (``webapp.taxonomy.shapes.simplify``), rounded to 5 decimals (about a metre),
and written as one FeatureCollection (properties: slug, level "district"/"okrug", okrug) to
``moscow.geojson``, with a ``README.md`` that carries the source's attribution and licence.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from webapp.taxonomy import shapes  # noqa: E402

DEFAULT_TAXONOMY = ROOT / "webapp" / "data" / "moscow_districts.json"
DEFAULT_OUT = ROOT / "webapp" / "data" / "boundaries"
DEFAULT_TOLERANCE_M = 60.0  # metres: the shipped file (≤ 250 KB for both levels)
METRES_PER_DEGREE = 111_195.0  # of latitude (mean Earth radius 6,371 km)
DECIMALS = 5
DISTRICTS_FILE, OKRUGS_FILE = "mo.geojson", "ao.geojson"
ATTRIBUTION = "© OpenStreetMap contributors, gis-lab.info"
LICENCE = "ODbL-1.0"

_WORDS = re.compile(
    r"\b(административный округ|муниципальный округ|городской округ|поселение|район|округ|г\.?\s?о\.?)(?=\s|$)"
)


class BuildError(Exception):
    """The sources cannot make a boundary file (the message says why)."""


def normalise(name: str) -> str:
    """A Russian area name compared loosely: lower case, ё as е, hyphens and dashes as spaces,
    without the words "район", "поселение", "административный/муниципальный/городской округ"."""
    text = name.lower().replace("ё", "е")
    text = re.sub(r"[-‐‑‒–—]", " ", text)
    text = _WORDS.sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Match:
    slug: str
    level: str
    okrug: str | None
    name: str  # the source's
    polygons: tuple[shapes.Polygon, ...]


def _features(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"no such file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BuildError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise BuildError(f"{path}: expected a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise BuildError(f"{path}: the FeatureCollection has no features")
    return features


def _geometry(feature: dict[str, Any], where: str, path: Path) -> tuple[shapes.Polygon, ...]:
    try:
        return shapes._polygons(feature.get("geometry"), where, str(path))
    except shapes.BoundaryFileError as exc:
        raise BuildError(str(exc)) from None


def _name(feature: Any, where: str, path: Path) -> tuple[str, dict[str, Any]]:
    props = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(props, dict) or not isinstance(props.get("NAME"), str):
        raise BuildError(f"{path}: {where} has no NAME property")
    return props["NAME"], props


def match(
    okrug_features: Sequence[dict[str, Any]],
    district_features: Sequence[dict[str, Any]],
    taxonomy: Mapping[str, Any],
    sources: tuple[Path, Path] = (Path(OKRUGS_FILE), Path(DISTRICTS_FILE)),
    allow_missing: bool = False,
) -> list[Match]:
    """Every area with its taxonomy slug; :class:`BuildError` listing every area that matches
    nothing (or a slug already taken), and every taxonomy district left without an area."""
    okrug_slug: dict[str, str] = {}
    district_slug: dict[tuple[str, str], str] = {}  # (okrug slug, name) -> slug
    by_name: dict[str, list[tuple[str, str]]] = {}  # name -> [(okrug slug, slug)]
    for okrug in taxonomy["okrugs"]:
        okrug_slug[normalise(okrug["name_ru"])] = okrug["slug"]
        for d in okrug.get("districts", []):
            key = normalise(d["name_ru"])
            district_slug[(okrug["slug"], key)] = d["slug"]
            by_name.setdefault(key, []).append((okrug["slug"], d["slug"]))
    problems: list[str] = []
    matches: list[Match] = []
    taken: dict[str, str] = {}

    def take(slug: str, level: str, okrug: str | None, name: str, polygons: Any) -> None:
        if slug in taken:
            problems.append(f"{name!r} and {taken[slug]!r} both match {slug!r}")
            return
        taken[slug] = name
        matches.append(Match(slug, level, okrug, name, polygons))

    ao_path, mo_path = sources
    for i, feature in enumerate(okrug_features):
        name, _ = _name(feature, f"feature {i}", ao_path)
        slug = okrug_slug.get(normalise(name))
        if slug is None:
            problems.append(f"okrug {name!r} ({ao_path.name}) matches no okrug of the taxonomy")
            continue
        take(slug, "okrug", None, name, _geometry(feature, f"feature {i} ({name})", ao_path))
    for i, feature in enumerate(district_features):
        name, props = _name(feature, f"feature {i}", mo_path)
        key = normalise(name)
        okrug_name = props.get("NAME_AO")
        if isinstance(okrug_name, str) and okrug_name.strip():
            okrug = okrug_slug.get(normalise(okrug_name))
            if okrug is None:
                problems.append(
                    f"{name!r} ({mo_path.name}): its okrug {okrug_name!r} matches no okrug"
                )
                continue
            slug = district_slug.get((okrug, key))
        else:  # no okrug given: the name alone, when it is unique
            found = by_name.get(key, [])
            okrug, slug = found[0] if len(found) == 1 else (None, None)
        if slug is None:
            where = f" in okrug {okrug}" if okrug else ""
            problems.append(f"district {name!r} ({mo_path.name}) matches no district{where}")
            continue
        take(slug, "district", okrug, name, _geometry(feature, f"feature {i} ({name})", mo_path))
    if not allow_missing:
        for okrug in taxonomy["okrugs"]:
            if okrug["slug"] not in taken:
                problems.append(f"okrug {okrug['slug']!r} ({okrug['name_ru']}) has no area")
            for d in okrug.get("districts", []):
                if d["slug"] not in taken:
                    problems.append(f"district {d['slug']!r} ({d['name_ru']}) has no area")
    if problems:
        raise BuildError(
            f"{len(problems)} problem(s) matching areas to the taxonomy:\n  "
            + "\n  ".join(problems)
        )
    return matches


def _position(p: shapes.Point) -> list[float]:
    return [round(p[0], DECIMALS), round(p[1], DECIMALS)]


def _rounded(polygons: Sequence[shapes.Polygon]) -> list[list[list[list[float]]]]:
    """GeoJSON MultiPolygon coordinates, 5 decimals, closed rings, no repeated positions."""
    out = []
    for polygon in polygons:
        rings = []
        for ring in polygon:
            points: list[list[float]] = []
            for p in ring:
                pos = _position(p)
                if not points or pos != points[-1]:
                    points.append(pos)
            while len(points) > 1 and points[-1] == points[0]:
                points.pop()
            if len(points) >= 3:
                rings.append([*points, points[0]])
            elif not rings:  # the outer ring is gone: so is the polygon (its holes too)
                break
        if rings:
            out.append(rings)
    return out


def collection(matches: Sequence[Match], tolerance_m: float) -> dict[str, Any]:
    """The FeatureCollection to write: okrugs, then districts, each in the order given."""
    x_scale = math.cos(math.radians(shapes.REFERENCE_LATITUDE))
    simple = shapes.simplify(
        [m.polygons for m in matches], tolerance_m / METRES_PER_DEGREE, x_scale
    )
    features = []
    for level in shapes.LEVELS[::-1]:
        for m, polygons in zip(matches, simple, strict=True):
            if m.level != level:
                continue
            props: dict[str, Any] = {"slug": m.slug, "level": m.level}
            if m.okrug:
                props["okrug"] = m.okrug
            coordinates = _rounded(polygons)
            if not coordinates:
                raise BuildError(f"{m.name!r} ({m.slug}) has no area left at {tolerance_m:g} m")
            features.append(
                {
                    "type": "Feature",
                    "properties": props,
                    "geometry": {"type": "MultiPolygon", "coordinates": coordinates},
                }
            )
    return {
        "type": "FeatureCollection",
        "attribution": ATTRIBUTION,
        "license": LICENCE,
        "features": features,
    }


README = """# Moscow's district boundaries

`moscow.geojson`: one GeoJSON FeatureCollection (WGS84 longitude/latitude, 5 decimals) of
Moscow's {okrugs} administrative okrugs (`"level": "okrug"`) and {districts} districts and
settlements (`"level": "district"`, with the `okrug` they belong to), each a MultiPolygon whose
`slug` is the district's or okrug's slug in `webapp/data/moscow_districts.json`. It is read by
`webapp/taxonomy/shapes.py` (the district maps on results pages).

The division is the one before the 2024–2025 reform of New Moscow (Novomoskovsky and Troitsky
okrugs), the same as the platform's district list.

## Source, attribution and licence

**{attribution}.** The source is gis-lab.info's "moscow-atd" export of OpenStreetMap
data (`mo.geojson` and `ao.geojson`, found in the `Mistesh/geojson` repository).

This file is a **derived database** of OpenStreetMap data, made available under the
**Open Database License (ODbL) 1.0**: <https://opendatacommons.org/licenses/odbl/1-0/>.
You may copy, distribute and adapt it if you attribute it ("{attribution}"), keep
this licence, and share any adapted database under the ODbL too. Maps and other works made
from it (such as the district maps Veche draws, which print the credit under each map) must
carry the attribution. OpenStreetMap's copyright and licence page:
<https://www.openstreetmap.org/copyright>.

## How it was made

    python tools/build_boundaries.py {source} --tolerance {tolerance:g}

Each area was matched to the district list by its Russian name ({matched} of {areas} matched;
none was left out). Borders were simplified with Douglas–Peucker at a tolerance of
{tolerance:g} m, keeping the border two neighbours share identical (no gaps, no overlaps), and
coordinates were rounded to 5 decimals: {points:,} positions instead of {source_points:,},
{size:,} bytes. Good enough for maps of the whole city and for finding the district of a
point away from a border; for exact borders use the source.
"""


def _points(polygon_sets: Sequence[Sequence[shapes.Polygon]]) -> int:
    return sum(len(r) for polys in polygon_sets for poly in polys for r in poly)


def _say(message: str) -> None:
    print(message, flush=True)


def default_source() -> Path:
    from webapp.kernel.settings import Settings

    return Settings.from_env().data_path / "moscow_boundaries"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/build_boundaries.py",
        description="Build webapp/data/boundaries/moscow.geojson (district and okrug shapes, "
        "simplified, matched to the taxonomy's slugs) and its README from mo.geojson and "
        "ao.geojson.",
    )
    parser.add_argument(
        "source",
        nargs="?",
        help="folder with mo.geojson and ao.geojson "
        "(default: moscow_boundaries/ in the VECHE_DATA_DIR setting, ../shared/data)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE_M,
        help=f"Douglas–Peucker tolerance in metres (default {DEFAULT_TOLERANCE_M:g})",
    )
    parser.add_argument(
        "--taxonomy",
        default=str(DEFAULT_TAXONOMY),
        help="the district list to match (default webapp/data/moscow_districts.json)",
    )
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help="folder to write (default %(default)s)"
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="build even if some taxonomy districts have no area (areas that match nothing "
        "still stop the build)",
    )
    args = parser.parse_args(argv)
    if args.tolerance < 0:
        parser.error("--tolerance must not be negative")
    source = Path(args.source) if args.source else default_source()
    started = time.monotonic()
    try:
        taxonomy = json.loads(Path(args.taxonomy).read_text(encoding="utf-8"))
        _say(f"reading {source / OKRUGS_FILE} and {source / DISTRICTS_FILE} ...")
        okrug_features = _features(source / OKRUGS_FILE)
        district_features = _features(source / DISTRICTS_FILE)
        _say(f"  {len(okrug_features)} okrugs, {len(district_features)} districts and settlements")
        _say("matching names to the taxonomy ...")
        matches = match(
            okrug_features,
            district_features,
            taxonomy,
            (source / OKRUGS_FILE, source / DISTRICTS_FILE),
            args.allow_missing,
        )
    except (BuildError, OSError, json.JSONDecodeError) as exc:
        print(f"build_boundaries: {exc}", file=sys.stderr)
        return 1
    n_okrugs = sum(m.level == "okrug" for m in matches)
    n_districts = len(matches) - n_okrugs
    renamed = [
        m for m in matches if m.level == "district" and m.name != _taxonomy_name(taxonomy, m.slug)
    ]
    _say(
        f"  matched {n_okrugs} of {len(okrug_features)} okrugs and {n_districts} of "
        f"{len(district_features)} districts ({len(renamed)} after normalising the name)"
    )
    for m in renamed:
        _say(f"    {m.name!r} -> {m.slug} ({_taxonomy_name(taxonomy, m.slug)!r})")
    source_points = _points([m.polygons for m in matches])
    _say(f"simplifying {source_points:,} positions at {args.tolerance:g} m ...")
    try:
        data = collection(matches, args.tolerance)
    except BuildError as exc:
        print(f"build_boundaries: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    points = sum(
        len(r) for f in data["features"] for poly in f["geometry"]["coordinates"] for r in poly
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "moscow.geojson"
    target.write_text(text + "\n", encoding="utf-8")
    size = target.stat().st_size
    shown_source = args.source or "../shared/data/moscow_boundaries"
    (out / "README.md").write_text(
        README.format(
            okrugs=n_okrugs,
            districts=n_districts,
            attribution=ATTRIBUTION,
            source=shown_source,
            tolerance=args.tolerance,
            matched=len(matches),
            areas=len(okrug_features) + len(district_features),
            points=points,
            source_points=source_points,
            size=size,
        ),
        encoding="utf-8",
    )
    _say(
        f"wrote {target} ({size:,} bytes, {points:,} positions) and {out / 'README.md'}"
        f" in {time.monotonic() - started:.1f} s"
    )
    return 0


def _taxonomy_name(taxonomy: Mapping[str, Any], slug: str) -> str:
    for okrug in taxonomy["okrugs"]:
        for d in okrug.get("districts", []):
            if d["slug"] == slug:
                return str(d["name_ru"])
    return ""


if __name__ == "__main__":
    sys.exit(main())
