"""Words for full-text search: tokenise, lower-case and stem (Russian, English, Spanish).

SQLite's FTS5 has no Russian stemmer, so Veche stems in Python with Snowball and indexes the
stems (``ideas.search_doc``); queries go through the same function, so "парков" finds "парки"
and "cycling" finds "cycle". Stems are cached: a city's vocabulary is small.

Snowball keeps the fleeting vowel of a Russian genitive plural ("остановок" -> "остановок",
"остановки" -> "остановк"; "дорожек"/"дорожки", "скамеек"/"скамейки"), so a query word is
searched in its forms with and without that vowel (``stem_variants``); the stored documents stay
as they are, on both backends.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_CONSONANT = "бвгджзклмнпрстфхцчшщ"
# a stem ending in consonant + о/е + к ("остановок"), and in consonant + к ("остановк")
_FLEETING_VOWEL = re.compile(rf"^(.{{3,}}[{_CONSONANT}])[ое]к$")
_BARE_K = re.compile(rf"^(.{{3,}}[{_CONSONANT}])к$")
_SPANISH_HINTS = re.compile(r"[ñáéíóú¿¡]|\b(?:el|la|los|las|del|para|que|una|por|con)\b", re.I)
MAX_QUERY_WORDS = 12
# Letters folded before indexing and searching, on both backends (PostgreSQL applies the same
# pair with translate() in its index expression, see migration 0001): ё is written е in most
# Russian texts, and people type Spanish and French words without accents.
FOLD_FROM = "ёЁáéíóúüàèìòùâêîôûçÁÉÍÓÚÜÀÈÌÒÙÂÊÎÔÛÇ"
FOLD_TO = "еЕaeiouuaeiouaeioucAEIOUUAEIOUAEIOUC"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str) -> str:
    """Apply the shared letter folding (see FOLD_FROM)."""
    return text.translate(_FOLD)


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


@lru_cache(maxsize=500_000)
def _stem(word: str) -> str:
    if _CYRILLIC.search(word):
        return str(_stemmer("russian").stemWord(word))
    if word.isdigit():
        return word
    return str(_stemmer("english").stemWord(word))


def stem_words(text: str) -> list[str]:
    """Stemmed lower-case words: Russian Snowball for Cyrillic words, English for Latin ones.

    Latin words always use the English stemmer, whatever the idea's language, so that a one-word
    query (whose language cannot be guessed) is stemmed exactly like the indexed text; for Spanish
    ideas the English stemmer still folds most plural and verb endings ("parques" ~ "parque").
    """
    return [_stem(word) for word in _WORD.findall(fold(text.lower()))]


def stem_variants(stem: str) -> list[str]:
    """The stem, then its forms with or without a fleeting vowel before a final к.

    >>> stem_variants("остановок"), stem_variants("дорожк"), stem_variants("скамейк")
    (['остановок', 'остановк'], ['дорожк', 'дорожок', 'дорожек'], ['скамейк', 'скамеек'])
    """
    variants = [stem]
    if stem.endswith("ейк"):
        variants.append(stem[:-3] + "еек")
    elif stem.endswith("еек"):
        variants.append(stem[:-3] + "ейк")
    elif match := _FLEETING_VOWEL.match(stem):
        variants.append(match.group(1) + "к")
    elif match := _BARE_K.match(stem):
        variants += [match.group(1) + "ок", match.group(1) + "ек"]
    return variants


def search_document(title: str, body: str) -> str:
    """The text stored in ``ideas.search_doc``."""
    return " ".join(stem_words(f"{title}\n{body}"))


def fts5_query(query: str) -> str | None:
    """An FTS5 MATCH expression: every word must match (in one of its ``stem_variants``), the
    last one as a prefix.

    Each term is double-quoted, so user input can never inject FTS5 syntax.
    """
    words = stem_words(query)[:MAX_QUERY_WORDS]
    if not words:
        return None
    groups = []
    for n, word in enumerate(words):
        star = "*" if n == len(words) - 1 else ""
        terms = [f'"{v}"{star}' for v in stem_variants(word)]
        groups.append(terms[0] if len(terms) == 1 else f"({' OR '.join(terms)})")
    return " AND ".join(groups)
