"""Participatory-budget outcomes: greedy and the Method of Equal Shares.

Pure NumPy/SciPy implementations of the two rules cities use to turn
approval ballots into a set of funded projects, following the definitions of
Pabulib and `equalshares.net <https://equalshares.net/>`_ and checked against
``pabutools`` in the tests.

Ballots are a sparse voter x project approval matrix
(:class:`scipy.sparse.csr_matrix`; any non-zero entry is an approval).

Ties are broken by *tie rank*: among tied projects the one with the smallest
``tie_rank`` wins.  The default is the index order of ``costs``; pass
:func:`lexicographic_rank` of the Pabulib project ids to reproduce
``pabutools``' default ``lexico_tie_breaking`` (ids compared as strings).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Completion = Literal["none", "add1", "add1-greedy"]

_REL_TOL = 1e-9
_MAX_PASSES = 64
# a purchase marks every project stale once gathering the ones it touched would cost more
# than a pass over the projects
_STALE_ALL = 1.0


@dataclass(frozen=True)
class Outcome:
    """Selected projects of a budget rule.

    Attributes
    ----------
    selected : numpy.ndarray
        Sorted indices (into ``costs``) of the funded projects.
    total_cost : int
        Sum of the costs of the funded projects.
    endowment : float or None
        Equal shares: the budget per voter of the run whose outcome was taken
        (``budget / n_voters`` plus the Add1 increments); None for greedy.
    """

    selected: IntArray
    total_cost: int
    endowment: float | None = None


def lexicographic_rank(ids: Sequence[str]) -> IntArray:
    """Rank project ids as strings, as ``pabutools``' lexicographic tie-breaking.

    Parameters
    ----------
    ids : sequence of str
        Project ids in the order of ``costs``.

    Returns
    -------
    numpy.ndarray
        ``rank[j]`` is the position of ``ids[j]`` in string order.

    Examples
    --------
    >>> lexicographic_rank(["9", "10", "2"]).tolist()
    [2, 0, 1]
    """
    order = sorted(range(len(ids)), key=lambda j: ids[j])
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(ids), dtype=np.int64)
    return rank


def _prepare(
    costs: npt.ArrayLike, ballots: sp.spmatrix | sp.sparray, tie_rank: npt.ArrayLike | None
) -> tuple[IntArray, sp.csc_matrix, IntArray]:
    c = np.asarray(costs, dtype=np.int64)
    m = sp.csc_matrix(ballots, dtype=np.float64)
    m.data[:] = 1.0
    m.eliminate_zeros()
    m.sum_duplicates()
    m.data[:] = 1.0
    if m.shape[1] != c.shape[0]:
        raise ValueError("ballots must have one column per project")
    rank = (
        np.arange(c.shape[0], dtype=np.int64)
        if tie_rank is None
        else np.asarray(tie_rank, dtype=np.int64)
    )
    return c, m, rank


def _outcome(mask: npt.NDArray[np.bool_], costs: IntArray) -> Outcome:
    sel = np.flatnonzero(mask).astype(np.int64)
    return Outcome(sel, int(costs[sel].sum()))


def _greedy_fill(
    costs: IntArray, votes: IntArray, budget: int, rank: IntArray, chosen: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    chosen = chosen.copy()
    spent = int(costs[chosen].sum())
    order = np.lexsort((rank, -votes))
    for j in order.tolist():
        if not chosen[j] and spent + int(costs[j]) <= budget:
            chosen[j] = True
            spent += int(costs[j])
    return chosen


def greedy(
    costs: npt.ArrayLike,
    ballots: sp.spmatrix | sp.sparray,
    budget: int,
    tie_rank: npt.ArrayLike | None = None,
) -> Outcome:
    """Greedy by approval count within the budget (Pabulib's ``greedy``).

    Projects are taken by number of approvals, most first (ties: smallest
    ``tie_rank``); a project that no longer fits is skipped and the scan goes
    on, so the outcome is exhaustive.

    Parameters
    ----------
    costs : array_like of int, shape (n_projects,)
        Project costs.
    ballots : scipy.sparse matrix, shape (n_voters, n_projects)
        Approval ballots.
    budget : int
        Budget limit.
    tie_rank : array_like of int, optional
        Tie-breaking rank per project (smaller wins); default index order.

    Returns
    -------
    Outcome
        Selected project indices (sorted) and their total cost.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> b = sp.csr_matrix([[1, 1, 0], [1, 0, 0], [0, 0, 1]])
    >>> out = greedy([60, 30, 50], b, 100)
    >>> out.selected.tolist(), out.total_cost
    ([0, 1], 90)
    """
    c, m, rank = _prepare(costs, ballots, tie_rank)
    votes = np.diff(m.indptr).astype(np.int64)
    return _outcome(_greedy_fill(c, votes, budget, rank, np.zeros(c.shape[0], bool)), c)


@dataclass(frozen=True)
class _Election:
    """What every MES run of one election shares (built once per :func:`equal_shares`)."""

    costs: IntArray
    cf: FloatArray
    rank: IntArray
    indptr: IntArray
    indices: IntArray
    nsup: IntArray
    n_voters: int
    rptr: IntArray
    rind: IntArray


def _election(c: IntArray, m: sp.csc_matrix, rank: IntArray) -> _Election:
    indptr = m.indptr.astype(np.int64)
    r = m.tocsr()
    return _Election(
        costs=c,
        cf=c.astype(np.float64),
        rank=rank,
        indptr=indptr,
        indices=m.indices.astype(np.int64),
        nsup=np.diff(indptr),
        n_voters=int(m.shape[0]),
        rptr=r.indptr.astype(np.int64),
        rind=r.indices.astype(np.int64),
    )


def _gather(indptr: IntArray, indices: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Entries of the compressed ``rows``: (position in ``rows``, index)."""
    cnt = indptr[rows + 1] - indptr[rows]
    first = np.cumsum(cnt) - cnt
    owner = np.repeat(np.arange(rows.size, dtype=np.int64), cnt)
    offs = np.arange(int(cnt.sum()), dtype=np.int64) - first[owner]
    return owner, indices[indptr[rows][owner] + offs]


def _rho(b: FloatArray, cost: float) -> float:
    """Per-supporter payment of one project whose supporters hold budgets ``b``.

    The smallest ``rho`` with ``sum(min(b_i, rho)) == cost``; inf when the
    supporters together hold less than the cost.  Found by the fixed-point
    iteration ``rho = (cost - sum of the budgets below rho) / (number of the
    others)``, from the equal split ``cost / n``: each step is a lower bound
    that grows until no further supporter falls below it (a few passes over
    ``b``, no sorting).  Budgets within a relative ``1e-9`` of ``rho`` count
    as paying it in full.  A project whose iteration has not settled after
    ``_MAX_PASSES`` passes falls back to sorting ``b``.
    """
    n = b.size
    rho = cost / n
    if rho <= float(b.min()) * (1 + _REL_TOL):
        return rho
    if float(b.sum()) < cost * (1 - 1e-12):
        return math.inf
    poor_n = -1
    for _ in range(_MAX_PASSES):
        poor = b * (1 + _REL_TOL) < rho
        k = int(np.count_nonzero(poor))
        if k == poor_n:
            return rho
        if k == n:  # everyone short, up to rounding: let the sorted scan decide
            break
        poor_n = k
        rho = (cost - float(b[poor].sum())) / (n - k)
    s = np.sort(b)
    before = np.cumsum(s) - s
    cand = (cost - before) / (n - np.arange(n))
    hit = np.flatnonzero(cand <= s * (1 + _REL_TOL))
    return float(cand[hit[0]]) if hit.size else math.inf


def _mes_fixed(el: _Election, per_voter: float) -> npt.NDArray[np.bool_]:
    """One run of MES with cost utilities and endowment ``per_voter`` each.

    Lazy evaluation: voters' budgets only shrink, so a project's last
    computed ``rho / cost`` is a lower bound of its current one, and exact
    while none of its supporters has paid since.  Each round recomputes only
    the projects whose bound is within the tie tolerance of the smallest
    bound and is stale, until those are all exact; the best of them
    (smallest tie rank among ties) is funded.
    """
    c, cf, nsup = el.costs, el.cf, el.nsup
    chosen: npt.NDArray[np.bool_] = (c == 0) & (nsup > 0)
    alive = (nsup > 0) & (c > 0)
    budgets = np.full(el.n_voters, per_voter, dtype=np.float64)
    live = np.flatnonzero(alive)
    # everyone has ``per_voter``: an equal split, if the supporters can pay it
    rho = np.full(c.shape[0], np.inf)
    even = cf[live] / nsup[live]
    ok = (even <= per_voter * (1 + _REL_TOL)) & (nsup[live] * per_voter >= cf[live] * (1 - 1e-12))
    rho[live[ok]] = even[ok]
    alive &= np.isfinite(rho)
    afford = np.where(alive, rho / np.where(cf > 0, cf, 1.0), np.inf)
    fresh = np.ones(c.shape[0], dtype=bool)
    while True:
        best = afford.min()
        if not np.isfinite(best):
            break
        near = np.flatnonzero(afford <= best * (1 + _REL_TOL))
        stale = near[~fresh[near]]
        if stale.size:
            for p in stale.tolist():
                rho[p] = _rho(budgets[el.indices[el.indptr[p] : el.indptr[p + 1]]], float(cf[p]))
            fresh[stale] = True
            afford[stale] = rho[stale] / cf[stale]
            continue
        j = int(near[np.argmin(el.rank[near])])
        chosen[j] = True
        afford[j] = np.inf
        sup = el.indices[el.indptr[j] : el.indptr[j + 1]]
        budgets[sup] -= np.minimum(budgets[sup], rho[j])
        # projects sharing a supporter with j have a stale rho; when j is popular that is
        # nearly all of them, and marking all is cheaper than finding them
        if el.rptr[-1] * sup.size > _STALE_ALL * el.n_voters * c.shape[0]:
            fresh[:] = False
        else:
            fresh[_gather(el.rptr, el.rind, sup)[1]] = False
    return chosen


def _exhaustive(
    c: IntArray, chosen: npt.NDArray[np.bool_], budget: int, avail: npt.NDArray[np.bool_]
) -> bool:
    spent = int(c[chosen].sum())
    rest = avail & ~chosen
    return not bool((c[rest] + spent <= budget).any())


def equal_shares(
    costs: npt.ArrayLike,
    ballots: sp.spmatrix | sp.sparray,
    budget: int,
    completion: Completion = "add1-greedy",
    tie_rank: npt.ArrayLike | None = None,
    stop_when_exhaustive: bool = False,
    exact: bool = False,
    on_run: Callable[[int, float], None] | None = None,
) -> Outcome:
    """Method of Equal Shares for approval ballots with cost utilities.

    Each voter starts with ``budget / n_voters``.  Repeatedly, for every
    project still affordable by its supporters, find the smallest payment
    ``rho`` such that supporters paying ``min(budget_i, rho)`` cover its cost;
    fund the project minimising ``rho / cost`` (the payment per unit of
    utility, utilities being costs as on equalshares.net and in pabutools;
    ties: smallest ``tie_rank``), charge its supporters, and stop when no
    project is affordable.  Projects their supporters can no longer afford
    are dropped.

    Completions:

    - ``"none"``: the plain rule.
    - ``"add1"``: raise every voter's endowment by 1 unit of currency and
      rerun, as long as the outcome stays within the budget; the last feasible
      outcome is taken (equalshares.net's Add1).  The increments at which
      that happens are found by an exponential then binary search over their
      number (about ``2 log2(k)`` runs of the rule instead of ``k``), which
      assumes that once an endowment's outcome stops the procedure (over the
      budget, or a stop below), every larger one does too; ``exact=True``
      steps one unit at a time instead, as the definition reads.  With
      ``stop_when_exhaustive=True`` the loop also stops at the first
      exhaustive outcome, which is ``pabutools``'
      ``method_of_equal_shares(..., voter_budget_increment=1)``.
    - ``"add1-greedy"`` (default): ``"add1"`` followed by greedy filling by
      approval count (the "utilitarian greedy completion").

    Floating-point arithmetic is used; payments within a relative ``1e-9``
    count as ties (``pabutools`` uses exact fractions).

    Parameters
    ----------
    costs : array_like of int, shape (n_projects,)
        Project costs.
    ballots : scipy.sparse matrix, shape (n_voters, n_projects)
        Approval ballots.
    budget : int
        Budget limit.
    completion : {"none", "add1", "add1-greedy"}
        Completion method, default ``"add1-greedy"``.
    tie_rank : array_like of int, optional
        Tie-breaking rank per project (smaller wins); default index order.
    stop_when_exhaustive : bool
        Stop Add1 at the first exhaustive outcome (pabutools' semantics).
    exact : bool
        Step Add1 one increment at a time instead of searching (slow; the
        reference the tests compare the search with).
    on_run : callable, optional
        Called before each run of the rule with the run's number (from 1)
        and the endowment per voter, e.g. to show progress.

    Returns
    -------
    Outcome
        Selected project indices (sorted) and their total cost.

    Examples
    --------
    Three voters want A or B (50 each), one voter wants C (20).  Greedy with
    budget 100 funds A and B; equal shares gives the minority its C.

    >>> import scipy.sparse as sp
    >>> b = sp.csr_matrix([[1, 1, 0]] * 3 + [[0, 0, 1]])
    >>> greedy([50, 50, 20], b, 100).selected.tolist()
    [0, 1]
    >>> out = equal_shares([50, 50, 20], b, 100, completion="none")
    >>> out.selected.tolist(), out.total_cost
    ([0, 2], 70)
    """
    if completion not in ("none", "add1", "add1-greedy"):
        raise ValueError(f"unknown completion {completion!r}")
    c, m, rank = _prepare(costs, ballots, tie_rank)
    n_voters = m.shape[0]
    if n_voters == 0:
        return Outcome(np.zeros(0, dtype=np.int64), 0, None)
    el = _election(c, m, rank)
    base = budget / n_voters
    runs: dict[int, npt.NDArray[np.bool_]] = {}

    def run(k: int) -> npt.NDArray[np.bool_]:
        if k not in runs:
            if on_run is not None:
                on_run(len(runs) + 1, base + k)
            runs[k] = _mes_fixed(el, base + k)
        return runs[k]

    chosen, k = run(0), 0
    if completion != "none":
        avail = (el.nsup > 0) & (c > 0)

        def state(k: int) -> int:
            """What Add1 does at ``k`` increments: _GO on, _STOP here, or _OVER (one back)."""
            mask = run(k)
            if int(c[mask].sum()) > budget:
                return _OVER
            if k > 0 and bool(mask[avail].all()):
                return _STOP
            if base + k > budget or (stop_when_exhaustive and _exhaustive(c, mask, budget, avail)):
                return _STOP
            return _GO

        # spending grows about in proportion to the endowment: aim at the budget
        spent = int(c[chosen].sum())
        last = int(budget - base) + 1
        guess = int(base * budget / spent - base) if spent > 0 else 1
        k = _add1_steps(state, last, min(max(guess, 1), last), exact)
        chosen = run(k)
        if completion == "add1-greedy":
            chosen = _greedy_fill(c, el.nsup, budget, rank, chosen)
    sel = np.flatnonzero(chosen).astype(np.int64)
    return Outcome(sel, int(c[sel].sum()), base + k)


_GO, _STOP, _OVER = 0, 1, 2


def _add1_steps(state: Callable[[int], int], last: int, guess: int, exact: bool) -> int:
    """Number of +1 increments at which Add1 stops.

    Step by step (``exact``): the first ``k`` whose state is not _GO, or the
    one before it if that outcome is over the budget.  Otherwise a search for
    the same transition, assuming the states run _GO ... _GO then not _GO
    (``last``, where the endowment passes the budget, is never _GO): from
    ``guess``, steps of ``guess / 32`` doubling outwards until the transition
    is bracketed, then bisection — a handful of runs instead of ``k``.
    """
    if state(0) != _GO:
        return 0
    if exact:
        k = 1
        while state(k) == _GO:
            k += 1
        return k - 1 if state(k) == _OVER else k
    # bracket the transition around the guess with growing steps, then bisect
    step = max(1, guess // 32)
    if guess < last and state(guess) == _GO:
        lo, hi = guess, min(guess + step, last)
        while hi < last and state(hi) == _GO:
            step *= 2
            lo, hi = hi, min(hi + step, last)
    else:
        hi = min(guess, last)
        lo = max(0, hi - step)
        while lo > 0 and state(lo) != _GO:
            step *= 2
            lo, hi = max(0, lo - step), lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if state(mid) == _GO:
            lo = mid
        else:
            hi = mid
    k = hi
    return k - 1 if state(k) == _OVER else k
