"""The Dedup evaluation (issue 4): duplicate finders side by side on the held-out real data.

Every method is an object with the public :class:`ml.DuplicateFinder` API — ``pair_scores(a, b)``,
``threshold``, ``fit(corpus)``, ``query(texts, k)`` — and nothing else is called, so the default
pipeline, plain embedding cosines and the PostgreSQL ``pg_trgm`` baseline (:mod:`ml.trigram`) are
measured by the same code. Only the ``"test"`` parts of :mod:`ml.datasets` are reported (calibration
and fine-tuning may only look at ``"train"``).

Metrics
-------
* ParaPhraser (ru) test pairs: ROC-AUC and F1 for *strict* = class 1 vs {0, -1} (the definition
  that reproduces the figures quoted in the issue) and *strict+loose* = {1, 0} vs -1; also ROC-AUC of
  1 vs -1 with the loose pairs left out.
* STS-B ru and en dev (their test part): Spearman of ``pair_scores`` against the gold score.
* Quora test pairs (a fixed subsample, 4,000 by default): ROC-AUC and F1.
* UK petitions: the finder is fitted on the whole corpus; each rejected-as-duplicate petition of the
  test part queries it, its own row excluded from the results; Recall@1/5/10 and MRR (to depth
  100) of its original (the best rank of any linked original) and Recall@10 of any other member of
  its duplicate cluster. Again with the corpus restricted to published (open/closed) petitions;
  queries whose originals are all unpublished are dropped from that variant.

F1 is reported twice: at the finder's own ``threshold`` (calibrated on the train parts, where the
method has one) and at a threshold tuned on one half of the test part and reported on the other
half (a fixed random split, both directions averaged): thresholds are never tuned on the numbers
they report. Standard errors: bootstrap over pairs (AUC, Spearman), analytic over queries (recall,
MRR: the standard error of a mean of per-query values). ROC-AUC and Spearman come from
:mod:`ml.metrics`, shared with the calibration; where one is not defined (a test part with one
class only) it is NaN, ``null`` in the JSON and "—" in the table.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from ml import datasets
from ml.embeddings import Encoder, Progress, Vectors
from ml.metrics import roc_auc, spearman

SEED = 13
BOOTSTRAP_ROUNDS = 1000
MRR_DEPTH = 100
QUORA_LIMIT = 4000
RECALL_KS = (1, 5, 10)
METHODS = ("default", "e5", "minilm", "pg_trgm")
KNOWN_METHODS = ("default", "e5", "minilm", "pg_trgm", "hashing", "cosine:<model>")

FloatArray = NDArray[np.float64]


class Finder(Protocol):
    """The public DuplicateFinder API, all the evaluation calls."""

    threshold: float

    def pair_scores(self, a: Sequence[str], b: Sequence[str]) -> NDArray[Any]: ...

    def fit(self, corpus: Sequence[str]) -> Any: ...

    def query(self, texts: Sequence[str], k: int) -> tuple[NDArray[Any], NDArray[Any]]: ...


# --------------------------------------------------------------------------- metrics


def _binary(labels: NDArray[Any], scores: NDArray[Any]) -> tuple[NDArray[np.bool_], FloatArray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d and equal length ({y.shape} vs {s.shape})")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return y.astype(bool), s


def f1_at(labels: NDArray[Any], scores: NDArray[Any], threshold: float) -> float:
    """F1 of predicting "duplicate" for ``score >= threshold``.

    >>> f1_at(np.array([1, 1, 0, 1]), np.array([0.9, 0.8, 0.7, 0.2]), 0.75)  # tp 2, fn 1
    0.8
    """
    y, s = _binary(labels, scores)
    pred = s >= threshold
    tp = int(np.sum(pred & y))
    fp = int(np.sum(pred & ~y))
    fn = int(np.sum(~pred & y))
    return 2.0 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_threshold(labels: NDArray[Any], scores: NDArray[Any]) -> tuple[float, float]:
    """``(threshold, F1)`` with the best F1 on these pairs; the threshold lies midway between
    the lowest score predicted positive and the next lower score.

    The top four (3 positives, 1 negative) give F1 6/7; the cut falls between 0.6 and 0.2:

    >>> t, f1 = best_threshold(np.array([1, 1, 0, 1, 0, 0]),
    ...                        np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1]))
    >>> round(t, 6), round(f1, 4)
    (0.4, 0.8571)
    """
    y, s = _binary(labels, scores)
    npos = int(y.sum())
    if npos == 0:
        raise ValueError("F1 tuning needs at least one positive")
    order = np.argsort(-s, kind="mergesort")
    ss = s[order]
    tp = np.cumsum(y[order])
    last = np.ones(len(ss), dtype=bool)  # the last position of each tie group
    last[:-1] = ss[:-1] != ss[1:]
    cut = np.flatnonzero(last)
    f1 = 2.0 * tp[cut] / (cut + 1 + npos)
    best = int(np.argmax(f1))
    i = int(cut[best])
    t = float(ss[i]) if i + 1 == len(ss) else float((ss[i] + ss[i + 1]) / 2.0)
    return t, float(f1[best])


def halves(n: int, seed: int = SEED) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """A fixed random split of ``range(n)`` into two halves."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


def tuned_f1(labels: NDArray[Any], scores: NDArray[Any], seed: int = SEED) -> dict[str, float]:
    """F1 at a threshold tuned on one half and measured on the other, both ways, averaged."""
    y, s = _binary(labels, scores)
    a, b = halves(len(y), seed)
    if not (y[a].any() and y[b].any()):  # a tiny set: a half without positives
        nan = float("nan")
        return {"f1": nan, "threshold_a": nan, "threshold_b": nan}
    t_a, _ = best_threshold(y[a], s[a])
    t_b, _ = best_threshold(y[b], s[b])
    f_b = f1_at(y[b], s[b], t_a)
    f_a = f1_at(y[a], s[a], t_b)
    return {"f1": (f_a + f_b) / 2.0, "threshold_a": t_a, "threshold_b": t_b}


def bootstrap_se(
    stat: Callable[[NDArray[np.intp]], float],
    n: int,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = SEED,
) -> float:
    """Standard deviation of ``stat(resample)`` over bootstrap resamples of ``range(n)``.

    Resamples where ``stat`` is not defined (NaN, see :mod:`ml.metrics`: one class only, a
    constant sequence) are left out.
    """
    if rounds < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    vals = [stat(rng.integers(0, n, n)) for _ in range(rounds)]
    vals = [v for v in vals if math.isfinite(v)]  # NaN: one class only, or constant
    return float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")


def first_rank(ranked: NDArray[Any], relevant: Sequence[Sequence[int]]) -> FloatArray:
    """Per query, the 1-based rank of its best-ranked relevant item in ``ranked`` (inf if none).

    Three queries: the first finds item 2 second, the second never finds 9, the third finds 6
    first. :func:`recall_at` and :func:`mrr` summarise such ranks:

    >>> rank = first_rank(np.array([[4, 2, 7], [1, 3, 5], [6, 8, 0]]), [[2, 7], [9], [6]])
    >>> rank
    array([ 2., inf,  1.])
    >>> recall_at(rank, 1), mrr(rank)  # 1/3 found first; (1/2 + 0 + 1) / 3
    (0.3333333333333333, 0.5)
    """
    out = np.full(len(relevant), np.inf)
    for q, rel in enumerate(relevant):
        hits = np.flatnonzero(np.isin(ranked[q], np.asarray(list(rel), dtype=np.int64)))
        if len(hits):
            out[q] = float(hits[0] + 1)
    return out


def recall_at(rank: FloatArray, k: int) -> float:
    """Share of queries with a relevant item in the top ``k``."""
    return float(np.mean(rank <= k)) if len(rank) else float("nan")


def mrr(rank: FloatArray) -> float:
    """Mean reciprocal rank (0 for queries whose relevant items are past the depth searched)."""
    return float(np.mean(1.0 / rank)) if len(rank) else float("nan")


def mean_se(values: FloatArray) -> float:
    """Analytic standard error of a mean of per-query values."""
    n = len(values)
    return float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")


# --------------------------------------------------------------------------- methods


class PartEncoder:
    """One named part of a concatenated encoder, re-normalised: ``e5`` or ``minilm`` of the default.

    The default model's vector is ``[e5 ; minilm] / sqrt(2)``, so the slice of a part is that
    model's own unit vector scaled by ``1/sqrt(2)``. Going through the concatenated encoder (and its
    disk cache) gives the single models' cosines without embedding anything twice.
    """

    def __init__(self, inner: Encoder, part: str) -> None:
        names = [name for name, _ in inner.parts]
        if part not in names:
            raise ValueError(f"{inner.identity} has no part {part!r} (parts: {', '.join(names)})")
        start = 0
        for name, width in inner.parts:
            if name == part:
                self._cols = slice(start, start + width)
                self.dim = width
            start += width
        self.inner = inner
        self.identity = f"{inner.identity}#{part}"
        self.parts: tuple[tuple[str, int], ...] = ((part, self.dim),)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> Vectors:
        v = self.inner.encode(texts, batch_size=batch_size, progress=progress)[:, self._cols]
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        out: Vectors = (v / np.maximum(norm, 1e-12)).astype(np.float32, copy=False)
        return out


class CosineFinder:
    """Plain cosine similarity of one encoder, with the DuplicateFinder API (a baseline)."""

    calibrated = False

    def __init__(
        self, encoder: Encoder, *, threshold: float = float("nan"), batch_size: int = 32
    ) -> None:
        self.encoder = encoder
        self.identity = encoder.identity
        self.threshold = float(threshold)
        self._batch = batch_size
        self._corpus: Vectors | None = None

    def _encode(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("expected a sequence of texts, not a single string")
        return self.encoder.encode(list(texts), batch_size=self._batch)

    def pair_scores(self, a: Sequence[str], b: Sequence[str]) -> FloatArray:
        if len(a) != len(b):
            raise ValueError(f"a and b must have the same length ({len(a)} != {len(b)})")
        va = self._encode(a)
        vb = self._encode(b)
        out: FloatArray = np.einsum("ij,ij->i", va, vb).astype(np.float64)
        return out

    def fit(self, corpus: Sequence[str]) -> CosineFinder:
        self._corpus = self._encode(corpus)
        return self

    def query(self, texts: Sequence[str], k: int) -> tuple[NDArray[np.int64], FloatArray]:
        if self._corpus is None:
            raise ValueError("fit() a corpus before query()")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = self._encode(texts)
        n = len(self._corpus)
        kk = min(k, n)
        idx = np.full((len(q), k), -1, dtype=np.int64)
        out = np.full((len(q), k), -np.inf, dtype=np.float64)
        for start in range(0, len(q), 256):
            sims = q[start : start + 256] @ self._corpus.T
            top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
            part = np.take_along_axis(sims, top, axis=1)
            order = np.lexsort((top, -part), axis=1)
            idx[start : start + len(sims), :kk] = np.take_along_axis(top, order, axis=1)
            out[start : start + len(sims), :kk] = np.take_along_axis(part, order, axis=1)
        return idx, out


def make_method(
    name: str, *, model: str | None = None, pg_url: str | None = None, cache_dir: Path | None = None
) -> Finder:
    """The finder a method name stands for (see :data:`KNOWN_METHODS`).

    ``default``: ``DuplicateFinder.load(model)`` (the calibrated pipeline) over a disk-cached
    encoder; ``e5`` / ``minilm``: plain cosine of one part of the default encoder; ``pg_trgm``: the
    PostgreSQL baseline; ``hashing``: cosine of the weight-free char n-gram encoder;
    ``cosine:<model>``: plain cosine of any encoder ``load_encoder`` knows.
    """
    from ml.cache import CachedEncoder
    from ml.embeddings import load_encoder

    if name == "default":
        from ml.finder import DuplicateFinder

        return DuplicateFinder.load(model, encoder=CachedEncoder(load_encoder(model), cache_dir))
    if name in ("e5", "minilm"):
        return CosineFinder(PartEncoder(CachedEncoder(load_encoder(None), cache_dir), name))
    if name == "pg_trgm":
        from ml.trigram import DEFAULT_URL, TrigramFinder

        return TrigramFinder(pg_url or DEFAULT_URL)
    if name == "hashing":
        return CosineFinder(load_encoder("hashing-char-ngrams"))
    if name.startswith("cosine:") and len(name) > len("cosine:"):
        return CosineFinder(CachedEncoder(load_encoder(name[len("cosine:") :]), cache_dir))
    raise ValueError(f"unknown method {name!r}; known: {', '.join(KNOWN_METHODS)}")


# --------------------------------------------------------------------------- datasets


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _binary_report(
    finder: Finder, y: NDArray[np.bool_], s: FloatArray, *, rounds: int, seed: int
) -> dict[str, Any]:
    threshold = float(getattr(finder, "threshold", float("nan")))
    tuned = tuned_f1(y, s, seed)
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "auc": roc_auc(y, s),
        "auc_se": bootstrap_se(lambda i: roc_auc(y[i], s[i]), len(y), rounds=rounds, seed=seed),
        "f1_calibrated": f1_at(y, s, threshold) if math.isfinite(threshold) else None,
        "f1_tuned": tuned["f1"],
        "tuned_thresholds": [tuned["threshold_a"], tuned["threshold_b"]],
    }


def eval_paraphraser(
    finder: Finder, pairs: datasets.Pairs, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED
) -> dict[str, Any]:
    s = np.asarray(finder.pair_scores(pairs.a, pairs.b), dtype=np.float64)
    y = pairs.labels
    precise = y != 0
    out: dict[str, Any] = {
        "n": len(pairs),
        # class 1 vs {0, -1}: what the issue calls strict
        "strict": _binary_report(finder, y == 1, s, rounds=rounds, seed=seed),
        # {1, 0} vs -1
        "strict_loose": _binary_report(finder, y >= 0, s, rounds=rounds, seed=seed),
    }
    yp, sp = y[precise] == 1, s[precise]
    out["strict_vs_non"] = {  # 1 vs -1, loose pairs left out
        "n": int(precise.sum()),
        "auc": roc_auc(yp, sp),
        "auc_se": bootstrap_se(lambda i: roc_auc(yp[i], sp[i]), len(yp), rounds=rounds, seed=seed),
    }
    return out


def eval_sts(
    finder: Finder, pairs: datasets.Pairs, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED
) -> dict[str, Any]:
    s = np.asarray(finder.pair_scores(pairs.a, pairs.b), dtype=np.float64)
    g = pairs.labels
    return {
        "n": len(pairs),
        "spearman": spearman(s, g),
        "spearman_se": bootstrap_se(
            lambda i: spearman(s[i], g[i]), len(g), rounds=rounds, seed=seed
        ),
    }


def eval_quora(
    finder: Finder, pairs: datasets.Pairs, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED
) -> dict[str, Any]:
    s = np.asarray(finder.pair_scores(pairs.a, pairs.b), dtype=np.float64)
    return _binary_report(finder, pairs.labels == 1, s, rounds=rounds, seed=seed)


def search_excluding_self(
    finder: Finder, texts: Sequence[str], own: Sequence[int | None], depth: int
) -> NDArray[np.int64]:
    """``(m, depth)`` corpus positions per query, best first, its own row (``own``) removed."""
    idx, _ = finder.query(list(texts), depth + 1)
    idx = np.asarray(idx, dtype=np.int64)
    out = np.full((len(texts), depth), -1, dtype=np.int64)
    for q, row in enumerate(idx):
        keep = row[(row >= 0) & (row != (-2 if own[q] is None else own[q]))][:depth]
        out[q, : len(keep)] = keep
    return out


def retrieval_report(
    ranked: NDArray[np.int64],
    originals: Sequence[Sequence[int]],
    cluster: Sequence[Sequence[int]],
    corpus: int,
) -> dict[str, Any]:
    """Recall@k / MRR of the originals and Recall@10 of the cluster, with standard errors."""
    r = first_rank(ranked, originals)
    rc = first_rank(ranked, cluster)
    out: dict[str, Any] = {"queries": len(originals), "corpus": corpus}
    for k in RECALL_KS:
        hit = (r <= k).astype(np.float64)
        out[f"recall@{k}"] = recall_at(r, k)
        out[f"recall@{k}_se"] = mean_se(hit)
    out["mrr"] = mrr(r)
    out["mrr_se"] = mean_se(1.0 / r)
    out["cluster_recall@10"] = recall_at(rc, 10)
    out["cluster_recall@10_se"] = mean_se((rc <= 10).astype(np.float64))
    return out


def eval_uk(
    finder: Finder, pet: datasets.Petitions, *, published_only: bool, depth: int = MRR_DEPTH
) -> dict[str, Any]:
    """UK petitions duplicate retrieval (see the module docstring)."""
    n = len(pet.texts)
    keep = np.flatnonzero(pet.published) if published_only else np.arange(n)
    where = {int(old): new for new, old in enumerate(keep)}
    q_texts: list[str] = []
    own: list[int | None] = []
    originals: list[list[int]] = []
    members: list[list[int]] = []
    for pos, origs in pet.queries:
        o = [where[x] for x in origs if x in where]
        if not o:
            continue
        same = np.flatnonzero(pet.cluster == pet.cluster[pos])
        q_texts.append(pet.texts[pos])
        own.append(where.get(pos))
        originals.append(o)
        members.append([where[int(x)] for x in same if int(x) != pos and int(x) in where])
    finder.fit([pet.texts[i] for i in keep])
    ranked = search_excluding_self(finder, q_texts, own, depth)
    out = retrieval_report(ranked, originals, members, len(keep))
    out["queries_dropped"] = len(pet.queries) - len(q_texts)
    out["depth"] = depth
    return out


# --------------------------------------------------------------------------- the run


@dataclass
class EvalSettings:
    data: Path
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    model: str | None = None
    quora_limit: int | None = QUORA_LIMIT
    pg_url: str | None = None
    rounds: int = BOOTSTRAP_ROUNDS
    depth: int = MRR_DEPTH
    seed: int = SEED
    progress: bool = True
    cache_dir: Path | None = None


STEPS = ("paraphraser", "sts_ru", "sts_en", "quora", "uk_all", "uk_published")


def evaluate_finder(
    finder: Finder,
    data: Path,
    *,
    quora_limit: int | None = QUORA_LIMIT,
    rounds: int = BOOTSTRAP_ROUNDS,
    depth: int = MRR_DEPTH,
    seed: int = SEED,
    progress: bool = False,
    label: str = "",
) -> dict[str, Any]:
    """Every test-part measurement for one finder."""
    out: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    bar = tqdm(total=len(STEPS), desc=label or "eval", unit="set", disable=not progress)
    with bar:
        for step in STEPS:
            bar.set_postfix_str(step)
            t0 = time.perf_counter()
            if step == "paraphraser":
                out[step] = eval_paraphraser(
                    finder, datasets.paraphraser(data, "test"), rounds=rounds, seed=seed
                )
            elif step in ("sts_ru", "sts_en"):
                pairs = datasets.sts(data, "ru" if step == "sts_ru" else "en", "test")
                out[step] = eval_sts(finder, pairs, rounds=rounds, seed=seed)
            elif step == "quora":
                out[step] = eval_quora(
                    finder,
                    datasets.quora(data, "test", limit=quora_limit),
                    rounds=rounds,
                    seed=seed,
                )
            else:
                pet = datasets.uk_petitions(data, "test")
                out[step] = eval_uk(finder, pet, published_only=step == "uk_published", depth=depth)
            seconds[step] = round(time.perf_counter() - t0, 2)
            bar.update(1)
    out["seconds"] = seconds
    return out


def _git(*args: str) -> str | None:
    try:
        res = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def _describe(finder: Finder) -> dict[str, Any]:
    desc: dict[str, Any] = {"class": type(finder).__name__}
    for attr in ("identity", "threshold", "calibrated"):
        if hasattr(finder, attr):
            desc[attr] = getattr(finder, attr)
    to_dict = getattr(getattr(finder, "config", None), "to_dict", None)
    if callable(to_dict):  # a DuplicateFinder: its calibration, without the coefficients
        config = to_dict()
        desc["config"] = {
            k: config[k]
            for k in (
                "model",
                "calibrated",
                "threshold",
                "guard_cap",
                "near_copy",
                "near_copy_floor",
                "part_weights",
            )
            if k in config
        }
        provenance = config.get("provenance") or {}
        desc["config"]["provenance"] = {  # the summary, not the search logs
            k: v
            for k, v in provenance.items()
            if k in ("datasets", "limits") or not isinstance(v, Mapping | list | tuple)
        }
    return desc


def _clean(x: Any) -> Any:
    """JSON-ready: NaN/inf -> None, NumPy scalars -> Python, floats rounded."""
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return _finite(x)
    if isinstance(x, Path):
        return str(x)
    return x


@contextmanager
def _opened(finder: Finder) -> Iterator[Finder]:
    try:
        yield finder
    finally:
        close = getattr(finder, "close", None)
        if callable(close):
            close()


def run(settings: EvalSettings) -> dict[str, Any]:
    """Evaluate every method of ``settings``; the report (JSON-ready)."""
    data = Path(settings.data)
    if not data.is_dir():
        raise datasets.DataMissing(f"data folder {data} not found (see ../shared/data/README.md)")
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--", "ml")),
        "settings": {k: v for k, v in asdict(settings).items() if k not in ("progress",)},
        "methods": {},
        "results": {},
    }
    for name in settings.methods:
        t0 = time.perf_counter()
        finder = make_method(
            name, model=settings.model, pg_url=settings.pg_url, cache_dir=settings.cache_dir
        )
        with _opened(finder):
            report["methods"][name] = _describe(finder)
            report["results"][name] = evaluate_finder(
                finder,
                data,
                quora_limit=settings.quora_limit,
                rounds=settings.rounds,
                depth=settings.depth,
                seed=settings.seed,
                progress=settings.progress,
                label=name,
            )
        report["results"][name]["seconds"]["total"] = round(time.perf_counter() - t0, 2)
    report["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    cleaned: dict[str, Any] = _clean(report)
    return cleaned


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- tables

#: (row label, path into one method's results, key of its standard error or None)
ROWS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("ParaPhraser strict (1 vs {0,−1}) ROC-AUC", ("paraphraser", "strict", "auc"), "auc_se"),
    (
        "ParaPhraser strict+loose ({1,0} vs −1) ROC-AUC",
        ("paraphraser", "strict_loose", "auc"),
        "auc_se",
    ),
    (
        "ParaPhraser 1 vs −1 (loose left out) ROC-AUC",
        ("paraphraser", "strict_vs_non", "auc"),
        "auc_se",
    ),
    ("ParaPhraser strict F1, own threshold", ("paraphraser", "strict", "f1_calibrated"), None),
    ("ParaPhraser strict F1, tuned on the other half", ("paraphraser", "strict", "f1_tuned"), None),
    (
        "ParaPhraser strict+loose F1, own threshold",
        ("paraphraser", "strict_loose", "f1_calibrated"),
        None,
    ),
    (
        "ParaPhraser strict+loose F1, tuned on the other half",
        ("paraphraser", "strict_loose", "f1_tuned"),
        None,
    ),
    ("STS-B ru dev Spearman", ("sts_ru", "spearman"), "spearman_se"),
    ("STS-B en dev Spearman", ("sts_en", "spearman"), "spearman_se"),
    ("Quora ROC-AUC", ("quora", "auc"), "auc_se"),
    ("Quora F1, own threshold", ("quora", "f1_calibrated"), None),
    ("Quora F1, tuned on the other half", ("quora", "f1_tuned"), None),
    ("UK all: Recall@1 of the original", ("uk_all", "recall@1"), "recall@1_se"),
    ("UK all: Recall@5", ("uk_all", "recall@5"), "recall@5_se"),
    ("UK all: Recall@10", ("uk_all", "recall@10"), "recall@10_se"),
    ("UK all: MRR", ("uk_all", "mrr"), "mrr_se"),
    (
        "UK all: Recall@10 of any cluster member",
        ("uk_all", "cluster_recall@10"),
        "cluster_recall@10_se",
    ),
    ("UK published: Recall@1 of the original", ("uk_published", "recall@1"), "recall@1_se"),
    ("UK published: Recall@5", ("uk_published", "recall@5"), "recall@5_se"),
    ("UK published: Recall@10", ("uk_published", "recall@10"), "recall@10_se"),
    ("UK published: MRR", ("uk_published", "mrr"), "mrr_se"),
    (
        "UK published: Recall@10 of any cluster member",
        ("uk_published", "cluster_recall@10"),
        "cluster_recall@10_se",
    ),
)

#: The issue's targets for the default pipeline and the best offline figures it quotes.
TARGETS: tuple[tuple[str, tuple[str, ...], float, str], ...] = (
    (
        "ParaPhraser strict ROC-AUC",
        ("paraphraser", "strict", "auc"),
        0.88,
        "e5 0.85, pg_trgm 0.80, MiniLM 0.75",
    ),
    (
        "ParaPhraser strict+loose ROC-AUC",
        ("paraphraser", "strict_loose", "auc"),
        0.90,
        "e5 0.87, pg_trgm 0.82, MiniLM 0.73",
    ),
    ("Quora ROC-AUC", ("quora", "auc"), 0.90, "MiniLM 0.89, e5 0.88, pg_trgm 0.76"),
    ("STS-B ru Spearman", ("sts_ru", "spearman"), 0.80, "e5 0.76"),
    ("STS-B en Spearman", ("sts_en", "spearman"), 0.83, "e5 0.81, MiniLM 0.80"),
    (
        "UK Recall@10 of the original, all",
        ("uk_all", "recall@10"),
        0.65,
        "MiniLM/e5 0.55, pg_trgm 0.36",
    ),
    (
        "UK Recall@10 of the original, published",
        ("uk_published", "recall@10"),
        0.96,
        "MiniLM/e5 0.94, pg_trgm 0.67",
    ),
)


def lookup(results: dict[str, Any], path: Sequence[str]) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _cell(value: Any, se: Any) -> str:
    if value is None:
        return "—"
    text = f"{value:.3f}"
    if se is not None:
        text += f" ± {se:.3f}"
    return text


def markdown(report: dict[str, Any]) -> str:
    """The results table (methods side by side) and the targets table, as Markdown."""
    results: dict[str, Any] = report["results"]
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, path, se_key in ROWS:
        cells = []
        for name in names:
            value = lookup(results[name], path)
            se = lookup(results[name], (*path[:-1], se_key)) if se_key else None
            cells.append(_cell(value, se))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    sizes = []
    first = results[names[0]] if names else {}
    for key, what in (
        ("paraphraser", "n"),
        ("sts_ru", "n"),
        ("sts_en", "n"),
        ("quora", "n"),
        ("uk_all", "queries"),
        ("uk_published", "queries"),
    ):
        if lookup(first, (key, what)) is not None:
            sizes.append(f"{key} {lookup(first, (key, what))}")
    if names:
        dropped = lookup(first, ("uk_published", "queries_dropped"))
        lines.append("")
        lines.append(
            "Test sizes (pairs / queries): "
            + ", ".join(sizes)
            + (
                f"; {dropped} UK queries have no published original and are left out "
                "of the published variant"
                if dropped is not None
                else ""
            )
            + "."
        )
    if "default" in results:
        lines += [
            "",
            "| target (default pipeline) | target | default | met? | issue's best "
            "offline figures |",
            "|---|---|---|---|---|",
        ]
        for label, path, target, quoted in TARGETS:
            value = lookup(results["default"], path)
            if value is None:
                verdict = "—"
            else:
                gap = value - target
                verdict = f"met (+{gap:.3f})" if gap >= 0 else f"missed by {-gap:.3f}"
            lines.append(
                f"| {label} | ≥ {target:.2f} | {_cell(value, None)} | {verdict} | {quoted} |"
            )
    return "\n".join(lines) + "\n"
