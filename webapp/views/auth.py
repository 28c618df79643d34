"""Register, log in, log out, choose the language."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.errors import Conflict, InvalidInput, invalid
from webapp.services import taxonomy
from webapp.services import users as users_service
from webapp.web import (
    client_ip,
    current_user,
    db,
    field_errors,
    flash,
    language,
    rate_limit,
    read_form,
    redirect,
    render,
    translator,
)


def _safe_next(target: str | None) -> str | None:
    """Only local paths: never redirect to another site after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _login_session(request: Request, user_id: int) -> None:
    lang = request.session.get("lang")
    request.session.clear()  # a fresh session (and CSRF token) after login: no fixation
    request.session["user_id"] = user_id
    if lang:
        request.session["lang"] = lang


async def register(request: Request) -> Response:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    status = 200
    settings = request.app.state.settings
    if request.method == "POST":
        values = await read_form(request)
        await rate_limit(request, "register", f"ip:{client_ip(request)}")
        try:
            user, existed = await db(
                request,
                users_service.register_or_log_in,
                email=values.get("email"),
                display_name=values.get("display_name"),
                password=values.get("password"),
                district_id=values.get("district_id"),
                password_min_length=settings.password_min_length,
                password_max_length=settings.password_max_length,
                locale=language(request),
            )
        except InvalidInput as exc:
            errors = field_errors(request, exc)
            status = 422
        except Conflict as exc:
            errors = {"email": translator(request).gettext(exc.message)}
            status = 409
        else:
            _login_session(request, user.id)
            if existed:  # the owner, who gave the account's password: just log in
                flash(
                    request,
                    "You already had an account with this e-mail; you are logged in.",
                    "success",
                )
            else:
                flash(request, "Welcome to Veche! Your account is ready.", "success")
            return redirect(request, "index")
        values.pop("password", None)
    districts = await db(request, taxonomy.list_districts)
    return await render(
        request,
        "auth/register.html",
        {"values": values, "errors": errors, "districts": districts},
        status,
    )


async def login(request: Request) -> Response:
    values: dict[str, Any] = {"next": _safe_next(request.query_params.get("next")) or ""}
    error = None
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        email = (form.get("email") or "").strip().lower()
        values = {"email": email, "next": _safe_next(form.get("next")) or ""}
        await rate_limit(request, "login", f"ip:{client_ip(request)}")
        await rate_limit(request, "login", f"email:{email}")
        user = await db(request, users_service.authenticate, email, form.get("password"))
        if user is None:
            # The same message whether the e-mail is unknown, the password wrong or the account blocked.
            error = translator(request).gettext("Wrong e-mail or password.")
            status = 401
        else:
            _login_session(request, user.id)
            if user.locale in request.app.state.settings.languages:
                request.session["lang"] = user.locale
            flash(request, "You are logged in.", "success")
            return RedirectResponse(
                values["next"] or request.app.url_path_for("index"), status_code=303
            )
    return await render(request, "auth/login.html", {"values": values, "error": error}, status)


async def logout(request: Request) -> Response:
    await read_form(request)
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    flash(request, "You are logged out.", "info")
    return redirect(request, "index")


async def set_language(request: Request) -> Response:
    form = await read_form(request)
    lang = form.get("lang", "")
    settings = request.app.state.settings
    if lang not in settings.languages:
        raise invalid("lang", "Unknown value.")
    request.session["lang"] = lang
    request.state.lang = lang
    user = await current_user(request)
    if user is not None:
        await db(request, users_service.set_locale, user.id, lang)
    target = _safe_next(form.get("next")) or str(request.app.url_path_for("index"))
    return RedirectResponse(target, status_code=303)
