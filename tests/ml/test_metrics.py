"""ml.metrics: ROC-AUC and Spearman against their brute-force definitions, and the undefined cases.

The brute-force versions below follow the textbook definitions literally (every positive against
every negative; every value's rank counted pair by pair), so they share no code with the library
calls they check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.metrics import roc_auc, spearman


def brute_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(a positive outscores a negative) over all pairs, a tie counting 1/2."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def brute_ranks(x: np.ndarray) -> list[float]:
    """1-based average ranks: values below, plus the middle of the tie group."""
    return [sum(v < xi for v in x) + (sum(v == xi for v in x) + 1) / 2 for xi in x]


def brute_spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of the average ranks."""
    rx, ry = brute_ranks(x), brute_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy)


def test_brute_force_helpers_on_a_hand_case() -> None:
    assert brute_ranks(np.array([10.0, 20.0, 20.0, 5.0])) == [2.0, 3.5, 3.5, 1.0]
    # positives 0.9 and 0.3, negatives 0.8 and 0.1: 0.9 beats both, 0.3 beats one
    assert brute_auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.3, 0.1])) == 0.75


@pytest.mark.parametrize("seed", range(20))
def test_roc_auc_equals_the_pairwise_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 120))
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    y[0], y[1] = True, False  # both classes
    s = np.round(rng.normal(size=n) + y, int(rng.integers(0, 2)))  # rounded: many ties
    assert roc_auc(y, s) == pytest.approx(brute_auc(y, s), abs=1e-12)


def test_roc_auc_hand_cases() -> None:
    y = np.array([1, 0, 1, 0])
    assert roc_auc(y, np.array([0.9, 0.1, 0.8, 0.2])) == 1.0
    assert roc_auc(y, np.array([0.1, 0.9, 0.2, 0.8])) == 0.0
    assert roc_auc(y, np.zeros(4)) == 0.5
    assert roc_auc(y, np.array([0.9, 0.8, 0.3, 0.1])) == 0.75
    # labels: true or non-zero is positive, whatever the dtype
    assert roc_auc([True, False, True, False], [0.9, 0.8, 0.3, 0.1]) == 0.75
    assert roc_auc(np.array([2.0, 0.0]), np.array([0.2, 0.1])) == 1.0


@pytest.mark.parametrize("seed", range(20))
def test_spearman_equals_pearson_of_average_ranks(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(3, 120))
    x = np.round(rng.normal(size=n), int(rng.integers(0, 2)))  # rounded: many ties
    g = np.round(x + rng.normal(size=n), 0)
    x[0], x[1], g[0], g[1] = 0.0, 1.0, 0.0, 1.0  # neither is constant
    assert spearman(x, g) == pytest.approx(brute_spearman(x, g), abs=1e-12)


def test_spearman_hand_cases() -> None:
    assert spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)
    assert spearman(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 2], [2, 1]) == pytest.approx(-1.0)


def test_a_missing_class_gives_nan_without_a_warning() -> None:
    # pytest turns warnings into errors here (pyproject.toml): the libraries are not reached.
    s = np.array([0.1, 0.4, 0.35, 0.8])
    assert math.isnan(roc_auc(np.ones(4, dtype=bool), s))
    assert math.isnan(roc_auc(np.zeros(4, dtype=bool), s))
    assert math.isnan(roc_auc(np.array([0, 0, 0, 0]), s))
    assert math.isnan(roc_auc(np.zeros(0, dtype=bool), np.zeros(0)))


def test_constant_input_gives_nan_without_a_warning() -> None:
    assert math.isnan(spearman([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]))
    assert math.isnan(spearman([7.0, 7.0, 7.0], [1.0, 2.0, 3.0]))
    assert math.isnan(spearman([4.0, 4.0], [4.0, 4.0]))
    # fewer than two values cannot vary either
    assert math.isnan(spearman([1.0], [2.0]))
    assert math.isnan(spearman([], []))


def test_malformed_input_raises() -> None:
    with pytest.raises(ValueError, match="equal length"):
        roc_auc(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="1-d"):
        roc_auc(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="finite"):
        roc_auc([1, 0], [0.5, float("nan")])
    with pytest.raises(ValueError, match="equal length"):
        spearman([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        spearman([1.0, float("inf"), 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        spearman([1.0, 2.0, 3.0], [1.0, float("nan"), 3.0])
