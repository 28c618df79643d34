"""A realistic synthetic city for the ranking benchmark (pure NumPy, seeded, chunked).

Defaults are the "Ranking" issue's: 1,000,000 ideas, 100,000,000 votes, 2,000,000 users over
125 districts in 12 okrugs, two years of timestamps.

- Votes per idea follow the empirical, heavy-tailed distribution of the real UK petitions'
  ``signature_count`` (non-rejected petitions): each idea draws a petition's log-count plus a
  small Gaussian jitter (a kernel-density resample, so 1,270 real values give a smooth
  distribution), and the draws are scaled so the total is exactly ``n_votes``.
- One vote per (user, idea): an idea's k-th voter is ``(offset + k * stride) mod m`` inside a
  pool of ``m`` users, with ``stride`` a prime larger than any pool, so the voters of an idea are
  distinct without any set or sort. A district-scoped idea draws ``LOCAL_SHARE`` of its voters
  from its own district's users and the rest from everyone else (the complement of that district).
- Users: ~60% verified, created over the period (more of them early), a few with unknown district.
- Times: ideas published uniformly over two years; an idea's votes front-loaded after publication
  (truncated exponential), never before the voter's account existed, never after ``now``.
- Rows are finally put in time order, as a votes table fills up.

Generation runs over chunks of ideas, so besides the final arrays (idea int32, user int32,
value int8, time int64: 17 bytes a vote, 1.7 GB at 100M) only one chunk's temporaries and, for
the final time sort, one int64 permutation and one column copy are alive (peak ~3 GB at 100M).
The result is cached as ``.npy`` files under ``bench/.cache/`` (git-ignored) so repeated runs
skip generation (about 40 s at 100M on the 2-core benchmark machine).

Run ``python -m bench.synthetic_city --votes 1000000`` to generate (and cache) a small city.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "bench" / ".cache"
DEMO_EXTRACT = ROOT / "webapp" / "data" / "demo" / "uk_petitions.jsonl"
DAY = 86_400
# 2024-11-25 00:00 UTC .. 2026-11-25 00:00 UTC.
START = 1_732_492_800
GENERATOR_VERSION = 1
# Primes above any pool size (n_users <= 2**31): strides that are coprime with every modulus.
_STRIDE_PRIMES = np.array(
    [2_147_483_659, 2_147_483_693, 2_147_483_713, 2_147_483_743, 2_147_483_777, 2_147_483_813,
     2_147_483_857, 2_147_483_867, 2_147_483_869, 2_147_483_887, 2_147_483_893, 2_147_483_929],
    dtype=np.int64,
)  # fmt: skip
STATUSES = ("open", "under_review", "answered", "implemented", "closed")
STATUS_SHARES = (0.45, 0.2, 0.15, 0.05, 0.15)


@dataclass(frozen=True)
class CityConfig:
    """Parameters of the synthetic city (defaults: the issue's benchmark city)."""

    n_ideas: int = 1_000_000
    n_votes: int = 100_000_000
    n_users: int = 2_000_000
    n_districts: int = 125
    n_okrugs: int = 12
    n_categories: int = 14
    days: int = 730
    verified_share: float = 0.6
    unknown_district_share: float = 0.05
    district_idea_share: float = 0.6
    local_share: float = 0.7
    oppose_share: float = 0.05
    merged_share: float = 0.01
    jitter: float = 0.25
    seed: int = 20261125
    order: str = "time"
    chunk_votes: int = 4_000_000

    def key(self, counts_digest: str) -> str:
        payload = json.dumps([asdict(self), counts_digest, GENERATOR_VERSION], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def now(self) -> int:
        return START + self.days * DAY


@dataclass(frozen=True)
class City:
    """The engine's inputs plus the attributes the listing filters use."""

    votes: Votes
    users: Users
    ideas: Ideas
    geo: Geography
    category: NDArray[np.int8]
    status: NDArray[np.int8]
    now: int
    config: CityConfig
    source: str
    generated_s: float
    cached: bool
    notes: list[str] = field(default_factory=list)


def default_data_dir() -> Path:
    env = os.environ.get("VECHE_DATA_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def load_signature_counts(data: Path | None) -> tuple[NDArray[np.int64], str]:
    """Signature counts of non-rejected UK petitions and a description of where they came from.

    ``data`` may be the data folder (holding ``uk_petitions/petitions.jsonl``), the
    ``uk_petitions`` folder or the ``.jsonl`` file itself. Falls back to the shipped extract.
    """
    data = data or default_data_dir()
    candidates = [data, data / "petitions.jsonl", data / "uk_petitions" / "petitions.jsonl"]
    path = next((p for p in candidates if p.is_file()), None)
    source = str(path)
    if path is None:
        path = DEMO_EXTRACT
        source = f"{DEMO_EXTRACT.relative_to(ROOT)} (fallback: no petitions.jsonl under {data})"
        print(f"warning: {data} has no UK petitions; using the shipped extract", file=sys.stderr)
    counts = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("state") == "rejected" or row.get("rejected_at"):
                continue
            counts.append(int(row.get("signature_count") or 0))
    if not counts:
        raise ValueError(f"data: no non-rejected petitions with signature_count in {path}")
    return np.asarray(counts, dtype=np.int64), source


def votes_per_idea(
    signatures: NDArray[np.int64], cfg: CityConfig, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Per-idea vote counts, shape (n_ideas,), summing to exactly ``cfg.n_votes``."""
    logs = np.log1p(signatures.astype(np.float64))
    draw = rng.choice(logs, cfg.n_ideas) + rng.normal(0.0, cfg.jitter, cfg.n_ideas)
    raw = np.expm1(np.maximum(draw, 0.0))
    cap = cfg.n_users // 2
    x = raw * (cfg.n_votes / raw.sum())
    for _ in range(5):  # scale again after capping the few ideas above half the users
        x = np.minimum(x, cap)
        x *= cfg.n_votes / x.sum()
    x = np.minimum(x, cap)
    counts = np.floor(x).astype(np.int64)
    counts += rng.random(cfg.n_ideas) < (x - counts)
    diff = cfg.n_votes - int(counts.sum())
    if diff > 0:
        room = np.flatnonzero(counts < cap)
        counts[rng.choice(room, diff, replace=False)] += 1
    elif diff < 0:
        have = np.flatnonzero(counts > 0)
        counts[rng.choice(have, -diff, replace=False)] -= 1
    return np.asarray(counts, dtype=np.int64)


def _districts(cfg: CityConfig, rng: np.random.Generator) -> tuple[NDArray[np.int64], Geography]:
    """User counts per district (unequal sizes) and the district → okrug map."""
    weights = rng.gamma(8.0, 1.0, cfg.n_districts)
    known = int(round(cfg.n_users * (1 - cfg.unknown_district_share)))
    sizes = np.floor(weights / weights.sum() * known).astype(np.int64)
    sizes[: known - int(sizes.sum())] += 1
    okrug = np.repeat(
        np.arange(cfg.n_okrugs, dtype=np.int16),
        [len(a) for a in np.array_split(np.arange(cfg.n_districts), cfg.n_okrugs)],
    )
    return sizes, Geography(okrug_of=okrug)


def generate(
    signatures: NDArray[np.int64], cfg: CityConfig, progress: bool = True
) -> dict[str, NDArray[Any]]:
    """All arrays of the city as a dict of name → array (the cache layout)."""
    rng = np.random.default_rng(cfg.seed)
    span = cfg.days * DAY
    now = cfg.now
    # Users: contiguous blocks per district (0..124), then the unknown-district users.
    sizes, geo = _districts(cfg, rng)
    block_lo = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    user_district = np.full(cfg.n_users, CITY_WIDE, dtype=np.int16)
    user_district[: int(sizes.sum())] = np.repeat(np.arange(cfg.n_districts), sizes)
    verified = rng.random(cfg.n_users) < cfg.verified_share
    # Accounts appear over the period, more of them early (the launch), none in the last day.
    user_created = START + (rng.random(cfg.n_users) ** 1.5 * (span - DAY)).astype(np.int64)
    # Ideas.
    counts = votes_per_idea(signatures, cfg, rng)
    idea_created = START + rng.integers(0, span - DAY, cfg.n_ideas)
    scoped = rng.random(cfg.n_ideas) < cfg.district_idea_share
    idea_district = np.where(scoped, rng.integers(0, cfg.n_districts, cfg.n_ideas), CITY_WIDE)
    cat_w = 1.0 / np.arange(1, cfg.n_categories + 1) ** 0.8
    category = rng.choice(cfg.n_categories, cfg.n_ideas, p=cat_w / cat_w.sum()).astype(np.int8)
    status = rng.choice(len(STATUSES), cfg.n_ideas, p=STATUS_SHARES).astype(np.int8)
    rate = rng.beta(2.0, 18.0, cfg.n_ideas)  # supports per distinct viewer, mean 10%
    viewers = np.ceil(counts / rate).astype(np.int64) + rng.integers(0, 50, cfg.n_ideas)
    canonical = np.arange(cfg.n_ideas, dtype=np.int32)
    n_merged = int(cfg.merged_share * cfg.n_ideas)
    if n_merged:
        picked = rng.permutation(cfg.n_ideas)
        dupes, targets = picked[:n_merged], picked[n_merged:]
        canonical[dupes] = targets[rng.integers(0, len(targets), n_merged)]
    # Votes, chunk by chunk of ideas.
    n = cfg.n_votes
    out_idea = np.empty(n, dtype=np.int32)
    out_user = np.empty(n, dtype=np.int32)
    out_value = np.empty(n, dtype=np.int8)
    out_time = np.empty(n, dtype=np.int64)
    ends = np.cumsum(counts)
    pos = 0
    first = 0
    t0 = time.perf_counter()
    while first < cfg.n_ideas:
        last = int(np.searchsorted(ends, (ends[first - 1] if first else 0) + cfg.chunk_votes))
        last = min(max(last, first + 1), cfg.n_ideas)
        ids = np.arange(first, last, dtype=np.int64)
        c = counts[first:last]
        m = int(c.sum())
        if m:
            rank = np.arange(m, dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
            d = idea_district[first:last]
            bsize = np.where(d >= 0, sizes[np.maximum(d, 0)], 0)
            blo = np.where(d >= 0, block_lo[np.maximum(d, 0)], cfg.n_users)
            local = np.minimum(np.round(cfg.local_share * c).astype(np.int64), bsize)
            local = np.maximum(local, c - (cfg.n_users - bsize))
            off_in = rng.integers(0, np.maximum(bsize, 1))
            off_out = rng.integers(0, cfg.n_users - bsize)
            stride_in = rng.choice(_STRIDE_PRIMES, len(ids))
            stride_out = rng.choice(_STRIDE_PRIMES, len(ids))
            r_local = np.repeat(local, c)
            r_bsize = np.repeat(bsize, c)
            r_blo = np.repeat(blo, c)
            inside = rank < r_local
            k_in = np.repeat(off_in, c) + rank * np.repeat(stride_in, c)
            user = np.repeat(blo, c) + k_in % np.maximum(r_bsize, 1)
            k_out = np.repeat(off_out, c) + (rank - r_local) * np.repeat(stride_out, c)
            p_out = k_out % (cfg.n_users - r_bsize)
            p_out += np.where(p_out >= r_blo, r_bsize, 0)
            user = np.where(inside, user, p_out)
            del k_in, k_out, p_out, r_blo, r_bsize, r_local, inside, rank
            # Times: front-loaded after publication, after the account, before now.
            created = np.repeat(idea_created[first:last], c)
            u = rng.random(m)
            frac = -np.log1p(-u * (1.0 - np.exp(-4.0))) / 4.0
            t = created + (frac * (now - created)).astype(np.int64)
            lead = rng.integers(60, DAY, m)
            t = np.minimum(np.maximum(t, user_created[user] + lead), now)
            out_idea[pos : pos + m] = np.repeat(ids, c)
            out_user[pos : pos + m] = user
            out_time[pos : pos + m] = t
            out_value[pos : pos + m] = np.where(rng.random(m) < cfg.oppose_share, -1, 1)
            pos += m
        first = last
        if progress:
            done = pos / n
            print(
                f"\r  generating votes: {pos:,}/{n:,} ({done:.0%}, "
                f"{time.perf_counter() - t0:.0f} s)",
                end="",
                file=sys.stderr,
                flush=True,
            )
    if progress:
        print(file=sys.stderr)
    assert pos == n, (pos, n)
    if cfg.order == "time":
        if progress:
            print("  sorting votes by time", file=sys.stderr, flush=True)
        order = np.argsort(out_time)
        out_idea = out_idea[order]
        out_user = out_user[order]
        out_value = out_value[order]
        del order
        out_time.sort()  # in place: the same values as out_time[order], without a copy
    elif cfg.order != "idea":
        raise ValueError(f"order must be 'time' or 'idea', got {cfg.order!r}")
    return {
        "vote_idea": out_idea,
        "vote_user": out_user,
        "vote_value": out_value,
        "vote_time": out_time,
        "user_verified": verified,
        "user_district": user_district,
        "user_created": user_created,
        "idea_district": idea_district.astype(np.int16),
        "idea_created": idea_created.astype(np.int64),
        "idea_viewers": viewers,
        "idea_canonical": canonical,
        "idea_category": category,
        "idea_status": status,
        "okrug_of": geo.okrug_of,
    }


def _to_city(
    arrays: dict[str, NDArray[Any]], cfg: CityConfig, source: str, seconds: float, cached: bool
) -> City:
    # The arrays are already valid by construction: build the dataclasses directly (the
    # validating ``build`` would copy and scan 1.7 GB for nothing).
    return City(
        votes=Votes(
            arrays["vote_idea"], arrays["vote_user"], arrays["vote_value"], arrays["vote_time"]
        ),
        users=Users(arrays["user_verified"], arrays["user_district"], arrays["user_created"]),
        ideas=Ideas(
            arrays["idea_district"],
            arrays["idea_created"],
            arrays["idea_viewers"],
            arrays["idea_canonical"],
        ),
        geo=Geography(okrug_of=arrays["okrug_of"]),
        category=arrays["idea_category"],
        status=arrays["idea_status"],
        now=cfg.now,
        config=cfg,
        source=source,
        generated_s=seconds,
        cached=cached,
    )


def cache_path(cfg: CityConfig, data: Path | None) -> tuple[Path, NDArray[np.int64], str]:
    signatures, source = load_signature_counts(data)
    digest = hashlib.sha256(np.sort(signatures).tobytes()).hexdigest()[:16]
    return CACHE_DIR / f"city-{cfg.n_votes}-{cfg.key(digest)}", signatures, source


def load_city(
    cfg: CityConfig, data: Path | None = None, use_cache: bool = True, progress: bool = True
) -> City:
    """The city for ``cfg``: from the ``.npy`` cache when present, else generated (and cached)."""
    folder, signatures, source = cache_path(cfg, data)
    meta = folder / "meta.json"
    if use_cache and meta.is_file():
        t0 = time.perf_counter()
        arrays = {p.stem: np.load(p) for p in folder.glob("*.npy")}
        if progress:
            print(f"  loaded cached city {folder.name} in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)  # fmt: skip
        info = json.loads(meta.read_text())
        return _to_city(arrays, cfg, info["source"], info["generated_s"], True)
    t0 = time.perf_counter()
    arrays = generate(signatures, cfg, progress)
    seconds = time.perf_counter() - t0
    if use_cache:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", array)
        meta.write_text(
            json.dumps({"config": asdict(cfg), "source": source, "generated_s": seconds}, indent=1)
        )
    return _to_city(arrays, cfg, source, seconds, False)


def describe(city: City) -> dict[str, Any]:
    """A few statistics showing the city is what it claims to be."""
    counts = np.bincount(city.votes.idea, minlength=len(city.ideas))
    q = np.percentile(counts, [50, 90, 99, 99.9])
    return {
        "ideas": len(city.ideas),
        "votes": len(city.votes),
        "users": len(city.users),
        "districts": city.geo.n_districts,
        "okrugs": city.geo.n_okrugs,
        "votes_per_idea_p50_p90_p99_p999": [float(x) for x in q],
        "votes_per_idea_max": int(counts.max()),
        "ideas_without_votes_share": float(np.mean(counts == 0)),
        "verified_share": float(city.users.verified.mean()),
        "oppose_share": float(np.mean(city.votes.value < 0)),
        "signature_source": city.source,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=CityConfig.n_votes)
    parser.add_argument("--ideas", type=int, default=CityConfig.n_ideas)
    parser.add_argument("--users", type=int, default=CityConfig.n_users)
    parser.add_argument("--data", type=Path, default=None, help="UK petitions data folder")
    parser.add_argument("--check", action="store_true", help="verify one vote per (user, idea)")
    args = parser.parse_args(argv)
    cfg = CityConfig(n_ideas=args.ideas, n_votes=args.votes, n_users=args.users)
    city = load_city(cfg, args.data)
    print(json.dumps(describe(city), indent=1))
    if args.check:
        key = city.votes.idea.astype(np.int64) * cfg.n_users + city.votes.user
        print("duplicate (user, idea) pairs:", len(key) - len(np.unique(key)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
