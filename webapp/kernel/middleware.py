"""Pure ASGI middleware: body size limit and security headers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.i18n import Translator

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """The security headers on every answer, and ``Cache-Control: no-store`` on every answer to
    a signed-in caller (a page, a JSON answer, /api/v1/me with its CSRF token): no browser, proxy
    or back button keeps a copy of personal pages. ``webapp.kernel.web.current_user`` leaves the caller
    in the request's state; anonymous answers (and their micro-cache) are unchanged."""

    def __init__(self, app: ASGIApp, hsts: bool = False, img_sources: str = "") -> None:
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if img_sources:  # e.g. the map tiles' origin (VECHE_MAP_TILE_URL)
            csp = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {img_sources}")
            self.headers[0] = (b"content-security-policy", csp.encode())
        if hsts:
            self.headers.append(
                (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        state = scope.setdefault("state", {})  # the dict request.state writes into

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if state.get("user") is not None:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                names = {k.lower() for k, _ in headers}
                message["headers"] = headers + [(k, v) for k, v in self.headers if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answer 413 when a request body exceeds ``max_bytes`` (by header or while streaming).

    ``path_limits`` gives some addresses (a full-match regex of the path) their own limit, e.g.
    the photo upload (webapp/ideas/views/photos.py).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        translators: Mapping[str, Translator],
        path_limits: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.translators = translators
        self.path_limits = tuple(path_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((n for rx, n in self.path_limits if rx.fullmatch(path)), self.max_bytes)
        if limit != self.max_bytes:
            await BodySizeLimit(self.app, limit, self.translators)(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(scope, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        tr = self.translators.get(_language_from_scope(scope)) or next(
            iter(self.translators.values())
        )
        text = tr.gettext(
            "The request is too large (the limit is %(limit)s bytes).", limit=self.max_bytes
        )
        is_api = scope.get("path", "").startswith("/api/")
        body = (
            json.dumps({"error": {"status": 413, "message": text}}).encode()
            if is_api
            else f"<!doctype html><title>413</title><h1>413</h1><p>{text}</p>".encode()
        )
        ctype = b"application/json" if is_api else b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _language_from_scope(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            return str(value[:2].decode("latin-1").lower())
    return ""
