"""District shapes: the shipped boundary file, its loader, the SVG paths, the choropleth macro and
the tool that builds the file (tools/build_boundaries.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tools import build_boundaries
from webapp.kernel.dto import Named
from webapp.kernel.errors import InvalidInput
from webapp.kernel.storage.db import transaction
from webapp.taxonomy import shapes

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = json.loads((ROOT / "webapp" / "data" / "moscow_districts.json").read_text("utf-8"))
TAXONOMY_DISTRICTS = {d["slug"] for o in TAXONOMY["okrugs"] for d in o["districts"]}
TAXONOMY_OKRUGS = {o["slug"] for o in TAXONOMY["okrugs"]}
MAX_BYTES = 250_000


# --- the shipped file -----------------------------------------------------------------------------


def test_the_shipped_file_loads_with_every_okrug_and_district() -> None:
    boundaries = shapes.load()
    districts = {a.slug for a in boundaries.level("district")}
    okrugs = {a.slug for a in boundaries.level("okrug")}
    # every taxonomy district (125 districts, 21 settlements) and okrug has a shape: no exceptions
    assert districts == TAXONOMY_DISTRICTS and len(districts) == 146
    assert okrugs == TAXONOMY_OKRUGS and len(okrugs) == 12
    by_slug = {d["slug"]: o["slug"] for o in TAXONOMY["okrugs"] for d in o["districts"]}
    assert all(a.okrug == by_slug[a.slug] for a in boundaries.level("district"))
    # Moscow, WGS84
    points = [p for a in boundaries.areas for poly in a.polygons for ring in poly for p in ring]
    assert all(36.7 < lon < 38.0 and 55.1 < lat < 56.1 for lon, lat in points)
    assert shapes.load() is boundaries  # cached


def test_the_shipped_file_is_small_and_attributed() -> None:
    size = shapes.DEFAULT_BOUNDARIES.stat().st_size
    assert size <= MAX_BYTES, size
    data = json.loads(shapes.DEFAULT_BOUNDARIES.read_text("utf-8"))
    assert data["license"] == "ODbL-1.0" and "OpenStreetMap" in data["attribution"]
    readme = (shapes.DEFAULT_BOUNDARIES.parent / "README.md").read_text("utf-8")
    for words in ("ODbL", "© OpenStreetMap contributors, gis-lab.info", "derived database"):
        assert words in readme
    assert "tools/build_boundaries.py" in readme


def test_neighbours_share_their_border_after_simplification() -> None:
    """A point on a district's outline that a neighbour's outline has too: most of them (the
    simplification kept the common border common — no gaps, no overlaps)."""
    areas = shapes.load().level("district")
    owners: dict[tuple[float, float], set[str]] = {}
    for area in areas:
        for poly in area.polygons:
            for ring in poly:
                for p in ring:
                    owners.setdefault(p, set()).add(area.slug)
    shared = sum(len(o) >= 2 for o in owners.values())
    assert shared / len(owners) > 0.5
    cao = {a.slug for a in areas if a.okrug == "cao"}
    # the centre: each of its districts borders another one of them
    for slug in cao:
        assert any(slug in o and len(o & cao) >= 2 for o in owners.values()), slug


def test_the_file_rebuilds_identically_from_its_source(
    shared_data_dir: Path | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shared_data_dir is None or not (shared_data_dir / "moscow_boundaries").is_dir():
        pytest.skip("no ../shared/data/moscow_boundaries here")
    readme = (shapes.DEFAULT_BOUNDARIES.parent / "README.md").read_text("utf-8")
    tolerance = re.search(r"--tolerance (\S+)", readme)
    assert tolerance
    rc = build_boundaries.main(
        [
            str(shared_data_dir / "moscow_boundaries"),
            "--tolerance",
            tolerance.group(1),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    assert "matched 12 of 12 okrugs and 146 of 146 districts" in capsys.readouterr().out
    assert (tmp_path / "moscow.geojson").read_bytes() == shapes.DEFAULT_BOUNDARIES.read_bytes()


# --- drawing --------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[MlzZ]|-?(?:\d+(?:\.\d*)?|\.\d+)")


def path_points(d: str) -> list[tuple[float, float]]:
    """Absolute points of the path data the drawing writes (M, relative l, z)."""
    points: list[tuple[float, float]] = []
    tokens = _TOKEN.findall(d)
    assert "".join(tokens) == re.sub(r"\s", "", d), "unexpected characters in the path"
    command, numbers = "", list[float]()
    x = y = sx = sy = 0.0
    for token in tokens + ["M"]:
        if token in "MlzZ":
            assert len(numbers) % 2 == 0, d[:80]
            pairs = list(zip(numbers[::2], numbers[1::2], strict=True))
            if command == "M":
                assert len(pairs) == 1
                x, y = sx, sy = pairs[0]
                points.append((x, y))
            elif command == "l":
                for dx, dy in pairs:
                    x, y = x + dx, y + dy
                    points.append((x, y))
            elif command in "zZ" and command:
                x, y = sx, sy
            command, numbers = token, []
        else:
            numbers.append(float(token))
    return points


def test_every_path_lies_within_the_view_box() -> None:
    drawing = shapes.drawing()
    assert drawing.width == shapes.MAP_WIDTH and 500 < drawing.height < 1200
    for level in (drawing.districts, drawing.okrugs):
        for slug, d in level.items():
            points = path_points(d)
            assert len(points) >= 3, slug
            for px, py in points:
                assert -0.05 <= px <= drawing.width + 0.05, (slug, px)
                assert -0.05 <= py <= drawing.height + 0.05, (slug, py)
    xs = [p[0] for d in drawing.districts.values() for p in path_points(d)]
    assert min(xs) == pytest.approx(shapes.MAP_MARGIN, abs=0.1)
    assert max(xs) == pytest.approx(drawing.width - shapes.MAP_MARGIN, abs=0.1)
    assert shapes.drawing() is drawing  # cached per file version


def test_a_map_of_some_okrugs_fits_them_alone() -> None:
    centre = shapes.drawing(okrugs=["cao"])
    assert set(centre.districts) == {
        d["slug"] for o in TAXONOMY["okrugs"] if o["slug"] == "cao" for d in o["districts"]
    }
    assert set(centre.okrugs) == {"cao"}
    assert centre.key != shapes.drawing().key
    with pytest.raises(ValueError, match="none of the okrugs"):
        shapes.drawing(okrugs=["atlantis"])


def test_svg_numbers_are_short() -> None:
    ring = ((0.0, 0.0), (10.5, 0.0), (10.5, 2.0), (0.04, 2.0))
    assert shapes.svg_path([(ring,)]) == "M0 0l10.5 0 0 2-10.5 0z"
    assert shapes._tenths(5) == ".5" and shapes._tenths(-5) == "-.5" and shapes._tenths(20) == "2"


def test_simplify_keeps_a_shared_border_shared() -> None:
    """Two squares with a wiggly common border: simplified, the border is one line in both."""
    wiggle = [(1.0, y / 10) for y in range(1, 10)]
    wiggle = [(x + (0.01 if i % 2 else -0.01), y) for i, (x, y) in enumerate(wiggle)]
    left = ((0.0, 0.0), (1.0, 0.0), *wiggle, (1.0, 1.0), (0.0, 1.0))
    right = ((1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0), *reversed(wiggle))
    a, b = shapes.simplify([((left,),), ((right,),)], tolerance=0.05)
    border_a = [p for p in a[0][0] if 0.9 < p[0] < 1.1]
    border_b = [p for p in b[0][0] if 0.9 < p[0] < 1.1]
    assert sorted(border_a) == sorted(border_b)
    assert len(border_a) < len(wiggle) + 2  # it was simplified
    assert len(a[0][0]) >= 4 and len(b[0][0]) >= 4
    # a tiny island of its own survives as a triangle at least
    tiny = ((5.0, 5.0), (5.001, 5.0), (5.001, 5.001), (5.0, 5.001))
    (island,) = shapes.simplify([((tiny,),)], 1.0)
    assert len(island[0][0]) >= 3


# --- the loader's errors --------------------------------------------------------------------------


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "b.geojson"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _feature(slug: str, level: str, ring: list[list[Any]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"slug": slug, "level": level},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


SQUARE = [[37.0, 55.0], [37.1, 55.0], [37.1, 55.1], [37.0, 55.1], [37.0, 55.0]]
NOT_A_NUMBER: list[Any] = ["a", 55.0]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "is not valid JSON"),
        ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "has no features"),
        (
            {"type": "FeatureCollection", "features": [_feature("arbat", "city", SQUARE)]},
            'level must be "district" or "okrug"',
        ),
        (
            {"type": "FeatureCollection", "features": [_feature("arbat", "district", SQUARE[:2])]},
            "a ring needs at least four positions",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [_feature("arbat", "district", [[370.0, 55.0], *SQUARE[1:]])],
            },
            "is not a longitude and latitude",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [_feature("arbat", "district", [NOT_A_NUMBER, *SQUARE[1:]])],
            },
            "a position is not a pair of numbers",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    _feature("arbat", "district", SQUARE),
                    _feature("arbat", "district", SQUARE),
                ],
            },
            "arbat appears twice",
        ),
        (
            {"type": "FeatureCollection", "features": [_feature("cao", "okrug", SQUARE)]},
            "has no district shapes",
        ),
    ],
)
def test_a_bad_file_is_refused_with_a_message_naming_it(
    tmp_path: Path, content: Any, says: str
) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(shapes.BoundaryFileError) as err:
        shapes.load(path)
    assert says in str(err.value) and str(path) in str(err.value)
    assert isinstance(err.value, InvalidInput) and "file" in err.value.errors


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(shapes.BoundaryFileError, match="Boundary file not found: .*nowhere"):
        shapes.load(tmp_path / "nowhere.geojson")
    with pytest.raises(shapes.BoundaryFileError, match="not found"):
        shapes.drawing(tmp_path / "nowhere.geojson")


def test_another_file_can_be_given_by_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"type": "FeatureCollection", "features": [_feature("arbat", "district", SQUARE)]},
    )
    drawing = shapes.drawing(path, width=300)
    assert set(drawing.districts) == {"arbat"} and drawing.okrugs == {}
    assert drawing.width == 300 and drawing.height == pytest.approx(300 / 0.5628 * 1, rel=0.02)


# --- the colour scale and the macro ---------------------------------------------------------------


def test_classify_spreads_values_over_the_palette() -> None:
    scale = shapes.classify({1: 0.0, 2: 0.5, 3: 1.0, 4: None, 5: 0.19})
    assert scale.colour(1) == scale.colour(5) == shapes.PALETTE[0]
    assert scale.colour(2) == shapes.PALETTE[2]
    assert scale.colour(3) == shapes.PALETTE[-1]
    assert scale.colour(4) == scale.colour(99) == scale.colour(None) == shapes.NO_DATA
    assert [s.colour for s in scale.steps] == list(shapes.PALETTE)
    assert scale.steps[0].low == 0.0 and scale.steps[-1].high == 1.0
    same = shapes.classify({1: 0.3, 2: 0.3})
    assert len(same.steps) == 1 and same.colour(1) == same.colour(2) != shapes.NO_DATA
    assert shapes.classify({1: None}).steps == ()
    fixed = shapes.classify({1: 0.5}, domain=(0.0, 1.0), steps=2)
    assert [(s.low, s.high) for s in fixed.steps] == [(0.0, 0.5), (0.5, 1.0)]


def _rows(session_factory: sessionmaker[Session]) -> list[Named]:
    with transaction(session_factory) as s:
        return shapes.district_rows(s)


def test_database_districts_find_their_shapes(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        ids = shapes.slug_ids(s)
        ru = shapes.map_shapes(s, "ru")
        en = shapes.map_shapes(s, "en")
    assert ru.unmapped == () and len(ru.districts) == 146 and len(ru.okrugs) == 12
    assert {sh.id for sh in ru.districts} == {ids[slug] for slug in TAXONOMY_DISTRICTS}
    arbat = next(sh for sh in ru.districts if sh.slug == "arbat")
    assert arbat.id == ids["arbat"] and arbat.name == "Арбат"
    assert next(sh for sh in en.districts if sh.slug == "arbat").name == "Arbat"
    assert ru.view_box == f"0 0 {ru.width} {ru.height}"
    # a district the file lacks is reported, not drawn
    extra = Named(10_000, "new-district", "Новый", "New", parent_id=ids["cao"])
    partial = shapes.shapes_for(shapes.drawing(), [*_rows(session_factory), extra], "ru")
    assert partial.unmapped == ("new-district",)


def _render(app: Starlette, template: str, **context: Any) -> str:
    env = app.state.jinja["ru"]
    return str(env.from_string(template).render(**context))


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %".replace(".", ",")


def test_the_macro_fills_districts_by_value_and_greys_the_missing(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as s:
        ids = shapes.slug_ids(s)
        ms = shapes.map_shapes(s, "ru")
    values = {
        ids["arbat"]: 0.1,
        ids["tverskoy"]: 0.9,
        ids["presnensky"]: 0.5,
        ids["yakimanka"]: None,
    }
    html = _render(
        app,
        '{% from "_choropleth.html" import choropleth %}'
        '{{ choropleth(ms, values, "Карта ответов по районам", "Выбрали «Да»", pct) }}',
        ms=ms,
        values=values,
        pct=_pct,
    )
    assert f'viewBox="{ms.view_box}" role="img" aria-label="Карта ответов по районам"' in html
    titles = re.findall(r'fill="(#[0-9a-f]{6})"[^>]*><title>([^<]+)</title>', html)
    fills = {title: fill for fill, title in titles}
    assert len(titles) == 146
    assert fills["Арбат: 10,0 %"] == shapes.PALETTE[0]
    assert fills["Тверской: 90,0 %"] == shapes.PALETTE[-1]
    assert fills["Пресненский: 50,0 %"] == shapes.PALETTE[2]
    missing = [t for t in fills if t.startswith("Якиманка: ")]
    assert missing and fills[missing[0]] == shapes.NO_DATA
    no_data = missing[0].split(": ", 1)[1]
    assert no_data != "no data / too few answers"  # translated into Russian
    assert sum(fill == shapes.NO_DATA for fill in fills.values()) == 146 - 3
    # the legend: five steps from the smallest to the largest value, then "no data"
    legend = html[html.index("choropleth-legend") :]
    assert "Выбрали «Да»" in legend
    assert "10,0 % – 26,0 %" in legend and "74,0 % – 90,0 %" in legend
    assert legend.count("<rect") == 6 and no_data in legend
    assert "OpenStreetMap" in legend
    # okrug outlines on top of the districts
    assert html.index('class="choropleth-okrugs"') > html.rindex("<title>")
    assert html.count("<path", html.index('class="choropleth-okrugs"')) == 12


def test_the_macro_can_share_one_set_of_paths(
    app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as s:
        ids = shapes.slug_ids(s)
        ms = shapes.map_shapes(s, "en", okrugs=["cao"])
    html = _render(
        app,
        '{% from "_choropleth.html" import choropleth, choropleth_defs %}'
        "{{ choropleth_defs(ms) }}"
        '{{ choropleth(ms, {ids["arbat"]: 3}, "Map", "Mean", defs=true) }}'
        '{{ choropleth(ms, {ids["arbat"]: 4}, "Map", "Mean", defs=true) }}',
        ms=ms,
        ids=ids,
    )
    assert html.count(f'id="{ms.key}-arbat"') == 1
    assert html.count(f'<use href="#{ms.key}-arbat"') == 2
    assert html.count("<path") == len(ms.districts) + len(ms.okrugs)  # only in the defs
    assert "<title>Arbat: 3</title>" in html and "<title>Arbat: 4</title>" in html


def test_the_stylesheet_has_the_district_map_section() -> None:
    css = (ROOT / "webapp" / "static" / "veche.css").read_text("utf-8")
    section = css[css.index("== area: district map ==") : css.index("== end area: district map ==")]
    for cls in ("choropleth", "choropleth-map", "choropleth-legend", "choropleth-swatch"):
        assert f".{cls} " in section or f".{cls}," in section, cls


# --- the build tool -------------------------------------------------------------------------------


def _square(x: float, y: float, size: float = 0.1) -> list[list[float]]:
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def _source(tmp_path: Path, district_names: tuple[str, str]) -> Path:
    """A tiny city: one okrug of two districts side by side (their border has extra points)."""
    src = tmp_path / "src"
    src.mkdir()
    border = [[37.1, 55.0 + i / 100 + (0.0001 if i % 2 else 0)] for i in range(1, 10)]
    left = [[37.0, 55.0], [37.1, 55.0], *border, [37.1, 55.1], [37.0, 55.1], [37.0, 55.0]]
    right = [[37.1, 55.0], [37.2, 55.0], [37.2, 55.1], [37.1, 55.1], *border[::-1], [37.1, 55.0]]
    mo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "NAME": name,
                    "NAME_AO": "Тестовый",
                    "TYPE_MO": "Муниципальный округ",
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
            for name, ring in zip(district_names, (left, right), strict=True)
        ],
    }
    outline = [[37.0, 55.0], [37.2, 55.0], [37.2, 55.1], [37.0, 55.1], [37.0, 55.0]]
    ao = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"NAME": "Тестовый"},
                "geometry": {"type": "MultiPolygon", "coordinates": [[outline]]},
            }
        ],
    }
    (src / "mo.geojson").write_text(json.dumps(mo, ensure_ascii=False), encoding="utf-8")
    (src / "ao.geojson").write_text(json.dumps(ao, ensure_ascii=False), encoding="utf-8")
    taxonomy = {
        "okrugs": [
            {
                "slug": "test",
                "name_ru": "Тестовый административный округ",
                "name_en": "Test Okrug",
                "districts": [
                    {"slug": "yolkino", "name_ru": "Ёлкино-Сосновое", "name_en": "Yolkino"},
                    {"slug": "lesnoye", "name_ru": "Лесное", "name_en": "Lesnoye"},
                ],
            }
        ]
    }
    (src / "taxonomy.json").write_text(json.dumps(taxonomy, ensure_ascii=False), encoding="utf-8")
    return src


def test_the_build_tool_matches_loose_names_and_writes_a_loadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _source(tmp_path, ("район Елкино Сосновое", "поселение Лесное"))
    out = tmp_path / "out"
    rc = build_boundaries.main(
        [str(src), "--taxonomy", str(src / "taxonomy.json"), "--out", str(out), "--tolerance", "50"]
    )
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "matched 1 of 1 okrugs and 2 of 2 districts" in printed
    assert "simplifying" in printed and "wrote" in printed
    boundaries = shapes.read(out / "moscow.geojson")
    assert {(a.slug, a.level, a.okrug) for a in boundaries.areas} == {
        ("test", "okrug", None),
        ("yolkino", "district", "test"),
        ("lesnoye", "district", "test"),
    }
    left, right = (a for a in boundaries.areas if a.level == "district")
    # 50 m flattens the 11 m zigzag of the border, the same way on both sides
    on_border = [
        sorted(p for p in a.polygons[0][0] if abs(p[0] - 37.1) < 0.001) for a in (left, right)
    ]
    assert on_border[0] == on_border[1] == [(37.1, 55.0), (37.1, 55.1)]
    raw = json.loads((out / "moscow.geojson").read_text("utf-8"))
    positions = [
        c
        for f in raw["features"]
        for poly in f["geometry"]["coordinates"]
        for r in poly
        for p in r
        for c in p
    ]
    assert all(round(c, 5) == c for c in positions)
    readme = (out / "README.md").read_text("utf-8")
    assert "ODbL" in readme and "--tolerance 50" in readme


def test_the_build_tool_fails_loudly_on_an_unmatched_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _source(tmp_path, ("Елкино-Сосновое", "Атлантида"))
    out = tmp_path / "out"
    rc = build_boundaries.main(
        [str(src), "--taxonomy", str(src / "taxonomy.json"), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert rc == 1
    assert "'Атлантида'" in err and "matches no district" in err
    assert "'lesnoye'" in err and "has no area" in err  # and the district left without one
    assert not (out / "moscow.geojson").exists()


def test_the_build_tool_refuses_a_name_matched_twice(tmp_path: Path) -> None:
    src = _source(tmp_path, ("Лесное", "поселение Лесное"))
    taxonomy = json.loads((src / "taxonomy.json").read_text("utf-8"))
    with pytest.raises(build_boundaries.BuildError, match="both match 'lesnoye'"):
        build_boundaries.match(
            json.loads((src / "ao.geojson").read_text("utf-8"))["features"],
            json.loads((src / "mo.geojson").read_text("utf-8"))["features"],
            taxonomy,
        )


def test_the_build_tool_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_boundaries.main(["--help"])
    assert done.value.code == 0
    assert "--tolerance" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("Район Филёвский Парк", "филевский парк"),
        ("поселение Михайлово-Ярцевское", "михайлово ярцевское"),
        ("Северо-Восточный административный округ", "северо восточный"),
        ("городской округ Троицк", "троицк"),
        ("Савёлки", "савелки"),
    ],
)
def test_names_are_compared_loosely(name: str, normal: str) -> None:
    assert build_boundaries.normalise(name) == normal
