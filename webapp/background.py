"""Background work of a worker process: keep the ranking current, flush recorded views."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from webapp.services.exposure import flush_views as store_views
from webapp.storage.db import transaction

log = logging.getLogger("veche.background")


def flush_views(app: Starlette) -> int:
    """Write the buffered (idea, viewer) pairs in one transaction; returns new viewers stored."""
    pairs = app.state.views.drain()
    if not pairs:
        return 0
    with transaction(app.state.session_factory) as session:
        return sum(store_views(session, pairs).values())


async def keep_current(app: Starlette, stop: asyncio.Event) -> None:
    """Poll the ranking event log every VECHE_RANKING_POLL_SECONDS; flush views periodically.

    Ends when ``stop`` is set, after the work in progress: no thread outlives the app.
    """
    settings = app.state.settings
    last_flush = time.monotonic()
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.ranking_poll_seconds)
            return
        except TimeoutError:
            pass
        try:
            if time.monotonic() - last_flush >= settings.view_flush_seconds:
                last_flush = time.monotonic()
                await run_in_threadpool(flush_views, app)
            await run_in_threadpool(app.state.ranking.poll)
        except Exception:  # the database may be restarting: log, keep serving, retry next tick
            log.exception("background ranking sync failed; retrying")
