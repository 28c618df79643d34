"""Who is calling: the session cookie or an API token, resolved to an account (hooks.identify).

Installed into the kernel's hooks by ``webapp.accounts.install``; every view reads the result
through ``webapp.kernel.web.current_user``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from webapp.accounts import api_tokens
from webapp.accounts import sessions as sessions_service
from webapp.accounts.sessions import hash_sid
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage import faults
from webapp.kernel.web import SESSION_ID, client_ip, db, drop_session_id

log = logging.getLogger("veche")


async def identify(request: Request) -> CurrentUser | None:
    """The signed-in user (from the session cookie or an API token), or None."""
    user: CurrentUser | None = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        stale = False
        if token:
            user, stale = await db(request, api_tokens.user_for_token, token)
        if user is not None and stale:
            await _touch_token(request, token)
        request.state.token_auth = user is not None
    elif isinstance(sid := request.session.get(SESSION_ID), str):
        found = await db(request, sessions_service.resolve, hash_sid(sid), session_policy(request))
        user = found.user
        if user is None:  # ended, expired, or the account blocked: anonymous from now on
            drop_session_id(request)
            if found.session_id is not None:
                await _session_write(request, sessions_service.drop, found.session_id)
        else:
            request.state.session_id = found.session_id
            if found.stale:
                await _session_write(
                    request, sessions_service.touch, found.session_id, client_ip(request)
                )
    return user


def session_policy(request: Request) -> sessions_service.Policy:
    """The session timeouts of this app's settings (webapp.accounts.sessions)."""
    policy: sessions_service.Policy | None = getattr(request.app.state, "session_policy", None)
    if policy is None:
        policy = sessions_service.Policy.of(request.app.state.settings)
        request.app.state.session_policy = policy
    return policy


async def _session_write(request: Request, fn: Callable[..., Any], *args: Any) -> None:
    """Record a session's use or delete an expired one: best effort, like :func:`_touch_token`
    (a full disk or a read-only database must not fail a read)."""
    try:
        await db(request, fn, *args)
    except SQLAlchemyError as exc:
        if faults.classify(exc) is None:
            raise
        log.warning("could not update a session: %s", str(exc).splitlines()[0])


async def _touch_token(request: Request, token: str) -> None:
    """Record a token's use; best effort, so a full disk or a database hiccup fails no read."""
    try:
        await db(request, api_tokens.touch_token, token)
    except SQLAlchemyError as exc:
        if faults.classify(exc) is None:
            raise
        log.warning("could not record the use of an API token: %s", str(exc).splitlines()[0])
