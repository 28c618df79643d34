"""The login throttle: one budget of password guesses per account, shared by every login path.

Every place where a stranger can have a password checked (the site's login form, ``POST
/api/v1/tokens``, a confirmation form) calls ``guard(request, email)`` before checking it and
``result(request, email, ok)`` after; a successful site login also calls ``remember_device``.

What is counted, and how it is refused:

- **Failures, not attempts.** ``guard`` counts the attempt as a failure before the password is
  checked (so parallel requests cannot slip past the count) and ``result(ok=True)`` takes it
  back. Counts are kept per account (a keyed hash of the normalised e-mail: ``account_key``,
  the same whether the account exists or not) and per client IP address.
- **Progressive delays, not a lock.** The first ``VECHE_LOGIN_FREE_FAILURES`` failures of an
  account (``VECHE_LOGIN_IP_FREE_FAILURES`` of an IP address) cost nothing; after ``n`` failures
  beyond them the next attempt must wait 2^n seconds since the last counted attempt (2, 4, 8 …),
  at most ``VECHE_LOGIN_MAX_DELAY``; sooner it is refused (429, Retry-After, a message in the
  visitor's language) and not counted. A success clears the account's count (and takes its own
  attempt off the IP's); a count is forgotten ``FAILURE_MEMORY`` seconds after its last attempt.
- **Device cookies** (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"). A
  successful site login gives the browser a signed cookie (``veche_device``, SECRET_KEY) naming
  a random device id and the accounts it logged in to. An attempt for one of those accounts
  from that browser is counted against the device alone (``VECHE_LOGIN_DEVICE_FAILURES``
  failures, a hard budget): not against the account or the IP address, and is not delayed by
  their failures, so a stranger guessing an account's password cannot lock its owner out of the
  owner's usual browser, nor a busy shared address its known browsers. A device whose budget is
  spent is distrusted: its attempts are treated like a stranger's until its count is forgotten
  or the account logs in.
- Every attempt not from a trusted device also takes a hit of the per-minute flood brake of its
  path (the ``login`` or ``token`` bucket of ``webapp.kernel.ratelimit``, per IP address).

With Redis (``VECHE_REDIS_URL``) the counts are shared by every worker: a hash per key under
``<prefix>:lt:<key>`` (``n`` attempts, ``t`` the last one, ms on the Redis clock), checked and
counted for all of an attempt's keys in one Lua script, expiring ``FAILURE_MEMORY`` after the last
attempt. When Redis cannot be reached the worker counts in its own memory (logged once a minute,
retried after 5 s) and never fails the request, like ``webapp.kernel.ratelimit``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.accounts import login_audit
from webapp.kernel.errors import N_, RateLimited
from webapp.kernel.ratelimit import LOG_EVERY, RETRY_AFTER_FAILURE, bounded_key
from webapp.kernel.web import client_ip, db, rate_limit

if TYPE_CHECKING:
    from webapp.kernel.settings import Settings

log = logging.getLogger("veche.ratelimit")

EMAIL_MAX = 320  # characters of a typed e-mail looked at; no address is longer (RFC 3696)
FAILURE_MEMORY = 24 * 3600  # seconds after its last attempt that a count is forgotten
MAX_EXPONENT = 40  # 2**40 s is beyond any VECHE_LOGIN_MAX_DELAY
MAX_ENTRIES = 200_000  # counts one worker keeps in memory before it drops the oldest
DEVICE_COOKIE = "veche_device"
DEVICE_MAX_AGE = 365 * 24 * 3600
DEVICE_ACCOUNTS = 5  # accounts one device cookie remembers (the latest)
DEVICE_COOKIE_MAX = 1000  # characters of a device cookie looked at
DEVICE_SALT = "veche.login-throttle.device"

MESSAGE_SECONDS = N_("Too many failed login attempts. Please try again in %(seconds)s s.")
MESSAGE_MINUTES = N_("Too many failed login attempts. Please try again in %(minutes)s min.")


def normalise_email(raw: object) -> str:
    """The typed e-mail as the throttle keys it: cut to EMAIL_MAX first, stripped, NFC, lower."""
    if not isinstance(raw, str):
        return ""
    return unicodedata.normalize("NFC", raw[:EMAIL_MAX].strip()).lower()


def account_key(secret: str, email: str) -> str:
    """``acct:`` and 32 hex digits of HMAC-SHA-256 of the normalised e-mail (keyed: a dump of
    the counts does not say which addresses were tried)."""
    value = normalise_email(email).encode("utf-8", "surrogatepass")
    digest = hmac.new(secret.encode(), b"account:" + value, hashlib.sha256).hexdigest()
    return f"acct:{digest[:32]}"


def delay(failures: int, free: int, cap: float) -> float:
    """Seconds the next attempt waits after ``failures`` counted ones (0 while they are free)."""
    if failures < free:
        return 0.0
    return float(min(cap, 2 ** min(failures - free + 1, MAX_EXPONENT)))


@dataclass(frozen=True)
class Rule:
    """One key of an attempt: ``free`` failures, then delays (or, ``hard``, refused outright)."""

    key: str
    free: int
    hard: bool = False


# --- the stores --------------------------------------------------------------------------------


class MemoryStore:
    """Counts in this process (a clock can be injected for tests)."""

    def __init__(
        self,
        cap: float,
        memory: float = FAILURE_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cap = cap
        self.memory = memory
        self.clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (attempts, last attempt)
        self._lock = threading.Lock()

    def attempt(self, rules: Sequence[Rule]) -> float:
        """Count an attempt on every rule's key and return 0, or the seconds to wait (nothing
        counted) when one of them is refused."""
        now = self.clock()
        with self._lock:
            wait = 0.0
            for rule in rules:
                n, last = self._get(rule.key, now)
                if rule.hard:
                    w = last + self.memory - now if n >= rule.free else 0.0
                else:
                    w = last + delay(n, rule.free, self.cap) - now if n else 0.0
                wait = max(wait, w)
            if wait > 0:
                return wait
            for rule in rules:
                n, _ = self._get(rule.key, now)
                self._counts.pop(rule.key, None)  # re-inserted last: the dict stays oldest first
                self._counts[rule.key] = (n + 1, now)
            if len(self._counts) > MAX_ENTRIES:
                self._evict(now)
            return 0.0

    def undo(self, key: str) -> None:
        """One counted attempt less (a success takes its own back)."""
        with self._lock:
            n, last = self._counts.get(key, (0, 0.0))
            if n > 1:
                self._counts[key] = (n - 1, last)
            else:
                self._counts.pop(key, None)

    def forget(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def count(self, key: str) -> int:
        with self._lock:
            return self._get(key, self.clock())[0]

    def set(self, key: str, attempts: int, seconds_ago: float = 0.0) -> None:
        """Set a count directly (tests, and an operator's console)."""
        with self._lock:
            self._counts[key] = (attempts, self.clock() - seconds_ago)

    def _get(self, key: str, now: float) -> tuple[int, float]:
        n, last = self._counts.get(key, (0, 0.0))
        if n and now - last >= self.memory:
            del self._counts[key]
            return 0, 0.0
        return n, last

    def _evict(self, now: float) -> None:
        for key in [k for k, (_, last) in self._counts.items() if now - last >= self.memory]:
            del self._counts[key]
        excess = len(self._counts) - MAX_ENTRIES * 9 // 10
        for key in list(self._counts)[: max(0, excess)]:  # the oldest attempts first
            del self._counts[key]


# KEYS: the attempt's keys. ARGV[1]: memory (ms), ARGV[2]: longest delay (ms), ARGV[3]: now (ms;
# negative = the Redis server's clock), then for each key its free failures and 1 for a hard
# budget. Returns 0 when counted, else ms to wait.
ATTEMPT_LUA = """
local now = tonumber(ARGV[3])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local memory = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local wait = 0
local counts = {}
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[2 + 2 * i])
  local hard = ARGV[3 + 2 * i] == '1'
  local v = redis.call('HMGET', key, 'n', 't')
  local n = tonumber(v[1]) or 0
  local last = tonumber(v[2]) or 0
  if n > 0 and now - last >= memory then n = 0 end
  counts[i] = n
  local w = 0
  if hard then
    if n >= free then w = last + memory - now end
  elseif n >= free then
    w = last + math.min(cap, 1000 * 2 ^ math.min(n - free + 1, 40)) - now
  end
  if w > wait then wait = w end
end
if wait > 0 then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'n', counts[i] + 1, 't', now)
  redis.call('PEXPIRE', key, memory)
end
return 0
"""

UNDO_LUA = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n > 1 then redis.call('HINCRBY', KEYS[1], 'n', -1) elseif n == 1 then redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore:
    """The same counts in Redis, shared by every worker; in-process while Redis is down."""

    def __init__(
        self,
        client: Any,
        cap: float,
        prefix: str = "veche",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.cap = cap
        self.clock = clock  # None: the Redis server's clock (tests inject one)
        self.memory = float(FAILURE_MEMORY)
        self.namespace = f"{prefix}:lt:"
        self.fallback = MemoryStore(cap)
        self._client = client
        self._attempt = client.register_script(ATTEMPT_LUA)
        self._undo = client.register_script(UNDO_LUA)
        self._down_until = 0.0
        self._last_logged = -math.inf
        self._lock = threading.Lock()

    def attempt(self, rules: Sequence[Rule]) -> float:
        now_ms = -1 if self.clock is None else int(self.clock() * 1000)
        args: list[Any] = [int(self.memory * 1000), int(self.cap * 1000), now_ms]
        for rule in rules:
            args += [rule.free, 1 if rule.hard else 0]
        keys = [self.namespace + r.key for r in rules]
        result = self._call(lambda: self._attempt(keys=keys, args=args))
        if result is None:
            return self.fallback.attempt(rules)
        return int(result) / 1000

    def undo(self, key: str) -> None:
        if self._call(lambda: self._undo(keys=[self.namespace + key])) is None:
            self.fallback.undo(key)

    def forget(self, key: str) -> None:
        if self._call(lambda: self._client.delete(self.namespace + key)) is None:
            self.fallback.forget(key)

    def count(self, key: str) -> int:
        value = self._call(lambda: self._client.hget(self.namespace + key, "n") or b"0")
        return self.fallback.count(key) if value is None else int(value)

    def set(self, key: str, attempts: int, seconds_ago: float = 0.0) -> None:
        """Set a count directly, ``seconds_ago`` on the store's clock (tests)."""
        if self.clock is None:
            seconds, micros = self._client.time()
            now_ms = seconds * 1000 + micros // 1000
        else:
            now_ms = int(self.clock() * 1000)
        name = self.namespace + key
        self._client.hset(name, mapping={"n": attempts, "t": now_ms - int(seconds_ago * 1000)})
        self._client.pexpire(name, int(self.memory * 1000))

    def _call(self, fn: Callable[[], Any]) -> Any:
        """``fn()``, or None when Redis is (or was just) unreachable."""
        now = time.monotonic()
        if now < self._down_until:
            return None
        try:
            return fn()
        except Exception as exc:  # redis.RedisError, OSError: never fail the request for it
            with self._lock:
                self._down_until = now + RETRY_AFTER_FAILURE
                if now - self._last_logged < LOG_EVERY:
                    return None
                self._last_logged = now
            log.error(
                "login throttle: Redis is unreachable (%s: %s); counting failed logins in this "
                "process only until it answers again",
                type(exc).__name__,
                exc,
            )
            return None


Store = MemoryStore | RedisStore


class Throttle:
    """The settings, the store and the device-cookie signer of one application."""

    def __init__(self, settings: Settings, store: Store | None = None, redis: Any = None) -> None:
        self.settings = settings
        cap = float(settings.login_max_delay)
        if store is None:
            store = (
                RedisStore(redis, cap, settings.redis_prefix)
                if redis is not None
                else MemoryStore(cap)
            )
        self.store: Store = store
        self.signer = URLSafeTimedSerializer(settings.secret_key, salt=DEVICE_SALT)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if isinstance(self.store, MemoryStore):  # in-process: no I/O
            return fn(*args)
        return await run_in_threadpool(fn, *args)  # Redis: a round trip, off the event loop


def throttle(request: Request) -> Throttle:
    """The application's throttle (made on first use; tests may put their own in app.state)."""
    state = request.app.state
    found = getattr(state, "login_throttle", None)
    if found is None:
        found = Throttle(state.settings, redis=getattr(state, "redis", None))
        state.login_throttle = found
    return found


# --- device cookies ------------------------------------------------------------------------------


def _device(request: Request, th: Throttle) -> tuple[str, list[str]] | None:
    """(device id, account tags) of a valid device cookie, else None."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > DEVICE_COOKIE_MAX:
        return None
    try:
        data = th.signer.loads(raw, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    device, accounts = data.get("d"), data.get("a")
    if not isinstance(device, str) or not isinstance(accounts, list):
        return None
    return device, [a for a in accounts if isinstance(a, str)]


def _tag(account: str) -> str:
    return account.split(":", 1)[1][:24]


def remember_device(request: Request, response: Response, email: str) -> None:
    """Give this browser a device cookie for ``email``'s account (after a successful login)."""
    th = throttle(request)
    tag = _tag(account_key(th.settings.secret_key, email))
    found = _device(request, th)
    device, accounts = found if found else (secrets.token_hex(16), [])
    accounts = [a for a in accounts if a != tag][-(DEVICE_ACCOUNTS - 1) :] + [tag]
    response.set_cookie(
        DEVICE_COOKIE,
        th.signer.dumps({"d": device, "a": accounts}),
        max_age=DEVICE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=th.settings.secure_cookies,
    )


# --- the two calls of a login path ---------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    account: str
    ip: str
    device: str | None  # the device's key when counted against a trusted device cookie
    known_device: str | None  # the device's key when its cookie names the account at all


def _message(wait: int) -> RateLimited:
    if wait < 120:
        error = RateLimited(MESSAGE_SECONDS, seconds=wait)
    else:
        error = RateLimited(MESSAGE_MINUTES, minutes=math.ceil(wait / 60))
    error.retry_after = wait
    return error


async def guard(request: Request, email: object, bucket: str | None = None) -> None:
    """Count a login attempt for ``email`` before its password is checked.

    RateLimited (429, Retry-After) when the account, the client's IP address (or the per-minute
    flood brake ``bucket`` of webapp.kernel.ratelimit, when given) must wait. A browser with a trusted
    device cookie for the account is counted against its device only.
    """
    th = throttle(request)
    settings = th.settings
    norm = normalise_email(email)
    account = account_key(settings.secret_key, norm)
    ip_key = bounded_key(f"ip:{client_ip(request)}")
    found = _device(request, th)
    known = f"dev:{found[0]}" if found and _tag(account) in found[1] else None
    if known is not None:
        rule = Rule(known, settings.login_device_failures, hard=True)
        if await th.run(th.store.attempt, [rule]) == 0:
            request.state.login_attempt = Attempt(account, ip_key, known, known)
            return
    if bucket is not None:
        await rate_limit(request, bucket, f"ip:{client_ip(request)}")
    rules = [
        Rule(account, settings.login_free_failures),
        Rule(ip_key, settings.login_ip_free_failures),
    ]
    wait = await th.run(th.store.attempt, rules)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        await _audit_throttled(request, norm, seconds)
        raise _message(seconds)
    request.state.login_attempt = Attempt(account, ip_key, None, known)


async def result(request: Request, email: object, ok: bool, user_id: int | None = None) -> None:
    """After the password check of the attempt ``guard`` let through: a failure stays counted,
    a success clears the account's count (and its device's), and takes its attempt off the IP's."""
    attempt: Attempt | None = getattr(request.state, "login_attempt", None)
    request.state.login_attempt = None
    if attempt is None or not ok:
        return
    th = throttle(request)
    if attempt.account != account_key(th.settings.secret_key, normalise_email(email)):
        return  # not the attempt guard counted
    await th.run(th.store.forget, attempt.account)
    if attempt.known_device is not None:
        await th.run(th.store.forget, attempt.known_device)
    if attempt.device is None:
        await th.run(th.store.undo, attempt.ip)


async def _audit_throttled(request: Request, email: str, retry_after: int) -> None:
    """A ``login_throttled`` event: the account's when it exists, else a tag of the e-mail."""
    via = "api" if request.url.path.startswith("/api/") else "site"
    work = functools.partial(
        login_audit.record_for_address,
        email=email,
        kind="login_throttled",
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        retry_after=retry_after,
        via=via,
    )
    try:
        await db(request, work)
    except Exception:  # the audit must never turn a 429 into an error
        log.warning("login throttle: could not record a login_throttled event", exc_info=True)
