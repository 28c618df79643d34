"""Register, log in, log out, choose the language."""

from __future__ import annotations

from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.errors import Conflict, DomainError, InvalidInput, NotConfirmed, invalid
from webapp.services import account_mail, taxonomy
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


async def start_session(request: Request, user_id: int) -> None:
    """Sign ``user_id`` in on this browser (a fresh session: no fixation)."""
    lang = request.session.get("lang")
    request.session.clear()  # a fresh session (and CSRF token) after login: no fixation
    request.session["user_id"] = user_id
    if lang:
        request.session["lang"] = lang


async def register(request: Request) -> Response:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = await read_form(request)
        await rate_limit(request, "register", f"ip:{client_ip(request)}")
        try:
            if request.app.state.settings.email_enabled:
                return await _register_by_email(request, values)
            return await _register_at_once(request, values)
        except InvalidInput as exc:
            errors, status = field_errors(request, exc), 422
        except Conflict as exc:
            errors, status = {"email": translator(request).gettext(exc.message)}, 409
        values.pop("password", None)
    districts = await db(request, taxonomy.list_districts)
    return await render(
        request,
        "auth/register.html",
        {"values": values, "errors": errors, "districts": districts},
        status,
    )


def _account_fields(request: Request, values: dict[str, str]) -> dict[str, Any]:
    """The registration form as the account services take it."""
    settings = request.app.state.settings
    return {
        "email": values.get("email"),
        "display_name": values.get("display_name"),
        "password": values.get("password"),
        "district_id": values.get("district_id"),
        "password_min_length": settings.password_min_length,
        "password_max_length": settings.password_max_length,
        "locale": language(request),
    }


async def _register_at_once(request: Request, values: dict[str, str]) -> Response:
    """Registration on a site that sends no e-mail: the account works at once.

    Without a mailbox to prove, a taken address cannot get the same answer as a free one (the
    free one is logged in): README.md, "Passwords and accounts", says what this does and does
    not hide.
    """
    user, existed = await db(
        request, users_service.register_or_log_in, **_account_fields(request, values)
    )
    await start_session(request, user.id)
    if existed:  # the owner, who gave the account's password: just log in
        flash(request, "You already had an account with this e-mail; you are logged in.", "success")
    else:
        flash(request, "Welcome to Veche! Your account is ready.", "success")
    return redirect(request, "index")


async def _register_by_email(request: Request, values: dict[str, str]) -> Response:
    """Registration on a site that sends e-mail: every valid form gets the same answer.

    A new (or still unconfirmed) address gets a confirmation link, an address with an account
    gets a note to its owner; both are sent after the answer has gone out, so neither its text,
    its status nor its timing says whether the address was known.
    """
    settings = request.app.state.settings
    mail = await db(request, users_service.register_pending, **_account_fields(request, values))
    request.session["registered_email"] = mail.email
    response = redirect(request, "register_sent")
    response.background = BackgroundTask(
        account_mail.send, request.app.state.mailer, mail, settings.secret_key
    )
    return response


async def register_sent(request: Request) -> Response:
    """"Check your e-mail", after a registration on a site that sends e-mail."""
    email = request.session.get("registered_email")
    if not isinstance(email, str):
        return redirect(request, "register")
    return await render(
        request, "auth/register_sent.html", {"email": email, "hours": account_mail.CONFIRM_HOURS}
    )


async def confirm_email(request: Request) -> Response:
    """The link of a confirmation e-mail: activates the account and logs it in."""
    found = account_mail.read_confirm_token(
        request.app.state.settings.secret_key, request.path_params["token"]
    )
    user = await db(request, users_service.confirm_email, *found) if found else None
    if user is None:
        raise DomainError(  # 400
            "This confirmation link is invalid or has expired. Register again to get a new one."
        )
    await start_session(request, user.id)
    if user.locale in request.app.state.settings.languages:
        request.session["lang"] = user.locale
    flash(request, "Your e-mail address is confirmed. Welcome to Veche!", "success")
    return redirect(request, "index")


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
        try:
            user = await db(request, users_service.authenticate, email, form.get("password"))
        except NotConfirmed as exc:  # the right password: only its owner learns this
            error, status = translator(request).gettext(exc.message), 403
        else:
            if user is None:
                # The same message whether the e-mail is unknown, the password wrong or the
                # account blocked.
                error, status = translator(request).gettext("Wrong e-mail or password."), 401
            else:
                await start_session(request, user.id)
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
