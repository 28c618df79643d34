"""Message catalogs (gettext .po files compiled in memory at start-up), locale helpers.

Source strings (msgids) are English; ``ru`` translates every one of them (a test checks it),
``en`` may leave msgstr empty, which falls back to the msgid.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

CATALOG_DIR = Path(__file__).parent
DOMAIN = "messages"


def load_translations(language: str) -> Translations:
    """Compile ``<language>/LC_MESSAGES/messages.po`` into a Translations object."""
    po_path = CATALOG_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


class Translator:
    """Per-language gettext and locale-aware formatting."""

    def __init__(self, language: str, timezone: str = "Europe/Moscow") -> None:
        self.language = language
        self.tz = ZoneInfo(timezone)
        self.locale = Locale.parse(language)
        self.translations = load_translations(language)
        # Babel's formatting costs ~50 µs a number; a list page shows hundreds of them (counts,
        # ranks), mostly the same few thousand values: memoise per translator.
        self._number = lru_cache(maxsize=65_536, typed=True)(self._format_number)

    def _format_number(self, value: float | int) -> str:
        return format_decimal(value, locale=self.locale)

    def gettext(self, message: str, **params: object) -> str:
        text = self.translations.gettext(message)
        if not params:
            return text
        # A moment in a message ("opens on %(when)s") reads in the city's time zone and language.
        shown = {
            k: self.datetime(v) if isinstance(v, dt.datetime) else v for k, v in params.items()
        }
        return text % shown

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        text = self.translations.ngettext(singular, plural, n)
        params.setdefault("num", n)
        return text % params

    def number(self, value: float | int) -> str:
        return self._number(value)

    def datetime(self, value: dt.datetime | None, fmt: str = "d MMMM y, HH:mm") -> str:
        """A date and time without seconds in the city's time zone ("7 декабря 2026, 16:30")."""
        if value is None:
            return ""
        return format_datetime(value, format=fmt, locale=self.locale, tzinfo=self.tz)

    def date(self, value: dt.datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, format="d MMMM y", locale=self.locale, tzinfo=self.tz)


def load_translators(languages: tuple[str, ...], timezone: str) -> dict[str, Translator]:
    return {lang: Translator(lang, timezone) for lang in languages}


def pick_language(
    requested: str | None, accept_language: str | None, available: tuple[str, ...], default: str
) -> str:
    """Explicit choice first, then the browser's Accept-Language, then the default."""
    if requested in available:
        return requested
    if accept_language:
        for part in accept_language.split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in available:
                return code
    return default
