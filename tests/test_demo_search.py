"""Word search finds Russian word forms in the demo's real petitions (SQLite and PostgreSQL).

The rows are real rows of the shipped extract, seeded by `seed_demo` from a data folder; each
query is typed in one form and must find the petition that uses another ("велосипед" finds
"велосипедными дорожками", "ремонт дороги" finds "ремонта дорог"). Run with TEST_DATABASE_URL set
for PostgreSQL.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.demo_helpers import write_data_dir
from webapp.demo import demo
from webapp.demo.demo_sources import EXTRACT_DIR
from webapp.ideas.ideas import IdeaFilter, list_ideas
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea

# query -> the form (a regular expression) a petition of the demo must use for the query to
# have to find it; and a pattern that, absent from a petition, means the query must not find it.
CASES = {
    "велосипед": (r"велосипедными дорожками", r"велосипед"),
    "ремонт дороги": (r"ремонта дорог\b", r"ремонт"),
    "велосипедная дорожка": (r"велосипедными дорожками", r"велосипед"),
    "парк": (r"\bпарки\b", r"парк"),
    "остановок": (r"\bостановк[аи]\b", r"останов"),  # a fleeting vowel: остановок / остановки
    "остановки": (r"\bостановок\b", r"останов"),
    "роликовые дорожки": (r"роликовых дорожек", r"ролик"),
    "парковки": (r"\bпарковок\b", r"парков"),
}
DISTRACTORS = 12  # the first city petitions of the extract, whatever they say


def _rows() -> list[dict[str, str]]:
    with (EXTRACT_DIR / "roi_petitions.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _text(row: dict[str, str]) -> str:
    return f"{row['name']}\n{row['description']}"


def test_russian_word_forms_find_the_real_petitions(tmp_path: Path, session_factory: Any) -> None:
    rows = _rows()
    chosen = {r["uniqid"]: r for r in rows[:DISTRACTORS]}
    wanted: dict[str, str] = {}
    for query, (form, _root) in CASES.items():
        # the least supported petition that uses the form: a quick seed
        # petitions that use the form and never the query's own words
        using = [
            r
            for r in rows
            if re.search(form, _text(r), re.IGNORECASE)
            and not re.search(rf"\b{query}\b", _text(r), re.IGNORECASE)
        ]
        assert using, f"no petition in the extract uses {form!r}"
        row = min(using, key=lambda r: int(r["votes"]))
        chosen[row["uniqid"]] = row
        wanted[query] = row["uniqid"]
    demo.seed_demo(session_factory, data_dir=write_data_dir(tmp_path, list(chosen.values())))
    with transaction(session_factory) as session:
        ids = {
            str(ref).split(":", 1)[1]: i
            for i, ref in session.execute(select(Idea.id, Idea.external_ref))
        }
        assert set(ids) == set(chosen)
        for query, (_form, root) in CASES.items():
            found = {i.id for i in list_ideas(session, IdeaFilter(q=query), page_size=50).items}
            assert ids[wanted[query]] in found, query
            for uniqid, row in chosen.items():
                if not re.search(root, _text(row), re.IGNORECASE):
                    assert ids[uniqid] not in found, (query, row["name"])
