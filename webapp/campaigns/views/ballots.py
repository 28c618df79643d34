"""The budget ballot page: one section per pot the voter may vote in; save, check, withdraw.

Works without JavaScript: "Check" recomputes the budget bar on the server without saving;
``static/ballot.js`` updates the bar and the counter as boxes are ticked. Saving replaces the
voter's previous ballot in that pot; ticking nothing and saving withdraws it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.campaigns import ballots
from webapp.kernel.errors import DomainError, InvalidInput
from webapp.kernel.routing import BOTH
from webapp.kernel.web import (
    db,
    flash,
    rate_limit,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)
from webapp.taxonomy import taxonomy

MAX_FIELDS = 2_000  # a ballot may list many ideas; each ticked box is one field


def message(request: Request, exc: DomainError) -> str:
    """A refusal in the reader's language, its numbers written the language's way."""
    tr = translator(request)
    if isinstance(exc, InvalidInput) and exc.errors:
        text, params = next(iter(exc.errors.values()))
    else:
        text, params = exc.message, exc.params
    shown = {
        k: tr.number(v) if isinstance(v, int) and not isinstance(v, bool) and k != "id" else v
        for k, v in params.items()
    }
    return tr.gettext(text, **shown)


_ID = re.compile(r"^[0-9]{1,10}$")


def _ids(values: list[str]) -> list[int] | None:
    """Ids from form values (ASCII digits only); None when any value is not one."""
    out = []
    for v in values:
        v = v.strip()
        if not _ID.match(v):
            return None
        out.append(int(v))
    return out


async def ballot(request: Request) -> Response:
    """The voter's ballot (GET) and its save or check (POST, CSRF)."""
    user = await require_user(request)
    project_id = request.path_params["project_id"]
    selection: dict[int, frozenset[int]] = {}
    pot_errors: dict[int, str] = {}
    checked: set[int] = set()
    status = 200
    if request.method == "POST":
        form = await read_form(request, max_fields=MAX_FIELDS)
        await rate_limit(request, "vote", f"user:{user.id}")
        raw = await request.form()  # parsed once by read_form: every ticked box, not the first
        pot_ids = _ids([form.get("pot", "")])
        idea_ids = _ids([str(v) for v in raw.getlist("idea")])
        pot_id = pot_ids[0] if pot_ids else None
        check_only = form.get("action") == "check"
        if idea_ids is None:
            idea_ids = []
            error: DomainError | None = InvalidInput({"ideas": ("Choose ideas from the list.", {})})
        else:
            error = None
        if error is None:
            try:
                if check_only:
                    await db(request, ballots.validate, user, project_id, pot_id, idea_ids)
                else:
                    await db(request, ballots.cast, user, project_id, pot_id, idea_ids)
            except DomainError as exc:
                if not isinstance(exc, InvalidInput) and exc.status not in (403, 409):
                    raise
                error = exc
        if error is None and not check_only:
            if idea_ids:
                flash(
                    request,
                    "Your ballot is saved. You can change it until voting closes.",
                    "success",
                )
            else:
                flash(request, "Your ballot is withdrawn.", "info")
            return redirect(request, "project_ballot", project_id=project_id)
        if pot_id is not None:
            selection[pot_id] = frozenset(idea_ids)
            checked.add(pot_id)
            if error is not None:
                pot_errors[pot_id] = message(request, error)
        if error is not None:
            status = error.status if not isinstance(error, InvalidInput) else 422
            if pot_id is None:
                pot_errors[0] = message(request, error)

    def load(session: Session) -> dict[str, Any]:
        page = ballots.ballot_page(session, user, project_id)
        return {"page": page, "district_by_id": {d.id: d for d in taxonomy.list_districts(session)}}

    ctx = await db(request, load)
    page: ballots.BallotPage = ctx["page"]
    sections = []
    for s in page.pots:
        chosen = selection.get(s.pot.id, s.chosen)
        total = sum(i.cost for i in s.ideas if i.id in chosen)
        sections.append({"s": s, "chosen": chosen, "total": total, "checked": s.pot.id in checked})
    closed = None
    if page.closed_message is not None:
        closed = translator(request).gettext(page.closed_message[0], **page.closed_message[1])
    ctx.update(sections=sections, pot_errors=pot_errors, closed=closed)
    return await render(request, "campaigns/ballot.html", ctx, status)


ROUTES: list[BaseRoute] = [
    Route("/projects/{project_id:id}/ballot", ballot, methods=BOTH, name="project_ballot"),
]
