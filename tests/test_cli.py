"""The `veche` command line, run in-process (and once as a real process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from webapp.cli import main
from webapp.demo import demo
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import make_engine, make_session_factory, transaction
from webapp.kernel.storage.models import AuditLog, Idea, User

PASSWORD = "a-long-enough-password"
ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def user(url: str, email: str) -> User | None:
    engine = make_engine(Settings(database_url=url, environment="test"))
    try:
        with transaction(make_session_factory(engine)) as session:
            return session.scalar(select(User).where(User.email == email))
    finally:
        engine.dispose()


def test_help_works_as_a_real_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webapp", "seed-demo", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--if-empty" in result.stdout and "--data" in result.stdout
    script = Path(sys.executable).parent / "veche"
    if script.exists():
        result = subprocess.run(
            [str(script), "--help"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0 and "seed-demo" in result.stdout and "import" in result.stdout


def test_commands_refuse_a_database_without_tables(
    capsys: pytest.CaptureFixture[str], sqlite_file: str
) -> None:
    for args in (
        ["seed-demo", "--quiet"],
        ["import", "x.csv"],
        ["user", "grant", "admin", "a@b.cd"],
    ):
        code, _out, err = run(capsys, sqlite_file, *args)
        assert code == 2
        assert "no tables" in err and "veche migrate" in err


def test_migrate_then_seed_an_own_database(
    capsys: pytest.CaptureFixture[str], sqlite_file: str
) -> None:
    code, out, _err = run(capsys, sqlite_file, "migrate")
    assert code == 0 and "revision head" in out
    code, out, _err = run(capsys, sqlite_file, "seed-demo", "--limit", "2", "--quiet")
    assert code == 0
    assert "citizen@demo.veche.local" in out and demo.DEMO_PASSWORD in out and "/login" in out
    code, out, _err = run(capsys, sqlite_file, "seed-demo", "--if-empty", "--quiet")
    assert code == 0 and "nothing was seeded" in out
    assert "citizen@demo.veche.local" in out  # `make run` shows the accounts every time


def test_unreachable_database_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "postgresql://postgres@127.0.0.1:1/nowhere", "migrate")
    assert code == 2
    assert err.startswith("veche: error: database error:") and "Traceback" not in err


def test_seed_demo_full_reads_the_data_dir_setting(
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VECHE_DATA_DIR", str(tmp_path))
    code, _out, err = run(capsys, settings.database_url, "seed-demo", "--full", "--quiet")
    assert code == 2 and str(tmp_path / "uk_petitions" / "petitions.jsonl") in err


def test_seed_demo_reports_what_it_stored(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    code, out, _err = run(capsys, settings.database_url, "seed-demo", "--limit", "3", "--quiet")
    assert code == 0
    assert "uk_petitions: 3 ideas" in out and "decide_madrid: 3 ideas" in out
    assert "admin@demo.veche.local" in out


def test_seed_demo_names_a_missing_data_file(
    capsys: pytest.CaptureFixture[str], settings: Settings, tmp_path: Path
) -> None:
    code, _out, err = run(
        capsys, settings.database_url, "seed-demo", "--data", str(tmp_path), "--quiet"
    )
    assert code == 2 and str(tmp_path / "uk_petitions" / "petitions.jsonl") in err


def test_import_stores_reports_and_signals_row_errors(
    capsys: pytest.CaptureFixture[str], settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "title,body,category\nShade over the bus stop,Please add a roof to the stop near school.,transport\n",
        encoding="utf-8",
    )
    code, out, _err = run(
        capsys, settings.database_url, "import", str(good), "--dry-run", "--quiet"
    )
    assert code == 0 and "nothing was stored" in out
    code, out, _err = run(capsys, settings.database_url, "import", str(good), "--quiet")
    assert code == 0 and "1 idea imported" in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"title": "Bad", "body": "A body that is long enough.", "category": "other"}\n',
        encoding="utf-8",
    )
    code, out, _err = run(capsys, settings.database_url, "import", str(bad), "--quiet")
    assert code == 1 and "row 1: title: Must be at least 5 characters long." in out
    engine = make_engine(settings)
    with transaction(make_session_factory(engine)) as session:
        assert session.scalars(select(Idea.title)).all() == ["Shade over the bus stop"]
    engine.dispose()


def test_import_errors_name_the_problem(
    capsys: pytest.CaptureFixture[str], settings: Settings, tmp_path: Path
) -> None:
    code, _out, err = run(capsys, settings.database_url, "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv" in err
    path = tmp_path / "ideas.csv"
    path.write_text("title,body,category\n", encoding="utf-8")
    code, _out, err = run(
        capsys, settings.database_url, "import", str(path), "--author", "ghost@example.org"
    )
    assert code == 2 and "ghost@example.org" in err


def test_user_create_grant_block_and_token(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    url = settings.database_url
    code, out, _err = run(
        capsys, url, "user", "create", "ops@example.org", "--password", PASSWORD, "--verified"
    )
    assert code == 0 and "Created citizen ops@example.org" in out
    code, out, _err = run(capsys, url, "user", "grant", "moderator", "ops@example.org")
    assert code == 0 and "is now moderator" in out
    code, out, _err = run(capsys, url, "user", "block", "ops@example.org", "--reason", "test")
    assert code == 0 and "blocked" in out
    stored = user(url, "ops@example.org")
    assert (
        stored is not None
        and stored.role == "moderator"
        and stored.blocked
        and stored.verified_resident
    )
    code, out, _err = run(capsys, url, "user", "block", "ops@example.org", "--unblock")
    assert code == 0 and "unblocked" in out
    code, out, err = run(capsys, url, "user", "token", "ops@example.org", "--name", "ci")
    assert code == 0 and out.strip().startswith("veche_") and "shown only once" in err
    assert "expires on" in err  # every token expires (tests/test_api_tokens.py)
    engine = make_engine(settings)
    with transaction(make_session_factory(engine)) as session:
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    engine.dispose()
    assert actions == ["user.grant", "user.block", "user.unblock", "api_token.create"]


def test_user_commands_explain_errors(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    url = settings.database_url
    for args in (
        ["user", "grant", "admin", "nobody@example.org"],
        ["user", "block", "nobody@example.org"],
        ["user", "token", "nobody@example.org"],
        ["user", "tokens", "nobody@example.org"],
        ["user", "revoke-token", "nobody@example.org", "--all"],
    ):
        code, _out, err = run(capsys, url, *args)
        assert code == 2 and "No user with e-mail nobody@example.org" in err
    code, _out, err = run(capsys, url, "user", "create", "weak@example.org", "--password", "short")
    assert code == 2 and "password" in err and "at least 10" in err
    run(capsys, url, "user", "create", "dup@example.org", "--password", PASSWORD)
    code, _out, err = run(capsys, url, "user", "create", "dup@example.org", "--password", PASSWORD)
    assert code == 2 and "already exists" in err
    with pytest.raises(SystemExit) as caught:
        main(["--database-url", url, "user", "grant", "emperor", "dup@example.org"])
    assert caught.value.code == 2
    assert "invalid choice: 'emperor'" in capsys.readouterr().err
