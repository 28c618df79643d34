"""Settings validate themselves by the bounds declared on their fields, and all are documented."""

from __future__ import annotations

from dataclasses import Field, fields, replace
from pathlib import Path
from typing import Any

import pytest

from webapp.kernel.settings import (
    GROUPS,
    PLACEHOLDER_SECRET,
    Settings,
    SettingsError,
    number_text,
    parse_field,
)

ROOT = Path(__file__).resolve().parents[1]
# Read by ml/ itself, not through Settings; documented by hand in docs/settings.md's template.
ML_VARIABLES = ("VECHE_MODEL_CONFIG_DIR", "VECHE_EMBED_CACHE")
SETTINGS = {f.name: f for f in fields(Settings)}


def test_every_setting_is_documented_in_docs_and_env_example() -> None:
    docs = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for var in (*Settings.ENV_NAMES.values(), *ML_VARIABLES):
        assert f"`{var}`" in docs, f"{var} is not documented in docs/settings.md (make docs)"
        assert f"{var}=" in example, f"{var} is missing from .env.example"


def test_env_example_is_valid_and_shows_the_defaults() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    env = dict(
        line.split("=", 1) for line in map(str.strip, lines) if line and not line.startswith("#")
    )
    parsed, defaults = Settings.from_env(env), Settings()
    differ = {
        f.name for f in fields(Settings) if getattr(parsed, f.name) != getattr(defaults, f.name)
    }
    assert differ == {"secret_key"}  # left empty there, to be filled in


def test_every_field_declares_its_variable_group_help_and_bounds() -> None:
    variables = [f.metadata.get("env") for f in fields(Settings)]
    assert len(set(variables)) == len(variables) and None not in variables
    assert dict(Settings.ENV_NAMES) == {f.name: f.metadata["env"] for f in fields(Settings)}
    for f in fields(Settings):
        assert f.metadata["group"] in GROUPS, f.name
        assert len(f.metadata["help"]) > 5, f.name
        if f.type in ("int", "float"):
            # every number has a lower bound (from_env once refused negative integers for all)
            assert "low" in f.metadata or "above" in f.metadata, f"{f.name} has no lower bound"


def test_environment_values_are_parsed() -> None:
    s = Settings.from_env(
        {
            "VECHE_ALLOW_OPPOSE": "yes",
            "VECHE_PAGE_SIZE": "50",
            "DATABASE_URL": "sqlite:///x.db",
            "VECHE_LANGUAGES": " en , ru ,",
            "VECHE_TRENDING_HALF_LIFE_HOURS": "0.5",
        }
    )
    assert s.allow_oppose is True and s.page_size == 50 and s.database_url == "sqlite:///x.db"
    assert s.languages == ("en", "ru") and s.trending_half_life_hours == 0.5


def _outside(f: Field[Any]) -> list[float]:
    """Values just outside ``f``'s declared bounds."""
    meta, step = f.metadata, (1 if f.type == "int" else 0.001)
    values = []
    if "low" in meta:
        values.append(meta["low"] - step)
    if "above" in meta:
        values.append(meta["above"])
    if "high" in meta:
        values.append(meta["high"] + step)
    return values


BOUNDED = [f for f in fields(Settings) if {"low", "high", "above"} & set(f.metadata)]


@pytest.mark.parametrize("f", BOUNDED, ids=lambda f: f.metadata["env"])
def test_from_env_enforces_each_fields_declared_bounds(f: Field[Any]) -> None:
    var = f.metadata["env"]
    for value in _outside(f):
        with pytest.raises(SettingsError, match=f"^{var} must be"):
            Settings.from_env({var: number_text(value)})
        with pytest.raises(SettingsError, match=f"^{var} must be"):
            changes: dict[str, Any] = {f.name: value}
            replace(Settings(), **changes)  # the constructor checks the same bounds
    for key in ("low", "high"):  # the bounds themselves are allowed
        if key in f.metadata:
            edge = f.metadata[key]
            assert parse_field(f, number_text(edge)) == edge


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VECHE_PAGE_SIZE": "many"}, "VECHE_PAGE_SIZE must be an integer"),
        ({"VECHE_PAGE_SIZE": "0"}, "VECHE_PAGE_SIZE must be between 1 and 200, got 0"),
        ({"VECHE_ALLOW_OPPOSE": "maybe"}, "VECHE_ALLOW_OPPOSE must be true or false"),
        ({"VECHE_ENV": "staging"}, "VECHE_ENV must be"),
        ({"VECHE_LANGUAGES": "ru,de"}, "VECHE_LANGUAGES must list some of ru, en"),
        ({"VECHE_LANGUAGES": ","}, "VECHE_LANGUAGES must list some of ru, en"),
        ({"VECHE_DEFAULT_LANGUAGE": "de"}, "VECHE_DEFAULT_LANGUAGE must be one of"),
        ({"VECHE_ENV": "production"}, "SECRET_KEY must be set"),
        ({"VECHE_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"VECHE_WEIGHT_UNVERIFIED": "1.5"}, "VECHE_WEIGHT_UNVERIFIED must be between 0 and 1"),
        ({"VECHE_WEIGHT_SAME_OKRUG": "-0.1"}, "VECHE_WEIGHT_SAME_OKRUG must be between 0 and 1"),
        ({"VECHE_WEIGHT_VERIFIED": "nan"}, "VECHE_WEIGHT_VERIFIED must be a finite number"),
        (
            {"VECHE_WEIGHT_VERIFIED": "0", "VECHE_WEIGHT_UNVERIFIED": "0"},
            "cannot both be 0",
        ),
        ({"VECHE_TRENDING_HALF_LIFE_HOURS": "0"}, "VECHE_TRENDING_HALF_LIFE_HOURS must be > 0"),
        ({"VECHE_SUPPORT_BUDGET": "-3"}, "VECHE_SUPPORT_BUDGET must be >= 0"),
        ({"VECHE_DEFAULT_SORT": "hot"}, "VECHE_DEFAULT_SORT must be one of"),
        ({"VECHE_PORT": "70000"}, "VECHE_PORT must be between 0 and 65535"),
        (
            {"VECHE_PASSWORD_MIN_LENGTH": "300"},
            "VECHE_PASSWORD_MIN_LENGTH must not exceed VECHE_PASSWORD_MAX_LENGTH",
        ),
        (
            {"VECHE_LOGIN_FREE_FAILURES": "60"},
            "VECHE_LOGIN_FREE_FAILURES must not exceed VECHE_LOGIN_IP_FREE_FAILURES",
        ),
        (
            {"VECHE_API_TOKEN_DAYS": "400"},
            "VECHE_API_TOKEN_DAYS must not exceed VECHE_API_TOKEN_MAX_DAYS",
        ),
        ({"VECHE_TRUSTED_PROXIES": "10.0.0.1,proxy"}, "VECHE_TRUSTED_PROXIES must list IP"),
        ({"VECHE_REDIS_URL": "http://r"}, "VECHE_REDIS_URL must start with"),
        ({"VECHE_BASE_URL": "veche.example"}, "VECHE_BASE_URL must start with"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_production_accepts_a_real_secret() -> None:
    s = Settings.from_env({"VECHE_ENV": "production", "SECRET_KEY": "k" * 40})
    assert s.secure_cookies and s.secret_key != PLACEHOLDER_SECRET
    assert "k" * 40 not in repr(s)  # secrets are hidden
    secrets = {name for name, f in SETTINGS.items() if not f.repr}
    assert secrets == {"secret_key", "redis_url", "smtp_password"}
