"""The field's lexical baseline: PostgreSQL ``pg_trgm`` similarity, the way Decidim used it.

Decidim's "similar proposals" step (removed in 2024) ranked proposals by::

    GREATEST(similarity(title, :title), similarity(body, :body))

with ``pg_trgm``'s ``similarity`` (shared trigrams / union of trigrams, case-insensitive) and showed
those at or above ``similarity_threshold`` (0.25 by default). :class:`TrigramFinder` computes exactly
that on the real PostgreSQL and offers the same public API as :class:`ml.DuplicateFinder`
(``pair_scores``, ``threshold``, ``fit``, ``query``), so the evaluation can put it side by side with
the embedding finders.

A text is an idea's title and description joined by ``"\\n"``: the title is the first line, the body
the rest. For one-line texts (the pair datasets) the body is empty and ``pg_trgm`` gives 0 for empty
strings, so the score is the title similarity alone.

Texts are loaded into temporary tables of one connection (``COPY``), so concurrent users never see
each other's data. The database (``veche_eval`` by default) is created on the server when missing,
with ``CREATE EXTENSION IF NOT EXISTS pg_trgm``. This module talks to PostgreSQL through psycopg
directly (``ml/`` may not import SQLAlchemy).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg import conninfo, errors, sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "veche_eval"
#: Decidim's default ``similarity_threshold`` for similar proposals.
DECIDIM_THRESHOLD = 0.25

_SCORE = "GREATEST(similarity({t1}, {t2}), similarity({b1}, {b2}))"


class TrigramUnavailable(RuntimeError):
    """PostgreSQL (or its pg_trgm extension) cannot be used at the given URL."""


def split_text(text: str) -> tuple[str, str]:
    """``(title, body)``: the first line and the rest, each stripped."""
    title, _, body = text.strip().partition("\n")
    return title.strip(), body.strip()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<invalid PostgreSQL URL>"
    if "password" in params:
        params["password"] = "***"
    host = params.get("host", "")
    port = params.get("port", "")
    user = params.get("user", "")
    db = params.get("dbname", "")
    return f"postgresql://{user}@{host}{':' + str(port) if port else ''}/{db}"


def _check_texts(texts: Sequence[str], what: str) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{what} must be a sequence of texts, not a single string")
    out = []
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"{what} must contain str, got {type(t).__name__}")
        if not t.strip():
            raise ValueError(f"{what} contains an empty or whitespace-only text")
        out.append(t)
    return out


class TrigramFinder:
    """pg_trgm ``GREATEST(title, body)`` similarity with the DuplicateFinder API.

    ``threshold`` is Decidim's default (0.25); nothing is calibrated. Use it as a context manager
    or call :meth:`close` to release the connection (temporary tables go with it).
    """

    identity = "pg_trgm:greatest(title,body)"
    calibrated = False

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        database: str = DEFAULT_DATABASE,
        threshold: float = DECIDIM_THRESHOLD,
    ) -> None:
        # SQLAlchemy spellings (postgresql+psycopg://) name a driver libpq does not know
        self.url = re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url)
        self.database = database
        self.threshold = float(threshold)
        self._fitted = False
        self._conn = self._connect()

    # -- connection ------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            admin = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise TrigramUnavailable(
                f"cannot connect to PostgreSQL at {_safe(self.url)}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r} "
                "(pg_trgm needs a running PostgreSQL server; pass its URL, e.g. --pg-url)"
            ) from exc
        with admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                try:
                    admin.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                    )
                except (errors.DuplicateDatabase, errors.UniqueViolation):
                    pass  # created concurrently by another process
                except psycopg.Error as exc:
                    raise TrigramUnavailable(
                        f"cannot create the database {self.database!r} at {_safe(self.url)}: {exc}"
                    ) from exc
        target = conninfo.make_conninfo(self.url, dbname=self.database)
        try:
            conn = psycopg.connect(target, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise TrigramUnavailable(
                f"cannot connect to PostgreSQL database {self.database!r} at {_safe(self.url)}: "
                f"{exc}"
            ) from exc
        for attempt in range(2):
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                break
            except errors.UniqueViolation:  # a concurrent CREATE EXTENSION won the race
                if attempt:
                    raise
            except psycopg.Error as exc:
                conn.close()
                raise TrigramUnavailable(
                    f"cannot enable pg_trgm in {self.database!r} at {_safe(self.url)}: {exc} "
                    "(install the PostgreSQL contrib package)"
                ) from exc
        row = conn.execute("SELECT similarity('мир', 'мир')").fetchone()
        if not row or float(row[0]) < 0.99:
            ctype = conn.execute("SHOW lc_ctype").fetchone()
            conn.close()
            raise TrigramUnavailable(
                f"pg_trgm in {self.database!r} at {_safe(self.url)} ignores Cyrillic letters "
                f"(lc_ctype {ctype[0] if ctype else '?'}); create the database with a UTF-8 "
                "LC_CTYPE such as C.UTF-8"
            )
        return conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> TrigramFinder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- loading ---------------------------------------------------------------------------

    def _load(self, table: str, texts: Sequence[str]) -> None:
        """(Re)create the temporary table ``table (i, title, body)`` holding ``texts``."""
        ident = sql.Identifier(table)
        self._conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        self._conn.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {} (i integer PRIMARY KEY, title text NOT NULL, "
                "body text NOT NULL)"
            ).format(ident)
        )
        with (
            self._conn.cursor() as cur,
            cur.copy(sql.SQL("COPY {} (i, title, body) FROM STDIN").format(ident)) as copy,
        ):
            for i, t in enumerate(texts):
                copy.write_row((i, *split_text(t)))
        self._conn.execute(sql.SQL("ANALYZE {}").format(ident))

    # -- the DuplicateFinder API -----------------------------------------------------------

    def pair_scores(self, a: Sequence[str], b: Sequence[str]) -> NDArray[np.float64]:
        """``GREATEST(similarity(title_a, title_b), similarity(body_a, body_b))`` per pair."""
        left = _check_texts(a, "a")
        right = _check_texts(b, "b")
        if len(left) != len(right):
            raise ValueError(f"a and b must have the same length ({len(left)} != {len(right)})")
        if not left:
            return np.zeros(0, dtype=np.float64)
        self._load("trgm_a", left)
        self._load("trgm_b", right)
        score = sql.SQL(_SCORE).format(
            t1=sql.SQL("x.title"), t2=sql.SQL("y.title"), b1=sql.SQL("x.body"), b2=sql.SQL("y.body")
        )
        rows = self._conn.execute(
            sql.SQL("SELECT x.i, {} FROM trgm_a x JOIN trgm_b y ON y.i = x.i ORDER BY x.i").format(
                score
            )
        ).fetchall()
        out = np.zeros(len(left), dtype=np.float64)
        for i, s in rows:
            out[int(i)] = float(s)
        return out

    def fit(self, corpus: Sequence[str]) -> TrigramFinder:
        """Load the corpus (ids 0..n-1) into a temporary table of this connection."""
        items = _check_texts(corpus, "corpus")
        self._load("trgm_corpus", items)
        self._fitted = True
        return self

    def query(self, texts: Sequence[str], k: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Top ``k`` corpus rows per text by the Decidim score, best first (ties: lower id).

        Rows past the corpus size are padded with index -1 and score -inf.
        """
        if not self._fitted:
            raise ValueError("fit() a corpus before query()")
        items = _check_texts(texts, "texts")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        idx = np.full((len(items), k), -1, dtype=np.int64)
        scores = np.full((len(items), k), -np.inf, dtype=np.float64)
        if not items:
            return idx, scores
        self._load("trgm_q", items)
        score = sql.SQL(_SCORE).format(
            t1=sql.SQL("c.title"), t2=sql.SQL("q.title"), b1=sql.SQL("c.body"), b2=sql.SQL("q.body")
        )
        rows = self._conn.execute(
            sql.SQL(
                "SELECT q.i, top.i, top.s FROM trgm_q q CROSS JOIN LATERAL ("
                " SELECT c.i, {} AS s FROM trgm_corpus c ORDER BY s DESC, c.i LIMIT %s) top"
                " ORDER BY q.i, top.s DESC, top.i"
            ).format(score),
            (k,),
        ).fetchall()
        fill = np.zeros(len(items), dtype=np.int64)
        for qi, ci, s in rows:
            r = int(qi)
            idx[r, fill[r]] = int(ci)
            scores[r, fill[r]] = float(s)
            fill[r] += 1
        return idx, scores
