"""Dialect-specific full-text search clauses (SQLite FTS5, PostgreSQL tsvector)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from webapp.kernel.search_text import MAX_QUERY_WORDS, fold, fts5_query
from webapp.kernel.storage.models import Idea

# PostgreSQL's search table (migration 0001): a stored tsvector per idea, kept by triggers.
IDEAS_TSV = table("ideas_tsv", column("idea_id"), column("document"))
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
_PG_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def pg_tsquery(query: str) -> str | None:
    """A to_tsquery string: every word required, the last one as a prefix; only word characters."""
    words = _PG_WORD.findall(fold(query.lower()))[:MAX_QUERY_WORDS]
    if not words:
        return None
    words[-1] += ":*"
    return " & ".join(words)


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
