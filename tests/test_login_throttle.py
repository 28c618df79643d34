"""The login throttle (webapp/accounts/views/login_throttle.py): one budget of failures per account for the site's
login and the API's tokens, progressive delays, device cookies, per-IP delays, bounded keys.

Every scenario runs in-process and in Redis, on a clock of the test's own (no sleeping; the
Redis store takes it in place of the server's, which the tests of Redis workers use). Redis tests skip without a server, except under CI (``CI`` set),
where they fail: CI must exercise the Redis path.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import redis
from sqlalchemy import select

from tests.helpers import PASSWORD, Browser, make_user
from webapp.accounts import login_audit
from webapp.accounts.views import login_throttle
from webapp.accounts.views.login_throttle import (
    DEVICE_COOKIE,
    MemoryStore,
    RedisStore,
    Rule,
    Throttle,
    account_key,
    normalise_email,
)
from webapp.app import create_app
from webapp.kernel.ratelimit import RateLimiter, RedisRateLimiter, bounded_key, redis_client
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import LoginEvent

API = "/api/v1"
WRONG = "wrong-password-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    """Builds apps (workers) of one backend and lets time pass for their counts."""

    name: str
    settings: Settings
    clock: Clock
    redis_url: str = ""
    apps: list[Any] | None = None

    def app(self, **changes: Any) -> Any:
        s = replace(self.settings, **changes)
        app = create_app(s)
        store: Any
        if self.name == "memory":
            store = MemoryStore(float(s.login_max_delay), clock=self.clock)
        else:
            client = app.state.redis
            store = RedisStore(client, float(s.login_max_delay), s.redis_prefix, clock=self.clock)
        app.state.login_throttle = Throttle(s, store=store)
        self.apps = (self.apps or []) + [app]
        return app

    def elapse(self, seconds: float) -> None:
        self.clock.now += seconds

    def close(self) -> None:
        for app in self.apps or []:
            app.state.engine.dispose()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Backend]:
    base = replace(
        settings,
        login_free_failures=3,
        login_ip_free_failures=1000,
        login_max_delay=60,
        login_device_failures=3,
    )
    if request.param == "memory":
        b = Backend("memory", replace(base, redis_url=""), Clock())
    else:
        url = request.getfixturevalue("redis_url")
        b = Backend(
            "redis",
            replace(base, redis_url=url, redis_prefix=request.getfixturevalue("prefix")),
            Clock(),
            url,
        )
    yield b
    b.close()


def _login(b: Browser, email: str, password: str = WRONG) -> Any:
    return b.submit("/login", {"email": email, "password": password})


def _token(b: Browser, email: str, password: str = WRONG) -> Any:
    return b.post(f"{API}/tokens", json={"email": email, "password": password})


def _delay_long(app: Any, email: str) -> None:
    """Give the account enough failures for the longest delay, counted now."""
    th = app.state.login_throttle
    th.store.set(account_key(th.settings.secret_key, email), 50)


# --- the rules, unit by unit -------------------------------------------------------------------


def test_delays_double_after_the_free_failures_up_to_the_cap() -> None:
    assert [login_throttle.delay(n, 5, 900) for n in range(4)] == [0, 0, 0, 0]
    assert [login_throttle.delay(n, 5, 900) for n in (5, 6, 7, 8, 13, 14, 10_000)] == [
        2,
        4,
        8,
        16,
        512,
        900,
        900,
    ]


def test_the_memory_store_delays_refuses_without_counting_and_forgets() -> None:
    clock = Clock()
    store = MemoryStore(60.0, memory=3600.0, clock=clock)
    rules = [Rule("acct:a", 2)]
    assert [store.attempt(rules) for _ in range(2)] == [0, 0]
    assert store.attempt(rules) == 2.0  # the third waits 2 s since the second
    assert store.attempt(rules) == 2.0 and store.count("acct:a") == 2  # refused: not counted
    clock.now += 2
    assert store.attempt(rules) == 0 and store.attempt(rules) == 4.0
    clock.now += 4
    assert store.attempt(rules) == 0 and store.attempt(rules) == 8.0
    store.set("acct:a", 40)
    assert store.attempt(rules) == 60.0  # capped
    clock.now += 3600  # an hour after the last attempt: forgotten
    assert store.count("acct:a") == 0 and store.attempt(rules) == 0
    # several keys: all counted, or none
    store.set("ip:1", 5)
    assert store.attempt([Rule("acct:b", 2), Rule("ip:1", 5)]) > 0
    assert store.count("acct:b") == 0
    # a hard budget refuses outright until it is forgotten
    hard = [Rule("dev:x", 2, hard=True)]
    assert [store.attempt(hard) for _ in range(3)] == [0, 0, 3600.0]


def test_emails_are_normalised_and_account_keys_bounded() -> None:
    assert normalise_email("  Anna@Example.ORG \n") == "anna@example.org"
    nfd, nfc = "пе\u0308тр@example.org", "пётр@example.org"
    assert account_key("s" * 40, nfd) == account_key("s" * 40, nfc.upper())
    assert len(normalise_email("a" * 900_000)) == 320
    key = account_key("s" * 40, "a" * 900_000 + "@example.org")
    assert re.fullmatch(r"acct:[0-9a-f]{32}", key)
    assert account_key("s" * 40, "a@b.c") != account_key("t" * 40, "a@b.c")  # keyed


# --- through the site and the API ----------------------------------------------------------------


def test_failures_bring_growing_delays_with_retry_after(backend: Backend, citizen: Any) -> None:
    app = backend.app()
    with Browser(app) as b:
        assert [_login(b, citizen.email).status_code for _ in range(3)] == [401] * 3
        waits = []
        for _ in range(4):
            refused = _login(b, citizen.email)
            assert refused.status_code == 429
            wait = int(refused.headers["retry-after"])
            waits.append(wait)
            ru = app.state.translators["ru"]
            message = ru.gettext(login_throttle.MESSAGE_SECONDS, seconds=wait)
            assert "неудачных попыток входа" in message and message in refused.text
            # even the right password waits: the delay comes before the check
            assert _login(b, citizen.email, PASSWORD).status_code == 429
            backend.elapse(wait)
            assert _login(b, citizen.email).status_code == 401
        assert waits == [2, 4, 8, 16], waits
        backend.elapse(60)
        assert _login(b, citizen.email, PASSWORD).status_code == 303  # the owner, after a wait


def test_the_site_and_the_api_share_one_budget(backend: Backend, citizen: Any) -> None:
    app = backend.app()
    with Browser(app, headers={"accept-language": "en"}) as b:
        assert _login(b, citizen.email).status_code == 401
        assert _token(b, citizen.email.upper()).status_code == 401  # the same account
        assert _login(b, f" {citizen.email}").status_code == 401
        limited = _token(b, citizen.email)
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"]["message"] == (
            "Too many failed login attempts. Please try again in 2 s."
        )
        assert limited.headers["retry-after"] == "2"
        assert _login(b, citizen.email).status_code == 429
        assert _token(b, "other@example.org").status_code == 401  # another account: its own


def test_a_success_clears_the_accounts_failures(backend: Backend, citizen: Any) -> None:
    app = backend.app()
    with Browser(app) as b:
        assert [_login(b, citizen.email).status_code for _ in range(2)] == [401, 401]
        assert _token(b, citizen.email, PASSWORD).status_code == 201
        assert [_login(b, citizen.email).status_code for _ in range(3)] == [401] * 3
        assert _login(b, citizen.email).status_code == 429


def test_failures_are_forgotten_a_day_after_the_last(backend: Backend, citizen: Any) -> None:
    app = backend.app()
    with Browser(app) as b:
        for _ in range(3):
            _login(b, citizen.email)
        assert _login(b, citizen.email).status_code == 429
        backend.elapse(login_throttle.FAILURE_MEMORY + 1)
        assert [_login(b, citizen.email).status_code for _ in range(3)] == [401] * 3


def test_a_device_cookie_lets_the_owner_in_while_a_stranger_is_delayed(
    backend: Backend, citizen: Any
) -> None:
    app = backend.app()
    with Browser(app) as owner, Browser(app) as stranger:
        owner.login(citizen.email)
        assert DEVICE_COOKIE in owner.cookies
        owner.submit("/logout")
        for _ in range(3):
            assert _login(stranger, citizen.email).status_code == 401
        assert _login(stranger, citizen.email).status_code == 429
        assert _token(stranger, citizen.email, PASSWORD).status_code == 429
        # the owner's usual browser: not delayed by the stranger, and a typo costs nothing
        assert _login(owner, citizen.email).status_code == 401
        assert _login(owner, citizen.email, PASSWORD).status_code == 303
        owner.submit("/logout")
        # the owner's success cleared the account: the stranger starts again from nothing
        assert _login(stranger, citizen.email).status_code == 401
        # a stolen or copied cookie only has the device's own small budget
        for _ in range(3):
            assert _login(owner, citizen.email).status_code == 401
        # distrusted: a stranger now, with the account's one earlier failure and its delays
        assert [_login(owner, citizen.email).status_code for _ in range(3)] == [401, 401, 429]
        # a cookie for another account, or a forged one, is no help
        _delay_long(app, citizen.email)
        other = make_user(app.state.session_factory, "other@example.org")
        with Browser(app) as third:
            third.login(other.email)
            third.submit("/logout")
            assert _login(third, citizen.email, PASSWORD).status_code == 429
        with Browser(app) as fourth:
            fourth.cookies.set(DEVICE_COOKIE, owner.cookies[DEVICE_COOKIE][:-3] + "abc")
            assert _login(fourth, citizen.email, PASSWORD).status_code == 429


def test_the_device_cookie_is_signed_httponly_lax_and_secure_in_production(
    settings: Settings, citizen: Any, production_password_profile: None
) -> None:
    for environment, secure in (("test", False), ("production", True)):
        s = replace(settings, environment=environment, secret_key="x" * 40, redis_url="")
        app = create_app(s)
        base = "https://testserver" if secure else "http://testserver"
        with Browser(app, base_url=base) as b:
            response = b.login(citizen.email)
            cookie = next(
                c for c in response.headers.get_list("set-cookie") if c.startswith(DEVICE_COOKIE)
            )
            lowered = cookie.lower()
            assert "httponly" in lowered and "samesite=lax" in lowered
            assert ("secure" in lowered) is secure
            assert citizen.email not in cookie  # only a keyed hash of the account
        app.state.engine.dispose()


def test_per_ip_failures_are_progressive_and_trusted_devices_pass(
    backend: Backend, citizen: Any
) -> None:
    """Many accounts from one address (or a whole city behind one proxy address)."""
    app = backend.app(login_ip_free_failures=4)
    with Browser(app) as owner, Browser(app) as crowd:
        owner.login(citizen.email)
        owner.submit("/logout")
        codes = [_login(crowd, f"user{i}@example.org").status_code for i in range(4)]
        assert codes == [401] * 4
        refused = _login(crowd, "user9@example.org")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
        assert _token(crowd, "user10@example.org").status_code == 429  # the API too
        backend.elapse(2)
        assert _login(crowd, "user11@example.org").status_code == 401
        assert int(_login(crowd, "user12@example.org").headers["retry-after"]) == 4
        # the known browser at the same address is not held up
        assert _login(owner, citizen.email, PASSWORD).status_code == 303
        owner.submit("/logout")
        # a newcomer at the address waits like the crowd, then gets in
        with Browser(app) as newcomer:
            assert _login(newcomer, citizen.email, PASSWORD).status_code == 429
            backend.elapse(60)
            assert _login(newcomer, citizen.email, PASSWORD).status_code == 303


def test_a_throttled_attempt_is_in_the_login_audit(backend: Backend, citizen: Any) -> None:
    app = backend.app()
    with Browser(app, headers={"user-agent": "guesser/1.0"}) as b:
        for email in (citizen.email, "nobody@example.org"):
            for _ in range(3):
                _login(b, email)
            assert _login(b, email).status_code == 429
        _delay_long(app, citizen.email)
        assert _token(b, citizen.email).status_code == 429
    with transaction(app.state.session_factory) as s:
        rows = s.scalars(
            select(LoginEvent).where(LoginEvent.kind == "login_throttled").order_by(LoginEvent.id)
        ).all()
        assert [(r.user_id, r.details.get("via")) for r in rows] == [
            (citizen.id, "site"),
            (None, "site"),
            (citizen.id, "api"),
        ]
        assert rows[1].details["email_tag"] == login_audit.email_tag("nobody@example.org")
        assert "email_tag" not in rows[0].details and rows[0].user_agent == "guesser/1.0"
        assert rows[0].details["retry_after"] == 2


def test_the_per_minute_brake_is_per_address_not_per_email(
    settings: Settings, citizen: Any
) -> None:
    app = create_app(replace(settings, redis_url="", login_rate_limit=3))
    with Browser(app) as b:
        codes = [_login(b, f"u{i}@example.org").status_code for i in range(4)]
        assert codes == [401, 401, 401, 429]
        keys = list(app.state.limiters["login"]._hits)
        assert keys == ["ip:testclient"]
    app.state.engine.dispose()


# --- Redis: shared by workers, bounded keys, down -----------------------------------------------


def test_two_workers_share_the_counts_through_redis(
    settings: Settings, citizen: Any, redis_url: str, prefix: str
) -> None:
    s = replace(settings, redis_url=redis_url, redis_prefix=prefix, login_free_failures=3)
    first, second = create_app(s), create_app(s)
    try:
        account = account_key(s.secret_key, citizen.email)
        with Browser(first) as a, Browser(second) as b:
            assert _login(a, citizen.email).status_code == 401
            assert _token(b, citizen.email).status_code == 401
            assert _login(a, citizen.email).status_code == 401
            assert second.state.login_throttle.store.count(account) == 3
            client = redis.Redis.from_url(redis_url)
            name = f"{prefix}:lt:{account}"
            assert client.hget(name, "n") == b"3"
            ttl = client.pttl(name)
            assert 0 < ttl <= login_throttle.FAILURE_MEMORY * 1000
            client.close()
            # on the server's clock, which real time moves: a delay longer than the test
            first.state.login_throttle.store.set(account, 20)
            assert _login(b, citizen.email).status_code == 429
            assert int(_token(a, citizen.email).headers["retry-after"]) > 50
    finally:
        first.state.engine.dispose()
        second.state.engine.dispose()


def test_an_unreachable_redis_counts_in_the_process_and_fails_nothing(
    settings: Settings, citizen: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = replace(
        settings,
        redis_url=f"redis://127.0.0.1:{port}/0",
        login_free_failures=2,
        login_rate_limit=1000,
    )
    app = create_app(s)
    with caplog.at_level(logging.ERROR, logger="veche.ratelimit"), Browser(app) as b:
        assert [_login(b, citizen.email).status_code for _ in range(3)] == [401, 401, 429]
    assert any("login throttle: Redis is unreachable" in r.getMessage() for r in caplog.records)
    app.state.engine.dispose()


HUGE = "a" * 900_000 + "@example.org"  # about 0.9 MB: under the 1 MB body limit


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_huge_emails_leave_only_short_keys(
    request: pytest.FixtureRequest, settings: Settings, kind: str
) -> None:
    """Pen-test finding 4: a 0.9 MB e-mail was kept as a key, in memory and in Redis."""
    if kind == "memory":
        s = replace(settings, redis_url="")
    else:
        s = replace(
            settings,
            redis_url=request.getfixturevalue("redis_url"),
            redis_prefix=request.getfixturevalue("prefix"),
        )
    app = create_app(s)
    with Browser(app) as b:
        for i in range(4):
            assert _login(b, str(i) + HUGE).status_code == 401
            # the API's schema may refuse such an address before the throttle (422)
            assert _token(b, str(i) + HUGE).status_code in (401, 422)
    if kind == "memory":
        store = app.state.login_throttle.store
        stored = list(store._counts) + [
            k for limiter in app.state.limiters.values() for k in limiter._hits
        ]
        assert len(store._counts) == 5  # four accounts and one address
    else:
        client = redis.Redis.from_url(s.redis_url)
        stored = [k.decode() for k in client.scan_iter(f"{s.redis_prefix}:*")]
        assert sum(client.memory_usage(k) or 0 for k in stored) < 10_000
        client.close()
        assert sum(":lt:acct:" in k for k in stored) == 4
        assert f"{s.redis_prefix}:lt:ip:testclient" in stored
    assert stored and max(len(k) for k in stored) <= 100, stored
    app.state.engine.dispose()


def test_the_rate_limiters_bound_every_key(redis_url: str, prefix: str) -> None:
    assert bounded_key("ip:10.0.0.1") == "ip:10.0.0.1"
    assert bounded_key("user:42") == "user:42"
    long_key = "email:" + "x" * 900_000
    assert re.fullmatch(r"email:h:[0-9a-f]{32}", bounded_key(long_key))
    assert bounded_key("email:пётр@example.org").startswith("email:h:")
    assert bounded_key("x" * 100).startswith("key:h:")
    assert bounded_key(long_key) != bounded_key(long_key + "y")
    memory = RateLimiter(2)
    for i in range(50):
        memory.check(f"email:{i}" + "x" * 900_000)
    assert len(memory._hits) == 50 and max(map(len, memory._hits)) <= 64
    client = redis_client(redis_url)
    try:
        shared = RedisRateLimiter(client, "login", 2, prefix=prefix)
        assert shared.hit(long_key) and shared.hit(long_key) and not shared.hit(long_key)
        keys = [k.decode() for k in client.scan_iter(f"{prefix}:*")]
        assert keys == [f"{prefix}:rl:login:{bounded_key(long_key)}"]
    finally:
        client.close()


def test_a_redis_store_and_a_memory_store_agree(redis_url: str, prefix: str) -> None:
    client = redis_client(redis_url)
    try:
        shared = RedisStore(client, 60.0, prefix)
        clock = Clock()
        local = MemoryStore(60.0, clock=clock)
        for store in (shared, local):
            rules = [Rule("acct:x", 2), Rule("ip:y", 10)]
            assert [store.attempt(rules) for _ in range(2)] == [0, 0]
            assert 1.5 < store.attempt(rules) <= 2.0
            assert store.count("acct:x") == 2 and store.count("ip:y") == 2
            store.undo("ip:y")
            assert store.count("ip:y") == 1
            store.forget("acct:x")
            assert store.attempt(rules) == 0
            store.set("acct:x", 10, seconds_ago=1)
            assert 50 < store.attempt(rules) <= 59
            hard = [Rule("dev:z", 1, hard=True)]
            assert store.attempt(hard) == 0 and store.attempt(hard) > 3600
    finally:
        client.close()
