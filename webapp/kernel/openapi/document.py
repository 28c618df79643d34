"""The OpenAPI 3.1 document, rendered from the same declarations that the routes use."""

from __future__ import annotations

from typing import Any

from webapp.kernel.openapi.declarations import (
    BOOLEAN_WORDS,
    ID_TEXT_CHARS,
    Field,
    Operation,
    Param,
    resolve,
)
from webapp.kernel.routing import MAX_ID
from webapp.kernel.settings import Settings
from webapp.kernel.storage.models import IDEA_STATUSES, ROLES


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
    "project_id": {
        "type": "integer",
        "description": "The project the idea belongs to (1: the permanent pool, Ideas for the city).",
    },
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

TOKEN_INFO = {
    "id": {"type": "integer"},
    "name": {"type": "string", "description": "The owner's label."},
    "hint": {
        "type": "string",
        "description": "The token's first characters (veche_Ab3x), to recognise it.",
    },
    "created_at": _TIME,
    "last_used_at": {**_nullable(_TIME), "description": "Null until first used (per minute)."},
    "expires_at": {**_nullable(_TIME), "description": "The token stops working then."},
    "expired": {"type": "boolean"},
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
            **TOKEN_INFO,
        },
        "A new API token: the secret itself (shown only this once) and what the list shows.",
    ),
    "TokenInfo": _object(
        TOKEN_INFO, "One of the caller's API tokens, as the list shows it (never the secret)."
    ),
    "TokenList": _object(
        {"items": {"type": "array", "items": _ref("TokenInfo")}},
        "The caller's API tokens, newest first.",
    ),
    "TokenRevoked": _object(
        {"id": {"type": "integer"}, "revoked": {"type": "boolean", "enum": [True]}},
        "The token was revoked: it no longer works.",
    ),
    "SimilarIdea": _object(
        {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": list(IDEA_STATUSES)},
            "support_count": _COUNT,
            "score": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "Duplicate score: how likely the two say the same thing.",
            },
            "likely_duplicate": {
                "type": "boolean",
                "description": "The score reaches the model's calibrated threshold.",
            },
            "reasons": {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": [
                        "exact_copy",
                        "near_copy",
                        "numbers",
                        "negation",
                        "opposite",
                        "street",
                    ],
                },
                "description": "exact_copy / near_copy, or the guards that say the two differ "
                "(numbers, negation, opposite actions, street names).",
            },
            "url": {**_URL, "description": "This idea in the API."},
            "html_url": {**_URL, "description": "This idea's page on the site."},
        }
    ),
    "SimilarIdeaList": _object(
        {"items": {"type": "array", "items": _ref("SimilarIdea")}},
        "Public ideas closest in meaning, most similar first.",
    ),
    "ShortlistItem": _object(
        {
            "rank": {"type": "integer", "minimum": 1},
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": list(IDEA_STATUSES)},
            "category": _nullable(_ref("Named")),
            "district": _nullable(_ref("Named")),
            "supporters": {**_COUNT, "description": "Distinct citizens, across merged ideas."},
            "score": {
                "type": ["number", "null"],
                "description": "The scheme's score (null while the ranking has not seen the idea).",
            },
            "confidence": _nullable(
                _object(
                    {
                        "kind": {
                            "type": "string",
                            "enum": ["interval", "okrugs", "none"],
                            "description": "interval: a 90 % Wilson interval of the support "
                            "rate (top, confident); okrugs: the lowest and highest okrug rate "
                            "(broad); none: the order is not an estimate.",
                        },
                        "low": {"type": ["number", "null"]},
                        "high": {"type": ["number", "null"]},
                        "level": {"type": "number"},
                        "prior_share": {
                            "type": "number",
                            "description": "How much of the smoothed rate is the neutral prior.",
                        },
                    }
                )
            ),
            "created_at": _TIME,
            "threshold_reached_at": _nullable(_TIME),
            "days_waiting": {
                "type": ["integer", "null"],
                "description": "Days since reaching the threshold, while unanswered.",
            },
            "overdue": {"type": "boolean"},
            "response_state": {
                "type": "string",
                "enum": ["answered", "decided", "overdue", "awaiting", "below_threshold"],
            },
            "responded_at": _nullable(_TIME),
            "url": {**_URL, "description": "This idea in the API."},
            "html_url": {**_URL, "description": "This idea's page on the site."},
        }
    ),
    "Shortlist": _object(
        {
            "items": {"type": "array", "items": _ref("ShortlistItem")},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 1},
            "scheme": {"type": "string"},
            "threshold": {
                "type": "integer",
                "description": "Supporters from which a proposal awaits an answer.",
            },
            "response_days": {
                "type": "integer",
                "description": "Days after the threshold when an unanswered proposal is overdue.",
            },
        },
        "The strongest proposals, one page.",
    ),
    "StatusChange": _object(
        {
            "idea_id": {"type": "integer"},
            "status": {"type": "string", "enum": list(IDEA_STATUSES)},
            "previous_status": {"type": "string", "enum": list(IDEA_STATUSES)},
            "notified": {**_COUNT, "description": "Supporters and authors notified."},
            "response": _object(
                {
                    "id": {"type": "integer"},
                    "status": {"type": "string", "enum": list(IDEA_STATUSES)},
                    "previous_status": {"type": "string", "enum": list(IDEA_STATUSES)},
                    "body": {"type": "string"},
                    "created_at": _TIME,
                    "author_name": {"type": ["string", "null"]},
                }
            ),
            "url": {**_URL, "description": "The idea in the API."},
        },
        "The idea's new status and the published response.",
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
    401: "Not logged in, or the API token is invalid, expired or revoked.",
    403: "Not allowed: role, blocked action, or a missing/wrong X-CSRF-Token with a cookie session.",
    404: "Not found: no such idea (or it is hidden), no such API token of the caller's, or no "
    "such project (or it is a draft).",
    409: "The idea does not accept this action in its current status, the project's stage does "
    "not allow it now (the message says when it opens or why it closed), or the account already "
    "holds the most API tokens allowed.",
    413: "The request body is over the size limit.",
    415: "The body is not sent as application/json.",
    422: "Invalid values; error.fields names each one.",
    429: "Too many requests; wait a minute.",
    503: "Temporarily unavailable (the similarity index is warming up): retry after Retry-After.",
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
        schema["default"] = resolve(p.default, settings)
    return schema


def _field_schema(f: Field, settings: Settings) -> dict[str, Any]:
    if f.type == "id":
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    elif f.type == "integer":
        schema = {"type": "integer"}
        if f.minimum is not None:
            schema["minimum"] = f.minimum
        if f.maximum is not None:
            schema["maximum"] = resolve(f.maximum, settings)
    elif f.type == "boolean":  # JSON true/false, or what a form sends
        schema = {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "enum": sorted(BOOLEAN_WORDS)},
                {"type": "integer", "enum": [0, 1]},
            ]
        }
    elif f.type == "ids":  # an array of ids, or the same ids comma-separated
        schema = {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "maxItems": f.max_items,
                },
                {
                    "type": "string",
                    "pattern": r"^\s*([0-9]{1,10}\s*(,\s*[0-9]{1,10}\s*)*)?$",
                    "maxLength": f.max_items * ID_TEXT_CHARS,
                    "description": 'Comma-separated: "12,15,17"; "": none.',
                },
            ]
        }
    else:
        schema = {"type": "string"}
        if f.max_length is not None:
            schema["maxLength"] = resolve(f.max_length, settings)
    if f.nullable:
        if "anyOf" in schema:
            schema["anyOf"].append({"type": "null"})
        else:
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
