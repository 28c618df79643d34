"""A tiny copy of ../shared/data in the same file formats, for evaluation tests (CI may lack it).

Duplicates are near copies and non-duplicates are unrelated sentences, so a lexical method
separates them; which rows land in the test parts is decided by ml.datasets' fixed split.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

RU = [
    "Построить велодорожку вдоль набережной реки",
    "Открыть новую библиотеку в районе Марьино",
    "Установить скамейки в парке Сокольники",
    "Продлить маршрут автобуса до станции метро",
    "Отремонтировать крышу детской поликлиники",
    "Посадить липы на улице Профсоюзной",
    "Сделать пешеходный переход у школы номер пять",
    "Запретить парковку на газонах во дворах",
    "Организовать раздельный сбор мусора в подъездах",
    "Осветить тропинку через сквер вечером",
    "Поставить фонтан на центральной площади",
    "Расширить тротуар у торгового центра",
]
EN = [
    "Build a cycle lane along the river embankment",
    "Open a new public library in the northern district",
    "Install more benches in the city park",
    "Extend the bus route to the railway station",
    "Repair the roof of the children's hospital",
    "Plant lime trees along the high street",
    "Add a pedestrian crossing near the primary school",
    "Ban parking on the grass in residential yards",
    "Introduce separate waste collection in every building",
    "Light the footpath through the square at night",
    "Put a fountain in the central square",
    "Widen the pavement outside the shopping centre",
]


def near_copy(text: str) -> str:
    """The same proposal reworded a little: one word dropped, one added."""
    words = text.split()
    return " ".join(words[:-1] + ["пожалуйста" if words[0][0] > "z" else "please", words[-1]])


def _pairs(sents: list[str]) -> list[tuple[str, str, int]]:
    """(a, b, class): 1 near copies, 0 the same with a shared prefix, -1 unrelated."""
    out = []
    n = len(sents)
    for i, s in enumerate(sents):
        out.append((s, near_copy(s), 1))
        out.append((s, " ".join(s.split()[:2] + sents[(i + 5) % n].split()[2:]), 0))
        out.append((s, sents[(i + 3) % n], -1))
        out.append((near_copy(s), sents[(i + 7) % n], -1))
    return out


def make_data(root: Path) -> Path:
    """Write the tiny data set under ``root`` and return ``root``."""
    (root / "paraphraser_ru").mkdir(parents=True)
    with open(root / "paraphraser_ru/train.tsv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        w.writerow(["id", "id_1", "id_2", "text_1", "text_2", "class"])
        for i, (a, b, c) in enumerate(_pairs(RU) * 2, start=1):
            w.writerow([i, 1000 + i, 5000 + i, a, b, c])

    (root / "stsb_ru_en").mkdir()
    for lang, sents in (("ru", RU), ("en", EN)):
        for part in ("train", "dev"):
            with open(
                root / f"stsb_ru_en/{lang}-{part}.csv", "w", encoding="utf-8", newline=""
            ) as f:
                w = csv.writer(f)
                for a, b, c in _pairs(sents):
                    gold = {1: 4.6, 0: 2.4, -1: 0.2}[c]
                    w.writerow([a, b, f"{gold:.2f}"])

    (root / "quora_en").mkdir()
    with open(root / "quora_en/pairs.tsv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        w.writerow(["id", "qid1", "qid2", "question1", "question2", "is_duplicate"])
        for i, (a, b, c) in enumerate(_pairs(EN) * 2, start=1):
            if c == 0:
                continue
            w.writerow([i, 2 * i, 2 * i + 1, a + "?", b + "?", int(c == 1)])

    (root / "uk_petitions").mkdir()
    rows: list[dict[str, object]] = []
    pid = 300000
    for i, s in enumerate(EN):
        orig = pid
        # every third original is itself rejected (unpublished): its duplicates drop out of the
        # published variant
        rows.append(
            {
                "id": orig,
                "state": "rejected" if i % 3 == 2 else "open",
                "action": s,
                "background": f"We ask the council: {s.lower()}.",
                "duplicate_of": [],
            }
        )
        pid += 1
        for j in range(3):
            rows.append(
                {
                    "id": pid,
                    "state": "rejected",
                    "action": near_copy(s),
                    "background": f"Please {s.lower()} (request {j}).",
                    "duplicate_of": [orig],
                }
            )
            pid += 1
    for s in RU:  # unrelated published filler
        rows.append(
            {
                "id": pid,
                "state": "closed",
                "action": s,
                "background": "Без дубликатов.",
                "duplicate_of": [],
            }
        )
        pid += 1
    with open(root / "uk_petitions/petitions.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return root
