"""Words for full-text search: tokenise, lower-case and stem (Russian, English, Spanish).

SQLite's FTS5 has no Russian stemmer, so Veche stems in Python with Snowball and indexes the
stems (``ideas.search_doc``); queries go through the same function, so "парков" finds "парки"
and "cycling" finds "cycle".
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_SPANISH_HINTS = re.compile(r"[ñáéíóú¿¡]|\b(?:el|la|los|las|del|para|que|una|por|con)\b", re.I)
MAX_QUERY_WORDS = 12


@lru_cache(maxsize=4)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


def detect_language(text: str) -> str:
    """A cheap guess good enough for routing: 'ru' if Cyrillic dominates, 'es', else 'en'."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "ru"
    cyr = sum(1 for c in letters if _CYRILLIC.match(c))
    if cyr / len(letters) > 0.3:
        return "ru"
    if len(_SPANISH_HINTS.findall(text)) >= max(2, len(text) // 200):
        return "es"
    return "en"


def stem_words(text: str, language: str = "en") -> list[str]:
    """Stemmed lower-case words; Cyrillic words use the Russian stemmer whatever ``language``."""
    latin = "spanish" if language == "es" else "english"
    words = []
    for word in _WORD.findall(text.lower().replace("ё", "е")):
        if _CYRILLIC.search(word):
            words.append(_stemmer("russian").stemWord(word))
        elif word.isdigit():
            words.append(word)
        else:
            words.append(_stemmer(latin).stemWord(word))
    return words


def search_document(title: str, body: str, language: str) -> str:
    """The text stored in ``ideas.search_doc``."""
    return " ".join(stem_words(f"{title}\n{body}", language))


def fts5_query(query: str) -> str | None:
    """An FTS5 MATCH expression: every word must match, the last one as a prefix.

    Each term is double-quoted, so user input can never inject FTS5 syntax.
    """
    words = stem_words(query, detect_language(query))[:MAX_QUERY_WORDS]
    if not words:
        return None
    terms = [f'"{w}"' for w in words]
    terms[-1] += "*"
    return " ".join(terms)
