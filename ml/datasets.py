"""The labelled real data in ``../shared/data`` (see its README), loaded the same way everywhere.

Every dataset is split once, deterministically, into a ``"train"`` part (calibration and
fine-tuning may look at it) and a ``"test"`` part (only evaluation looks at it). The split of an
item depends on its dataset and its id alone (SHA-1), so calibration and evaluation agree across
runs and machines, and adding data never moves an item from one part to the other.

* ParaPhraser: ~half of the 7,227 pairs by pair id.
* STS-B: the official split — ``train`` is the STS-B train file, ``test`` the dev file.
* Quora: ~half of the 20,000 pairs by pair id (``limit`` takes a fixed subsample of each part).
* UK petitions: the rejected-as-duplicate *queries* are split by petition id; the corpus is always
  all 3,689 petitions (unlabelled text is not a label).
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Part = Literal["train", "test"]
PARTS: tuple[Part, ...] = ("train", "test")


class DataMissing(FileNotFoundError):
    """The data directory lacks a file a dataset needs."""


def part_of(dataset: str, key: str | int) -> Part:
    """The fixed part of one item: ~50/50 by SHA-1 of ``dataset:key``."""
    h = hashlib.sha1(f"{dataset}:{key}".encode()).digest()
    return "train" if h[0] % 2 == 0 else "test"


def _open(data: Path, rel: str) -> Path:
    path = Path(data) / rel
    if not path.is_file():
        raise DataMissing(f"{path} not found (expected the shared data folder, see its README)")
    return path


@dataclass(frozen=True)
class Pairs:
    """Labelled pairs: ``labels`` are 1/0/-1 (ParaPhraser), 0/1 (Quora) or 0..5 (STS)."""

    name: str
    a: list[str]
    b: list[str]
    labels: NDArray[np.float64]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.a)

    def take(self, idx: NDArray[np.intp]) -> Pairs:
        return Pairs(
            self.name,
            [self.a[i] for i in idx],
            [self.b[i] for i in idx],
            self.labels[idx],
            [self.ids[i] for i in idx],
        )


def _subsample(p: Pairs, limit: int | None, seed: int = 13) -> Pairs:
    if not limit or limit >= len(p):
        return p
    rng = np.random.default_rng(seed)
    return p.take(np.sort(rng.choice(len(p), limit, replace=False)))


def paraphraser(data: Path, part: Part, limit: int | None = None) -> Pairs:
    a: list[str] = []
    b: list[str] = []
    y: list[float] = []
    ids: list[str] = []
    with open(_open(data, "paraphraser_ru/train.tsv"), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if part_of("paraphraser", row["id"]) != part:
                continue
            t1, t2 = (row["text_1"] or "").strip(), (row["text_2"] or "").strip()
            if not t1 or not t2:
                continue
            a.append(t1)
            b.append(t2)
            y.append(float(row["class"]))
            ids.append(row["id"])
    return _subsample(Pairs("paraphraser_ru", a, b, np.array(y), ids), limit)


def sts(data: Path, lang: Literal["ru", "en"], part: Part, limit: int | None = None) -> Pairs:
    fname = "train" if part == "train" else "dev"
    a: list[str] = []
    b: list[str] = []
    y: list[float] = []
    ids: list[str] = []
    with open(_open(data, f"stsb_ru_en/{lang}-{fname}.csv"), encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if len(row) < 3 or not row[0].strip() or not row[1].strip():
                continue
            a.append(row[0].strip())
            b.append(row[1].strip())
            y.append(float(row[2]))
            ids.append(f"{fname}:{i}")
    return _subsample(Pairs(f"stsb_{lang}", a, b, np.array(y), ids), limit)


def quora(data: Path, part: Part, limit: int | None = None) -> Pairs:
    a: list[str] = []
    b: list[str] = []
    y: list[float] = []
    ids: list[str] = []
    with open(_open(data, "quora_en/pairs.tsv"), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if part_of("quora", row["id"]) != part:
                continue
            q1, q2 = (row["question1"] or "").strip(), (row["question2"] or "").strip()
            if not q1 or not q2:
                continue
            a.append(q1)
            b.append(q2)
            y.append(float(row["is_duplicate"]))
            ids.append(row["id"])
    return _subsample(Pairs("quora_en", a, b, np.array(y), ids), limit)


@dataclass(frozen=True)
class Petitions:
    """UK petitions: the corpus, the duplicate queries of one part, clusters and states."""

    ids: list[int]
    texts: list[str]  # action + "\n" + background (an idea's title and description)
    titles: list[str]
    states: list[str]
    #: (query position, positions of the originals moderators linked to it)
    queries: list[tuple[int, list[int]]]
    cluster: NDArray[np.intp]  # connected components of all duplicate links
    published: NDArray[np.bool_]  # open or closed (shown to the public), not rejected


def uk_petitions(data: Path, part: Part) -> Petitions:
    rows = []
    with open(_open(data, "uk_petitions/petitions.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    titles = [(r.get("action") or "").strip() for r in rows]
    texts = [
        t + "\n" + (r.get("background") or "").strip() for t, r in zip(titles, rows, strict=True)
    ]
    pos = {r["id"]: i for i, r in enumerate(rows)}
    parent = list(range(len(rows)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    queries: list[tuple[int, list[int]]] = []
    for i, r in enumerate(rows):
        origs = [pos[d] for d in (r.get("duplicate_of") or []) if d in pos and pos[d] != i]
        for o in origs:
            parent[find(i)] = find(o)
        if r.get("state") == "rejected" and origs and part_of("uk_petitions", r["id"]) == part:
            queries.append((i, origs))
    cluster = np.array([find(i) for i in range(len(rows))], dtype=np.intp)
    published = np.array([r.get("state") in ("open", "closed") for r in rows], dtype=bool)
    return Petitions(
        [int(r["id"]) for r in rows],
        texts,
        titles,
        [str(r.get("state")) for r in rows],
        queries,
        cluster,
        published,
    )
