"""The two rank metrics of the duplicate finder, shared by :mod:`ml.evaluate` and :mod:`ml.calibrate`.

* :func:`roc_auc`: area under the ROC curve, by :func:`sklearn.metrics.roc_auc_score`. It equals
  the probability that a random positive scores above a random negative, a tie counting half
  (the Mann-Whitney U statistic divided by ``positives * negatives``).
* :func:`spearman`: Spearman's rank correlation, by :func:`scipy.stats.spearmanr`: the Pearson
  correlation of the two sequences' ranks, tied values sharing their average rank.

Undefined values are NaN
------------------------
ROC-AUC needs at least one positive and one negative, and Spearman's rho needs two sequences
that each take at least two distinct values (their ranks must vary): otherwise the formula
divides by zero. Both functions then return ``nan`` rather than raise, because the metrics are
taken on slices of the data where this can happen without anything being wrong — a bootstrap
resample, the validation slice of a small data set, a tiny test part. One such slice must not
stop an evaluation or a calibration run: the number is recorded as not defined instead
(``null`` in the JSON reports, left out of the calibration objective by ``np.nanmean`` and of
:func:`ml.evaluate.bootstrap_se` as a resample). The libraries would warn in these cases; the
check comes first, so they never do.

Malformed input is a caller's bug and raises :class:`ValueError`: arrays that are not 1-d or
differ in length, and scores (or Spearman values) that are NaN or infinite.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

__all__ = ["roc_auc", "spearman"]

FloatArray = NDArray[np.float64]


def _pair(x: ArrayLike, y: ArrayLike, what: str) -> tuple[NDArray[np.generic], FloatArray]:
    """``x`` as given and ``y`` as finite float64, both 1-d and of one length."""
    a = np.asarray(x)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"{what} needs two 1-d arrays of equal length ({a.shape} vs {b.shape})")
    if not np.all(np.isfinite(b)):
        raise ValueError(f"{what}: the values must be finite")
    return a, b


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """ROC-AUC of ``scores`` for ``labels`` (true or non-zero = positive); NaN if a class is missing.

    The probability that a positive scores above a negative, ties counting half:

    >>> roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1])  # 0.9 beats both negatives, 0.3 one: 3/4
    0.75
    >>> roc_auc([True, False], [0.5, 0.5])
    0.5

    Without a negative (or a positive) it is not defined (see the module docstring):

    >>> roc_auc([1, 1, 1], [0.2, 0.5, 0.9])
    nan
    """
    y, s = _pair(labels, scores, "roc_auc")
    positive = y.astype(bool)
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, s))


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank correlation of ``x`` and ``y``; NaN if either is constant.

    Ties share their average rank; any increasing relation gives 1:

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 1000])
    1.0
    >>> round(spearman([1, 2, 3, 4], [1, 3, 2, 4]), 6)  # one swap: 1 - 6 * 2 / (4 * 15)
    0.8
    >>> round(spearman([1, 2, 2, 3], [4, 3, 2, 1]), 4)  # the tied 2s both rank 2.5
    -0.9487

    Constant input (also fewer than two values) has no ranks to correlate (see the module
    docstring):

    >>> spearman([1, 2, 3], [5, 5, 5])
    nan
    """
    _, a = _pair(y, x, "spearman")  # both finite float64, 1-d, of one length
    _, b = _pair(x, y, "spearman")
    if len(a) < 2 or bool(np.all(a == a[0])) or bool(np.all(b == b[0])):
        return float("nan")
    return float(spearmanr(a, b).statistic)
