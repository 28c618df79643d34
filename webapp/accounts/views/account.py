"""The account security page: where you are signed in, your password, your login history."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.accounts import login_events
from webapp.accounts import sessions as sessions_service
from webapp.accounts.views import auth
from webapp.accounts.views.identity import session_policy
from webapp.kernel.dto import CurrentUser, Page
from webapp.kernel.errors import N_, InvalidInput, PermissionDenied
from webapp.kernel.web import (
    SESSION_ID,
    SESSION_UID,
    client_ip,
    db,
    drop_session_id,
    field_errors,
    flash,
    page_number,
    rate_limit,
    read_form,
    redirect,
    render,
    require_user,
    translator,
)

HISTORY_PAGE_SIZE = 20

# Each login event in plain words (the owner's history and the admin page).
EVENT_LABELS = {
    "login": N_("Logged in"),
    "login_failed": N_("Failed login: wrong e-mail or password"),
    "login_throttled": N_("Login refused: too many attempts"),
    "logout": N_("Logged out"),
    "logout_everywhere": N_("Logged out on all devices"),
    "session_revoked": N_("Signed out another device"),
    "sessions_ended": N_("Signed out on all devices"),
    "password_changed": N_("Password changed"),
    "registration_confirmed": N_("Account created"),
    "token_created": N_("Access key for apps created"),
    "token_revoked": N_("Access key for apps revoked"),
}
# Why sessions were ended ("sessions_ended" events).
REASON_LABELS = {
    "password": N_("because the password was changed"),
    "role": N_("because the account's role was changed"),
    "blocked": N_("because the account was blocked"),
}

_BROWSERS = (  # the first match wins: Edge and Opera also say "Chrome", Chrome also "Safari"
    (re.compile(r"YaBrowser/"), "Yandex Browser"),
    (re.compile(r"Edg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"SamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Version/[\d.]+.*Safari/"), "Safari"),
)
_SYSTEMS = (
    (re.compile(r"Android"), "Android"),
    (re.compile(r"iPhone"), "iPhone"),
    (re.compile(r"iPad"), "iPad"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Macintosh|Mac OS X"), "macOS"),
    (re.compile(r"Linux"), "Linux"),
)


def describe_device(request: Request, user_agent: str) -> str:
    """'Chrome on Android', from a User-Agent header, in the visitor's language."""
    tr = translator(request)
    browser = next((name for rx, name in _BROWSERS if rx.search(user_agent)), None)
    system = next((name for rx, name in _SYSTEMS if rx.search(user_agent)), None)
    if browser and system:
        return tr.gettext("%(browser)s on %(system)s", browser=browser, system=system)
    if browser or system:
        return browser or system or ""
    if user_agent:
        return tr.gettext("A program or unknown browser")
    return tr.gettext("Unknown device")


def event_label(request: Request, kind: str, details: dict[str, Any]) -> str:
    tr = translator(request)
    label = tr.gettext(EVENT_LABELS.get(kind, kind))
    reason = details.get("reason")
    if kind == "logout_everywhere" and details.get("kept_this_device"):
        label = tr.gettext("Logged out on all other devices")
    if kind == "sessions_ended" and reason in REASON_LABELS:
        label = f"{label} {tr.gettext(REASON_LABELS[reason])}"
    return label


async def _session_user(request: Request) -> CurrentUser:
    """The signed-in user of a browser session: these pages are not for API tokens (a leaked
    token must not be able to change the password or sign its owner out)."""
    user = await require_user(request)
    if getattr(request.state, "token_auth", False):
        raise PermissionDenied("This page works only in a browser where you are logged in.")
    return user


async def security(request: Request, errors: dict[str, str] | None = None) -> Response:
    """GET /account/security."""
    user = await _session_user(request)
    current_id = getattr(request.state, "session_id", None)
    number = page_number(request.query_params.get("page"))
    policy = session_policy(request)

    def load(session: Any) -> dict[str, Any]:
        active, total = sessions_service.list_active(session, user.id, policy, current_id)
        events, count = login_events.list_events(
            session,
            user_id=user.id,
            limit=HISTORY_PAGE_SIZE,
            offset=(number - 1) * HISTORY_PAGE_SIZE,
        )
        return {
            "sessions": active,
            "sessions_total": total,
            "history": Page(events, number, HISTORY_PAGE_SIZE, count),
        }

    ctx = await db(request, load)
    ctx.update(
        tokens_url=str(request.app.url_path_for("account_tokens")),
        errors=errors or {},
        device=lambda ua: describe_device(request, ua),
        event_label=lambda e: event_label(request, e.kind, e.details),
        others=ctx["sessions_total"] - (1 if any(s.current for s in ctx["sessions"]) else 0),
    )
    return await render(request, "accounts/security.html", ctx, 422 if errors else 200)


def _ua(request: Request) -> str:
    return request.headers.get("user-agent", "")


async def change_password(request: Request) -> Response:
    """POST /account/password: the current password and a new one; every other session ends and
    this browser gets a new one."""
    user = await _session_user(request)
    form = await read_form(request)
    await rate_limit(request, "login", f"password:{user.id}")
    settings = request.app.state.settings
    try:
        sid = await db(
            request,
            sessions_service.change_password,
            user.id,
            form.get("current_password"),
            form.get("password"),
            session_policy(request),
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
            ip=client_ip(request),
            user_agent=_ua(request),
        )
    except InvalidInput as exc:
        return await security(request, errors=field_errors(request, exc))
    request.session[SESSION_ID] = sid
    request.session[SESSION_UID] = user.id
    flash(
        request,
        "Your password is changed. You are now logged out on every other device.",
        "success",
    )
    return redirect(request, "account_security")


async def end_session(request: Request) -> Response:
    """POST /account/sessions/{session_id}/end: sign out one other device (404: not yours)."""
    user = await _session_user(request)
    await read_form(request)
    session_id = request.path_params["session_id"]
    if session_id == getattr(request.state, "session_id", None):
        return await logout_here(request)
    await db(
        request,
        sessions_service.revoke,
        user.id,
        session_id,
        ip=client_ip(request),
        user_agent=_ua(request),
    )
    flash(request, "That device is logged out.", "success")
    return redirect(request, "account_security")


async def logout_here(request: Request) -> Response:
    """The header's "Log out" (it checks CSRF itself)."""
    return await auth.logout(request)


async def end_other_sessions(request: Request) -> Response:
    """POST /account/sessions/end-others: sign out every device but this one."""
    user = await _session_user(request)
    await read_form(request)
    ended = await db(
        request,
        sessions_service.end_all_and_record,
        user.id,
        "logout_everywhere",
        except_id=getattr(request.state, "session_id", None),
        ip=client_ip(request),
        user_agent=_ua(request),
        kept_this_device=True,
    )
    flash(request, "Other devices logged out: %(num)s.", "success", num=ended)
    return redirect(request, "account_security")


async def logout_everywhere(request: Request) -> Response:
    """POST /account/logout-everywhere: end every session, this browser's too."""
    user = await _session_user(request)
    await read_form(request)
    await db(
        request,
        sessions_service.end_all_and_record,
        user.id,
        "logout_everywhere",
        ip=client_ip(request),
        user_agent=_ua(request),
    )
    drop_session_id(request)
    request.state.user = None
    flash(request, "You are logged out on all devices.", "info")
    return redirect(request, "index")
