"""End-to-end similar-ideas latency over real HTTP (part of ``make bench-dedup``).

For each corpus size: a fresh SQLite database (real migrations) gets N public ideas and one stored
vector per idea for the serving model; ``veche serve`` (uvicorn, one worker) starts on it; once
the worker reports the index ready, sequential ``GET /api/v1/ideas/similar?text=…`` requests with
realistic typed texts (each one different, so nothing is cached) measure the whole path: HTTP,
embedding the typed text with the real model, the index search, loading candidates from the
database and re-ranking them with the pair scorer.

Stored vectors are synthetic above the real corpus size (a mixture of clusters on the sphere, the
model's dimension): embedding a million texts with the real model would take days on two cores,
and the search cost does not depend on where a vector came from. Texts are real petition and
proposal titles recombined.

    python -m bench.similar_http --sizes 10000,100000 [--requests 200] [--model NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np

from webapp.kernel.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent

TYPED = [
    "Установить светофор на перекрёстке у школы",
    "Сделать велодорожку вдоль набережной",
    "Открыть бесплатную парковку у поликлиники",
    "Отремонтировать детскую площадку во дворе",
    "Запустить автобус до станции метро",
    "Посадить деревья вдоль проспекта",
    "Build a pedestrian crossing near the school",
    "More bike lanes in the city centre",
    "Keep the library open on Sundays",
    "Plant trees along the main road",
]
WORDS = [
    "район",
    "улица",
    "двор",
    "парк",
    "школа",
    "метро",
    "автобус",
    "сквер",
    "пруд",
    "district",
    "street",
    "park",
    "school",
    "bus",
    "square",
    "river",
    "market",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def corpus_titles(data: Path | None) -> list[str]:
    titles: list[str] = []
    demo = ROOT / "webapp" / "data" / "demo"
    for path in sorted(demo.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                t = row.get("title") or row.get("action") or ""
                if t:
                    titles.append(str(t)[:200])
    if not titles:
        titles = TYPED
    return titles


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((max(16, n // 50), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    which = rng.integers(0, len(centres), n)
    v = centres[which] + 0.6 / np.sqrt(dim) * rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.astype(np.float32)


def build_database(path: Path, n: int, identity: str, dim: int, seed: int = 7) -> float:
    url = f"sqlite:///{path}"
    upgrade(url)
    rng = np.random.default_rng(seed)
    titles = corpus_titles(None)
    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = datetime.utcnow().isoformat(sep=" ")
    chunk = 20_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        rows = []
        for i in range(start, start + m):
            t = f"{titles[i % len(titles)]} {WORDS[i % len(WORDS)]} {i}"
            rows.append((i + 1, t, t + ". " + titles[(i * 7) % len(titles)], now, now))
        db.executemany(
            "INSERT INTO ideas (id, title, body, language, status, support_count, oppose_count,"
            " comment_count, viewer_count, search_doc, created_at, updated_at)"
            " VALUES (?, ?, ?, 'ru', 'published', 0, 0, 0, 0, '', ?, ?)",
            rows,
        )
        vec = synthetic_vectors(m, dim, rng)
        db.executemany(
            "INSERT INTO idea_embeddings (idea_id, model, dim, vector, text_hash, idea_updated_at,"
            " created_at) VALUES (?, ?, ?, ?, '', ?, ?)",
            [(start + j + 1, identity, dim, vec[j].tobytes(), now, now) for j in range(m)],
        )
        db.commit()
    db.close()
    return time.perf_counter() - started


def measure(url: str, requests: int, rng: random.Random) -> list[float]:
    out: list[float] = []
    with httpx.Client(base_url=url, timeout=30.0) as client:
        for i in range(requests + 5):
            text = f"{rng.choice(TYPED)} {rng.choice(WORDS)} {rng.randrange(10_000)}"
            t0 = time.perf_counter()
            r = client.get("/api/v1/ideas/similar", params={"text": text, "k": 5})
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"similar lookup answered {r.status_code}: {r.text[:200]}")
            if i >= 5:  # warm-up
                out.append(dt * 1000)
    return out


def run_size(n: int, requests: int, model: str, identity: str, dim: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix=f"veche-bench-{n}-"))
    db = tmp / "bench.db"
    print(f"[{n:,}] building the database ...", flush=True)
    build_s = build_database(db, n, identity, dim)
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{db}",
        VECHE_EMBEDDING_MODEL=model,
        VECHE_SECRET_KEY="bench-secret-key-0123456789-0123456789-0123",
        VECHE_SIMILAR_RATE_LIMIT="100000",
        VECHE_ENVIRONMENT="development",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        ready = None
        while time.perf_counter() - started < 3600:
            if proc.poll() is not None:
                raise RuntimeError(
                    "the server exited: " + (proc.stderr.read() or b"").decode()[-2000:]
                )
            try:
                r = httpx.get(
                    url + "/api/v1/ideas/similar", params={"text": "проверка связи"}, timeout=30
                )
                if r.status_code == 200:
                    ready = time.perf_counter() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        if ready is None:
            raise RuntimeError("the index did not become ready within an hour")
        print(f"[{n:,}] ready after {ready:.1f} s; measuring {requests} requests", flush=True)
        lat = np.array(measure(url, requests, random.Random(n)))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        for f in tmp.glob("*"):
            f.unlink()
        tmp.rmdir()
    return {
        "ideas": n,
        "requests": requests,
        "db_build_s": round(build_s, 1),
        "ready_after_s": round(ready, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "mean_ms": round(float(lat.mean()), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="corpus sizes, comma-separated (default: %(default)s)",
    )
    ap.add_argument("--requests", type=int, default=200, help="timed requests per size")
    ap.add_argument("--model", default="veche-embedded-v1", help="VECHE_EMBEDDING_MODEL to serve")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    from ml.embeddings import load_encoder

    enc = load_encoder(args.model)
    results = [
        run_size(int(s), args.requests, args.model, enc.identity, enc.dim)
        for s in args.sizes.split(",")
        if s.strip()
    ]
    for r in results:
        print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
