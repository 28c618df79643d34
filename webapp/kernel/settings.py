"""Veche settings: the only place that reads environment variables.

Every field is documented in README.md (a test checks it). Build a ``Settings`` directly in
tests instead of patching the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

PLACEHOLDER_SECRET = "dev-insecure-secret-change-me"
AVAILABLE_LANGUAGES = ("ru", "en")  # the catalogs in webapp/i18n


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name} must be a finite number, got {raw!r}")
    return value


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
}

RANKED_SORTS = ("top", "confident", "trending", "broad", "new", "random", "controversial")


@dataclass(frozen=True)
class Settings:
    """Validated configuration. ``env`` names below are the environment variables."""

    database_url: str = "sqlite:///./veche.db"
    db_pool_size: int = 20  # database connections per worker for requests (docs/operations.md)
    secret_key: str = field(default=PLACEHOLDER_SECRET, repr=False)
    environment: str = "development"
    default_language: str = "ru"
    languages: tuple[str, ...] = ("ru", "en")
    allow_oppose: bool = False
    page_size: int = 20
    max_body_bytes: int = 1_048_576
    title_max_length: int = 200
    body_max_length: int = 10_000
    comment_max_length: int = 5_000
    data_dir: str = "../shared/data"
    host: str = "127.0.0.1"
    port: int = 8000
    # Sessions (server-side, webapp/accounts/sessions.py): absolute lifetime and idle timeout,
    # shorter for staff (moderators, officials, admins).
    session_max_age: int = 14 * 24 * 3600
    session_idle_seconds: int = 7 * 24 * 3600
    staff_session_max_age: int = 12 * 3600
    staff_session_idle_seconds: int = 30 * 60
    # Addresses of reverse proxies whose X-Forwarded-For is believed (IPs or CIDR networks,
    # comma-separated); empty = none, the peer address is the client.
    trusted_proxies: tuple[str, ...] = ()
    # API tokens: default and longest lifetime in days, and how many one account may hold.
    api_token_days: int = 90
    api_token_max_days: int = 365
    api_tokens_per_user: int = 10
    login_rate_limit: int = 10
    # Login throttle (webapp/accounts/login_throttle.py): failures free of delay per account and per IP
    # address, the longest delay (seconds), and the failures a trusted device cookie may make.
    login_free_failures: int = 5
    login_ip_free_failures: int = 50
    login_max_delay: int = 900
    login_device_failures: int = 10
    write_rate_limit: int = 60
    similar_rate_limit: int = 120
    search_rate_limit: int = 30  # uncached searches by meaning per client and minute
    similar_concurrency: int = 2  # uncached similarity lookups at once per worker
    # Per-bucket limits (per minute); 0 = inherit (see rate_limits). Shared through Redis if set.
    submit_rate_limit: int = 0
    vote_rate_limit: int = 0
    comment_rate_limit: int = 0
    report_rate_limit: int = 0
    register_rate_limit: int = 0
    token_rate_limit: int = 0
    redis_url: str = field(default="", repr=False)
    redis_prefix: str = "veche"
    password_max_length: int = 256
    password_min_length: int = 10
    timezone: str = "Europe/Moscow"
    # Ranking (docs/ranking.md): vote weights, trending half-life, how often workers sync.
    default_sort: str = "confident"
    weight_verified: float = 1.0
    weight_unverified: float = 0.5
    weight_same_district: float = 1.0
    weight_same_okrug: float = 0.75
    weight_other_district: float = 0.5
    support_budget: int = 0
    max_suspicion_discount: float = 0.9
    trending_half_life_hours: float = 72.0
    ranking_poll_seconds: float = 1.0
    view_flush_seconds: float = 5.0
    # Duplicate detection (docs/operations.md, "Embeddings and duplicate detection").
    embedding_model: str = "veche-embedded-v1"
    model_config: str = ""
    index_dir: str = ""
    embed_threads: int = 0
    similar_min_score: float = 0.2
    page_cache_seconds: float = 1.0
    # Moderation and officials (docs/moderation.md).
    # Report *weight* (not a count) that hides a target pending review: services.moderation.
    auto_hide_reports: int = 3
    response_threshold: int = 100
    response_days: int = 30
    # E-mail of notifications: off while smtp_host is empty.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_from: str = "Veche <noreply@veche.local>"
    base_url: str = "http://127.0.0.1:8000"
    email_poll_seconds: float = 10.0

    ENV_NAMES = {
        "database_url": "DATABASE_URL",
        "db_pool_size": "VECHE_DB_POOL_SIZE",
        "secret_key": "SECRET_KEY",
        "environment": "VECHE_ENV",
        "default_language": "VECHE_DEFAULT_LANGUAGE",
        "languages": "VECHE_LANGUAGES",
        "allow_oppose": "VECHE_ALLOW_OPPOSE",
        "page_size": "VECHE_PAGE_SIZE",
        "max_body_bytes": "VECHE_MAX_BODY_BYTES",
        "title_max_length": "VECHE_TITLE_MAX_LENGTH",
        "body_max_length": "VECHE_BODY_MAX_LENGTH",
        "comment_max_length": "VECHE_COMMENT_MAX_LENGTH",
        "data_dir": "VECHE_DATA_DIR",
        "host": "VECHE_HOST",
        "port": "VECHE_PORT",
        "session_max_age": "VECHE_SESSION_MAX_AGE",
        "session_idle_seconds": "VECHE_SESSION_IDLE_SECONDS",
        "staff_session_max_age": "VECHE_STAFF_SESSION_MAX_AGE",
        "staff_session_idle_seconds": "VECHE_STAFF_SESSION_IDLE_SECONDS",
        "trusted_proxies": "VECHE_TRUSTED_PROXIES",
        "api_token_days": "VECHE_API_TOKEN_DAYS",
        "api_token_max_days": "VECHE_API_TOKEN_MAX_DAYS",
        "api_tokens_per_user": "VECHE_API_TOKENS_PER_USER",
        "login_rate_limit": "VECHE_LOGIN_RATE_LIMIT",
        "login_free_failures": "VECHE_LOGIN_FREE_FAILURES",
        "login_ip_free_failures": "VECHE_LOGIN_IP_FREE_FAILURES",
        "login_max_delay": "VECHE_LOGIN_MAX_DELAY",
        "login_device_failures": "VECHE_LOGIN_DEVICE_FAILURES",
        "write_rate_limit": "VECHE_WRITE_RATE_LIMIT",
        "similar_rate_limit": "VECHE_SIMILAR_RATE_LIMIT",
        "search_rate_limit": "VECHE_SEARCH_RATE_LIMIT",
        "similar_concurrency": "VECHE_SIMILAR_CONCURRENCY",
        "submit_rate_limit": "VECHE_SUBMIT_RATE_LIMIT",
        "vote_rate_limit": "VECHE_VOTE_RATE_LIMIT",
        "comment_rate_limit": "VECHE_COMMENT_RATE_LIMIT",
        "report_rate_limit": "VECHE_REPORT_RATE_LIMIT",
        "register_rate_limit": "VECHE_REGISTER_RATE_LIMIT",
        "token_rate_limit": "VECHE_TOKEN_RATE_LIMIT",
        "redis_url": "VECHE_REDIS_URL",
        "redis_prefix": "VECHE_REDIS_PREFIX",
        "password_max_length": "VECHE_PASSWORD_MAX_LENGTH",
        "password_min_length": "VECHE_PASSWORD_MIN_LENGTH",
        "timezone": "VECHE_TIMEZONE",
        "default_sort": "VECHE_DEFAULT_SORT",
        "weight_verified": "VECHE_WEIGHT_VERIFIED",
        "weight_unverified": "VECHE_WEIGHT_UNVERIFIED",
        "weight_same_district": "VECHE_WEIGHT_SAME_DISTRICT",
        "weight_same_okrug": "VECHE_WEIGHT_SAME_OKRUG",
        "weight_other_district": "VECHE_WEIGHT_OTHER_DISTRICT",
        "support_budget": "VECHE_SUPPORT_BUDGET",
        "max_suspicion_discount": "VECHE_MAX_SUSPICION_DISCOUNT",
        "trending_half_life_hours": "VECHE_TRENDING_HALF_LIFE_HOURS",
        "ranking_poll_seconds": "VECHE_RANKING_POLL_SECONDS",
        "view_flush_seconds": "VECHE_VIEW_FLUSH_SECONDS",
        "embedding_model": "VECHE_EMBEDDING_MODEL",
        "model_config": "VECHE_MODEL_CONFIG",
        "index_dir": "VECHE_INDEX_DIR",
        "embed_threads": "VECHE_EMBED_THREADS",
        "similar_min_score": "VECHE_SIMILAR_MIN_SCORE",
        "page_cache_seconds": "VECHE_PAGE_CACHE_SECONDS",
        "auto_hide_reports": "VECHE_AUTO_HIDE_REPORTS",
        "response_threshold": "VECHE_RESPONSE_THRESHOLD",
        "response_days": "VECHE_RESPONSE_DAYS",
        "smtp_host": "VECHE_SMTP_HOST",
        "smtp_port": "VECHE_SMTP_PORT",
        "smtp_user": "VECHE_SMTP_USER",
        "smtp_password": "VECHE_SMTP_PASSWORD",
        "smtp_starttls": "VECHE_SMTP_STARTTLS",
        "smtp_from": "VECHE_SMTP_FROM",
        "base_url": "VECHE_BASE_URL",
        "email_poll_seconds": "VECHE_EMAIL_POLL_SECONDS",
    }

    def __post_init__(self) -> None:
        if self.environment not in {"development", "test", "production"}:
            raise SettingsError(
                f"VECHE_ENV must be development, test or production, got {self.environment!r}"
            )
        if not self.languages or any(lang not in AVAILABLE_LANGUAGES for lang in self.languages):
            raise SettingsError(
                f"VECHE_LANGUAGES must list some of {', '.join(AVAILABLE_LANGUAGES)}, "
                f"got {','.join(self.languages)!r}"
            )
        if self.default_language not in self.languages:
            raise SettingsError(
                f"VECHE_DEFAULT_LANGUAGE must be one of {', '.join(self.languages)}, "
                f"got {self.default_language!r}"
            )
        if self.environment == "production" and (
            self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32
        ):
            raise SettingsError(
                "SECRET_KEY must be set to a random string of at least 32 characters in production"
            )
        if not self.database_url:
            raise SettingsError("DATABASE_URL must not be empty")
        for name in (
            "weight_verified",
            "weight_unverified",
            "weight_same_district",
            "weight_same_okrug",
            "weight_other_district",
            "max_suspicion_discount",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"{self.ENV_NAMES[name]} must be between 0 and 1, got {value}")
        if self.weight_verified == 0 and self.weight_unverified == 0:
            raise SettingsError(
                "VECHE_WEIGHT_VERIFIED and VECHE_WEIGHT_UNVERIFIED cannot both be 0"
            )
        if self.support_budget < 0:
            raise SettingsError(
                f"VECHE_SUPPORT_BUDGET must be >= 0 (0 = no budget), got {self.support_budget}"
            )
        if not self.trending_half_life_hours > 0:
            raise SettingsError(
                f"VECHE_TRENDING_HALF_LIFE_HOURS must be > 0, got {self.trending_half_life_hours}"
            )
        if not 0.05 <= self.ranking_poll_seconds <= 60:
            raise SettingsError(
                f"VECHE_RANKING_POLL_SECONDS must be 0.05..60, got {self.ranking_poll_seconds}"
            )
        if not 0.1 <= self.view_flush_seconds <= 3600:
            raise SettingsError(
                f"VECHE_VIEW_FLUSH_SECONDS must be 0.1..3600, got {self.view_flush_seconds}"
            )
        if self.default_sort not in RANKED_SORTS:
            raise SettingsError(
                f"VECHE_DEFAULT_SORT must be one of {', '.join(RANKED_SORTS)}, got {self.default_sort!r}"
            )
        if not self.embedding_model.strip():
            raise SettingsError("VECHE_EMBEDDING_MODEL must name a model, a local path, or 'off'")
        if not 1 <= self.db_pool_size <= 200:
            raise SettingsError(f"VECHE_DB_POOL_SIZE must be 1..200, got {self.db_pool_size}")
        if not 0.0 <= self.page_cache_seconds <= 60.0:
            raise SettingsError(
                f"VECHE_PAGE_CACHE_SECONDS must be 0..60 (0 = off), got {self.page_cache_seconds}"
            )
        if not 0.0 <= self.similar_min_score <= 1.0:
            raise SettingsError(
                f"VECHE_SIMILAR_MIN_SCORE must be between 0 and 1, got {self.similar_min_score}"
            )
        if not 1 <= self.similar_concurrency <= 64:
            raise SettingsError(
                f"VECHE_SIMILAR_CONCURRENCY must be 1..64, got {self.similar_concurrency}"
            )
        for name in (
            "login_rate_limit",
            "write_rate_limit",
            "similar_rate_limit",
            "search_rate_limit",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(
                    f"{self.ENV_NAMES[name]} must be at least 1 per minute, got {getattr(self, name)}"
                )
        for name in RATE_LIMIT_BUCKETS.values():
            if (
                name
                not in (
                    "login_rate_limit",
                    "write_rate_limit",
                    "similar_rate_limit",
                    "search_rate_limit",
                )
                and getattr(self, name) < 0
            ):
                raise SettingsError(
                    f"{self.ENV_NAMES[name]} must be >= 0 (0 = inherit), got {getattr(self, name)}"
                )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                "VECHE_REDIS_URL must start with redis://, rediss:// or unix:// (or be empty)"
            )
        if not self.redis_prefix.strip() or any(c.isspace() for c in self.redis_prefix):
            raise SettingsError(f"VECHE_REDIS_PREFIX must be a word, got {self.redis_prefix!r}")
        if not 8 <= self.password_min_length <= self.password_max_length <= 1024:
            raise SettingsError(
                "VECHE_PASSWORD_MIN_LENGTH must be at least 8 and VECHE_PASSWORD_MAX_LENGTH "
                f"between it and 1024, got {self.password_min_length} and {self.password_max_length}"
            )
        if self.auto_hide_reports < 0:
            raise SettingsError(
                f"VECHE_AUTO_HIDE_REPORTS must be >= 0 (0 = never), got {self.auto_hide_reports}"
            )
        if self.response_threshold < 1:
            raise SettingsError(
                f"VECHE_RESPONSE_THRESHOLD must be at least 1, got {self.response_threshold}"
            )
        if self.response_days < 1:
            raise SettingsError(f"VECHE_RESPONSE_DAYS must be at least 1, got {self.response_days}")
        if not 1 <= self.smtp_port <= 65535:
            raise SettingsError(f"VECHE_SMTP_PORT must be 1..65535, got {self.smtp_port}")
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"VECHE_BASE_URL must start with http:// or https://, got {self.base_url!r}"
            )
        if not 0.1 <= self.email_poll_seconds <= 3600:
            raise SettingsError(
                f"VECHE_EMAIL_POLL_SECONDS must be 0.1..3600, got {self.email_poll_seconds}"
            )
        for name, low in (
            ("session_max_age", 300),
            ("session_idle_seconds", 60),
            ("staff_session_max_age", 300),
            ("staff_session_idle_seconds", 60),
        ):
            if getattr(self, name) < low:
                raise SettingsError(
                    f"{self.ENV_NAMES[name]} must be at least {low} seconds, got {getattr(self, name)}"
                )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"VECHE_TRUSTED_PROXIES must list IP addresses or networks, got {proxy!r}"
                ) from None
        if not 1 <= self.login_free_failures <= self.login_ip_free_failures <= 100_000:
            raise SettingsError(
                "VECHE_LOGIN_FREE_FAILURES must be at least 1 and VECHE_LOGIN_IP_FREE_FAILURES "
                f"between it and 100000, got {self.login_free_failures} and "
                f"{self.login_ip_free_failures}"
            )
        if not 1 <= self.login_max_delay <= 86_400:
            raise SettingsError(
                f"VECHE_LOGIN_MAX_DELAY must be 1..86400 seconds, got {self.login_max_delay}"
            )
        if not 1 <= self.login_device_failures <= 1000:
            raise SettingsError(
                f"VECHE_LOGIN_DEVICE_FAILURES must be 1..1000, got {self.login_device_failures}"
            )
        if not 1 <= self.api_token_days <= self.api_token_max_days <= 3650:
            raise SettingsError(
                "VECHE_API_TOKEN_DAYS must be at least 1 and VECHE_API_TOKEN_MAX_DAYS between it "
                f"and 3650, got {self.api_token_days} and {self.api_token_max_days}"
            )
        if not 1 <= self.api_tokens_per_user <= 1000:
            raise SettingsError(
                f"VECHE_API_TOKENS_PER_USER must be 1..1000, got {self.api_tokens_per_user}"
            )
        if self.page_size < 1 or self.page_size > 200:
            raise SettingsError(f"VECHE_PAGE_SIZE must be 1..200, got {self.page_size}")

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
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in cls.ENV_NAMES.items():
            if var not in env:
                continue
            raw = env[var]
            kind = types[name]
            if kind == "tuple[str, ...]":
                kwargs[name] = tuple(p.strip() for p in raw.split(",") if p.strip())
            elif kind == "bool":
                kwargs[name] = _bool(var, raw)
            elif kind == "int":
                kwargs[name] = _int(var, raw)
            elif kind == "float":
                kwargs[name] = _float(var, raw)
            else:
                kwargs[name] = raw
        kwargs.update(overrides)
        return cls(**kwargs)  # type: ignore[arg-type]


def normalise_database_url(url: str) -> str:
    """Map ``postgresql://`` URLs to the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
