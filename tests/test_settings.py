"""Settings validate themselves, and every one of them is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.kernel.settings import PLACEHOLDER_SECRET, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_readme_and_env_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for var in Settings.ENV_NAMES.values():
        assert f"`{var}`" in readme, f"{var} is not documented in README.md"
        assert var in example, f"{var} is missing from .env.example"


def test_every_field_has_an_environment_variable() -> None:
    from dataclasses import fields

    assert {f.name for f in fields(Settings)} == set(Settings.ENV_NAMES)


def test_environment_values_are_parsed() -> None:
    s = Settings.from_env(
        {"VECHE_ALLOW_OPPOSE": "yes", "VECHE_PAGE_SIZE": "50", "DATABASE_URL": "sqlite:///x.db"}
    )
    assert s.allow_oppose is True and s.page_size == 50 and s.database_url == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VECHE_PAGE_SIZE": "many"}, "VECHE_PAGE_SIZE must be an integer"),
        ({"VECHE_ALLOW_OPPOSE": "maybe"}, "VECHE_ALLOW_OPPOSE must be true or false"),
        ({"VECHE_ENV": "staging"}, "VECHE_ENV must be"),
        ({"VECHE_DEFAULT_LANGUAGE": "de"}, "VECHE_DEFAULT_LANGUAGE must be one of"),
        ({"VECHE_ENV": "production"}, "SECRET_KEY must be set"),
        ({"VECHE_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"VECHE_WEIGHT_UNVERIFIED": "1.5"}, "VECHE_WEIGHT_UNVERIFIED must be between 0 and 1"),
        ({"VECHE_WEIGHT_SAME_OKRUG": "-0.1"}, "VECHE_WEIGHT_SAME_OKRUG must be between 0 and 1"),
        ({"VECHE_WEIGHT_VERIFIED": "nan"}, "VECHE_WEIGHT_VERIFIED must be a finite number"),
        ({"VECHE_TRENDING_HALF_LIFE_HOURS": "0"}, "VECHE_TRENDING_HALF_LIFE_HOURS must be > 0"),
        ({"VECHE_SUPPORT_BUDGET": "-3"}, "VECHE_SUPPORT_BUDGET must be >= 0"),
        ({"VECHE_DEFAULT_SORT": "hot"}, "VECHE_DEFAULT_SORT must be one of"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_production_accepts_a_real_secret() -> None:
    s = Settings.from_env({"VECHE_ENV": "production", "SECRET_KEY": "k" * 40})
    assert s.secure_cookies and s.secret_key != PLACEHOLDER_SECRET
    assert "k" * 40 not in repr(s)  # secrets are hidden
