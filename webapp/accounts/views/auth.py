"""Register, log in, log out, choose the language."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webapp.accounts import account_mail, login_audit, registration
from webapp.accounts import sessions as sessions_service
from webapp.accounts import users as users_service
from webapp.accounts.sessions import hash_sid
from webapp.accounts.views import login_throttle
from webapp.accounts.views.identity import session_policy
from webapp.kernel.errors import Conflict, InvalidInput, invalid
from webapp.kernel.web import (
    SESSION_ID,
    SESSION_UID,
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
from webapp.taxonomy import taxonomy


def _safe_next(target: str | None) -> str | None:
    """Only local paths: never redirect to another site after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


async def start_session(request: Request, user_id: int, *, event: str | None = None) -> None:
    """Sign ``user_id`` in on this browser: a new server-side session (webapp.accounts.sessions)
    and a fresh cookie (and CSRF token) that holds only its random id: no fixation. ``event``
    (e.g. 'login') is recorded in the login audit in the same transaction."""
    sid = await db(
        request,
        sessions_service.create,
        user_id,
        session_policy(request),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        event=event,
    )
    lang = request.session.get("lang")
    request.session.clear()
    request.session[SESSION_ID] = sid
    request.session[SESSION_UID] = user_id
    if lang:
        request.session["lang"] = lang
    for name in ("user", "session_id"):  # anything read about the previous visitor
        if hasattr(request.state, name):
            delattr(request.state, name)


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
        "accounts/register.html",
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
    """Registration on a site that sends no e-mail: a free address's account works at once.

    A taken address is refused (Conflict, 409) with a message that names no account, after the
    same argon2 work; the password typed is never checked against the account, so registering
    is never a way to log in (around the login's per-address limit). README.md, "Passwords and
    accounts", says what this does and does not hide.
    """
    user = await db(request, users_service.register, **_account_fields(request, values))
    await start_session(request, user.id)
    flash(request, "Welcome to Veche! Your account is ready.", "success")
    return redirect(request, "index")


async def _register_by_email(request: Request, values: dict[str, str]) -> Response:
    """Registration on a site that sends e-mail: every valid form gets the same answer.

    A free address gets a pending registration and a link, an address with an account gets a
    note to its owner, an address over the cap of pending registrations gets nothing; any mail
    is sent after the answer has gone out, so neither its text, its status nor its timing says
    which (webapp.accounts.registration).
    """
    mail = await db(request, registration.register_pending, **_account_fields(request, values))
    request.session["registered_email"] = users_service.normalise_email(values.get("email", ""))
    response = redirect(request, "register_sent")
    response.background = BackgroundTask(account_mail.send, request.app.state.mailer, mail)
    return response


async def register_sent(request: Request) -> Response:
    """ "Check your e-mail", after a registration on a site that sends e-mail."""
    email = request.session.get("registered_email")
    if not isinstance(email, str):
        return redirect(request, "register")
    return await render(
        request,
        "accounts/register_sent.html",
        {"email": email, "hours": account_mail.CONFIRM_HOURS},
    )


async def confirm_email(request: Request) -> Response:
    """The link of a registration e-mail.

    GET changes nothing and signs nobody in: it asks for the password chosen at registration.
    POST (with CSRF) creates the account when that password is the registration's own
    (webapp.accounts.registration.confirm), then signs it in. Attempts count in the ``login``
    bucket per IP address and per link.
    """
    token = request.path_params["token"]
    if request.method == "POST":
        form = await read_form(request)
        await rate_limit(request, "login", f"confirm:{registration.token_digest(token)}")
        pending = await db(request, registration.pending_email, token)
        if pending is None:
            return await _confirm_page(request, "invalid", status=400)
        # a password is checked here: it spends the address's one budget of guesses, shared
        # with the login form and the API's tokens (webapp.accounts.views.login_throttle), and the IP's
        await login_throttle.guard(request, pending, bucket="login")
        try:
            done = await db(
                request,
                registration.confirm,
                token,
                form.get("password"),
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
        except registration.InvalidLink:
            return await _confirm_page(request, "invalid", status=400)
        except IntegrityError:  # the address got an account this very moment (another way)
            email = await db(request, registration.pending_email, token)
            return await _confirm_page(request, "taken", email=email or "", status=409)
        except InvalidInput as exc:
            email = await db(request, registration.pending_email, token)
            if email is None:  # expired or used in the meantime
                return await _confirm_page(request, "invalid", status=400)
            return await _confirm_page(
                request,
                "form",
                token=token,
                email=email,
                errors=field_errors(request, exc),
                status=422,
            )
        await login_throttle.result(request, pending, True)
        if done.user is None:
            return await _confirm_page(request, "taken", email=done.email, status=409)
        await start_session(request, done.user.id)
        if done.user.locale in request.app.state.settings.languages:
            request.session["lang"] = done.user.locale
        flash(request, "Your e-mail address is confirmed. Welcome to Veche!", "success")
        return redirect(request, "index")
    email = await db(request, registration.pending_email, token)
    if email is None:
        return await _confirm_page(request, "invalid", status=400)
    return await _confirm_page(request, "form", token=token, email=email)


async def _confirm_page(
    request: Request,
    state: str,
    *,
    token: str = "",
    email: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """auth/confirm.html: ``state`` 'form' (ask for the password), 'invalid' (no such link),
    'taken' (the address got an account meanwhile). Never cached: the address holds a token."""
    response = await render(
        request,
        "accounts/confirm.html",
        {
            "state": state,
            "token": token,
            "email": email,
            "errors": errors or {},
            "invalid_message": registration.INVALID_LINK_MESSAGE,
        },
        status,
    )
    response.headers["cache-control"] = "no-store"
    return response


async def login(request: Request) -> Response:
    values: dict[str, Any] = {"next": _safe_next(request.query_params.get("next")) or ""}
    error = None
    status = 200
    if request.method == "POST":
        form = await read_form(request)
        # capped before anything else looks at it: no address is longer (login_throttle)
        email = (form.get("email") or "")[: login_throttle.EMAIL_MAX].strip().lower()
        values = {"email": email, "next": _safe_next(form.get("next")) or ""}
        # the account's and the address's budget of failures, and the per-IP flood brake
        await login_throttle.guard(request, email, bucket="login")
        user = await db(request, users_service.authenticate, email, form.get("password"))
        if user is None:
            # The same message whether the e-mail is unknown, the password wrong or the
            # account blocked.
            await db(
                request,
                login_audit.record_for_address,
                email,
                "login_failed",
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
            error, status = translator(request).gettext("Wrong e-mail or password."), 401
        else:
            await login_throttle.result(request, email, True, user.id)
            await start_session(request, user.id, event="login")
            if user.locale in request.app.state.settings.languages:
                request.session["lang"] = user.locale
            flash(request, "You are logged in.", "success")
            response = RedirectResponse(
                values["next"] or request.app.url_path_for("index"), status_code=303
            )
            login_throttle.remember_device(request, response, email)
            return response
    return await render(request, "accounts/login.html", {"values": values, "error": error}, status)


async def logout(request: Request) -> Response:
    """End this browser's session: its row is deleted, so a copy of the cookie is worth nothing."""
    await read_form(request)
    sid = request.session.get(SESSION_ID)
    if isinstance(sid, str):
        await db(
            request,
            sessions_service.end,
            hash_sid(sid),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
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
