"""Build the demo extract shipped in webapp/data/demo/ from the full data sets.

    python tools/build_demo_extract.py --data-dir ../shared/data --out webapp/data/demo

(``--data-dir`` defaults to the ``VECHE_DATA_DIR`` setting, ``../shared/data``.) It writes:

- ``roi_petitions.csv``: every petition filed from Moscow (``uniqid`` 77…) in the Russian Public
  Initiative dump — all 67 of its regional and municipal ones (first), then its federal asks,
  each group in file order — in the source's own format, plus three columns with each city petition's place (``district``,
  ``placed_by``, ``pin``: see webapp/demo/roi.py). Placing needs the full file (to recognise the
  maps' default pins) and Moscow's boundaries; the boundary files themselves are not shipped.
- ``uk_petitions.jsonl`` and ``decide_madrid.csv``: seeded simple random samples (NumPy
  ``default_rng(seed)``, rows kept in file order) of the non-rejected UK petitions and of the
  Madrid proposals that were neither retired nor junk (``madrid_junk``): the foreign-language
  examples.

It prints what it wrote and every city petition's place, for review. See docs/data.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from webapp.demo import roi  # noqa: E402
from webapp.demo.demo_sources import (  # noqa: E402
    BOUNDARIES,
    DISTRICTS_JSON,
    EXTRACT_FILES,
    FULL_FILES,
    MADRID_SOURCE,
    ROI_SOURCE,
    UK_SOURCE,
    madrid_junk,
)

DEFAULT_SEED = 2024
DEFAULT_UK = 60
DEFAULT_MADRID = 60


def _sample(n_rows: int, k: int, rng: np.random.Generator) -> list[int]:
    """``k`` distinct positions out of ``n_rows``, in ascending order (file order is kept)."""
    return sorted(rng.choice(n_rows, min(k, n_rows), replace=False).tolist())


def build_roi(source: Path, boundaries: Path, target: Path) -> list[dict[str, str]]:
    """Moscow's petitions with their places; returns the rows written."""
    rows = roi.read_rows(source)
    placer = roi.make_placer(rows, boundaries, DISTRICTS_JSON)
    moscow = [dict(r) for r in rows if r["uniqid"].startswith(roi.MOSCOW) and roi.wanted(r)]
    # The city petitions first (then `seed-demo --limit N` and the tests start with them).
    chosen = [r for r in moscow if roi.is_city_petition(r)]
    chosen += [r for r in moscow if not roi.is_city_petition(r)]
    for row in chosen:
        place = placer.place(row)
        row["district"] = place.district or ""
        row["placed_by"] = place.placed_by
        row["pin"] = "yes" if place.pin is not None else ""
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0].keys(), *roi.PLACE_COLUMNS])
        writer.writeheader()
        writer.writerows(chosen)
    return chosen


def build_uk(source: Path, target: Path, k: int, rng: np.random.Generator) -> list[int]:
    """Copy ``k`` random non-rejected petitions verbatim (one JSON object a line)."""
    # split on "\n" only: str.splitlines would also split at U+2028 inside JSON strings
    lines = [line for line in source.read_text(encoding="utf-8").split("\n") if line.strip()]
    eligible = [line for line in lines if json.loads(line)["state"] != "rejected"]
    chosen = [eligible[i] for i in _sample(len(eligible), k, rng)]
    target.write_text("".join(line + "\n" for line in chosen), encoding="utf-8")
    return [int(json.loads(line)["signature_count"]) for line in chosen]


def build_madrid(source: Path, target: Path, k: int, rng: np.random.Generator) -> list[int]:
    """Write ``k`` random proposals that are neither retired nor junk: semicolon-separated,
    every field quoted, CRLF (the export's format)."""
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";", quotechar='"')
        header = next(reader)
        rows = list(reader)
    retired, title, description = (
        header.index("retired_at"),
        header.index("title"),
        header.index("description"),
    )
    eligible = [
        row
        for row in rows
        if not row[retired].strip() and not madrid_junk(row[title], row[description])
    ]
    chosen = [eligible[i] for i in _sample(len(eligible), k, rng)]
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", quotechar='"', quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(chosen)
    votes = header.index("cached_votes_up")
    return [int(row[votes]) for row in chosen]


def _default_data_dir() -> str:
    from webapp.kernel.settings import Settings

    return str(Settings.from_env().data_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        help="folder with roi_petitions/, moscow_boundaries/, uk_petitions/ and decide_madrid/ "
        "(default: the VECHE_DATA_DIR setting)",
    )
    parser.add_argument("--out", default=str(ROOT / "webapp" / "data" / "demo"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (samples)")
    parser.add_argument("--uk", type=int, default=DEFAULT_UK, help="UK petitions to sample")
    parser.add_argument("--madrid", type=int, default=DEFAULT_MADRID, help="Madrid proposals")
    args = parser.parse_args(argv)
    data = Path(args.data_dir or _default_data_dir())
    out = Path(args.out)
    for file in FULL_FILES.values():
        if not (data / file).is_file():
            print(f"build_demo_extract: no such file: {data / file}", file=sys.stderr)
            return 2
    out.mkdir(parents=True, exist_ok=True)
    target = {name: out / file for name, file in EXTRACT_FILES.items()}
    petitions = build_roi(
        data / FULL_FILES[ROI_SOURCE], data / FULL_FILES[BOUNDARIES], target[ROI_SOURCE]
    )
    rng = np.random.default_rng(args.seed)
    counts = {
        ROI_SOURCE: [int(r["votes"]) for r in petitions],
        UK_SOURCE: build_uk(data / FULL_FILES[UK_SOURCE], target[UK_SOURCE], args.uk, rng),
        MADRID_SOURCE: build_madrid(
            data / FULL_FILES[MADRID_SOURCE], target[MADRID_SOURCE], args.madrid, rng
        ),
    }
    for name, support in counts.items():
        print(
            f"{target[name].name}: {len(support)} ideas, {sum(support):,} votes"
            f" (largest {max(support, default=0):,}, median"
            f" {float(np.median(support)) if support else 0:g}), {target[name].stat().st_size:,} bytes"
        )
    city = [r for r in petitions if roi.is_city_petition(r)]
    placed = [r for r in city if r["district"]]
    print(
        f"Moscow city petitions: {len(city)}; placed {len(placed)}"
        f" ({sum(r['placed_by'] == 'coordinates' for r in placed)} by their map pin,"
        f" {sum(r['placed_by'] == 'name' for r in placed)} by a district named in the text)"
    )
    for r in placed:
        print(f"  {r['uniqid']}  {r['district']:<24} {r['placed_by']:<12} {r['name'][:70]}")
    total = sum(sum(s) for s in counts.values())
    largest = max(max(s, default=0) for s in counts.values())
    print(f"seed {args.seed}: {total:,} votes in all, {largest:,} demo voters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
