"""Participatory-budget rules: pabutools parity, real elections, properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking import budgets
from ranking.budgets import _rho, equal_shares, greedy, lexicographic_rank
from ranking.pabulib import parse_pb

DATA = Path(__file__).resolve().parents[2] / "webapp" / "data" / "pabulib"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "pabulib"
WARSAW = sorted(SHARED.glob("Poland_Warszawa_2023_*.pb")) if SHARED.is_dir() else []


def _instance(
    seed: int,
) -> tuple[npt.NDArray[np.int64], sp.csr_matrix, int]:
    rng = np.random.default_rng(seed)
    n_proj = int(rng.integers(2, 9))
    n_voters = int(rng.integers(1, 25))
    costs = rng.integers(1, 11, size=n_proj).astype(np.int64) * int(rng.choice([1, 5, 10]))
    dense = rng.random((n_voters, n_proj)) < rng.uniform(0.15, 0.7)
    budget = int(rng.integers(int(costs.min()), int(costs.sum()) + 1))
    return costs, sp.csr_matrix(dense.astype(np.int64)), budget


def _pabutools(
    costs: npt.NDArray[np.int64], ballots: sp.csr_matrix, budget: int, rule: str
) -> list[int]:
    pabutools = pytest.importorskip("pabutools")
    from pabutools.election import (
        ApprovalBallot,
        ApprovalProfile,
        Cost_Sat,
        Instance,
        Project,
    )
    from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares

    assert pabutools is not None
    # zero-padded names: pabutools' lexicographic tie-breaking = index order
    projects = [Project(f"{j:03d}", int(c)) for j, c in enumerate(costs)]
    inst = Instance(projects, budget_limit=budget)
    dense = ballots.toarray()
    profile = ApprovalProfile(
        [ApprovalBallot([projects[j] for j in np.flatnonzero(row)]) for row in dense],
        instance=inst,
    )
    if rule == "greedy":
        out = greedy_utilitarian_welfare(inst, profile, sat_class=Cost_Sat)
    elif rule == "mes":
        out = method_of_equal_shares(inst, profile, sat_class=Cost_Sat)
    else:
        out = method_of_equal_shares(inst, profile, sat_class=Cost_Sat, voter_budget_increment=1)
    return sorted(int(p.name) for p in out)


@pytest.mark.parametrize("seed", range(50))
def test_matches_pabutools_on_random_instances(seed: int) -> None:
    costs, ballots, budget = _instance(seed)
    assert greedy(costs, ballots, budget).selected.tolist() == _pabutools(
        costs, ballots, budget, "greedy"
    )
    plain = equal_shares(costs, ballots, budget, completion="none")
    assert plain.selected.tolist() == _pabutools(costs, ballots, budget, "mes")
    add1 = equal_shares(costs, ballots, budget, completion="add1", stop_when_exhaustive=True)
    assert add1.selected.tolist() == _pabutools(costs, ballots, budget, "add1")


def _official(path: Path) -> tuple[list[str], list[str]]:
    e = parse_pb(path.read_text(encoding="utf-8"))
    want = sorted(e.project_ids[j] for j in np.flatnonzero(e.selected))
    rule = e.meta["rule"]
    lex = lexicographic_rank(e.project_ids)
    if rule == "greedy":
        # Warsaw breaks equal vote counts in favour of the cheaper project
        # (Ursus 2023: 387 over 311, both 903 votes); then by id.
        order = np.lexsort((lex, e.costs))
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        out = greedy(e.costs, e.ballots, e.budget, tie_rank=rank)
    else:
        assert rule == "equalshares/add1-comparison", rule
        out = equal_shares(e.costs, e.ballots, e.budget, completion="add1-greedy", tie_rank=lex)
    assert out.total_cost <= e.budget
    return sorted(e.project_ids[j] for j in out.selected), want


def test_wieliczka_2023_green_budget_official_outcome() -> None:
    got, want = _official(DATA / "Poland_Wieliczka_2023_Green_Budget.pb")
    assert got == want


def test_wieliczka_fixture_parses() -> None:
    e = parse_pb((DATA / "Poland_Wieliczka_2023_Green_Budget.pb").read_text(encoding="utf-8"))
    assert e.ballots.shape == (int(e.meta["num_votes"]), int(e.meta["num_projects"]))
    np.testing.assert_array_equal(np.asarray(e.ballots.sum(axis=0)).ravel(), e.votes)
    assert e.budget == 1_000_000


@pytest.mark.skipif(not WARSAW, reason=f"shared Pabulib data not found at {SHARED} (absent in CI)")
@pytest.mark.parametrize("path", WARSAW, ids=[p.stem for p in WARSAW])
def test_warsaw_2023_greedy_official_outcome(path: Path) -> None:
    got, want = _official(path)
    assert got == want


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_within_budget_and_greedy_exhaustive(seed: int) -> None:
    costs, ballots, budget = _instance(seed)
    approved = np.asarray(ballots.sum(axis=0)).ravel() > 0
    g = greedy(costs, ballots, budget)
    assert g.total_cost <= budget
    left = np.setdiff1d(np.arange(costs.size), g.selected)
    assert not (costs[left] + g.total_cost <= budget).any()
    for completion in ("none", "add1", "add1-greedy"):
        out = equal_shares(costs, ballots, budget, completion=completion)
        assert out.total_cost == int(costs[out.selected].sum()) <= budget
        assert approved[out.selected].all() or completion == "add1-greedy"
    done = equal_shares(costs, ballots, budget)
    rest = np.setdiff1d(np.arange(costs.size), done.selected)
    assert not (costs[rest] + done.total_cost <= budget).any()


def test_empty_and_unknown_completion() -> None:
    empty = sp.csr_matrix((0, 2), dtype=np.int64)
    assert equal_shares([1, 2], empty, 5).selected.tolist() == []
    with pytest.raises(ValueError):
        equal_shares([1], sp.csr_matrix([[1]]), 5, completion="bogus")  # type: ignore[arg-type]


def _rho_sorted(b: npt.NDArray[np.float64], cost: float) -> float:
    """The textbook payment: sort the budgets, take the first affordable equal share."""
    s = np.sort(b)
    before = np.cumsum(s) - s
    cand = (cost - before) / (b.size - np.arange(b.size))
    hit = np.flatnonzero(cand <= s * (1 + 1e-9))
    return float(cand[hit[0]]) if hit.size else float("inf")


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_payment_iteration_equals_sorting(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    b = np.round(rng.exponential(10.0, n) * rng.integers(0, 2, n), int(rng.integers(0, 3)))
    cost = float(rng.uniform(0.1, 1.2) * max(b.sum(), 1.0))
    assert _rho(b, cost) == pytest.approx(_rho_sorted(b, cost), rel=1e-9)


@pytest.mark.parametrize("passes", [0, 1, 2])
def test_payment_falls_back_to_sorting_when_the_iteration_is_slow(
    passes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # in doubles the iteration settles within a few dozen passes (each new poor voter
    # shrinks the step by the number of rich ones); the fallback is a safety net
    monkeypatch.setattr(budgets, "_MAX_PASSES", passes)
    rng = np.random.default_rng(passes)
    for _ in range(50):
        b = rng.exponential(10.0, int(rng.integers(2, 300)))
        cost = float(rng.uniform(0.3, 1.1) * b.sum())
        assert _rho(b, cost) == pytest.approx(_rho_sorted(b, cost), rel=1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_add1_search_equals_step_by_step(seed: int) -> None:
    """The bracketing search stops Add1 where stepping one unit at a time does."""
    rng = np.random.default_rng(seed)
    n_voters, n_proj = int(rng.integers(20, 400)), int(rng.integers(3, 30))
    costs = (rng.lognormal(3.0, 1.0, n_proj) * 10).astype(np.int64) + 1
    dense = rng.random((n_voters, n_proj)) < rng.uniform(0.05, 0.5)
    ballots = sp.csr_matrix(dense.astype(np.int64))
    budget = int(costs.sum() * rng.uniform(0.1, 0.7))
    for completion in ("add1", "add1-greedy"):
        for stop in (False, True):
            fast = equal_shares(costs, ballots, budget, completion, stop_when_exhaustive=stop)
            slow = equal_shares(
                costs, ballots, budget, completion, stop_when_exhaustive=stop, exact=True
            )
            assert fast.selected.tolist() == slow.selected.tolist()


SMALL_REAL = [DATA / "Poland_Wieliczka_2023_Green_Budget.pb"] + [
    p for p in WARSAW if p.stem.rsplit("_", 1)[-1] in ("Rembertow", "Wilanow", "Wesola")
]


@pytest.mark.parametrize("path", SMALL_REAL, ids=[p.stem for p in SMALL_REAL])
def test_add1_search_equals_step_by_step_on_real_elections(path: Path) -> None:
    e = parse_pb(path.read_text(encoding="utf-8"))
    lex = lexicographic_rank(e.project_ids)
    runs: list[float] = []
    fast = equal_shares(
        e.costs, e.ballots, e.budget, tie_rank=lex, on_run=lambda i, x: runs.append(x)
    )
    slow = equal_shares(e.costs, e.ballots, e.budget, tie_rank=lex, exact=True)
    assert fast.selected.tolist() == slow.selected.tolist()
    assert runs[0] == e.budget / e.ballots.shape[0] and len(runs) < 20
    assert fast.endowment == slow.endowment and fast.endowment in runs
    steps = fast.endowment - runs[0]  # whole units of currency added per voter
    assert steps == pytest.approx(round(steps), abs=1e-6) and steps >= 1
    assert greedy(e.costs, e.ballots, e.budget).endowment is None


@pytest.mark.parametrize("seed", range(6))
def test_matches_pabutools_on_larger_instances(seed: int) -> None:
    """Hundreds of voters: supporters' budgets diverge, so payments take several passes."""
    rng = np.random.default_rng(1000 + seed)
    n_voters, n_proj = 300, 25
    costs = rng.integers(5, 60, size=n_proj).astype(np.int64) * 10
    popularity = rng.uniform(0.02, 0.5, size=n_proj)
    ballots = sp.csr_matrix((rng.random((n_voters, n_proj)) < popularity).astype(np.int64))
    budget = int(costs.sum() * 0.4)
    plain = equal_shares(costs, ballots, budget, completion="none")
    assert plain.selected.tolist() == _pabutools(costs, ballots, budget, "mes")
