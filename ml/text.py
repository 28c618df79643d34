"""Text helpers shared by duplicate detection: joining, validation, normalisation, copy checks.

``normalise`` is the one canonical form every lexical comparison uses: NFKC, case folded,
``ё`` folded to ``е``, accents and stress marks removed (``й`` is kept: it is a letter of its own
in Russian), every run of characters that are not letters or digits turned into one space.
Two texts with the same :func:`fingerprint` differ only in case, punctuation, spacing or accents.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "cyrillic_share",
    "fingerprint",
    "join_idea",
    "near_copy_similarity",
    "normalise",
    "validate_texts",
]

_NON_ALNUM = re.compile(r"[\W_]+")
#: combining accents (the Latin/Cyrillic diacritic blocks), except the breve that makes и
#: into й (and у into ў): that is a letter of its own, not an accent
_COMBINING = re.compile(
    "(?<![иу])\u0306|[\u0300-\u0305\u0307-\u036f\u1ab0-\u1aff\u1dc0-\u1dff"
    "\u20d0-\u20ff\ufe20-\ufe2f]"
)
_GRAM = 5


def join_idea(title: str, description: str | None) -> str:
    """An idea as the finder reads it: the title, a newline, the description (both stripped).

    An empty or missing description gives the title alone (no trailing newline).

    >>> join_idea(" Парк у реки ", "Скамейки и урны ")
    'Парк у реки\\nСкамейки и урны'
    >>> join_idea("Парк у реки", "  ")
    'Парк у реки'
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, not {type(title).__name__}")
    if description is not None and not isinstance(description, str):
        raise TypeError(f"description must be a str or None, not {type(description).__name__}")
    t = title.strip()
    d = (description or "").strip()
    return f"{t}\n{d}" if d else t


def validate_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, after checking every item is a non-blank ``str``.

    Raises ``TypeError`` for a bare string (a common slip: it would be read character by
    character) or for an item that is not a string, and ``ValueError`` for an empty or
    whitespace-only item, naming its position.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("expected a sequence of texts, got a single string")
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"expected a sequence of texts, not {type(texts).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"text {i} must be a str, not {type(t).__name__}")
        if not t.strip():
            raise ValueError(f"text {i} is empty or whitespace-only")
    return items


def _fold(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).casefold()
    d = _COMBINING.sub("", unicodedata.normalize("NFD", s))
    s = unicodedata.normalize("NFC", d)
    return _NON_ALNUM.sub(" ", s).strip()


def normalise(text: str) -> str:
    """Canonical form for lexical comparison (idempotent: ``normalise(normalise(t)) == normalise(t)``).

    >>> normalise("Ёлка на площади!  Café")
    'елка на площади cafe'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    s = _fold(text)
    # A few exotic characters change again once folded (e.g. a casefold that yields a character
    # NFKC maps further); fold to a fixed point so the result is stable.
    for _ in range(3):
        t = _fold(s)
        if t == s:
            break
        s = t
    return s


def fingerprint(text: str) -> str:
    """SHA-1 hex digest of :func:`normalise`: equal fingerprints mean an exact copy.

    >>> fingerprint("Новая велодорожка!") == fingerprint("новая   ВЕЛОДОРОЖКА")
    True
    """
    return hashlib.sha1(normalise(text).encode("utf-8")).hexdigest()


_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile("[\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f]")


def cyrillic_share(text: str) -> float:
    """Share of the letters in ``text`` that are Cyrillic, 0.0..1.0 (0.0 when it has no letters).

    >>> cyrillic_share("Wi-Fi в парке")  # 6 of 10 letters
    0.6
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    letters = len(_LETTER.findall(text))
    if not letters:
        return 0.0
    cyr = sum(1 for ch in _CYRILLIC.findall(text) if ch.isalpha())
    return cyr / letters


@lru_cache(maxsize=4096)
def _grams(text: str) -> frozenset[str]:
    s = normalise(text)
    if len(s) < _GRAM:
        return frozenset((s,))
    return frozenset(s[i : i + _GRAM] for i in range(len(s) - _GRAM + 1))


def near_copy_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the character 5-gram sets of ``normalise(a)`` and ``normalise(b)``.

    1.0 for copies (up to case, punctuation, spacing and accents), 0.0 for texts with no
    5-gram in common. A text shorter than five characters once normalised counts as one
    "gram" of its own, so two short texts score 1.0 when equal and 0.0 otherwise.

    >>> near_copy_similarity("Починить фонтан в парке", "починить фонтан в парке!")
    1.0
    >>> round(near_copy_similarity("Починить фонтан в парке", "Починить фонтан в сквере"), 2)
    0.56
    """
    if not isinstance(a, str) or not isinstance(b, str):
        raise TypeError("near_copy_similarity expects two str")
    ga = _grams(a)
    gb = _grams(b)
    if ga is gb or ga == gb:
        return 1.0
    inter = len(ga & gb)
    if not inter:
        return 0.0
    return inter / (len(ga) + len(gb) - inter)
