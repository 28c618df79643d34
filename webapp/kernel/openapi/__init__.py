"""The JSON API's one declarative description: operations, their inputs and their outputs.

``webapp/api.py`` mounts one route per :class:`Operation` and parses every request with
that operation's own :class:`Param` and :class:`Field` objects; ``/api/v1/openapi.json`` is
rendered from the same objects by :func:`build_document`. What is served and what is documented
therefore come from one table and cannot drift apart (``tests/test_api.py`` checks it anyway).

Input checking here is only about shape (types, ranges, lengths, encodings); the services still
do the domain validation (a category exists, a title is long enough).
"""

from __future__ import annotations

from webapp.kernel.openapi.declarations import (
    Call,
    Field,
    Operation,
    Param,
    UnsupportedMediaType,
)
from webapp.kernel.openapi.document import build_document
from webapp.kernel.openapi.parsing import check_json_content_type, parse_body, parse_params
from webapp.kernel.routing import MAX_ID

__all__ = [
    "MAX_ID",
    "Call",
    "Field",
    "Operation",
    "Param",
    "UnsupportedMediaType",
    "build_document",
    "check_json_content_type",
    "parse_body",
    "parse_params",
]
