"""Shared input checks; each returns the cleaned value or records a message id per field."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from webapp.kernel.errors import N_, InvalidInput

# Refused (docs/security.md): C0 and C1 control characters but tab, newline and CR; DEL; and the
# bidi controls (marks, embeddings, overrides, isolates) that change the order text is shown in.
_CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
# Removed: invisible characters whose only effect is to hide a word from search, word filters and
# duplicate detection (zero-width space, word joiner, byte-order mark, soft hyphen). ZWJ and ZWNJ
# stay: emoji sequences and some scripts need them.
_INVISIBLE_CHARS = r"\u00ad\u200b\u2060\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
EMAIL_RE = re.compile(
    f"^[^@\\s{_CONTROL_CHARS}{_INVISIBLE_CHARS}]{{1,64}}@"
    f"[^@\\s{_CONTROL_CHARS}{_INVISIBLE_CHARS}]+\\.[^@\\s{_CONTROL_CHARS}{_INVISIBLE_CHARS}]{{2,}}$"
)
_LETTERS = re.compile(r"[^\W\d_]+")  # a word: a run of letters (digits, hyphens, dots split words)
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
MIXED_SCRIPTS = N_(
    "«%(word)s» mixes letters of different alphabets: type the word in one alphabet."
)


class Errors:
    """Collects field errors, then raises one InvalidInput with all of them."""

    def __init__(self) -> None:
        self.errors: dict[str, tuple[str, dict[str, Any]]] = {}

    def add(self, field: str, message: str, **params: Any) -> None:
        self.errors.setdefault(field, (message, params))

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


def clean_text(
    errors: Errors,
    field: str,
    value: object,
    *,
    min_length: int,
    max_length: int,
    multiline: bool = False,
    one_script_words: bool = False,
) -> str:
    """Strip, normalise (NFC) and check length; control and bidi-override characters are refused.

    Invisible zero-width characters are removed. With ``one_script_words`` (titles, names) a word
    that mixes Latin, Cyrillic or Greek letters is refused: look-alike letters hide a word from
    search and duplicate detection, or pass one name off as another (docs/security.md).
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, "Must be text.")
        return ""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", value.replace("\r\n", "\n"))).strip()
    if _CONTROL.search(text):
        errors.add(field, "Contains control or direction-override characters.")
        return ""
    if "\ufffd" in text or has_surrogates(text):
        errors.add(field, "Contains invalid characters (the text is not valid UTF-8).")
        return ""
    if not multiline:
        text = " ".join(text.split())
    if one_script_words and (word := mixed_script_word(text)) is not None:
        errors.add(field, MIXED_SCRIPTS, word=word[:40])
        return text
    if not text and min_length > 0:
        errors.add(field, "This field is required.")
    elif len(text) < min_length:
        errors.add(field, "Must be at least %(min)s characters long.", min=min_length)
    elif len(text) > max_length:
        errors.add(field, "Must be at most %(max)s characters long.", max=max_length)
    return text


def clean_optional_id(errors: Errors, field: str, value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors.add(field, "Must be a whole number.")
        return None
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        errors.add(field, "Must be a whole number.")
        return None
    if not 0 < number < 2**31:
        errors.add(field, "Unknown value.")
        return None
    return number


def has_surrogates(text: str) -> bool:
    """Lone surrogates: what undecodable bytes become; no database can store them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _script(char: str) -> str | None:
    name = unicodedata.name(char, "")
    return next((s for s in _SCRIPTS if name.startswith(s)), None)


def mixed_script_word(text: str) -> str | None:
    """The first word of ``text`` that mixes Latin, Cyrillic or Greek letters, else None.

    A word is a run of letters, so "Wi-Fi в парке" or "д. 7А" (a letter after a digit) are fine.
    """
    for match in _LETTERS.finditer(text):
        word = match.group()
        if word.isascii():
            continue
        if len({_script(c) for c in word} - {None}) > 1:
            return word
    return None


# Russian letters in a URL name (the common passport-style transliteration).
TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o",
            "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e",
            "yu", "ya",
        ],
        strict=True,
    )
)  # fmt: skip


def slugify(text: str, fallback: str) -> str:
    """A URL name from a title: Russian transliterated, Latin kept, the rest hyphens; at most 60
    characters; ``fallback`` when nothing is left."""
    out = []
    for ch in unicodedata.normalize("NFC", text.lower()):
        if ch in TRANSLIT:
            out.append(TRANSLIT[ch])
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(plain if plain.isalnum() else "-")
    slug = re.sub(r"-+", "-", "".join(out)).strip("-")
    return slug[:60].rstrip("-") or fallback


def parse_moment(raw: str, tz: ZoneInfo) -> datetime | None:
    """A moment typed in a form (``2025-05-01T09:00``, the city's time) or sent by the API (ISO
    8601, with or without an offset: without one it is the city's time), in UTC; None if
    unreadable."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    if not 1970 <= value.year <= 9998:
        return None
    return value.astimezone(ZoneInfo("UTC"))


def local_input(value: datetime | None, tz: ZoneInfo) -> str:
    """A stored moment as a ``datetime-local`` input shows it: the city's time, to the minute."""
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if value is not None else ""
