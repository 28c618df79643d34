"""Before and after: the same benchmarks on an earlier commit and on this checkout, in one run.

    python -m bench.before_after --base 88ccc40 [--rounds 2] [--only ranking,similar,cost,load]

The earlier commit is checked out in a git worktree under ``--workdir`` and gets its own virtual
environment that reuses this checkout's installed packages (a ``.pth`` file onto this venv's
site-packages, then an editable install of the worktree without dependencies), so the two sides
differ in Veche's code only: same Python, same libraries, same model files, same machine, same
minutes. The benchmarks run alternately (base, new, base, new …) so that a noisy neighbour on
the machine hits both sides alike; each figure is the median over the rounds, and the table gives
new / base for each (for times, below 1 is faster; for rates, above 1 is more).

The sizes are the quick ones (a full ``make bench`` takes hours on 2 cores): a layout change
moves no engine code, so what it can slow down is the request path, which the HTTP benchmarks
and the load run measure at these sizes as well as at the large ones. The table is printed and
written to docs/benchmarks.md between markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- before-after:begin (written by bench/before_after.py) -->"
END = "<!-- before-after:end -->"


@dataclass(frozen=True)
class Bench:
    """One benchmark: the module and its quick arguments, and the figures read off its JSON."""

    key: str
    module: str
    args: tuple[str, ...]
    json_flag: str  # the option that names the JSON file it writes
    extra: tuple[str, ...]  # options that keep it off the real docs and results
    figures: Callable[[Any], dict[str, tuple[float, str]]]  # name -> (value, "ms"|"/s")


def _ranking(d: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {
        "full recompute of all schemes, 10M votes": (d["full_recompute_s"] * 1000, "ms"),
        "incremental vote": (d["incremental_us_per_vote"] / 1000, "ms"),
        "filtered top-20": (d["top20_ms"], "ms"),
    }


def _similar(d: Any) -> dict[str, tuple[float, str]]:
    s = d[0] if isinstance(d, list) else d["sizes"][0]  # --json writes the list of sizes
    return {
        f"similar ideas over HTTP, {s['ideas']:,} ideas, p50": (s["p50_ms"], "ms"),
        f"similar ideas over HTTP, {s['ideas']:,} ideas, p99": (s["p99_ms"], "ms"),
    }


def _cost(d: dict[str, Any]) -> dict[str, tuple[float, str]]:
    out: dict[str, tuple[float, str]] = {}
    for name, row in d["paths"]["typical_bodies"].items():
        if isinstance(row, dict) and "cpu_ms" in row:
            out[f"CPU per request: {name.replace('_', ' ')}"] = (row["cpu_ms"], "ms")
    return out


def _load(d: dict[str, Any]) -> dict[str, tuple[float, str]]:
    out: dict[str, tuple[float, str]] = {}
    for backend, b in d["backends"].items():
        for phase in ("list", "list-signed-in", "votes", "votes-api"):
            for endpoint, e in b.get(phase, {}).get("endpoints", {}).items():
                out[f"{backend}: {endpoint}"] = (e["rps"], "/s")
        for endpoint, e in b.get("mixed", {}).get("endpoints", {}).items():
            out[f"{backend}: mixed load, {endpoint}, p50"] = (e["p50_ms"], "ms")
    return out


BENCHES = (
    Bench(
        "ranking",
        "bench.ranking_bench",
        ("--votes", "10000000", "--ideas", "100000", "--users", "200000", "--repeats", "3"),
        "--out",
        ("--skip-pg", "--docs", "{tmp}/ranking.md"),
        _ranking,
    ),
    Bench(
        "similar",
        "bench.similar_http",
        ("--sizes", "10000", "--requests", "100"),
        "--json",
        (),
        _similar,
    ),
    Bench(
        "cost", "bench.cost_bounds", ("--reps", "3"), "--json", ("--doc", "{tmp}/cost.md"), _cost
    ),
    Bench(
        "load",
        "bench.load",
        ("--backends", "postgres", "--duration", "20", "--phase-seconds", "10", "--clients", "100"),
        "--json",
        ("--docs", "{tmp}/load.md"),
        _load,
    ),
)


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def base_tree(ref: str, workdir: Path) -> tuple[Path, Path]:
    """A worktree of ``ref`` and a venv that runs it with this checkout's packages."""
    commit = _git("rev-parse", "--short", ref)
    tree = workdir / f"veche-{commit}"
    venv = workdir / f"venv-{commit}"
    if not tree.exists():
        _git("worktree", "add", "--detach", "--force", str(tree), commit)
    cache = tree / "bench" / ".cache"  # the synthetic city and the load template: share them
    if not cache.exists():
        (ROOT / "bench" / ".cache").mkdir(parents=True, exist_ok=True)
        cache.symlink_to(ROOT / "bench" / ".cache")
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        site = next((venv / "lib").glob("python3*/site-packages"))
        here = next(Path(p) for p in sys.path if p.endswith("site-packages") and "venv" in p)
        (site / "zz_veche_packages.pth").write_text(f"{here}\n")
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "-e", str(tree)],
            check=True,
        )
    return tree, venv / "bin" / "python"


def run_one(bench: Bench, tree: Path, python: Path, out: Path, tmp: Path) -> Any:
    out.unlink(missing_ok=True)
    extra = [a.replace("{tmp}", str(tmp)) for a in bench.extra]
    cmd = [str(python), "-m", bench.module, *bench.args, bench.json_flag, str(out), *extra]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        tail = (done.stdout + done.stderr)[-3000:]
        raise SystemExit(f"error: {' '.join(cmd)} failed in {tree}:\n{tail}")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the commit to compare with (e.g. 88ccc40)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (median taken)")
    ap.add_argument(
        "--only", default="", help="comma-separated: " + ", ".join(b.key for b in BENCHES)
    )
    ap.add_argument("--workdir", type=Path, default=Path("/tmp"))
    ap.add_argument("--docs", type=Path, default=DOCS)
    args = ap.parse_args(argv)
    chosen = [b for b in BENCHES if not args.only or b.key in args.only.split(",")]
    if not chosen:
        ap.error(f"--only: none of {args.only!r} is a benchmark here")
    base, base_py = base_tree(args.base, args.workdir)
    sides = {"base": (base, base_py), "new": (ROOT, Path(sys.executable))}
    tmp = args.workdir / "veche-before-after"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    figures: dict[str, dict[str, dict[str, list[float]]]] = {}
    units: dict[str, str] = {}
    started = time.time()
    load_start = os.getloadavg()
    # base first in even rounds, new first in odd ones: a run that follows another's writes
    # (PostgreSQL checkpoints, vacuum) must not always be the same side
    order = (("base", "new"), ("new", "base"))
    steps = [(r, b, s) for r in range(args.rounds) for b in chosen for s in order[r % 2]]
    for rnd, bench, side in tqdm(steps, desc="before/after", unit="run"):
        tree, python = sides[side]
        data = run_one(bench, tree, python, tmp / f"{bench.key}-{side}-{rnd}.json", tmp)
        for name, (value, unit) in bench.figures(data).items():
            figures.setdefault(bench.key, {}).setdefault(name, {}).setdefault(side, []).append(
                value
            )
            units[name] = unit
    rows = []
    for bench in chosen:
        for name, by_side in figures.get(bench.key, {}).items():
            b = statistics.median(by_side.get("base", [float("nan")]))
            n = statistics.median(by_side.get("new", [float("nan")]))
            unit = units[name]
            ratio = n / b if b else float("nan")
            rows.append(f"| {name} | {b:,.2f} {unit} | {n:,.2f} {unit} | {ratio:.2f} |")
    head = _git("rev-parse", "--short", "HEAD")
    dirty = (
        " (with uncommitted changes)"
        if _git("status", "--porcelain", "--untracked-files=no")
        else ""
    )
    text = "\n".join(
        [
            BEGIN,
            f"## Before and after the layout by domain (`python -m bench.before_after --base {args.base}`)",
            "",
            f"- Command: `python -m bench.before_after --base {args.base} --rounds {args.rounds}"
            + (f" --only {args.only}" if args.only else "")
            + "`; the benchmarks' quick sizes (see the module's docstring), alternating base and new.",
            f"- Base: `{_git('rev-parse', '--short', args.base)}`; new: `{head}`{dirty}.",
            f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {platform.platform()}.",
            f"- Date: {datetime.now(UTC).isoformat(timespec='seconds')}; whole run "
            f"{time.time() - started:,.0f} s; load average at start {load_start[0]:.1f}.",
            "- Each figure is the median of the rounds; ratio = new / base (times: below 1 is faster;"
            " rates /s: above 1 is more).",
            "",
            "| Measure | Base | New | Ratio |",
            "|---|---|---|---|",
            *rows,
            END,
        ]
    )
    print(text)
    doc = args.docs.read_text(encoding="utf-8") if args.docs.exists() else ""
    if BEGIN in doc and END in doc:
        doc = doc[: doc.index(BEGIN)] + text + doc[doc.index(END) + len(END) :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    args.docs.write_text(doc, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
