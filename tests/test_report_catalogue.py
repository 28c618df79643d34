"""The problem-report topic catalogue: the shipped file, and every rule the loader enforces."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from webapp.reports.catalogue import (
    CATALOGUE_PATH,
    MAX_DEADLINE_DAYS,
    CatalogueError,
    default_catalogue,
    load_catalogue,
    parse_catalogue,
)

RAW: dict[str, Any] = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))


def _topic_index(data: dict[str, Any], slug: str) -> int:
    return next(i for i, t in enumerate(data["topics"]) if t["slug"] == slug)


# --- the shipped catalogue -------------------------------------------------------------------------


def test_the_shipped_catalogue_loads_with_enough_categories_and_topics() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.categories) >= 8
    assert len(catalogue.topics) >= 50
    assert catalogue.default_deadline_working_days == 8
    for category in catalogue.categories:
        assert catalogue.topics_in(category.slug), category.slug
    assert default_catalogue() is default_catalogue()  # read once


def test_every_topic_is_complete_in_both_languages() -> None:
    catalogue = default_catalogue()
    kinds = {k.key for k in catalogue.org_kinds}
    for topic in catalogue.topics:
        assert topic.name_ru and topic.name_en and topic.keywords_ru and topic.keywords_en
        assert topic.org_kind in kinds
        assert 1 <= topic.deadline_working_days <= MAX_DEADLINE_DAYS
        # Russian names are Cyrillic, English ones are not.
        assert any("а" <= ch <= "я" for ch in topic.name_ru.lower()), topic.slug
        assert not any("а" <= ch <= "я" for ch in topic.name_en.lower()), topic.slug
    for kind in catalogue.org_kinds:
        assert kind.name_ru and kind.name_en
    assert len({t.service_code for t in catalogue.topics}) == len(catalogue.topics)


def test_lookups() -> None:
    catalogue = default_catalogue()
    lift = catalogue.topic("building-lift")
    assert lift.category == "apartment-buildings"
    assert lift.org_kind == "management_company"
    assert lift.deadline_working_days <= 2  # urgent
    assert catalogue.topic_by_code(lift.service_code) is lift
    assert lift.name("en") == "Lift out of order" and lift.name("ru") == "Не работает лифт"
    assert "lift" in lift.keywords("en") and "лифт" in lift.keywords("ru")
    assert catalogue.category("yards").name("ru") == "Дворы"
    assert catalogue.org_kind("gbu_zhilishnik").name("en").startswith("District housing")
    with pytest.raises(KeyError):
        catalogue.topic("no-such-topic")
    with pytest.raises(KeyError):
        catalogue.topic_by_code("nope")
    with pytest.raises(KeyError):
        catalogue.category("nope")
    with pytest.raises(KeyError):
        catalogue.org_kind("nope")


def test_provenance_is_recorded_honestly() -> None:
    catalogue = default_catalogue()
    sources = {s.key for s in catalogue.sources}
    for topic in catalogue.topics:
        if topic.name_origin == "ours":
            assert topic.source is None and topic.source_wording is None
        else:
            assert topic.source in sources and topic.source_wording
        if topic.deadline_basis == "portal_default":
            assert topic.deadline_working_days == catalogue.default_deadline_working_days
    origins = {t.name_origin for t in catalogue.topics}
    assert origins == {"portal", "portal_adapted", "ours"}


def test_the_readme_describes_the_shipped_counts() -> None:
    readme = (CATALOGUE_PATH.parent / "README.md").read_text(encoding="utf-8")
    catalogue = default_catalogue()
    assert f"{len(catalogue.categories)} categories" in readme
    assert f"{len(catalogue.topics)} topics" in readme
    for kind in catalogue.org_kinds:
        assert f"`{kind.key}`" in readme, kind.key


# --- reading the file ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(CatalogueError, match="file not found") as caught:
        load_catalogue(path)
    assert caught.value.where == str(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": ', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"not valid JSON: .*line 1"):
        load_catalogue(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "Дворы"}'.encode("cp1251"))
    with pytest.raises(CatalogueError, match="not UTF-8"):
        load_catalogue(path)


def test_a_valid_copy_loads_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(RAW, ensure_ascii=False), encoding="utf-8")
    assert load_catalogue(path) == parse_catalogue(RAW)


@pytest.mark.parametrize("data", [[], "text", 3, None])
def test_not_an_object(data: object) -> None:
    with pytest.raises(CatalogueError, match="^catalogue: expected a JSON object$"):
        parse_catalogue(data)


# --- every validation rule -------------------------------------------------------------------------

Mutator = Callable[[dict[str, Any]], None]


def _resolve(data: dict[str, Any], path: str) -> tuple[Any, str | int]:
    """The container and the key that ``a.b.0.c`` points at; after ``topics`` a slug may stand
    for the topic's index."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        if isinstance(node, list):
            node = node[int(part) if part.isdigit() else _topic_index(data, part)]
        else:
            node = node[part]
    return node, (int(last) if isinstance(node, list) else last)


def _set(path: str, value: object) -> Mutator:
    def mutate(data: dict[str, Any]) -> None:
        node, key = _resolve(data, path)
        node[key] = value

    return mutate


def _delete(path: str) -> Mutator:
    def mutate(data: dict[str, Any]) -> None:
        node, key = _resolve(data, path)
        del node[key]

    return mutate


def _copy_topic(original: str, /, **changes: object) -> Mutator:
    def mutate(data: dict[str, Any]) -> None:
        topic = copy.deepcopy(data["topics"][_topic_index(data, original)])
        topic.update(changes)
        data["topics"].append(topic)

    return mutate


def _drop_topics_of(category: str) -> Mutator:
    def mutate(data: dict[str, Any]) -> None:
        data["topics"] = [t for t in data["topics"] if t["category"] != category]

    return mutate


def _pos(slug: str) -> str:
    return rf"topics\[{_topic_index(RAW, slug)}\] \({slug}\)"


LIFT = _pos("building-lift")
POTHOLES = _pos("yard-potholes")  # portal_adapted, portal_default deadline
ICE = _pos("yard-ice")  # portal
LAST = len(RAW["topics"])

CASES: list[tuple[str, Mutator, str]] = [
    # the document
    ("wrong format", _set("format", "other"), r"^catalogue: format must be"),
    ("wrong version", _set("version", 2), r"^catalogue: unsupported version 2"),
    ("version as bool", _set("version", True), r"^catalogue: unsupported version True"),
    ("missing top key", _delete("sources"), r"^catalogue: missing sources"),
    ("unknown top key", _set("topic", []), r"^catalogue: unknown field 'topic'"),
    (
        "default deadline 0",
        _set("default_deadline_working_days", 0),
        r"^catalogue: deadline_working_days must be a whole number from 1 to 30, got 0",
    ),
    ("a section is not a list", _set("categories", {}), r"^categories: expected a list"),
    ("an empty section", _set("topics", []), r"^topics: the list is empty"),
    (
        "an entry is not an object",
        _set("categories.0", "yards"),
        r"^categories\[0\]: expected an object",
    ),
    # sources
    (
        "source key",
        _set("sources.0.key", "Road Macros"),
        r"^sources\[0\]: invalid key 'Road Macros'",
    ),
    (
        "source url",
        _set("sources.1.url", "ftp://example.org/x"),
        r"^sources\[1\]: url must be an http\(s\) address or null",
    ),
    (
        "source description",
        _set("sources.1.description", " "),
        r"^sources\[1\]: missing description",
    ),
    (
        "duplicate source",
        _set("sources.1.key", RAW["sources"][0]["key"]),
        r"^sources\[1\]: duplicate key .* \(already used by sources\[0\]\)",
    ),
    # organisation kinds
    (
        "kind key",
        _set("org_kinds.0.key", "GBU-Zhilishnik"),
        r"^org_kinds\[0\] \(GBU-Zhilishnik\): invalid key 'GBU-Zhilishnik'",
    ),
    (
        "kind without English",
        _delete("org_kinds.1.name_en"),
        r"^org_kinds\[1\] \(management_company\): missing name_en",
    ),
    (
        "kind description not text",
        _set("org_kinds.1.description_ru", 5),
        r"^org_kinds\[1\] \(management_company\): description_ru must be text",
    ),
    (
        "duplicate kind",
        _set("org_kinds.2.key", "gbu_zhilishnik"),
        r"^org_kinds\[2\]: duplicate key 'gbu_zhilishnik' \(already used by org_kinds\[0\]\)",
    ),
    # categories
    (
        "category slug",
        _set("categories.0.slug", "Yards"),
        r"^categories\[0\] \(Yards\): invalid slug 'Yards'",
    ),
    (
        "category without Russian",
        _set("categories.1.name_ru", ""),
        r"^categories\[1\] \(apartment-buildings\): missing name_ru",
    ),
    (
        "category name too long",
        _set("categories.1.name_en", "x" * 201),
        r"^categories\[1\] \(apartment-buildings\): name_en is longer than 200",
    ),
    (
        "duplicate category",
        _set("categories.1.slug", "yards"),
        r"^categories\[1\]: duplicate slug 'yards'",
    ),
    (
        "category without topics",
        _drop_topics_of("trade"),
        r"^categories\[\d+\] \(trade\): the category has no topics",
    ),
    # topics: fields
    (
        "unknown topic field",
        _set("topics.building-lift.deadline_days", 1),
        LIFT + ": unknown field 'deadline_days'",
    ),
    (
        "topic slug",
        _set("topics.building-lift.slug", "lift_broken"),
        rf"^topics\[{_topic_index(RAW, 'building-lift')}\] \(lift_broken\): invalid slug 'lift_broken'",
    ),
    (
        "topic without English",
        _set("topics.building-lift.name_en", "  "),
        LIFT + ": missing name_en",
    ),
    ("topic without Russian", _delete("topics.building-lift.name_ru"), LIFT + ": missing name_ru"),
    (
        "service code with a space",
        _set("topics.building-lift.service_code", "20 2"),
        LIFT + ": invalid service_code '20 2'",
    ),
    (
        "service code as a number",
        _set("topics.building-lift.service_code", 202),
        LIFT + ": invalid service_code 202",
    ),
    (
        "service code too long",
        _set("topics.building-lift.service_code", "c" * 33),
        LIFT + ": invalid service_code",
    ),
    (
        "photo_required as text",
        _set("topics.building-lift.photo_required", "yes"),
        LIFT + ": photo_required must be true or false, got 'yes'",
    ),
    (
        "name origin",
        _set("topics.building-lift.name_origin", "official"),
        LIFT + ": name_origin must be one of portal, portal_adapted, ours; got 'official'",
    ),
    (
        "deadline basis",
        _set("topics.building-lift.deadline_basis", "law"),
        LIFT + ": deadline_basis must be one of portal_default, ours; got 'law'",
    ),
    (
        "no Russian keywords",
        _set("topics.building-lift.keywords_ru", []),
        LIFT + ": keywords_ru must be a non-empty list of words",
    ),
    (
        "missing English keywords",
        _delete("topics.building-lift.keywords_en"),
        LIFT + ": missing keywords_en",
    ),
    (
        "a keyword is not text",
        _set("topics.building-lift.keywords_en", ["lift", 3]),
        LIFT + ": keywords_en must be a non-empty list of words",
    ),
    # topics: deadlines
    (
        "deadline 0",
        _set("topics.building-lift.deadline_working_days", 0),
        LIFT + ": deadline_working_days must be a whole number from 1 to 30, got 0",
    ),
    ("deadline 31", _set("topics.building-lift.deadline_working_days", 31), LIFT + ": .* got 31"),
    (
        "deadline as text",
        _set("topics.building-lift.deadline_working_days", "1"),
        LIFT + ": .* got '1'",
    ),
    (
        "deadline as a fraction",
        _set("topics.building-lift.deadline_working_days", 1.5),
        LIFT + ": .* got 1.5",
    ),
    (
        "deadline as bool",
        _set("topics.building-lift.deadline_working_days", True),
        LIFT + ": .* got True",
    ),
    (
        "deadline null",
        _set("topics.building-lift.deadline_working_days", None),
        LIFT + ": .* got None",
    ),
    (
        "portal default that is not the default",
        _set("topics.yard-potholes.deadline_working_days", 5),
        POTHOLES
        + ": deadline_basis is 'portal_default' but deadline_working_days is 5, not the default 8",
    ),
    # topics: references
    (
        "unknown category",
        _set("topics.building-lift.category", "housing"),
        LIFT + ": unknown category 'housing'",
    ),
    (
        "unknown organisation kind",
        _set("topics.building-lift.org_kind", "police"),
        LIFT + ": unknown org_kind 'police'",
    ),
    (
        "unknown source",
        _set("topics.yard-potholes.source", "wikipedia"),
        POTHOLES + ": unknown source 'wikipedia'",
    ),
    # topics: provenance
    (
        "our name with a source",
        _set("topics.building-lift.source", RAW["sources"][0]["key"]),
        LIFT + ": name_origin is 'ours', so source must be absent",
    ),
    (
        "adapted name without a source",
        _delete("topics.yard-potholes.source"),
        POTHOLES + ": missing source",
    ),
    (
        "adapted name without wording",
        _delete("topics.yard-potholes.source_wording"),
        POTHOLES + ": missing source_wording",
    ),
    (
        "portal name that differs from the source",
        _set("topics.yard-ice.name_ru", "Скользко во дворе"),
        ICE + ": name_origin is 'portal' but name_ru 'Скользко во дворе' differs",
    ),
    # topics: uniqueness
    (
        "duplicate topic slug",
        _copy_topic("building-lift", service_code="999", name_ru="Другое", name_en="Other"),
        rf"^topics\[{LAST}\]: duplicate slug 'building-lift'",
    ),
    (
        "duplicate service code",
        _copy_topic("building-lift", slug="lift-2", name_ru="Другое", name_en="Other"),
        rf"^topics\[{LAST}\]: duplicate service_code '202'",
    ),
    (
        "duplicate Russian name in a category",
        _copy_topic("building-lift", slug="lift-2", service_code="999", name_en="Other"),
        rf"^topics\[{LAST}\] \(lift-2\): another topic in category 'apartment-buildings' is also named 'Не работает лифт'",
    ),
    (
        "duplicate English name in a category",
        _copy_topic(
            "building-lift",
            slug="lift-2",
            service_code="999",
            name_ru="Другое",
            name_en="LIFT OUT OF ORDER",
        ),
        r"is also named 'LIFT OUT OF ORDER'",
    ),
]


@pytest.mark.parametrize(("mutate", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_names_the_bad_entry(mutate: Mutator, pattern: str) -> None:
    data = copy.deepcopy(RAW)
    mutate(data)
    with pytest.raises(CatalogueError, match=pattern):
        parse_catalogue(data)


def test_the_same_name_in_another_category_is_fine() -> None:
    data = copy.deepcopy(RAW)
    _copy_topic("building-lift", slug="lift-2", service_code="999", category="yards")(data)
    assert parse_catalogue(data).topic("lift-2").category == "yards"


def test_our_topic_may_carry_explicit_nulls() -> None:
    data = copy.deepcopy(RAW)
    data["topics"][_topic_index(data, "building-lift")].update(source=None, source_wording=None)
    assert parse_catalogue(data).topic("building-lift").source is None


def test_portal_wording_ignores_case_and_yo() -> None:
    data = copy.deepcopy(RAW)
    index = _topic_index(data, "yard-ice")
    data["topics"][index]["source_wording"] = "ГОЛОЛЕД  во дворе"
    assert parse_catalogue(data).topic("yard-ice").name_ru == "Гололёд во дворе"
