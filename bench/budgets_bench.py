"""`make bench-budgets`: Veche's budget rules against pabutools on a Warsaw-sized election.

Instances:

- **Warsaw 2023 pooled**: the 18 district files of ``--pabulib-dir`` as one city-wide
  election (projects of all districts, voters of all districts, budget = the sum of the
  districts' budgets; a voter approves only projects of their district);
- **synthetic** ``--voters`` x ``--projects`` (default 1,000,000 x 2,000): Zipf-like project
  popularity (weight ``1 / r**0.8``), 3-10 approvals per voter, log-normal costs (median
  300,000, sigma 1), budget 20 % of the total cost.

Rules: greedy, and the Method of Equal Shares with cost utilities — ``add1-greedy`` (the
usual completion, Wieliczka's), ``none`` (one run), and ``add1`` stopping at the first
exhaustive outcome, which is exactly ``pabutools``' ``method_of_equal_shares(...,
voter_budget_increment=1)`` (the outcomes are compared).  ``pabutools`` 1.2.3 runs in a child
process per rule with a wall-clock cap (``--pabutools-cap``), on the Warsaw election and on
synthetic elections of ``--pabutools-voters`` (same generator and projects, fewer voters): it
is pure Python with exact fractions and cannot do 1,000,000 voters.  A capped run is
reported as "> cap" and its ratio as a lower bound.  Timing excludes reading files and
building pabutools' objects; Veche's includes its own preparation (sparse conversion).

Writes ``bench/results/budgets.json`` and the "Participatory budgets" section of
``docs/benchmarks.md``.  Quick run: ``python -m bench.budgets_bench --voters 100000
--pabutools-voters 1000 --pabutools-cap 30``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ranking.budgets import Outcome, equal_shares, greedy, lexicographic_rank
from ranking.pabulib import parse_pb

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "budgets.json"
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- budgets:begin", "<!-- budgets:end -->"
TARGET_S, TARGET_RATIO = 10.0, 50.0
Instance = tuple[npt.NDArray[np.int64], sp.csr_matrix, int, list[str]]


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def synthetic(n_voters: int, n_projects: int, seed: int = 0) -> Instance:
    """Approval ballots that look like a city's: see the module docstring.

    The projects (costs, popularity) depend on ``seed`` and ``n_projects`` only, so smaller
    ``n_voters`` give a subsample of the same election.
    """
    prng = np.random.default_rng(seed)
    weight = 1.0 / np.arange(1, n_projects + 1) ** 0.8
    weight = weight[prng.permutation(n_projects)]
    weight /= weight.sum()
    drawn = np.round(prng.lognormal(np.log(300_000), 1.0, n_projects), -3)
    costs = np.maximum(10_000, drawn).astype(np.int64)
    rng = np.random.default_rng([seed, 1])
    lengths = rng.integers(3, 11, size=n_voters)
    # 16 weighted draws per voter; keep the first `length` distinct ones
    draws = rng.choice(n_projects, size=(n_voters, 16), p=weight)
    order = np.argsort(draws, axis=1, kind="stable")
    in_order = np.take_along_axis(draws, order, axis=1)
    repeat_sorted = np.zeros(draws.shape, dtype=bool)
    repeat_sorted[:, 1:] = in_order[:, 1:] == in_order[:, :-1]
    repeat = np.empty_like(repeat_sorted)
    np.put_along_axis(repeat, order, repeat_sorted, axis=1)
    keep = ~repeat & (np.cumsum(~repeat, axis=1) <= lengths[:, None])
    rows = np.repeat(np.arange(n_voters), keep.sum(axis=1))
    ballots = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.int8), (rows, draws[keep])), shape=(n_voters, n_projects)
    )
    ids = [f"{j:04d}" for j in range(n_projects)]
    return costs, ballots, int(costs.sum() // 5), ids


def warsaw(pabulib_dir: Path) -> Instance:
    """The 18 Warsaw 2023 districts pooled into one election (ids ``district:id``)."""
    files = sorted(pabulib_dir.glob("Poland_Warszawa_2023_*.pb"))
    if len(files) != 18:
        raise SystemExit(f"expected 18 Warsaw 2023 districts in {pabulib_dir}, found {len(files)}")
    parts = [parse_pb(f.read_text(encoding="utf-8")) for f in files]
    ids = [
        f"{f.stem.rsplit('_', 1)[-1]}:{pid}"
        for f, e in zip(files, parts, strict=True)
        for pid in e.project_ids
    ]
    costs = np.concatenate([e.costs for e in parts])
    ballots = sp.block_diag([e.ballots for e in parts], format="csr")
    return costs, ballots, sum(e.budget for e in parts), ids


def instance(spec: dict[str, Any]) -> Instance:
    if spec["kind"] == "warsaw":
        return warsaw(Path(spec["dir"]))
    return synthetic(spec["voters"], spec["projects"])


MES: dict[str, dict[str, Any]] = {
    "mes-add1-greedy": {"completion": "add1-greedy"},
    "mes-none": {"completion": "none"},
    "mes-add1-exhaustive": {"completion": "add1", "stop_when_exhaustive": True},
}
RULES = ("greedy", *MES)
PABUTOOLS_RULES = ("greedy", "mes-none", "mes-add1-exhaustive")


def veche(inst: Instance, rule: str, repeats: int) -> dict[str, Any]:
    """Best of ``repeats`` (wall and CPU seconds), the outcome and equal shares' runs."""
    costs, ballots, budget, ids = inst
    rank = lexicographic_rank(ids)
    walls, cpus, runs = [], [], [0]
    out: Outcome | None = None

    def count(i: int, per_voter: float) -> None:
        runs[0] = i

    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        if rule == "greedy":
            out = greedy(costs, ballots, budget, tie_rank=rank)
        else:
            out = equal_shares(costs, ballots, budget, tie_rank=rank, on_run=count, **MES[rule])
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    assert out is not None
    result: dict[str, Any] = {
        "seconds": min(walls),
        "cpu_seconds": min(cpus),
        "selected": [ids[j] for j in out.selected.tolist()],
        "total_cost": out.total_cost,
    }
    if out.endowment is not None:
        result["runs"] = runs[0]
        result["endowment"] = out.endowment
        result["add1_steps"] = round(out.endowment - budget / ballots.shape[0])
    return result


def pabutools_child(spec: dict[str, Any]) -> None:
    """Run one pabutools rule on ``spec``'s instance; print seconds and outcome as JSON."""
    from pabutools.election import ApprovalBallot, ApprovalProfile, Cost_Sat, Instance, Project
    from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares

    costs, ballots, budget, ids = instance(spec)
    projects = [Project(pid, int(c)) for pid, c in zip(ids, costs.tolist(), strict=True)]
    inst = Instance(projects, budget_limit=budget)
    ptr, ind = ballots.indptr, ballots.indices
    profile = ApprovalProfile(
        [
            ApprovalBallot([projects[j] for j in ind[ptr[i] : ptr[i + 1]]])
            for i in range(len(ptr) - 1)
        ],
        instance=inst,
    )

    def stop(signum: int, frame: Any) -> None:
        print(json.dumps({"seconds": None, "capped": True}), flush=True)
        os._exit(0)

    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, float(spec["cap"]))
    t = time.perf_counter()
    if spec["rule"] == "greedy":
        out = greedy_utilitarian_welfare(inst, profile, sat_class=Cost_Sat)
    elif spec["rule"] == "mes-none":
        out = method_of_equal_shares(inst, profile, sat_class=Cost_Sat)
    else:
        out = method_of_equal_shares(inst, profile, sat_class=Cost_Sat, voter_budget_increment=1)
    seconds = time.perf_counter() - t
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(json.dumps({"seconds": seconds, "selected": sorted(p.name for p in out)}))


def pabutools(spec: dict[str, Any], cap: float) -> dict[str, Any]:
    child = json.dumps({**spec, "cap": cap})
    cmd = [sys.executable, "-m", "bench.budgets_bench", "--child", child]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=cap + 600)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "capped": True}
    if proc.returncode != 0:
        raise SystemExit(f"pabutools child failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    result.setdefault("capped", False)
    return result


def compare(
    name: str, spec: dict[str, Any], inst: Instance, args: argparse.Namespace
) -> dict[str, Any]:
    """Veche (every rule) and pabutools (its three) on one instance."""
    costs, ballots, budget, _ = inst
    row: dict[str, Any] = {
        "instance": name,
        "voters": ballots.shape[0],
        "projects": ballots.shape[1],
        "approvals": int(ballots.nnz),
        "budget": budget,
        "rules": {},
    }
    for rule in RULES:
        v = veche(inst, rule, args.repeats)
        entry: dict[str, Any] = {
            "veche_s": v["seconds"],
            "veche_cpu_s": v["cpu_seconds"],
            "total_cost": v["total_cost"],
            "selected_n": len(v["selected"]),
        }
        for key in ("runs", "endowment", "add1_steps"):
            if key in v:
                entry[key] = v[key]
        if rule in PABUTOOLS_RULES and not args.no_pabutools:
            say(
                f"  {name} {rule}: veche {v['seconds']:.3f} s; pabutools (cap {args.pabutools_cap:.0f} s) ..."
            )
            p = pabutools({**spec, "rule": rule}, args.pabutools_cap)
            entry["pabutools_s"] = p["seconds"]
            entry["pabutools_capped"] = p["capped"]
            if p["seconds"] is not None and not p["capped"]:
                entry["same_outcome"] = sorted(v["selected"]) == p["selected"]
                entry["ratio"] = p["seconds"] / v["seconds"]
            else:
                entry["ratio_at_least"] = args.pabutools_cap / v["seconds"]
                one = row["rules"].get("mes-none", {}).get("pabutools_s")
                if (
                    rule == "mes-add1-exhaustive"
                    and one
                    and not row["rules"]["mes-none"].get("pabutools_capped")
                ):
                    # step by step it runs the rule once per increment: at least this long
                    entry["pabutools_estimate_s"] = one * (v["add1_steps"] + 1)
                    entry["ratio_estimate"] = entry["pabutools_estimate_s"] / v["seconds"]
        say(f"  {name} {rule}: {json.dumps(entry)}")
        row["rules"][rule] = entry
    return row


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "\u2013"
    return f"{x:,.3f} s" if x < 100 else f"{x:,.0f} s"


def _pabutools_cells(e: dict[str, Any], cap: float) -> tuple[str, str, str]:
    if "pabutools_s" not in e:
        return "\u2013", "\u2013", "\u2013"
    if "ratio" in e:
        same = "yes" if e["same_outcome"] else "**no**"
        return _fmt_s(e["pabutools_s"]), f"{e['ratio']:,.0f}\u00d7", same
    p, ratio = f"> {cap:,.0f} s (stopped)", f"\u2265 {e['ratio_at_least']:,.0f}\u00d7"
    if "pabutools_estimate_s" in e:
        p += f"; about {_fmt_s(e['pabutools_estimate_s'])} estimated"
        ratio += f" (about {e['ratio_estimate']:,.0f}\u00d7)"
    return p, ratio, "\u2013"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    cap = report["pabutools_cap_s"]
    lines = [
        f"{BEGIN} (written by bench/budgets_bench.py) -->",
        "## Participatory budgets (`make bench-budgets`)",
        "",
        f"- Command: `{report['command']}`; results in `bench/results/budgets.json`.",
        f"- Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy {m['numpy']}, "
        f"pabutools {report['pabutools_version']}. Each rule runs in one thread (NumPy calls "
        "that do not use threads for these operations); Veche's figure is the best of "
        f"{report['repeats']} runs, wall clock, with the CPU time beside it, because other "
        f"processes shared the 2 cores (load average {report['load_start']} at the start, "
        f"{report['load_end']} at the end).",
        f"- Date: {report['date']}; whole run {report['wall_s']:,.0f} s; engine commit "
        f"`{report['commit']}`.",
        "- Instances: the 18 district files of Warsaw 2023 pooled into one city-wide election "
        "(projects and voters of all districts, budget the sum of theirs); synthetic elections "
        "from `bench/budgets_bench.py::synthetic` (Zipf-like popularity `1/r^0.8`, 3\u201310 "
        "approvals per voter, log-normal costs with median 300,000, budget 20 % of all costs; "
        "the smaller ones are the same projects with fewer voters).",
        "- Rules (`ranking/budgets.py`): greedy by approvals; the Method of Equal Shares with "
        "cost utilities completed by Add1 then greedy (`add1-greedy`, Wieliczka's), without "
        "completion (`none`, one run), and Add1 stopping at the first exhaustive outcome "
        "(`add1-exhaustive`, exactly pabutools' `voter_budget_increment=1`). Veche finds Add1's "
        'endowment by a bracketing search ("runs": runs of the rule; the definition steps one '
        'unit of currency at a time, "steps" of them); `exact=True` does that, and the tests '
        "check both agree.",
        f"- pabutools runs each rule in a child process, stopped after {cap:,.0f} s (pure "
        "Python with exact fractions; it cannot run 1,000,000 voters, so the synthetic "
        "election is also run at smaller sizes and ratios are taken at equal size). A "
        "stopped run gives a lower bound (\u2265); for Add1 the estimate is pabutools' one run "
        "times the steps + 1 runs it makes (an underestimate: later runs fund more).",
        "",
        "| Instance | voters \u00d7 projects | rule | Veche (CPU) | runs / steps | pabutools "
        "| ratio | same outcome |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["instances"]:
        size = f"{row['voters']:,} \u00d7 {row['projects']:,}"
        for rule, e in row["rules"].items():
            p, ratio, same = _pabutools_cells(e, cap)
            runs = f"{e['runs']} / {e['add1_steps']:,}" if "runs" in e else "\u2013"
            veche_s = f"{_fmt_s(e['veche_s'])} ({_fmt_s(e['veche_cpu_s'])})"
            rname = rule.replace("mes-", "equal shares, ")
            lines.append(
                f"| {row['instance']} | {size} | {rname} | {veche_s} | {runs} | {p} | "
                f"{ratio} | {same} |"
            )
    t = report["targets"]
    met = "met" if t["mes_s"] < TARGET_S else "missed"
    lines += [
        "",
        f"Targets (issue 15): equal shares (`add1-greedy`) at {t['voters']:,} voters \u00d7 "
        f"{t['projects']:,} projects in {t['mes_s']:.2f} s (target < {TARGET_S:.0f} s: {met}); "
        f"smallest ratio to pabutools measured on the same instance: {t['min_ratio']} (target "
        f"\u2265 {TARGET_RATIO:.0f}\u00d7).",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_docs(text: str) -> None:
    doc = DOCS.read_text(encoding="utf-8")
    if BEGIN in doc:
        start = doc.index(BEGIN)
        stop = doc.index(END, start) + len(END) + 1
        doc = doc[:start] + text + doc[stop:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOCS.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pabulib-dir", default=str(ROOT.parent / "shared" / "data" / "pabulib"))
    parser.add_argument("--voters", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=2_000)
    parser.add_argument("--pabutools-voters", default="1000,3000,10000")
    parser.add_argument("--pabutools-cap", type=float, default=300.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pabutools", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        pabutools_child(json.loads(args.child))
        return 0
    began = time.perf_counter()
    load_start = "/".join(f"{x:.1f}" for x in os.getloadavg())
    rows = []
    wdir = Path(args.pabulib_dir)
    if wdir.is_dir():
        say("Warsaw 2023, 18 districts pooled")
        spec = {"kind": "warsaw", "dir": str(wdir.resolve())}
        rows.append(compare("Warsaw 2023 pooled", spec, instance(spec), args))
    else:
        say(f"no Pabulib data at {wdir}: Warsaw skipped")
    sizes = [int(s) for s in args.pabutools_voters.split(",") if s.strip()]
    for n in [*sizes, args.voters]:
        spec = {"kind": "synthetic", "voters": n, "projects": args.projects}
        say(f"synthetic {n:,} x {args.projects:,}")
        big = n == args.voters
        row = compare(
            f"synthetic {n:,}",
            spec,
            instance(spec),
            argparse.Namespace(**{**vars(args), "no_pabutools": args.no_pabutools or big}),
        )
        rows.append(row)
    ratios = [
        e["ratio"]
        for r in rows
        for rule, e in r["rules"].items()
        if "ratio" in e and rule.startswith("mes-")
    ]
    report = {
        "command": "python -m bench.budgets_bench "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "pabutools_version": version("pabutools"),
        "pabutools_cap_s": args.pabutools_cap,
        "repeats": args.repeats,
        "load_start": load_start,
        "load_end": "/".join(f"{x:.1f}" for x in os.getloadavg()),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "instances": rows,
        "targets": {
            "voters": args.voters,
            "projects": args.projects,
            "mes_s": rows[-1]["rules"]["mes-add1-greedy"]["veche_s"],
            "min_ratio": f"{min(ratios):,.0f}\u00d7" if ratios else "not measured",
        },
    }
    report["wall_s"] = time.perf_counter() - began
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(report)
    if not args.no_docs:
        write_docs(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
