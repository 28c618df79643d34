"""JSON API of polls: the open polls for the caller, a poll's questions, and the caller's own
answer (read and write, as a mobile app would). Nobody else's answer is ever returned."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.kernel.api import absolute, iso
from webapp.kernel.errors import N_, NotFound, invalid
from webapp.kernel.openapi import Call, Field, Operation, Param
from webapp.kernel.openapi.document import SCHEMAS as KERNEL_SCHEMAS
from webapp.kernel.security import can
from webapp.kernel.storage.models import utcnow
from webapp.kernel.web import db, language
from webapp.polls import answering, polls
from webapp.polls import results as results_service
from webapp.polls.answering import RawAnswer

ANSWERS_MAX = 20_000


def _poll_json(request: Request, p: polls.PollSummary, lang: str) -> dict[str, Any]:
    image = p.image_key and absolute(request, "media", file=f"{p.image_key}.jpg")
    return {
        "id": p.id,
        "title": p.title(lang),
        "opens_at": p.opens_at.isoformat(),
        "closes_at": p.closes_at.isoformat(),
        "verified_only": p.verified_only,
        "allow_change": p.allow_change,
        "points": p.points,
        "image_url": image or None,
        "image_alt": p.image_alt if image else "",
    }


def _lang(request: Request) -> str:
    return language(request)


async def list_polls(request: Request, call: Call) -> Response:
    """Open polls for the caller

    Published polls open now whose audience includes the caller's district (the whole-city polls
    for a caller without a district or a token), closing soonest first.
    """
    user = call.user

    def load(session: Session) -> list[polls.PollSummary]:
        return polls.open_polls_for(session, user, utcnow(), limit=100)

    rows = await db(request, load)
    return JSONResponse({"items": [_poll_json(request, p, _lang(request)) for p in rows]})


async def get_poll(request: Request, call: Call) -> Response:
    """A poll's questions and options

    `kind` is single, multiple, scale or ranking. `can_answer` says whether the caller may
    answer now; `refusal` why not (null when they may). 404 for a draft.
    """
    user = call.user
    staff = user is not None and can(user.role, "answer")
    page = await db(request, answering.answer_page, call.params["poll_id"], user, staff)
    lang = _lang(request)
    return JSONResponse(
        {
            **_poll_json(request, page.detail.poll, lang),
            "description": page.detail.description(lang),
            "can_answer": page.refusal is None,
            "refusal": page.refusal,
            "answered": page.mine is not None,
            "questions": [
                {
                    "id": q.id,
                    "kind": q.kind,
                    "text": q.text(lang),
                    "required": q.required,
                    "max_choices": q.max_choices,
                    "scale_min": q.scale_min,
                    "scale_max": q.scale_max,
                    "allow_other": q.allow_other,
                    "options": [{"id": o.id, "text": o.text(lang)} for o in q.options],
                }
                for q in page.detail.questions
            ],
        }
    )


def _ints(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise invalid("answers", "Must be a list of numbers.")
    return tuple(value)


def parse_answers(raw: str) -> dict[int, RawAnswer]:
    """The ``answers`` JSON object: question id → {"options": [...], "value": n, "order":
    [...], "other": "..."}."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise invalid("answers", "Must be a JSON object.") from None
    if not isinstance(data, dict):
        raise invalid("answers", "Must be a JSON object.")
    result: dict[int, RawAnswer] = {}
    for key, item in data.items():
        if not key.isdigit() or len(key) > 9 or not isinstance(item, dict):
            raise invalid("answers", "Must be a JSON object.")
        value = item.get("value")
        other = item.get("other") or ""
        if (value is not None and (not isinstance(value, int) or isinstance(value, bool))) or (
            not isinstance(other, str)
        ):
            raise invalid("answers", "Must be a JSON object.")
        result[int(key)] = RawAnswer(
            options=_ints(item.get("options")),
            value=value,
            order=_ints(item.get("order")),
            other=other,
        )
    return result


def _answer_json(poll_id: int, mine: dict[int, RawAnswer], saved_at: Any) -> dict[str, Any]:
    return {
        "poll_id": poll_id,
        "saved_at": iso(saved_at),
        "answers": {
            str(qid): {
                "options": list(a.options),
                "value": a.value,
                "order": list(a.order),
                "other": a.other,
            }
            for qid, a in sorted(mine.items())
        },
    }


async def put_answer(request: Request, call: Call) -> Response:
    """Answer a poll, or replace the caller's answer

    `answers` is a JSON object (sent as a string) mapping each question id to
    `{"options": [ids]}` (single, multiple), `{"value": n}` (scale), `{"order": [ids]}`
    (ranking: every option, the first is rank 1) and optionally `"other": "text"` (≤ 500
    characters) where the question allows a free answer. Refused whole, with nothing stored:
    403 outside the audience or not verified where only verified residents answer; 409 outside
    the open dates or already answered where changes are not allowed; 422 per question.
    """
    poll_id = call.params["poll_id"]
    answers = parse_answers(call.body["answers"])
    await db(request, answering.submit, call.user, poll_id, answers)
    results_service.note_answer(poll_id)
    assert call.user is not None
    found = await db(request, answering.my_answer, call.user.id, poll_id)
    assert found is not None
    return JSONResponse(_answer_json(poll_id, *found))


async def get_answer(request: Request, call: Call) -> Response:
    """The caller's own answer to a poll

    Only ever the caller's own answer; 404 when they have not answered.
    """
    assert call.user is not None
    poll_id = call.params["poll_id"]
    found = await db(request, answering.my_answer, call.user.id, poll_id)
    if found is None:
        raise NotFound(N_("You have not answered this poll."))
    return JSONResponse(_answer_json(poll_id, *found))


_INT = {"type": "integer"}
_NINT = {"type": ["integer", "null"]}
_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_POLL = {
    "id": _INT,
    "title": _STR,
    "opens_at": _TIME,
    "closes_at": _TIME,
    "verified_only": {"type": "boolean"},
    "allow_change": {"type": "boolean"},
    "points": _INT,
    "image_url": {"type": ["string", "null"], "format": "uri"},
    "image_alt": _STR,
}


def _obj(props: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


_ANSWER_ITEM = _obj(
    {
        "options": {"type": "array", "items": _INT},
        "value": _NINT,
        "order": {"type": "array", "items": _INT},
        "other": _STR,
    }
)
SCHEMAS: dict[str, Any] = {
    "PollList": _obj({"items": {"type": "array", "items": _obj(_POLL)}}, "Open polls."),
    "PollForm": _obj(
        {
            **_POLL,
            "description": _STR,
            "can_answer": {"type": "boolean"},
            "refusal": {"type": ["string", "null"]},
            "answered": {"type": "boolean"},
            "questions": {
                "type": "array",
                "items": _obj(
                    {
                        "id": _INT,
                        "kind": {
                            "type": "string",
                            "enum": ["single", "multiple", "scale", "ranking"],
                        },
                        "text": _STR,
                        "required": {"type": "boolean"},
                        "max_choices": _NINT,
                        "scale_min": _NINT,
                        "scale_max": _NINT,
                        "allow_other": {"type": "boolean"},
                        "options": {"type": "array", "items": _obj({"id": _INT, "text": _STR})},
                    }
                ),
            },
        },
        "A poll's questions and whether the caller may answer.",
    ),
    "PollAnswer": _obj(
        {
            "poll_id": _INT,
            "saved_at": {"type": ["string", "null"], "format": "date-time"},
            "answers": {"type": "object", "additionalProperties": _ANSWER_ITEM},
        },
        "The caller's own answer, by question id.",
    ),
}
for _name, _schema in SCHEMAS.items():
    KERNEL_SCHEMAS.setdefault(_name, _schema)

POLL_ID = Param(
    "poll_id", "integer", "The poll's id.", location="path", not_found=N_("Poll not found.")
)
ANSWER_BODY = (
    Field(
        "answers",
        "string",
        'A JSON object: question id → {"options": [...]}, {"value": n} or {"order": [...]}, '
        'with "other" text where allowed.',
        max_length=ANSWERS_MAX,
    ),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET /polls", list_polls, "PollList", "polls"),
    Operation("GET /polls/{poll_id}", get_poll, "PollForm", "polls", params=(POLL_ID,)),
    Operation(
        "PUT /polls/{poll_id}/answer",
        put_answer,
        "PollAnswer",
        "polls",
        auth="required",
        params=(POLL_ID,),
        body=ANSWER_BODY,
        errors=(403, 409),
        bucket="vote",
    ),
    Operation(
        "GET /polls/{poll_id}/answer",
        get_answer,
        "PollAnswer",
        "polls",
        auth="required",
        params=(POLL_ID,),
    ),
)
