"""`make bench-dedup`: the vector-search part of "similar ideas", exact vs ANN vs pg_trgm.

For each corpus size (default 10k, 100k, 1M ideas) in one run:

- **Corpus**: synthetic unit vectors shaped like the default model's (``veche-embedded-v1``,
  dim 768): a strong common direction (mean pairwise cosine ~0.69), clusters (100 ideas a topic),
  and a power-law spread over dim/2 directions (PCA: 50% of variance in ~30 components, 90% in
  ~200). These figures were matched to 6,000 real cached embeddings (real: mean cosine 0.695,
  nearest-neighbour cosine p50 0.89; synthetic: 0.689 and 0.889). Uniform noise would be
  unrealistic (and the hardest case for HNSW).
- **Queries**: held-out points of the same distribution (recall@10 vs exact) and *planted
  duplicates*: v' = cos·v + sin·u for a corpus vector v, a data-shaped direction u orthogonal to
  v, and cos uniform in [0.80, 0.95] (real duplicate pairs of the default model sit there).
  Duplicate recall = share of planted originals the index returns in its top 10, among those
  exact search returns in its top 10 (the "≥ 0.99 of exact" of the issue), plus the absolute one.
- **Exact** (``ml.index.ExactIndex``) vs **ANN** (``ml.index.ANNIndex``, USearch HNSW f16):
  build time, memory (RSS delta), one-query latency p50/p99 at k=10 and k=50 on one thread, for
  several ``expansion_search`` values; incremental add, replace, remove; save, load, mmap view.
- **pg_trgm** on the same number of texts: titles recombined from real sentences (UK petitions
  actions/backgrounds, Decide Madrid titles), a GIN ``gin_trgm_ops`` index, and the
  Decidim-style query ``WHERE title % $1 ORDER BY similarity(title, $1) DESC LIMIT 10``.
- **Encoder**: one-text latency p50/p99 and batch throughput of the default model
  (``ml.embeddings.load_encoder()``) at threads=1 and threads=2.
- **End-to-end HTTP** similar-ideas requests: :func:`end_to_end_http` is the hook (not measured
  here yet: the platform adds it).

Writes ``bench/results/dedup.json`` and prints a markdown summary for ``docs/benchmarks.md``.
Quick run: ``python -m bench.dedup_bench --sizes 10000 --no-encoder``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import json
import os
import platform
import random
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml.index import (
    ANN_CONNECTIVITY,
    ANN_DTYPE,
    ANN_EXPANSION_ADD,
    ANN_EXPANSION_SEARCH,
    ANNIndex,
    ExactIndex,
    load_index,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "dedup.json"
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "veche_bench_dedup"


# ----------------------------------------------------------------------------- synthetic vectors


def synthetic_corpus(n: int, dim: int, seed: int = 1, *, per_topic: int = 100) -> np.ndarray:
    """(n, dim) unit float32 rows shaped like real sentence embeddings (see module docstring)."""
    rng = np.random.default_rng(seed)
    r = max(2, dim // 2)
    basis = np.linalg.qr(rng.standard_normal((dim, r)))[0].T.astype(np.float32)
    mean = rng.standard_normal(dim).astype(np.float32)
    mean /= np.linalg.norm(mean)
    lam = (np.arange(r) + 8.0) ** -0.9
    sd = np.sqrt(lam / lam.sum()).astype(np.float32)
    topics = rng.standard_normal((max(16, n // per_topic), r)).astype(np.float32)
    a = 0.75
    out = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        t = rng.integers(0, topics.shape[0], hi - lo)
        z = (
            a * topics[t] + np.sqrt(1 - a * a) * rng.standard_normal((hi - lo, r), dtype=np.float32)
        ) * sd
        x = 1.5 * mean + z @ basis
        x += 0.15 * rng.standard_normal((hi - lo, dim), dtype=np.float32) / np.sqrt(dim)
        out[lo:hi] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def plant_duplicates(
    corpus: np.ndarray, count: int, seed: int = 5, lo: float = 0.80, hi: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """(original rows, near-copy queries) with cos(original, query) uniform in [lo, hi]."""
    rng = np.random.default_rng(seed)
    n, dim = corpus.shape
    rows = rng.choice(n, size=min(count, n), replace=False)
    cos = rng.uniform(lo, hi, rows.size).astype(np.float32)
    v = corpus[rows]
    # a data-shaped direction: another synthetic point minus the common mean, orthogonalised
    w = synthetic_corpus(rows.size, dim, seed=seed + 1000) - corpus.mean(axis=0)
    w -= (w * v).sum(axis=1, keepdims=True) * v
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    q = cos[:, None] * v + np.sqrt(1 - cos * cos)[:, None] * w
    return rows, (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


# ----------------------------------------------------------------------------- helpers


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timings(fn: Callable[[Any], object], items: Sequence[Any]) -> dict[str, float]:
    """p50/p99/mean in milliseconds of ``fn(item)`` over items (after one warm-up call)."""
    fn(items[0])
    ts = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        ts.append((time.perf_counter() - t) * 1e3)
    return {
        "p50_ms": float(np.percentile(ts, 50)),
        "p99_ms": float(np.percentile(ts, 99)),
        "mean_ms": float(statistics.fmean(ts)),
        "n": len(ts),
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_start": os.getloadavg(),
    }


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [
        len(set(a.tolist()) & set(b.tolist())) / max(1, (b >= 0).sum())
        for a, b in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits))


# ----------------------------------------------------------------------------- index part


def bench_index(n: int, dim: int, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n, "dim": dim}
    t = time.perf_counter()
    data = synthetic_corpus(n + args.queries, dim, seed=1)
    corpus, held = data[:n], data[n:]
    out["generate_s"] = time.perf_counter() - t
    dup_rows, dup_q = plant_duplicates(corpus, args.dups)
    ids = np.arange(n, dtype=np.int64) * 3 + 7  # ids need not be 0..n-1
    dup_ids = ids[dup_rows]
    del data
    gc.collect()

    # exact
    r0 = rss_mb()
    t = time.perf_counter()
    exact = ExactIndex(dim, capacity=n)
    exact.add(ids, corpus)
    ex: dict[str, Any] = {
        "build_s": time.perf_counter() - t,
        "rss_delta_mb": rss_mb() - r0,
        "bytes": exact.nbytes,
    }
    del corpus
    gc.collect()
    m = min(args.queries, max(30, int(args.exact_budget_ms * 1e3 / max(n, 1))))
    ex["k10"] = timings(lambda q: exact.search(q[None], 10), held[:m])
    ex["k50"] = timings(lambda q: exact.search(q[None], 50), held[: max(10, m // 2)])
    truth, _ = exact.search(held, 10)
    dup_found, _ = exact.search(dup_q, 10)
    exact_dup_hit = (dup_found == dup_ids[:, None]).any(axis=1)
    ex["dup_recall_abs"] = float(exact_dup_hit.mean())
    out["exact"] = ex
    print(
        f"  exact n={n}: build {ex['build_s']:.2f}s p50 {ex['k10']['p50_ms']:.2f} ms "
        f"(dups found by exact: {ex['dup_recall_abs']:.3f})",
        flush=True,
    )

    # ANN
    gc.collect()
    r0 = rss_mb()
    t = time.perf_counter()
    ann = ANNIndex(dim, capacity=n)
    ann.add(exact.ids(), np.asarray(exact.vectors()))
    an: dict[str, Any] = {
        "build_s": time.perf_counter() - t,
        "rss_delta_mb": rss_mb() - r0,
        "bytes": ann.nbytes,
        "dtype": ANN_DTYPE,
        "connectivity": ANN_CONNECTIVITY,
        "expansion_add": ANN_EXPANSION_ADD,
        "build_threads": os.cpu_count(),
    }
    print(f"  ann n={n}: build {an['build_s']:.1f}s ({an['rss_delta_mb']:.0f} MB)", flush=True)
    per_ef = {}
    for ef in args.ef:
        ann.expansion_search = ef
        got, _ = ann.search(held, 10)
        got_dup, _ = ann.search(dup_q, 10)
        ann_hit = (got_dup == dup_ids[:, None]).any(axis=1)
        row = {
            "recall10_random": recall_at(got, truth),
            "dup_recall_vs_exact": float(ann_hit[exact_dup_hit].mean())
            if exact_dup_hit.any()
            else float("nan"),
            "dup_recall_abs": float(ann_hit.mean()),
            "k10": timings(lambda q: ann.search(q[None], 10), held),
            "k50": timings(lambda q: ann.search(q[None], 50), held),
        }
        per_ef[str(ef)] = row
        print(
            f"    ef={ef}: recall@10 {row['recall10_random']:.4f} dup/exact "
            f"{row['dup_recall_vs_exact']:.4f} p50 {row['k10']['p50_ms']:.3f} "
            f"p99 {row['k10']['p99_ms']:.3f} ms",
            flush=True,
        )
    an["by_ef"] = per_ef
    ann.expansion_search = ANN_EXPANSION_SEARCH

    # updates: add new ideas one at a time, replace, remove
    extra = synthetic_corpus(200, dim, seed=11)
    base = int(ids[-1]) + 10
    an["add_one"] = timings(lambda i: ann.add(np.array([base + i]), extra[i]), list(range(200)))
    an["replace_one"] = timings(
        lambda i: ann.add(np.array([base + i]), extra[(i + 1) % 200]), list(range(200))
    )
    an["remove_one"] = timings(lambda i: ann.remove(np.array([base + i])), list(range(200)))
    an["exact_add_one"] = timings(
        lambda i: exact.add(np.array([base + i]), extra[i]), list(range(200))
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "ann.usearch"
        t = time.perf_counter()
        ann.save(path)
        an["save_s"] = time.perf_counter() - t
        an["file_mb"] = path.stat().st_size / 2**20
        t = time.perf_counter()
        loaded = load_index(path)
        an["load_s"] = time.perf_counter() - t
        del loaded
        gc.collect()
        r0 = rss_mb()
        t = time.perf_counter()
        view = load_index(path, view=True)
        an["view_open_s"] = time.perf_counter() - t
        an["view_k10"] = timings(lambda q: view.search(q[None], 10), held)
        an["view_rss_delta_mb"] = rss_mb() - r0
        epath = Path(tmp) / "exact.npz"
        t = time.perf_counter()
        exact.save(epath)
        ex["save_s"] = time.perf_counter() - t
        exact = ExactIndex(dim)  # free the big one before timing the load
        gc.collect()
        t = time.perf_counter()
        load_index(epath)
        ex["load_s"] = time.perf_counter() - t
    out["ann"] = an
    default = per_ef.get(str(ANN_EXPANSION_SEARCH)) or next(iter(per_ef.values()))
    out["ratio_exact_over_ann_p50"] = ex["k10"]["p50_ms"] / default["k10"]["p50_ms"]
    return out


# ----------------------------------------------------------------------------- library choice


def compare_libraries(n: int, dim: int, queries: int = 200) -> list[dict[str, Any]]:
    """The measurement behind the choice of ANN library: usearch (f32/f16/i8), hnswlib, faiss.

    Same corpus, queries and planted duplicates for each; HNSW with connectivity 16 and
    expansion_add 128 (64 for the chosen configuration too); one query on one thread.
    """
    import faiss
    import hnswlib
    from usearch.index import Index

    data = synthetic_corpus(n + queries, dim, seed=1)
    corpus, held = data[:n], data[n:]
    dup_rows, dup_q = plant_duplicates(corpus, queries)
    ids = np.arange(n, dtype=np.int64)
    exact = ExactIndex.from_arrays(ids, corpus)
    truth, _ = exact.search(held, 10)
    found, _ = exact.search(dup_q, 10)
    exact_hit = (found == dup_rows[:, None]).any(axis=1)
    rows = []
    configs = [
        ("usearch", "f32", 128),
        ("usearch", "f16", 128),
        ("usearch", "i8", 128),
        ("usearch", "f16", 64),
        ("hnswlib", "f32", 128),
        ("faiss", "f32", 128),
    ]
    for lib, dtype, efc in configs:
        gc.collect()
        r0 = rss_mb()
        t = time.perf_counter()
        if lib == "usearch":
            ux = Index(ndim=dim, metric="ip", dtype=dtype, connectivity=16, expansion_add=efc)
            ux.add(ids, corpus, threads=0)

            def search(q: np.ndarray, k: int, ef: int, ux: Any = ux) -> np.ndarray:
                ux.expansion_search = max(ef, k)
                return np.asarray(ux.search(q, k, threads=1).keys).reshape(len(q), k)
        elif lib == "hnswlib":
            hx = hnswlib.Index(space="ip", dim=dim)
            hx.init_index(max_elements=n, M=16, ef_construction=efc, allow_replace_deleted=True)
            hx.set_num_threads(os.cpu_count() or 1)
            hx.add_items(corpus, ids)
            hx.set_num_threads(1)

            def search(q: np.ndarray, k: int, ef: int, hx: Any = hx) -> np.ndarray:
                hx.set_ef(max(ef, k))
                return np.asarray(hx.knn_query(q, k)[0])
        else:
            fx = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
            fx.hnsw.efConstruction = efc
            fx.add(corpus)
            faiss.omp_set_num_threads(1)

            def search(q: np.ndarray, k: int, ef: int, fx: Any = fx) -> np.ndarray:
                fx.hnsw.efSearch = max(ef, k)
                return np.asarray(fx.search(q, k)[1])

        build = time.perf_counter() - t
        mem = rss_mb() - r0
        for ef in (32, 64, 128):
            got = search(held, 10, ef)
            hit = (search(dup_q, 10, ef) == dup_rows[:, None]).any(axis=1)
            lat = timings(lambda q, ef=ef: search(q[None], 10, ef), held)  # noqa: B023
            rows.append(
                {
                    "library": lib,
                    "dtype": dtype,
                    "expansion_add": efc,
                    "ef": ef,
                    "build_s": build,
                    "rss_delta_mb": mem,
                    "recall10_random": recall_at(got, truth),
                    "dup_recall_vs_exact": float(hit[exact_hit].mean()),
                    "k10": lat,
                }
            )
            print(
                f"  {lib} {dtype} efc={efc} ef={ef}: build {build:.1f}s {mem:.0f} MB "
                f"recall@10 {rows[-1]['recall10_random']:.4f} dup {rows[-1]['dup_recall_vs_exact']:.4f} "
                f"p50 {lat['p50_ms']:.3f} ms",
                flush=True,
            )
        if lib == "faiss":
            faiss.omp_set_num_threads(os.cpu_count() or 1)
    return rows


# ----------------------------------------------------------------------------- pg_trgm


def sentences(data: Path) -> list[str]:
    """Real sentences and titles: UK petition actions/backgrounds, Decide Madrid titles."""
    out: list[str] = []
    with open(data / "uk_petitions" / "petitions.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out.append(row["action"])
            out += [s for s in re.split(r"(?<=[.!?])\s+", row.get("background") or "") if s]
    with open(data / "decide_madrid" / "proposals.csv", encoding="utf-8", newline="") as fh:
        out += [r["title"] for r in csv.DictReader(fh, delimiter=";")]
    return [" ".join(s.split())[:160] for s in out if len(s.split()) >= 3]


def synthetic_titles(pool: list[str], n: int, seed: int = 3) -> list[str]:
    """n titles, each two recombined halves of real sentences (word-level), like new ideas."""
    rng = random.Random(seed)
    words = [s.split() for s in pool]
    out = []
    for _ in range(n):
        a, b = rng.choice(words), rng.choice(words)
        out.append(" ".join(a[: max(2, len(a) // 2)] + b[len(b) // 2 :])[:200])
    return out


def bench_pg(n: int, titles: list[str], queries: list[str], url: str) -> dict[str, Any]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(PG_DB)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DB)))
    target = url.rsplit("/", 1)[0] + "/" + PG_DB
    res: dict[str, Any] = {"n": n}
    try:
        with psycopg.connect(target, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            db.execute("CREATE TABLE ideas (id bigint PRIMARY KEY, title text NOT NULL)")
            t = time.perf_counter()
            with db.cursor() as cur, cur.copy("COPY ideas (id, title) FROM STDIN") as cp:
                for i, title in enumerate(titles[:n]):
                    cp.write_row((i, title))
            res["load_s"] = time.perf_counter() - t
            t = time.perf_counter()
            db.execute("CREATE INDEX ideas_title_trgm ON ideas USING gin (title gin_trgm_ops)")
            db.execute("ANALYZE ideas")
            res["index_s"] = time.perf_counter() - t
            res["index_mb"] = (
                db.execute("SELECT pg_relation_size('ideas_title_trgm')").fetchone()[0] / 2**20
            )  # type: ignore[index]
            q = (
                "SELECT id, similarity(title, %s) FROM ideas WHERE title %% %s "
                "ORDER BY similarity(title, %s) DESC LIMIT 10"
            )
            res["k10"] = timings(lambda s: db.execute(q, (s, s, s)).fetchall(), queries)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(PG_DB)))
    return res


# ----------------------------------------------------------------------------- encoder


def bench_encoder(texts: list[str]) -> dict[str, Any]:
    """Default model: one-text latency and batch throughput at threads=1 and threads=2.

    Run in that order: loading sets torch's global thread count, so each setting is measured
    right after its own load.
    """
    from ml.embeddings import load_encoder

    out: dict[str, Any] = {}
    for threads in (1, 2):
        t = time.perf_counter()
        enc = load_encoder(threads=threads)
        load_s = time.perf_counter() - t
        single = timings(lambda s, enc=enc: enc.encode([s]), texts[:40])
        batch = texts[40:168]
        t = time.perf_counter()
        enc.encode(batch, batch_size=32)
        rate = len(batch) / (time.perf_counter() - t)
        out[str(threads)] = {
            "identity": enc.identity,
            "load_s": load_s,
            "single": single,
            "batch_texts_per_s": rate,
        }
        print(
            f"  encoder threads={threads}: one text p50 {single['p50_ms']:.1f} ms "
            f"p99 {single['p99_ms']:.1f} ms, batch {rate:.1f} texts/s",
            flush=True,
        )
    return out


# ----------------------------------------------------------------------------- HTTP hook


def end_to_end_http(url: str, texts: Sequence[str]) -> dict[str, Any] | None:
    """Hook: time the platform's similar-ideas request (embedding the typed text included).

    ``url`` is the running Veche instance's similar-ideas endpoint; ``texts`` the typed texts to
    send, one request each. Should return ``{"p50_ms", "p99_ms", "n"}`` measured with a warm
    server whose corpus has the size being benchmarked. Not implemented yet: returns None, and
    the summary says "not measured".
    """
    del url, texts
    return None


# ----------------------------------------------------------------------------- report


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "## Dedup: vector search, pg_trgm and the encoder",
        "",
        f"Command: `{res['command']}`  ",
        f"Machine: {res['machine']['nproc']} cores, {res['machine']['cpu']}; "
        f"load average at start {res['machine']['loadavg_start'][0]:.1f} "
        "(shared machine: other jobs were running)  ",
        f"Date: {res['date']}  ",
        f"ANN: USearch HNSW, {ANN_DTYPE}, connectivity {ANN_CONNECTIVITY}, expansion_add "
        f"{ANN_EXPANSION_ADD}, expansion_search {ANN_EXPANSION_SEARCH} (default); "
        "one query on one thread.",
        "",
        "| ideas | exact p50 / p99 ms | ANN p50 / p99 ms | exact/ANN p50 | recall@10 random | "
        "dup recall vs exact | exact build s | ANN build s | exact MB | ANN MB | "
        "pg_trgm p50 / p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in res["sizes"]:
        ex, an = s["exact"], s["ann"]
        d = an["by_ef"].get(str(ANN_EXPANSION_SEARCH)) or next(iter(an["by_ef"].values()))
        pg = s.get("pg_trgm")
        pg_txt = f"{pg['k10']['p50_ms']:.1f} / {pg['k10']['p99_ms']:.1f}" if pg else "—"
        lines.append(
            f"| {s['n']:,} | {ex['k10']['p50_ms']:.2f} / {ex['k10']['p99_ms']:.2f} | "
            f"{d['k10']['p50_ms']:.3f} / {d['k10']['p99_ms']:.3f} | "
            f"{s['ratio_exact_over_ann_p50']:.0f}× | {d['recall10_random']:.4f} | "
            f"{d['dup_recall_vs_exact']:.4f} | {ex['build_s']:.2f} | {an['build_s']:.1f} | "
            f"{ex['rss_delta_mb']:.0f} | {an['rss_delta_mb']:.0f} | {pg_txt} |"
        )
    lines += [
        "",
        "ANN by expansion_search (k=10 p50 ms, recall@10 random, dup recall vs exact; "
        "k=50 p50 ms):",
        "",
    ]
    for s in res["sizes"]:
        parts = [
            f"ef {ef}: {r['k10']['p50_ms']:.3f} ms, {r['recall10_random']:.4f}, "
            f"{r['dup_recall_vs_exact']:.4f}; k50 {r['k50']['p50_ms']:.3f} ms"
            for ef, r in s["ann"]["by_ef"].items()
        ]
        an = s["ann"]
        lines.append(
            f"- {s['n']:,}: "
            + " | ".join(parts)
            + f". Add one {an['add_one']['p50_ms']:.2f} ms, replace "
            f"{an['replace_one']['p50_ms']:.2f} ms, remove "
            f"{an['remove_one']['p50_ms']:.3f} ms (p50); save {an['save_s']:.2f} s, "
            f"load {an['load_s']:.2f} s, mmap view open {an['view_open_s']:.3f} s "
            f"(+{an['view_rss_delta_mb']:.0f} MB RSS after {an['view_k10']['n']} "
            f"queries, p50 {an['view_k10']['p50_ms']:.3f} ms)."
        )
    if res.get("libraries"):
        lines += [
            "",
            "Library choice (same corpus; connectivity 16; one query, one thread):",
            "",
            "| library | dtype | expansion_add | ef | build s | MB | recall@10 | "
            "dup recall vs exact | p50 / p99 ms |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in res["libraries"]:
            lines.append(
                f"| {r['library']} | {r['dtype']} | {r['expansion_add']} | {r['ef']} | "
                f"{r['build_s']:.1f} | {r['rss_delta_mb']:.0f} | "
                f"{r['recall10_random']:.4f} | {r['dup_recall_vs_exact']:.4f} | "
                f"{r['k10']['p50_ms']:.3f} / {r['k10']['p99_ms']:.3f} |"
            )
    enc = res.get("encoder")
    if enc:
        lines += [
            "",
            "| encoder threads | one text p50 / p99 ms | batch texts/s |",
            "|---|---|---|",
        ]
        for th, r in enc.items():
            lines.append(
                f"| {th} | {r['single']['p50_ms']:.1f} / {r['single']['p99_ms']:.1f} | "
                f"{r['batch_texts_per_s']:.1f} |"
            )
    http = res.get("http")
    lines += [
        "",
        "End-to-end HTTP similar-ideas request: "
        + (
            f"p50 {http['p50_ms']:.1f} ms, p99 {http['p99_ms']:.1f} ms"
            if http
            else "not measured yet (hook: `bench.dedup_bench.end_to_end_http(url, texts)`)."
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=300, help="random held-out queries")
    parser.add_argument("--dups", type=int, default=300, help="planted duplicate queries")
    parser.add_argument("--ef", default="64,128,256", help="expansion_search values to measure")
    parser.add_argument(
        "--exact-budget-ms",
        type=float,
        default=20_000.0,
        help="bounds the number of one-query exact searches at large sizes",
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", PG_URL))
    parser.add_argument("--pg", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--encoder", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--compare-libs",
        type=int,
        default=0,
        metavar="N",
        help="also compare usearch/hnswlib/faiss at N vectors (the choice)",
    )
    parser.add_argument("--http-url", default=None, help="similar-ideas URL for end-to-end")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--tmp", default=None, help="directory for index files")
    args = parser.parse_args(argv)
    try:
        sizes = [int(x) for x in args.sizes.split(",") if x]
        args.ef = [int(x) for x in args.ef.split(",") if x]
    except ValueError:
        print("dedup_bench: error: --sizes and --ef take comma-separated integers", file=sys.stderr)
        return 2
    res: dict[str, Any] = {
        "command": "python -m bench.dedup_bench " + shlex.join(argv or sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": [],
    }
    pool = sentences(args.data) if args.pg or args.encoder else []
    titles = synthetic_titles(pool, max(sizes)) if args.pg else []
    pg_queries = synthetic_titles(pool, 100, seed=99) if args.pg else []
    if args.compare_libs:
        print(f"libraries at {args.compare_libs:,}", flush=True)
        res["libraries"] = compare_libraries(args.compare_libs, args.dim)
    for n in sizes:
        print(f"size {n:,}", flush=True)
        row = bench_index(n, args.dim, args)
        if args.pg:
            row["pg_trgm"] = bench_pg(n, titles, pg_queries, args.pg_url)
            print(f"  pg_trgm n={n}: p50 {row['pg_trgm']['k10']['p50_ms']:.1f} ms", flush=True)
        res["sizes"].append(row)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    if args.encoder:
        rng = random.Random(7)
        res["encoder"] = bench_encoder(rng.sample(pool, 170))
    if args.http_url:
        res["http"] = end_to_end_http(args.http_url, pg_queries)
    res["machine"]["loadavg_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1))
    print()
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
