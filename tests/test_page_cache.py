"""The anonymous list micro-cache: reused only where the page is not the visitor's own."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.helpers import CSRF_RE, Browser, make_user
from tests.test_ranking_web import add_idea, support
from webapp.app import create_app
from webapp.kernel.page_cache import PageCache
from webapp.kernel.settings import Settings


@pytest.fixture
def cached_app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(dataclasses.replace(settings, page_cache_seconds=30.0))
    yield application
    application.state.engine.dispose()


def tokens(html: str) -> set[str]:
    return set(CSRF_RE.findall(html))


def test_a_second_anonymous_visit_is_a_hit_with_the_visitors_own_token(
    cached_app: Starlette,
) -> None:
    add_idea(cached_app.state.session_factory, "Скамейки у пруда")
    cache = cached_app.state.page_cache
    with Browser(cached_app) as first, Browser(cached_app) as second:
        page1 = first.get("/")
        assert page1.status_code == 200 and "Скамейки у пруда" in page1.text
        misses = cache.misses
        page2 = second.get("/")
        assert cache.hits >= 1 and cache.misses == misses
        assert "Скамейки у пруда" in page2.text
        t1, t2 = tokens(page1.text), tokens(page2.text)
        assert len(t1) == 1 and len(t2) == 1 and t1 != t2
        assert cache.placeholder not in page2.text
        # the token on the cached page is the visitor's: the language form it sits in works
        answer = second.post("/language", data={"csrf_token": t2.pop(), "lang": "en"})
        assert answer.status_code == 303


def test_languages_and_query_strings_are_separate_pages(cached_app: Starlette) -> None:
    add_idea(cached_app.state.session_factory, "Фонтан на площади")
    with Browser(cached_app) as visitor:
        ru = visitor.get("/").text
        en = visitor.get("/", headers={"Accept-Language": "en"}).text
        assert re.search(r'<html lang="ru"', ru) and re.search(r'<html lang="en"', en)
        visitor.get("/?sort=new")
        hits = cached_app.state.page_cache.hits
        visitor.get("/?sort=new&page=1")
        assert cached_app.state.page_cache.hits == hits  # a new query string: rendered


def test_signed_in_visitors_random_order_and_flashes_are_never_cached(
    cached_app: Starlette,
) -> None:
    factory = cached_app.state.session_factory
    idea = add_idea(factory, "Велодорожка вдоль реки")
    voter = make_user(factory, "voter@example.org", verified=True)
    support(factory, voter, idea)
    cache = cached_app.state.page_cache
    with Browser(cached_app) as anon:
        anon.get("/")
        anon.get("/")
    hits = cache.hits
    with Browser(cached_app) as member:
        member.login("voter@example.org")
        member.get("/")  # the login left a flash message: not cached either
        page = member.get("/")
        assert cache.hits == hits
        assert "Велодорожка вдоль реки" in page.text
    with Browser(cached_app) as anon:
        anon.get("/?sort=random")
        anon.get("/?sort=random")
    assert cache.hits == hits


def test_a_moved_ranking_renders_afresh(cached_app: Starlette) -> None:
    factory = cached_app.state.session_factory
    a = add_idea(factory, "Идея Альфа про сквер")
    b = add_idea(factory, "Идея Бета про сквер")
    voters = [make_user(factory, f"v{i}@example.org", verified=True) for i in range(3)]
    support(factory, voters[0], a)
    with Browser(cached_app) as anon:
        first = anon.get("/?sort=top").text
        assert first.index("Идея Альфа") < first.index("Идея Бета")
        for v in voters[1:]:
            support(factory, v, b)
        cached_app.state.ranking.catch_up()  # what the worker's poller does every second
        second = anon.get("/?sort=top").text
        assert second.index("Идея Бета") < second.index("Идея Альфа")


class Renderer:
    """A page render that takes a while and counts its calls."""

    def __init__(self, seconds: float = 0.0, fail: bool = False) -> None:
        self.seconds = seconds
        self.fail = fail
        self.calls = 0

    def __call__(self, cache: PageCache, text: str) -> Any:
        async def render() -> str:
            self.calls += 1
            await asyncio.sleep(self.seconds)
            if self.fail:
                raise RuntimeError("database down")
            return f"<p>{text} {cache.placeholder}</p>"

        return render


def test_entries_expire_move_with_the_ranking_and_the_oldest_go_first() -> None:
    cache = PageCache(ttl=0.05, max_entries=2)
    render = Renderer()
    version = [1]

    async def main() -> None:
        page = await cache.page("a", lambda: version[0], "T1", render(cache, "v1"))
        assert page == "<p>v1 T1</p>" and render.calls == 1
        assert (
            await cache.page("a", lambda: version[0], "T2", render(cache, "v2")) == "<p>v1 T2</p>"
        )
        version[0] = 2  # the worker's ranking moved: rendered afresh
        assert await cache.page("a", lambda: version[0], "T", render(cache, "v2")) == "<p>v2 T</p>"
        await asyncio.sleep(0.06)  # expired
        assert await cache.page("a", lambda: version[0], "T", render(cache, "v3")) == "<p>v3 T</p>"
        for key in ("x", "y", "z"):
            await cache.page(key, lambda: 2, "t", render(cache, key))
        calls = render.calls
        assert await cache.page("z", lambda: 2, "t", render(cache, "new")) == "<p>z t</p>"
        assert await cache.page("x", lambda: 2, "t", render(cache, "new")) == "<p>new t</p>"
        assert render.calls == calls + 1  # "x" had been evicted

    asyncio.run(main())
    assert cache.misses == 7 and cache.hits == 2
    assert not PageCache(ttl=0).enabled


def test_a_crowd_on_a_missing_page_renders_it_once() -> None:
    cache = PageCache(ttl=30)
    render = Renderer(seconds=0.1)

    async def main() -> list[str]:
        crowd = [cache.page("p", lambda: 1, f"T{n}", render(cache, "page")) for n in range(64)]
        return await asyncio.gather(*crowd)

    pages = asyncio.run(main())
    assert render.calls == 1 and cache.misses == 1 and cache.shared == 63
    assert pages == [f"<p>page T{n}</p>" for n in range(64)]  # each with its own token


def test_an_expired_page_is_served_while_one_request_renews_it() -> None:
    cache = PageCache(ttl=0.05)

    async def main() -> None:
        await cache.page("p", lambda: 1, "T", Renderer()(cache, "old"))
        await asyncio.sleep(0.06)
        slow = Renderer(seconds=0.3)
        renewer = asyncio.create_task(cache.page("p", lambda: 1, "R", slow(cache, "new")))
        await asyncio.sleep(0.01)
        started = time.monotonic()
        crowd = await asyncio.gather(
            *(cache.page("p", lambda: 1, f"T{n}", slow(cache, "new")) for n in range(20))
        )
        assert time.monotonic() - started < 0.2  # nobody waited for the renewal
        assert crowd == [f"<p>old T{n}</p>" for n in range(20)] and slow.calls == 1
        assert await renewer == "<p>new R</p>"
        assert await cache.page("p", lambda: 1, "T", slow(cache, "newer")) == "<p>new T</p>"

    asyncio.run(main())
    assert cache.stale_hits == 20


def test_a_failed_rendering_is_not_stored_and_the_waiters_try_themselves() -> None:
    cache = PageCache(ttl=30)
    failing = Renderer(seconds=0.05, fail=True)
    working = Renderer()

    async def main() -> tuple[str | BaseException, str | BaseException]:
        first = cache.page("p", lambda: 1, "T", failing(cache, "x"))
        second = cache.page("p", lambda: 1, "U", working(cache, "ok"))
        return await asyncio.gather(first, second, return_exceptions=True)

    first, second = asyncio.run(main())
    assert isinstance(first, RuntimeError) and second == "<p>ok U</p>"
    assert (failing.calls, working.calls) == (1, 1)


def test_the_setting_is_validated(settings: Any) -> None:
    from webapp.kernel.settings import SettingsError

    with pytest.raises(SettingsError, match="VECHE_PAGE_CACHE_SECONDS"):
        dataclasses.replace(settings, page_cache_seconds=-1.0)
