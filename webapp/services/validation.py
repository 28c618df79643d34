"""Shared input checks; each returns the cleaned value or records a message id per field."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from webapp.errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


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
) -> str:
    """Strip, normalise (NFC) and check length; control and bidi-override characters are refused."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, "Must be text.")
        return ""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if _CONTROL.search(text):
        errors.add(field, "Contains control or direction-override characters.")
        return ""
    if "\ufffd" in text:
        errors.add(field, "Contains invalid characters (the text is not valid UTF-8).")
        return ""
    if not multiline:
        text = " ".join(text.split())
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
