"""ml.evaluate: metrics on hand-computable cases, the evaluation on a tiny data set, `veche eval`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ml import datasets
from ml import evaluate as ev
from ml.embeddings import ConcatEncoder, HashingEncoder
from ml.metrics import roc_auc
from tests.ml.eval_data import make_data
from webapp import cli


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("eval") / "data")


# --------------------------------------------------------------------------- metrics


def test_f1_at_and_best_threshold() -> None:
    y = np.array([1, 1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    # >= 0.65: tp 2, fp 1, fn 1 -> 4 / 6
    assert ev.f1_at(y, s, 0.65) == pytest.approx(2 / 3)
    assert ev.f1_at(y, s, 0.95) == 0.0
    t, f1 = ev.best_threshold(y, s)
    # best cut: top four (tp 3, fp 1) -> 6/7; midway between 0.6 and 0.2
    assert f1 == pytest.approx(6 / 7)
    assert t == pytest.approx(0.4)
    assert ev.f1_at(y, s, t) == pytest.approx(f1)


def test_tuned_f1_is_measured_on_the_other_half() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    separable = y + rng.uniform(0, 0.5, 400)
    assert ev.tuned_f1(y, separable)["f1"] == 1.0
    noisy = y + rng.normal(0, 1.0, 400)
    tuned = ev.tuned_f1(y, noisy)["f1"]
    a, b = ev.halves(400)
    in_sample = (ev.best_threshold(y[a], noisy[a])[1] + ev.best_threshold(y[b], noisy[b])[1]) / 2
    assert tuned <= in_sample  # the held-out half never beats the half it was tuned on
    assert set(a.tolist()).isdisjoint(b.tolist()) and len(a) + len(b) == 400


def test_rank_recall_and_mrr_on_a_constructed_ranking() -> None:
    ranked = np.array([[5, 3, 9], [1, 2, 4], [7, 8, 0]])
    r = ev.first_rank(ranked, [[3], [4, 1], [6]])
    assert r.tolist() == [2.0, 1.0, math.inf]
    assert ev.recall_at(r, 1) == pytest.approx(1 / 3)
    assert ev.recall_at(r, 2) == pytest.approx(2 / 3)
    assert ev.recall_at(r, 10) == pytest.approx(2 / 3)
    assert ev.mrr(r) == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_bootstrap_se_matches_the_analytic_se_of_a_mean() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, 200).astype(float)
    boot = ev.bootstrap_se(lambda i: float(x[i].mean()), len(x), rounds=2000)
    assert boot == pytest.approx(ev.mean_se(x), rel=0.1)


def test_bootstrap_se_leaves_out_resamples_where_the_metric_is_undefined() -> None:
    # One positive in six pairs: about a third of the resamples miss it (ROC-AUC is NaN there).
    y = np.array([True, False, False, False, False, False])
    s = np.array([0.9, 0.1, 0.5, 0.3, 0.95, 0.2])
    seen: list[float] = []

    def stat(i: np.ndarray) -> float:
        seen.append(roc_auc(y[i], s[i]))
        return seen[-1]

    se = ev.bootstrap_se(stat, len(y), rounds=200)
    finite = [v for v in seen if math.isfinite(v)]
    assert len(seen) == 200 and 0 < len(finite) < 200
    assert se == pytest.approx(float(np.std(finite, ddof=1)))
    assert math.isnan(ev.bootstrap_se(lambda i: float("nan"), 10))


# --------------------------------------------------------------------------- methods


def test_part_encoder_equals_the_member_encoder() -> None:
    small, big = HashingEncoder(dim=64), HashingEncoder(dim=128)
    concat = ConcatEncoder("two", [("small", small), ("big", big)])
    texts = ["Открыть парк", "Close the park at night"]
    part = ev.PartEncoder(concat, "big")
    assert part.dim == 128 and part.identity == "two#big"
    np.testing.assert_allclose(part.encode(texts), big.encode(texts), atol=1e-6)
    with pytest.raises(ValueError, match="no part 'e5'"):
        ev.PartEncoder(concat, "e5")


def test_cosine_finder_query_is_sorted_and_excludes_self() -> None:
    corpus = ["Build a cycle lane", "Build a cycle lane please", "Open a library", "Plant trees"]
    finder = ev.CosineFinder(HashingEncoder()).fit(corpus)
    idx, scores = finder.query(["Build a cycle lane"], 6)
    assert idx[0, 0] == 0 and idx[0, 1] == 1
    assert np.all(np.diff(scores[0, :4]) <= 0)
    assert idx[0, 4:].tolist() == [-1, -1] and np.all(np.isneginf(scores[0, 4:]))
    kept = ev.search_excluding_self(finder, ["Build a cycle lane"], [0], 3)
    assert kept[0].tolist() == [1, 2, 3] or kept[0].tolist() == [1, 3, 2]
    assert 0 not in kept[0]


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown method 'bm25'"):
        ev.make_method("bm25")


# --------------------------------------------------------------------------- the evaluation


def test_evaluation_on_a_tiny_data_set(data: Path) -> None:
    finder = ev.make_method("hashing")
    res = ev.evaluate_finder(finder, data, rounds=50)
    test_pp = datasets.paraphraser(data, "test")
    assert res["paraphraser"]["n"] == len(test_pp)  # only the test part is reported
    assert res["paraphraser"]["strict"]["positives"] == int(np.sum(test_pp.labels == 1))
    # near copies against unrelated sentences: a lexical method separates them
    assert res["paraphraser"]["strict_vs_non"]["auc"] > 0.9
    assert res["quora"]["auc"] > 0.9 and res["quora"]["f1_tuned"] > 0.8
    assert res["quora"]["f1_calibrated"] is None  # a plain cosine has no calibrated threshold
    assert res["sts_en"]["spearman"] > 0.5
    pet = datasets.uk_petitions(data, "test")
    uk, pub = res["uk_all"], res["uk_published"]
    assert uk["queries"] == len(pet.queries) and uk["corpus"] == len(pet.texts)
    assert uk["recall@1"] <= uk["recall@5"] <= uk["recall@10"]
    assert uk["cluster_recall@10"] >= uk["recall@10"]  # the originals are cluster members
    # published variant: only open/closed petitions; queries whose original is unpublished drop
    expected = sum(1 for _, origs in pet.queries if any(pet.published[o] for o in origs))
    assert pub["queries"] == expected and pub["queries_dropped"] == len(pet.queries) - expected
    assert pub["corpus"] == int(pet.published.sum())
    # the only published near copy of each query is its original: found first
    assert pub["recall@1"] == 1.0 and pub["mrr"] == 1.0


def test_the_duplicate_finder_through_its_public_api(data: Path, tmp_path: Path) -> None:
    finder = ev.make_method("default", model="hashing-char-ngrams", cache_dir=tmp_path / "cache")
    assert math.isfinite(finder.threshold)
    res = ev.evaluate_finder(finder, data, rounds=20)
    assert res["quora"]["f1_calibrated"] is not None  # measured at the finder's own threshold
    assert res["paraphraser"]["strict_vs_non"]["auc"] > 0.9
    assert res["uk_published"]["recall@10"] == 1.0


def test_run_report_and_markdown(data: Path) -> None:
    report = ev.run(ev.EvalSettings(data=data, methods=["hashing"], rounds=20, progress=False))
    assert {"date", "machine", "commit", "settings", "results", "methods"} <= set(report)
    assert report["settings"]["quora_limit"] == ev.QUORA_LIMIT
    json.dumps(report, allow_nan=False)  # NaN never reaches the JSON
    table = ev.markdown(report)
    assert "| measure | hashing |" in table
    assert "UK published: Recall@10" in table


# --------------------------------------------------------------------------- veche eval


def test_cli_eval_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["eval", "--data", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("veche: error:") and "nowhere" in err


def test_cli_eval_unknown_method(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["eval", "--data", str(data), "--methods", "hashing,bm25"])
    assert code == 2
    assert "bm25" in capsys.readouterr().err


def test_cli_eval_writes_json_and_markdown(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    code = cli.main(
        [
            "eval",
            "--data",
            str(data),
            "--methods",
            "hashing",
            "--quiet",
            "--quora-limit",
            "10",
            "--json",
            str(out),
            "--markdown",
            str(md),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert report["results"]["hashing"]["quora"]["n"] == 10
    assert report["settings"]["data"] == str(data)
    printed = capsys.readouterr().out
    assert "| measure | hashing |" in printed
    assert md.read_text() in printed
