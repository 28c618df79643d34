"""Shape checks of API input (types, ranges, lengths, encodings) from the declarations.

The services still do the domain validation (a category exists, a title is long enough).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from webapp.kernel.errors import N_, DomainError, NotFound
from webapp.kernel.openapi.declarations import (
    BOOLEAN_WORDS,
    ID_TEXT_CHARS,
    INTEGER_RE,
    NUL,
    Field,
    Param,
    UnsupportedMediaType,
    resolve,
)
from webapp.kernel.routing import MAX_ID
from webapp.kernel.settings import Settings
from webapp.kernel.validation import Errors


def _bad_text(value: str) -> str | None:
    """A message id when a string cannot be stored (NUL, lone surrogates), else None."""
    if NUL in value:
        return N_("Contains control or direction-override characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return N_("Contains invalid characters (the text is not valid UTF-8).")
    return None


def parse_params(
    params: tuple[Param, ...],
    query: Mapping[str, str],
    path: Mapping[str, Any],
    settings: Settings,
) -> dict[str, Any]:
    """Check query and path parameters against their declarations.

    A path id out of range is a 404, a missing required parameter a 400, any other bad value
    a 422 naming the parameter.
    """
    values: dict[str, Any] = {}
    errors = Errors()
    for p in params:
        if p.location == "path":
            number = path.get(p.name)
            if not isinstance(number, int) or not 0 < number <= MAX_ID:
                raise NotFound(p.not_found)
            values[p.name] = number
            continue
        raw = query.get(p.name)
        raw = raw.strip() if raw is not None else None
        if not raw:
            if p.required:
                raise DomainError(p.missing, name=p.name)
            values[p.name] = resolve(p.default, settings)
            continue
        if (problem := _bad_text(raw)) is not None:
            errors.add(p.name, problem)
        elif p.type == "integer":
            if not INTEGER_RE.match(raw):
                errors.add(p.name, N_("Must be a whole number."))
                continue
            number = int(raw)
            low = p.minimum if p.minimum is not None else -MAX_ID
            high = p.maximum if p.maximum is not None else MAX_ID
            if not low <= number <= high:
                errors.add(p.name, N_("Must be between %(min)s and %(max)s."), min=low, max=high)
            values[p.name] = number
        elif p.enum and raw not in p.enum:
            errors.add(p.name, N_("Must be one of: %(values)s."), values=", ".join(p.enum))
        elif p.max_length is not None and len(raw) > p.max_length:
            errors.add(p.name, N_("Must be at most %(max)s characters long."), max=p.max_length)
        else:
            values[p.name] = raw
    errors.raise_if_any()
    return values


ID_TEXT_RE = re.compile(r"^[0-9]{1,10}$")


def parse_boolean(value: object) -> bool | None:
    """A ``boolean`` field's value: JSON true/false, 1/0, or a form's word; None if it is none."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    if isinstance(value, str):
        return BOOLEAN_WORDS.get(value.strip().lower())
    return None


def parse_ids(value: object, max_items: int) -> tuple[list[int] | None, tuple[str, dict[str, Any]]]:
    """An ``ids`` field's value: (the ids in the order given, "") or (None, the problem).

    A JSON array of whole numbers in 1..MAX_ID, or one string of them separated by commas
    (spaces around them allowed; an empty string is no ids); at most ``max_items``.
    """
    bad: tuple[str, dict[str, Any]] = (N_('Must be a list of ids: [12, 15] or "12,15".'), {})
    if isinstance(value, str):
        text = value.strip()
        if len(text) > max_items * ID_TEXT_CHARS:
            return None, (N_("Too many ids: at most %(max)s."), {"max": max_items})
        parts = [p.strip() for p in text.split(",")] if text else []
        if not all(ID_TEXT_RE.match(p) for p in parts):
            return None, bad
        items: list[object] = [int(p) for p in parts]
    elif isinstance(value, list):
        items = value
    else:
        return None, bad
    if len(items) > max_items:
        return None, (N_("Too many ids: at most %(max)s."), {"max": max_items})
    ids: list[int] = []
    for item in items:
        if not isinstance(item, int) or isinstance(item, bool):
            return None, bad
        if not 0 < item <= MAX_ID:
            return None, (N_("Unknown value."), {})
        ids.append(item)
    return ids, ("", {})


def check_json_content_type(content_type: str | None) -> None:
    """JSON bodies only (``application/json`` or ``…+json``), in UTF-8."""
    media, _, rest = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = ""
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    json_type = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    if not json_type or charset not in ("", "utf-8", "utf8"):
        raise UnsupportedMediaType(
            N_("Send the request body as JSON (Content-Type: application/json).")
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(
    fields: tuple[Field, ...], content_type: str | None, raw: bytes, settings: Settings
) -> dict[str, Any]:
    """Decode a JSON object body and check each declared field; unknown fields are refused."""
    check_json_content_type(content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError(N_("The request body is not valid UTF-8.")) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # JSONDecodeError, NaN, over-long integers, deep nesting
        raise DomainError(N_("The request body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise DomainError(N_("The request body must be a JSON object."))
    errors = Errors()
    declared = {f.name for f in fields}
    unknown = [key for key in data if key not in declared]
    for key in unknown[:10]:
        name = key[:64]
        if _bad_text(name) is not None:
            raise DomainError(N_("The request body is not valid UTF-8."))
        errors.add(name, N_("Unknown field."))
    clean: dict[str, Any] = {}
    for f in fields:
        value = data.get(f.name)
        if value is None:
            if f.required:
                errors.add(f.name, N_("This field is required."))
            clean[f.name] = None
        elif f.type == "id":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.add(f.name, N_("Must be a whole number."))
            elif not 0 < value <= MAX_ID:
                errors.add(f.name, N_("Unknown value."))
            else:
                clean[f.name] = value
        elif f.type == "integer":
            low = f.minimum if f.minimum is not None else -MAX_ID
            high = resolve(f.maximum, settings) if f.maximum is not None else MAX_ID
            if not isinstance(value, int) or isinstance(value, bool):
                errors.add(f.name, N_("Must be a whole number."))
            elif not low <= value <= high:
                errors.add(f.name, N_("Must be between %(min)s and %(max)s."), min=low, max=high)
            else:
                clean[f.name] = value
        elif f.type == "boolean":
            if (flag := parse_boolean(value)) is None:
                errors.add(f.name, N_("Must be true or false."))
            else:
                clean[f.name] = flag
        elif f.type == "ids":
            ids, (why, params) = parse_ids(value, f.max_items)
            if ids is None:
                errors.add(f.name, why, **params)
            else:
                clean[f.name] = ids
        elif not isinstance(value, str):
            errors.add(f.name, N_("Must be text."))
        elif (problem := _bad_text(value)) is not None:
            errors.add(f.name, problem)
        elif f.max_length is not None and len(value) > (limit := resolve(f.max_length, settings)):
            errors.add(f.name, N_("Must be at most %(max)s characters long."), max=limit)
        else:
            clean[f.name] = value
    errors.raise_if_any()
    return clean
