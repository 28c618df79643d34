"""Read idea files for `veche import`: CSV with a header row, or JSONL (one object a line).

A file that cannot be read as a whole (missing, not UTF-8, broken CSV quoting, a line that is not
a JSON object, unknown CSV columns) raises InvalidInput naming the file and line, before anything
is stored. Row numbers: in a CSV file the header is row 1 (as a spreadsheet shows it); in a JSONL
file a row's number is its line number.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from webapp.kernel.errors import InvalidInput, invalid

COLUMNS = (
    "title",
    "body",
    "category",
    "district",
    "language",
    "external_ref",
    "created_at",
    "author_email",
)
REQUIRED = ("title", "body", "category")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def file_error(path: Path, line: int | None, message: str) -> InvalidInput:
    where = f"{path}, line {line}" if line is not None else str(path)
    return invalid("file", "%(where)s: %(error)s", where=where, error=message)


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise invalid("format", "Must be one of: %(values)s.", values="csv, jsonl")
        return fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise file_error(
            path, None, "cannot tell the format from the extension; use --format csv or jsonl"
        )
    return found


def _lines(path: Path, counter: list[int]) -> Iterator[str]:
    """Decoded lines (ends kept); ``counter[0]`` is the number of the line last read."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise invalid("file", "File not found: %(path)s", path=str(path)) from None
    except OSError as exc:
        raise file_error(path, None, exc.strerror or str(exc)) from None
    with fh:
        for number, raw in enumerate(fh, 1):
            counter[0] = number
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise file_error(
                    path,
                    number,
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "save the file as UTF-8",
                ) from None
            yield line.removeprefix("\ufeff") if number == 1 else line


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column: value}) for every non-blank row."""
    return _read_csv(path) if fmt == "csv" else _read_jsonl(path)


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    counter = [0]
    reader = csv.reader(_lines(path, counter), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise file_error(path, None, "the file is empty; expected a header row")
        names = [h.strip().lower() for h in header]
        unknown = [n for n in names if n not in COLUMNS]
        missing = [n for n in REQUIRED if n not in names]
        if unknown or missing or len(set(names)) != len(names):
            problems = []
            if unknown:
                problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
            if missing:
                problems.append(f"missing column(s) {', '.join(missing)}")
            if len(set(names)) != len(names):
                problems.append("a column appears twice")
            raise file_error(path, 1, "; ".join(problems) + f" (columns: {', '.join(COLUMNS)})")
        for number, record in enumerate(reader, 2):
            if not record or not any(field.strip() for field in record):
                continue
            if len(record) > len(names):
                raise file_error(
                    path,
                    counter[0],
                    f"row {number} has {len(record)} fields, the header {len(names)}",
                )
            yield number, dict(zip(names, record, strict=False))
    except csv.Error as exc:
        raise file_error(path, counter[0], f"malformed CSV: {exc}") from None


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    counter = [0]
    for line in _lines(path, counter):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise file_error(
                path, counter[0], f"not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(value, dict):
            raise file_error(path, counter[0], "expected a JSON object")
        yield counter[0], value
