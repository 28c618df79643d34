"""Dialect-specific full-text search clauses (SQLite FTS5, PostgreSQL tsvector)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from webapp.kernel.search_text import MAX_QUERY_WORDS, fold, fts5_query, stem_variants, stem_words
from webapp.kernel.storage.models import Idea

# PostgreSQL's search table (migration 0001): a stored tsvector per idea, kept by triggers.
IDEAS_TSV = table("ideas_tsv", column("idea_id"), column("document"))
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
_PG_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# What a query chunk keeps: word characters and the joiners PostgreSQL's parser reads inside one
# token ("86A/88", "info@mos.ru", "10.5"); never tsquery syntax (& | ! ( ) : * < > '). A hyphen
# separates ("Фили-Давыдково" finds both that and "Фили Давыдково", as the parser indexes the parts).
_PG_UNSAFE = re.compile(r"[^\w/.@]+", re.UNICODE)


def pg_tsquery(query: str) -> str | None:
    """A to_tsquery string: every whitespace-separated chunk required, the last one as a prefix.

    A chunk keeps only word characters and ``/ . @``, so PostgreSQL parses it as it parsed the
    idea's text ("86A/88" is one token there and here). A Russian word whose stem has
    fleeting-vowel forms (``stem_variants``) is searched in each of them: "остановок" is
    ``(остановок | остановк)``; the 'russian' configuration stems the words as Snowball does in
    Python, and leaves the variants (stems already) as they are.
    """
    chunks = [
        chunk.strip("/.@")
        for chunk in _PG_UNSAFE.sub(" ", fold(query.lower()).replace("_", " ")).split()
    ]
    chunks = [c for c in chunks if _PG_WORD.search(c)][:MAX_QUERY_WORDS]
    if not chunks:
        return None
    groups = []
    for n, chunk in enumerate(chunks):
        star = ":*" if n == len(chunks) - 1 else ""
        stems = stem_words(chunk) if _PG_WORD.fullmatch(chunk) else []
        extra = stem_variants(stems[0])[1:] if len(stems) == 1 else []
        terms = [f"{w}{star}" for w in [chunk, *extra]]
        groups.append(terms[0] if len(terms) == 1 else f"({' | '.join(terms)})")
    return " & ".join(groups)


def apply_search(
    session: Session, stmt: SelectT, query: str
) -> tuple[SelectT, ColumnElement[Any] | None]:
    """Restrict ``stmt`` to ideas matching ``query``; also return a relevance expression (higher = better)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        match = fts5_query(query)
        if match is None:
            return stmt.where(text("0 = 1")), None
        fts = (
            select(
                literal_column("rowid").label("rowid"),
                literal_column("-bm25(ideas_fts)").label("rank"),
            )
            .select_from(text("ideas_fts"))
            .where(text("ideas_fts MATCH :fts_q").bindparams(fts_q=match))
            .subquery("fts")
        )
        stmt = stmt.join(fts, fts.c.rowid == Idea.id)
        return stmt, fts.c.rank
    tsq = pg_tsquery(query)
    if tsq is None:
        return stmt.where(text("0 = 1")), None
    tsquery = func.to_tsquery(literal_column("'russian'"), tsq)
    stmt = stmt.join(IDEAS_TSV, IDEAS_TSV.c.idea_id == Idea.id).where(
        IDEAS_TSV.c.document.op("@@")(tsquery)
    )
    return stmt, func.ts_rank(IDEAS_TSV.c.document, tsquery)
