"""The results of a budget project as open data: a CSV for Excel and a JSON document.

One record per idea on each pot's ballot: the pot (and its district), the idea (number, title,
district), its cost, votes, whether the project's rule funded it and whether greedy would have,
and the rule. The CSV is written for the reader's Excel (headers, yes/no, the rule and district
names in their language; the dialect — ``;``, UTF-8 with a BOM — is
``webapp.kernel.web.csv_download``'s); the JSON keeps codes and ids for programs. Who may read
them (after publication, officials before) is ``results.published_results``'.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from webapp.campaigns.results import Results
from webapp.i18n import Translator
from webapp.kernel.audit import csv_safe
from webapp.kernel.dto import Named
from webapp.kernel.errors import N_

CSV_HEADER = (
    N_("Pot"),
    N_("District"),
    N_("Idea number"),
    N_("Idea title"),
    N_("Cost, roubles"),
    N_("Votes"),
    N_("Funded"),
    N_("Funded under greedy"),
    N_("Rule"),
)
RULE_NAMES = {"greedy": N_("Greedy by votes"), "equal_shares": N_("Method of Equal Shares")}


def _district_name(district_by_id: dict[int, Named], district_id: int | None, lang: str) -> str:
    named = district_by_id.get(district_id) if district_id is not None else None
    return named.name(lang) if named is not None else ""


def open_rows(
    results: Results, district_by_id: dict[int, Named], lang: str
) -> Iterator[dict[str, Any]]:
    """One row per idea on each pot's ballot (the JSON's records and the CSV's lines)."""
    for pot in results.pots:
        for idea in pot.ideas:
            yield {
                "pot_id": pot.pot_id,
                "pot_district_id": pot.district_id,
                "pot_district": _district_name(district_by_id, pot.district_id, lang),
                "idea_id": idea.idea_id,
                "title": idea.title,
                "district_id": idea.district_id,
                "district": _district_name(district_by_id, idea.district_id, lang),
                "cost": idea.cost,
                "votes": idea.votes,
                "selected": idea.selected,
                "greedy_selected": idea.greedy_selected,
                "rule": results.rule,
            }


def csv_lines(
    results: Results, district_by_id: dict[int, Named], tr: Translator
) -> Iterator[Sequence[object]]:
    yes, no = tr.gettext("yes"), tr.gettext("no")
    whole = tr.gettext("Whole project")
    yield [tr.gettext(h) for h in CSV_HEADER]
    for row in open_rows(results, district_by_id, tr.language):
        yield [
            row["pot_id"],
            csv_safe(row["pot_district"] or whole),
            row["idea_id"],
            csv_safe(row["title"]),
            row["cost"],
            row["votes"],
            yes if row["selected"] else no,
            yes if row["greedy_selected"] else no,
            tr.gettext(RULE_NAMES[row["rule"]]),
        ]


def results_document(
    results: Results, district_by_id: dict[int, Named], lang: str
) -> dict[str, Any]:
    """The results as open data (JSON): the project, each pot and every idea on its ballot."""
    return {
        "project_id": results.project_id,
        "title": results.title(lang),
        "rule": results.rule,
        "published_at": results.published_at.isoformat() if results.published_at else None,
        "pots": [
            {
                "pot_id": p.pot_id,
                "district_id": p.district_id,
                "district": _district_name(district_by_id, p.district_id, lang),
                "budget": p.amount,
                "voters": p.voters,
                "spent": p.spent,
                "greedy_spent": p.greedy_spent,
            }
            for p in results.pots
        ],
        "ideas": list(open_rows(results, district_by_id, lang)),
    }
