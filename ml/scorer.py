"""Pair scoring for duplicate detection: features of a pair of ideas and their combination.

A pair ``(a, b)`` of texts with their stored vectors is described by a few numbers
(:class:`PairData`): the cosine of each part of the embedding (``e5`` and ``minilm`` for the
default model, ``main`` for a single-model encoder), the Cyrillic share of each text, lexical
overlaps (character 5-gram Jaccard from :func:`ml.text.near_copy_similarity`, word-stem
Jaccard), the length ratio, whether the texts are exact copies (same
:func:`ml.text.fingerprint`) and which guards (:func:`ml.guards.conflicts`) say they are not the
same proposal.

Feature columns (:data:`FEATURES`; ``cos_<part>`` per part of a multi-part encoder):

``similarity``
    the script-weighted similarity ``sum_i w_i cos_i``, where ``w`` interpolates the configured
    part weights of Cyrillic and Latin text by the pair's Cyrillic share (the larger of the two:
    MiniLM cannot read Cyrillic, so a pair with one Russian side is weighed as Russian).
``similarity_cyrillic``
    ``similarity`` times the pair's Cyrillic share (a separate slope for Russian pairs).
``near_copy``, ``stem_overlap``
    lexical overlaps, 0..1.
``both_cyrillic``, ``mixed_script``
    1.0 when both texts are mostly Cyrillic / when one is and the other is not.
``length_ratio``
    ``|ln(len(a) / len(b))|`` of the normalised texts.
``guard``
    1.0 when a guard fired.
``bias``
    1.0 (only with a script suffix, below).

A column name may carry a script suffix: ``x:cyrillic`` is ``x * s`` and ``x:latin`` is
``x * (1 - s)`` for the pair's Cyrillic share ``s`` — one logistic model then holds separate
weights for Russian (and mixed) pairs and for English pairs (see
:func:`scripted_feature_names`, the candidates ``python -m ml.calibrate`` selects from).

:class:`ScorerConfig` turns the chosen columns into a probability with logistic-regression
coefficients fitted by ``python -m ml.calibrate`` (inference is plain NumPy). An empty feature
list means "similarity only" (the uncalibrated fallback): the score is the similarity clipped
to ``[0, 1]``. :func:`final_scores` then applies the hard rules: an exact copy scores 1.0, a
guard conflict scales the score below ``guard_cap`` (below the threshold: "bus 15" and "bus 51"
are never duplicates, however similar), a near copy without a conflict scores at least
``near_copy_floor``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import snowballstemmer
from numpy.typing import NDArray

from ml.guards import conflicts_many
from ml.text import cyrillic_share, fingerprint, near_copy_similarity, normalise

__all__ = [
    "BASE_FEATURES",
    "LEXICAL_MAX_CHARS",
    "PairData",
    "ScorerConfig",
    "feature_names",
    "is_feature",
    "scripted_feature_names",
    "final_scores",
    "part_cosines",
    "stem_overlap",
]

F64 = NDArray[np.float64]
#: Feature columns every encoder has (``cos_<part>`` columns are added for multi-part encoders).
BASE_FEATURES: tuple[str, ...] = (
    "similarity",
    "similarity_cyrillic",
    "near_copy",
    "stem_overlap",
    "both_cyrillic",
    "mixed_script",
    "length_ratio",
    "guard",
)
SCRIPTS = ("cyrillic", "latin")
#: Lexical features and guards read at most this many characters of each text (an overlong text
#: never costs more than this; the encoders truncate or window on their own).
LEXICAL_MAX_CHARS = 10_000
#: A text is "Cyrillic" for the indicators when at least this share of its letters is Cyrillic.
_CYRILLIC = 0.5


def feature_names(parts: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """All plain feature columns for an encoder with these ``parts``."""
    extra = tuple(f"cos_{name}" for name, _ in parts) if len(parts) > 1 else ()
    return BASE_FEATURES[:2] + extra + BASE_FEATURES[2:]


def scripted_feature_names(parts: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """Candidate columns with one coefficient per script: ``<name>:cyrillic``, ``<name>:latin``.

    ``x:cyrillic = x * s`` and ``x:latin = x * (1 - s)`` for the pair's Cyrillic share ``s``, so
    Russian (and mixed) pairs and English pairs get their own weights in one logistic model;
    ``bias:cyrillic`` is a separate intercept for Russian pairs. (``similarity_cyrillic`` and
    ``both_cyrillic`` are left out: these columns subsume them.)
    """
    plain = [n for n in feature_names(parts) if n not in ("similarity_cyrillic", "both_cyrillic")]
    return (*(f"{n}:{sc}" for n in plain for sc in SCRIPTS), "bias:cyrillic")


def is_feature(name: str, parts: Sequence[tuple[str, int]]) -> bool:
    base, _, script = name.partition(":")
    if script and script not in SCRIPTS:
        return False
    return base in feature_names(parts) or (base == "bias" and bool(script))


# ----------------------------------------------------------------------------- lexical


_STEM_LOCK = threading.Lock()
_STEMMERS: dict[str, Any] = {}


def _stemmer(lang: str) -> Any:
    if lang not in _STEMMERS:
        _STEMMERS[lang] = snowballstemmer.stemmer(lang)
    return _STEMMERS[lang]


@lru_cache(maxsize=262_144)
def _stem_word(word: str) -> str:
    lang = "russian" if cyrillic_share(word) >= _CYRILLIC else "english"
    with _STEM_LOCK:  # snowball stemmer objects keep state between calls
        return str(_stemmer(lang).stemWord(word))


@lru_cache(maxsize=8192)
def _stems(text: str) -> frozenset[str]:
    words = set(normalise(text[:LEXICAL_MAX_CHARS]).split())
    return frozenset(_stem_word(w) for w in words)


@lru_cache(maxsize=16_384)
def _profile(text: str) -> tuple[float, int, str]:
    """Per-text facts (cached): Cyrillic share, normalised length, fingerprint."""
    return cyrillic_share(text), max(1, len(normalise(text))), fingerprint(text)


def stem_overlap(a: str, b: str) -> float:
    """Jaccard similarity of the sets of word stems (Snowball, Russian or English per word).

    Word forms share a stem: нов, велодорожк, парк are common, в and у are not (3 of 5):

    >>> stem_overlap("Новые велодорожки в парке", "новая велодорожка у парка")
    0.6
    """
    sa, sb = _stems(a), _stems(b)
    if not sa or not sb:
        return 0.0
    inter = len(sa & sb)
    return inter / (len(sa) + len(sb) - inter)


# ----------------------------------------------------------------------------- vectors


def part_cosines(
    a: NDArray[np.float32], b: NDArray[np.float32], parts: Sequence[tuple[str, int]]
) -> F64:
    """``(n, len(parts))`` cosines per part of stored vectors ``[p_1; ...; p_k] / sqrt(k)``."""
    k = len(parts)
    out = np.empty((a.shape[0], k), dtype=np.float64)
    lo = 0
    for i, (_, width) in enumerate(parts):
        hi = lo + width
        out[:, i] = k * np.einsum(
            "ij,ij->i", a[:, lo:hi].astype(np.float64), b[:, lo:hi].astype(np.float64)
        )
        lo = hi
    return out


def script_weights(shares: F64, cyrillic: F64, latin: F64) -> F64:
    """``(n, k)`` part weights interpolated by the Cyrillic share of each text."""
    s = np.clip(shares, 0.0, 1.0)[:, None]
    out: F64 = s * cyrillic[None, :] + (1.0 - s) * latin[None, :]
    return out


# ----------------------------------------------------------------------------- pair data


@dataclass(frozen=True)
class PairData:
    """Everything the scorer reads about ``n`` pairs (computed once, then combined)."""

    cosines: F64  # (n, k) per-part cosines
    share_a: F64  # (n,) Cyrillic share of each text
    share_b: F64
    near_copy: F64  # (n,) char 5-gram Jaccard
    stem_overlap: F64  # (n,) word-stem Jaccard
    length_ratio: F64  # (n,) |ln(len a / len b)|
    exact: NDArray[np.bool_]  # (n,) same fingerprint
    conflicts: list[tuple[str, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.cosines.shape[0])

    @classmethod
    def compute(
        cls,
        a_texts: Sequence[str],
        b_texts: Sequence[str],
        a_vectors: NDArray[np.float32],
        b_vectors: NDArray[np.float32],
        parts: Sequence[tuple[str, int]],
        *,
        stems: bool = True,
    ) -> PairData:
        """Features of the pairs ``(a_texts[i], b_texts[i])`` with their stored vectors.

        ``stems=False`` skips the word-stem overlap (left NaN) when the scorer does not use it.
        """
        n = len(a_texts)
        a_cut = [t[:LEXICAL_MAX_CHARS] for t in a_texts]
        b_cut = [t[:LEXICAL_MAX_CHARS] for t in b_texts]
        pa = [_profile(t) for t in a_cut]
        pb = [_profile(t) for t in b_cut]
        pairs = list(zip(a_cut, b_cut, strict=True))
        # Same fingerprint of the (cut) texts; overlong texts are compared in full.
        exact = [
            x[2] == y[2]
            and (max(len(s), len(t)) <= LEXICAL_MAX_CHARS or fingerprint(s) == fingerprint(t))
            for x, y, s, t in zip(pa, pb, a_texts, b_texts, strict=True)
        ]
        return cls(
            cosines=part_cosines(a_vectors, b_vectors, parts),
            share_a=np.array([x[0] for x in pa], dtype=np.float64),
            share_b=np.array([y[0] for y in pb], dtype=np.float64),
            near_copy=np.array([near_copy_similarity(x, y) for x, y in pairs], dtype=np.float64),
            stem_overlap=np.array([stem_overlap(x, y) for x, y in pairs], dtype=np.float64)
            if stems
            else np.full(n, np.nan),
            length_ratio=np.array(
                [abs(math.log(x[1] / y[1])) for x, y in zip(pa, pb, strict=True)], dtype=np.float64
            ),
            exact=np.array(exact, dtype=bool) if n else np.zeros(0, dtype=bool),
            conflicts=list(conflicts_many(a_cut, b_cut)) if n else [],
        )

    def take(self, idx: NDArray[np.intp]) -> PairData:
        return PairData(
            self.cosines[idx],
            self.share_a[idx],
            self.share_b[idx],
            self.near_copy[idx],
            self.stem_overlap[idx],
            self.length_ratio[idx],
            self.exact[idx],
            [self.conflicts[i] for i in idx.tolist()],
        )

    @staticmethod
    def concat(items: Sequence[PairData]) -> PairData:
        return PairData(
            np.concatenate([p.cosines for p in items]),
            np.concatenate([p.share_a for p in items]),
            np.concatenate([p.share_b for p in items]),
            np.concatenate([p.near_copy for p in items]),
            np.concatenate([p.stem_overlap for p in items]),
            np.concatenate([p.length_ratio for p in items]),
            np.concatenate([p.exact for p in items]),
            [c for p in items for c in p.conflicts],
        )

    @property
    def pair_share(self) -> F64:
        """The pair's Cyrillic share: the larger of the two (MiniLM cannot read Cyrillic)."""
        out: F64 = np.maximum(self.share_a, self.share_b)
        return out

    @property
    def guard(self) -> NDArray[np.bool_]:
        return np.array([bool(c) for c in self.conflicts], dtype=bool)

    def similarity(self, cyrillic: F64, latin: F64) -> F64:
        """The script-weighted similarity ``sum_i w_i cos_i`` of every pair."""
        w = script_weights(self.pair_share, cyrillic, latin)
        out: F64 = np.einsum("ij,ij->i", w, self.cosines)
        return out

    def features(
        self, names: Sequence[str], cyrillic: F64, latin: F64, parts: Sequence[tuple[str, int]]
    ) -> F64:
        """``(n, len(names))`` feature matrix (column names: see :data:`BASE_FEATURES`)."""
        sim = self.similarity(cyrillic, latin)
        cyr_a = self.share_a >= _CYRILLIC
        cyr_b = self.share_b >= _CYRILLIC
        part_index = {f"cos_{name}": i for i, (name, _) in enumerate(parts)}
        share = self.pair_share
        cols: list[F64] = []
        for full in names:
            name, _, script = full.partition(":")
            if name == "bias":
                cols.append(np.ones(len(self), dtype=np.float64))
            elif name == "similarity":
                cols.append(sim)
            elif name == "similarity_cyrillic":
                cols.append(sim * self.pair_share)
            elif name == "near_copy":
                cols.append(self.near_copy)
            elif name == "stem_overlap":
                if np.isnan(self.stem_overlap).any():
                    raise ValueError("stem_overlap was not computed (PairData.compute(stems=...))")
                cols.append(self.stem_overlap)
            elif name == "both_cyrillic":
                cols.append((cyr_a & cyr_b).astype(np.float64))
            elif name == "mixed_script":
                cols.append((cyr_a != cyr_b).astype(np.float64))
            elif name == "length_ratio":
                cols.append(self.length_ratio)
            elif name == "guard":
                cols.append(self.guard.astype(np.float64))
            elif name in part_index:
                cols.append(self.cosines[:, part_index[name]])
            else:
                raise ValueError(f"unknown scorer feature {full!r}")
            if script == "cyrillic":
                cols[-1] = cols[-1] * share
            elif script == "latin":
                cols[-1] = cols[-1] * (1.0 - share)
            elif script or name == "bias":
                raise ValueError(f"unknown scorer feature {full!r}")
        if not cols:
            return np.zeros((len(self), 0), dtype=np.float64)
        return np.stack(cols, axis=1)


# ----------------------------------------------------------------------------- combination


@dataclass(frozen=True)
class ScorerConfig:
    """A logistic combination of feature columns; no features = similarity only."""

    features: tuple[str, ...] = ()
    coefficients: tuple[float, ...] = ()
    intercept: float = 0.0

    def __post_init__(self) -> None:
        if len(self.features) != len(self.coefficients):
            raise ValueError(
                f"scorer: {len(self.features)} features but {len(self.coefficients)} coefficients"
            )
        for c in (*self.coefficients, self.intercept):
            if not math.isfinite(c):
                raise ValueError("scorer coefficients must be finite numbers")
        if len(set(self.features)) != len(self.features):
            raise ValueError("scorer features must not repeat")

    @property
    def similarity_only(self) -> bool:
        return not self.features

    @property
    def uses_stems(self) -> bool:
        return any(f.partition(":")[0] == "stem_overlap" for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        if self.similarity_only:
            return {"kind": "similarity"}
        return {
            "kind": "logistic",
            "features": list(self.features),
            "coefficients": [float(c) for c in self.coefficients],
            "intercept": float(self.intercept),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScorerConfig:
        if not isinstance(data, Mapping):
            raise TypeError("scorer must be a JSON object")
        kind = data.get("kind")
        if kind == "similarity":
            return cls()
        if kind != "logistic":
            raise ValueError(f"scorer kind must be 'similarity' or 'logistic', got {kind!r}")
        feats = data.get("features")
        coefs = data.get("coefficients")
        if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
            raise TypeError("scorer.features must be a list of strings")
        if not isinstance(coefs, list) or not all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in coefs
        ):
            raise TypeError("scorer.coefficients must be a list of numbers")
        intercept = data.get("intercept", 0.0)
        if isinstance(intercept, bool) or not isinstance(intercept, int | float):
            raise TypeError("scorer.intercept must be a number")
        return cls(tuple(feats), tuple(float(c) for c in coefs), float(intercept))

    def check_features(self, parts: Sequence[tuple[str, int]]) -> None:
        unknown = [f for f in self.features if not is_feature(f, parts)]
        if unknown:
            raise ValueError(
                f"scorer features {unknown} do not exist for parts {[p for p, _ in parts]}"
            )

    def raw_scores(
        self, data: PairData, cyrillic: F64, latin: F64, parts: Sequence[tuple[str, int]]
    ) -> F64:
        """Scores in ``[0, 1]`` before the hard rules of :func:`final_scores`."""
        if self.similarity_only:
            out: F64 = np.clip(data.similarity(cyrillic, latin), 0.0, 1.0)
            return out
        x = data.features(self.features, cyrillic, latin, parts)
        z = x @ np.asarray(self.coefficients, dtype=np.float64) + self.intercept
        prob: F64 = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, overflow-free
        return prob


def final_scores(
    raw: F64, data: PairData, *, guard_cap: float, near_copy: float, near_copy_floor: float
) -> tuple[F64, list[tuple[str, ...]]]:
    """Apply the hard rules to raw scores: ``(scores, reasons)``.

    * exact copy (same fingerprint): 1.0, reason ``exact_copy``;
    * a guard conflict: ``guard_cap * raw`` (always below ``guard_cap``, order kept among
      such pairs), reasons = the guard codes — this wins over a near copy;
    * a near copy (``near_copy_similarity >= near_copy``): ``max(raw, near_copy_floor)``,
      reason ``near_copy``.
    """
    scores = raw.astype(np.float64, copy=True)
    reasons: list[tuple[str, ...]] = []
    for i in range(len(data)):
        if data.exact[i]:
            scores[i] = 1.0
            reasons.append(("exact_copy",))
        elif data.conflicts[i]:
            scores[i] = guard_cap * raw[i]
            reasons.append(tuple(data.conflicts[i]))
        elif data.near_copy[i] >= near_copy:
            scores[i] = max(raw[i], near_copy_floor)
            reasons.append(("near_copy",))
        else:
            reasons.append(())
    return scores, reasons
