"""The JSON API's one declarative description: operations, their inputs and their outputs.

``webapp/views/api.py`` mounts one route per :class:`Operation` and parses every request with
that operation's own :class:`Param` and :class:`Field` objects; ``/api/v1/openapi.json`` is
rendered from the same objects by :func:`build_document`. What is served and what is documented
therefore come from one table and cannot drift apart (``tests/test_api.py`` checks it anyway).

Input checking here is only about shape (types, ranges, lengths, encodings); the services still
do the domain validation (a category exists, a title is long enough).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from webapp.errors import N_, DomainError, NotFound
from webapp.services.validation import Errors
from webapp.settings import Settings
from webapp.storage.models import IDEA_STATUSES, ROLES

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
_INTEGER = re.compile(r"^-?[0-9]{1,12}$")
_NUL = "\x00"

Setting = Callable[[Settings], int]
"""A number read from the app's Settings (a limit or a default), resolved per app."""


class UnsupportedMediaType(DomainError):
    """The body is not sent as JSON. HTTP-only, so it lives here rather than in webapp.errors."""

    status = 415


@dataclass(frozen=True)
class Param:
    """A query or path parameter."""

    name: str
    type: Literal["integer", "string"]
    description: str
    location: Literal["query", "path"] = "query"
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] = ()
    default: int | str | Setting | None = None
    missing: str = N_("The parameter %(name)s is required.")
    not_found: str = N_("This page does not exist.")


@dataclass(frozen=True)
class Field:
    """A field of a JSON request body. ``id`` fields are integers in 1..MAX_ID."""

    name: str
    type: Literal["string", "id"]
    description: str
    required: bool = True
    nullable: bool = False
    max_length: int | Setting | None = None


@dataclass(frozen=True)
class Operation:
    """One method on one path: how it is served and how it is documented.

    The handler's name is the route name (``api:<name>``) and the operationId; the first line
    of its docstring is the summary, the rest the description.
    """

    route: str  # "METHOD /path", the path in OpenAPI form relative to the mount: "/ideas/{idea_id}"
    handler: Callable[..., Awaitable[Any]]
    response: str  # a schema in SCHEMAS
    tag: str
    status: int = 200
    auth: Literal["none", "optional", "required"] = "optional"
    permission: str | None = None
    params: tuple[Param, ...] = ()
    body: tuple[Field, ...] | None = None
    errors: tuple[int, ...] = ()
    location: bool = False  # a 201 with a Location header

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.route.split(" ", 1)[1]

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.handler) or self.name).split("\n", 1)[0].strip()

    @property
    def description(self) -> str:
        doc = (inspect.getdoc(self.handler) or "").split("\n", 1)
        return " ".join(doc[1].split()) if len(doc) > 1 else ""

    @property
    def route_path(self) -> str:
        """The Starlette path: integer path parameters get the ``:int`` convertor."""
        path = self.path
        for p in self.params:
            if p.location == "path" and p.type == "integer":
                path = path.replace(f"{{{p.name}}}", f"{{{p.name}:int}}")
        return path

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    def error_statuses(self) -> list[int]:
        """Every 4xx status the operation can answer with (the wrapper's and its own)."""
        found = set(self.errors)
        if self.body is not None or any(p.required for p in self.params):
            found.add(400)
        if self.auth != "none":
            found.add(401)
        if self.auth == "required" and (self.is_write or self.permission):
            found.add(403)
        if any(p.location == "path" for p in self.params):
            found.add(404)
        if self.is_write:
            found.add(413)
        if self.body is not None:
            found.update({415, 422})
        if any(p.location == "query" for p in self.params):
            found.add(422)
        if self.auth == "required" and self.is_write:
            found.add(429)
        return sorted(found)


def _resolve(value: Any, settings: Settings) -> Any:
    return value(settings) if callable(value) else value


@dataclass(frozen=True)
class Call:
    """What a handler receives: the caller and the checked inputs."""

    user: Any  # CurrentUser | None
    params: dict[str, Any]
    body: dict[str, Any]


# --- parsing ------------------------------------------------------------------------------------


def _bad_text(value: str) -> str | None:
    """A message id when a string cannot be stored (NUL, lone surrogates), else None."""
    if _NUL in value:
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
            values[p.name] = _resolve(p.default, settings)
            continue
        if (problem := _bad_text(raw)) is not None:
            errors.add(p.name, problem)
        elif p.type == "integer":
            if not _INTEGER.match(raw):
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
        elif not isinstance(value, str):
            errors.add(f.name, N_("Must be text."))
        elif (problem := _bad_text(value)) is not None:
            errors.add(f.name, problem)
        elif f.max_length is not None and len(value) > (limit := _resolve(f.max_length, settings)):
            errors.add(f.name, N_("Must be at most %(max)s characters long."), max=limit)
        else:
            clean[f.name] = value
    errors.raise_if_any()
    return clean


# --- the document -------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _page(item: str) -> dict[str, Any]:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 1},
        },
        f"One page of {item} objects.",
    )


_URL = {"type": "string", "format": "uri"}
_TIME = {"type": "string", "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}
_VOTE = {"type": "integer", "enum": [-1, 0, 1]}

IDEA_SUMMARY = {
    "id": {"type": "integer"},
    "title": {"type": "string"},
    "excerpt": {"type": "string", "description": "The start of the body, on one line."},
    "status": {"type": "string", "enum": list(IDEA_STATUSES)},
    "language": {"type": "string", "description": "Detected language of the text (ru, en, es)."},
    "category": _nullable(_ref("Named")),
    "district": _nullable(_ref("Named")),
    "author_name": {"type": ["string", "null"]},
    "support_count": _COUNT,
    "oppose_count": _COUNT,
    "comment_count": _COUNT,
    "created_at": _TIME,
    "url": {**_URL, "description": "This idea in the API."},
    "html_url": {**_URL, "description": "This idea's page on the site."},
}

SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer", "description": "The HTTP status again."},
                    "message": {"type": "string", "description": "In the caller's language."},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "Per-field messages (422 only): field name -> message.",
                    },
                },
                "required": ["status", "message"],
                "additionalProperties": False,
            }
        },
        "Every error answer has this shape.",
    ),
    "Named": _object(
        {"id": {"type": "integer"}, "slug": {"type": "string"}, "name": {"type": "string"}},
        "A category or district, named in the caller's language.",
    ),
    "District": _object(
        {
            "id": {"type": "integer"},
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "short_name": {"type": ["string", "null"]},
            "parent_id": {
                "type": ["integer", "null"],
                "description": "The okrug of a district; null for an okrug.",
            },
        }
    ),
    "CategoryList": _object({"items": {"type": "array", "items": _ref("Named")}}),
    "DistrictList": _object({"items": {"type": "array", "items": _ref("District")}}),
    "IdeaSummary": _object(IDEA_SUMMARY),
    "IdeaPage": _page("IdeaSummary"),
    "Idea": _object(
        {
            **IDEA_SUMMARY,
            "body": {"type": "string"},
            "updated_at": _TIME,
            "merged_into": {
                "type": ["integer", "null"],
                "description": "For a merged idea: the id of the idea it was merged into.",
            },
            "my_vote": {
                "anyOf": [_VOTE, {"type": "null"}],
                "description": "The caller's vote (1, -1, or 0 for none); null when anonymous.",
            },
            "links": _object(
                {
                    "self": _URL,
                    "html": _URL,
                    "comments": _URL,
                    "merged_into": _nullable(_URL),
                }
            ),
        }
    ),
    "VoteState": _object(
        {
            "idea_id": {"type": "integer"},
            "support_count": _COUNT,
            "oppose_count": _COUNT,
            "my_vote": _VOTE,
            "changed": {
                "type": "boolean",
                "description": "False when the request changed nothing.",
            },
        }
    ),
    "Comment": _object(
        {
            "id": {"type": "integer"},
            "idea_id": {"type": "integer"},
            "author_name": {"type": ["string", "null"]},
            "body": {"type": "string"},
            "created_at": _TIME,
        }
    ),
    "CommentPage": _page("Comment"),
    "Me": _object(
        {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "display_name": {"type": "string"},
            "role": {"type": "string", "enum": list(ROLES)},
            "district": _nullable(_ref("Named")),
            "verified_resident": {"type": "boolean"},
            "locale": {"type": ["string", "null"]},
            "auth": {"type": "string", "enum": ["token", "session"]},
            "csrf_token": {
                "type": ["string", "null"],
                "description": "For cookie sessions: send it as X-CSRF-Token on writes.",
            },
        }
    ),
    "Token": _object(
        {
            "token": {
                "type": "string",
                "description": "Shown once; send as Authorization: Bearer.",
            },
            "token_type": {"type": "string", "enum": ["Bearer"]},
        }
    ),
    "OpenAPI": {"type": "object", "description": "This document."},
}

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token from POST /tokens.",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "veche_session",
        "description": "The site's login session. Writes must also send the X-CSRF-Token header.",
    },
}

ERROR_DESCRIPTIONS = {
    400: "Malformed request: bad JSON, not UTF-8, not an object, or a required parameter missing.",
    401: "Not logged in, or the API token is invalid.",
    403: "Not allowed: role, blocked action, or a missing/wrong X-CSRF-Token with a cookie session.",
    404: "No such idea (or it is hidden).",
    409: "The idea does not accept this action in its current status.",
    413: "The request body is over the size limit.",
    415: "The body is not sent as application/json.",
    422: "Invalid values; error.fields names each one.",
    429: "Too many requests; wait a minute.",
}

CSRF_PARAMETER = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": False,
    "description": "Required with cookie-session auth (GET /me returns it); not with bearer tokens.",
    "schema": {"type": "string"},
}


def _param_schema(p: Param, settings: Settings) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": p.type}
    if p.minimum is not None:
        schema["minimum"] = p.minimum
    if p.maximum is not None:
        schema["maximum"] = p.maximum
    if p.max_length is not None:
        schema["maxLength"] = p.max_length
    if p.enum:
        schema["enum"] = list(p.enum)
    if p.default is not None:
        schema["default"] = _resolve(p.default, settings)
    return schema


def _field_schema(f: Field, settings: Settings) -> dict[str, Any]:
    if f.type == "id":
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    else:
        schema = {"type": "string"}
        if f.max_length is not None:
            schema["maxLength"] = _resolve(f.max_length, settings)
    if f.nullable:
        schema["type"] = [schema["type"], "null"]
    schema["description"] = f.description
    return schema


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(op: Operation, settings: Settings) -> dict[str, Any]:
    doc: dict[str, Any] = {"operationId": op.name, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        doc["description"] = op.description
    parameters = [
        {
            "name": p.name,
            "in": p.location,
            "required": p.required or p.location == "path",
            "description": p.description,
            "schema": _param_schema(p, settings),
        }
        for p in op.params
    ]
    if op.auth == "required" and op.is_write:
        parameters.append(CSRF_PARAMETER)
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        properties = {f.name: _field_schema(f, settings) for f in op.body}
        doc["requestBody"] = {
            "required": True,
            "content": _json(
                {
                    "type": "object",
                    "properties": properties,
                    "required": [f.name for f in op.body if f.required],
                    "additionalProperties": False,
                }
            ),
        }
    ok: dict[str, Any] = {"description": SCHEMAS[op.response].get("description", "OK")}
    ok["content"] = _json(_ref(op.response))
    if op.location:
        ok["headers"] = {
            "Location": {"description": "The new resource in the API.", "schema": _URL}
        }
    responses: dict[str, Any] = {str(op.status): ok}
    for status in op.error_statuses():
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": _json(_ref("Error")),
        }
    doc["responses"] = responses
    if op.auth == "required":
        doc["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
    elif op.auth == "optional":
        doc["security"] = [{}, {"bearerAuth": []}, {"cookieAuth": []}]
    else:
        doc["security"] = []
    return doc


def build_document(operations: tuple[Operation, ...], settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``operations``, with this app's limits and defaults."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, settings)
    tags = sorted({op.tag for op in operations})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Veche API",
            "version": "1.0.0",
            "description": (
                "Ideas, support and comments of the Veche civic platform. Messages and names "
                "follow Accept-Language (ru or en; Russian by default). See docs/api.md."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "tags": [{"name": t} for t in tags],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }
