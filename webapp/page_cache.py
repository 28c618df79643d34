"""A per-worker micro-cache of the ranked list pages anonymous visitors see.

Rendering a list page (20 cards with their "why no. N" explanations, the filters with 146
districts) costs 10–25 ms of CPU in Jinja; the page an anonymous visitor gets depends only on the
language, the query string and the worker's ranking snapshot. So such pages are kept for
``VECHE_PAGE_CACHE_SECONDS`` (default 1 s, the same bound as the workers' ranking poll) and
dropped as soon as the worker's snapshot moves past the cursor they were rendered at.

What is per visitor in such a page is the CSRF token of the language and log-out forms: the page
is stored with a per-process random placeholder, and each hit substitutes the visitor's own
token. Signed-in visitors (their own votes on the cards), visitors with a pending message
(flash), the per-visitor ``random`` order and "by meaning" results are never cached.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Hashable


class PageCache:
    """At most ``max_entries`` pages, each served for ``ttl`` seconds; ``ttl <= 0`` disables it.

    Lives on the event loop (no locks): ``get`` and ``put`` are called from async handlers only.
    """

    def __init__(self, ttl: float, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.placeholder = "csrf-" + secrets.token_urlsafe(24)
        self._pages: OrderedDict[Hashable, tuple[float, str]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: Hashable, csrf_token: str) -> str | None:
        """The stored page with the visitor's token in place, or None (absent or expired)."""
        entry = self._pages.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            if entry is not None:
                del self._pages[key]
            self.misses += 1
            return None
        self._pages.move_to_end(key)
        self.hits += 1
        return entry[1].replace(self.placeholder, csrf_token)

    def put(self, key: Hashable, html: str) -> None:
        """Store a page rendered with :attr:`placeholder` as its CSRF token."""
        self._pages[key] = (time.monotonic(), html)
        self._pages.move_to_end(key)
        while len(self._pages) > self.max_entries:
            self._pages.popitem(last=False)

    def clear(self) -> None:
        self._pages.clear()
