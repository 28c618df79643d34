"""The API's declarations: operations, their parameters and body fields (one table, see views/api.py)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from webapp.kernel.errors import N_, DomainError
from webapp.kernel.routing import ID
from webapp.kernel.settings import Settings

INTEGER_RE = re.compile(r"^-?[0-9]{1,12}$")
NUL = "\x00"

Setting = Callable[[Settings], int]
"""A number read from the app's Settings (a limit or a default), resolved per app."""


class UnsupportedMediaType(DomainError):
    """The body is not sent as JSON. HTTP-only, so it lives here rather than in webapp.kernel.errors."""

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


BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
"""What a ``boolean`` field also takes as text (any case): the values an HTML form sends."""
MAX_IDS = 1000
"""The most ids an ``ids`` field takes (unless its ``max_items`` says fewer)."""
ID_TEXT_CHARS = 12
"""Characters per id in the comma-separated form of an ``ids`` field: 10 digits, comma, space."""


@dataclass(frozen=True)
class Field:
    """A field of a JSON request body. ``id`` fields are integers in 1..MAX_ID; ``integer``
    fields are whole numbers in ``minimum``..``maximum``; ``boolean`` fields are JSON
    ``true``/``false`` and also take "yes"/"no", "true"/"false", "1"/"0" (any case) or the
    numbers 1/0, as forms send them; ``ids`` fields are a JSON array of ids (at most
    ``max_items``) or the same ids as one comma-separated string ("12, 15,17"; "" is none)."""

    name: str
    type: Literal["string", "id", "integer", "boolean", "ids"]
    description: str
    required: bool = True
    nullable: bool = False
    max_length: int | Setting | None = None
    minimum: int | None = None
    maximum: int | Setting | None = None
    max_items: int = MAX_IDS


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
    bucket: str = "write"  # the rate-limit bucket of a write (webapp/kernel/ratelimit.py)

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
                path = path.replace(f"{{{p.name}}}", f"{{{p.name}:{ID}}}")
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


def resolve(value: Any, settings: Settings) -> Any:
    return value(settings) if callable(value) else value


@dataclass(frozen=True)
class Call:
    """What a handler receives: the caller and the checked inputs."""

    user: Any  # CurrentUser | None
    params: dict[str, Any]
    body: dict[str, Any]
