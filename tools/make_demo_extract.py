"""Make the demo extract shipped in webapp/data/demo/ from the full data sets.

A seeded simple random sample (not the most supported ones, so the real heavy-tailed shape of
support counts is kept) of the non-rejected UK petitions and the non-retired Decide Madrid
proposals, written in the formats of the originals, in their original order, so that one loader
(webapp/demo/demo_sources.py) reads both the extract and the full sets.

    python tools/make_demo_extract.py --data ../shared/data --out webapp/data/demo
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

UK_FILE = Path("uk_petitions") / "petitions.jsonl"
MADRID_FILE = Path("decide_madrid") / "proposals.csv"
DEFAULT_SEED = 2024
DEFAULT_UK = 250
DEFAULT_MADRID = 600


def _sample(n_rows: int, k: int, rng: np.random.Generator) -> list[int]:
    """``k`` distinct positions out of ``n_rows``, in ascending order (file order is kept)."""
    return sorted(rng.choice(n_rows, min(k, n_rows), replace=False).tolist())


def extract_uk(source: Path, target: Path, k: int, rng: np.random.Generator) -> list[int]:
    """Copy ``k`` random non-rejected petitions verbatim (one JSON object a line)."""
    # split on "\n" only: str.splitlines would also split at U+2028 inside JSON strings
    lines = [line for line in source.read_text(encoding="utf-8").split("\n") if line.strip()]
    eligible = [line for line in lines if json.loads(line)["state"] != "rejected"]
    chosen = [eligible[i] for i in _sample(len(eligible), k, rng)]
    target.write_text("".join(line + "\n" for line in chosen), encoding="utf-8")
    return [int(json.loads(line)["signature_count"]) for line in chosen]


def extract_madrid(source: Path, target: Path, k: int, rng: np.random.Generator) -> list[int]:
    """Write ``k`` random non-retired proposals: semicolon-separated, every field quoted, CRLF."""
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";", quotechar='"')
        header = next(reader)
        rows = list(reader)
    retired = header.index("retired_at")
    eligible = [row for row in rows if not row[retired].strip()]
    chosen = [eligible[i] for i in _sample(len(eligible), k, rng)]
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", quotechar='"', quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(chosen)
    votes = header.index("cached_votes_up")
    return [int(row[votes]) for row in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default="../shared/data", help="folder with uk_petitions/ and decide_madrid/"
    )
    parser.add_argument("--out", default="webapp/data/demo", help="where to write the extract")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--uk", type=int, default=DEFAULT_UK, help=f"UK petitions (default {DEFAULT_UK})"
    )
    parser.add_argument(
        "--madrid",
        type=int,
        default=DEFAULT_MADRID,
        help=f"Madrid proposals (default {DEFAULT_MADRID})",
    )
    args = parser.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    for path in (data / UK_FILE, data / MADRID_FILE):
        if not path.is_file():
            print(f"make_demo_extract: no such file: {path}", file=sys.stderr)
            return 2
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    counts = {
        "uk_petitions.jsonl": extract_uk(data / UK_FILE, out / "uk_petitions.jsonl", args.uk, rng),
        "decide_madrid.csv": extract_madrid(
            data / MADRID_FILE, out / "decide_madrid.csv", args.madrid, rng
        ),
    }
    largest = 0
    for name, support in counts.items():
        size = (out / name).stat().st_size
        largest = max(largest, max(support, default=0))
        print(
            f"{name}: {len(support)} ideas, {sum(support):,} votes (largest {max(support, default=0):,},"
            f" median {float(np.median(support)) if support else 0:g}), {size:,} bytes"
        )
    total = sum(sum(s) for s in counts.values())
    print(f"seed {args.seed}: {total:,} votes in all, {largest:,} demo voters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
