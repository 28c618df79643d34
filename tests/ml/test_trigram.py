"""ml.trigram: the pg_trgm baseline on the real PostgreSQL.

Runs against TEST_DATABASE_URL when it is set (CI sets it), else against the local server at
127.0.0.1:5432 when one answers. With TEST_DATABASE_URL set, an unreachable server fails the test
instead of skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ml import datasets
from ml import evaluate as ev
from ml.trigram import DEFAULT_URL, TrigramFinder, TrigramUnavailable, split_text
from tests.ml.eval_data import make_data


def _server() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    try:
        psycopg.connect(DEFAULT_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {DEFAULT_URL} and TEST_DATABASE_URL is not set: {exc}")
    return DEFAULT_URL


@pytest.fixture(scope="module")
def trgm() -> Iterator[TrigramFinder]:
    with TrigramFinder(_server(), database="veche_eval_test") as finder:
        yield finder


def test_split_text() -> None:
    assert split_text("  Title \n body line 1\nline 2 ") == ("Title", "body line 1\nline 2")
    assert split_text("Only a title") == ("Only a title", "")


def test_near_copies_beat_unrelated_titles(trgm: TrigramFinder) -> None:
    a = [
        "Построить велодорожку вдоль набережной",
        "Build a cycle lane along the river",
        "Построить велодорожку вдоль набережной",
        "Build a cycle lane along the river",
    ]
    b = [
        "Построить велодорожки вдоль набережной реки",
        "Build cycle lanes along the river",
        "Открыть библиотеку в Марьино",
        "Open a library in the north",
    ]
    s = trgm.pair_scores(a, b)
    assert s[0] > 0.5 and s[1] > 0.5  # near copies (Cyrillic and Latin)
    assert s[2] < 0.2 and s[3] < 0.2  # unrelated
    assert trgm.pair_scores(["Same text"], ["same TEXT"])[0] == pytest.approx(1.0)


def test_score_is_the_greater_of_title_and_body(trgm: TrigramFinder) -> None:
    body = "Trees along the street would give shade in summer and clean the air"
    same_body = trgm.pair_scores([f"Plant trees\n{body}"], [f"Green our avenue\n{body}"])[0]
    titles_only = trgm.pair_scores(["Plant trees"], ["Green our avenue"])[0]
    assert same_body == pytest.approx(1.0)  # identical bodies win over different titles
    assert titles_only < 0.3
    # symmetric, like pg_trgm's similarity
    x, y = "Extend bus 15 to the station", "Extend the bus route to the station"
    assert trgm.pair_scores([x], [y])[0] == pytest.approx(trgm.pair_scores([y], [x])[0])


def test_query_ranks_in_sql(trgm: TrigramFinder) -> None:
    corpus = [
        "Build a cycle lane\nalong the river embankment",
        "Open a new library\nin the northern district",
        "Build a cycle path\nalong the embankment of the river",
        "Plant lime trees\non the high street",
    ]
    trgm.fit(corpus)
    idx, scores = trgm.query(["Build a cycle lane along the river", "New library in the north"], 6)
    assert idx.shape == (2, 6)
    assert idx[0, 0] == 0 and idx[0, 1] == 2  # the near copy, then the paraphrase
    assert idx[1, 0] == 1
    assert np.all(np.diff(scores[:, :4], axis=1) <= 0)
    assert np.all(idx[:, 4:] == -1) and np.all(np.isneginf(scores[:, 4:]))
    # scores are the pair scores
    expect = trgm.pair_scores(["Build a cycle lane along the river"], [corpus[2]])[0]
    assert scores[0, 1] == pytest.approx(expect)


def test_bad_input(trgm: TrigramFinder) -> None:
    with pytest.raises(ValueError, match="empty"):
        trgm.pair_scores(["  "], ["x"])
    with pytest.raises(ValueError, match="same length"):
        trgm.pair_scores(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="single string"):
        trgm.fit("a corpus")
    with pytest.raises(ValueError, match="k must be"):
        trgm.fit(["x"]).query(["x"], 0)


def test_query_needs_fit() -> None:
    with (
        TrigramFinder(_server(), database="veche_eval_test") as fresh,
        pytest.raises(ValueError, match="fit"),
    ):
        fresh.query(["x"], 3)


def test_unreachable_server_names_the_url() -> None:
    url = "postgresql://postgres@127.0.0.1:1/postgres"
    with pytest.raises(TrigramUnavailable, match="127.0.0.1:1"):
        TrigramFinder(url)


def test_evaluation_with_pg_trgm(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data")
    with TrigramFinder(_server(), database="veche_eval_test") as finder:
        res = ev.evaluate_finder(finder, data, rounds=20)
    assert res["paraphraser"]["strict_vs_non"]["auc"] > 0.9
    assert res["quora"]["f1_calibrated"] is not None  # Decidim's threshold 0.25
    pet = datasets.uk_petitions(data, "test")
    assert res["uk_all"]["queries"] == len(pet.queries)
    assert res["uk_published"]["recall@1"] == 1.0
