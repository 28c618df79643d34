"""The ranking section of ``docs/benchmarks.md``, written from the results dictionary.

The section lives between two HTML comments, so other benchmarks' sections are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN = "<!-- ranking:begin (written by bench/ranking_bench.py) -->"
END = "<!-- ranking:end -->"
HEADER = (
    "# Benchmarks\n\nRun them all with `make bench`; each writes `bench/results/<name>.json`.\n"
)


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _load(values: Any) -> str:
    return "/".join(f"{x:.1f}" for x in values) if values else "—"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("✅ met" if ok else "❌ missed")


def section(res: dict[str, Any]) -> str:
    m = res["machine"]
    v = res.get("veche", {})
    city = res.get("city", {})
    t = res["targets"]
    cmp = res.get("pg_comparison", {})
    pg = cmp.get("postgres", {})
    small = cmp.get("veche", {})
    lines = [
        BEGIN,
        "## Ranking (`make bench-ranking`)",
        "",
        f"- Command: `{res['command']}` (`make bench-ranking`); results in "
        "`bench/results/ranking.json`.",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; Python {m['python']}, "
        f"NumPy {m['numpy']}; PostgreSQL: {pg.get('server', 'not run').split(' on ')[0]}.",
        f"- Date: {res['date']}; whole run {res.get('total_s', '—')} s; load average at start "
        f"{_load(res.get('load_average_at_start'))}, at end {_load(res.get('load_average_at_end'))}"
        " (other processes shared the 2 cores when above ~0.5).",
        f"- Engine: commit `{res.get('engine', {}).get('commit')}`"
        + (
            " with uncommitted changes in `ranking/`"
            if res.get("engine", {}).get("ranking_uncommitted")
            else ""
        )
        + ".",
        f"- City (`bench/synthetic_city.py`): {_f(city.get('ideas'))} ideas, "
        f"{_f(city.get('votes'))} votes, {_f(city.get('users'))} users, "
        f"{city.get('districts')} districts in {city.get('okrugs')} okrugs, two years. Votes per "
        "idea resampled from the UK petitions' signature counts "
        f"(`{city.get('signature_source')}`): p50/p90/p99/p99.9 = "
        f"{', '.join(_f(x, 0) for x in city.get('votes_per_idea_p50_p90_p99_p999', []))}, "
        f"max {_f(city.get('votes_per_idea_max'))}; "
        f"{_f(100 * city.get('ideas_without_votes_share', 0), 1)} % of ideas without votes; "
        f"{_f(100 * city.get('verified_share', 0), 0)} % verified users; "
        f"{_f(100 * city.get('oppose_share', 0), 0)} % opposing votes; rows in time order.",
        "",
        "| Measure | Result | Target | |",
        "|---|---|---|---|",
        f"| Full recompute of all schemes, {_f(res['votes'])} votes (best of "
        f"{len(v.get('full_recompute_all_s', []))}) | {_f(res.get('full_recompute_s'))} s | "
        f"{t['full_recompute_s']['target']} s | {_verdict(t['full_recompute_s']['pass'])} |",
        f"| Peak RSS of the building process (input arrays included) | "
        f"{_f(res.get('peak_rss_gb'))} GB | {t['peak_rss_gb']['target']} GB | "
        f"{_verdict(t['peak_rss_gb']['pass'])} |",
        f"| Incremental update (`apply_vote`), {_f(v.get('incremental_votes'))} votes | "
        f"{_f(res.get('incremental_us_per_vote'), 1)} µs/vote | "
        f"{t['incremental_us_per_vote']['target']} µs | "
        f"{_verdict(t['incremental_us_per_vote']['pass'])} |",
        f"| Top-20 of a filtered list (`top`, median of {v.get('top20_filters', '—')} filters, "
        f"dirty set non-empty) | {_f(res.get('top20_ms'), 3)} ms | {t['top20_ms']['target']} ms "
        f"| {_verdict(t['top20_ms']['pass'])} |",
        f"| Faster than PostgreSQL GROUP BY per page view at {_f(cmp.get('votes'))} votes | "
        f"{_f(res.get('pg_groupby_ratio'), 0)}× | {t['pg_groupby_ratio']['target']}× | "
        f"{_verdict(t['pg_groupby_ratio']['pass'])} |",
        "",
        "Other numbers: top-20 p95 "
        f"{_f(v.get('top20_p95_ms'), 3)} ms; with building the filter mask from the idea "
        f"attributes {_f(v.get('top20_with_mask_ms'), 3)} ms; unfiltered "
        f"{_f(v.get('top20_unfiltered_ms'), 3)} ms; pages 2–100 of a filtered list "
        f"{_f(v.get('top20_deeper_pages_ms'), 3)} ms; `random` with a new visitor seed "
        f"unfiltered {_f(v.get('random_new_seed_ms', {}).get('unfiltered'), 2)} ms, filtered "
        f"{_f(v.get('random_new_seed_ms', {}).get('filtered'), 2)} ms; RSS after loading the "
        f"input arrays {_f(v.get('rss_after_load_gb'))} GB.",
    ]
    by_scheme = v.get("top20_ms_by_scheme", {})
    per = v.get("per_scheme", {})
    if per:
        lines += ["", "| Scheme | first top-20 after build (ms) | filtered top-20, median (ms) |",
                  "|---|---|---|"]  # fmt: skip
        for s, d in per.items():
            first = d.get("error") or _f(d.get("first_top20_ms"), 3)
            lines.append(f"| `{s}` | {first} | {_f(by_scheme.get(s), 3)} |")
    if pg:
        lines += [
            "",
            f"### The PostgreSQL baseline at {_f(cmp.get('votes'))} votes",
            "",
            "Same synthetic city (same generator and seed) at "
            f"{_f(cmp.get('votes'))} votes, loaded by binary `COPY` into a throw-away database "
            "with `CREATE INDEX ON votes (idea_id)`, `ANALYZE`, `VACUUM`; settings "
            + ", ".join(f"`{k}={val}`" for k, val in pg.get("settings", {}).items())
            + ". Each query is run several times and the median taken.",
            "",
            "| Per page view | PostgreSQL | Veche | Ratio |",
            "|---|---|---|---|",
            f"| Unfiltered top 20: `{cmp.get('sql')}` vs `snapshot.top('top', None, 20)` | "
            f"{_f(pg.get('top_ms'), 1)} ms | {_f(small.get('top20_unfiltered_ms'), 3)} ms | "
            f"{_f(cmp.get('ratio_unfiltered'), 0)}× |",
            f"| Filtered top 20 (join to `ideas`, category/district/status; median of "
            f"{pg.get('filters')} filters) vs building the mask + `snapshot.top('top', mask, 20)` "
            f"| {_f(pg.get('filtered_ms'), 1)} ms | {_f(small.get('top20_with_mask_ms'), 3)} ms | "
            f"{_f(cmp.get('ratio_filtered'), 0)}× |",
            "",
            "`pg_groupby_ratio` is the smaller of the two ratios. It compares the per-request "
            "cost, which is what a listing page pays: the SQL aggregates every vote on each page "
            "view, Veche reads a snapshot kept current by incremental updates. Veche's ranking is "
            "not the same *order* as raw counts (weighted, smoothed), but the same *answer shape*: "
            "the top 20 ideas of a filtered list. Veche pays a full recompute only at start-up "
            f"and after merges or weight changes: at {_f(cmp.get('votes'))} votes it takes "
            f"{_f(small.get('full_recompute_s'))} s, "
            f"{_f(cmp.get('full_recompute_vs_one_groupby'), 1)}× the time of one unfiltered "
            f"GROUP BY; incremental updates at this size cost "
            f"{_f(small.get('incremental_us_per_vote'), 1)} µs/vote.",
        ]
    missed = [k for k, d in t.items() if d["pass"] is False]
    prof = v.get("profile_cumulative")
    if prof:
        lines += [
            "",
            "### Profile of one full recompute (cProfile, cumulative)"
            + (" — targets missed: " + ", ".join(f"`{k}`" for k in missed) if missed else ""),
            "",
            "| cumulative s | own s | calls | function |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {p['cum_s']} | {p['own_s']} | {p['calls']} | `{p['function']}` |" for p in prof[:15]
        ]
    floor = v.get("numpy_floor_s")
    if floor:
        lines += [
            "",
            f"### Single NumPy passes over all {_f(res['votes'])} votes (the floor of a recompute)",
            "",
            "What any full recompute is built from; each scheme's aggregate needs at least a "
            "gather of per-user/per-idea factors and one weighted `bincount`, `broad` a "
            "`bincount` over idea × okrug cells, `trending` a decay per vote.",
            "",
            "| pass | seconds |",
            "|---|---|",
            *[f"| {name} | {sec} |" for name, sec in floor.items()],
        ]
    if res.get("notes"):
        lines += ["", *[f"- {n}" for n in res["notes"]]]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_docs(res: dict[str, Any], path: Path) -> None:
    replace_section(path, BEGIN, END, section(res))


def replace_section(path: Path, begin: str, end: str, new: str) -> None:
    """Put ``new`` (which starts with ``begin`` and ends with ``end``) in place of the old
    section of ``path``, or append it; the rest of the file is kept."""
    text = path.read_text(encoding="utf-8") if path.is_file() else HEADER
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + new.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + new
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
