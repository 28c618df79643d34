"""Population per okrug and district, the weights of the poll results' correction.

The figures come from a JSON file (``VECHE_POPULATION_FILE``; by default the shipped
``webapp/data/population/moscow.json``, whose ``source`` names the census table):
``{"source": ..., "measure": ..., "okrugs": {slug: people}, "districts": {slug: people}}``.
Slugs are the taxonomy's. A district or okrug missing from the file has no figure: the results
correct over the districts that have one (see ``webapp/polls/results.py``) and say so. Numbers
are never invented here: an unknown slug or a figure that is not a positive integer is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import District

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "population" / "moscow.json"


class PopulationFileError(ValueError):
    """The population file is missing, not JSON, or holds a figure that is not a count."""


@dataclass(frozen=True)
class PopulationFigures:
    """What the file says, by slug."""

    source: str
    measure: str
    # What a resident's page says, per language ("ru", "en"): the source's short name and what
    # the figures count; the full citation is ``source``/``measure``.
    label: MappingProxyType[str, str]
    measure_label: MappingProxyType[str, str]
    okrugs: MappingProxyType[str, int]
    districts: MappingProxyType[str, int]


@dataclass(frozen=True)
class Population:
    """The figures matched to the database's districts (ids), with the parents to fall back on."""

    source: str
    measure: str
    label: MappingProxyType[str, str]
    measure_label: MappingProxyType[str, str]
    district: MappingProxyType[int, int]  # district id -> people (districts with a figure)
    okrug: MappingProxyType[int, int]  # okrug id -> people (okrugs with a figure)
    parent: MappingProxyType[int, int]  # district id -> its okrug id


def _counts(raw: Any, what: str, path: Path) -> MappingProxyType[str, int]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise PopulationFileError(f"{path}: {what} must be an object of slug -> people")
    out: dict[str, int] = {}
    for slug, people in raw.items():
        if not isinstance(people, int) or isinstance(people, bool) or people <= 0:
            raise PopulationFileError(f"{path}: {what}.{slug} must be a positive integer")
        out[str(slug)] = people
    return MappingProxyType(out)


def _texts(raw: Any, what: str, path: Path) -> MappingProxyType[str, str]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise PopulationFileError(f"{path}: {what} must be an object of language -> text")
    return MappingProxyType({str(k): v for k, v in raw.items()})


@lru_cache(maxsize=8)
def read_figures(path_text: str = "") -> PopulationFigures:
    """The figures of the file at ``path_text`` (empty: the shipped file), read once per path."""
    path = Path(path_text) if path_text else DEFAULT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PopulationFileError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PopulationFileError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PopulationFileError(f"{path}: expected a JSON object")
    return PopulationFigures(
        source=str(data.get("source", "")),
        measure=str(data.get("measure", "")),
        label=_texts(data.get("label"), "label", path),
        measure_label=_texts(data.get("measure_label"), "measure_label", path),
        okrugs=_counts(data.get("okrugs"), "okrugs", path),
        districts=_counts(data.get("districts"), "districts", path),
    )


def population(session: Session, path_text: str = "") -> Population:
    """The figures of ``path_text`` (empty: the shipped file) keyed by the districts' ids.

    Slugs the database does not have are skipped (a file may cover more than this city's seed).
    """
    figures = read_figures(path_text)
    district: dict[int, int] = {}
    okrug: dict[int, int] = {}
    parent: dict[int, int] = {}
    for row in session.execute(select(District.id, District.slug, District.parent_id)):
        if row.parent_id is None:
            if row.slug in figures.okrugs:
                okrug[row.id] = figures.okrugs[row.slug]
        else:
            parent[row.id] = row.parent_id
            if row.slug in figures.districts:
                district[row.id] = figures.districts[row.slug]
    return Population(
        figures.source,
        figures.measure,
        figures.label,
        figures.measure_label,
        MappingProxyType(district),
        MappingProxyType(okrug),
        MappingProxyType(parent),
    )
