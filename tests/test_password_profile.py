"""The argon2 cost profiles (webapp/kernel/security.py): tests hash at the cheapest cost, a server
never does.

tests/conftest.py chooses the "test" profile at import; the fixture ``production_password_profile``
puts the production cost back for one test. The production cost is exercised end to end here
(register and log in through the app), and the cheap profile is shown refused or inactive
wherever the environment is production.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import extract_parameters
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser
from webapp.app import create_app
from webapp.kernel import security
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import User

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = security.PASSWORD_PROFILES["production"]
CHEAP = security.PASSWORD_PROFILES["test"]
REAL_SECRET = "a-real-production-secret-0123456789abcdef"


def test_the_suite_runs_on_the_test_profile() -> None:
    assert security.password_profile() == "test"
    assert extract_parameters(security.hash_password("длинный-пароль-42")) == CHEAP
    # the dummy hash of unknown accounts costs what a real account's hash costs
    assert extract_parameters(security._DUMMY_HASH) == CHEAP


def test_production_profile_end_to_end(
    production_password_profile: None, app: Starlette, session_factory: sessionmaker[Session]
) -> None:
    """Register and log in at the real cost; the hash carries argon2-cffi's default parameters."""
    assert security.password_profile() == "production"
    assert PRODUCTION.memory_cost == 65536 and PRODUCTION.time_cost == 3
    assert extract_parameters(security._DUMMY_HASH) == PRODUCTION
    form = {"email": "anna@example.org", "display_name": "Анна", "password": "длинный-пароль-42"}
    with Browser(app) as browser:
        assert browser.submit("/register", form).status_code == 303
    with transaction(session_factory) as s:
        stored = s.scalar(select(User.password_hash).where(User.email == "anna@example.org"))
    assert stored is not None and extract_parameters(stored) == PRODUCTION
    with Browser(app) as browser:
        wrong = {"email": "anna@example.org", "password": "другой-пароль-7"}
        assert browser.submit("/login", wrong).status_code == 401
        unknown = {"email": "nobody@example.org", "password": "другой-пароль-7"}
        assert browser.submit("/login", unknown).status_code == 401
        browser.login("anna@example.org", "длинный-пароль-42")
        assert browser.get("/api/v1/me").json()["email"] == "anna@example.org"


def test_hashes_of_either_profile_verify_under_the_other(production_password_profile: None) -> None:
    """argon2 keeps its parameters in the hash: the profile only chooses the cost of new ones."""
    real = security.hash_password("пароль-настоящий-1")
    security.use_password_profile("test")
    cheap = security.hash_password("пароль-дешёвый-1")
    assert security.verify_password(real, "пароль-настоящий-1")
    assert not security.verify_password(real, "пароль-дешёвый-1")
    security.use_password_profile("production")
    assert security.verify_password(cheap, "пароль-дешёвый-1")
    assert not security.verify_password(cheap, "пароль-настоящий-1")


def test_the_cheap_profile_is_refused_where_the_environment_is_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VECHE_ENV", "production")
    security.use_password_profile("production")  # always allowed
    try:
        with pytest.raises(security.PasswordProfileError, match="VECHE_ENV=production"):
            security.use_password_profile("test")
        assert security.password_profile() == "production"
        assert extract_parameters(security._DUMMY_HASH) == PRODUCTION
    finally:
        monkeypatch.delenv("VECHE_ENV")
        security.use_password_profile("test")
    with pytest.raises(security.PasswordProfileError, match="unknown password profile"):
        security.use_password_profile("fast")


def test_production_settings_are_refused_while_the_cheap_profile_is_active() -> None:
    production = Settings(environment="production", secret_key=REAL_SECRET)
    with pytest.raises(security.PasswordProfileError, match="'test' password profile is active"):
        security.check_password_profile(production)
    security.check_password_profile(Settings(environment="test"))  # tests may


def test_a_production_process_hashes_at_the_production_cost(tmp_path: Path) -> None:
    """A server process never imports the tests: its profile is production, its dummy hash too."""
    code = (
        "from argon2 import extract_parameters\n"
        "from webapp.app import create_app\n"
        "from webapp.kernel import security\n"
        "from webapp.kernel.settings import Settings\n"
        "create_app(Settings.from_env())\n"
        "security.check_password_profile(Settings.from_env())\n"
        "print(security.password_profile())\n"
        "print(extract_parameters(security.hash_password('пароль-настоящий-1')).memory_cost)\n"
        "print(extract_parameters(security._DUMMY_HASH).memory_cost)\n"
    )
    env = dict(
        os.environ,
        VECHE_ENV="production",
        SECRET_KEY=REAL_SECRET,
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
        VECHE_EMBEDDING_MODEL="off",
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["production", "65536", "65536"]


def test_nothing_in_the_application_chooses_a_profile() -> None:
    """Only the tests call use_password_profile: no module of webapp/ does, nor reads a setting
    for it, so a deployment cannot reach the cheap profile by configuration."""
    callers = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "webapp").rglob("*.py")
        if "use_password_profile(" in path.read_text(encoding="utf-8")
        and path != ROOT / "webapp" / "kernel" / "security.py"
    ]
    assert callers == []
    assert not any("PASSWORD_PROFILE" in var for var in Settings.ENV_NAMES.values())


def test_create_app_refuses_production_settings_on_the_cheap_profile() -> None:
    """A site built with production settings in a process on the test profile does not start."""
    assert security.password_profile() == "test"
    with pytest.raises(security.PasswordProfileError):
        create_app(Settings(environment="production", secret_key=REAL_SECRET))
