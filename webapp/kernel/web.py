"""Request helpers shared by views: the current user, language, forms with CSRF, rendering."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, StreamingResponse

from webapp.i18n import Translator, pick_language
from webapp.kernel.dto import MAX_PAGE, CurrentUser
from webapp.kernel.errors import (
    N_,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
)
from webapp.kernel.hooks import hooks_of
from webapp.kernel.media import ImageRejected, ProcessedImage, process_image
from webapp.kernel.proxies import client_address
from webapp.kernel.ratelimit import RateLimiter
from webapp.kernel.security import can, csrf_matches, new_csrf_token
from webapp.kernel.storage import faults

T = TypeVar("T")
log = logging.getLogger("veche")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# The signed cookie holds a random session id (its SHA-256 is the user_sessions row) and, only
# as the key of per-user rate limits checked before the database, the account's id: who is
# signed in is always read from the row (webapp.accounts.sessions).
SESSION_ID = "sid"
SESSION_UID = "uid"


async def db(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(session, *args)`` in one transaction, off the event loop.

    On a GET or HEAD (safe, so idempotent) a transient database fault is retried on a fresh
    connection; a write is never retried blindly (``webapp.kernel.storage.faults.run_transaction``).
    """
    factory = request.app.state.session_factory
    safe = request.method in ("GET", "HEAD")

    def work() -> T:
        return faults.run_transaction(factory, fn, *args, idempotent=safe, **kwargs)

    return await anyio.to_thread.run_sync(work, limiter=_db_limiter(request))


def _db_limiter(request: Request) -> anyio.CapacityLimiter:
    """At most ``db_pool_size`` request transactions at once per worker: the rest wait on the
    event loop, not in threads holding (or opening) connections (webapp.kernel.storage.db)."""
    loop = asyncio.get_running_loop()
    state = request.app.state
    bound = getattr(state, "db_limiter", None)
    if bound is None or bound[0] is not loop:  # one per event loop (tests run several)
        bound = (loop, anyio.CapacityLimiter(state.settings.db_pool_size))
        state.db_limiter = bound
    return bound[1]


async def current_user(request: Request) -> CurrentUser | None:
    """The signed-in user (from the session cookie or an API token), or None.

    Who the caller is is decided by the accounts domain (``webapp.accounts.views.identity``,
    installed as ``hooks.identify``); the answer is kept on the request.
    """
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    user = await hooks_of(request.app.state).identify(request)
    request.state.user = user
    return user


def drop_session_id(request: Request) -> None:
    """Forget the signed-in session in this browser's cookie (language, CSRF token stay)."""
    request.session.pop(SESSION_ID, None)
    request.session.pop(SESSION_UID, None)


def page_number(raw: str | None) -> int:
    """A page number from the query or a form: 1 when missing or not a number, at most MAX_PAGE."""
    try:
        number = int(raw or 1)
    except ValueError:
        number = 1
    return min(max(1, number), MAX_PAGE)


async def require_user(request: Request, permission: str | None = None) -> CurrentUser:
    user = await current_user(request)
    if user is None:
        raise NotAuthenticated("Please log in first.")
    if permission is not None and not can(user.role, permission):
        raise PermissionDenied("You do not have permission to do this.")
    return user


def language(request: Request) -> str:
    if hasattr(request.state, "lang"):
        return request.state.lang  # type: ignore[no-any-return]
    settings = request.app.state.settings
    lang = pick_language(
        request.session.get("lang"),
        request.headers.get("accept-language"),
        settings.languages,
        settings.default_language,
    )
    request.state.lang = lang
    return lang


def translator(request: Request) -> Translator:
    return request.app.state.translators[language(request)]  # type: ignore[no-any-return]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, given: str | None) -> None:
    if getattr(request.state, "token_auth", False):
        return  # bearer tokens are not sent by browsers on their own: no CSRF risk
    if not csrf_matches(request.session.get("csrf"), given):
        raise PermissionDenied(
            "The form has expired or was sent from another site. Reload the page and try again."
        )


def _check_utf8(body: bytes, content_type: str) -> None:
    """Refuse a form that is not UTF-8 text, before it is parsed.

    Parsers do not refuse it: urlencoded values decode bad bytes to U+FFFD, and multipart
    fields fall back to Latin-1, which turns a form typed in cp1251 into plausible garbage
    ("Ïàðê") that would be stored. Every form here is text (no files), so its raw bytes and,
    for urlencoded forms, every percent-decoded value must be valid UTF-8.
    """
    try:
        text = body.decode("utf-8")
        if content_type.startswith("application/x-www-form-urlencoded"):
            urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise DomainError(  # 400: not a field to correct, the whole request is unreadable
            "The form holds text in an unknown encoding. Please type it again."
        ) from exc


async def read_form(request: Request, max_fields: int = 100) -> dict[str, str]:
    """Parse a submitted form, check its CSRF token, and return its text fields (at most
    ``max_fields``: a page that edits many rows at once asks for more)."""
    _check_utf8(await request.body(), request.headers.get("content-type", ""))
    try:
        form = await request.form(max_files=0, max_fields=max_fields)
    except Exception as exc:  # multipart errors, bad encodings
        raise InvalidInput(message=N_("The form could not be read.")) from exc
    data: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise InvalidInput(message=N_("Files cannot be uploaded here."))
        data.setdefault(key, value)
    check_csrf(request, data.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER))
    return data


UPLOAD_CHUNK = 64 * 1024
UPLOAD_TOO_LARGE = N_("The file is too large: the limit is %(limit)s MB.")
# Pictures decoded at once per worker, over every upload address: each may take ~160 MB, so this
# bounds memory, not only CPU.
IMAGE_DECODERS = 2


def megabytes(n: int) -> str:
    """A byte limit as a reader says it: whole megabytes, or two decimals below one."""
    return f"{n / 1_048_576:.0f}" if n >= 1_048_576 else f"{n / 1_048_576:.2f}"


async def read_upload(
    request: Request, file_field: str, max_bytes: int, *, max_fields: int = 100
) -> tuple[dict[str, str], bytes | None]:
    """A form with one file: its text fields (CSRF checked) and the bytes of ``file_field``.

    The file is read in chunks and dropped past ``max_bytes`` (``PayloadTooLarge``, after the
    CSRF check); other files are ignored. The bytes still have to go through the one image
    pipeline (``webapp.kernel.media.process_image``) before anything is stored.
    """
    try:
        form = await request.form(max_files=1, max_fields=max_fields, max_part_size=16 * 1024)
    except (MultiPartException, ValueError, KeyError, UnicodeError) as exc:
        raise InvalidInput(message=N_("The form could not be read.")) from exc
    fields: dict[str, str] = {}
    raw: bytes | None = None
    too_large = False
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != file_field or raw is not None:
                continue
            chunks: list[bytes] = []
            size = 0
            while chunk := await value.read(UPLOAD_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    too_large = True
                    break
                chunks.append(chunk)
            await value.close()
            raw = None if too_large else b"".join(chunks)
        else:
            fields.setdefault(name, value)
    await form.close()
    check_csrf(request, fields.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER))
    if too_large:
        raise PayloadTooLarge(UPLOAD_TOO_LARGE, limit=megabytes(max_bytes))
    return fields, raw


def image_decoders(request: Request) -> anyio.CapacityLimiter:
    """At most ``IMAGE_DECODERS`` pictures decoded at once per worker (one limiter per event
    loop: tests run several)."""
    loop = asyncio.get_running_loop()
    bound = getattr(request.app.state, "image_decoders", None)
    if bound is None or bound[0] is not loop:
        bound = (loop, anyio.CapacityLimiter(IMAGE_DECODERS))
        request.app.state.image_decoders = bound
    return bound[1]


async def decode_image(request: Request, raw: bytes, field: str) -> ProcessedImage:
    """An uploaded picture through the one media pipeline (decoded, re-encoded, metadata
    stripped) in a thread, at most ``IMAGE_DECODERS`` at once; a file that is not a usable
    picture is ``InvalidInput`` on ``field``, in the uploader's words."""
    settings = request.app.state.settings
    try:
        return await anyio.to_thread.run_sync(
            process_image, raw, settings.photo_max_pixels, limiter=image_decoders(request)
        )
    except ImageRejected as exc:
        raise InvalidInput({field: (exc.message, dict(exc.params))}) from exc


def field_errors(request: Request, exc: InvalidInput) -> dict[str, str]:
    """Per-field messages of a validation error, in the user's language."""
    tr = translator(request)
    return {name: tr.gettext(msg, **params) for name, (msg, params) in exc.errors.items()}


# What a limited visitor reads: guessing buckets speak of attempts, the others of requests.
RATE_LIMIT_MESSAGES = {
    "login": N_("Too many attempts. Please wait a minute and try again."),
    "register": N_("Too many attempts. Please wait a minute and try again."),
    "token": N_("Too many attempts. Please wait a minute and try again."),
}
RATE_LIMIT_DEFAULT_MESSAGE = N_("You are doing this too often. Please wait a minute and try again.")


async def rate_limit(request: Request, bucket: str, key: str) -> None:
    """Count a hit of ``key`` in ``bucket`` (webapp/kernel/ratelimit.py); RateLimited (429) when over."""
    limiter = request.app.state.limiters[bucket]
    if isinstance(limiter, RateLimiter):  # in-process: no I/O
        decision = limiter.check(key)
    else:  # Redis: one round trip, off the event loop
        decision = await run_in_threadpool(limiter.check, key)
    if not decision.allowed:
        error = RateLimited(RATE_LIMIT_MESSAGES.get(bucket, RATE_LIMIT_DEFAULT_MESSAGE))
        error.retry_after = decision.retry_after
        raise error


def client_ip(request: Request) -> str:
    """The client's IP address: the connecting peer, or behind a trusted proxy
    (VECHE_TRUSTED_PROXIES) the right-most X-Forwarded-For address that is not one
    (webapp/kernel/proxies.py)."""
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        request.app.state.settings.trusted_proxies,
    )


def flash(request: Request, message: str, kind: str = "info", **params: Any) -> None:
    request.session.setdefault("flash", []).append([kind, message, params])


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    tr = translator(request)
    raw = request.session.pop("flash", [])
    return [(kind, tr.gettext(msg, **params)) for kind, msg, params in raw]


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def redirect(
    request: Request, name: str, status: int = 303, query: str = "", **params: Any
) -> RedirectResponse:
    url = str(request.app.url_path_for(name, **params))
    return RedirectResponse(url + (f"?{query}" if query else ""), status_code=status)


async def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render a page in the visitor's language with the common context."""
    lang = language(request)
    env = request.app.state.jinja[lang]
    user = await current_user(request)
    ctx = {
        "request": request,
        "user": user,
        "lang": lang,
        "t": request.app.state.translators[lang],
        "settings": request.app.state.settings,
        "csrf_token": csrf_token(request),
        "flashes": pop_flashes(request),
        "url_with": lambda **c: url_with(request, **c),
        "can": lambda perm: user is not None and can(user.role, perm),
    }
    ctx.update(context or {})
    if "unread_notifications" not in ctx:
        # what installed domains add to every full page for a signed-in visitor (the nav badge:
        # one indexed COUNT, webapp.notifications.install); nothing on fragments
        ctx["unread_notifications"] = 0
        full_page = not template.rsplit("/", 1)[-1].startswith("_")
        extras = hooks_of(request.app.state)
        if user is not None and full_page and extras.page_context:
            ctx.update(await db(request, extras.page_extras, user))
    html = env.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status)


def csv_download(
    request: Request, rows: Callable[[], Iterable[Sequence[object]]], name: str
) -> StreamingResponse:
    """Stream ``rows()`` as a CSV attachment ``veche-<name>-<local time>.csv`` for Excel.

    The dialect Excel opens in columns on a Russian (or any) Windows without the import wizard:
    a UTF-8 BOM first (so that it reads UTF-8), ``;`` between cells (``,`` is the decimal
    separator where Russian is the system language, so Excel splits on ``;`` there; the
    ``sep=`` line that would force it breaks the BOM, so it is not written), CRLF line ends and
    every cell quoted when it holds ``;``, a quote or a line break. Cells are written as given:
    callers format numbers and dates the way the reader's Excel reads them.
    Rows go out in chunks of 200; ``rows`` is called when the body is sent, so it may open its
    own transaction.
    """

    def chunks() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        yield "\ufeff".encode()
        for n, row in enumerate(rows(), 1):
            writer.writerow(row)
            if n % 200 == 0:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue().encode()

    stamp = datetime.now(translator(request).tz).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="veche-{name}-{stamp}.csv"',
            "cache-control": "no-store",
        },
    )
