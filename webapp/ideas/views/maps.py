"""Maps: the page of public ideas that have a place (optionally in one district), and the form
where an idea's author or a moderator puts it on the map."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.ideas import ideas as ideas_service
from webapp.ideas import photos, places
from webapp.kernel.errors import N_, InvalidInput
from webapp.kernel.web import (
    db,
    field_errors,
    flash,
    rate_limit,
    read_form,
    redirect,
    render,
    require_user,
)
from webapp.taxonomy import taxonomy


def _district(raw: str | None) -> int | None:
    try:
        number = int(raw or "")
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


async def map_page(request: Request) -> Response:
    district_id = _district(request.query_params.get("district"))

    def load(session: Any) -> dict[str, Any]:
        districts = taxonomy.list_districts(session)
        by_id = {d.id: d for d in districts}
        chosen = district_id if district_id in by_id else None
        return {
            "districts": districts,
            "district_by_id": by_id,
            "district_id": chosen,
            "ideas": places.placed_ideas(session, chosen),
        }

    return await render(request, "ideas/map.html", await db(request, load))


async def place_page(request: Request) -> Response:
    """The form with the idea's place, for its author or a moderator; POST saves it (``remove``
    takes the idea off the map)."""
    user = await require_user(request)
    idea_id = request.path_params["idea_id"]
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = await read_form(request)
        await rate_limit(request, "write", f"user:{user.id}")
        try:
            place = (
                None
                if "remove" in values
                else places.clean_place(values.get("latitude"), values.get("longitude"))
            )
            await db(request, places.set_place, user, idea_id, place)
        except InvalidInput as exc:
            errors, status = field_errors(request, exc), 422
        else:
            message = N_("The place is saved.") if place else N_("The place is removed.")
            flash(request, message, "success")
            return redirect(request, "idea", idea_id=idea_id)

    def load(session: Any) -> dict[str, Any]:
        photos.check_can_change(session, user, idea_id)  # NotFound, PermissionDenied
        idea = ideas_service.get_idea(session, idea_id, user)
        return {"idea": idea, "place": places.idea_place(session, idea_id)}

    ctx = await db(request, load)
    if request.method == "GET" and ctx["place"] is not None:
        values = {
            "latitude": f"{ctx['place'].latitude:.6f}",
            "longitude": f"{ctx['place'].longitude:.6f}",
        }
    ctx.update(values=values, errors=errors)
    return await render(request, "ideas/place.html", ctx, status)
