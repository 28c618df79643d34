"""Photo pages: an idea's photos (add, remove) and the media files themselves.

An upload is read with a byte cap (``BodySizeLimit`` stops the stream past
``VECHE_PHOTO_MAX_BYTES`` plus the form's small fields on this address, ``UPLOAD_PATH``), checked
and re-encoded off the event loop (``webapp.kernel.media``), then stored by one use-case. Any
refusal re-renders the photos form with the reason in the visitor's language and a 4xx status;
nothing is stored then.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from webapp.ideas import ideas as ideas_service
from webapp.ideas import photos as photos_service
from webapp.kernel.errors import N_, InvalidInput, NotFound, PayloadTooLarge
from webapp.kernel.media import MediaStore
from webapp.kernel.settings import Settings
from webapp.kernel.web import (
    current_user,
    db,
    decode_image,
    field_errors,
    flash,
    rate_limit,
    read_form,
    read_upload,
    redirect,
    render,
    require_user,
    translator,
)

# The address that takes uploads: BodySizeLimit lets it carry a photo (webapp/app.py).
UPLOAD_PATH = re.compile(r"^/ideas/[0-9]+/photos$")
FORM_OVERHEAD = 64 * 1024  # bytes of multipart framing and text fields besides the file
MEDIA_NAME = re.compile(r"^(?P<key>[0-9a-f]{64})(?P<thumb>-thumb)?\.jpg$")
MEDIA_CACHE = "public, max-age=31536000, immutable"  # a key names its bytes: they never change


def upload_limit(settings: Settings) -> int:
    """The most bytes a request to ``UPLOAD_PATH`` may carry."""
    return settings.photo_max_bytes + FORM_OVERHEAD


def media_store(request: Request) -> MediaStore:
    return MediaStore(request.app.state.settings.media_path)


async def _page(
    request: Request, idea_id: int, errors: dict[str, str], values: dict[str, str], status: int
) -> Response:
    user = await current_user(request)

    def load(session: Any) -> dict[str, Any]:
        idea = ideas_service.get_idea(session, idea_id, user)
        return {"idea": idea, "photos": photos_service.list_photos(session, idea_id)}

    ctx = await db(request, load)
    ctx.update(errors=errors, values=values)
    return await render(request, "ideas/photos.html", ctx, status)


async def photos_page(request: Request) -> Response:
    """GET: an idea's photos and, for its author or a moderator, the form; POST: add one."""
    idea_id = request.path_params["idea_id"]
    if request.method == "GET":
        return await _page(request, idea_id, {}, {}, 200)
    user = await require_user(request)
    settings = request.app.state.settings
    values: dict[str, str] = {}
    try:
        values, raw = await read_upload(request, "photo", settings.photo_max_bytes)
        await rate_limit(request, "photo", f"user:{user.id}")
        await db(request, photos_service.check_can_change, user, idea_id)
        alt = photos_service.clean_alt(values.get("alt"))
        if not raw:
            raise InvalidInput({"photo": (N_("Please choose a photo to send."), {})})
        image = await decode_image(request, raw, "photo")
        await db(
            request,
            photos_service.attach_photo,
            user,
            idea_id,
            image,
            alt,
            media_store(request),
            settings.photos_per_idea,
        )
    except InvalidInput as exc:
        errors = field_errors(request, exc) or {"photo": translator(request).gettext(exc.message)}
        return await _page(request, idea_id, errors, values, 422)
    except PayloadTooLarge as exc:
        message = translator(request).gettext(exc.message, **exc.params)
        return await _page(request, idea_id, {"photo": message}, values, 413)
    flash(request, N_("The photo is added."), "success")
    return redirect(request, "idea_photos", idea_id=idea_id)


async def remove_photo(request: Request) -> Response:
    user = await require_user(request)
    idea_id = request.path_params["idea_id"]
    await read_form(request)  # the CSRF token
    key = await db(
        request, photos_service.remove_photo, user, idea_id, request.path_params["photo_id"]
    )
    if key is not None:  # after the commit: the row is gone, so are its files
        media_store(request).discard(key)
    flash(request, N_("The photo is removed."), "success")
    return redirect(request, "idea_photos", idea_id=idea_id)


async def media(request: Request) -> Response:
    """A stored picture: long-cached (its name is its hash), never sniffed as anything else."""
    match = MEDIA_NAME.match(request.path_params["file"])
    if match is None:
        raise NotFound(N_("This page does not exist."))
    variant = "thumb" if match["thumb"] else "full"
    path = media_store(request).path(match["key"], variant)
    if not path.is_file():
        raise NotFound(N_("This page does not exist."))
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers={"cache-control": MEDIA_CACHE, "x-content-type-options": "nosniff"},
    )
