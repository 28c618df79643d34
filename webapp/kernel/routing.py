"""Route helpers every domain's ``routes.py`` uses: the ``{name:id}`` path convertor, methods.

``{name:id}`` matches only ids a database integer column can hold (1..2**31-1 as digits): a
larger number in a URL is a page that does not exist (404), never an overflow error from the
database (SQLite: OverflowError; PostgreSQL: integer out of range). It is registered under its
own name; Starlette's ``int`` convertor is left as it is for anyone else in the process.
"""

from __future__ import annotations

from starlette.convertors import CONVERTOR_TYPES, IntegerConvertor, register_url_convertor

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]
ID = "id"  # the convertor's name: "/ideas/{idea_id:id}"


def _digits_up_to(limit: int) -> str:
    """A regex matching the decimal numbers 0..limit (no sign, no leading zeros past 10 digits).

    >>> import re
    >>> rx = re.compile(f"(?:{_digits_up_to(2**31 - 1)})$")
    >>> [bool(rx.match(s)) for s in ("0", "7", "2147483647", "2147483648", "99999999999")]
    [True, True, True, False, False]
    """
    digits = str(limit)
    parts = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            rest = len(digits) - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            parts.append(f"{digits[:i]}[{low}-{int(d) - 1}]{tail}")
    parts.append(digits)
    return "|".join(parts)


class IdConvertor(IntegerConvertor):
    """``{name:id}``: a database id (see the module's docstring)."""

    regex = _digits_up_to(MAX_ID)


if ID not in CONVERTOR_TYPES:
    register_url_convertor(ID, IdConvertor())
