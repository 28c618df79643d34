"""Where an imported idea comes from: a label, a link to the original and its language.

``origin_of(idea.external_ref)`` is pure: the reference's prefix names the source (the demo's
``roi:``, ``uk_petitions:`` and ``decide_madrid:``, see docs/data.md). The UK and Madrid ideas are
foreign-language examples, not Moscow ideas, and say so. An idea written on Veche, or imported
with a reference of another form, has no origin. Templates show it with ``ideas/_origin.html``
(the ``origin`` filter is this function).
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.kernel.errors import N_


@dataclass(frozen=True)
class Origin:
    source: str  # the reference's prefix
    label: str  # English msgid, translated where shown
    url: str | None  # the original, where it can still be read
    language: str  # the language of the original text (BCP 47)
    foreign: bool  # a foreign-language example rather than an idea of the city
    federal: bool = False  # a national ask (filed from Moscow), not one for the city

    @property
    def outside_city(self) -> bool:
        """Not an idea for Moscow itself: pages must not call it "whole city"."""
        return self.foreign or self.federal


def _roi(key: str) -> Origin:
    # The 2013 petitions' pages on roi.ru are gone; the label names the source. The third
    # character of roi.ru's id is Ф (federal), Р (regional) or М (municipal).
    if key[2:3] == "Ф":
        return Origin(
            "roi",
            N_("Federal petition from the Russian Public Initiative (roi.ru), 2013"),
            None,
            "ru",
            False,
            federal=True,
        )
    return Origin(
        "roi", N_("Petition from the Russian Public Initiative (roi.ru), 2013"), None, "ru", False
    )


def _uk(key: str) -> Origin:
    url = f"https://petition.parliament.uk/archived/petitions/{key}" if key.isdigit() else None
    return Origin(
        "uk_petitions",
        N_("Example from abroad: a petition to the UK Parliament, in English"),
        url,
        "en",
        True,
    )


def _madrid(key: str) -> Origin:
    url = f"https://decide.madrid.es/proposals/{key}" if key.isdigit() else None
    return Origin(
        "decide_madrid",
        N_("Example from abroad: a proposal from Decide Madrid, in Spanish"),
        url,
        "es",
        True,
    )


_SOURCES = {"roi": _roi, "uk_petitions": _uk, "decide_madrid": _madrid}


def origin_of(external_ref: str | None) -> Origin | None:
    """The origin an ``external_ref`` like ``uk_petitions:300000`` names, or None."""
    if not external_ref or ":" not in external_ref:
        return None
    prefix, key = external_ref.split(":", 1)
    make = _SOURCES.get(prefix)
    return make(key.strip()) if make and key.strip() else None
