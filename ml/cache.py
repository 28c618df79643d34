"""A disk cache in front of an :class:`~ml.embeddings.Encoder` (evaluation, calibration, benches).

Vectors are keyed by the encoder's identity and the SHA-1 of the text, in one SQLite file per
identity under the cache directory (``VECHE_EMBED_CACHE`` or ``~/.cache/veche/embeddings``).
Re-running an evaluation re-embeds only texts it has not seen. The platform stores its vectors in
its own database and does not use this.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ml.embeddings import Encoder, Progress, Vectors, identity_stem


def default_cache_dir() -> Path:
    env = os.environ.get("VECHE_EMBED_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "veche" / "embeddings"


class CachedEncoder:
    """Same interface as the wrapped encoder; misses are encoded in one batch and stored."""

    def __init__(self, encoder: Encoder, directory: Path | None = None) -> None:
        self.inner = encoder
        self.identity = encoder.identity
        self.dim = encoder.dim
        self.parts = encoder.parts
        root = directory or default_cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f"{identity_stem(encoder.identity)}.sqlite"
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, v BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> Vectors:
        items = list(texts)
        keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest() for t in items]
        out = np.empty((len(items), self.dim), dtype=np.float32)
        found: dict[bytes, bytes] = {}
        with self._lock, self._connect() as db:
            uniq = list(dict.fromkeys(keys))
            for start in range(0, len(uniq), 500):
                chunk = uniq[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", chunk))  # noqa: S608
        missing: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k in found:
                out[i] = np.frombuffer(found[k], dtype=np.float32)
            elif k not in missing:
                missing[k] = i
        if progress is not None and len(items) - len(missing):
            progress(len(items) - len(missing))
        if missing:
            order = list(missing.items())
            vecs = self.inner.encode(
                [items[i] for _, i in order], batch_size=batch_size, progress=progress
            )
            fresh = {k: vecs[j] for j, (k, _) in enumerate(order)}
            with self._lock, self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)",
                    [(k, v.astype(np.float32).tobytes()) for k, v in fresh.items()],
                )
            for i, k in enumerate(keys):
                if k in fresh:
                    out[i] = fresh[k]
        return out
