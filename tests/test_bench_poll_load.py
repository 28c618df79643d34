"""bench/poll_load.py: the big poll of `make load` is stored as the site stores answers, and the
SQL GROUP BY baseline counts what the results export reports."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.poll_load import (
    compare_with_export,
    count_forms,
    engine_for,
    find_poll,
    hammer_sql,
    plant_poll,
    site_answers,
    sql_tallies,
)
from bench.polls_bench import QUESTIONS
from tests.helpers import Browser


def test_site_answers_are_answers_the_site_would_store() -> None:
    a = site_answers(3000, seed=3)
    assert np.all(np.diff(a.respondent) >= 0)  # arrival order
    assert a.district.shape == (3000,)
    for qi, q in enumerate(QUESTIONS):
        sel = a.question == qi
        who, per = np.unique(a.respondent[sel], return_counts=True)
        assert 0.9 * 3000 < who.size < 3000  # about 95 % answer each question
        opt, val = a.option[sel], a.value[sel]
        if q.kind == "single":
            assert per.max() == 1 and np.all(val == -1) and opt.max() < q.n_options
        elif q.kind == "multiple":
            assert per.max() <= q.limit and np.all(val == -1) and opt.min() >= 0
        elif q.kind == "scale":
            assert per.max() == 1 and np.all(opt == -1)
            assert val.min() >= 1 and val.max() <= q.n_options
        else:  # ranking: complete, every option once, places 1..n
            assert np.all(per == q.n_options)
            order = np.lexsort((val, a.respondent[sel]))
            places = val[order].reshape(-1, q.n_options)
            assert np.all(places == np.arange(1, q.n_options + 1))
            options = np.sort(opt[order].reshape(-1, q.n_options), axis=1)
            assert np.all(options == np.arange(q.n_options))


def test_count_forms_cover_russian_and_english_grouping() -> None:
    forms = count_forms(200_000)
    assert "200\u00a0000".encode() in forms and b"200,000" in forms and b"200000" in forms
    assert count_forms(7) == (b"7",)
    assert b"1 234 567" in count_forms(1_234_567)


def _doc() -> dict[str, Any]:
    return {
        "questions": [
            {
                "question_id": 1,
                "kind": "single",
                "respondents": 5,
                "options": [{"option_id": 10, "count": 3}, {"option_id": 11, "count": 2}],
                "districts": [
                    {"district_id": 7, "respondents": 5},
                    {"district_id": -1, "respondents": 0},
                ],
            },
            {"question_id": 2, "kind": "scale", "respondents": 4, "mean": {"value": 2.5}},
        ]
    }


def test_compare_with_export_agrees_and_names_each_difference() -> None:
    cells = [(1, 10, None, 7, 3), (1, 11, None, 7, 2), (2, None, 2, 7, 2), (2, None, 3, None, 2)]
    resp = [(1, 7, 5), (2, 7, 2), (2, None, 2)]
    assert compare_with_export(cells, resp, _doc()) == []
    wrong = compare_with_export([(1, 10, None, 7, 4), *cells[1:]], resp, _doc())
    assert wrong == ["question 1 option 10: 3, SQL 4"]
    wrong = compare_with_export(cells, [(1, 7, 4), (1, 8, 1), *resp[1:]], _doc())
    assert wrong == ["question 1 district 7: 5, SQL 4"]
    assert compare_with_export(cells, resp, {"questions": []}) == ["the export has no questions"]
    doc = _doc()
    doc["questions"][1]["mean"]["value"] = 2.4
    assert compare_with_export(cells, resp, doc) == ["question 2: mean 2.4, SQL 2.5"]


def test_planted_poll_matches_its_export_and_page(database_url: str, browser: Browser) -> None:
    planted = plant_poll(database_url, respondents=300, log=lambda _m: None)
    assert planted.created and planted.respondents == 300 and planted.answers > 2500
    again = plant_poll(database_url, respondents=300, log=lambda _m: None)
    assert (again.poll_id, again.respondents, again.created) == (planted.poll_id, 300, False)
    assert find_poll(database_url, 300) == planted.poll_id
    assert find_poll(database_url, 301) is None

    engine = engine_for(database_url)
    with engine.connect() as conn:
        cells, resp = sql_tallies(conn, planted.poll_id)
    engine.dispose()
    assert sum(int(r[-1]) for r in cells) == planted.answers

    export = browser.get(f"/polls/{planted.poll_id}/results.json")
    assert export.status_code == 200
    doc = export.json()
    assert doc["respondents"] == 300 and doc["simulated"] and doc["closed"]
    assert len(doc["questions"]) == len(QUESTIONS)
    assert compare_with_export(cells, resp, doc) == []

    page = browser.get(f"/polls/{planted.poll_id}/results")
    assert page.status_code == 200
    assert any(form in page.content for form in count_forms(300))

    run = hammer_sql(database_url, planted.poll_id, clients=3, seconds=0.2)
    assert run.tallies >= 3 and run.stats.errors == {}
    assert set(run.cells) == set(cells) and set(run.respondents) == set(resp)
