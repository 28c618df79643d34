"""The baseline: the `top` list the way today's platforms compute it, in PostgreSQL.

A throw-away database receives the synthetic city's votes and ideas through binary ``COPY``
(rows packed by NumPy, no per-row Python), gets an index on ``votes (idea_id)`` and ``ANALYZE``,
and then answers, per page view,

    SELECT idea_id, count(*) FROM votes WHERE value = 1
    GROUP BY idea_id ORDER BY count(*) DESC, idea_id LIMIT 20

and the same with a category/district/status filter through a join to ``ideas``. The database is
dropped afterwards.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from bench.synthetic_city import City

PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds
_HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
_TRAILER = np.array([-1], dtype=">i2").tobytes()

TOP_SQL = (
    "SELECT idea_id, count(*) FROM votes WHERE value = 1 "
    "GROUP BY idea_id ORDER BY count(*) DESC, idea_id LIMIT 20"
)
FILTERED_SQL = (
    "SELECT v.idea_id, count(*) FROM votes v JOIN ideas i ON i.id = v.idea_id "
    "WHERE v.value = 1 AND {where} "
    "GROUP BY v.idea_id ORDER BY count(*) DESC, v.idea_id LIMIT 20"
)


@dataclass(frozen=True)
class Filter:
    """A listing filter: any of category, district (-1 = city-wide), status; None = any."""

    category: int | None = None
    district: int | None = None
    status: int | None = None

    def mask(self, city: City) -> np.ndarray:
        keep = np.ones(len(city.ideas), dtype=bool)
        if self.category is not None:
            keep &= city.category == self.category
        if self.district is not None:
            keep &= city.ideas.district == self.district
        if self.status is not None:
            keep &= city.status == self.status
        return keep

    def where(self) -> tuple[str, list[int]]:
        parts, params = [], []
        for column in ("category", "district", "status"):
            value = getattr(self, column)
            if value is not None:
                parts.append(f"i.{column} = %s")
                params.append(value)
        return " AND ".join(parts) or "TRUE", params


def random_filters(rng: np.random.Generator, count: int, n_categories: int, n_districts: int,
                   n_statuses: int) -> list[Filter]:  # fmt: skip
    """A mix of the listing filters a visitor uses: category, district, status and pairs."""
    shapes = [("category",), ("district",), ("category", "status"), ("district", "status"),
              ("category", "district")]  # fmt: skip
    out = []
    for _ in range(count):
        shape = shapes[int(rng.integers(len(shapes)))]
        kw: dict[str, int] = {}
        if "category" in shape:
            kw["category"] = int(rng.integers(n_categories))
        if "district" in shape:
            kw["district"] = int(rng.integers(-1, n_districts))
        if "status" in shape:
            kw["status"] = int(rng.integers(n_statuses))
        out.append(Filter(**kw))
    return out


def _binary_rows(columns: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """PostgreSQL binary COPY payload for columns of fixed-width big-endian types."""
    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    for name, array in columns:
        fields += [(f"{name}_len", ">i4"), (name, array.dtype.newbyteorder(">").str)]
    n = len(columns[0][1])
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["nfields"] = len(columns)
    for name, array in columns:
        rows[f"{name}_len"] = array.dtype.itemsize
        rows[name] = array
    return _HEADER + rows.tobytes() + _TRAILER


def _copy(cur: psycopg.Cursor[Any], table: str, names: str, payload: bytes) -> None:
    step = 64 << 20
    with cur.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT binary)") as copy:
        for start in range(0, len(payload), step):
            copy.write(payload[start : start + step])


def _median_ms(cur: psycopg.Cursor[Any], query: str, params: list[int], repeats: int) -> tuple[float, list[tuple[int, int]]]:  # fmt: skip
    times, rows = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        cur.execute(query, params)
        rows = cur.fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), rows


def run_baseline(city: City, url: str, filters: list[Filter], repeats: int = 5,
                 filter_repeats: int = 3, progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Load ``city`` into a throw-away database, time the GROUP BY queries, drop it."""
    dbname = f"veche_bench_{int(time.time())}"

    def say(msg: str) -> None:
        if progress:
            print(f"  [pg] {msg}", file=sys.stderr, flush=True)

    with psycopg.connect(url, autocommit=True) as admin:
        server = admin.execute("SELECT version()").fetchone()[0]  # type: ignore[index]
        settings = {
            name: admin.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit")
        }
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    target = psycopg.conninfo.make_conninfo(url, dbname=dbname)
    result: dict[str, Any] = {"server": server, "settings": settings, "database": dbname}
    try:
        with psycopg.connect(target, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE ideas (id integer PRIMARY KEY, category smallint NOT NULL,"
                " district smallint NOT NULL, status smallint NOT NULL)"
            )
            cur.execute(
                "CREATE TABLE votes (idea_id integer NOT NULL, user_id integer NOT NULL,"
                " value smallint NOT NULL, created_at timestamptz NOT NULL)"
            )
            t0 = time.perf_counter()
            n_ideas = len(city.ideas)
            _copy(cur, "ideas", "id, category, district, status", _binary_rows([
                ("id", np.arange(n_ideas, dtype=np.int32)),
                ("category", city.category.astype(np.int16)),
                ("district", city.ideas.district.astype(np.int16)),
                ("status", city.status.astype(np.int16)),
            ]))  # fmt: skip
            v = city.votes
            step = 2_000_000
            for start in range(0, len(v), step):
                sl = slice(start, start + step)
                _copy(cur, "votes", "idea_id, user_id, value, created_at", _binary_rows([
                    ("idea_id", v.idea[sl]),
                    ("user_id", v.user[sl]),
                    ("value", v.value[sl].astype(np.int16)),
                    ("created_at", v.time[sl] * 1_000_000 - PG_EPOCH_US),
                ]))  # fmt: skip
                say(f"copied {min(start + step, len(v)):,}/{len(v):,} votes")
            result["copy_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            cur.execute("CREATE INDEX votes_idea_id ON votes (idea_id)")
            cur.execute("ANALYZE ideas")
            cur.execute("ANALYZE votes")
            cur.execute("VACUUM votes")  # visibility map, so index-only scans are possible
            result["index_analyze_s"] = time.perf_counter() - t0
            count = cur.execute("SELECT count(*) FROM votes").fetchone()[0]  # type: ignore[index]
            result["rows"] = count
            cur.execute("EXPLAIN " + TOP_SQL)
            result["plan_top"] = [r[0] for r in cur.fetchall()]
            _median_ms(cur, TOP_SQL, [], 1)  # warm the cache
            top_ms, rows = _median_ms(cur, TOP_SQL, [], repeats)
            result["top_ms"] = top_ms
            result["top_rows"] = rows
            say(f"unfiltered GROUP BY: median {top_ms:.0f} ms")
            per_filter = []
            for f in filters:
                where, params = f.where()
                ms, rows = _median_ms(cur, FILTERED_SQL.format(where=where), params,
                                      filter_repeats)  # fmt: skip
                per_filter.append(ms)
            where, params = filters[0].where()
            cur.execute("EXPLAIN " + FILTERED_SQL.format(where=where), params)
            result["plan_filtered"] = [r[0] for r in cur.fetchall()]
            result["filtered_ms"] = statistics.median(per_filter)
            result["filtered_ms_all"] = per_filter
            result["filters"] = len(filters)
            say(f"filtered GROUP BY: median {result['filtered_ms']:.0f} ms over {len(filters)}")
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
        say(f"dropped {dbname}")
    return result
