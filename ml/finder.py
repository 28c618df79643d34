"""Duplicate detection: the public :class:`DuplicateFinder` API (issue 4).

::

    from ml import DuplicateFinder
    finder = DuplicateFinder.load()              # embedded default (veche-embedded-v1), offline
    finder.pair_scores(a, b)                     # (n,) scores in [0, 1], higher = more likely duplicates
    finder.threshold                             # the calibrated decision threshold for those scores
    finder.fit(corpus).query(texts, k)           # (indices (m, k), scores (m, k)), best first

Texts are an idea's title and description joined by ``"\\n"`` (:func:`ml.text.join_idea`).
Empty or whitespace-only texts raise ``ValueError``, non-strings ``TypeError``. Overlong texts
are fine: the encoders truncate or window, lexical checks read the first
:data:`ml.scorer.LEXICAL_MAX_CHARS` characters.

How a pair is scored
--------------------
1. Both texts are embedded (the stored vector of the default model is ``[e5 ; minilm] / sqrt(2)``).
2. :mod:`ml.scorer` computes the pair's features: the *script-weighted similarity*
   ``w * cos_e5 + (1 - w) * cos_minilm``, with ``w`` taken from ``config.part_weights`` for
   Cyrillic and Latin text and interpolated by the Cyrillic share of the pair (the larger of the
   two texts' shares); lexical overlaps; script indicators; the length ratio; guard flags.
3. A logistic combination fitted by ``python -m ml.calibrate`` turns them into a probability.
   Without a calibrated configuration the score is the similarity itself (``calibrated`` is
   False and a warning is logged).
4. Hard rules: an exact copy (same :func:`ml.text.fingerprint`) scores 1.0; a guard conflict
   (:func:`ml.guards.conflicts`: numbers, negation, opposite actions, streets...) keeps the score
   below ``config.guard_cap`` (< threshold) even for near copies; a near copy
   (``near_copy_similarity >= config.near_copy``) scores at least ``config.near_copy_floor``.

Search
------
The index holds the stored vectors; a query is re-weighted so that one inner product gives the
script-weighted similarity: ``q' = [k w_1 q_1 ; ... ; k w_k q_k]`` for stored parts ``q_i``
(``k`` parts). :meth:`DuplicateFinder.query` fetches ``max(50, 4k)`` candidates by that
similarity, re-ranks them by pair score and returns the best ``k``, padded with index ``-1`` and
score ``-inf`` when the corpus is smaller.

Configuration
-------------
:class:`FinderConfig` (JSON, versioned) holds the part weights, scorer coefficients, threshold,
guard cap, near-copy rule and the provenance of the calibration. :meth:`DuplicateFinder.load`
looks for it in this order: the ``config=`` path; ``$VECHE_MODEL_CONFIG_DIR/<slug>.json``;
the configuration shipped in ``ml/config/<slug>.json``; else an uncalibrated fallback
(similarity only, threshold 0.80). ``<slug>`` is the model name with every run of characters
other than letters, digits, ``.``, ``_`` and ``-`` replaced by ``-``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ml.embeddings import EMBEDDED_DEFAULT, Encoder, load_encoder
from ml.index import (
    AUTO_EXACT_MAX,
    ExactIndex,
    VectorIndex,
    build_index,
    check_ids,
    check_k,
    load_index,
    upgrade,
)
from ml.scorer import PairData, ScorerConfig, final_scores
from ml.text import cyrillic_share, validate_texts

__all__ = [
    "CONFIG_VERSION",
    "Candidate",
    "DuplicateFinder",
    "FinderConfig",
    "Verdict",
    "config_slug",
    "shipped_config_dir",
]

log = logging.getLogger(__name__)

CONFIG_VERSION = 1
SCRIPTS = ("cyrillic", "latin")
#: Threshold of the uncalibrated fallback (similarity only).
FALLBACK_THRESHOLD = 0.80
#: Candidates fetched from the index before re-ranking: max(MIN_CANDIDATES, CANDIDATE_FACTOR * k).
MIN_CANDIDATES = 50
CANDIDATE_FACTOR = 4

F64 = NDArray[np.float64]
Vectors = NDArray[np.float32]


def config_slug(model: str) -> str:
    """The file stem of a model's configuration: ``veche-embedded-v1`` -> ``veche-embedded-v1``.

    >>> config_slug("intfloat/multilingual-e5-small")
    'intfloat-multilingual-e5-small'
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.")
    return slug[:120] or "model"


def shipped_config_dir() -> Path:
    """``ml/config``: the configurations shipped with Veche (package data)."""
    return Path(__file__).resolve().parent / "config"


def _freeze(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return tuple(_freeze(v) for v in obj)
    return obj


def _thaw(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_thaw(v) for v in obj]
    return obj


def _number(data: Mapping[str, Any], key: str, lo: float, hi: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"finder config: {key} must be a number, got {value!r}")
    if not (lo <= float(value) <= hi):
        raise ValueError(f"finder config: {key} must be in [{lo}, {hi}], got {value}")
    return float(value)


@dataclass(frozen=True)
class FinderConfig:
    """How a :class:`DuplicateFinder` turns one encoder's vectors into duplicate scores.

    ``part_weights`` maps ``"cyrillic"`` and ``"latin"`` to ``{part name: weight}`` (weights are
    normalised to sum to 1). ``guard_cap`` < ``threshold`` <= ``near_copy_floor``.
    """

    model: str
    identity: str
    part_weights: Mapping[str, Mapping[str, float]]
    scorer: ScorerConfig
    threshold: float
    guard_cap: float
    near_copy: float
    near_copy_floor: float
    calibrated: bool
    provenance: Mapping[str, Any] = field(default_factory=dict)
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError("finder config: model must be a non-empty string")
        if not isinstance(self.identity, str) or not self.identity:
            raise ValueError("finder config: identity must be a non-empty string")
        if self.version != CONFIG_VERSION:
            raise ValueError(
                f"finder config: version {self.version} is not supported "
                f"(this Veche reads version {CONFIG_VERSION}); re-run "
                "`python -m ml.calibrate`"
            )
        weights: dict[str, dict[str, float]] = {}
        if not isinstance(self.part_weights, Mapping) or set(self.part_weights) != set(SCRIPTS):
            raise ValueError(f"finder config: part_weights needs exactly the keys {SCRIPTS}")
        names: set[str] | None = None
        for script in SCRIPTS:
            ws = self.part_weights[script]
            if not isinstance(ws, Mapping) or not ws:
                raise ValueError(f"finder config: part_weights.{script} must map parts to weights")
            vals = {}
            for part, w in ws.items():
                if (
                    isinstance(w, bool)
                    or not isinstance(w, int | float)
                    or not math.isfinite(w)
                    or w < 0
                ):
                    raise ValueError(
                        f"finder config: part_weights.{script}.{part} must be a "
                        f"number >= 0, got {w!r}"
                    )
                vals[str(part)] = float(w)
            total = sum(vals.values())
            if total <= 0:
                raise ValueError(f"finder config: part_weights.{script} sum to zero")
            if names is not None and set(vals) != names:
                raise ValueError("finder config: part_weights name different parts per script")
            names = set(vals)
            weights[script] = {p: w / total for p, w in vals.items()}
        object.__setattr__(self, "part_weights", _freeze(weights))
        object.__setattr__(self, "provenance", _freeze(dict(self.provenance)))
        for key in ("threshold", "guard_cap", "near_copy", "near_copy_floor"):
            _number({key: getattr(self, key)}, key, 0.0, 1.0)
        if not self.guard_cap < self.threshold:
            raise ValueError(
                f"finder config: guard_cap ({self.guard_cap}) must be below the "
                f"threshold ({self.threshold})"
            )
        if not self.near_copy_floor >= self.threshold:
            raise ValueError(
                f"finder config: near_copy_floor ({self.near_copy_floor}) must be at "
                f"least the threshold ({self.threshold})"
            )
        if not isinstance(self.scorer, ScorerConfig):
            raise TypeError("finder config: scorer must be a ScorerConfig")

    # -- construction

    @classmethod
    def fallback(cls, model: str, encoder: Encoder) -> FinderConfig:
        """The uncalibrated configuration: similarity only, threshold 0.80."""
        names = [p for p, _ in encoder.parts]
        if set(names) == {"e5", "minilm"}:
            # docs/dedup.md: e5 is far ahead on Russian, MiniLM ahead on English retrieval.
            cyr = {"e5": 1.0, "minilm": 0.0}
            lat = {"e5": 0.5, "minilm": 0.5}
        else:
            cyr = lat = {p: 1.0 for p in names}
        return cls(
            model=model,
            identity=encoder.identity,
            part_weights={"cyrillic": cyr, "latin": lat},
            scorer=ScorerConfig(),
            threshold=FALLBACK_THRESHOLD,
            guard_cap=0.7,
            near_copy=0.9,
            near_copy_floor=0.95,
            calibrated=False,
            provenance={"note": "uncalibrated fallback: run `python -m ml.calibrate`"},
        )

    def with_changes(self, **changes: Any) -> FinderConfig:
        return replace(self, **changes)

    # -- JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model": self.model,
            "identity": self.identity,
            "calibrated": self.calibrated,
            "threshold": self.threshold,
            "guard_cap": self.guard_cap,
            "near_copy": self.near_copy,
            "near_copy_floor": self.near_copy_floor,
            "part_weights": _thaw(self.part_weights),
            "scorer": self.scorer.to_dict(),
            "provenance": _thaw(self.provenance),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FinderConfig:
        if not isinstance(data, Mapping):
            raise TypeError("finder config must be a JSON object")
        missing = [
            k
            for k in (
                "version",
                "model",
                "identity",
                "calibrated",
                "threshold",
                "guard_cap",
                "near_copy",
                "near_copy_floor",
                "part_weights",
                "scorer",
            )
            if k not in data
        ]
        if missing:
            raise ValueError(f"finder config lacks {', '.join(missing)}")
        version = data["version"]
        if isinstance(version, bool) or not isinstance(version, int):
            raise TypeError("finder config: version must be an integer")
        if not isinstance(data["calibrated"], bool):
            raise TypeError("finder config: calibrated must be true or false")
        provenance = data.get("provenance") or {}
        if not isinstance(provenance, Mapping):
            raise TypeError("finder config: provenance must be an object")
        return cls(
            model=str(data["model"]),
            identity=str(data["identity"]),
            part_weights=data["part_weights"],
            scorer=ScorerConfig.from_dict(data["scorer"]),
            threshold=_number(data, "threshold", 0.0, 1.0),
            guard_cap=_number(data, "guard_cap", 0.0, 1.0),
            near_copy=_number(data, "near_copy", 0.0, 1.0),
            near_copy_floor=_number(data, "near_copy_floor", 0.0, 1.0),
            calibrated=data["calibrated"],
            provenance=provenance,
            version=version,
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> FinderConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"finder config is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> FinderConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no finder config at {path}")
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{path}: {exc}") from exc

    # -- weights as arrays

    def weight_arrays(self, parts: Sequence[tuple[str, int]]) -> tuple[F64, F64]:
        """(cyrillic, latin) part weights in the encoder's part order."""
        names = [p for p, _ in parts]
        if set(names) != set(self.part_weights["cyrillic"]):
            raise ValueError(
                f"finder config for parts {sorted(self.part_weights['cyrillic'])} "
                f"does not fit an encoder with parts {names}"
            )
        return (
            np.array([self.part_weights["cyrillic"][p] for p in names], dtype=np.float64),
            np.array([self.part_weights["latin"][p] for p in names], dtype=np.float64),
        )


@dataclass(frozen=True)
class Verdict:
    """One pair's score, its script-weighted similarity, and why the rules changed the score.

    ``reasons``: guard codes that lowered the score (see ``ml.guards.REASONS``) and/or
    ``"exact_copy"`` / ``"near_copy"``.
    """

    score: float
    similarity: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """An index hit: an idea id and its script-weighted similarity to the query (before rerank)."""

    id: int
    similarity: float


def _resolve_config(name: str, encoder: Encoder, explicit: str | Path | None) -> FinderConfig:
    if explicit is not None:
        cfg = FinderConfig.load(explicit)
        if cfg.identity != encoder.identity:
            raise ValueError(
                f"{explicit}: the config was calibrated for {cfg.identity!r}, "
                f"not for the loaded encoder {encoder.identity!r}"
            )
        return cfg
    slugs = list(dict.fromkeys([config_slug(name), config_slug(encoder.identity)]))
    dirs: list[Path] = []
    env = os.environ.get("VECHE_MODEL_CONFIG_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(shipped_config_dir())
    for d in dirs:
        for slug in slugs:
            path = d / f"{slug}.json"
            if not path.is_file():
                continue
            cfg = FinderConfig.load(path)
            if cfg.identity != encoder.identity:
                log.warning(
                    "ignoring %s: calibrated for %r, the encoder is %r",
                    path,
                    cfg.identity,
                    encoder.identity,
                )
                continue
            return cfg
    log.warning(
        "no calibrated duplicate-finder configuration for model %r (encoder %r): using "
        "similarity only with threshold %.2f. Run `python -m ml.calibrate --data DIR --model %s` "
        "and put the JSON it writes in $VECHE_MODEL_CONFIG_DIR.",
        name,
        encoder.identity,
        FALLBACK_THRESHOLD,
        name,
    )
    return FinderConfig.fallback(name, encoder)


class DuplicateFinder:
    """Scores pairs of ideas and searches a corpus for duplicates (see the module docstring)."""

    def __init__(self, encoder: Encoder, config: FinderConfig) -> None:
        if config.identity != encoder.identity:
            raise ValueError(
                f"config is for {config.identity!r}, the encoder is {encoder.identity!r}"
            )
        config.scorer.check_features(encoder.parts)
        self.encoder = encoder
        self.config = config
        self.identity: str = encoder.identity
        self.dim: int = int(encoder.dim)
        self.threshold: float = config.threshold
        self.calibrated: bool = config.calibrated
        self._parts = tuple(encoder.parts)
        self._w_cyr, self._w_lat = config.weight_arrays(self._parts)
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._texts: list[str] | None = None
        self._vectors: Vectors | None = None

    def __repr__(self) -> str:
        state = "calibrated" if self.calibrated else "uncalibrated"
        return f"DuplicateFinder({self.config.model!r}, {state}, threshold={self.threshold:.3f})"

    @classmethod
    def load(
        cls,
        model: str | None = None,
        *,
        config: str | Path | None = None,
        threads: int | None = None,
        encoder: Encoder | None = None,
    ) -> DuplicateFinder:
        """A finder for ``model`` (None: the embedded default), or for an injected ``encoder``.

        The configuration comes from ``config`` (a JSON path), else
        ``$VECHE_MODEL_CONFIG_DIR/<slug>.json``, else the shipped ``ml/config/<slug>.json``,
        else the uncalibrated fallback (``calibrated`` False, a warning logged).
        """
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ValueError("model must be a non-empty model name or path")
        if encoder is None:
            encoder = load_encoder(model, threads=threads)
            name = model or EMBEDDED_DEFAULT
        else:
            name = model or encoder.identity
        return cls(encoder, _resolve_config(name, encoder, config))

    # ------------------------------------------------------------------ embedding and scoring

    def embed(self, texts: Sequence[str]) -> Vectors:
        """The stored vectors of ``texts``: ``(n, dim)`` float32 (what the platform keeps)."""
        items = validate_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        uniq = list(dict.fromkeys(items))
        vecs = np.asarray(self.encoder.encode(uniq), dtype=np.float32)
        if len(uniq) == len(items):
            return vecs
        row = {t: i for i, t in enumerate(uniq)}
        out: Vectors = vecs[[row[t] for t in items]]
        return out

    def _check_vectors(self, vectors: object, n: int, what: str) -> Vectors:
        arr = np.asarray(vectors)
        if arr.ndim == 1 and n == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape != (n, self.dim):
            raise ValueError(f"{what} must have shape ({n}, {self.dim}), got {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
        out = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(out).all():
            raise ValueError(f"{what} contain NaN or infinite values")
        return out

    def _score(
        self, a: Sequence[str], b: Sequence[str], va: Vectors, vb: Vectors
    ) -> tuple[F64, F64, list[tuple[str, ...]]]:
        data = PairData.compute(a, b, va, vb, self._parts, stems=self.config.scorer.uses_stems)
        cfg = self.config
        raw = cfg.scorer.raw_scores(data, self._w_cyr, self._w_lat, self._parts)
        scores, reasons = final_scores(
            raw,
            data,
            guard_cap=cfg.guard_cap,
            near_copy=cfg.near_copy,
            near_copy_floor=cfg.near_copy_floor,
        )
        return scores, data.similarity(self._w_cyr, self._w_lat), reasons

    @staticmethod
    def _check_pairs(a: Sequence[str], b: Sequence[str]) -> tuple[list[str], list[str]]:
        la, lb = validate_texts(a), validate_texts(b)
        if len(la) != len(lb):
            raise ValueError(f"a and b must have the same length, got {len(la)} and {len(lb)}")
        return la, lb

    def pair_scores(self, a: Sequence[str], b: Sequence[str]) -> F64:
        """Scores in ``[0, 1]`` of the pairs ``(a[i], b[i])``; ``>= threshold`` = duplicates."""
        la, lb = self._check_pairs(a, b)
        if not la:
            return np.zeros(0, dtype=np.float64)
        vecs = self.embed(la + lb)
        scores, _, _ = self._score(la, lb, vecs[: len(la)], vecs[len(la) :])
        return scores

    def explain(self, a: str, b: str) -> Verdict:
        """The score of one pair with its similarity and the rules that changed it."""
        if not isinstance(a, str) or not isinstance(b, str):
            raise TypeError("explain() takes two str")
        la, lb = self._check_pairs([a], [b])
        vecs = self.embed(la + lb)
        return self.score_vectors(la, lb, vecs[:1], vecs[1:])[0]

    def score_vectors(
        self,
        a_texts: Sequence[str],
        b_texts: Sequence[str],
        a_vectors: NDArray[np.float32],
        b_vectors: NDArray[np.float32],
    ) -> list[Verdict]:
        """Verdicts for pairs whose vectors are already stored (same scores as pair_scores)."""
        la, lb = self._check_pairs(a_texts, b_texts)
        va = self._check_vectors(a_vectors, len(la), "a_vectors")
        vb = self._check_vectors(b_vectors, len(lb), "b_vectors")
        if not la:
            return []
        scores, sims, reasons = self._score(la, lb, va, vb)
        return [
            Verdict(float(s), float(m), r) for s, m, r in zip(scores, sims, reasons, strict=True)
        ]

    # ------------------------------------------------------------------ search

    def query_vectors(self, texts: Sequence[str], vectors: NDArray[np.float32]) -> Vectors:
        """Script-weighted query vectors: their inner product with a stored vector is the
        script-weighted similarity for the query's script."""
        items = validate_texts(texts)
        vecs = self._check_vectors(vectors, len(items), "vectors")
        k = len(self._parts)
        if k == 1:
            return vecs
        shares = np.array([cyrillic_share(t) for t in items], dtype=np.float64)
        s = shares[:, None]
        w = s * self._w_cyr[None, :] + (1.0 - s) * self._w_lat[None, :]
        out = np.empty_like(vecs)
        lo = 0
        for i, (_, width) in enumerate(self._parts):
            hi = lo + width
            out[:, lo:hi] = vecs[:, lo:hi] * (k * w[:, i : i + 1]).astype(np.float32)
            lo = hi
        return out

    def fit(self, corpus: Sequence[str]) -> DuplicateFinder:
        """Embed and index ``corpus`` (ids 0..n-1); keeps the texts for re-ranking."""
        items = validate_texts(corpus)
        vecs = self.embed(items)
        index = build_index(self.dim, expected=len(items))
        if items:
            index.add(np.arange(len(items), dtype=np.int64), vecs)
        with self._lock:
            self._index, self._texts, self._vectors = index, items, vecs
        return self

    def query(self, texts: Sequence[str], k: int) -> tuple[NDArray[np.int64], F64]:
        """The ``k`` best corpus entries for each text by pair score: ``(indices, scores)``.

        Both are ``(m, k)``, best first; ``-1`` / ``-inf`` pad rows when the corpus is smaller
        than ``k``. Needs :meth:`fit` first.
        """
        items = validate_texts(texts)
        k = check_k(k)
        with self._lock:
            index, corpus, stored = self._index, self._texts, self._vectors
        if index is None or corpus is None or stored is None:
            raise RuntimeError("query() needs a fitted corpus: call fit(corpus) first")
        m, n = len(items), len(corpus)
        out_ids = np.full((m, k), -1, dtype=np.int64)
        out_scores = np.full((m, k), -np.inf, dtype=np.float64)
        if m == 0 or n == 0:
            return out_ids, out_scores
        vecs = self.embed(items)
        kk = min(n, max(MIN_CANDIDATES, CANDIDATE_FACTOR * k))
        with self._lock:
            cand, _ = self._candidates(index, items, vecs, kk)
        qi, ci = np.nonzero(cand >= 0)
        ids = cand[qi, ci]
        scores, sims, _ = self._score(
            [items[i] for i in qi.tolist()],
            [corpus[j] for j in ids.tolist()],
            vecs[qi],
            stored[ids],
        )
        for row in range(m):
            sel = np.flatnonzero(qi == row)
            if not sel.size:
                continue
            order = np.lexsort((ids[sel], -sims[sel], -scores[sel]))[:k]
            take = sel[order]
            out_ids[row, : take.size] = ids[take]
            out_scores[row, : take.size] = scores[take]
        return out_ids, out_scores

    # ------------------------------------------------------------------ platform level

    def index_vectors(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add or replace stored vectors under idea ids (incremental).

        The platform keeps texts in its database, so this drops the texts kept by :meth:`fit`
        (:meth:`query` then needs a new ``fit``); use :meth:`search` + :meth:`score_vectors`.
        """
        arr_ids = check_ids(ids)
        vecs = self._check_vectors(vectors, arr_ids.size, "vectors")
        with self._lock:
            if self._index is None:
                self._index = build_index(self.dim, expected=arr_ids.size)
            self._texts = self._vectors = None
            if arr_ids.size:
                self._index.add(arr_ids, vecs)
            if isinstance(self._index, ExactIndex) and len(self._index) > AUTO_EXACT_MAX:
                # grown past exact search's sweet spot: one ANN build (about a second at 5k),
                # later additions go into the graph incrementally
                self._index = upgrade(self._index)

    def save_index(self, path: Path) -> None:
        """Write the platform index to ``path`` atomically (see :func:`ml.index.load_index`)."""
        with self._lock:
            if self._index is None:
                raise ValueError("there is no index to save")
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".tmp{os.getpid()}")
            self._index.save(tmp)
            os.replace(tmp, path)

    def load_saved_index(self, path: Path) -> int:
        """Replace the platform index by one saved with :meth:`save_index`; returns its size."""
        index = load_index(Path(path))
        if index.dim != self.dim:
            raise ValueError(f"{path}: index of dimension {index.dim}, the model has {self.dim}")
        with self._lock:
            self._texts = self._vectors = None
            self._index = index
            return len(index)

    def remove_ids(self, ids: NDArray[np.int64]) -> None:
        """Remove idea ids from the index (unknown ids are ignored)."""
        arr_ids = check_ids(ids)
        with self._lock:
            if self._index is not None and arr_ids.size:
                self._texts = self._vectors = None
                self._index.remove(arr_ids)

    def __len__(self) -> int:
        with self._lock:
            return 0 if self._index is None else len(self._index)

    def search(self, text: str, vector: NDArray[np.float32], k: int) -> list[Candidate]:
        """The ``k`` nearest stored ideas by script-weighted similarity (before re-ranking)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        k = check_k(k)
        vec = self._check_vectors(vector, 1, "vector")
        with self._lock:
            if self._index is None or len(self._index) == 0:
                return []
            ids, sims = self._candidates(self._index, [text], vec, k)
        return [Candidate(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]

    def _candidates(
        self, index: VectorIndex, texts: Sequence[str], vecs: Vectors, k: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Candidates for re-ranking: the ``k`` nearest by script-weighted similarity, plus —
        for Latin-script queries of a multi-part model whose Cyrillic weights differ — the
        ``k // 2`` nearest by the Cyrillic (cross-lingual e5) weighting, so an English query
        also reaches Russian ideas (MiniLM alone cannot read them). ``(m, k + k // 2)``, -1
        padded; similarity is the one of the search that found the candidate."""
        ids, sims = index.search(self.query_vectors(texts, vecs), k)
        if len(self._parts) == 1 or np.allclose(self._w_cyr, self._w_lat) or k < 2:
            return ids, sims
        latin = [i for i, t in enumerate(texts) if cyrillic_share(t) < 0.5]
        extra = k // 2
        out_ids = np.full((len(texts), k + extra), -1, dtype=np.int64)
        out_sims = np.full((len(texts), k + extra), -np.inf, dtype=np.float32)
        out_ids[:, :k], out_sims[:, :k] = ids, sims
        if latin:
            q = vecs[latin].copy()
            lo = 0
            for j, (_, width) in enumerate(self._parts):
                q[:, lo : lo + width] *= np.float32(len(self._parts) * self._w_cyr[j])
                lo += width
            xids, xsims = index.search(q, extra)
            for row, i in enumerate(latin):
                seen = set(ids[i].tolist())
                fresh = [
                    c for c in range(extra) if xids[row, c] >= 0 and int(xids[row, c]) not in seen
                ]
                out_ids[i, k : k + len(fresh)] = xids[row, fresh]
                out_sims[i, k : k + len(fresh)] = xsims[row, fresh]
        return out_ids, out_sims
