"""Similar ideas in a worker: its duplicate finder, its index of idea vectors, its lookups.

Every worker process holds one ``SimilarityService`` (``app.state.similarity``):

* **Start-up** (a background thread, so the site serves at once): load the
  ``ml.DuplicateFinder`` for ``VECHE_EMBEDDING_MODEL``, then every stored vector of that model
  (``idea_embeddings``) into its index. Until then ``status`` is ``"loading"`` and the lookups
  raise :class:`SimilarityUnavailable`.
* **Embedder** (``tick()``, run by ``webapp.background.keep_embeddings`` in a worker thread,
  never on the event loop): ideas without a vector of the current model, or whose text changed
  (their ``updated_at`` moved on and the SHA-1 of the text differs), are embedded in batches and
  written; then their duplicate pairs and groups are refreshed (``webapp.dedup.dedup_groups``).
  Only one process embeds at a time (``webapp.dedup.embedder.embedder_lock``).
  ``note_changed(idea_id)`` wakes it at once after a submit or an edit.
* **Every worker** polls ``idea_embeddings`` by ``id`` (a re-embedded idea gets a new row) and
  adds the vectors other workers wrote to its own index, so a vector is computed once per city.
* **Lookups** (blocking: embed the typed text, search, re-rank; views call them in the
  threadpool): ``similar()`` while a citizen types, ``like()`` for the semantic browse.
  Candidates come back from the database with their stored vectors and texts, so only public
  ideas are ever returned and every score is the finder's pair score. Recent query vectors and
  rankings are cached per worker (LRU), and ``charge()`` prices a lookup for the rate limit.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ml.embeddings import fit_window, identity_stem
from webapp.dedup import dedup_groups
from webapp.dedup.embedder import (
    EMBED_BATCH,
    POLL_BATCH,
    count_stale,
    embedder_lock,
    load_finder,
    stale_ideas,
)
from webapp.dedup.similar_ideas import (
    CHARGE_TOKENS,
    LOADING_MESSAGE,
    OFF_MESSAGE,
    SimilarIdea,
    SimilarityUnavailable,
    idea_text,
    query_text,
    text_hash,
)
from webapp.ideas.ideas import summaries
from webapp.kernel.settings import Settings
from webapp.kernel.storage.faults import is_transient
from webapp.kernel.storage.models import PUBLIC_STATUSES, Idea, IdeaEmbedding, utcnow
from webapp.kernel.storage.vectors import decode, encode

if TYPE_CHECKING:
    from ml.finder import DuplicateFinder

log = logging.getLogger("veche.similarity")

Status = Literal["disabled", "loading", "ready", "failed"]
SCAN_SECONDS = 30.0  # how often the embedder looks for ideas it was not told about
OVERFETCH = 4  # candidates fetched per suggestion shown (hidden, merged, excluded are dropped)
MIN_CANDIDATES = 20
LIKE_MAX = 500  # deepest result the semantic browse pages to
LOAD_RETRY_SECONDS = 2.0  # start-up wait between reads of the vectors while the database is down
VECTOR_CACHE_SIZE = 1_024  # query vectors kept per worker (about 3 KB each with the default model)
RANKING_CACHE_SIZE = 256  # rankings (ids and scores) kept per worker
RANKING_TTL = 60.0  # seconds a cached ranking is reused (also dropped when the index moves on)


@dataclass(frozen=True)
class _Ranked:
    """One cached result of a lookup: everything but the idea's summary (loaded fresh)."""

    idea_id: int
    score: float
    similarity: float
    reasons: tuple[str, ...]
    likely_duplicate: bool


class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class SimilarityService:
    """Thread-safe: lookups from request threads, ``tick()`` from the background task."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        *,
        finder: DuplicateFinder | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.model_name = settings.embedding_model.strip()
        self.status: Status = "loading" if settings.similarity_enabled else "disabled"
        self.model_identity = ""
        self.error: str | None = None
        self.finder: DuplicateFinder | None = finder
        self.cursor = 0  # the last idea_embeddings.id this worker's index has seen
        self.backlog = -1  # ideas waiting for a vector, as of the last scan (-1: not scanned yet)
        self.embedded = 0  # vectors this process computed
        self.loaded_in: float | None = None  # seconds the start-up took
        self._lock = threading.Lock()  # one poll / embed pass at a time in this process
        self._pending: set[int] = set()
        self._pending_lock = threading.Lock()
        self._wake: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._last_scan = 0.0
        self._skip: dict[int, Any] = {}  # idea id -> updated_at of a text that cannot be embedded
        self.stopping = threading.Event()
        self._saved_cursor = -1  # the cursor of the last index file this worker wrote
        # Cost bounds: at most VECHE_SIMILAR_CONCURRENCY uncached lookups at once in this worker
        # (the views take a slot before calling in), and caches keyed by the normalised text.
        self.slots = threading.BoundedSemaphore(settings.similar_concurrency)
        self._vectors = _LRU(VECTOR_CACHE_SIZE)
        self._rankings = _LRU(RANKING_CACHE_SIZE)
        self.encodes = 0  # query texts this process embedded (cache misses)

    # --- start-up --------------------------------------------------------------------------

    def start(self) -> None:
        """Load in a background thread (returns at once); ``status`` becomes ready or failed."""
        if self.status != "loading" or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._load_safely, name="veche-similarity", daemon=True
        )
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until start-up has finished (tests, the CLI); True when ready."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status == "ready"

    def _load_safely(self) -> None:
        try:
            self.load()
        except Exception as exc:
            self.status = "failed"
            self.error = str(exc)
            log.exception("similar ideas are off: the model %r did not load", self.model_name)

    def load(self) -> None:
        """Load the finder (unless given) and every stored vector of its model (blocking)."""
        if not self.settings.similarity_enabled:
            self.status = "disabled"
            return
        started = time.perf_counter()
        if self.finder is None:
            self.finder = load_finder(self.settings, self.model_name)
        self.model_identity = self.finder.identity
        restored = self._restore_index()
        n = self._first_poll()
        if self._index_file() is not None and (n or not restored):
            self.save_index()
        n += restored
        self.loaded_in = time.perf_counter() - started
        self.status = "ready"
        log.info(
            "similar ideas ready: %s, %d vectors, %.1f s", self.model_identity, n, self.loaded_in
        )
        self._notify()

    def _first_poll(self) -> int:
        """Read the stored vectors; while the database is down (a worker started during an
        outage) wait and try again, so suggestions come back without a restart."""
        while True:
            try:
                return self.poll()
            except SQLAlchemyError as exc:
                if not is_transient(exc) or self.stopping.wait(LOAD_RETRY_SECONDS):
                    raise
                log.warning("database unavailable while loading vectors; retrying")

    def _require(self) -> DuplicateFinder:
        if self.status == "ready" and self.finder is not None:
            return self.finder
        if self.status == "loading":
            raise SimilarityUnavailable(LOADING_MESSAGE)
        raise SimilarityUnavailable(OFF_MESSAGE)

    # --- the persisted index (VECHE_INDEX_DIR) ------------------------------------------------

    def _index_file(self) -> Path | None:
        if not self.settings.index_dir or self.finder is None:
            return None
        return Path(self.settings.index_dir) / f"{identity_stem(self.finder.identity)}.index"

    def _restore_index(self) -> int:
        """Load the saved index and its cursor, if any; returns the vectors restored (0: none).

        A missing, unreadable or foreign file is ignored (logged): the index is rebuilt from
        ``idea_embeddings`` instead. Vectors newer than the saved cursor are caught up by
        :meth:`poll`; adding a vector again is harmless (add-or-replace by idea id).
        """
        path = self._index_file()
        if path is None or self.finder is None:
            return 0
        meta_path = path.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("model") != self.finder.identity:
                return 0
            n = self.finder.load_saved_index(path)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the saved vector index %s: %s", path, exc)
            return 0
        with self._lock:
            self.cursor = int(meta.get("cursor", 0))
        log.info("restored %d vectors from %s (cursor %d)", n, path, self.cursor)
        return n

    def save_index(self) -> bool:
        """Write this worker's index and its cursor to VECHE_INDEX_DIR (atomic); False if off."""
        path = self._index_file()
        if path is None or self.finder is None or len(self.finder) == 0:
            return False
        with self._lock:  # no poll in between: the file holds exactly the rows up to cursor
            cursor = self.cursor
            self.finder.save_index(path)
        meta = {
            "model": self.finder.identity,
            "cursor": cursor,
            "vectors": len(self.finder),
            "saved_at": utcnow().isoformat(),
        }
        tmp = path.with_suffix(f".json.tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        tmp.replace(path.with_suffix(".json"))
        self._saved_cursor = cursor
        return True

    # --- keeping the index current ------------------------------------------------------------

    def poll(self) -> int:
        """Add the vectors written since the cursor (by any process) to the index."""
        finder = self.finder
        if finder is None:
            return 0
        added = 0
        with self._lock:
            while True:
                with self.factory() as session:
                    rows = session.execute(
                        select(IdeaEmbedding.id, IdeaEmbedding.idea_id, IdeaEmbedding.vector)
                        .where(
                            IdeaEmbedding.id > self.cursor,
                            IdeaEmbedding.model == finder.identity,
                            IdeaEmbedding.dim == finder.dim,
                        )
                        .order_by(IdeaEmbedding.id)
                        .limit(POLL_BATCH)
                    ).all()
                if not rows:
                    return added
                ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
                vectors = np.stack([decode(r[2], finder.dim) for r in rows])
                finder.index_vectors(ids, vectors)
                self.cursor = int(rows[-1][0])
                added += len(rows)
                if len(rows) < POLL_BATCH or self.stopping.is_set():
                    return added

    def note_changed(self, idea_id: int) -> None:
        """An idea was submitted or its text edited: embed it soon (non-blocking)."""
        if self.status == "disabled":
            return
        with self._pending_lock:
            self._pending.add(int(idea_id))
        self._notify()

    def set_waker(self, wake: Callable[[], None] | None) -> None:
        """The background task's thread-safe wake-up call (``loop.call_soon_threadsafe``)."""
        self._wake = wake

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None:
            try:
                wake()
            except RuntimeError:  # the event loop has closed
                pass

    @property
    def has_pending(self) -> bool:
        with self._pending_lock:
            return bool(self._pending)

    def tick(self) -> int:
        """One background step: pull other workers' vectors; embed what is due. Returns embedded."""
        if self.status != "ready":
            return 0
        self.poll()
        scan = time.monotonic() - self._last_scan >= SCAN_SECONDS
        if not scan and not self.has_pending:
            return 0
        return self.embed_pending(full_scan=scan)

    def embed_pending(self, *, full_scan: bool = True, limit: int | None = None) -> int:
        """Embed stale ideas (the noted ones; all of them with ``full_scan``) and refresh their
        duplicate groups. Each batch runs under the embedder lock: while another process holds
        it (another worker's batch, ``veche reindex``) this pass stops and the noted ideas wait
        for the next tick. Returns the ideas embedded."""
        finder = self._require()
        with self._pending_lock:
            noted = sorted(self._pending)
            self._pending.clear()
        if not full_scan and not noted:
            return 0
        if full_scan:
            self._last_scan = time.monotonic()
        todo: list[int] | None = None if full_scan else noted
        total = 0
        after = 0
        finished = False
        try:
            while not self.stopping.is_set():
                batch = EMBED_BATCH if limit is None else min(EMBED_BATCH, limit - total)
                if batch <= 0:
                    break
                with embedder_lock(self.factory, self.settings) as got:
                    if not got:  # another process is embedding: try again on the next tick
                        break
                    with self.factory() as session:
                        rows = stale_ideas(
                            session, finder.identity, ids=todo, after=after, limit=batch
                        )
                    if not rows:
                        finished = True
                        break
                    total += self._embed_rows(finder, rows)
                    after = rows[-1].id
        finally:
            # not done (stopping, lock held elsewhere, or the database failed): keep the rest
            # noted, so the next tick retries them rather than the 30 s scan
            if not finished and todo is not None:
                with self._pending_lock:
                    self._pending.update(i for i in todo if i > after)
        if full_scan and not self.stopping.is_set():
            with self.factory() as session:
                self.backlog = count_stale(session, finder.identity)
        return total

    def _embed_rows(self, finder: DuplicateFinder, rows: Sequence[Any]) -> int:
        """Embed and store one batch, index it, refresh the groups it touches."""
        fresh: list[tuple[Any, str, str]] = []  # (row, text, hash)
        same: list[Any] = []
        for r in rows:
            if self._skip.get(r.id) == r.updated_at:
                continue
            t = idea_text(r.title, r.body)
            h = text_hash(t)
            if r.model == finder.identity and r.text_hash == h:
                same.append(r)  # updated_at moved but the text did not: no new vector
            elif t.strip():
                fresh.append((r, t, h))
            else:
                self._skip[r.id] = r.updated_at
        vectors = self._embed_texts(finder, fresh)
        now = utcnow()
        with self.factory() as session, session.begin():
            for r in same:
                session.execute(
                    update(IdeaEmbedding)
                    .where(IdeaEmbedding.idea_id == r.id)
                    .values(idea_updated_at=r.updated_at)
                )
            ok = [
                (row, h, v) for (row, _, h), v in zip(fresh, vectors, strict=True) if v is not None
            ]
            if ok:
                ids = [row.id for row, _, _ in ok]
                session.execute(delete(IdeaEmbedding).where(IdeaEmbedding.idea_id.in_(ids)))
                session.execute(
                    insert(IdeaEmbedding),
                    [
                        {
                            "idea_id": row.id,
                            "model": finder.identity,
                            "dim": finder.dim,
                            "vector": encode(v),
                            "text_hash": h,
                            "idea_updated_at": row.updated_at,
                            "created_at": now,
                        }
                        for row, h, v in ok
                    ],
                )
        if not ok:
            return 0
        self.embedded += len(ok)
        self.poll()  # the index takes the new rows the way every other worker does
        try:
            with self.factory() as session, session.begin():
                dedup_groups.refresh(session, finder, [row.id for row, _, _ in ok])
        except Exception:  # the vectors are stored; groups catch up on the next change
            log.exception("refreshing duplicate groups failed")
        return len(ok)

    def _embed_texts(
        self, finder: DuplicateFinder, fresh: Sequence[tuple[Any, str, str]]
    ) -> list[np.ndarray[Any, Any] | None]:
        if not fresh:
            return []
        try:
            return list(finder.embed([t for _, t, _ in fresh]))
        except (ValueError, TypeError):  # one bad text: embed one by one, skip the bad ones
            out: list[np.ndarray[Any, Any] | None] = []
            for row, t, _ in fresh:
                try:
                    out.append(finder.embed([t])[0])
                except (ValueError, TypeError) as exc:
                    log.warning("idea %s cannot be embedded: %s", row.id, exc)
                    self._skip[row.id] = row.updated_at
                    out.append(None)
            return out

    # --- lookups (blocking) --------------------------------------------------------------------

    def query_vector(self, text_: str) -> np.ndarray[Any, Any]:
        """The vector of a lookup text (already ``query_text``), from the cache or embedded."""
        finder = self._require()
        key = (finder.identity, text_)
        vector: np.ndarray[Any, Any] | None = self._vectors.get(key)
        if vector is None:
            vector = finder.embed([text_])[0]
            self.encodes += 1
            self._vectors.put(key, vector)
        return vector

    def _ranking_key(self, text_: str, depth: int, exclude_id: int | None) -> tuple[Any, ...]:
        identity = self.finder.identity if self.finder is not None else ""
        return (identity, text_, depth, exclude_id)

    def _cached_ranking(self, key: tuple[Any, ...]) -> list[_Ranked] | None:
        hit = self._rankings.get(key)
        if hit is None:
            return None
        cursor, at, ranked = hit
        if cursor != self.cursor or time.monotonic() - at > RANKING_TTL:
            return None  # new vectors were indexed (new or edited ideas) or it is too old
        return ranked  # type: ignore[no-any-return]

    def is_cached(self, text_: str, depth: int, exclude_id: int | None = None) -> bool:
        """Whether a lookup of ``text_`` at ``depth`` would be answered from the cache."""
        if self.status != "ready" or self.finder is None:
            return False
        key = self._ranking_key(self.lookup_text(text_), depth, exclude_id)
        return self._cached_ranking(key) is not None

    def charge(self, text_: str) -> int | None:
        """Hits of the ``similar`` rate limit a lookup of ``text_`` counts: one per started
        :data:`CHARGE_TOKENS` model tokens of what it reads (a whole window is 4), so the limit
        bounds the model's work per client whatever the script; None when the encoder cannot
        count tokens (the views then charge by characters)."""
        if self.finder is None:
            return None
        count = getattr(self.finder.encoder, "token_count", None)
        if count is None:
            return None
        tokens = int(count(self.lookup_text(text_)))
        return max(1, -(-tokens // CHARGE_TOKENS))

    def lookup_text(self, text_: str) -> str:
        """What a lookup of ``text_`` reads: :func:`query_text`, then at most one window of the
        model's tokens (``ml.embeddings.fit_window``), so no text costs more than one pass."""
        query = query_text(text_)
        return fit_window(self.finder.encoder, query) if self.finder is not None else query

    def _rank(
        self, session: Session, text_: str, depth: int, exclude_id: int | None
    ) -> list[_Ranked]:
        """Embed, search the index and re-rank the candidates with the pair scorer."""
        finder = self._require()
        vector = self.query_vector(text_)
        found = finder.search(text_, vector, depth)
        ids = [c.id for c in found if c.id != exclude_id]
        if not ids:
            return []
        rows = session.execute(
            select(Idea.id, Idea.title, Idea.body, IdeaEmbedding.vector)
            .join(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
            .where(
                Idea.id.in_(ids),
                Idea.status.in_(PUBLIC_STATUSES),
                IdeaEmbedding.model == finder.identity,
            )
        ).all()
        if not rows:
            return []
        verdicts = finder.score_vectors(
            [text_] * len(rows),
            [idea_text(r.title, r.body) for r in rows],
            np.repeat(vector[None, :], len(rows), axis=0),
            np.stack([decode(r.vector, finder.dim) for r in rows]),
        )
        order = sorted(
            range(len(rows)),
            key=lambda i: (-verdicts[i].score, -verdicts[i].similarity, rows[i].id),
        )
        return [
            _Ranked(
                idea_id=int(rows[i].id),
                score=float(verdicts[i].score),
                similarity=float(verdicts[i].similarity),
                reasons=tuple(verdicts[i].reasons),
                likely_duplicate=bool(verdicts[i].score >= finder.threshold),
            )
            for i in order
        ]

    def _ranked(
        self,
        session: Session,
        text_: str,
        depth: int,
        exclude_id: int | None,
        project_id: int | None = None,
    ) -> list[SimilarIdea]:
        """The lookup of ``text_`` (read as :func:`query_text`): the ranking from the cache or
        computed, then the ideas' summaries loaded fresh (so counts are current, and an idea
        hidden or merged since drops out at once). With ``project_id``, only that project's
        ideas are kept (the ranking itself, and its cache, serve every project)."""
        self._require()
        if not isinstance(text_, str):
            raise TypeError("text must be a str")
        query = self.lookup_text(text_)
        if not query:
            return []
        key = self._ranking_key(query, depth, exclude_id)
        ranked = self._cached_ranking(key)
        if ranked is None:
            cursor = self.cursor  # before searching: a vector indexed meanwhile invalidates it
            ranked = self._rank(session, query, depth, exclude_id)
            self._rankings.put(key, (cursor, time.monotonic(), ranked))
        if project_id is not None and ranked:
            ids = [r.idea_id for r in ranked]
            inside = set(
                session.scalars(
                    select(Idea.id).where(Idea.id.in_(ids), Idea.project_id == project_id)
                )
            )
            ranked = [r for r in ranked if r.idea_id in inside]
        by_id = {s.id: s for s in summaries(session, [r.idea_id for r in ranked])}
        out = []
        for r in ranked:
            summary = by_id.get(r.idea_id)
            if summary is None or summary.status not in PUBLIC_STATUSES:
                continue
            out.append(
                SimilarIdea(
                    idea=summary,
                    score=r.score,
                    similarity=r.similarity,
                    reasons=r.reasons,
                    likely_duplicate=r.likely_duplicate,
                )
            )
        return out

    @staticmethod
    def similar_depth(k: int) -> int:
        """Candidates a ``similar(k=...)`` lookup ranks."""
        return max(MIN_CANDIDATES, OVERFETCH * k)

    @staticmethod
    def like_depth(limit: int, offset: int) -> int:
        """Candidates a ``like(limit=..., offset=...)`` lookup ranks."""
        return min(LIKE_MAX * 2, max(MIN_CANDIDATES, 2 * (offset + limit)))

    def similar(
        self,
        session: Session,
        text: str,
        *,
        k: int = 5,
        exclude_id: int | None = None,
        project_id: int | None = None,
    ) -> list[SimilarIdea]:
        """Up to ``k`` public ideas like ``text`` (title + "\\n" + description), best first;
        with ``project_id``, only ideas of that project.

        Scores below VECHE_SIMILAR_MIN_SCORE are dropped. Reads at most QUERY_MAX_CHARS of
        ``text``. BLOCKING: it embeds ``text`` unless the same lookup is cached.
        """
        if k < 1:
            raise ValueError("k must be >= 1")
        found = self._ranked(session, text, self.similar_depth(k), exclude_id, project_id)
        floor = self.settings.similar_min_score
        return [s for s in found if s.score >= floor][:k]

    def like(
        self,
        session: Session,
        text: str,
        *,
        limit: int = 20,
        offset: int = 0,
        project_id: int | None = None,
    ) -> list[SimilarIdea]:
        """Semantic browse: public ideas ranked by pair score with ``text``, one page of them
        (with ``project_id``: of that project only).

        No score floor (it is a ranking, not a suggestion); pages end at LIKE_MAX results.
        BLOCKING: it embeds ``text`` unless the same lookup is cached.
        """
        if limit < 1 or offset < 0:
            raise ValueError("limit must be >= 1 and offset >= 0")
        if offset >= LIKE_MAX:
            return []
        depth = self.like_depth(limit, offset)
        return self._ranked(session, text, depth, None, project_id)[offset : offset + limit]

    # --- shutting down ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask a running embedding pass to stop after its current batch; save the index if it
        moved on since it was last saved (VECHE_INDEX_DIR)."""
        self.stopping.set()
        if self.status == "ready" and self.cursor != self._saved_cursor:
            try:
                self.save_index()
            except OSError as exc:
                log.warning("could not save the vector index: %s", exc)
