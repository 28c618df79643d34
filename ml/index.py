"""Vector indexes over idea embeddings: exact NumPy search and an approximate (ANN) index.

Every index maps int64 idea ids (>= 0) to float32 vectors and answers inner-product top-k
queries. Vectors are expected to be L2-normalised (so inner product = cosine), but the index does
not require it: the finder searches with a script-weighted query vector (``ml/finder.py``).

* :class:`ExactIndex`: a float32 matrix with amortised growth, ``add`` replaces a known id in
  place, ``remove`` swaps the last row into the hole, ``search`` is one matrix product plus
  ``argpartition``. Exact, and fast enough for small corpora (see ``build_index``).
* ``search`` always returns ``(ids, scores)`` of shape ``(m, k)``, best first; when fewer than
  ``k`` items exist, the tail is padded with id ``-1`` and score ``-inf``.
* :class:`ANNIndex`: an HNSW graph from USearch (``usearch`` on PyPI, Apache-2.0), vectors
  stored as float16, inner-product metric. Chosen by measurement over hnswlib and faiss-cpu
  (``bench/dedup_bench.py``, numbers in ``docs/benchmarks.md``): the same recall and latency
  class as hnswlib, but it also stores float16 (half the memory, duplicate recall unchanged),
  removes and re-adds keys, and can open a saved index as a read-only memory-mapped *view*, so
  several worker processes share one copy of the pages. faiss' HNSW cannot remove vectors.
* ``save(path)`` writes one file; :func:`load_index` reads any index back
  (``view=True``: a memory-mapped read-only ANN index).
* :func:`build_index` with ``kind="auto"`` picks exact search up to :data:`AUTO_EXACT_MAX`
  vectors and the ANN index above; :func:`upgrade` turns a grown exact index into an ANN one
  (a background job's work: building takes seconds to minutes).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Ids = NDArray[np.int64]
Vectors = NDArray[np.float32]
Scores = NDArray[np.float32]
Kind = Literal["auto", "exact", "ann"]

#: Formats written by :meth:`ExactIndex.save` (an ``.npz`` file) — bumped on incompatible change.
EXACT_FORMAT = "veche-exact-index-v1"
#: Largest expected size for which ``build_index(kind="auto")`` returns exact search. Measured
#: on the shared 2-core machine (dim 768, one query): exact p50 0.1 ms at 2k, 0.7 ms at 5k, then
#: 21 ms at 10k and 30 ms at 20k, once the matrix (30 MB at 10k) no longer stays in cache and
#: the product becomes memory-bound; the ANN index answers in ~0.3 ms at 10k and builds 5k
#: vectors in about a second. Below this, exact search costs nothing in recall or build time.
AUTO_EXACT_MAX = 5_000
#: HNSW parameters (bench/dedup_bench.py, dim 768, planted duplicates at cosine 0.80-0.95).
#: Measured with connectivity 16, expansion_add 64, f16 (2026-11-26, loaded 2-core machine):
#: duplicate recall vs exact at ef 32/64/128 = 1.0/1.0/1.0 at 10k, 0.993/0.997/0.997 at 100k,
#: 0.867/0.940/0.983 at 1M (p50 0.58/0.78/1.35 ms at 1M). The miss rate falls ~3x per doubling
#: of ef, so ef 256 is the default: expected >= 0.99 at 1M for ~2.5 ms p50 (not yet measured at
#: 1M: `python -m bench.dedup_bench --sizes 1000000 --ef 128,256,512 --no-pg --no-encoder`).
#: i8 was rejected (random recall@10 0.82); f16 keeps duplicate recall and halves memory.
ANN_DTYPE = "f16"
ANN_CONNECTIVITY = 16
ANN_EXPANSION_ADD = 64
ANN_EXPANSION_SEARCH = 256
#: Bound on the (queries x items) score block held at once by ExactIndex.search (floats).
_SEARCH_BLOCK = 1 << 24


@runtime_checkable
class VectorIndex(Protocol):
    """What the finder needs from an index: add/replace, remove, inner-product top-k, persist."""

    dim: int

    def add(self, ids: Ids, vectors: Vectors) -> None: ...

    def remove(self, ids: Ids) -> None: ...

    def search(self, queries: Vectors, k: int) -> tuple[Ids, Scores]: ...

    def __len__(self) -> int: ...

    def __contains__(self, id: object) -> bool: ...

    def save(self, path: Path) -> None: ...


# ----------------------------------------------------------------------------- validation


def check_dim(dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if int(dim) < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return int(dim)


def check_ids(ids: object) -> Ids:
    """1-D int64 array of ids >= 0 (ValueError/TypeError naming the problem otherwise)."""
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"ids must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
    out = arr.astype(np.int64, copy=False)
    if (out < 0).any():
        raise ValueError("ids must be >= 0 (-1 is the padding id)")
    return out


def check_vectors(vectors: object, dim: int, *, what: str = "vectors") -> Vectors:
    """(n, dim) finite float32 array; a single 1-D vector is taken as one row."""
    arr = np.asarray(vectors)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (n, {dim}), got shape {arr.shape}")
    if arr.shape[1] != dim:
        raise ValueError(f"{what} must have {dim} columns, got {arr.shape[1]}")
    if arr.size and not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if out.size and not np.isfinite(out).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return out


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(k)


def last_wins(ids: Ids, vectors: Vectors) -> tuple[Ids, Vectors]:
    """Drop earlier rows of ids repeated within one batch (the last one wins, as sequential adds)."""
    if ids.size < 2:
        return ids, vectors
    rev_unique, rev_first = np.unique(ids[::-1], return_index=True)
    if rev_unique.size == ids.size:
        return ids, vectors
    keep = np.sort(ids.size - 1 - rev_first)
    return ids[keep], vectors[keep]


def checked_batch(ids: object, vectors: object, dim: int) -> tuple[Ids, Vectors] | None:
    """Validated ids and vectors for ``add`` (a repeated id: the last one wins); None if empty."""
    arr_ids = check_ids(ids)
    arr = check_vectors(vectors, dim)
    if arr.shape[0] != arr_ids.size:
        raise ValueError(f"got {arr_ids.size} ids but {arr.shape[0]} vectors")
    if arr_ids.size == 0:
        return None
    return last_wins(arr_ids, arr)


def _as_id(id: object) -> int | None:
    if isinstance(id, bool) or not isinstance(id, int | np.integer):
        return None
    return int(id)


def _padded(m: int, k: int) -> tuple[Ids, Scores]:
    return (np.full((m, k), -1, dtype=np.int64), np.full((m, k), -np.inf, dtype=np.float32))


# ----------------------------------------------------------------------------- exact


class ExactIndex:
    """Exact inner-product search over a growing float32 matrix (NumPy only)."""

    kind = "exact"

    def __init__(self, dim: int, *, capacity: int = 0) -> None:
        self.dim = check_dim(dim)
        capacity = max(int(capacity), 16)
        self._vectors: Vectors = np.zeros((capacity, self.dim), dtype=np.float32)
        self._ids: Ids = np.full(capacity, -1, dtype=np.int64)
        self._n = 0
        self._row: dict[int, int] = {}

    # -- size and membership

    def __len__(self) -> int:
        return self._n

    def __contains__(self, id: object) -> bool:
        key = _as_id(id)
        return key is not None and key in self._row

    def __repr__(self) -> str:
        return f"ExactIndex(dim={self.dim}, n={self._n})"

    @property
    def nbytes(self) -> int:
        return int(self._vectors.nbytes + self._ids.nbytes)

    def ids(self) -> Ids:
        """The stored ids, in storage order (a copy)."""
        return self._ids[: self._n].copy()

    def vectors(self) -> Vectors:
        """The stored vectors, rows in the order of :meth:`ids` (a read-only view)."""
        view = self._vectors[: self._n]
        view.flags.writeable = False
        return view

    def get(self, ids: Ids) -> Vectors:
        """Stored vectors of the given ids, one row each (KeyError for an unknown id)."""
        rows = [self._row[i] for i in check_ids(ids).tolist()]
        return self._vectors[rows].copy()

    # -- updates

    def _reserve(self, n: int) -> None:
        cap = self._vectors.shape[0]
        if n <= cap:
            return
        new_cap = max(n, cap * 2)
        vectors = np.zeros((new_cap, self.dim), dtype=np.float32)
        vectors[: self._n] = self._vectors[: self._n]
        ids = np.full(new_cap, -1, dtype=np.int64)
        ids[: self._n] = self._ids[: self._n]
        self._vectors, self._ids = vectors, ids

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add vectors; an id already present is replaced (so is a repeat within the batch)."""
        batch = checked_batch(ids, vectors, self.dim)
        if batch is None:
            return
        arr_ids, arr = batch
        known = np.fromiter(
            (i in self._row for i in arr_ids.tolist()), dtype=bool, count=arr_ids.size
        )
        if known.any():
            rows = np.fromiter((self._row[i] for i in arr_ids[known].tolist()), dtype=np.int64)
            self._vectors[rows] = arr[known]
        fresh = ~known
        count = int(fresh.sum())
        if count:
            self._reserve(self._n + count)
            start, stop = self._n, self._n + count
            self._vectors[start:stop] = arr[fresh]
            self._ids[start:stop] = arr_ids[fresh]
            self._row.update(zip(arr_ids[fresh].tolist(), range(start, stop), strict=True))
            self._n = stop

    def remove(self, ids: Ids) -> None:
        """Remove ids; unknown ids are ignored. The last row moves into each hole."""
        for key in check_ids(ids).tolist():
            row = self._row.pop(key, None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:
                moved = int(self._ids[last])
                self._vectors[row] = self._vectors[last]
                self._ids[row] = moved
                self._row[moved] = row
            self._ids[last] = -1
            self._n = last

    # -- search

    def search(self, queries: Vectors, k: int) -> tuple[Ids, Scores]:
        """Exact top-k by inner product: ``(ids, scores)``, each ``(m, k)``, best first."""
        q = check_vectors(queries, self.dim, what="queries")
        k = check_k(k)
        m, n = q.shape[0], self._n
        out_ids, out_scores = _padded(m, k)
        if n == 0 or m == 0:
            return out_ids, out_scores
        kk = min(k, n)
        matrix = self._vectors[:n]
        step = max(1, _SEARCH_BLOCK // n)
        for lo in range(0, m, step):
            hi = min(m, lo + step)
            scores = q[lo:hi] @ matrix.T
            if kk < n:
                part = np.argpartition(scores, n - kk, axis=1)[:, n - kk :]
                part_scores = np.take_along_axis(scores, part, axis=1)
            else:
                part = np.broadcast_to(np.arange(n), scores.shape)
                part_scores = scores
            order = np.argsort(-part_scores, axis=1, kind="stable")
            rows = np.take_along_axis(part, order, axis=1)
            out_ids[lo:hi, :kk] = self._ids[rows]
            out_scores[lo:hi, :kk] = np.take_along_axis(part_scores, order, axis=1)
        return out_ids, out_scores

    # -- persistence

    def save(self, path: Path) -> None:
        """Write ids and vectors to one ``.npz`` file at exactly ``path`` (atomic replace)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                format=np.array(EXACT_FORMAT),
                dim=np.array(self.dim),
                ids=self._ids[: self._n],
                vectors=self._vectors[: self._n],
            )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> ExactIndex:
        with np.load(Path(path), allow_pickle=False) as data:
            if str(data["format"]) != EXACT_FORMAT:
                raise ValueError(f"{path}: not a Veche exact index ({data['format']})")
            index = cls(int(data["dim"]), capacity=int(data["ids"].shape[0]))
            index.add(data["ids"], data["vectors"])
        return index

    @classmethod
    def from_arrays(cls, ids: Ids, vectors: Vectors) -> ExactIndex:
        arr = np.asarray(vectors)
        if arr.ndim != 2:
            raise ValueError(f"vectors must be a 2-D array, got shape {arr.shape}")
        index = cls(arr.shape[1], capacity=arr.shape[0])
        index.add(ids, arr)
        return index


# ----------------------------------------------------------------------------- approximate


class ANNIndex:
    """Approximate inner-product search: a USearch HNSW graph over float16 vectors.

    ``add`` replaces a known id (removed, then re-inserted); ``remove`` ignores unknown ids.
    ``search`` with one query runs on one thread (the request path); batches use every core.
    An index opened with ``view=True`` is read-only and memory-mapped.
    """

    kind = "ann"

    def __init__(
        self,
        dim: int,
        *,
        capacity: int = 0,
        dtype: str = ANN_DTYPE,
        connectivity: int = ANN_CONNECTIVITY,
        expansion_add: int = ANN_EXPANSION_ADD,
        expansion_search: int = ANN_EXPANSION_SEARCH,
        _index: Any = None,
        _read_only: bool = False,
    ) -> None:
        del capacity  # USearch grows by itself; the argument mirrors ExactIndex
        from usearch.index import Index

        self.dim = check_dim(dim)
        if dtype not in ("f32", "f16", "bf16", "i8"):
            raise ValueError(f"dtype must be one of f32, f16, bf16, i8, got {dtype!r}")
        for name, value in (
            ("connectivity", connectivity),
            ("expansion_add", expansion_add),
            ("expansion_search", expansion_search),
        ):
            if int(value) < 2:
                raise ValueError(f"{name} must be >= 2, got {value}")
        self.read_only = _read_only
        if _index is None:
            _index = Index(
                ndim=self.dim,
                metric="ip",
                dtype=dtype,
                connectivity=int(connectivity),
                expansion_add=int(expansion_add),
                expansion_search=int(expansion_search),
            )
        self._index = _index
        self._ef = int(expansion_search)
        self._index.expansion_search = self._ef

    @property
    def expansion_search(self) -> int:
        """Candidates explored per query (raised to k for a larger k, for that query only)."""
        return self._ef

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        if int(value) < 2:
            raise ValueError(f"expansion_search must be >= 2, got {value}")
        self._ef = int(value)
        self._index.expansion_search = self._ef

    @property
    def dtype(self) -> str:
        return str(self._index.dtype).rsplit(".", 1)[-1].lower()

    @property
    def nbytes(self) -> int:
        return int(self._index.memory_usage)

    def __len__(self) -> int:
        return int(self._index.size)

    def __contains__(self, id: object) -> bool:
        key = _as_id(id)
        return key is not None and key >= 0 and bool(self._index.contains(key))

    def __repr__(self) -> str:
        return (
            f"ANNIndex(dim={self.dim}, n={len(self)}, dtype={self.dtype}, "
            f"connectivity={self._index.connectivity}, ef={self.expansion_search})"
        )

    def ids(self) -> Ids:
        return np.asarray(self._index.keys, dtype=np.uint64).astype(np.int64)

    def _writable(self) -> None:
        if self.read_only:
            raise ValueError(
                "this index is a read-only memory-mapped view; load it with view=False to modify it"
            )

    def add(self, ids: Ids, vectors: Vectors, *, threads: int = 0) -> None:
        """Add vectors; an id already present is replaced. ``threads=0``: every core."""
        self._writable()
        batch = checked_batch(ids, vectors, self.dim)
        if batch is None:
            return
        arr_ids, arr = batch
        keys = arr_ids.astype(np.uint64)
        present = np.asarray(self._index.contains(keys), dtype=bool).reshape(-1)
        if present.any():
            self._index.remove(keys[present])
        self._index.add(keys, arr, threads=threads)

    def remove(self, ids: Ids) -> None:
        self._writable()
        arr_ids = check_ids(ids)
        if arr_ids.size:
            self._index.remove(arr_ids.astype(np.uint64))

    def search(self, queries: Vectors, k: int, *, threads: int = 0) -> tuple[Ids, Scores]:
        """Approximate top-k by inner product: ``(ids, scores)``, each ``(m, k)``, best first."""
        q = check_vectors(queries, self.dim, what="queries")
        k = check_k(k)
        m = q.shape[0]
        out_ids, out_scores = _padded(m, k)
        if m == 0 or len(self) == 0:
            return out_ids, out_scores
        ef = max(self.expansion_search, k)
        if ef != self._index.expansion_search:
            self._index.expansion_search = ef
        found = self._index.search(q, k, threads=1 if m == 1 else threads)
        keys = np.asarray(found.keys).reshape(m, -1)[:, :k]
        dist = np.asarray(found.distances, dtype=np.float32).reshape(m, -1)[:, :k]
        counts = np.asarray(getattr(found, "counts", [getattr(found, "count", keys.shape[1])]))
        valid = np.arange(keys.shape[1])[None, :] < counts.reshape(m, 1)
        out_ids[:, : keys.shape[1]] = np.where(valid, keys.astype(np.int64), -1)
        out_scores[:, : keys.shape[1]] = np.where(valid, 1.0 - dist, -np.inf)
        return out_ids, out_scores

    def save(self, path: Path) -> None:
        """Write the USearch file at exactly ``path`` (atomic replace; open views keep theirs)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        self._index.save(str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, *, view: bool = False) -> ANNIndex:
        from usearch.index import Index

        index = Index.restore(str(path), view=view)
        if index is None:
            raise ValueError(f"{path}: not a USearch index")
        if str(index.metric_kind).rsplit(".", 1)[-1].upper() != "IP":
            raise ValueError(f"{path}: index metric is {index.metric_kind}, expected IP")
        return cls(int(index.ndim), _index=index, _read_only=view)

    @classmethod
    def from_arrays(cls, ids: Ids, vectors: Vectors, **params: Any) -> ANNIndex:
        arr = np.asarray(vectors)
        if arr.ndim != 2:
            raise ValueError(f"vectors must be a 2-D array, got shape {arr.shape}")
        index = cls(arr.shape[1], capacity=arr.shape[0], **params)
        index.add(ids, arr)
        return index


# ----------------------------------------------------------------------------- factory


def build_index(dim: int, *, expected: int = 0, kind: Kind = "auto") -> VectorIndex:
    """A new empty index for ``dim``-dimensional vectors, ``expected`` of them.

    ``kind="auto"`` gives exact search when ``expected <= AUTO_EXACT_MAX``, the ANN index above.
    """
    dim = check_dim(dim)
    if kind not in ("auto", "exact", "ann"):
        raise ValueError(f"kind must be 'auto', 'exact' or 'ann', got {kind!r}")
    expected = max(int(expected), 0)
    if kind == "exact" or (kind == "auto" and expected <= AUTO_EXACT_MAX):
        return ExactIndex(dim, capacity=expected)
    return ANNIndex(dim, capacity=expected)


def upgrade(index: VectorIndex, *, threshold: int = AUTO_EXACT_MAX) -> VectorIndex:
    """An ANN copy of an exact index that has grown past ``threshold``; otherwise ``index``.

    Building takes a while (seconds at 20k vectors, minutes at 1M on 2 cores), so a background
    job calls this and swaps the result in; the exact index keeps serving meanwhile.
    """
    if isinstance(index, ExactIndex) and len(index) > threshold:
        return ANNIndex.from_arrays(index.ids(), np.asarray(index.vectors()))
    return index


def load_index(path: Path, *, view: bool = False) -> VectorIndex:
    """Read an index written by ``save`` (the format is recognised from the file).

    ``view=True`` memory-maps an ANN index read-only (processes share its pages); an exact
    index is always loaded into memory.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no index file at {path}")
    if zipfile.is_zipfile(path):
        return ExactIndex.load(path)
    try:
        return ANNIndex.load(path, view=view)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"{path}: not a Veche index file ({exc})") from exc


__all__: list[Any] = [
    "AUTO_EXACT_MAX",
    "ANNIndex",
    "ExactIndex",
    "VectorIndex",
    "build_index",
    "load_index",
    "upgrade",
]
