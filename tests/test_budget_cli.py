"""`veche budget outcome`: real .pb files in, JSON out; bad input is one line and status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ranking.budgets import greedy, lexicographic_rank
from ranking.pabulib import parse_pb
from webapp import budget_cli
from webapp.cli import main as veche

ROOT = Path(__file__).resolve().parents[1]
WIELICZKA = ROOT / "webapp" / "data" / "pabulib" / "Poland_Wieliczka_2023_Green_Budget.pb"
SHARED = ROOT.parent / "shared" / "data" / "pabulib"
URSUS = SHARED / "Poland_Warszawa_2023_Ursus.pb"
TINY = """META
key;value
budget;100
vote_type;approval
PROJECTS
project_id;cost;votes;name;selected
7;60;2;Park;1
3;50;1;Bench;0
VOTES
voter_id;vote
a;7,3
b;{second}
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = budget_cli.main(["outcome", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _official(path: Path) -> list[str]:
    e = parse_pb(path.read_text(encoding="utf-8"))
    return [e.project_ids[j] for j in np.flatnonzero(e.selected)]


def test_equal_shares_reproduces_wieliczkas_official_outcome(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, str(WIELICZKA), "--rule", "equal-shares")
    assert code == 0, err
    result = json.loads(out)
    assert result["selected"] == _official(WIELICZKA)  # ids as strings, in file order
    assert result["rule"] == "equal-shares" and result["completion"] == "add1-greedy"
    e = parse_pb(WIELICZKA.read_text(encoding="utf-8"))
    cost = {pid: int(c) for pid, c in zip(e.project_ids, e.costs, strict=True)}
    assert result["total_cost"] == sum(cost[p] for p in result["selected"]) <= 1_000_000
    assert (result["budget"], result["voters"], result["projects"]) == (1_000_000, 6586, 64)


def test_greedy_and_other_completions(capsys: pytest.CaptureFixture[str]) -> None:
    e = parse_pb(WIELICZKA.read_text(encoding="utf-8"))
    want = greedy(e.costs, e.ballots, e.budget, tie_rank=lexicographic_rank(e.project_ids))
    code, out, _ = _run(capsys, str(WIELICZKA), "--rule", "greedy")
    result = json.loads(out)
    assert code == 0 and result["completion"] is None
    assert result["selected"] == [e.project_ids[j] for j in want.selected.tolist()]
    assert result["selected"] != _official(WIELICZKA)  # greedy is not what the city used
    totals = {}
    for completion in ("none", "add1", "add1-greedy"):
        code, out, _ = _run(
            capsys, str(WIELICZKA), "--rule", "equal-shares", "--completion", completion
        )
        assert code == 0
        totals[completion] = json.loads(out)["total_cost"]
    assert totals["none"] < totals["add1"] <= totals["add1-greedy"] <= 1_000_000


@pytest.mark.skipif(not URSUS.is_file(), reason=f"shared Pabulib data not found at {SHARED}")
def test_warsaw_greedy_with_cheaper_first_ties(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(URSUS), "--rule", "greedy", "--ties", "cost")
    assert code == 0 and json.loads(out)["selected"] == _official(URSUS)


def test_through_the_veche_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = veche(["budget", "outcome", str(WIELICZKA), "--rule", "equal-shares", "--quiet"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["selected"] == _official(WIELICZKA)


def test_as_a_separate_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "webapp.budget_cli", "outcome", str(WIELICZKA), "--rule", "greedy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rule"] == "greedy"


def _bad(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing", "no such file"),
        ("directory", "cannot read it"),
        ("binary", "not a UTF-8 text file"),
        ("not-pb", "not a Pabulib approval election: data before the first section header"),
        ("unknown-project", "approves an unknown project '9'"),
        ("bad-cost", "cost is not a number: 'lots'"),
        ("no-budget", "META budget is not a number"),
        ("cumulative", "unsupported vote_type 'cumulative'"),
        ("rule", "unknown rule 'borda'"),
        ("completion", "unknown completion 'add2'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, needle: str
) -> None:
    good = TINY.format(second="7")
    files = {
        "missing": str(tmp_path / "absent.pb"),
        "directory": str(tmp_path),
        "binary": _bad(tmp_path, "b.pb", b"\xff\xfe\x00META"),
        "not-pb": _bad(tmp_path, "n.pb", b"hello;world\n"),
        "unknown-project": _bad(tmp_path, "u.pb", TINY.format(second="9").encode()),
        "bad-cost": _bad(tmp_path, "c.pb", good.replace("7;60", "7;lots").encode()),
        "no-budget": _bad(tmp_path, "m.pb", good.replace("budget;100\n", "").encode()),
        "cumulative": _bad(tmp_path, "v.pb", good.replace("approval", "cumulative").encode()),
    }
    path = files.get(case, _bad(tmp_path, "ok.pb", good.encode()))
    rule = "borda" if case == "rule" else "equal-shares"
    extra = ["--completion", "add2"] if case == "completion" else []
    code, out, err = _run(capsys, path, "--rule", rule, *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("veche: error: ") and needle in err, err
    assert "Traceback" not in err


def test_the_tiny_file_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _bad(tmp_path, "ok.pb", TINY.format(second="7").encode())
    code, out, _ = _run(capsys, path, "--rule", "greedy")
    assert code == 0
    assert json.loads(out) == {
        "rule": "greedy",
        "completion": None,
        "selected": ["7"],
        "total_cost": 60,
        "budget": 100,
        "voters": 2,
        "projects": 2,
    }


def test_progress_on_standard_error_after_a_second(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(budget_cli, "PROGRESS_AFTER_S", 0.0)
    code, out, err = _run(capsys, str(WIELICZKA), "--rule", "equal-shares")
    assert code == 0 and json.loads(out)["projects"] == 64
    assert "read 6,586 voters and 64 projects" in err and "equal shares, run 1," in err
    code, out, err = _run(capsys, str(WIELICZKA), "--rule", "equal-shares", "--quiet")
    assert code == 0 and err == ""
    monkeypatch.setattr(budget_cli, "PROGRESS_AFTER_S", 3600.0)
    assert _run(capsys, str(WIELICZKA), "--rule", "greedy")[2] == ""
