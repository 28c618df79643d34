"""`make bench-polls`: a city poll of 1,000,000 respondents x 10 questions, tallied in NumPy.

The synthetic poll (:func:`synthetic`): 146 districts in 12 okrugs (Moscow's count, New Moscow's
settlements included) with log-normal adult populations (median 80,000, sigma 0.6: from about
15,000 to 400,000, the spread of Moscow's districts); a response rate that differs by district
(log-normal, sigma 0.7: self-selection), so the raw sample over-represents some districts;
3 % of respondents with an unknown district; opinions that differ by okrug, so that weighting
moves the shares. Ten questions of mixed kinds: four single choice (3-10 options), two multiple
choice (up to 3 of 8, up to 5 of 5), two rating scales (5 and 10 points), two rankings (top 3 of
5, all 6 of 6); 95 % of respondents answer each question. About 19 million answer rows.

Timed (best of ``--repeats``, wall and CPU): building the tally from the arrays
(``PollTally.build``), then the results of all questions with the district and okrug breakdowns
and the post-stratification (``PollTally.results``); then ``--updates`` incremental updates
(half new respondents, half replaced answers, each with its ``PollSpec.ballot`` validation),
per respondent and per answer row. Checked: the incrementally updated tally equals a rebuild.

Baseline in the same run: the same tallies by SQL ``GROUP BY`` — answers per (question, option,
position, district) and distinct respondents per (question, district) — on SQLite (a temporary
file, loaded with ``executemany``, a covering index, ``ANALYZE``) and on PostgreSQL at
``--pg-url`` when it answers (a throw-away database, binary ``COPY``, the same index,
``VACUUM ANALYZE``; dropped afterwards); the post-stratification of the SQL tallies is then
done with the same NumPy code and counted in the SQL figure. Ratio = SQL / NumPy.

Writes ``bench/results/polls.json`` and the "City polls" section of ``docs/benchmarks.md``.
Quick run: ``python -m bench.polls_bench --respondents 100000 --no-postgres``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ranking.polls import PollSpec, PollTally, Question

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "polls.json"
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- polls:begin", "<!-- polls:end -->"
TARGET_S = 1.0
N_DISTRICTS, N_OKRUGS = 146, 12
QUESTIONS = (
    Question("single", 4),
    Question("single", 6),
    Question("single", 3),
    Question("single", 10),
    Question("multiple", 8, max_choices=3),
    Question("multiple", 5),
    Question("scale", 5),
    Question("scale", 10),
    Question("ranking", 5, max_choices=3),
    Question("ranking", 6),
)
IntArray = npt.NDArray[np.int64]


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Poll:
    """A synthetic poll's arrays (see the module docstring)."""

    spec: PollSpec
    respondent: npt.NDArray[np.int32]
    question: npt.NDArray[np.int16]
    option: npt.NDArray[np.int16]
    position: npt.NDArray[np.int16]
    district: npt.NDArray[np.int16]
    population: npt.NDArray[np.float64]
    okrug_of: npt.NDArray[np.int64]

    @property
    def rows(self) -> int:
        return int(self.respondent.shape[0])


def synthetic(n_respondents: int, seed: int = 0) -> Poll:
    """The synthetic poll of the module docstring, fully vectorised."""
    rng = np.random.default_rng(seed)
    d = N_DISTRICTS
    population = np.round(rng.lognormal(np.log(80_000), 0.6, d), -2)
    okrug_of = np.sort(rng.integers(0, N_OKRUGS, d))
    okrug_of[:N_OKRUGS] = np.arange(N_OKRUGS)  # every okrug has a district
    okrug_of = np.sort(okrug_of)
    propensity = population * rng.lognormal(0.0, 0.7, d)
    district = rng.choice(d, size=n_respondents, p=propensity / propensity.sum()).astype(np.int16)
    district[rng.random(n_respondents) < 0.03] = -1
    lean = rng.normal(0.0, 1.0, N_OKRUGS)[okrug_of]  # opinion by okrug
    person = np.where(district >= 0, lean[district], 0.0) + rng.normal(0.0, 1.0, n_respondents)
    parts: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
    for qi, q in enumerate(QUESTIONS):
        who = np.flatnonzero(rng.random(n_respondents) < 0.95)
        tilt = person[who]
        m = q.n_options
        if q.kind in ("single", "scale"):
            base = np.linspace(-1.0, 1.0, m)
            score = base[None, :] * tilt[:, None] * 0.8 + rng.gumbel(size=(who.size, m))
            if q.kind == "scale":
                level = np.clip(
                    np.round((m - 1) / 2 + tilt * m / 5 + rng.normal(0, 1, who.size)), 0, m - 1
                )
                opt = level.astype(np.int64)
            else:
                opt = np.argmax(score, axis=1)
            parts.append((who, np.full(who.size, qi), opt, np.zeros(who.size, np.int64)))
            continue
        k = q.limit
        appeal = np.linspace(1.0, -1.0, m)
        score = (
            appeal[None, :]
            + 0.5 * tilt[:, None] * np.linspace(-1, 1, m)
            + rng.gumbel(size=(who.size, m))
        )
        order = np.argsort(-score, axis=1)
        if q.kind == "multiple":
            take = rng.integers(1, k + 1, who.size)
        else:
            take = np.full(who.size, k)
        keep = np.arange(m)[None, :] < take[:, None]
        rows = np.repeat(who, keep.sum(axis=1))
        pos = np.broadcast_to(np.arange(m), (who.size, m))[keep]
        opt = order[keep]
        place = pos if q.kind == "ranking" else np.zeros_like(pos)
        parts.append((rows, np.full(rows.size, qi), opt, place))
    respondent = np.concatenate([p[0] for p in parts]).astype(np.int32)
    question = np.concatenate([p[1] for p in parts]).astype(np.int16)
    option = np.concatenate([p[2] for p in parts]).astype(np.int16)
    position = np.concatenate([p[3] for p in parts]).astype(np.int16)
    # rows in arrival order (by respondent, as the answers table fills up), not by question
    order = np.argsort(respondent, kind="stable")
    spec = PollSpec(QUESTIONS, d)
    return Poll(spec, respondent[order], question[order], option[order], position[order],
                district, population, okrug_of)  # fmt: skip


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds of ``repeats`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), out


def build(poll: Poll) -> PollTally:
    return PollTally.build(poll.spec, poll.respondent, poll.question, poll.option, poll.position,
                           district=poll.district)  # fmt: skip


def numpy_run(poll: Poll, repeats: int) -> dict[str, Any]:
    build_s, build_cpu, tally = best(lambda: build(poll), repeats)
    results_s, results_cpu, res = best(
        lambda: tally.results(poll.population, poll.okrug_of), repeats
    )
    q0 = res.questions[0]
    return {
        "build_s": build_s,
        "build_cpu_s": build_cpu,
        "results_s": results_s,
        "results_cpu_s": results_cpu,
        "total_s": build_s + results_s,
        "respondents": res.respondents,
        "q0_raw_share": q0.raw.share.round(4).tolist(),
        "q0_weighted_share": q0.weighted.share.round(4).tolist(),
        "q0_deff": round(q0.coverage.deff, 3),
        "q0_unknown_district": q0.coverage.unknown_district,
        "tally": tally,
    }


def updates(poll: Poll, tally: PollTally, n: int, seed: int = 1) -> dict[str, Any]:
    """``n`` updates: half new respondents, half replacements of an earlier new one's answers."""
    rng = np.random.default_rng(seed)
    spec = poll.spec
    r0 = int(poll.district.shape[0])

    def random_answers() -> dict[int, int | list[int]]:
        out: dict[int, int | list[int]] = {}
        for qi, q in enumerate(spec.questions):
            if q.kind in ("single", "scale"):
                out[qi] = int(rng.integers(q.n_options))
            else:
                k = int(rng.integers(1, q.limit + 1))
                out[qi] = rng.permutation(q.n_options)[:k].tolist()
        return out

    plans = [random_answers() for _ in range(n)]
    districts = rng.integers(-1, N_DISTRICTS, n).tolist()
    given: dict[int, Any] = {}
    rows = 0
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        ballot = spec.ballot(plans[i])
        rows += int(ballot.cells.shape[0])
        if i % 2 == 0:
            who = r0 + i
            tally.add(who, ballot, district=int(districts[i]))
            given[who] = ballot
        else:
            who = r0 + i - 1
            tally.replace(who, given[who], ballot)
            given[who] = ballot
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    # the same state from scratch: the original rows plus each new respondent's last ballot
    extra_r = np.concatenate([np.full(b.cells.shape[0], r) for r, b in given.items()])
    extra_q = np.concatenate([b.question for b in given.values()])
    extra_o = np.concatenate([b.option for b in given.values()])
    extra_p = np.concatenate([b.position for b in given.values()])
    new_district = np.full(r0 + n, -1, np.int16)
    new_district[:r0] = poll.district
    for i in range(0, n, 2):
        new_district[r0 + i] = districts[i]
    rebuilt = PollTally.build(
        spec,
        np.concatenate([poll.respondent, extra_r]),
        np.concatenate([poll.question, extra_q]),
        np.concatenate([poll.option, extra_o]),
        np.concatenate([poll.position, extra_p]),
        district=new_district,
    )
    equal = bool(
        np.array_equal(rebuilt.counts(), tally.counts())
        and np.array_equal(rebuilt.respondents(), tally.respondents())
    )
    return {
        "updates": n,
        "answer_rows": rows,
        "seconds": wall,
        "cpu_seconds": cpu,
        "us_per_update": wall / n * 1e6,
        "us_per_answer_row": wall / rows * 1e6,
        "equal_to_rebuild": equal,
    }


SQL_CELLS = (
    "SELECT question, option, position, district, count(*) FROM answers "
    "GROUP BY question, option, position, district"
)
SQL_RESPONDENTS = (
    "SELECT question, district, count(DISTINCT respondent) FROM answers GROUP BY question, district"
)


def from_sql(poll: Poll, cells: list[tuple[int, ...]], resp: list[tuple[int, ...]]) -> Any:
    """Turn the GROUP BY rows into the tally's tables and compute the same results."""
    spec = poll.spec
    d = spec.n_districts
    c = np.asarray(cells, dtype=np.int64).reshape(-1, 5)
    r = np.asarray(resp, dtype=np.int64).reshape(-1, 3)
    tally = PollTally(spec)
    col = np.where(c[:, 3] < 0, d, c[:, 3])
    cell = spec.cells(c[:, 0], c[:, 1], c[:, 2])
    np.add.at(tally._counts, (cell, col), c[:, 4])
    np.add.at(tally._respondents, (r[:, 0], np.where(r[:, 1] < 0, d, r[:, 1])), r[:, 2])
    return tally, tally.results(poll.population, poll.okrug_of)


def sql_timing(poll: Poll, run: Callable[[str], list[tuple[int, ...]]], repeats: int) -> dict[str, Any]:  # fmt: skip
    def once() -> Any:
        t = time.perf_counter()
        cells = run(SQL_CELLS)
        t_cells = time.perf_counter() - t
        t = time.perf_counter()
        resp = run(SQL_RESPONDENTS)
        t_resp = time.perf_counter() - t
        t = time.perf_counter()
        tally, _ = from_sql(poll, cells, resp)
        t_np = time.perf_counter() - t
        return t_cells, t_resp, t_np, tally

    runs = [once() for _ in range(repeats)]
    totals = [a + b + c for a, b, c, _ in runs]
    i = int(np.argmin(totals))
    return {
        "total_s": totals[i],
        "cells_s": runs[i][0],
        "respondents_s": runs[i][1],
        "results_from_sql_s": runs[i][2],
        "tally": runs[i][3],
    }


def columns(poll: Poll) -> list[npt.NDArray[Any]]:
    district = poll.district[poll.respondent]
    return [poll.respondent, poll.question, poll.option, poll.position, district]


def sqlite_baseline(poll: Poll, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "polls.db")
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(
                "CREATE TABLE answers (respondent INTEGER NOT NULL, question INTEGER NOT NULL,"
                " option INTEGER NOT NULL, position INTEGER NOT NULL, district INTEGER NOT NULL)"
            )
            t = time.perf_counter()
            cols = columns(poll)
            step = 1_000_000
            for start in range(0, poll.rows, step):
                chunk = zip(*(c[start : start + step].tolist() for c in cols), strict=True)
                db.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?)", chunk)
            db.commit()
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            db.execute(
                "CREATE INDEX answers_cells ON answers (question, option, position, district)"
            )
            db.execute("CREATE INDEX answers_resp ON answers (question, district, respondent)")
            db.execute("ANALYZE")
            index_s = time.perf_counter() - t
            say(
                f"  [sqlite] loaded {poll.rows:,} rows in {load_s:.1f} s, indexed in {index_s:.1f} s"
            )
            plans = [
                " | ".join(str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + q))
                for q in (SQL_CELLS, SQL_RESPONDENTS)
            ]
            out = sql_timing(poll, lambda q: db.execute(q).fetchall(), repeats)
        finally:
            db.close()
    out.update(load_s=load_s, index_s=index_s, version=sqlite3.sqlite_version, plans=plans)
    return out


def postgres_baseline(poll: Poll, url: str, repeats: int) -> dict[str, Any] | None:
    try:
        import psycopg
        from psycopg import sql

        from bench.pg_baseline import _binary_rows, _copy
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        say(f"  [pg] skipped: {exc}")
        return None
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        say(f"  [pg] not reachable at {url}: skipped ({str(exc).strip()[:120]})")
        return None
    dbname = f"veche_polls_bench_{os.getpid()}_{int(time.time())}"
    with admin:
        server = admin.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        target = psycopg.conninfo.make_conninfo(url, dbname=dbname)
        with psycopg.connect(target, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE answers (respondent integer NOT NULL, question smallint NOT NULL,"
                " option smallint NOT NULL, position smallint NOT NULL, district smallint NOT NULL)"
            )
            t = time.perf_counter()
            names = ("respondent", "question", "option", "position", "district")
            cols = columns(poll)
            step = 2_000_000
            for start in range(0, poll.rows, step):
                part = [(n, c[start : start + step]) for n, c in zip(names, cols, strict=True)]
                _copy(cur, "answers", ", ".join(names), _binary_rows(part))
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            cur.execute(
                "CREATE INDEX answers_cells ON answers (question, option, position, district)"
            )
            cur.execute("CREATE INDEX answers_resp ON answers (question, district, respondent)")
            cur.execute("VACUUM ANALYZE answers")
            index_s = time.perf_counter() - t
            say(f"  [pg] loaded {poll.rows:,} rows in {load_s:.1f} s, indexed in {index_s:.1f} s")
            plans = []
            for q in (SQL_CELLS, SQL_RESPONDENTS):
                cur.execute("EXPLAIN " + q)
                plans.append(" | ".join(r[0].strip() for r in cur.fetchall()))

            def run(q: str) -> list[tuple[int, ...]]:
                cur.execute(q)
                return cur.fetchall()

            out = sql_timing(poll, run, repeats)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
        say(f"  [pg] dropped {dbname}")
    out.update(load_s=load_s, index_s=index_s, version=server, plans=plans)
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key in ("Model name", "Architecture", "CPU(s)", "Thread(s) per core"):
                info[key.lower().replace("(s)", "s").replace(" ", "_")] = value.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    import platform

    info.update(python=platform.python_version(), numpy=np.__version__)
    return info


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _s(x: float) -> str:
    return f"{x * 1000:,.0f} ms" if x < 1 else f"{x:,.2f} s"


def markdown(rep: dict[str, Any]) -> str:
    m, v, u = rep["machine"], rep["numpy"], rep["updates"]
    lines = [
        f"{BEGIN} (written by bench/polls_bench.py) -->",
        "## City polls (`make bench-polls`)",
        "",
        f"- Command: `{rep['command']}`; results in `bench/results/polls.json`.",
        f"- Machine: {m.get('model_name', '?')}, {m['cores']} cores (lscpu); Python "
        f"{m['python']}, NumPy {m['numpy']}; SQLite {rep['sqlite']['version']}; PostgreSQL "
        f"{rep['postgres']['version'] if rep.get('postgres') else 'not reachable (skipped)'}.",
        f"- Date: {rep['date']}; whole run {rep['wall_s']:,.0f} s; commit `{rep['commit']}`; "
        f"load average {rep['load_start']} at the start, {rep['load_end']} at the end (other "
        "processes shared the 2 cores when above ~0.5). Figures are the best of "
        f"{rep['repeats']} runs, wall clock, CPU time beside.",
        f"- Poll (`bench/polls_bench.py::synthetic`): {rep['respondents']:,} respondents x 10 "
        f"questions (4 single choice, 2 multiple choice, 2 scales, 2 rankings), "
        f"{rep['rows']:,} answer rows, 146 districts in 12 okrugs with log-normal populations "
        "and unequal response rates, 3 % unknown district.",
        "",
        "| Step | NumPy (`ranking/polls.py`) | CPU |",
        "|---|---|---|",
        f"| Tally from the arrays (`PollTally.build`) | {_s(v['build_s'])} | {_s(v['build_cpu_s'])} |",
        "| Results of all 10 questions: shares, Wilson intervals, district and okrug breakdowns, "
        f"post-stratification (`PollTally.results`) | {_s(v['results_s'])} | "
        f"{_s(v['results_cpu_s'])} |",
        f"| **Total** (target < {TARGET_S:.0f} s: {'met' if v['total_s'] < TARGET_S else 'missed'}) "
        f"| **{_s(v['total_s'])}** | |",
        f"| {u['updates']:,} incremental updates (half new respondents, half replaced answers; "
        f"ballot validation included) | {u['us_per_update']:,.1f} µs per respondent, "
        f"{u['us_per_answer_row']:,.2f} µs per answer row | equal to a rebuild: "
        f"{'yes' if u['equal_to_rebuild'] else '**no**'} |",
        "",
        "The same tallies by SQL `GROUP BY` in the same run (answers per question, option, "
        "position and district; distinct respondents per question and district; then the same "
        "post-stratification in NumPy on the grouped rows, counted in the SQL figure):",
        "",
        "| Database | load | index | GROUP BY answers | GROUP BY respondents | total "
        "| ratio to the NumPy total | ratio to `results` alone |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("sqlite", "postgres"):
        b = rep.get(name)
        if not b:
            continue
        label = (
            "SQLite (temp file, `executemany`)"
            if name == "sqlite"
            else "PostgreSQL (binary `COPY`)"
        )
        lines.append(
            f"| {label} | {_s(b['load_s'])} | {_s(b['index_s'])} | {_s(b['cells_s'])} | "
            f"{_s(b['respondents_s'])} | {_s(b['total_s'])} | {b['ratio']:,.1f}x | "
            f"{b['total_s'] / v['results_s']:,.0f}x |"
        )
    lines += [
        "",
        "The first ratio compares recomputing from the answers table with rebuilding the whole "
        "tally from arrays (what a worker pays once, at start-up). In service the tally is kept "
        "current per answer, so a results page pays only `PollTally.results` "
        f"({_s(v['results_s'])}): the second ratio. The SQL tallies were checked equal to the "
        f"NumPy ones: {'yes' if rep['sql_equal'] else '**no**'}. Loading and indexing are "
        "not counted in the SQL figure.",
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--respondents", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sql-repeats", type=int, default=2)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    began, load_start = time.perf_counter(), _load()
    say(f"generating {args.respondents:,} respondents x 10 questions")
    poll = synthetic(args.respondents)
    say(f"  {poll.rows:,} answer rows")
    v = numpy_run(poll, args.repeats)
    tally = v.pop("tally")
    say(f"numpy: build {v['build_s']:.3f} s, results {v['results_s']:.3f} s")
    u = updates(poll, build(poll), args.updates)
    say(f"updates: {u['us_per_update']:.1f} µs each, equal to rebuild {u['equal_to_rebuild']}")
    sqlite = sqlite_baseline(poll, args.sql_repeats)
    sqlite_tally = sqlite.pop("tally")
    same = [
        bool(np.array_equal(sqlite_tally.counts(), tally.counts())),
        bool(np.array_equal(sqlite_tally.respondents(), tally.respondents())),
    ]
    sqlite["ratio"] = sqlite["total_s"] / v["total_s"]
    say(f"sqlite: {sqlite['total_s']:.2f} s ({sqlite['ratio']:.1f}x)")
    pg = None if args.no_postgres else postgres_baseline(poll, args.pg_url, args.sql_repeats)
    if pg:
        pg_tally = pg.pop("tally")
        same.append(bool(np.array_equal(pg_tally.counts(), tally.counts())))
        same.append(bool(np.array_equal(pg_tally.respondents(), tally.respondents())))
        pg["ratio"] = pg["total_s"] / v["total_s"]
        say(f"postgres: {pg['total_s']:.2f} s ({pg['ratio']:.1f}x)")
    rep: dict[str, Any] = {
        "command": (
            "python -m bench.polls_bench " + shlex.join(argv if argv is not None else sys.argv[1:])
        ).strip(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "repeats": args.repeats,
        "respondents": args.respondents,
        "rows": poll.rows,
        "numpy": v,
        "updates": u,
        "sqlite": sqlite,
        "postgres": pg,
        "sql_equal": all(same),
        "load_start": load_start,
        "load_end": _load(),
        "target_s": TARGET_S,
    }
    rep["wall_s"] = time.perf_counter() - began
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
    text = markdown(rep)
    if not args.no_docs:
        write_docs(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
