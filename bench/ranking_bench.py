"""`make bench-ranking`: Veche's ranking snapshot against a SQL GROUP BY on a synthetic city.

Measures, on the synthetic city of ``bench.synthetic_city`` (default 100M votes):

- full recompute of all schemes (``Snapshot.build``), best of ``--repeats``, and the peak RSS of
  the process doing it (a fresh subprocess that loads the cached arrays and builds; the arrays
  themselves are part of that peak, the generator's memory is not);
- incremental update per vote (``Snapshot.apply_vote`` over ``--incremental`` random new votes);
- top-20 read of a filtered list (``Snapshot.top(scheme, mask, k=20)``), median over random
  category/district/status filters, after the incremental updates (dirty-set path);
- the baseline in the same run, at ``--pg-votes`` (10M) votes: PostgreSQL ``GROUP BY`` per page
  view over an indexed votes table, against Veche's per-page-view cost on the same city.

Writes ``bench/results/ranking.json`` and the ranking section of ``docs/benchmarks.md``.
Quick mode for development: ``python -m bench.ranking_bench --votes 1000000 --pg-votes 1000000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import inspect
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.synthetic_city import STATUSES, City, CityConfig, cache_path, describe, load_city

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "ranking.json"
DOCS = ROOT / "docs" / "benchmarks.md"
TARGETS = {
    "full_recompute_s": ("<=", 3.0),
    "peak_rss_gb": ("<=", 4.0),
    "incremental_us_per_vote": ("<=", 50.0),
    "top20_ms": ("<=", 5.0),
    "pg_groupby_ratio": (">=", 20.0),
}
FILTER_SEED = 7


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_gb() -> float:
    """Current resident set size of this process (GB, 10^9 bytes)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def city_config(args: argparse.Namespace, votes: int) -> CityConfig:
    return CityConfig(n_ideas=args.ideas, n_votes=votes, n_users=args.users)


def make_filters(city: City, count: int) -> list[Any]:
    from bench.pg_baseline import random_filters

    return random_filters(
        np.random.default_rng(FILTER_SEED), count, city.config.n_categories,
        city.config.n_districts, len(STATUSES),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The Veche side, run in a fresh subprocess per city size.


def _call_build(Snapshot: Any, city: City, wc: Any, rc: Any, suspicion: Any = None) -> Any:
    params = inspect.signature(Snapshot.build).parameters
    kw: dict[str, Any] = {}
    by_name = {
        "votes": city.votes, "users": city.users, "ideas": city.ideas, "geo": city.geo,
        "geography": city.geo, "weight_config": wc, "weights": wc, "ranking_config": rc,
        "config": rc, "now": float(city.now), "suspicion": suspicion,
    }  # fmt: skip
    for name in params:
        if name in ("cls", "self"):
            continue
        if name in by_name:
            kw[name] = by_name[name]
    return Snapshot.build(**kw)


def _vote_caller(snap: Any) -> Any:
    fn = snap.apply_vote
    names = [n for n in inspect.signature(fn).parameters]
    aliases = {
        "idea": "idea", "user": "user", "value": "value", "time": "time", "t": "time",
        "when": "time", "at": "time", "now": "time", "delta": "delta",
    }  # fmt: skip
    keys = [aliases.get(n) for n in names]

    def call(idea: int, user: int, value: int, when: int) -> Any:
        row = {"idea": idea, "user": user, "value": value, "time": when, "delta": 1}
        return fn(**{n: row[k] for n, k in zip(names, keys, strict=True) if k is not None})

    return call


def _top(snap: Any, scheme: str, mask: Any, k: int = 20) -> Any:
    """``snap.top``; ``random`` gets a visitor's seed (the platform passes one per visitor)."""
    if scheme == "random":
        return snap.top(scheme, mask, k=k, seed=12345)
    return snap.top(scheme, mask, k=k)


def numpy_floor(city: City) -> dict[str, float]:
    """Seconds of single NumPy passes over all votes: what any full recompute is built from.

    A full recompute needs at least a few of each (gathers of per-user and per-idea factors,
    weighted ``bincount`` per aggregate, a decay per vote), so these bound it from below.
    """
    v = city.votes
    n_ideas = len(city.ideas)
    rng = np.random.default_rng(3)
    user_table = rng.random(len(city.users))
    w = np.ones(len(v))
    okrug = city.geo.okrug_of[np.maximum(city.users.district, 0)].astype(np.int64)
    out: dict[str, float] = {}

    def timed(name: str, fn: Any) -> None:
        t0 = time.perf_counter()
        fn()
        out[name] = round(time.perf_counter() - t0, 3)

    timed("bincount(idea)", lambda: np.bincount(v.idea, minlength=n_ideas))
    timed("bincount(idea, float64 weights)", lambda: np.bincount(v.idea, w, minlength=n_ideas))
    timed("gather float64 per-user table[user]", lambda: user_table[v.user])
    timed("gather int16 per-idea table[idea]", lambda: city.ideas.district[v.idea])
    timed("exp2 over float64 votes", lambda: np.exp2(w))
    timed("multiply two float64 vote arrays", lambda: w * w)
    cell = v.idea.astype(np.int64) * 13 + okrug[v.user]
    t0 = time.perf_counter()
    np.bincount(cell, w, minlength=n_ideas * 13)
    out["bincount(idea x okrug, weights), 13M cells"] = round(time.perf_counter() - t0, 3)
    del cell
    order = np.argsort(v.idea, kind="stable")
    idea_sorted = v.idea[order]
    del order
    timed("bincount(idea, weights), rows sorted by idea",
          lambda: np.bincount(idea_sorted, w, minlength=n_ideas))  # fmt: skip
    return out


def veche_worker(args: argparse.Namespace) -> dict[str, Any]:
    import cProfile
    import pstats

    from ranking.scores import SCHEMES, RankingConfig
    from ranking.snapshot import Snapshot
    from ranking.weights import WeightConfig

    cfg = city_config(args, args.votes)
    city = load_city(cfg, args.data, progress=False)
    out: dict[str, Any] = {"votes": len(city.votes), "rss_after_load_gb": rss_gb()}
    wc, rc = WeightConfig(), RankingConfig()
    # Full recompute: best of N, the previous snapshot released before the next build.
    times = []
    snap: Any = None
    for i in range(args.repeats):
        snap = None
        gc.collect()
        t0 = time.perf_counter()
        snap = _call_build(Snapshot, city, wc, rc)
        times.append(time.perf_counter() - t0)
        say(f"    build {i + 1}/{args.repeats}: {times[-1]:.2f} s (rss {rss_gb():.2f} GB)")
    out["full_recompute_s"] = min(times)
    out["full_recompute_all_s"] = times
    out["peak_rss_gb"] = peak_rss_gb()
    out["rss_with_snapshot_gb"] = rss_gb()
    # First read of every scheme (sorts it, if the snapshot sorts lazily).
    per_scheme = {}
    for scheme in SCHEMES:
        t0 = time.perf_counter()
        try:
            top = _top(snap, scheme, None)
            per_scheme[scheme] = {"first_top20_ms": (time.perf_counter() - t0) * 1000,
                                  "top3": [int(x) for x in np.asarray(top)[:3]]}  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - report, keep measuring the rest
            per_scheme[scheme] = {"error": repr(exc)}
    out["per_scheme"] = per_scheme
    # Profile of one more build (not timed), top entries by cumulative time.
    if args.profile:
        snap = None
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        snap = _call_build(Snapshot, city, wc, rc)
        prof.disable()
        stats = pstats.Stats(prof)
        rows = []
        for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            rows.append((ct, tt, nc, f"{Path(file).name}:{line}({func})"))
        rows.sort(reverse=True)
        out["profile_cumulative"] = [
            {"cum_s": round(ct, 3), "own_s": round(tt, 3), "calls": nc, "function": name}
            for ct, tt, nc, name in rows[:25]
        ]
    # Incremental: random new votes, ideas in proportion to their popularity, after `now`.
    rng = np.random.default_rng(11)
    n_inc = args.incremental
    ideas = city.votes.idea[rng.integers(0, len(city.votes), n_inc)]
    users = rng.integers(0, len(city.users), n_inc)
    values = np.where(rng.random(n_inc) < cfg.oppose_share, -1, 1)
    when = city.now + np.arange(1, n_inc + 1)
    call = _vote_caller(snap)
    rows_py = list(zip(ideas.tolist(), users.tolist(), values.tolist(), when.tolist(), strict=True))
    done = 0
    t0 = time.perf_counter()
    deadline = t0 + args.incremental_budget_s
    for idea, user, value, t in rows_py:
        call(idea, user, value, t)
        done += 1
        if not done % 1000 and time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - t0
    out["incremental_votes"] = done
    out["incremental_us_per_vote"] = elapsed / done * 1e6
    say(f"    incremental: {done:,} votes, {out['incremental_us_per_vote']:.1f} µs/vote")
    # Top-20 of filtered lists, with the dirty set non-empty: a few more votes between reads.
    filters = make_filters(city, args.filters)
    masks = [f.mask(city) for f in filters]
    extra = iter(rows_py[::-1])
    top_ms, with_mask_ms, unfiltered_ms = [], [], []
    by_scheme: dict[str, list[float]] = {s: [] for s in SCHEMES}
    for i, (f, m) in enumerate(zip(filters, masks, strict=True)):
        for _ in range(10):
            idea, user, value, t = next(extra)
            call(idea, user ^ 1, value, t + n_inc)
        t0 = time.perf_counter()
        snap.top("top", m, k=20)
        top_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        snap.top("top", f.mask(city), k=20)
        with_mask_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        snap.top("top", None, k=20)
        unfiltered_ms.append((time.perf_counter() - t0) * 1000)
        scheme = SCHEMES[i % len(SCHEMES)]
        t0 = time.perf_counter()
        try:
            _top(snap, scheme, m)
            by_scheme[scheme].append((time.perf_counter() - t0) * 1000)
        except Exception:  # noqa: BLE001, S110 - reported as missing by the per-scheme step
            pass
    out["top20_ms"] = statistics.median(top_ms)
    out["top20_p95_ms"] = float(np.percentile(top_ms, 95))
    out["top20_with_mask_ms"] = statistics.median(with_mask_ms)
    out["top20_unfiltered_ms"] = statistics.median(unfiltered_ms)
    out["top20_ms_by_scheme"] = {s: statistics.median(v) for s, v in by_scheme.items() if v}
    out["top20_filters"] = len(filters)
    # `random` with a fresh visitor seed per call (every new visitor), and deeper pages of `top`.
    fresh_seed: dict[str, list[float]] = {"unfiltered": [], "filtered": []}
    for seed in range(1, 21):
        for name, m in (("unfiltered", None), ("filtered", masks[seed % len(masks)])):
            t0 = time.perf_counter()
            snap.top("random", m, k=20, seed=1000 + seed)
            fresh_seed[name].append((time.perf_counter() - t0) * 1000)
    out["random_new_seed_ms"] = {k: statistics.median(v) for k, v in fresh_seed.items()}
    pages = []
    for i, off in enumerate(range(20, 2020, 100)):
        t0 = time.perf_counter()
        snap.top("top", masks[i % len(masks)], k=20, offset=off)
        pages.append((time.perf_counter() - t0) * 1000)
    out["top20_deeper_pages_ms"] = statistics.median(pages)
    out["peak_rss_gb_end"] = peak_rss_gb()
    say(f"    top-20: median {out['top20_ms']:.3f} ms (with mask {out['top20_with_mask_ms']:.3f})")
    if args.profile:
        snap = None
        gc.collect()
        out["numpy_floor_s"] = numpy_floor(city)
        say(f"    numpy passes over all votes (s): {out['numpy_floor_s']}")
    return out


def run_worker(args: argparse.Namespace, votes: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.ranking_bench", "--worker", "--votes", str(votes),
           "--ideas", str(args.ideas), "--users", str(args.users), "--repeats", str(args.repeats),
           "--incremental", str(args.incremental), "--filters", str(args.filters),
           "--incremental-budget-s", str(args.incremental_budget_s)]  # fmt: skip
    if args.data:
        cmd += ["--data", str(args.data)]
    if args.profile:
        cmd.append("--profile")
    say(f"  veche worker at {votes:,} votes (fresh process)")
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        return {"error": f"worker exited with {proc.returncode}", "votes": votes}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------------------------
# Orchestration, results, docs.


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    return {
        "cpu": model, "cores": os.cpu_count(), "ram_gb": round(mem_kb * 1024 / 1e9, 1),
        "python": platform.python_version(), "numpy": np.__version__,
        "kernel": platform.release(),
    }  # fmt: skip


def ensure_city(args: argparse.Namespace, votes: int) -> dict[str, Any]:
    cfg = city_config(args, votes)
    folder, _sig, _src = cache_path(cfg, args.data)
    say(
        f"  city at {votes:,} votes: {'cached' if (folder / 'meta.json').is_file() else 'generating'}"
    )
    city = load_city(cfg, args.data)
    info = describe(city)
    info["generated_s"] = round(city.generated_s, 1)
    return info


def engine_version() -> dict[str, Any]:
    """The commit the engine was measured at, and whether ranking/ had uncommitted changes."""

    def git(*a: str) -> str:
        proc = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "ranking_last_commit": git("log", "-1", "--format=%h %s", "--", "ranking"),
        "ranking_uncommitted": git("status", "--porcelain", "--", "ranking").splitlines(),
    }


def verdicts(res: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, (op, bound) in TARGETS.items():
        value = res.get(key)
        ok = None if value is None else (value <= bound if op == "<=" else value >= bound)
        out[key] = {"target": f"{op} {bound:g}", "value": value, "pass": ok}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=100_000_000)
    parser.add_argument("--ideas", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--pg-votes", type=int, default=10_000_000)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="UK petitions data (default $VECHE_DATA_DIR or ../shared/data)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--incremental", type=int, default=100_000)
    parser.add_argument("--incremental-budget-s", type=float, default=60.0)
    parser.add_argument("--filters", type=int, default=200)
    parser.add_argument("--pg-filters", type=int, default=20)
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)  # fmt: skip

    if args.worker:
        print(json.dumps(veche_worker(args)))
        return 0

    started = dt.datetime.now(dt.UTC)
    t_all = time.perf_counter()
    say(f"ranking benchmark: {args.votes:,} votes, {args.ideas:,} ideas, {args.users:,} users")
    res: dict[str, Any] = {
        "benchmark": "ranking",
        "load_average_at_start": os.getloadavg(),
        "date": started.isoformat(timespec="seconds"),
        "command": ("python -m bench.ranking_bench " + shlex.join(argv or sys.argv[1:])).strip(),
        "machine": machine(),
        "engine": engine_version(),
        "votes": args.votes,
    }
    res["city"] = ensure_city(args, args.votes)
    gc.collect()
    full = run_worker(args, args.votes)
    res["veche"] = full
    for key in ("full_recompute_s", "peak_rss_gb", "incremental_us_per_vote", "top20_ms"):
        res[key] = full.get(key)
    # The 10M comparison.
    if not args.skip_pg:
        small_info = ensure_city(args, args.pg_votes)
        small = full if args.pg_votes == args.votes else run_worker(args, args.pg_votes)
        from bench.pg_baseline import TOP_SQL, run_baseline

        city = load_city(city_config(args, args.pg_votes), args.data, progress=False)
        filters = make_filters(city, args.filters)[: args.pg_filters]
        say(f"  PostgreSQL baseline at {args.pg_votes:,} votes")
        pg = run_baseline(city, args.pg_url, filters)
        del city
        cmp: dict[str, Any] = {"votes": args.pg_votes, "city": small_info, "veche": small,
                               "postgres": pg, "sql": TOP_SQL}  # fmt: skip
        if "error" not in small:
            veche_filtered = small["top20_with_mask_ms"]
            cmp["ratio_filtered"] = pg["filtered_ms"] / veche_filtered
            cmp["ratio_unfiltered"] = pg["top_ms"] / small["top20_unfiltered_ms"]
            cmp["full_recompute_vs_one_groupby"] = small["full_recompute_s"] * 1000 / pg["top_ms"]
            res["pg_groupby_ratio"] = min(cmp["ratio_filtered"], cmp["ratio_unfiltered"])
        res["pg_comparison"] = cmp
    res["notes"] = [
        "full_recompute_s: wall seconds of Snapshot.build (weights, aggregates, every scheme's "
        "scores and order), best of the repeats, with default WeightConfig/RankingConfig and no "
        "suspicion; signals (ranking.signals) are not part of it.",
        "peak_rss_gb: ru_maxrss of a fresh process that loads the cached input arrays "
        f"({res['votes'] * 17 / 1e9:.1f} GB at 17 bytes a vote) and builds the snapshot "
        "(repeats release the previous snapshot first); the generator's memory is not counted.",
        "incremental_us_per_vote: Snapshot.apply_vote(delta=+1) of new votes after `now`, ideas "
        "drawn in proportion to their votes, users uniform.",
        "top20_ms: Snapshot.top('top', mask, k=20) with a prebuilt mask (category / district / "
        "status filters), median, after 100k incremental votes and 10 more between reads.",
        "pg_groupby_ratio: min(filtered, unfiltered) of PostgreSQL GROUP BY median / Veche per "
        "page view (mask building included for the filtered case) at the PostgreSQL size.",
    ]
    res["load_average_at_end"] = os.getloadavg()
    res["targets"] = verdicts(res)
    res["total_s"] = round(time.perf_counter() - t_all, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    say(f"  wrote {args.out}")
    from bench.report import write_docs

    write_docs(res, args.docs)
    say(f"  updated {args.docs}")
    for key, v in res["targets"].items():
        say(f"  {key:26} {v['value']!s:>24}  target {v['target']:8}  "
            f"{'PASS' if v['pass'] else 'MISS' if v['pass'] is False else '—'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
