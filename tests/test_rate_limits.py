"""Rate limits: both backends count alike, every bucket limits its route, Redis holds across workers.

Tests that need Redis use ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``) under a key
prefix of their own, deleted afterwards. Without a Redis server they skip — except under CI
(``CI`` set, as ``.ci/run`` does), where they fail: CI must exercise the Redis path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import PASSWORD, Browser
from webapp import cli
from webapp.app import create_app
from webapp.kernel.ratelimit import RateLimiter, RedisRateLimiter, build_limiters, redis_client
from webapp.kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
API = "/api/v1"


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Builds limiters of one backend: in-process, or Redis (a client each, as workers have)."""
    clients: list[Any] = []
    if request.param == "memory":
        yield lambda limit, window=60.0: RateLimiter(limit, window)
        return
    url = request.getfixturevalue("redis_url")
    name = request.getfixturevalue("prefix")

    def build(limit: int, window: float = 60.0) -> RedisRateLimiter:
        clients.append(redis_client(url))
        return RedisRateLimiter(clients[-1], "unit", limit, window, prefix=name)

    yield build
    for c in clients:
        c.close()


# --- the backends ------------------------------------------------------------------------------


def test_a_key_gets_its_limit_then_is_refused_with_a_retry_after(make_limiter: Any) -> None:
    limiter = make_limiter(3, 60.0)
    assert [limiter.check("user:1").allowed for _ in range(5)] == [True] * 3 + [False] * 2
    refused = limiter.check("user:1")
    assert not refused.allowed and 1 <= refused.retry_after <= 60
    assert limiter.hit("user:2") is True  # keys are counted apart


def test_the_window_slides_and_refused_hits_are_not_counted(make_limiter: Any) -> None:
    limiter = make_limiter(2, 1.0)
    assert limiter.hit("k") and limiter.hit("k")
    for _ in range(5):  # refused: not counted, or the key would stay blocked
        assert not limiter.hit("k")
    time.sleep(1.1)
    assert limiter.hit("k") and limiter.hit("k") and not limiter.hit("k")


def test_concurrent_hits_never_exceed_the_limit(make_limiter: Any) -> None:
    limiter = make_limiter(10, 60.0)
    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda _: limiter.hit("race"), range(40)))
    assert sum(allowed) == 10


def test_two_redis_limiters_share_the_count(redis_url: str, prefix: str) -> None:
    """Two clients, as two worker processes have: one limit in total."""
    a, b = redis_client(redis_url), redis_client(redis_url)
    try:
        first = RedisRateLimiter(a, "login", 4, prefix=prefix)
        second = RedisRateLimiter(b, "login", 4, prefix=prefix)
        results = [(first if i % 2 else second).hit("ip:10.0.0.1") for i in range(6)]
        assert results == [True] * 4 + [False] * 2
        other_bucket = RedisRateLimiter(a, "vote", 4, prefix=prefix)
        assert other_bucket.hit("ip:10.0.0.1")  # buckets are separate namespaces
        key = f"{prefix}:rl:login:ip:10.0.0.1"
        assert 0 < a.pttl(key) <= 60_000  # namespaced, and expires with the window
        assert sorted(k.decode() for k in a.scan_iter(f"{prefix}:*")) == [
            key,
            f"{prefix}:rl:vote:ip:10.0.0.1",
        ]
    finally:
        a.close()
        b.close()


def test_an_unreachable_redis_falls_back_to_the_process_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = redis_client(f"redis://127.0.0.1:{port}/0")
    limiter = RedisRateLimiter(client, "login", 2, prefix="down")
    with caplog.at_level(logging.ERROR, logger="veche.ratelimit"):
        started = time.monotonic()
        results = [limiter.hit("ip:1") for _ in range(4)]
        assert time.monotonic() - started < 2.0  # short timeouts, no retries
    assert results == [True, True, False, False]  # still limited, by this process
    errors = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert len(errors) == 1
    client.close()


def test_build_limiters_makes_one_per_bucket_with_inherited_limits(redis_url: str) -> None:
    s = Settings(write_rate_limit=30, login_rate_limit=8, vote_rate_limit=100)
    limiters = build_limiters(s)
    assert {name: lim.limit for name, lim in limiters.items()} == {
        "login": 8,
        "register": 4,
        "token": 8,
        "submit": 30,
        "vote": 100,
        "comment": 30,
        "report": 30,
        "similar": 120,
        "write": 30,
        "search": s.search_rate_limit,  # its own setting, inherited from none
        "photo": s.photo_rate_limit,  # photo uploads: their own setting too
    }
    assert all(isinstance(lim, RateLimiter) for lim in limiters.values())
    client = redis_client(redis_url)
    shared = build_limiters(replace(s, redis_prefix="x"), client)
    assert all(isinstance(lim, RedisRateLimiter) for lim in shared.values())
    client.close()


# --- every bucket limits its route, through the real app ---------------------------------------

BUCKET_SETTING = {
    "submit": "submit_rate_limit",
    "vote": "vote_rate_limit",
    "comment": "comment_rate_limit",
    "report": "report_rate_limit",
    "similar": "similar_rate_limit",
    "login": "login_rate_limit",
    "register": "register_rate_limit",
    "token": "token_rate_limit",
}
MISSING_IDEA = 987654  # the limit is checked before the idea is looked up


def _hit(bucket: str, b: Browser, email: str) -> Any:
    if bucket == "submit":
        return b.submit("/ideas/new", {"title": "x", "body": "y", "confirm_similar": "1"})
    if bucket == "vote":
        return b.submit(f"/ideas/{MISSING_IDEA}/support")
    if bucket == "comment":
        return b.submit(f"/ideas/{MISSING_IDEA}/comments", {"body": "Комментарий"})
    if bucket == "report":
        return b.submit(f"/ideas/{MISSING_IDEA}/report", {"reason": "spam"})
    if bucket == "similar":
        return b.get(f"{API}/ideas/similar", params={"text": "Велодорожка вдоль набережной"})
    if bucket == "login":
        return b.submit("/login", {"email": email, "password": "wrong-password-1"})
    if bucket == "register":
        return b.submit("/register", {"email": "new@example.org", "password": "x"})
    return b.post(f"{API}/tokens", json={"email": email, "password": "wrong-password-1"})


@pytest.fixture(params=["memory", "redis"])
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "memory":
        return replace(settings, redis_url="")
    url = request.getfixturevalue("redis_url")
    return replace(settings, redis_url=url, redis_prefix=request.getfixturevalue("prefix"))


@pytest.mark.parametrize("bucket", list(BUCKET_SETTING))
def test_each_bucket_limits_its_route(
    backend_settings: Settings, citizen: Any, bucket: str
) -> None:
    limit: dict[str, Any] = {BUCKET_SETTING[bucket]: 2}
    app = create_app(replace(backend_settings, **limit))
    with Browser(app) as b:
        if bucket not in ("login", "register", "token", "similar"):
            b.login(citizen.email)
        codes = [_hit(bucket, b, citizen.email).status_code for _ in range(2)]
        assert 429 not in codes, codes
        limited = _hit(bucket, b, citizen.email)
        assert limited.status_code == 429, limited.text[:300]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        ru = app.state.translators["ru"]
        if bucket in ("similar", "token"):  # the API: a JSON error in the caller's language
            assert limited.json()["error"]["status"] == 429
            message = limited.json()["error"]["message"]
        else:
            assert limited.headers["content-type"].startswith("text/html")
            message = ru.gettext("Too many attempts. Please wait a minute and try again.")
            if bucket not in ("login", "register"):
                message = ru.gettext(
                    "You are doing this too often. Please wait a minute and try again."
                )
            assert message in limited.text
        assert re.search("[а-я]", message), message  # Russian, the default language
        if bucket == "vote":  # another bucket is not affected
            assert _hit("comment", b, citizen.email).status_code == 404
    app.state.engine.dispose()


def test_a_limited_api_call_answers_in_the_callers_language(settings: Settings) -> None:
    app = create_app(replace(settings, token_rate_limit=1))
    with Browser(app, headers={"accept-language": "en"}) as b:
        body = {"email": "a@example.org", "password": "wrong-password-1"}
        b.post(f"{API}/tokens", json=body)
        limited = b.post(f"{API}/tokens", json=body)
        assert limited.status_code == 429
        assert limited.json()["error"]["message"] == (
            "Too many attempts. Please wait a minute and try again."
        )
    app.state.engine.dispose()


# --- veche serve --workers ---------------------------------------------------------------------


def test_serve_refuses_several_workers_without_redis_in_production(sqlite_file: str) -> None:
    env = dict(
        os.environ,
        VECHE_ENV="production",
        SECRET_KEY="p" * 40,
        DATABASE_URL=sqlite_file,
        VECHE_REDIS_URL="",
    )
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "serve", "--workers", "2", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("veche: error: --workers 2 without VECHE_REDIS_URL")


def test_serve_warns_about_several_workers_without_redis_in_development(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli._check_workers(Settings(), 3)
    assert "warning: --workers 3 without VECHE_REDIS_URL" in capsys.readouterr().err
    cli._check_workers(Settings(), 1)
    production = Settings(environment="production", secret_key="p" * 40, redis_url="redis://r")
    cli._check_workers(production, 4)
    assert capsys.readouterr().err == ""


# --- two real worker processes -----------------------------------------------------------------

ACCESS_LINE = re.compile(r'^PID=(\d+) .*"POST /api/v1/tokens HTTP/1.1" (\d{3})')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_limit_holds_in_total_across_two_worker_processes(
    settings: Settings, citizen: Any, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """`uvicorn --workers 2` sharing Redis: new connections reach both workers, the count is one."""
    limit = 5
    log_config = tmp_path / "log.json"
    log_config.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"pid": {"format": "PID=%(process)d %(message)s"}},
                "handlers": {
                    "out": {
                        "class": "logging.StreamHandler",
                        "formatter": "pid",
                        "stream": "ext://sys.stdout",
                    }
                },
                "loggers": {
                    "uvicorn.access": {"handlers": ["out"], "level": "INFO", "propagate": False}
                },
            }
        )
    )
    port = _free_port()
    env = dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        VECHE_ENV="test",
        SECRET_KEY="two-workers-test-secret-0123456789abcdef",
        VECHE_REDIS_URL=redis_url,
        VECHE_REDIS_PREFIX=prefix,
        VECHE_TOKEN_RATE_LIMIT=str(limit),
        VECHE_EMBEDDING_MODEL="off",  # rate limits are under test, not the embeddings
    )
    log_path = tmp_path / "access.log"
    with log_path.open("w") as log_file:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "webapp.asgi:app",
                "--workers",
                "2",
                "--port",
                str(port),
                "--log-config",
                str(log_config),
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.3)
        time.sleep(1.0)  # both workers up, not only the first to answer

        def attempt(_: int) -> int:
            # httpx.post opens a new connection each time, so the kernel picks a worker each time
            return httpx.post(
                f"{base}{API}/tokens",
                json={"email": citizen.email, "password": "wrong-password-1"},
                timeout=30,
            ).status_code

        codes: list[int] = []
        served_by: dict[str, int] = {}
        for _ in range(8):  # until both workers have answered some (usually the first round)
            with ThreadPoolExecutor(6) as pool:
                codes += pool.map(attempt, range(12))
            time.sleep(0.3)  # the access log is written after the response
            lines = [ACCESS_LINE.match(x) for x in log_path.read_text().splitlines()]
            served_by = {}
            for m in filter(None, lines):
                served_by[m.group(1)] = served_by.get(m.group(1), 0) + 1
            if len(served_by) >= 2:
                break
        assert len(served_by) == 2, f"one worker served everything: {served_by}"
        assert codes.count(401) == limit, codes  # in total, not `limit` per worker
        assert set(codes) == {401, 429}
        assert (
            httpx.post(
                f"{base}{API}/tokens", json={"email": citizen.email, "password": PASSWORD}
            ).status_code
            == 429
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
            raise
