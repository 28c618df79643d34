"""Rate limits: a sliding window per key, in-process or shared by every worker through Redis.

Both backends count the same way: at most ``limit`` hits in any ``window`` seconds per key; a
refused hit is not counted, and the answer says how long until the oldest counted hit leaves the
window (the Retry-After). ``build_limiters`` makes one limiter per bucket from ``Settings``.

With Redis (``VECHE_REDIS_URL``) every hit is one round trip: a Lua script trims the key's
sorted set of hit times, counts it, adds the hit when under the limit and sets the key to expire
with the window, atomically, on the Redis server's clock (workers' clocks may differ). When Redis
cannot be reached, a hit is counted by the worker's own in-process limiter instead (the limit
then holds per worker, not in total) and an error is logged at most once per ``LOG_EVERY``
seconds; Redis is tried again after ``RETRY_AFTER_FAILURE`` seconds. A request is never refused
or failed because Redis is down: the limits are a brake on abuse, not a gate of the site.

Keys are bounded (``bounded_key``): a short printable ASCII key (``ip:10.0.0.1``, ``user:5``)
is kept as it is, anything longer or stranger becomes its kind and a hash, so no value a client
chooses is ever stored at length, in memory or in Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from webapp.kernel.settings import Settings

log = logging.getLogger("veche.ratelimit")

WINDOW_SECONDS = 60.0
SOCKET_TIMEOUT = 0.25  # seconds; a hit must never hang a request on a slow Redis
LOG_EVERY = 60.0  # seconds between two "Redis is unreachable" errors of one limiter
RETRY_AFTER_FAILURE = 5.0  # seconds in-process after a failure before Redis is tried again
KEY_MAX = 64  # characters of a key kept as it is; longer ones are hashed (bounded_key)
MAX_KEYS = 100_000  # keys an in-process limiter keeps before it drops the idle ones


def bounded_key(key: str) -> str:
    """``key`` itself when short printable ASCII, else ``<kind>:h:<32 hex digits of SHA-256>``.

    The kind is the key's part before its first colon (at most 16 letters of it).
    """
    if len(key) <= KEY_MAX and key.isascii() and key.isprintable() and " " not in key:
        return key
    kind, sep, _ = key.partition(":")
    if not (sep and kind.isascii() and kind.isalnum() and len(kind) <= 16):
        kind = "key"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{kind}:h:{digest}"


@dataclass(frozen=True)
class Decision:
    """The answer to one hit: allowed or not, and seconds until a hit would be allowed."""

    allowed: bool
    retry_after: int = 0


class Limiter(Protocol):
    limit: int
    window: float

    def check(self, key: str) -> Decision: ...

    def hit(self, key: str) -> bool: ...


class RateLimiter:
    """In-process sliding window: at most ``limit`` hits per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> Decision:
        """Record a hit, or refuse it (not recorded) when the key is at its limit."""
        if self.limit <= 0:
            return Decision(True)
        key = bounded_key(key)
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return Decision(False, _seconds(hits[0] + self.window - now))
            hits.append(now)
            if len(self._hits) > MAX_KEYS:
                self._evict(now)
            return Decision(True)

    def hit(self, key: str) -> bool:
        """Record a hit; False when the key is over its limit (the hit is not recorded)."""
        return self.check(key).allowed

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(bounded_key(key), None)

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or now - v[-1] >= self.window]:
            del self._hits[key]


# KEYS[1]: the key. ARGV: window (ms), limit, a unique member for this hit.
# Returns {1, 0} when counted, {0, ms until the oldest hit leaves the window} when refused.
SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}
"""


class RedisRateLimiter:
    """The same sliding window, shared by every process that uses the same Redis and prefix."""

    def __init__(
        self,
        client: Any,
        name: str,
        limit: int,
        window: float = WINDOW_SECONDS,
        prefix: str = "veche",
    ) -> None:
        self.limit = limit
        self.window = window
        self.namespace = f"{prefix}:rl:{name}:"
        self.fallback = RateLimiter(limit, window)
        self._client = client
        self._script = client.register_script(SLIDING_WINDOW_LUA)
        self._down_until = 0.0
        self._last_logged = -math.inf
        self._lock = threading.Lock()

    def check(self, key: str) -> Decision:
        if self.limit <= 0:
            return Decision(True)
        now = time.monotonic()
        if now < self._down_until:
            return self.fallback.check(key)
        try:
            allowed, wait_ms = self._script(
                keys=[self.namespace + bounded_key(key)],
                args=[int(self.window * 1000), self.limit, secrets.token_hex(8)],
            )
        except Exception as exc:  # redis.RedisError, OSError: never fail the request for it
            self._failed(now, exc)
            return self.fallback.check(key)
        if int(allowed):
            return Decision(True)
        return Decision(False, _seconds(int(wait_ms) / 1000))

    def hit(self, key: str) -> bool:
        return self.check(key).allowed

    def _failed(self, now: float, exc: Exception) -> None:
        with self._lock:
            self._down_until = now + RETRY_AFTER_FAILURE
            if now - self._last_logged < LOG_EVERY:
                return
            self._last_logged = now
        log.error(
            "rate limits: Redis is unreachable (%s: %s); counting %s in this process only "
            "until it answers again",
            type(exc).__name__,
            exc,
            self.namespace.rstrip(":"),
        )


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


def redis_client(url: str) -> Any:
    """A Redis client with short timeouts (thread-safe; its pool is shared by the limiters)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),  # one try: a failure falls back at once
    )


def build_limiters(settings: Settings, client: Any = None) -> dict[str, Limiter]:
    """One limiter per bucket (``Settings.rate_limits``), in Redis when a client is given."""
    limiters: dict[str, Limiter] = {}
    for name, limit in settings.rate_limits.items():
        if client is None:
            limiters[name] = RateLimiter(limit, WINDOW_SECONDS)
        else:
            limiters[name] = RedisRateLimiter(
                client, name, limit, WINDOW_SECONDS, prefix=settings.redis_prefix
            )
    return limiters
