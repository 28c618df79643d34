"""The application factory: everything is built from a Settings object, nothing at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import jinja2
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from webapp import background
from webapp.accounts.sessions import Policy as SessionPolicy
from webapp.campaigns.views import admin as campaign_admin
from webapp.dedup.engine import SimilarityService
from webapp.domains import build_hooks, template_dirs
from webapp.i18n import Translator, load_translators
from webapp.ideas.exposure import ViewBuffer
from webapp.ideas.origins import origin_of
from webapp.ideas.views import photos
from webapp.kernel.errors_view import exception_handlers
from webapp.kernel.middleware import BodySizeLimit, SecurityHeaders
from webapp.kernel.page_cache import PageCache
from webapp.kernel.ratelimit import build_limiters, redis_client
from webapp.kernel.security import check_password_profile
from webapp.kernel.settings import Settings
from webapp.kernel.storage import faults
from webapp.kernel.storage.db import make_engine, make_session_factory
from webapp.notifications.mailer import Mailer
from webapp.notifications.views.email import EmailTemplates
from webapp.ranking.engine import RankingService
from webapp.routes import build_routes

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("veche")


def build_jinja(
    translators: dict[str, Translator], settings: Settings
) -> dict[str, jinja2.Environment]:
    """One Jinja environment per language, each with its gettext catalog installed."""
    envs = {}
    for lang, tr in translators.items():
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(template_dirs()),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            # a stat() of every template and include per page is wasted outside development
            auto_reload=settings.environment == "development",
            undefined=jinja2.StrictUndefined
            if settings.environment == "test"
            else jinja2.Undefined,
        )
        env.install_gettext_translations(tr.translations, newstyle=True)  # type: ignore[attr-defined]
        env.filters["number"] = tr.number
        env.filters["datetime"] = tr.datetime
        env.filters["date"] = tr.date
        env.filters["origin"] = origin_of  # ideas/_origin.html
        envs[lang] = env
    return envs


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    # a cheap password-hash profile (tests only) never serves a production site
    check_password_profile(settings)
    translators = load_translators(settings.languages, settings.timezone)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(app.state.ranking.rebuild)
        except SQLAlchemyError as exc:
            # A worker (re)started while the database is down must not fail its start-up (uvicorn
            # would stop every worker): serve 503s until the ranking poller builds the snapshot.
            if faults.classify(exc) is None:
                raise
            log.warning("database unavailable at start-up; the ranking is built once it answers")

        app.state.similarity.start()  # loads the model in a thread: the site serves meanwhile
        stop = asyncio.Event()
        task = asyncio.create_task(background.keep_current(app, stop))
        embedder = asyncio.create_task(background.keep_embeddings(app, stop))
        mailer = asyncio.create_task(background.keep_mailing(app, stop))
        polls = asyncio.create_task(background.keep_polls_announced(app, stop))
        try:
            yield
        finally:
            stop.set()
            app.state.similarity.stop()
            await task
            await embedder
            await mailer
            await polls
            # the start-up loader thread uses the engine too: let it finish before disposing
            await run_in_threadpool(app.state.similarity.wait_ready, 60.0)
            await run_in_threadpool(background.flush_views, app)
            app.state.engine.dispose()
            if app.state.redis is not None:
                app.state.redis.close()

    app = Starlette(
        debug=False,
        routes=build_routes(STATIC_DIR),
        middleware=[
            Middleware(
                SecurityHeaders,
                hsts=settings.secure_cookies,
                img_sources=settings.map_tile_origin,
            ),
            Middleware(
                BodySizeLimit,
                max_bytes=settings.max_body_bytes,
                translators=translators,
                path_limits=[
                    (photos.UPLOAD_PATH, photos.upload_limit(settings)),
                    (campaign_admin.COVER_PATH, campaign_admin.cover_limit(settings)),
                ],
            ),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key,
                session_cookie="veche_session",
                max_age=settings.session_max_age,
                same_site="lax",
                https_only=settings.secure_cookies,
            ),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    engine = make_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.session_policy = SessionPolicy.of(settings)
    app.state.hooks = build_hooks()
    app.state.translators = translators
    app.state.jinja = build_jinja(translators, settings)
    for env in app.state.jinja.values():
        env.globals["url_for"] = lambda name, **params: str(app.url_path_for(name, **params))
    app.state.ranking = RankingService(settings, app.state.session_factory)
    app.state.ranking_sync = background.SharedCatchUp(app.state.ranking.catch_up)
    app.state.similarity = SimilarityService(settings, app.state.session_factory)
    app.state.views = ViewBuffer()
    app.state.page_cache = PageCache(settings.page_cache_seconds)
    app.state.mailer = (
        Mailer(
            settings,
            app.state.session_factory,
            translators,
            app.url_path_for,
            templates=EmailTemplates(app.state.jinja),
        )
        if settings.email_enabled
        else None
    )
    # Rate limits: shared by every worker through Redis when VECHE_REDIS_URL is set (the client
    # connects lazily, so a Redis that is down delays nothing here; see webapp/kernel/ratelimit.py).
    app.state.redis = redis_client(settings.redis_url) if settings.redis_url else None
    app.state.limiters = build_limiters(settings, app.state.redis)
    return app
