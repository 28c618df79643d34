"""Residents' poll pages: the open polls for the visitor, a poll's form and the resident's own
answer, and the polls they answered. Nobody else's answer is shown anywhere."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.kernel.errors import N_, Conflict, InvalidInput, PermissionDenied
from webapp.kernel.routing import GET, POST
from webapp.kernel.security import can
from webapp.kernel.storage.models import utcnow
from webapp.kernel.web import (
    current_user,
    db,
    field_errors,
    flash,
    rate_limit,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.polls import answering, polls
from webapp.polls import results as results_service
from webapp.polls.answering import RawAnswer
from webapp.polls.polls import PollDetail


def _number(raw: str) -> int:
    """A number typed in the form; -1 (never an id or a valid place) when it is not one."""
    raw = raw.strip()
    return int(raw) if raw.lstrip("-").isdigit() and len(raw) < 10 else -1


def parse_answers(detail: PollDetail, form: dict[str, str]) -> dict[int, RawAnswer]:
    """The form's fields as answers: ``q<id>`` (the option of a single choice, "other", or the
    scale point), ``q<id>_o<option>`` (a ticked option), ``q<id>_r<option>`` (an option's
    place in a ranking) and ``q<id>_other`` (the free answer)."""
    answers: dict[int, RawAnswer] = {}
    for q in detail.questions:
        key = f"q{q.id}"
        main = form.get(key, "").strip()
        other = form.get(f"{key}_other", "")
        if q.kind == "single":
            chosen = () if main in ("", "other") else (_number(main),)
            answers[q.id] = RawAnswer(
                options=chosen, other=other if main == "other" or not main else ""
            )
        elif q.kind == "multiple":
            ticked = tuple(o.id for o in q.options if form.get(f"{key}_o{o.id}"))
            answers[q.id] = RawAnswer(options=ticked, other=other)
        elif q.kind == "scale":
            answers[q.id] = RawAnswer(value=_number(main) if main else None)
        else:
            places = {o.id: form.get(f"{key}_r{o.id}", "").strip() for o in q.options}
            if not any(places.values()):
                answers[q.id] = RawAnswer()
                continue
            ranks = {o: _number(p) if p else -1 for o, p in places.items()}
            if sorted(ranks.values()) != list(range(1, len(ranks) + 1)):
                answers[q.id] = RawAnswer(order=(-1,))
            else:
                answers[q.id] = RawAnswer(order=tuple(sorted(ranks, key=lambda o: ranks[o])))
    return answers


async def polls_page(request: Request) -> Response:
    """Open polls that ask the visitor, and closed polls with their results."""
    user = await current_user(request)

    def load(session: Any) -> dict[str, Any]:
        now = utcnow()
        return {
            "open_polls": polls.open_polls_for(session, user, now, limit=50),
            "closed_polls": polls.closed_polls(session, now),
        }

    return await render(request, "polls/list.html", await db(request, load))


async def _poll_page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    problem: str = "",
) -> Response:
    user = await current_user(request)
    staff = user is not None and can(user.role, "answer")
    page = await db(request, answering.answer_page, request.path_params["poll_id"], user, staff)
    tr = translator(request)
    return await render(
        request,
        "polls/poll.html",
        {
            "page": page,
            "detail": page.detail,
            "values": values or {},
            "errors": errors or {},
            "problem": problem,
            "refusal": tr.gettext(page.refusal) if page.refusal else "",
            "now": utcnow(),
        },
        status,
    )


async def poll_page(request: Request) -> Response:
    """A poll's questions as a form (for those it asks), and the resident's own answer."""
    return await _poll_page(request)


async def answer_poll(request: Request) -> Response:
    """Store the resident's answer to every question at once; nothing on any error."""
    user = await require_user(request)
    form = await read_form(request, max_fields=1000)
    await rate_limit(request, "vote", f"user:{user.id}")
    poll_id = request.path_params["poll_id"]
    detail = await db(request, polls.poll_detail, poll_id)
    try:
        saved = await db(request, answering.submit, user, poll_id, parse_answers(detail, form))
    except InvalidInput as exc:
        return await _poll_page(request, form, field_errors(request, exc), 422)
    except (Conflict, PermissionDenied) as exc:
        status = 409 if isinstance(exc, Conflict) else 403
        message = translator(request).gettext(exc.message, **exc.params)
        return await _poll_page(request, form, {}, status, problem=message)
    results_service.note_answer(
        poll_id
    )  # committed: this worker's results count it on their next read
    if saved.replaced:
        flash(request, N_("Your answer is changed."), "success")
    else:
        flash(request, N_("Thank you: your answer is saved."), "success")
    return redirect(request, "poll", poll_id=poll_id)


async def my_polls_page(request: Request) -> Response:
    """The polls the resident answered, and the points earned where the city gives them."""
    user = await require_user(request)
    items, points = await db(request, answering.my_polls, user.id)
    return await render(request, "polls/mine.html", {"items": items, "points": points})


ROUTES: list[BaseRoute] = [
    Route("/polls", polls_page, methods=GET, name="polls"),
    Route("/polls/mine", my_polls_page, methods=GET, name="polls_mine"),
    Route("/polls/{poll_id:id}", poll_page, methods=GET, name="poll"),
    Route("/polls/{poll_id:id}/answer", answer_poll, methods=POST, name="poll_answer"),
]
