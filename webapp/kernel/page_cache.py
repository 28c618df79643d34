"""A per-worker micro-cache of the ranked list pages anonymous visitors see.

Rendering a list page (20 cards with their "why no. N" explanations, the filters with 146
districts) costs 10–25 ms of CPU in Jinja; the page an anonymous visitor gets depends only on the
language, the query string and the worker's ranking snapshot. So such pages are kept for
``VECHE_PAGE_CACHE_SECONDS`` (default 1 s, the same bound as the workers' ranking poll) and
renewed as soon as the worker's snapshot moves past the cursor they were rendered at.

Under load a page must not expire for everybody at once: when 64 visitors ask for the same page
in the instant after it expired, rendering it 64 times over starves the worker (the first
benchmark of this cache saw a p99 of 0.9 s that way, at a p50 of 2 ms). So one request renders
a missing or expired page and the others do not wait for it: they get the previous page (at most
``ttl + STALE_GRACE`` seconds old) or, where there is none yet, the page that one request is
rendering.

What is per visitor in such a page is the CSRF token of the language and log-out forms: the page
is stored with a per-process random placeholder, and each hit substitutes the visitor's own
token. Signed-in visitors (their own votes on the cards), visitors with a pending message
(flash), the per-visitor ``random`` order and "by meaning" results are never cached.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

STALE_GRACE = 5.0  # seconds past the ttl an expired page may still be served while it is renewed


@dataclass(frozen=True)
class _Entry:
    version: int  # the ranking cursor the page was rendered at
    stored_at: float
    html: str


class PageCache:
    """At most ``max_entries`` pages, each served for ``ttl`` seconds; ``ttl <= 0`` disables it.

    Lives on the event loop (no locks): :meth:`page` is called from async handlers only.
    """

    def __init__(self, ttl: float, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.placeholder = "csrf-" + secrets.token_urlsafe(24)
        self._pages: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._renewing: dict[Hashable, asyncio.Future[str | None]] = {}
        self.hits = 0  # served fresh
        self.stale_hits = 0  # served the previous page while another request renewed it
        self.shared = 0  # waited for the first rendering another request was doing
        self.misses = 0  # rendered

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    async def page(
        self,
        key: Hashable,
        version: Callable[[], int],
        csrf_token: str,
        render: Callable[[], Awaitable[str]],
    ) -> str:
        """The page for ``key`` with the visitor's token in place.

        ``version()`` is the worker's ranking cursor; ``render()`` renders the page with
        :attr:`placeholder` as its token. Fresh: served as stored. Otherwise one request renders
        it; meanwhile the others get the previous page, or wait for that rendering.
        """
        now = time.monotonic()
        entry = self._pages.get(key)
        if entry is not None and entry.version == version() and now - entry.stored_at <= self.ttl:
            self._pages.move_to_end(key)
            self.hits += 1
            return entry.html.replace(self.placeholder, csrf_token)
        renewing = self._renewing.get(key)
        if renewing is not None:
            if entry is not None and now - entry.stored_at <= self.ttl + STALE_GRACE:
                self.stale_hits += 1
                return entry.html.replace(self.placeholder, csrf_token)
            html = await asyncio.shield(renewing)
            if html is not None:
                self.shared += 1
                return html.replace(self.placeholder, csrf_token)
            # that rendering failed: try for ourselves (and fail with our own error, if so)
            return await self.page(key, version, csrf_token, render)
        self.misses += 1
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._renewing[key] = future
        try:
            html = await render()
        except BaseException:
            future.set_result(None)
            raise
        finally:
            del self._renewing[key]
        self._put(key, version(), html)
        future.set_result(html)
        return html.replace(self.placeholder, csrf_token)

    def _put(self, key: Hashable, version: int, html: str) -> None:
        self._pages[key] = _Entry(version, time.monotonic(), html)
        self._pages.move_to_end(key)
        while len(self._pages) > self.max_entries:
            self._pages.popitem(last=False)

    def clear(self) -> None:
        self._pages.clear()
