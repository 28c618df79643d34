"""ml.scorer: pair features, script weighting, the logistic combination and the hard rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from ml import DuplicateFinder
from ml.embeddings import ConcatEncoder, HashingEncoder
from ml.finder import FinderConfig
from ml.scorer import (
    BASE_FEATURES,
    LEXICAL_MAX_CHARS,
    PairData,
    ScorerConfig,
    feature_names,
    final_scores,
    part_cosines,
    stem_overlap,
)

PARTS = (("e5", 6), ("minilm", 4))


def _unit(rng: np.random.Generator, n: int, d: int) -> NDArray[np.float64]:
    x = rng.normal(size=(n, d))
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float64)


def _stored(e5: np.ndarray, mini: np.ndarray) -> np.ndarray:
    return (np.concatenate([e5, mini], axis=1) / math.sqrt(2)).astype(np.float32)


def test_part_cosines_are_the_cosines_of_each_model() -> None:
    rng = np.random.default_rng(1)
    ea, eb, ma, mb = _unit(rng, 5, 6), _unit(rng, 5, 6), _unit(rng, 5, 4), _unit(rng, 5, 4)
    cos = part_cosines(_stored(ea, ma), _stored(eb, mb), PARTS)
    np.testing.assert_allclose(cos[:, 0], (ea * eb).sum(1), atol=1e-6)
    np.testing.assert_allclose(cos[:, 1], (ma * mb).sum(1), atol=1e-6)


def test_similarity_is_weighted_by_the_script_of_the_pair() -> None:
    rng = np.random.default_rng(2)
    ea, eb, ma, mb = _unit(rng, 3, 6), _unit(rng, 3, 6), _unit(rng, 3, 4), _unit(rng, 3, 4)
    a = ["Открыть парк", "Open the park", "Открыть парк"]
    b = ["Открыть сквер", "Open the square", "Open the square"]
    data = PairData.compute(a, b, _stored(ea, ma), _stored(eb, mb), PARTS)
    cyr, lat = np.array([0.9, 0.1]), np.array([0.3, 0.7])
    sim = data.similarity(cyr, lat)
    ce, cm = (ea * eb).sum(1), (ma * mb).sum(1)
    assert sim[0] == pytest.approx(0.9 * ce[0] + 0.1 * cm[0], abs=1e-6)
    assert sim[1] == pytest.approx(0.3 * ce[1] + 0.7 * cm[1], abs=1e-6)
    # One Russian side is enough to weigh the pair as Russian (MiniLM cannot read it).
    assert sim[2] == pytest.approx(0.9 * ce[2] + 0.1 * cm[2], abs=1e-6)
    feats = data.features(["both_cyrillic", "mixed_script", "cos_minilm"], cyr, lat, PARTS)
    np.testing.assert_array_equal(feats[:, 0], [1, 0, 0])
    np.testing.assert_array_equal(feats[:, 1], [0, 0, 1])
    np.testing.assert_allclose(feats[:, 2], cm, atol=1e-6)
    with pytest.raises(ValueError, match="unknown scorer feature"):
        data.features(["nope"], cyr, lat, PARTS)


def test_query_vectors_give_the_weighted_similarity_by_inner_product() -> None:
    enc = ConcatEncoder(
        "two-part-test", [("e5", HashingEncoder(64)), ("minilm", HashingEncoder(32))]
    )
    cfg = FinderConfig(
        model="two-part-test",
        identity="two-part-test",
        part_weights={"cyrillic": {"e5": 0.8, "minilm": 0.2}, "latin": {"e5": 0.4, "minilm": 0.6}},
        scorer=ScorerConfig(),
        threshold=0.8,
        guard_cap=0.5,
        near_copy=0.9,
        near_copy_floor=0.95,
        calibrated=False,
    )
    finder = DuplicateFinder(enc, cfg)
    queries = ["Открыть парк ночью", "Open the park at night"]
    stored = ["Парк открыт ночью", "Park open at night"]
    qv, sv = finder.embed(queries), finder.embed(stored)
    inner = finder.query_vectors(queries, qv) @ sv.T
    cos = [part_cosines(np.repeat(qv[i : i + 1], 2, 0), sv, enc.parts) for i in range(2)]
    np.testing.assert_allclose(inner[0], cos[0] @ [0.8, 0.2], atol=1e-5)
    np.testing.assert_allclose(inner[1], cos[1] @ [0.4, 0.6], atol=1e-5)


def test_lexical_features() -> None:
    assert stem_overlap("Новые парки", "новый парк") == 1.0
    assert stem_overlap("Построить каток", "Открыть бассейн") == 0.0
    assert 0 < stem_overlap("Open the parks", "opening park") < 1
    v = np.full((2, 4), 0.5, dtype=np.float32)
    data = PairData.compute(
        ["Парк", "Сквер у дома 7"], ["парк!", "Сквер у дома 9 и ещё слова"], v, v, (("main", 4),)
    )
    assert data.exact.tolist() == [True, False]
    assert data.near_copy[0] == 1.0 and data.near_copy[1] < 1.0
    assert data.length_ratio[0] == 0.0 and data.length_ratio[1] > 0.0
    assert data.conflicts[0] == () and "numbers" in data.conflicts[1]


def test_feature_names_depend_on_parts() -> None:
    assert feature_names((("main", 8),)) == BASE_FEATURES
    names = feature_names(PARTS)
    assert "cos_e5" in names and "cos_minilm" in names and set(BASE_FEATURES) <= set(names)


def test_logistic_scores_match_the_formula() -> None:
    v = np.eye(3, dtype=np.float32)
    data = PairData.compute(
        ["Парк у реки", "Open the park", "Bus stop"],
        ["Сквер у реки", "Open a park", "Bus route"],
        v,
        v[[0, 2, 1]],
        (("main", 3),),
    )
    sc = ScorerConfig(("similarity", "near_copy", "stem_overlap"), (3.0, 1.5, -0.5), -1.0)
    one = np.ones(1)
    got = sc.raw_scores(data, one, one, (("main", 3),))
    x = data.features(sc.features, one, one, (("main", 3),))
    z = x @ np.array(sc.coefficients) + sc.intercept
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-z)))
    # Similarity only: the cosine clipped to [0, 1].
    np.testing.assert_allclose(
        ScorerConfig().raw_scores(data, one, one, (("main", 3),)), [1.0, 0.0, 0.0]
    )


def test_final_score_rules_and_their_order() -> None:
    v = np.ones((4, 2), dtype=np.float32) / math.sqrt(2)
    a = [
        "Автобус 15 ходит чаще",
        "Открыть парк ночью",
        "Установить скамейки в сквере у реки",
        "Построить каток",
    ]
    b = [
        "Автобус 51 ходит чаще",
        "открыть ПАРК ночью",
        "Установить скамейки в сквере у реки зимой",
        "Залить каток во дворе",
    ]
    data = PairData.compute(a, b, v, v, (("main", 2),))
    raw = np.array([0.95, 0.4, 0.3, 0.6])
    scores, reasons = final_scores(raw, data, guard_cap=0.5, near_copy=0.8, near_copy_floor=0.9)
    assert reasons[0] == ("numbers",) and scores[0] == pytest.approx(0.5 * 0.95)
    assert reasons[1] == ("exact_copy",) and scores[1] == 1.0
    assert reasons[2] == ("near_copy",) and scores[2] == 0.9
    assert reasons[3] == () and scores[3] == 0.6


def test_scorer_config_round_trip_and_validation() -> None:
    sc = ScorerConfig(("similarity", "guard"), (2.0, -1.0), 0.5)
    assert ScorerConfig.from_dict(sc.to_dict()) == sc
    assert ScorerConfig.from_dict({"kind": "similarity"}).similarity_only
    with pytest.raises(ValueError, match="coefficients"):
        ScorerConfig(("similarity",), (), 0.0)
    with pytest.raises(ValueError, match="finite"):
        ScorerConfig(("similarity",), (math.nan,), 0.0)
    with pytest.raises(ValueError, match="kind"):
        ScorerConfig.from_dict({"kind": "forest"})
    with pytest.raises(TypeError, match="coefficients"):
        ScorerConfig.from_dict(
            {"kind": "logistic", "features": ["similarity"], "coefficients": ["x"]}
        )


def test_overlong_texts_differing_past_the_lexical_cut_are_not_exact_copies() -> None:
    head = "Открыть парк. " * (LEXICAL_MAX_CHARS // 10)
    v = np.ones((2, 2), dtype=np.float32) / math.sqrt(2)
    data = PairData.compute(
        [head + "Ночью", head + "Ночью"], [head + "Днём", head + "ночью!"], v, v, (("main", 2),)
    )
    assert data.exact.tolist() == [False, True]


def test_stems_can_be_skipped_but_not_silently_used() -> None:
    v = np.ones((1, 2), dtype=np.float32) / math.sqrt(2)
    data = PairData.compute(["Новые парки"], ["новый парк"], v, v, (("main", 2),), stems=False)
    one = np.ones(1)
    assert data.features(["near_copy"], one, one, (("main", 2),)).shape == (1, 1)
    with pytest.raises(ValueError, match="stem_overlap"):
        data.features(["stem_overlap:latin"], one, one, (("main", 2),))
    assert ScorerConfig(("stem_overlap:cyrillic",), (1.0,), 0.0).uses_stems
    assert not ScorerConfig(("near_copy",), (1.0,), 0.0).uses_stems
