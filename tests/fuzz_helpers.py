"""Shared by the fuzz tests: hostile text, and a scan of every stored text for garbage.

"Garbage" is text the site should never have accepted: NUL and other control characters, lone
surrogates (what invalid UTF-8 becomes when decoded with ``surrogateescape``), U+FFFD (what it
becomes when decoded with ``replace``), bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E,
U+200F, U+061C) and the invisible zero-width characters the validation strips (docs/security.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON, String, Text, select

from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Base

GARBAGE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 (but tab, newline, CR) and C1 controls
    "\ud800-\udfff"  # lone surrogates
    "\ufffd"  # the replacement character: invalid UTF-8 decoded leniently
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u200b\u2060\ufeff]"  # zero-width space, word joiner, byte-order mark
)
SCRIPT_TAG = re.compile(r"<\s*script", re.IGNORECASE)

HOSTILE_TEXTS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    '"; DROP TABLE ideas; --',
    "%' UNION SELECT password_hash FROM users --",
    "\u202eтекст наоборот",
    "Па\u200bрк\u200d\ufeff",
    "Пaрк Гoрькoгo",  # Latin a and o in Cyrillic words: homoglyph spam
    "Mосква",  # Cyrillic М in a Latin word
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\ud800",
    "\ufffd",
    "{{ 7*7 }} {% raw %}",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "Ω≈ç√∫˜µ≤≥÷ 田中さん ١٢٣ 𝕿𝖍𝖊",
    "A" * 5000,
    "-1",
    "0",
    str(2**63),
    str(-(2**64)),
    "1e308",
    "NaN",
]


def garbage_in(value: str) -> str | None:
    """The first garbage character of ``value`` (as U+XXXX), or None when it is clean."""
    found = GARBAGE.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def stored_garbage(session_factory: Any) -> list[tuple[str, str, Any, str]]:
    """(table, column, primary key, what) for every stored text with garbage in it."""
    found: list[tuple[str, str, Any, str]] = []
    with transaction(session_factory) as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            key = list(table.primary_key.columns)[0]
            for row in session.execute(select(key, *columns)):
                for column, value in zip(columns, row[1:], strict=True):
                    if value is None:
                        continue
                    text = (
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    )
                    if (what := garbage_in(text)) is not None:
                        found.append((table.name, column.name, row[0], what))
    return found


def assert_no_stored_garbage(session_factory: Any) -> None:
    found = stored_garbage(session_factory)
    assert not found, found[:20]


SITE_SCRIPT = re.compile(r'<script src="/static/[\w/.-]+\.js" defer>')  # the site's own files
RAW_MARKUP = ("<script>alert(1)", "<img src=x onerror", "<img src=x")


def assert_no_raw_script(html: str, *, where: str) -> None:
    """User text reaches the page escaped: the only ``<script`` is the site's own, no raw markup."""
    for match in SCRIPT_TAG.finditer(html):
        around = html[match.start() : match.start() + 120]
        assert SITE_SCRIPT.match(around), (
            where,
            html[max(0, match.start() - 200) : match.start() + 200],
        )
    for raw in RAW_MARKUP:
        assert raw not in html, (where, raw)
