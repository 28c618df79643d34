"""Background work of a worker process: keep the ranking current, flush recorded views, embed
new ideas and keep the similarity index current, e-mail notifications."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from webapp.ideas.exposure import flush_views as store_views
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import utcnow
from webapp.polls.notify import notify_opened

log = logging.getLogger("veche.background")
EMBED_POLL_SECONDS = 2.0  # how often each worker pulls new vectors when nothing woke it
POLL_NOTIFY_SECONDS = 30.0  # how often a worker looks for polls that opened since
EMBED_RETRY_SECONDS = 1.0  # wait before retrying noted ideas another process kept from us


def flush_views(app: Starlette) -> int:
    """Write the buffered (idea, viewer) pairs in one transaction; returns new viewers stored."""
    pairs = app.state.views.drain()
    if not pairs:
        return 0
    try:
        with transaction(app.state.session_factory) as session:
            return sum(store_views(session, pairs).values())
    except Exception:  # the database is down or full: keep the pairs for the next flush
        for idea_id, key in pairs:
            app.state.views.add(idea_id, key)
        raise


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


async def keep_embeddings(app: Starlette, stop: asyncio.Event) -> None:
    """Run the similarity service's embedder (``SimilarityService.tick``) in a worker thread.

    Wakes when an idea is noted as changed, else every ``EMBED_POLL_SECONDS`` (to pick up the
    vectors other workers wrote). Ends when ``stop`` is set; a running pass stops after its batch.
    """
    service = app.state.similarity
    if service.status == "disabled":
        return
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    service.set_waker(lambda: loop.call_soon_threadsafe(wake.set))
    try:
        while not stop.is_set():
            waiter = asyncio.ensure_future(wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {waiter, stopper}, timeout=EMBED_POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                return
            wake.clear()
            try:
                await run_in_threadpool(service.tick)
            except Exception:  # the database may be restarting: log, keep serving, retry
                log.exception("background embedding failed; retrying")
            if service.has_pending:  # another process held the lock: retry soon, not at once
                await asyncio.sleep(EMBED_RETRY_SECONDS)
                wake.set()
    finally:
        service.set_waker(None)


async def keep_mailing(app: Starlette, stop: asyncio.Event) -> None:
    """E-mail pending notifications every VECHE_EMAIL_POLL_SECONDS (``services.mailer``).

    A full batch is followed by the next one at once. Ends when ``stop`` is set: the batch in
    progress stops after the message being sent, and its unsent rows are released.
    """
    mailer = getattr(app.state, "mailer", None)
    if mailer is None:
        return
    poll = app.state.settings.email_poll_seconds
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=poll)
            return
        except TimeoutError:
            pass
        try:
            while not stop.is_set():
                report = await run_in_threadpool(mailer.send_batch, stop.is_set)
                if report.claimed < mailer.batch_size or report.released:
                    break
        except Exception:  # the database may be restarting: log, keep serving, retry
            log.exception("background e-mail of notifications failed; retrying")


class SharedCatchUp:
    """Read-your-writes for the ranking, with one poll shared by every request that needs it.

    A request that has committed a vote (or an official's status change) brings this worker's
    ranking up to date before it answers, so that the next page counts it; a page that shows
    rankings does the same first, to see what other workers logged. One poll per request costs
    a transaction each, and under load most of them find nothing left to apply: another
    request's poll took their events along. Here a request waits for the first poll that
    *starts* after it asked, and every request that asks while a poll runs shares the next one;
    so a worker runs at most one such poll at a time, whatever the number of voters.

    A failed poll fails no request (a write is committed by then; a read answers from the
    snapshot it has, or fails on its own query; the background poller retries).
    Lives on the event loop: :meth:`wait` is called from async handlers only.
    """

    def __init__(self, poll: Callable[[], object]) -> None:
        self._poll = poll
        self._started = 0  # polls started so far
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.polls = 0
        self.requests = 0

    async def wait(self) -> None:
        """Return once a poll that began after this call has finished."""
        self.requests += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._started + 1, future))
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        await future

    async def _run(self) -> None:
        try:
            while self._waiters:
                self._started += 1
                number = self._started
                self.polls += 1
                try:
                    await run_in_threadpool(self._poll)
                except Exception:  # the database may be restarting: the background poll retries
                    log.warning("ranking catch-up failed", exc_info=True)
                done = [f for n, f in self._waiters if n <= number]
                self._waiters = [(n, f) for n, f in self._waiters if n > number]
                for future in done:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._task = None


def announce_polls(app: Starlette) -> int:
    """Tell the audiences of the polls that opened since the last look (webapp/polls/notify.py)."""
    with transaction(app.state.session_factory) as session:
        settings = app.state.settings
        return notify_opened(session, utcnow(), email=settings.email_enabled).notifications


async def keep_polls_announced(app: Starlette, stop: asyncio.Event) -> None:
    """Every POLL_NOTIFY_SECONDS, announce the polls that opened (each poll once, across workers)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=POLL_NOTIFY_SECONDS)
            return
        except TimeoutError:
            pass
        try:
            await run_in_threadpool(announce_polls, app)
        except Exception:
            log.exception("announcing opened polls failed; retrying")
