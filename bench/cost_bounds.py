"""Cost bounds of the expensive anonymous paths (``make bench-cost``; issue #12, point 3).

With the REAL default model (veche-embedded-v1, weights from the pip packages) and the real
lookup path (``SimilarityService.similar`` and ``.like`` on a SQLite database built with the
real migrations, as the views call them), it measures the CPU time per request (process CPU
time, every thread counted) of:

* the similar-ideas lookup (the API, the live suggestions, the check before publishing) for a
  typical typed idea and for the worst text the caps allow: 2,000 characters that tokenise at
  a token or more per character (random CJK ideographs; Russian or English text is ~4 characters
  a token), which the lookup cuts to one window of the model's tokens, uncached and cached;
* search by meaning on the browse page (200 characters at most), typical and worst, uncached
  and cached, against ideas with typical bodies and against ideas whose bodies are all 10,000
  characters (the re-ranking reads the candidates' texts);
* the baseline, in the same run: the encoder called directly with today's uncapped
  10,000-character text (the API accepted 10,001 characters), realistic and worst;
* the duplicate queue's word diff of four 10,000-character bodies, bounded vs the unbounded
  ``difflib`` of before.

It states worst-case CPU per client per minute = worst case per request × the requests a client
may make per minute (the ``similar`` bucket counts one hit per started 128 model tokens; the
``search`` bucket one per uncached search). Writes ``bench/results/cost_bounds.json`` and its
section of ``docs/benchmarks.md``.

    python -m bench.cost_bounds [--quick] [--ideas 1000] [--reps 5]
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- cost:begin (written by bench/cost_bounds.py) -->"
END = "<!-- cost:end -->"

TYPED = (
    "Велодорожка вдоль набережной\nПостроить безопасную велодорожку вдоль всей набережной, "
    "отделённую от машин бордюром, с освещением и парковками для велосипедов у станций метро."
)
QUERY = "велодорожка вдоль набережной"


def real_texts() -> list[tuple[str, str]]:
    rows = []
    path = ROOT / "webapp" / "data" / "demo" / "uk_petitions.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            body = " ".join(x for x in (r.get("background"), r.get("additional_details")) if x)
            rows.append((str(r["action"])[:200], body or str(r["action"])))
    return rows


def adversarial(n: int, seed: int) -> str:
    """``n`` random CJK ideographs: one e5 token each (the densest text we found)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n))


def realistic(n: int, texts: list[tuple[str, str]], seed: int) -> str:
    rng = random.Random(seed)
    out = ""
    while len(out) < n:
        out += " ".join(rng.choice(texts)) + " "
    return out[:n]


def cpu(fn: Callable[[], Any], reps: int) -> dict[str, float]:
    """Median and max process CPU seconds (all threads) and wall seconds of ``fn``."""
    cpus, walls = [], []
    for _ in range(reps):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return {
        "cpu_ms": round(1000 * statistics.median(cpus), 1),
        "cpu_ms_max": round(1000 * max(cpus), 1),
        "wall_ms": round(1000 * statistics.median(walls), 1),
    }


def build(path: Path, ideas: int, body_chars: int | None, identity: str, dim: int) -> str:
    """A database with ``ideas`` published ideas (real texts; bodies padded to ``body_chars``)
    and one stored vector each (synthetic: the search cost does not depend on the vector)."""
    import sqlite3

    from webapp.kernel.storage.migrate import upgrade

    url = f"sqlite:///{path}"
    upgrade(url)
    texts = real_texts()
    rng = np.random.default_rng(7)
    vec = rng.standard_normal((ideas, dim)).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db = sqlite3.connect(path)
    rows = []
    for i in range(ideas):
        title, body = texts[i % len(texts)]
        if body_chars:
            body = realistic(body_chars, texts, i)
        rows.append((i + 1, f"{title} {i}", body, now, now))
    db.executemany(
        "INSERT INTO ideas (id, title, body, language, status, support_count, oppose_count,"
        " comment_count, viewer_count, search_doc, created_at, updated_at)"
        " VALUES (?, ?, ?, 'en', 'published', 0, 0, 0, 0, '', ?, ?)",
        rows,
    )
    db.executemany(
        "INSERT INTO idea_embeddings (idea_id, model, dim, vector, text_hash, idea_updated_at,"
        " created_at) VALUES (?, ?, ?, ?, '', ?, ?)",
        [(i + 1, identity, dim, vec[i].tobytes(), now, now) for i in range(ideas)],
    )
    db.commit()
    db.close()
    return url


def old_diff(reference: str, text: str) -> int:
    """The duplicate queue's diff before the fix (difflib, no autojunk, no bound)."""
    from ml.text import normalise
    from webapp.dedup.views.diff import _is_word, _words

    ref = [normalise(t) for t in _words(reference) if _is_word(t)]
    keys = [normalise(t) for t in _words(text) if _is_word(t)]
    matcher = difflib.SequenceMatcher(None, ref, keys, autojunk=False)
    return len(matcher.get_opcodes())


def bench_diff(quick: bool) -> dict[str, Any]:
    from webapp.dedup.views.diff import DiffBudget, diff_tokens

    ref = ("а б " * 2500)[:10_000]
    copies = [
        ("б а " * 2500)[:10_000],
        ("а б " * 2400 + "в г " * 100)[:10_000],
        ("б а " * 1250 + "а б " * 1250)[:10_000],
    ]
    started = time.process_time()
    budget = DiffBudget()
    for body in copies:
        diff_tokens(ref, body, budget)
    new = time.process_time() - started
    out: dict[str, Any] = {"bodies": 4, "chars": 10_000, "bounded_cpu_s": round(new, 3)}
    if not quick:  # the unbounded baseline takes several seconds
        started = time.process_time()
        for body in copies:
            old_diff(ref, body)
        out["difflib_cpu_s"] = round(time.process_time() - started, 3)
        out["ratio"] = round(out["difflib_cpu_s"] / max(new, 1e-6), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a dry run: small corpus, 2 reps")
    parser.add_argument("--ideas", type=int, default=1000, help="ideas in each corpus")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each measure")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "cost_bounds.json"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.ideas, args.reps = min(args.ideas, 300), 2

    from ml.evaluate import machine
    from ml.finder import DuplicateFinder
    from webapp.dedup.engine import SimilarityService
    from webapp.dedup.similar_ideas import CHARGE_TOKENS, QUERY_MAX_CHARS
    from webapp.dedup.views.similar import LIKE_WINDOW
    from webapp.kernel.settings import RATE_LIMIT_BUCKETS, Settings
    from webapp.kernel.storage.db import make_engine, make_session_factory

    started_at = time.perf_counter()
    info = machine()
    t0 = time.perf_counter()
    finder = DuplicateFinder.load()
    load_s = time.perf_counter() - t0
    texts = real_texts()
    reps = args.reps
    res: dict[str, Any] = {
        "command": "python -m bench.cost_bounds" + (" --quick" if args.quick else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": info,
        "model": finder.identity,
        "model_load_s": round(load_s, 1),
        "ideas": args.ideas,
        "reps": reps,
        "caps": {
            "similar_chars": QUERY_MAX_CHARS,
            "search_chars": 200,
            "charge_tokens": CHARGE_TOKENS,
        },
    }
    finder.embed(["warm-up"])
    n = [0]

    def fresh(text: str) -> str:
        """A text nobody asked before (the cache must miss), as long as ``text``."""
        n[0] += 1
        tag = f"{n[0]} "
        return tag + text[: len(text) - len(tag)]

    # --- the baseline: today's uncapped 10,000 characters straight into the encoder ---------
    base_real = realistic(10_000, texts, 1)
    base_worst = adversarial(10_000, 1)
    res["baseline"] = {
        "realistic_10000": cpu(lambda: finder.embed([fresh(base_real)]), reps),
        "worst_10000": cpu(lambda: finder.embed([fresh(base_worst)]), reps),
    }
    print("baseline", res["baseline"], flush=True)
    typical_len = len(TYPED)
    res["encoder"] = {
        "typical": cpu(lambda: finder.embed([fresh(TYPED)]), reps),
        "realistic_2000": cpu(lambda: finder.embed([fresh(realistic(2000, texts, 2))]), reps),
        "worst_2000": cpu(lambda: finder.embed([fresh(adversarial(2000, 2))]), reps),
        "worst_500": cpu(lambda: finder.embed([fresh(adversarial(500, 3))]), reps),
        "worst_200": cpu(lambda: finder.embed([fresh(adversarial(200, 4))]), reps),
    }
    print("encoder", res["encoder"], flush=True)

    worst2000 = adversarial(2000, 5)
    worst200 = adversarial(200, 6)
    with tempfile.TemporaryDirectory() as tmp:
        corpora: dict[str, Any] = {}
        for name, body_chars in (("typical_bodies", None), ("10000_char_bodies", 10_000)):
            url = build(
                Path(tmp) / f"{name}.db", args.ideas, body_chars, finder.identity, finder.dim
            )
            settings = replace(Settings(), database_url=url, environment="development")
            engine = make_engine(settings)
            factory = make_session_factory(engine)
            svc = SimilarityService(settings, factory, finder=finder)
            svc.load()

            def similar(text: str, svc: Any = svc, factory: Any = factory) -> None:
                with factory() as s:
                    svc.similar(s, text, k=5)

            def like(text: str, svc: Any = svc, factory: Any = factory) -> None:
                with factory() as s:
                    svc.like(s, text, limit=LIKE_WINDOW, offset=0)

            out: dict[str, Any] = {
                "similar_typical_uncached": cpu(lambda: similar(fresh(TYPED)), reps),
                "similar_worst_uncached": cpu(lambda: similar(fresh(worst2000)), reps),
                "similar_worst_500_uncached": cpu(lambda: similar(fresh(worst2000[:500])), reps),
                "search_typical_uncached": cpu(lambda: like(fresh(QUERY)), reps),
                "search_worst_uncached": cpu(lambda: like(fresh(worst200)), reps),
            }
            # hits of the similar bucket each text costs (one per started 128 model tokens)
            out["hits"] = {
                "typical": svc.charge(TYPED),
                "worst_2000": svc.charge(worst2000),
                "worst_500": svc.charge(worst2000[:500]),
            }
            similar(TYPED)
            like(QUERY)
            encodes = svc.encodes
            out["similar_typical_cached"] = cpu(lambda: similar(TYPED), reps)
            out["search_typical_cached"] = cpu(lambda: like(QUERY), reps)
            out["cached_encodes"] = svc.encodes - encodes
            corpora[name] = out
            print(name, out, flush=True)
            engine.dispose()
        res["paths"] = corpora

    limits = Settings().rate_limits
    sim_limit, search_limit = limits["similar"], limits["search"]
    assert "search" in RATE_LIMIT_BUCKETS
    worst_paths = [c for c in res["paths"].values()]
    # per request: the worst of both corpora
    sim_2000 = max(
        c[k]["cpu_ms"]
        for c in worst_paths
        for k in ("similar_worst_uncached", "similar_typical_uncached")
    )
    sim_500 = max(c["similar_worst_500_uncached"]["cpu_ms"] for c in worst_paths)
    search_worst = max(
        c[k]["cpu_ms"]
        for c in worst_paths
        for k in ("search_worst_uncached", "search_typical_uncached")
    )
    # a client may make limit // hits(text) lookups of a text per minute
    hits = res["paths"]["typical_bodies"]["hits"]
    per_minute_sim = max(
        sim_2000 * (sim_limit // hits["worst_2000"]), sim_500 * (sim_limit // hits["worst_500"])
    )
    before_req = res["baseline"]["worst_10000"]["cpu_ms"]
    res["bounds"] = {
        "similar_limit_per_minute": sim_limit,
        "search_limit_per_minute": search_limit,
        "similar_worst_request_cpu_ms": sim_2000,
        "similar_worst_per_client_minute_cpu_s": round(per_minute_sim / 1000, 1),
        "search_worst_request_cpu_ms": search_worst,
        "search_worst_per_client_minute_cpu_s": round(search_worst * search_limit / 1000, 1),
        "before_worst_request_cpu_ms": before_req,
        "before_worst_per_client_minute_cpu_s": round(before_req * sim_limit / 1000, 1),
        "ratio_request": round(before_req / max(sim_2000, 1e-6), 1),
        "ratio_client_minute": round(before_req * sim_limit / max(per_minute_sim, 1e-6), 1),
        "similar_concurrency_per_worker": Settings().similar_concurrency,
        "typical_chars": typical_len,
    }
    res["diff"] = bench_diff(args.quick)
    print("diff", res["diff"], flush=True)
    res["total_s"] = round(time.perf_counter() - started_at, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
    from bench.report import replace_section

    replace_section(Path(args.doc), BEGIN, END, section(res))
    print(json.dumps(res["bounds"], indent=2))
    return 0


def section(res: dict[str, Any]) -> str:
    m = res["machine"]
    b = res["bounds"]
    base = res["baseline"]
    enc = res["encoder"]
    lines = [
        BEGIN,
        "## Cost bounds of the expensive anonymous paths (`make bench-cost`)",
        "",
        f"- Command: `{res['command']}` (`make bench-cost`; `--quick` for a dry run); results in "
        "`bench/results/cost_bounds.json`.",
        f"- Machine: {m.get('cpu')}, {m.get('cpus')} CPUs, Python {m.get('python')}; load average "
        f"at start {m.get('load_average_at_start')} (other jobs shared the cores when above ~0.5;"
        " CPU time counts only this process but is inflated by contention).",
        f"- Date: {res['date']}; whole run {res['total_s']} s. Model: `{res['model']}` (the real "
        f"default, weights from the pip packages). {res['ideas']:,} published ideas per corpus "
        "(real petition titles; bodies real, or padded with real text to 10,000 characters), "
        f"stored vectors synthetic; median of {res['reps']} requests, process CPU time "
        "(every thread).",
        "- Worst input allowed by the caps: random CJK ideographs, one e5 token per character "
        "(Russian or English text is about 4.2 characters a token).",
        "",
        "| path | input | CPU ms (uncached) | CPU ms (cached) |",
        "|---|---|---|---|",
    ]
    for corpus, c in res["paths"].items():
        label = "typical bodies" if corpus == "typical_bodies" else "10,000-character bodies"
        lines += [
            f"| similar ideas (API, typing, check), {label} | typical idea ({b['typical_chars']} "
            f"chars) | {c['similar_typical_uncached']['cpu_ms']} | "
            f"{c['similar_typical_cached']['cpu_ms']} |",
            f"| similar ideas, {label} | worst, 500 chars | "
            f"{c['similar_worst_500_uncached']['cpu_ms']} | — |",
            f"| similar ideas, {label} | worst, 2,000 chars (the cap) | "
            f"{c['similar_worst_uncached']['cpu_ms']} | — |",
            f"| search by meaning, {label} | typical query | {c['search_typical_uncached']['cpu_ms']}"
            f" | {c['search_typical_cached']['cpu_ms']} |",
            f"| search by meaning, {label} | worst, 200 chars (the cap) | "
            f"{c['search_worst_uncached']['cpu_ms']} | — |",
        ]
    cached_encodes = [c["cached_encodes"] for c in res["paths"].values()]
    lines += [
        f"| **baseline**: encoder alone, today's uncapped text | realistic, 10,000 chars | "
        f"{base['realistic_10000']['cpu_ms']} | — |",
        f"| **baseline**: encoder alone, today's uncapped text | worst, 10,000 chars | "
        f"{base['worst_10000']['cpu_ms']} | — |",
        "",
        f"Encoder alone: typical idea {enc['typical']['cpu_ms']} ms, realistic 2,000 characters "
        f"{enc['realistic_2000']['cpu_ms']} ms, worst 200/500/2,000 characters "
        f"{enc['worst_200']['cpu_ms']}/{enc['worst_500']['cpu_ms']}/{enc['worst_2000']['cpu_ms']}"
        f" ms. Cached repeats called the encoder {sum(cached_encodes)} times.",
        "",
        "| bound | before | now | ratio |",
        "|---|---|---|---|",
        f"| worst CPU per similar-ideas request | {b['before_worst_request_cpu_ms']:,} ms "
        f"(10,000 chars accepted) | {b['similar_worst_request_cpu_ms']:,} ms (2,000 chars) | "
        f"{b['ratio_request']}× |",
        f"| worst CPU per client per minute, similar ideas | "
        f"{b['before_worst_per_client_minute_cpu_s']} s ({b['similar_limit_per_minute']} requests)"
        f" | {b['similar_worst_per_client_minute_cpu_s']} s ({b['similar_limit_per_minute']} hits, "
        f"one per started {res['caps']['charge_tokens']} model tokens) | {b['ratio_client_minute']}× |",
        f"| worst CPU per client per minute, search by meaning | unlimited | "
        f"{b['search_worst_per_client_minute_cpu_s']} s ({b['search_limit_per_minute']} uncached "
        f"searches × {b['search_worst_request_cpu_ms']} ms) | — |",
        f"| lookups embedding at once per worker | unbounded (queued on the encoder's lock "
        f"inside a database transaction) | {b['similar_concurrency_per_worker']} "
        "(others wait ≤ 2 s, then 503 + Retry-After) | — |",
    ]
    d = res["diff"]
    if "difflib_cpu_s" in d:
        lines.append(
            f"| duplicate queue: word diff of four 10,000-char bodies | {d['difflib_cpu_s']} s "
            f"(difflib) | {d['bounded_cpu_s']} s (bounded Myers) | {d['ratio']}× |"
        )
    else:
        lines.append(
            f"| duplicate queue: word diff of four 10,000-char bodies | — (quick run) | "
            f"{d['bounded_cpu_s']} s | — |"
        )
    lines += ["", END, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
