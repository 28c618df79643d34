"""Calibrate a duplicate finder on the TRAIN parts of the shared data: ``python -m ml.calibrate``.

::

    python -m ml.calibrate --data ../shared/data                      # the default model
    python -m ml.calibrate --data ../shared/data --model NAME --out my.json

It reads only the ``"train"`` parts defined by :mod:`ml.datasets` (the test parts are for
evaluation) and writes a :class:`ml.finder.FinderConfig` JSON file (by default
``ml/config/<slug>.json``; an operator puts the file of another model in
``$VECHE_MODEL_CONFIG_DIR``). Vectors go through :class:`ml.cache.CachedEncoder`, so a second
run embeds nothing.

Steps
-----
1. **Pairs** (train parts only): ParaPhraser (class 1 positive, -1 negative, 0 "loose" as a soft
   label 0.5); Quora (``--quora-limit`` pairs); STS-B ru and en (``--sts-limit`` pairs; gold >= 4
   positive, <= 2 negative, the rest scored but not trained on) and the same rows across languages
   (Russian sentence 1 with English sentence 2 and vice versa: mixed-script pairs); UK petitions:
   each train query (a petition rejected as a duplicate) with its originals as positives and its
   top retrieved non-linked petitions as negatives, weighted lower (they are not confirmed
   different).
2. **Part weights** (multi-part encoders): a grid over the share of each part, separately for
   Cyrillic (objective: ParaPhraser AUC, strict and strict+loose) and Latin text (objective: UK
   MRR of the original over all petitions and Quora AUC).
3. **Features**: the candidate columns of :func:`ml.scorer.scripted_feature_names` (every pair
   feature twice, one weight for Russian/mixed pairs and one for English pairs) are fitted by a
   weighted logistic regression (each dataset has the same total weight). Backward elimination
   on a validation slice of the train parts (30 %, by pair / by query) drops every column whose
   removal does not lower the mean validation metric (ParaPhraser strict and strict+loose AUC,
   Quora AUC, STS ru/en/cross Spearman, UK MRR and Recall@10 after re-ranking) by more than
   0.0005; the two similarity columns always stay.
4. **Threshold**: maximises F0.5 of the final scores over the pooled train pairs (each dataset
   weighted equally); the F1-optimal threshold is recorded in the provenance too. Precision is
   weighted over recall because a wrong "duplicate" costs a citizen (who is told to support
   another idea instead of proposing theirs) and a moderator (who reviews the group), while a
   missed one still appears in the ranked list of similar ideas.
5. **Guard cap and near copies**: a guard conflict multiplies the score by ``guard_cap`` (chosen
   on the validation slice among fractions of the threshold); a near copy without a conflict is
   lifted to ``near_copy_floor`` (halfway between the threshold and 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ml import datasets
from ml.cache import CachedEncoder
from ml.embeddings import EMBEDDED_DEFAULT, Encoder, load_encoder
from ml.finder import FinderConfig, config_slug, shipped_config_dir
from ml.metrics import roc_auc, spearman
from ml.scorer import PairData, ScorerConfig, final_scores, scripted_feature_names

log = logging.getLogger(__name__)

F64 = NDArray[np.float64]
Vectors = NDArray[np.float32]

GRID = tuple(round(0.1 * i, 1) for i in range(11))
UK_CANDIDATES = 50
NEAR_COPY = 0.9
#: Provisional guard cap while features are chosen (replaced once the threshold is known).
PROVISIONAL_CAP = 0.4
CAP_FRACTIONS = (0.25, 0.5, 0.75, 0.9)
#: Validation share of each dataset (feature selection and the guard cap).
VALIDATION = 0.3
#: A feature stays only if removing it lowers the mean validation metric by more than this.
KEEP_MARGIN = 0.0005


# ----------------------------------------------------------------------------- data


@dataclass
class PairSet:
    """Labelled pairs of one dataset: soft training targets, weights, and raw gold labels."""

    name: str
    a: list[str]
    b: list[str]
    gold: F64  # raw labels (metrics)
    target: F64  # training target in [0, 1]
    weight: F64  # training weight (0 = scored, not trained on)
    validation: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    data: PairData | None = None

    def __len__(self) -> int:
        return len(self.a)


@dataclass
class UKSet:
    """UK petitions retrieval: train queries, their originals, and per-part cosines."""

    texts: list[str]
    queries: list[int]
    originals: list[list[int]]
    cosines: F64  # (n_queries, n_petitions, parts)
    validation: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    candidates: NDArray[np.int64] | None = None  # (n_queries, UK_CANDIDATES) positions
    pairs: PairSet | None = None  # (query, candidate or original) rows
    pair_query: NDArray[np.int64] | None = None  # query row of each pair
    pair_pos: NDArray[np.int64] | None = None  # petition position of each pair
    base_ranks: NDArray[np.int64] | None = None  # ranks by similarity alone (all queries)


def _pairs(name: str, p: datasets.Pairs, target: F64, weight: F64) -> PairSet:
    return PairSet(name, list(p.a), list(p.b), p.labels.astype(np.float64), target, weight)


#: The loader limits the shared embedding cache is warmed for; smaller limits take a fixed random
#: subset of these samples (so every text is one the cache holds), larger ones load directly.
CACHE_LIMITS = {"quora": 4000, "sts": 2000}


def subset(p: datasets.Pairs, n: int | None, seed: int = 7) -> datasets.Pairs:
    """A fixed random subset of ``n`` pairs (all when ``n`` is None or not smaller)."""
    if n is None or n >= len(p):
        return p
    rng = np.random.default_rng(seed)
    return p.take(np.sort(rng.choice(len(p), n, replace=False)))


def load_train_pairs(
    data: Path, *, quora_limit: int, sts_limit: int, paraphraser_limit: int | None = None
) -> dict[str, datasets.Pairs]:
    """The train pairs calibration reads (see :data:`CACHE_LIMITS` for the limits)."""
    out = {
        "paraphraser": subset(datasets.paraphraser(data, "train"), paraphraser_limit),
        "quora": subset(
            datasets.quora(data, "train", limit=max(quora_limit, CACHE_LIMITS["quora"])),
            quora_limit,
        ),
    }
    for lang in ("ru", "en"):
        p = datasets.sts(data, lang, "train", limit=max(sts_limit, CACHE_LIMITS["sts"]))
        out[f"sts_{lang}"] = subset(p, sts_limit)  # same seed and size: rows stay aligned
    return out


def load_sets(
    data: Path, *, quora_limit: int, sts_limit: int, paraphraser_limit: int | None = None
) -> tuple[list[PairSet], datasets.Petitions]:
    raw = load_train_pairs(
        data, quora_limit=quora_limit, sts_limit=sts_limit, paraphraser_limit=paraphraser_limit
    )
    pp = raw["paraphraser"]
    sets = [_pairs("paraphraser", pp, (pp.labels + 1.0) / 2.0, np.ones(len(pp)))]
    qu = raw["quora"]
    sets.append(_pairs("quora", qu, qu.labels.copy(), np.ones(len(qu))))
    for lang in ("ru", "en"):
        p = raw[f"sts_{lang}"]
        sets.append(
            _pairs(
                f"sts_{lang}",
                p,
                (p.labels >= 4).astype(np.float64),
                ((p.labels >= 4) | (p.labels <= 2)).astype(np.float64),
            )
        )
    ru, en = raw["sts_ru"], raw["sts_en"]
    if ru.ids == en.ids:  # the translations are row-aligned: mixed-script pairs
        gold = np.concatenate([ru.labels, ru.labels])
        sets.append(
            PairSet(
                "sts_cross",
                ru.a + en.a,
                en.b + ru.b,
                gold,
                (gold >= 4).astype(np.float64),
                ((gold >= 4) | (gold <= 2)).astype(np.float64),
            )
        )
    uk = datasets.uk_petitions(data, "train")
    return sets, uk


def split(n: int, rng: np.random.Generator) -> NDArray[np.bool_]:
    out: NDArray[np.bool_] = rng.random(n) < VALIDATION
    return out


# ----------------------------------------------------------------------------- embedding


def embed_all(encoder: Encoder, texts: Sequence[str], *, quiet: bool) -> dict[str, Vectors]:
    uniq = list(dict.fromkeys(texts))
    from tqdm import tqdm

    with tqdm(
        total=len(uniq), unit="text", desc="embedding", disable=quiet, file=sys.stderr
    ) as bar:
        vecs = encoder.encode(uniq, batch_size=32, progress=bar.update)
    return {t: vecs[i] for i, t in enumerate(uniq)}


def _stack(vec: dict[str, Vectors], texts: Sequence[str], dim: int) -> Vectors:
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([vec[t] for t in texts]).astype(np.float32)


# ----------------------------------------------------------------------------- part weights


def _weights(parts: Sequence[tuple[str, int]], w_first: float) -> F64:
    """Weights of a two-part encoder with ``w_first`` on the first part (one part: 1.0)."""
    if len(parts) == 1:
        return np.ones(1)
    return np.array([w_first, 1.0 - w_first] + [0.0] * (len(parts) - 2))


def uk_ranks(uk: UKSet, w: F64, rows: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
    """Rank (1 = first) of the best original of each query over all other petitions."""
    sims = np.einsum("qnk,k->qn", uk.cosines, w)
    out = []
    for r, (q, origs) in enumerate(zip(uk.queries, uk.originals, strict=True)):
        if rows is not None and not rows[r]:
            continue
        s = sims[r].copy()
        s[q] = -np.inf
        best = s[origs].max()
        out.append(1 + int((s > best).sum()))
    return np.array(out, dtype=np.int64)


def tune_part_weights(
    parts: Sequence[tuple[str, int]], sets: dict[str, PairSet], uk: UKSet
) -> tuple[F64, F64, dict[str, Any]]:
    """Grid over the first part's weight, Cyrillic and Latin separately."""
    if len(parts) == 1:
        return np.ones(1), np.ones(1), {}
    pp = sets["paraphraser"]
    qu = sets["quora"]
    assert pp.data is not None and qu.data is not None
    cyr_rows, lat_rows = [], []
    for w in GRID:
        wv = _weights(parts, w)
        s = pp.data.cosines @ wv
        strict = roc_auc(pp.gold == 1, s)
        loose = roc_auc(pp.gold >= 0, s)
        cyr_rows.append(
            {"w": w, "pp_strict_auc": strict, "pp_sl_auc": loose, "objective": (strict + loose) / 2}
        )
        ranks = uk_ranks(uk, wv)
        mrr = float(np.mean(1.0 / ranks))
        q_auc = roc_auc(qu.gold == 1, qu.data.cosines @ wv)
        lat_rows.append(
            {
                "w": w,
                "uk_mrr": mrr,
                "uk_r10": float(np.mean(ranks <= 10)),
                "quora_auc": q_auc,
                "objective": (mrr + q_auc) / 2,
            }
        )
    best_c = max(cyr_rows, key=lambda r: r["objective"])
    best_l = max(lat_rows, key=lambda r: r["objective"])
    first = parts[0][0]
    log.info(
        "part weights: cyrillic %s=%.1f, latin %s=%.1f", first, best_c["w"], first, best_l["w"]
    )
    grid = {"part": first, "cyrillic": _round(cyr_rows), "latin": _round(lat_rows)}
    return _weights(parts, best_c["w"]), _weights(parts, best_l["w"]), grid


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 4) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- UK pairs


def build_uk_pairs(
    uk: UKSet,
    vec: dict[str, Vectors],
    dim: int,
    w_lat: F64,
    parts: Sequence[tuple[str, int]],
    *,
    negatives: int,
    negative_weight: float,
) -> None:
    """Candidates by script-weighted similarity, then pair rows for training and reranking."""
    sims = np.einsum("qnk,k->qn", uk.cosines, w_lat)
    cand = np.empty((len(uk.queries), UK_CANDIDATES), dtype=np.int64)
    a: list[str] = []
    b: list[str] = []
    target: list[float] = []
    weight: list[float] = []
    pq: list[int] = []
    pp: list[int] = []
    for r, (q, origs) in enumerate(zip(uk.queries, uk.originals, strict=True)):
        s = sims[r].copy()
        s[q] = -np.inf
        top = np.argsort(-s, kind="stable")[:UK_CANDIDATES]
        cand[r] = top
        rows = list(dict.fromkeys([*top.tolist(), *origs]))
        neg_seen = 0
        for pos in rows:
            is_orig = pos in origs
            train = is_orig or neg_seen < negatives
            if not is_orig and train:
                neg_seen += 1
            a.append(uk.texts[q])
            b.append(uk.texts[pos])
            target.append(1.0 if is_orig else 0.0)
            weight.append((1.0 if is_orig else negative_weight) if train else 0.0)
            pq.append(r)
            pp.append(pos)
    uk.candidates = cand
    pqa = np.array(pq, dtype=np.int64)
    uk.pairs = PairSet(
        "uk",
        a,
        b,
        np.array(target),
        np.array(target),
        np.array(weight),
        validation=uk.validation[pqa],
    )
    uk.pairs.data = PairData.compute(a, b, _stack(vec, a, dim), _stack(vec, b, dim), parts)
    uk.pair_query = pqa
    uk.pair_pos = np.array(pp, dtype=np.int64)


def uk_rerank_ranks(
    uk: UKSet, scores: F64, w_lat: F64, rows: NDArray[np.bool_] | None
) -> NDArray[np.int64]:
    """Rank of the best original after re-ranking the top candidates by pair score."""
    assert uk.pair_query is not None and uk.pair_pos is not None and uk.candidates is not None
    if uk.base_ranks is None:
        uk.base_ranks = uk_ranks(uk, w_lat)
    base = uk.base_ranks
    out = []
    for r, origs in enumerate(uk.originals):
        if rows is not None and not rows[r]:
            continue
        sel = np.flatnonzero(uk.pair_query == r)
        pos = uk.pair_pos[sel]
        in_top = np.isin(pos, uk.candidates[r])
        sc = scores[sel][in_top]
        ps = pos[in_top]
        mask = np.isin(ps, origs)
        if mask.any():
            best = sc[mask].max()
            out.append(1 + int((sc[~mask] > best).sum()))
        else:
            out.append(int(base[r]))
    return np.array(out, dtype=np.int64)


# ----------------------------------------------------------------------------- fitting


@dataclass
class Context:
    parts: tuple[tuple[str, int], ...]
    sets: list[PairSet]
    uk: UKSet
    w_cyr: F64
    w_lat: F64

    def all_sets(self) -> list[PairSet]:
        assert self.uk.pairs is not None
        return [*self.sets, self.uk.pairs]


def _design(
    ctx: Context, names: Sequence[str], rows: Callable[[PairSet], NDArray[np.bool_]]
) -> tuple[F64, F64, F64]:
    """Stacked (X, y, w) of training rows, each dataset with the same total weight."""
    xs, ys, ws = [], [], []
    for ps in ctx.all_sets():
        assert ps.data is not None
        keep = rows(ps) & (ps.weight > 0)
        if not keep.any():
            continue
        x = ps.data.take(np.flatnonzero(keep)).features(names, ctx.w_cyr, ctx.w_lat, ctx.parts)
        t, w = ps.target[keep], ps.weight[keep]
        w = w / w.sum() * 1000.0
        soft = (t > 0) & (t < 1)
        # A soft target t is one positive row of weight w*t and one negative of w*(1-t).
        xs += [x[~soft], x[soft], x[soft]]
        ys += [t[~soft], np.ones(int(soft.sum())), np.zeros(int(soft.sum()))]
        ws += [w[~soft], w[soft] * t[soft], w[soft] * (1 - t[soft])]
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def fit_scorer(
    ctx: Context, names: Sequence[str], rows: Callable[[PairSet], NDArray[np.bool_]]
) -> ScorerConfig:
    """Weighted logistic regression on standardised columns, folded back to raw coefficients."""
    if not names:
        return ScorerConfig()
    from sklearn.linear_model import LogisticRegression

    x, y, w = _design(ctx, names, rows)
    mean = np.average(x, axis=0, weights=w)
    std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    std[std < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x - mean) / std, y.astype(int), sample_weight=w)
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / std))
    return ScorerConfig(tuple(names), tuple(float(c) for c in coef), intercept)


def set_scores(ctx: Context, ps: PairSet, scorer: ScorerConfig, cap: float) -> F64:
    assert ps.data is not None
    raw = scorer.raw_scores(ps.data, ctx.w_cyr, ctx.w_lat, ctx.parts)
    floor = 0.999
    scores, _ = final_scores(
        raw, ps.data, guard_cap=cap, near_copy=NEAR_COPY, near_copy_floor=floor
    )
    return scores


def metrics(
    ctx: Context,
    scorer: ScorerConfig,
    cap: float,
    rows: Callable[[PairSet], NDArray[np.bool_]],
    uk_rows: NDArray[np.bool_] | None,
) -> dict[str, float]:
    out: dict[str, float] = {}
    for ps in ctx.sets:
        keep = rows(ps)
        s = set_scores(ctx, ps, scorer, cap)[keep]
        g = ps.gold[keep]
        if ps.name == "paraphraser":
            out["pp_strict_auc"] = roc_auc(g == 1, s)
            out["pp_sl_auc"] = roc_auc(g >= 0, s)
        elif ps.name == "quora":
            out["quora_auc"] = roc_auc(g == 1, s)
        else:
            out[f"{ps.name}_spearman"] = spearman(s, g)
    assert ctx.uk.pairs is not None
    ranks = uk_rerank_ranks(ctx.uk, set_scores(ctx, ctx.uk.pairs, scorer, cap), ctx.w_lat, uk_rows)
    out["uk_mrr"] = float(np.mean(1.0 / ranks))
    out["uk_r10"] = float(np.mean(ranks <= 10))
    return out


def objective(m: dict[str, float]) -> float:
    return float(np.nanmean(list(m.values())))


def select_features(
    ctx: Context, candidates: Sequence[str], *, quiet: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    """Backward elimination on the validation slice; the similarity columns always stay."""

    def fit_rows(ps: PairSet) -> NDArray[np.bool_]:
        return ~ps.validation

    def val_rows(ps: PairSet) -> NDArray[np.bool_]:
        return ps.validation

    def score(names: Sequence[str]) -> tuple[float, dict[str, float]]:
        m = metrics(
            ctx, fit_scorer(ctx, names, fit_rows), PROVISIONAL_CAP, val_rows, ctx.uk.validation
        )
        return objective(m), m

    current = list(candidates)
    best, best_m = score(current)
    history: list[dict[str, Any]] = [
        {"features": list(current), "objective": best, "metrics": best_m}
    ]
    sim_only, sim_m = score([])
    history.append(
        {"features": [], "note": "similarity only", "objective": sim_only, "metrics": sim_m}
    )
    while len(current) > 1:
        trials = []
        for f in current:
            if f.partition(":")[0] == "similarity":
                continue
            rest = [c for c in current if c != f]
            val, m = score(rest)
            trials.append((val, f, m))
        val, drop, m = max(trials)
        if val < best - KEEP_MARGIN:
            break
        current.remove(drop)
        best, best_m = val, m
        history.append({"dropped": drop, "features": list(current), "objective": val, "metrics": m})
        if not quiet:
            print(f"  drop {drop:20s} -> validation objective {val:.4f}", file=sys.stderr)
    return current, history


def choose_threshold(
    scores: F64, positive: NDArray[np.bool_], weight: F64, beta: float
) -> tuple[float, float]:
    """The threshold maximising weighted F-beta: ``(threshold, F)``."""
    order = np.argsort(-scores, kind="stable")
    s, p, w = scores[order], positive[order], weight[order]
    tp = np.cumsum(w * p)
    fp = np.cumsum(w * ~p)
    total_pos = float((w * p).sum())
    prec = tp / np.maximum(tp + fp, 1e-12)
    rec = tp / max(total_pos, 1e-12)
    b2 = beta * beta
    f = (1 + b2) * prec * rec / np.maximum(b2 * prec + rec, 1e-12)
    # Only cut between distinct scores.
    last = np.r_[s[1:] != s[:-1], True]
    f = np.where(last, f, -1.0)
    i = int(np.argmax(f))
    nxt = s[i + 1] if i + 1 < s.size else s[i] - 1e-3
    return float((s[i] + nxt) / 2), float(f[i])


def pooled(
    ctx: Context, scorer: ScorerConfig, cap: float, rows: Callable[[PairSet], NDArray[np.bool_]]
) -> tuple[F64, NDArray[np.bool_], F64]:
    """Scores, binary labels and dataset-balanced weights of all labelled training pairs."""
    ss, ys, ws = [], [], []
    for ps in ctx.all_sets():
        keep = rows(ps) & (ps.weight > 0) & ((ps.target == 0) | (ps.target == 1))
        if not keep.any():
            continue
        s = set_scores(ctx, ps, scorer, cap)[keep]
        w = ps.weight[keep] / ps.weight[keep].sum()
        ss.append(s)
        ys.append(ps.target[keep] == 1)
        ws.append(w)
    return np.concatenate(ss), np.concatenate(ys), np.concatenate(ws)


def precision_recall(s: F64, y: NDArray[np.bool_], w: F64, t: float) -> tuple[float, float]:
    pred = s >= t
    tp = float((w * (pred & y)).sum())
    fp = float((w * (pred & ~y)).sum())
    fn = float((w * (~pred & y)).sum())
    return tp / max(tp + fp, 1e-12), tp / max(tp + fn, 1e-12)


# ----------------------------------------------------------------------------- main


def calibrate(
    data: Path,
    model: str | None = None,
    *,
    encoder: Encoder | None = None,
    quora_limit: int = 4000,
    sts_limit: int = 2000,
    paraphraser_limit: int | None = None,
    uk_negatives: int = 10,
    uk_negative_weight: float = 0.3,
    beta: float = 0.5,
    seed: int = 13,
    cache: bool = True,
    quiet: bool = False,
) -> FinderConfig:
    """Fit part weights, scorer, threshold and guard cap on the train parts; return the config."""
    if encoder is None:
        encoder = load_encoder(model)
    name = model or (EMBEDDED_DEFAULT if encoder.identity == EMBEDDED_DEFAULT else encoder.identity)
    enc: Encoder = CachedEncoder(encoder) if cache else encoder
    parts = tuple(enc.parts)
    say: Callable[[str], None] = (
        (lambda _m: None) if quiet else (lambda m: print(m, file=sys.stderr))
    )

    sets, pet = load_sets(
        data, quora_limit=quora_limit, sts_limit=sts_limit, paraphraser_limit=paraphraser_limit
    )
    texts = [t for ps in sets for t in (*ps.a, *ps.b)] + pet.texts
    say(
        f"calibrating {name} ({enc.identity}) on train parts: "
        + ", ".join(f"{ps.name} {len(ps)}" for ps in sets)
        + f", uk {len(pet.queries)} queries"
    )
    vec = embed_all(enc, texts, quiet=quiet)
    rng = np.random.default_rng(seed)
    for ps in sets:
        ps.validation = split(len(ps), rng)
        ps.data = PairData.compute(
            ps.a, ps.b, _stack(vec, ps.a, enc.dim), _stack(vec, ps.b, enc.dim), parts
        )
    corpus = _stack(vec, pet.texts, enc.dim)
    qv = corpus[[q for q, _ in pet.queries]]
    cos = np.empty((len(pet.queries), len(pet.texts), len(parts)), dtype=np.float64)
    lo = 0
    for i, (_, width) in enumerate(parts):
        cos[:, :, i] = len(parts) * (
            qv[:, lo : lo + width].astype(np.float64)
            @ corpus[:, lo : lo + width].T.astype(np.float64)
        )
        lo += width
    uk = UKSet(
        pet.texts,
        [q for q, _ in pet.queries],
        [list(o) for _, o in pet.queries],
        cos,
        validation=split(len(pet.queries), rng),
    )

    say("tuning part weights")
    w_cyr, w_lat, grid = tune_part_weights(parts, {ps.name: ps for ps in sets}, uk)
    build_uk_pairs(
        uk, vec, enc.dim, w_lat, parts, negatives=uk_negatives, negative_weight=uk_negative_weight
    )
    ctx = Context(parts, sets, uk, w_cyr, w_lat)

    say("selecting features (backward elimination on the validation slice)")
    kept, history = select_features(ctx, scripted_feature_names(parts), quiet=quiet)

    def every(ps: PairSet) -> NDArray[np.bool_]:
        return np.ones(len(ps), dtype=bool)

    def fit_rows(ps: PairSet) -> NDArray[np.bool_]:
        return ~ps.validation

    def val_rows(ps: PairSet) -> NDArray[np.bool_]:
        return ps.validation

    # Guard cap: chosen on the validation slice with the threshold found on the fit slice.
    fit_scorer_ = fit_scorer(ctx, kept, fit_rows)
    t_fit, _ = choose_threshold(*pooled(ctx, fit_scorer_, PROVISIONAL_CAP, fit_rows), beta)
    cap_trials: list[tuple[float, float, dict[str, float]]] = []
    for frac in CAP_FRACTIONS:
        m = metrics(ctx, fit_scorer_, frac * t_fit, val_rows, uk.validation)
        cap_trials.append((objective(m), frac, m))
    _, cap_fraction, validation_metrics = max(cap_trials, key=lambda r: (r[0], r[1]))
    cap_rows = [{"fraction": f, "objective": o, "metrics": m} for o, f, m in cap_trials]
    no_guard = metrics(ctx, fit_scorer_, 1.0, val_rows, uk.validation)

    say("fitting the scorer on all train pairs")
    scorer = fit_scorer(ctx, kept, every)
    s, y, w = pooled(ctx, scorer, PROVISIONAL_CAP, every)
    threshold, f_half = choose_threshold(s, y, w, beta)
    t_f1, f1 = choose_threshold(s, y, w, 1.0)
    guard_cap = cap_fraction * threshold
    s, y, w = pooled(ctx, scorer, guard_cap, every)
    prec, rec = precision_recall(s, y, w, threshold)
    train_metrics = metrics(ctx, scorer, guard_cap, every, None)
    floor = round(threshold + (1.0 - threshold) / 2, 4)

    near = []
    for ps in ctx.all_sets():
        assert ps.data is not None
        nc = (ps.data.near_copy >= NEAR_COPY) & ~ps.data.guard & ~ps.data.exact & (ps.weight > 0)
        near.append((int(nc.sum()), float((ps.target[nc] >= 0.5).sum())))
    near_n = sum(n for n, _ in near)

    provenance = {
        "tool": "python -m ml.calibrate",
        "date": dt.date.today().isoformat(),
        "data": "train parts only (ml.datasets)",
        "datasets": {
            ps.name: {"pairs": len(ps), "trained_on": int((ps.weight > 0).sum())}
            for ps in ctx.all_sets()
        },
        "limits": {
            "paraphraser": paraphraser_limit,
            "quora": quora_limit,
            "sts": sts_limit,
            "uk_negatives": uk_negatives,
            "uk_negative_weight": uk_negative_weight,
            "uk_queries": len(uk.queries),
        },
        "validation_share": VALIDATION,
        "seed": seed,
        "part_weight_grid": grid,
        "feature_selection": history,
        "guard_cap_choice": cap_rows,
        "validation_metrics_without_guards": no_guard,
        "validation_metrics": validation_metrics,
        "train_metrics": train_metrics,
        "threshold_rule": f"max F{beta:g} on pooled train pairs, datasets weighted equally",
        "threshold_f": f_half,
        "threshold_precision": prec,
        "threshold_recall": rec,
        "f1_threshold": t_f1,
        "f1_at_f1_threshold": f1,
        "near_copy_train_pairs": near_n,
        "near_copy_train_positive_share": (sum(p for _, p in near) / near_n) if near_n else None,
    }
    names = [p for p, _ in parts]
    return FinderConfig(
        model=name,
        identity=enc.identity,
        part_weights={
            "cyrillic": dict(zip(names, map(float, w_cyr), strict=True)),
            "latin": dict(zip(names, map(float, w_lat), strict=True)),
        },
        scorer=scorer,
        threshold=round(threshold, 4),
        guard_cap=round(guard_cap, 4),
        near_copy=NEAR_COPY,
        near_copy_floor=floor,
        calibrated=True,
        provenance=_round(provenance),
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ml.calibrate",
        description="Fit the duplicate finder's part weights, pair scorer, decision threshold "
        "and guard cap on the TRAIN parts of the shared labelled data "
        "(ParaPhraser, Quora, STS-B ru/en, UK petitions), and write the model's "
        "configuration JSON. Test parts are never read.",
        epilog="Vectors are cached in $VECHE_EMBED_CACHE (default ~/.cache/veche/embeddings). "
        "Put the JSON of a non-default model in $VECHE_MODEL_CONFIG_DIR.",
    )
    p.add_argument(
        "--data", type=Path, required=True, help="the shared data folder (e.g. ../shared/data)"
    )
    p.add_argument(
        "--model",
        default=None,
        help=f"encoder name or path for load_encoder (default {EMBEDDED_DEFAULT})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the JSON (default ml/config/<model slug>.json)",
    )
    p.add_argument(
        "--quora-limit",
        type=int,
        default=4000,
        metavar="N",
        help="Quora train pairs to use (default 4000, the sample the embedding cache "
        "is warmed for; a smaller N takes a fixed subset of it)",
    )
    p.add_argument(
        "--paraphraser-limit",
        type=int,
        default=None,
        metavar="N",
        help="ParaPhraser train pairs to use (default: all)",
    )
    p.add_argument(
        "--sts-limit",
        type=int,
        default=2000,
        metavar="N",
        help="STS-B train pairs per language (default 2000, as --quora-limit)",
    )
    p.add_argument(
        "--uk-negatives",
        type=int,
        default=10,
        metavar="N",
        help="hard negatives per UK query: its top retrieved non-linked petitions (default 10)",
    )
    p.add_argument(
        "--beta",
        type=float,
        default=0.5,
        help="the threshold maximises F-beta (default 0.5: precision first)",
    )
    p.add_argument("--seed", type=int, default=13, help="seed of the validation split")
    p.add_argument("--threads", type=int, default=None, help="encoder threads")
    p.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(
            f"data folder {args.data} does not exist (expected the shared data, "
            "e.g. --data ../shared/data)"
        )
    for flag in ("quora_limit", "sts_limit", "uk_negatives", "paraphraser_limit"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1")
    if not 0 < args.beta:
        parser.error("--beta must be > 0")
    try:
        encoder = load_encoder(args.model, threads=args.threads)
        cfg = calibrate(
            args.data,
            args.model,
            encoder=encoder,
            quora_limit=args.quora_limit,
            sts_limit=args.sts_limit,
            paraphraser_limit=args.paraphraser_limit,
            uk_negatives=args.uk_negatives,
            beta=args.beta,
            seed=args.seed,
            cache=not args.no_cache,
            quiet=args.quiet,
        )
    except datasets.DataMissing as exc:
        parser.error(str(exc))
    out = args.out or shipped_config_dir() / f"{config_slug(cfg.model)}.json"
    cfg.save(out)
    prov = cfg.provenance
    print(f"wrote {out}")
    print(
        f"part weights: {dict(cfg.part_weights['cyrillic'])} (cyrillic), "
        f"{dict(cfg.part_weights['latin'])} (latin)"
    )
    sc = cfg.scorer
    print(
        "scorer: "
        + ", ".join(f"{f} {c:+.3f}" for f, c in zip(sc.features, sc.coefficients, strict=True))
        + f", intercept {sc.intercept:+.3f}"
    )
    print(
        f"threshold {cfg.threshold:.4f} (precision {prov['threshold_precision']}, recall "
        f"{prov['threshold_recall']}), guard cap {cfg.guard_cap:.4f}, "
        f"near-copy floor {cfg.near_copy_floor:.4f}"
    )
    print(f"validation metrics: {dict(prov['validation_metrics'])}")
    print(f"train metrics: {dict(prov['train_metrics'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
